"""`veriframe-verify --server`: ask the service's ledger who made a file, and check the answer here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from service.client.proofs import check_inclusion_proof
from service.client.sync import Client


def lookup(client: Client, path: Path, *, ledger_key: Path | None = None) -> dict[str, Any]:
    """The ledger's record of `path` (by its watermark / manifest id) with a locally re-checked proof.

    Returns a JSON-able dict; `found` is False when the service has no record of the file.
    """
    response = client.verify(path)
    audit = response.audit
    if not audit.found:
        return {"server": client.options.resolved_address(), "found": False}
    check = check_inclusion_proof(audit.proof, ledger_key)
    return {
        "server": client.options.resolved_address(),
        "found": True,
        "job_id": audit.job_id,
        "tenant": audit.tenant or None,
        "seq": audit.event.seq,
        "event_type": audit.event.event_type,
        "recorded_at": audit.event.created_at.ToDatetime().isoformat() + "Z",
        "manifest_matches": audit.manifest_matches,
        "video_matches": audit.video_matches,
        "proof": {
            "tree_size": audit.proof.tree_size,
            "root_hash": audit.proof.root_hash,
            "path_ok": check.path_ok,
            "checkpoint_ok": check.checkpoint_ok,
            "checked": check.how,
            "ok": check.ok,
        },
    }


def problems(audit: dict[str, Any]) -> list[str]:
    """Why the ledger lookup does not back the file (empty when it does)."""
    if not audit["found"]:
        return ["the service's audit log has no record of this file"]
    found = []
    if not audit["proof"]["ok"]:
        found.append(f"the ledger's inclusion proof does not hold ({audit['proof']['checked']})")
    if not audit["manifest_matches"]:
        found.append("the manifest differs from the one the ledger recorded")
    return found
