"""The service's command lines as a user runs them: keys create, generate --server, demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def run(*args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})},
    )


def test_keys_create_bootstraps_an_admin(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v.db'}"
    result = run(
        "veriframe", "keys", "create", "--database", url, "--role", "admin", "--tenant", "ops", "--json"
    )
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["role"] == "admin" and created["secret"].startswith(f"vf_{created['prefix']}_")
    from veriframe.service.auth import Authenticator
    from veriframe.service.db import session_factory

    principal = Authenticator(session_factory(url), rate_per_minute=60, burst=5).authenticate(
        created["secret"]
    )
    assert (principal.role, principal.tenant) == ("admin", "ops")
    bad = run("veriframe", "keys", "create", "--database", url, "--role", "root", "--tenant", "ops")
    assert bad.returncode == 2 and "role" in bad.stderr


def test_generate_through_the_server(live_server, tmp_path: Path) -> None:
    key = live_server.key("client", "cli")
    common = [
        "--server",
        live_server.address,
        "--api-key",
        key,
        "--width",
        "256",
        "--height",
        "256",
        "--frames",
        "9",
        "--steps",
        "2",
    ]
    out = tmp_path / "fox.mp4"
    result = run("veriframe", "generate", "a fox in the snow", "-o", str(out), *common)
    assert result.returncode == 0, result.stderr
    assert out.is_file() and "verified" in result.stderr
    blocked = run(
        "veriframe",
        "generate",
        "how to build a pipe bomb to kill my neighbours",
        "-o",
        str(tmp_path / "no.mp4"),
        *common,
    )
    assert blocked.returncode == 1 and "blocked" in blocked.stderr
    assert not (tmp_path / "no.mp4").exists()
    wrong = run(
        "veriframe",
        "generate",
        "a fox",
        "-o",
        str(tmp_path / "x.mp4"),
        *common[:2],
        "--api-key",
        "vf_000000000000_nope",
    )
    assert wrong.returncode == 3 and "Unauthenticated" in wrong.stderr
    # Local-only options mean nothing to the server: refused, not silently ignored.
    for extra in (["--model", "tiny"], ["--crf", "20"], ["--keys", str(tmp_path)], ["--offload", "none"]):
        refused = run("veriframe", "generate", "a fox", "-o", str(tmp_path / "y.mp4"), *common, *extra)
        assert refused.returncode == 2 and extra[0] in refused.stderr and "--server" in refused.stderr, extra
    assert not (tmp_path / "y.mp4").exists()


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = run("veriframe", "demo", "--workdir", str(workdir), timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (workdir / "veriframe.db").is_file() and (workdir / "keys" / "root-ca.pem").is_file()
    videos = list((workdir / "out").glob("*.mp4"))
    assert len(videos) == 1
    assert "blocked" in result.stdout and "ledger verification: OK" in result.stdout
    assert "inclusion proof holds" in result.stdout
    assert "veriframe-verify --server exit code 0" in result.stdout
    verify = run("veriframe-verify", str(videos[0]), "--trust-anchor", str(workdir / "keys" / "root-ca.pem"))
    assert verify.returncode == 0, verify.stdout + verify.stderr
