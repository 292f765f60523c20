"""The review console: a browser face for trust-and-safety staff, served at `/console/` on the HTTP port.

Sign in with a moderator or admin API key (exchanged for a server-side session), work the review queue
with the keyboard, read the evidence for a held job, decide it, read and change the policy, search the
audit ledger and check an event's inclusion proof in the browser, and verify a file. Every page goes
through the same authorisation and the same admin-domain code as the gRPC ModerationAdmin API.
See docs/console.md.
"""

from veriframe.service.console.app import build_console, mount

__all__ = ["build_console", "mount"]
