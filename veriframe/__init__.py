"""Veriframe: responsible-use text-to-video behind one gRPC service.

This folder holds only the import root. The code lives in the repository's top-level folders, which
setup.py maps into this namespace: ``veriframe.service`` <- ``service/``, ``veriframe.safety`` <-
``safety/``, ``veriframe.provenance`` <- ``provenance/``, ``veriframe.migrations`` <- ``migrations/``.
The rooms and the walk of one request: docs/architecture.md.

Keep this module light: the SDK (``veriframe.service.client``) must import without torch or diffusers.
"""

__version__ = "0.2.0"
