"""The gRPC server: servicers over `veriframe.service.workflow`, auth, errors, health and reflection."""
