"""A real `veriframe serve` subprocess for benchmarks, on SQLite or a fresh PostgreSQL database.

    with served(work, "postgres", workers=0) as server:
        server.key("admin"); server.rss_mb(); server.address; server.log_path
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POSTGRES_ADMIN = os.environ.get(
    "VERIFRAME_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextlib.contextmanager
def workspace(prefix: str) -> Iterator[tuple[Path, Path, Path]]:
    """(a scratch directory, the tiny t2v model, dev signing keys) for one benchmark run; offline."""
    import tempfile

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from veriframe.provenance.keys import init_dev_keys
    from veriframe.service.engine.tiny import ensure_tiny_model

    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        work = Path(tmp)
        root = ensure_tiny_model(Path(tempfile.gettempdir()) / "veriframe-cache")
        init_dev_keys(work / "keys")
        yield work, root / "t2v", work / "keys"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def database(work: Path, kind: str) -> Iterator[str]:
    """An SQLAlchemy URL: an SQLite file in `work`, or a PostgreSQL database dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{work / f'bench-{secrets.token_hex(3)}.db'}"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(POSTGRES_ADMIN)
    libpq = f"host={admin.host} port={admin.port or 5432} user={admin.username} dbname={admin.database}"
    name = f"veriframe_bench_{secrets.token_hex(4)}"
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Served:
    address: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def key(self, role: str, tenant: str = "bench") -> str:
        from veriframe.service.auth import bootstrap_key

        return bootstrap_key(self.url, role=role, tenant=tenant, name=f"bench {role}").secret

    def rss_mb(self) -> float:
        import psutil

        return psutil.Process(self.process.pid).memory_info().rss / 2**20


def wait_serving(address: str, timeout: float = 300) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    while True:
        try:
            with grpc.insecure_channel(address) as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                if stub.Check(health_pb2.HealthCheckRequest(), timeout=2).status == 1:
                    return
        except grpc.RpcError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the server at {address} did not start serving")
        time.sleep(0.5)


@contextlib.contextmanager
def served(
    work: Path,
    kind: str,
    *,
    model_dir: Path,
    keys_dir: Path,
    env: dict[str, str] | None = None,
    log_level: str = "INFO",
    **settings: Any,
) -> Iterator[Served]:
    """`veriframe serve` on a fresh database of `kind`; settings become VERIFRAME_* variables."""
    with database(work, kind) as url:
        address = f"127.0.0.1:{free_port()}"
        values = {
            "database_url": url,
            "model": str(model_dir),
            "keys_dir": str(keys_dir),
            "output_dir": str(work / f"out-{secrets.token_hex(3)}"),
            "listen": address,
            "rate_limit_per_minute": "10000000",
            "rate_limit_burst": "1000000",
            **{k: str(v) for k, v in settings.items()},
        }
        variables = {**os.environ, **(env or {}), **{f"VERIFRAME_{k.upper()}": v for k, v in values.items()}}
        log_path = work / f"server-{kind}-{secrets.token_hex(3)}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(Path(sys.executable).parent / "veriframe"), "serve", "--log-level", log_level],
                env=variables,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_serving(address)
            yield Served(address, url, process, log_path)
        finally:
            process.terminate()
            process.wait(90)
