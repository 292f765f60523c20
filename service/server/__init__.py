"""The gRPC server: servicers over `service.workflow`, auth, errors, health and reflection."""
