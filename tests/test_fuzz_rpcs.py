"""Fuzz every RPC of every service (from the descriptors) against a real server on SQLite and PostgreSQL.

A bounded slice (FUZZ_REQUESTS per database) runs in the normal suite; `bench/bench_fuzz.py` runs the
long one. Every answer must be a deliberate status: never INTERNAL or UNKNOWN, a status message under
1 KB that names no server path, host or trace, and nothing in the server's log may carry an API key,
a prompt or a traceback.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures import fuzz

FUZZ_REQUESTS = int(os.environ.get("VERIFRAME_FUZZ_REQUESTS", "360"))
ROLES = ("client", "moderator", "admin", "verifier")


class _Capture(logging.Handler):
    """Every record, formatted the way a log file would show it (tracebacks included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def captured_logs() -> Iterator[_Capture]:
    handler = _Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.fixture(params=["sqlite", "postgres"])
def fuzz_server(request: pytest.FixtureRequest, make_live_server):
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    # API only (no worker): the fuzz is about request handling, not generation.
    return make_live_server(
        database_url=url,
        workers=0,
        rate_limit_per_minute=600_000,
        rate_limit_burst=100_000,
        auth_failures_per_minute=0,  # the invalid-key limit has its own test; here it would hide the RPCs
    )


def test_every_rpc_is_fuzzed() -> None:
    names = {m.path for m in fuzz.methods()}
    assert "/veriframe.v1.Generation/Submit" in names
    assert "/veriframe.v1.Verification/Verify" in names
    assert "/veriframe.v1.ModerationAdmin/GetInclusionProof" in names
    # Every `rpc` declared in proto/ (the generated modules must not lag behind the sources).
    declared = set()
    for proto in Path(__file__).resolve().parents[1].glob("proto/**/*.proto"):
        text = proto.read_text()
        package = re.search(r"^package ([\w.]+);", text, re.M).group(1)
        for service, body in re.findall(r"^service (\w+) \{(.*?)^\}", text, re.M | re.S):
            declared |= {f"/{package}.{service}/{rpc}" for rpc in re.findall(r"^\s*rpc (\w+)\(", body, re.M)}
    assert declared and names == declared


def test_fuzz_slice_never_internal_and_logs_stay_clean(fuzz_server, captured_logs) -> None:
    keys = {role: fuzz_server.key(role, "acme") for role in ROLES}
    outcomes = fuzz.run_fuzz(fuzz_server.address, keys, requests=FUZZ_REQUESTS, seed=11, concurrency=6)
    found = [p for o in outcomes for p in fuzz.problems(o, keys.values())]
    codes = Counter(o.code for o in outcomes)
    assert not found, f"{len(found)} bad answers (codes {dict(codes)}):\n" + "\n".join(found[:25])
    # The slice reached past authentication on every service, and rejected bad input deliberately.
    assert codes["INVALID_ARGUMENT"] > 0 and codes["UNAUTHENTICATED"] > 0 and codes["NOT_FOUND"] > 0
    assert {o.method for o in outcomes} == {m.name for m in fuzz.methods()}

    log_text = "\n".join(captured_logs.lines)
    for role, key in keys.items():
        assert key not in log_text, f"the {role} key was logged"
        assert key.split("_", 2)[2] not in log_text, f"the secret of the {role} key was logged"
    assert fuzz.PROMPT_MARKER not in log_text, "a prompt reached the log"
    assert "Traceback" not in log_text, "a client error was logged with a traceback"
    # One rate-limited line per class of rejected request, not one per request.
    rejected = [line for line in captured_logs.lines if " rejected " in line]
    assert len(rejected) < FUZZ_REQUESTS / 4, f"{len(rejected)} rejection lines for {FUZZ_REQUESTS} requests"
