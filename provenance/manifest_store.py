"""Read a file's C2PA manifest store with c2pa-python, from a stream, never raising for hostile input.

c2pa-python raises more than ``C2paError`` on damaged stores: a bit flip in a manifest's label makes
``Reader.get_active_manifest()`` raise ``KeyError('Active manifest not found in manifest store')``.
Every such failure becomes :attr:`StoreRead.error` (a negative finding), never an exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, BinaryIO

#: Hard-binding assertions: what ties the manifest to the file's bytes.
HARD_BINDINGS = ("c2pa.hash.bmff.v3", "c2pa.hash.bmff.v2", "c2pa.hash.bmff", "c2pa.hash.data")


@dataclass
class StoreRead:
    """What c2pa-rs found in a manifest store."""

    state: str | None = None  # "Invalid", "Valid" or "Trusted"
    failures: list[str] = field(default_factory=list)  # "code: explanation"
    successes: set[str] = field(default_factory=set)  # success codes, e.g. "timeStamp.validated"
    active: dict[str, Any] = field(default_factory=dict)  # the active manifest (Reader.json() form)
    store: dict[str, Any] | None = None  # the whole store, as c2patool prints it
    hard_bindings: dict[str, dict[str, Any]] = field(default_factory=dict)  # label -> assertion data
    error: str | None = None  # the store is present but could not be read


def trust_settings(trust_anchors: list[bytes]) -> dict[str, Any]:
    """c2pa-rs settings that check the signer against ``trust_anchors`` (PEM bundles)."""
    settings: dict[str, Any] = {"verify": {"verify_trust": True}}
    if trust_anchors:
        settings["trust"] = {"trust_anchors": b"\n".join(trust_anchors).decode()}
    return settings


# c2pa-python surfaces damaged stores as any of these (KeyError from its JSON helpers included).
_READ_ERRORS = (KeyError, ValueError, TypeError, AttributeError, OSError, UnicodeDecodeError)


def read_store(stream: BinaryIO, media_type: str, trust_anchors: list[bytes]) -> StoreRead | None:
    """The manifest store of ``stream`` (rewound first), or None when the file has none."""
    import c2pa

    stream.seek(0)
    try:
        context = c2pa.Context.from_dict(trust_settings(trust_anchors))
        reader = c2pa.Reader.try_create(media_type, stream, context=context)
    except (c2pa.C2paError, *_READ_ERRORS) as exc:
        return StoreRead(error=f"manifest unreadable: {_describe(exc)}")
    if reader is None:
        return None
    with reader:
        try:
            return _read(reader)
        except (c2pa.C2paError, *_READ_ERRORS) as exc:
            return StoreRead(error=f"manifest unreadable: {_describe(exc)}")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip("'\" ") or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "..."


def _read(reader: Any) -> StoreRead:
    store = json.loads(reader.json())
    label = store.get("active_manifest")
    manifests = store.get("manifests") or {}
    if label not in manifests:
        return StoreRead(state=reader.get_validation_state(), store=store,
                         error="manifest unreadable: the active manifest is not in the manifest store")
    results = reader.get_validation_results() or {}
    active_results = results.get("activeManifest") or {}
    failures = active_results.get("failure", [])
    detailed = json.loads(reader.detailed_json())
    assertion_store = ((detailed.get("manifests") or {}).get(label) or {}).get("assertion_store") or {}
    bindings = {k: v for k, v in assertion_store.items() if k in HARD_BINDINGS and isinstance(v, dict)}
    return StoreRead(
        state=reader.get_validation_state(),
        failures=[f"{f.get('code')}: {f.get('explanation', '')}".strip() for f in failures],
        successes={str(x.get("code")) for x in active_results.get("success", [])},
        active=manifests[label],
        store=store,
        hard_bindings=bindings,
    )
