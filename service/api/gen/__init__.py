"""Generated from proto/veriframe/v1 by `python -m veriframe.service.api.codegen`: do not edit."""
