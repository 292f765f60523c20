"""What a verifier remembers: the largest checkpoint it has seen per log, and the rule for moving on.

A verifier (or witness) that has seen checkpoint A of a log accepts a new checkpoint B only if
- B is larger than A and an RFC 9162 consistency proof from A to B holds (the log only grew), or
- B is A (same size, same root).
Anything else is reported as what it is: a rollback (B smaller than A), or a fork (same size with
another root, or a larger tree that is not an extension of A). The store is a directory of files, one
per log origin, each holding the full signed note of the largest checkpoint seen.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from veriframe.provenance.transparency import merkle
from veriframe.provenance.transparency.checkpoint import Checkpoint, CheckpointError, SignedCheckpoint

ProofSource = Callable[[int, int], Sequence[bytes]]  # (first_size, second_size) -> consistency proof


class ConsistencyError(ValueError):
    """The log showed a checkpoint that contradicts one seen before: a rollback or a fork."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # "rollback" | "fork"


def describe(checkpoint: Checkpoint) -> str:
    return f"size {checkpoint.tree_size}, root {base64.b64encode(checkpoint.root_hash).decode()}"


def check_extends(seen: Checkpoint, new: Checkpoint, proof_source: ProofSource) -> None:
    """Raise ConsistencyError unless `new` is `seen` or an extension of it (a proof is asked for)."""
    if new.origin != seen.origin:
        raise CheckpointError(f"checkpoints of two logs: {seen.origin!r} and {new.origin!r}")
    if new.tree_size < seen.tree_size:
        # An older checkpoint is fine if the log can still prove it grew into the one seen; a log
        # that was rolled back cannot (it no longer has that many leaves).
        try:
            proof = list(proof_source(new.tree_size, seen.tree_size))
        except Exception as error:  # whatever the source raises: it could not prove the larger tree
            proof, why = None, f" and cannot prove it grew into it ({error})"
        if proof is not None and merkle.verify_consistency(
            new.tree_size, seen.tree_size, new.root_hash, seen.root_hash, proof
        ):
            return
        raise ConsistencyError(
            "rollback",
            f"rollback: the log {new.origin} now shows {describe(new)}, "
            f"but a checkpoint of {describe(seen)} was seen before"
            + (why if proof is None else "; no valid consistency proof links them"),
        )
    if new.tree_size == seen.tree_size:
        if new.root_hash != seen.root_hash:
            raise ConsistencyError(
                "fork",
                f"fork: the log {new.origin} shows {describe(new)}, but a "
                f"checkpoint of the same size with root "
                f"{base64.b64encode(seen.root_hash).decode()} was seen before",
            )
        return
    proof = list(proof_source(seen.tree_size, new.tree_size))
    if not merkle.verify_consistency(seen.tree_size, new.tree_size, seen.root_hash, new.root_hash, proof):
        raise ConsistencyError(
            "fork",
            f"fork: the log {new.origin} at {describe(new)} is not an extension "
            f"of the checkpoint seen before ({describe(seen)}): the consistency proof "
            "does not hold",
        )


class CheckpointStore:
    """One file per log origin in `directory`: the signed note of the largest checkpoint seen."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _path(self, origin: str) -> Path:
        return self.directory / (re.sub(r"[^A-Za-z0-9._-]", "_", origin) + ".checkpoint")

    def latest_note(self, origin: str) -> str | None:
        path = self._path(origin)
        return path.read_text(encoding="utf-8") if path.exists() else None

    def save(self, origin: str, note_text: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(origin)
        partial = path.with_suffix(".partial")
        partial.write_text(note_text, encoding="utf-8")
        os.replace(partial, path)  # a crash leaves the old state, never half a note


def advance(
    store: CheckpointStore,
    new: SignedCheckpoint,
    proof_source: ProofSource,
    opened: Callable[[str], SignedCheckpoint],
) -> Checkpoint | None:
    """Check `new` against the largest checkpoint `store` has seen for its log; remember it if larger.

    `opened` parses and verifies a stored note (so a tampered state file fails loudly). Returns the
    checkpoint seen before (None the first time). Raises ConsistencyError on a rollback or a fork.
    """
    origin = new.checkpoint.origin
    stored = store.latest_note(origin)
    seen = None if stored is None else opened(stored).checkpoint
    if seen is not None:
        check_extends(seen, new.checkpoint, proof_source)
    if seen is None or new.checkpoint.tree_size > seen.tree_size:
        store.save(origin, new.text)
    return seen
