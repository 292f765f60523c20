"""A verification result in plain words, for the console's verify page."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Explained:
    verdict: str  # verified | not_verified | error
    headline: str
    points: list[str] = field(default_factory=list)
    raw_json: str = "{}"  # the whole result, for the page's details box


def explain(result: Any) -> Explained:
    """`Workflow.verify`'s result (`VerifyResult`: report, sha256, audit) as a headline and sentences."""
    report = result.report or {}
    verdict = str(report.get("verdict") or "error")
    wm, c2pa = report.get("watermark") or {}, report.get("c2pa") or {}
    audit = {"found": result.audit is not None, "proof_ok": bool(result.audit and result.audit.proof_ok)}
    points = [_watermark(wm), _manifest(c2pa), _ledger(audit)]
    if report.get("consistent") is False:
        points.append("The watermark and the manifest name different videos: one of them was tampered with "
                      "or copied from another file.")
    points += [f"Why not verified: {r}" for r in report.get("reasons") or []]
    headline = {
        "verified": "Made by this service, and unchanged since it was signed.",
        "not_verified": "This file could not be confirmed as an unchanged Veriframe video.",
    }.get(verdict, "This file could not be read as a video or an image.")
    raw = {"report": report, "sha256": result.sha256, "ledger": audit}
    return Explained(verdict, headline, [p for p in points if p],
                     json.dumps(raw, indent=2, sort_keys=True, default=str))


def unreadable(suffix: str) -> Explained:
    """A file that is no MP4, PNG or JPEG at all (or is cut short)."""
    return Explained("error", "This file could not be read as a video or an image.",
                     [f"It is not a readable MP4, PNG or JPEG file (it was uploaded as {suffix!r})."])


def _watermark(wm: dict[str, Any]) -> str:
    if wm.get("found"):
        return (f"The invisible watermark is present (id {wm.get('id')}, "
                f"{100 * float(wm.get('confidence') or 0):.0f}% of its bits read cleanly).")
    return "No invisible watermark was found in the pixels."


def _manifest(c2pa: dict[str, Any]) -> str:
    if not c2pa.get("present"):
        return "The file carries no C2PA manifest (it may have been re-encoded or stripped)."
    if not c2pa.get("valid"):
        return "The file carries a C2PA manifest, but its signature or its hash does not match the content."
    trust = ("by a signer this server trusts" if c2pa.get("trusted")
             else "by a signer that is not on the trust list")
    return f"The C2PA manifest is intact and signed {trust} ({c2pa.get('signer') or 'unknown signer'})."


def _ledger(audit: dict[str, Any]) -> str:
    if not audit.get("found"):
        return "The audit ledger has no record of this video."
    if audit.get("proof_ok"):
        return "The audit ledger records this video, with a valid inclusion proof."
    return "The audit ledger's record of this video came with a proof that does not check out."
