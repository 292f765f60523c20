"""`veriframe-verify --server`: ask the service's ledger who made a file, and check the answer here.

The server's word is not taken for anything that can be checked locally: the event shown must be the
exact leaf the inclusion proof is about (its bytes hash to the leaf hash), the leaf must name this
file's provenance id, the proof must lead to a root signed by the ledger key, and the file's own hashes
are compared with the ones the ledger recorded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from veriframe.service.client.proofs import check_inclusion_proof
from veriframe.service.client.sync import Client


def lookup(client: Client, path: Path, report: Any, *, ledger_key: Path | None = None) -> dict[str, Any]:
    """The ledger's record of `path`; `report` is its local `veriframe.provenance.verify` report.

    Returns a JSON-able dict; `found` is False when the service has no record of the file.
    """
    response = client.verify(path)
    audit = response.audit
    server = client.options.resolved_address()
    if not audit.found:
        return {"server": server, "found": False}
    check = check_inclusion_proof(audit.proof, ledger_key)
    proof = {
        "tree_size": audit.proof.tree_size,
        "root_hash": audit.proof.root_hash,
        "path_ok": check.path_ok,
        "checkpoint_ok": check.checkpoint_ok,
        "checked": check.how,
        "ok": check.ok,
    }
    if not audit.event.leaf_data:
        # Another tenant's video: the service shows that it made it (the proof of a leaf) but not
        # whose it is, so nothing about the event can be compared here.
        return {"server": server, "found": True, "redacted": True, "seq": audit.event.seq, "proof": proof}
    leaf = audit.event.leaf_data.encode()
    leaf_ok = (hashlib.sha256(b"\x00" + leaf).hexdigest() == audit.proof.leaf_hash == audit.event.leaf_hash)
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
    if not audit["proof"]["ok"]:
        found.append(f"the ledger's inclusion proof does not hold ({audit['proof']['checked']})")
    # A signed MP4 is the very file the ledger recorded; a frame or a re-encode is not, by design.
    if (not audit["redacted"] and report.media_type == "video/mp4" and report.c2pa.present
            and not audit["manifest_matches"]):
        found.append("the video's manifest is not the one the ledger recorded")
    return found
