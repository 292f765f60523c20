"""`veriframe-verify --server`: ask the service's ledger who made a file, and check the answer here.

The server's word is not taken for anything that can be checked locally: the event shown must be the
exact leaf the inclusion proof is about (its bytes hash to the leaf hash), the leaf must name this
file's provenance id, the proof must lead to a root in a checkpoint signed by the ledger key (C2SP
signed note, checked by `veriframe.provenance.transparency`) and, when the caller names witnesses,
cosigned by enough of them (JSON `proof.witnesses`), and the file's own hashes are compared
with the ones the ledger recorded. With a state directory, the largest checkpoint seen per log is
kept and every later answer must be consistent with it (rollback / fork).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from veriframe.provenance.transparency.checkpoint import (
    SignedCheckpoint,
    cosigned_by,
    log_verifier,
    open_checkpoint,
)
from veriframe.provenance.transparency.monitor import CheckpointStore, advance
from veriframe.provenance.transparency.note import Verifier, load_public_key
from veriframe.provenance.transparency.proofs import ProofCheck, check_inclusion
from veriframe.service.client.sync import Client


class Trust:
    """What the caller pins: the ledger key (or the one the server sends) and any required witnesses."""

    def __init__(
        self, ledger_key: Path | None = None, witnesses: list[Verifier] | None = None, quorum: int = 0
    ) -> None:
        self.ledger_key, self.witnesses, self.quorum = ledger_key, list(witnesses or []), quorum

    def log(self, server_pem: str) -> Any:
        """The log verifier: the pinned key, else the server's own (it only shows self-consistency)."""
        return log_verifier(load_public_key(self.ledger_key if self.ledger_key else server_pem.encode()))

    def open(self, note: str, server_pem: str, *, cosigned: bool = True) -> SignedCheckpoint:
        """The checkpoint, its log signature checked and (`cosigned`) the witnesses' quorum too."""
        return open_checkpoint(note, self.log(server_pem), self.witnesses, self.quorum if cosigned else 0)


def check_inclusion_proof(proof: Any, trust: Trust) -> ProofCheck:
    """`proof` is a `veriframe.v1.InclusionProof` message, checked against its signed checkpoint."""
    checkpoint = proof.checkpoint if proof.HasField("checkpoint") else None
    try:
        log = trust.log(checkpoint.public_key_pem if checkpoint is not None else "")
        return check_inclusion(
            index=proof.leaf_index,
            tree_size=proof.tree_size,
            leaf_hash=bytes.fromhex(proof.leaf_hash),
            path=[bytes.fromhex(h) for h in proof.audit_path],
            root_hash=bytes.fromhex(proof.root_hash),
            note=checkpoint.note if checkpoint is not None else None,
            log=log,
            pinned=trust.ledger_key is not None,
            witnesses=trust.witnesses,
            quorum=trust.quorum,
        )
    except (OSError, ValueError) as error:
        return ProofCheck(False, False, f"proof or checkpoint not verifiable: {error}")


def follow(client: Client, state_dir: Path, seen_now: SignedCheckpoint, trust: Trust) -> str:
    """Check the proof's checkpoint and the log's latest against the largest one kept in `state_dir`.

    Returns what was checked; raises ConsistencyError (rollback / fork) or NoteError.
    """
    store = CheckpointStore(state_dir)

    def proof_source(first: int, second: int) -> list[bytes]:
        return [bytes.fromhex(h) for h in client.consistency_proof(first, second).path]

    # Only the proof's checkpoint must be cosigned: the log's head moves with every append, ahead of
    # the witnesses; consistency with it is what is checked here.
    latest_message = client.latest_checkpoint()
    latest = trust.open(latest_message.note, latest_message.public_key_pem, cosigned=False)

    def opened(note: str) -> SignedCheckpoint:
        return trust.open(note, latest_message.public_key_pem, cosigned=False)

    before = advance(store, seen_now, proof_source, opened)  # what this verifier had seen until now
    advance(store, latest, proof_source, opened)
    size = latest.checkpoint.tree_size
    if before is None:
        return f"first checkpoint of {latest.checkpoint.origin} remembered (size {size})"
    return f"consistent with the checkpoint seen before (size {before.tree_size} -> {size})"


def lookup(
    client: Client, path: Path, report: Any, *, trust: Trust, state_dir: Path | None = None, prompt: str = ""
) -> dict[str, Any]:
    """The ledger's record of `path`; `report` is its local `veriframe.provenance.verify` report.

    Returns a JSON-able dict; `found` is False when the service has no record of the file. With
    `prompt`, the service's check of it against the job's commitment is under "prompt_check"."""
    response = client.verify(path, prompt=prompt)
    record = _record(client, path, report, response, trust, state_dir)
    if prompt:
        record["prompt_check"] = {"outcome": response.prompt_check, "reason": response.prompt_check_reason}
    return record


def _record(
    client: Client, path: Path, report: Any, response: Any, trust: Trust, state_dir: Path | None
) -> dict[str, Any]:
    audit = response.audit
    server = client.options.resolved_address()
    if not audit.found:
        return {"server": server, "found": False}
    check = check_inclusion_proof(audit.proof, trust)
    proof = {
        "tree_size": audit.proof.tree_size,
        "root_hash": audit.proof.root_hash,
        "path_ok": check.path_ok,
        "checkpoint_ok": check.checkpoint_ok,
        "checked": check.how,
        "ok": check.ok,
    }
    if trust.quorum:
        proof["witnesses"] = {"required": trust.quorum, "cosigned_by": _cosigners(audit.proof, trust)}
    if state_dir is not None and check.checkpoint is not None:
        proof["consistency"] = follow(client, state_dir, check.checkpoint, trust)
    if not audit.event.leaf_data:
        # Another tenant's video: the service shows that it made it (the proof of a leaf) but not
        # whose it is, so nothing about the event can be compared here.
        return {"server": server, "found": True, "redacted": True, "seq": audit.event.seq, "proof": proof}
    leaf = audit.event.leaf_data.encode()
    leaf_ok = hashlib.sha256(b"\x00" + leaf).hexdigest() == audit.proof.leaf_hash == audit.event.leaf_hash
    payload = json.loads(leaf).get("payload", {}) if leaf_ok else {}
    ids = {report.watermark.id, report.c2pa.provenance_id} - {None}
    return {
        "server": server,
        "found": True,
        "redacted": False,
        "job_id": audit.job_id,
        "tenant": audit.tenant or None,
        "seq": audit.event.seq,
        "event_type": audit.event.event_type,
        "recorded_at": audit.event.created_at.ToDatetime().isoformat() + "Z",
        "leaf_ok": leaf_ok,
        "id_matches": payload.get("provenance_id") in ids,
        "video_matches": payload.get("output_sha256") == hashlib.sha256(path.read_bytes()).hexdigest(),
        "manifest_matches": payload.get("manifest_sha256") == report.c2pa.manifest_sha256,
        "proof": proof,
    }


def _cosigners(proof: Any, trust: Trust) -> list[str]:
    """The trusted witnesses whose cosignature on the proof's checkpoint holds."""
    note = proof.checkpoint.note if proof.HasField("checkpoint") else ""
    try:
        return cosigned_by(note, trust.witnesses) if note else []
    except ValueError:
        return []


def problems(audit: dict[str, Any], report: Any) -> list[str]:
    """Why the ledger lookup does not back the file (empty when it does)."""
    if not audit["found"]:
        return ["the service's audit log has no record of this file"]
    found = []
    if audit["redacted"]:
        pass  # only the proof can be checked
    elif not audit["leaf_ok"]:
        found.append("the ledger event the server showed is not the leaf its proof is about")
    elif not audit["id_matches"]:
        found.append("the ledger event names another provenance id")
    witnesses = audit["proof"].get("witnesses")
    if witnesses and len(witnesses["cosigned_by"]) < witnesses["required"]:
        found.append(
            f"the ledger's checkpoint (size {audit['proof']['tree_size']}) lacks the witness cosignatures "
            f"required ({audit['proof']['checked']})"
        )
    elif not audit["proof"]["ok"]:
        found.append(f"the ledger's inclusion proof does not hold ({audit['proof']['checked']})")
    # A signed MP4 is the very file the ledger recorded; a frame or a re-encode is not, by design.
    if (
        not audit["redacted"]
        and report.media_type == "video/mp4"
        and report.c2pa.present
        and not audit["manifest_matches"]
    ):
        found.append("the video's manifest is not the one the ledger recorded")
    return found
