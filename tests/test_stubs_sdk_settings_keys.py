"""Pieces of the service that need no server: codegen freshness, the SDK's light imports, settings, auth."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_committed_stubs_are_fresh() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "veriframe.service.api.codegen", "--check"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_codegen_check_detects_staleness() -> None:
    from veriframe.service.api import codegen

    expected = codegen.generate()
    stale = dict(expected)
    stale["common_pb2.py"] += "# edited\n"
    del stale["admin_pb2.py"]
    assert codegen.stale_files(expected, stale) == ["admin_pb2.py", "common_pb2.py"]
    assert codegen.stale_files(expected, expected) == []


def test_sdk_imports_no_heavy_modules() -> None:
    code = (
        "import sys, veriframe.service.client, veriframe.service.client.aio, veriframe.service.cli.generate; "
        "print(','.join(m for m in ('torch', 'diffusers', 'numpy', 'sqlalchemy', 'transformers') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"the SDK pulled in: {result.stdout.strip()}"


def test_settings_precedence(tmp_path, monkeypatch) -> None:
    from veriframe.service.settings import load_settings

    config = tmp_path / "server.toml"
    config.write_text('listen = "0.0.0.0:1"\nworkers = 2\nmodel = "from-file"\n')
    monkeypatch.setenv("VERIFRAME_WORKERS", "3")
    settings = load_settings(config, model="from-flag")
    assert (settings.listen, settings.workers, settings.model) == ("0.0.0.0:1", 3, "from-flag")
    with pytest.raises(ValueError, match="tls_cert and tls_key"):
        load_settings(tls_cert=tmp_path / "cert.pem")


def test_key_format_and_token_bucket() -> None:
    from veriframe.service.auth import TokenBucket, hash_secret, parse_key
    from veriframe.service.errors import Unauthenticated

    assert parse_key("vf_0123456789ab_se_cr-et") == ("0123456789ab", "se_cr-et")
    for bad in ("", "vf__x", "xx_0123_abc", "vf_0123"):
        with pytest.raises(Unauthenticated):
            parse_key(bad)
    assert hash_secret("a") != hash_secret("b") and hash_secret("a").startswith("sha256:")
    now = [0.0]
    bucket = TokenBucket(rate=1.0, burst=2, clock=lambda: now[0])
    assert bucket.take() == 0.0 and bucket.take() == 0.0
    assert bucket.take() == pytest.approx(1.0)
    now[0] = 0.5
    assert bucket.take() == pytest.approx(0.5)
    now[0] = 1.0
    assert bucket.take() == 0.0
