"""Generated from proto/veriframe/v1 by `python -m service.api.codegen`: do not edit."""
