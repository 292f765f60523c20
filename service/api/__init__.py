"""The gRPC contract: generated stubs and their generator."""
