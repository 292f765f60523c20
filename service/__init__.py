"""Veriframe: the server side (engine, database, ledger, gRPC service) and the client SDK.

The rooms and the walk of one request: docs/architecture.md.
Keep this module light: the SDK (`veriframe.service.client`) must import without torch or diffusers.
"""
