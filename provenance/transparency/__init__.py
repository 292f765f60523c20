"""What a verifier needs to hold a transparency log to account, and nothing else (docs/ledger.md).

- `merkle`: RFC 6962 / RFC 9162 hashing, inclusion and consistency proofs.
- `leaf`: the versioned leaf bytes (v2: RFC 8785 canonical JSON).
- `note`, `checkpoint`, `cosignature`: C2SP signed-note, tlog-checkpoint and tlog-cosignature.
- `proofs`: checking a server's inclusion proof against a signed checkpoint.
- `monitor`: remembering the largest checkpoint seen, demanding consistency (rollback/fork).
- `witness`: cosigning checkpoints of a log that only grows.

Imports only the standard library, `cryptography` and `rfc8785`: no database, no gRPC, no server.
"""
