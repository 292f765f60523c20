"""The gRPC server: servicers over `veriframe.service.flow`, auth, errors, health and reflection.

The rooms and the walk of one request: docs/architecture.md.
"""
