"""Veriframe: the server side (engine, database, ledger, gRPC service) and the client SDK.

Keep this module light: the SDK (`veriframe.service.client`) must import without torch or diffusers.
"""
