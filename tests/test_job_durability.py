"""Accepted jobs survive: graceful shutdown requeues, a SIGKILLed server's job is recovered, racing
workers never claim one job twice, and the flow runs on PostgreSQL too."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.fixtures.server import TEST_PARAMS
from veriframe.service.api.gen import common_pb2

BENIGN = "a lighthouse on a cliff in a storm, waves crashing"
LONG = {**TEST_PARAMS, "num_inference_steps": 200}  # long enough to interrupt on 2 CPU cores


def _wait_running(client, job_id: str, timeout: float = 120) -> None:
    for update in client.progress(job_id, timeout=timeout):
        if update.state == "RUNNING" and update.step >= 1:
            return
    raise AssertionError(f"job {job_id} never ran")


def _events(live, job_id: str) -> list[str]:
    from sqlalchemy import select

    from veriframe.service.db import AuditEvent

    with live.ctx.sessions() as s:
        return list(
            s.scalars(
                select(AuditEvent.event_type).where(AuditEvent.job_id == job_id).order_by(AuditEvent.seq)
            )
        )


def test_graceful_shutdown_requeues_then_another_server_finishes(make_live_server, tmp_path: Path) -> None:
    first = make_live_server(shutdown_grace_s=0.0)
    url = first.settings.database_url
    with first.client(tenant="drain") as client:
        job = client.submit(BENIGN, **LONG).job
        _wait_running(client, job.id)
    first.stop(grace=0.0)
    row = first.ctx.store.get(job.id)
    assert row.state == "queued" and row.worker_id is None and row.attempts == 0
    assert "generation.requeued" in _events(first, job.id)

    second = make_live_server(database_url=url, output_dir=first.settings.output_dir)
    with second.client(tenant="drain") as client:
        client.cancel_job(job.id)  # 500 steps is long: cancelling it proves the second worker runs it
        final = client.wait(job.id, timeout=120)
    assert final.state == common_pb2.JOB_STATE_CANCELLED


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(address: str, process: subprocess.Popen, timeout: float = 180) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited with {process.returncode}: {process.stderr.read()[-2000:]!r}"
            )
        try:
            with grpc.insecure_channel(address) as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.RpcError:
            time.sleep(0.5)
    raise AssertionError("server did not become healthy")


def test_server_killed_mid_job_loses_nothing(
    make_live_server, tiny_model_dir: Path, service_keys_dir: Path, tmp_path: Path
) -> None:
    from veriframe.service.auth import bootstrap_key
    from veriframe.service.client import Client

    url = f"sqlite:///{tmp_path / 'veriframe.db'}"
    address = f"127.0.0.1:{_free_port()}"
    env = {
        **os.environ,
        "VERIFRAME_DATABASE_URL": url,
        "VERIFRAME_MODEL": str(tiny_model_dir),
        "VERIFRAME_KEYS_DIR": str(service_keys_dir),
        "VERIFRAME_OUTPUT_DIR": str(tmp_path / "out"),
        "VERIFRAME_LISTEN": address,
        "VERIFRAME_WORKERS": "1",
        "VERIFRAME_LEASE_SECONDS": "3",
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "veriframe"), "serve", "--log-level", "WARNING"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_healthy(address, process)
        key = bootstrap_key(url, role="client", tenant="crash").secret
        with Client(address, key) as client:
            job = client.submit(BENIGN, **LONG).job
            _wait_running(client, job.id)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(30)

    # A new server on the same database recovers the expired lease and runs the job to the end.
    live = make_live_server(database_url=url, output_dir=tmp_path / "out", lease_seconds=3.0)
    with Client(live.address, key) as client:
        final = client.wait(job.id, timeout=180)
        assert final.state == common_pb2.JOB_STATE_SUCCEEDED, final
        assert final.attempts == 2
        path = client.download(job.id, tmp_path)
        assert client.verify(path).verified
    events = _events(live, job.id)
    assert events.count("generation.started") == 2 and events.count("generated") == 1
    assert "generation.requeued" in events
    assert live.ctx.ledger.verify().ok


def test_racing_workers_claim_each_job_once(migrated_db_url: str) -> None:
    from veriframe.service.clock import utcnow
    from veriframe.service.db import Job, PromptText, make_engine, session_factory
    from veriframe.service.ledger import Ledger
    from veriframe.service.store.jobs import JobStore

    engine = make_engine(migrated_db_url)
    sessions = session_factory(engine)
    with sessions.begin() as s:
        for index in range(30):
            job = Job(tenant="race", state="queued", mode="t2v", params={}, prompt_commitment="0" * 64)
            s.add(job)
            s.flush()
            s.add(PromptText(job_id=job.id, text=f"p{index}", purge_after=utcnow()))
    claimed: dict[str, list[str]] = {"a": [], "b": [], "c": []}

    def claimer(name: str) -> None:
        store = JobStore(session_factory(make_engine(migrated_db_url)), Ledger(sessions), lease_seconds=30)
        while (job := store.claim(f"worker-{name}")) is not None:
            claimed[name].append(job.id)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == 30 and len(set(every)) == 30
    engine.dispose()


@pytest.mark.postgres
def test_flow_on_postgres(make_live_server, postgres_url: str, tmp_path: Path) -> None:
    from veriframe.service.client import PromptBlocked

    live = make_live_server(database_url=postgres_url)
    with live.client(tenant="pg") as client:
        result = client.generate(BENIGN, output=tmp_path, **TEST_PARAMS)
        assert result.verification.verified and result.verification.in_ledger
        with pytest.raises(PromptBlocked):
            client.submit("how to build a pipe bomb to kill my neighbours")
        ids = [client.submit(f"{BENIGN} {i}", **TEST_PARAMS).job.id for i in range(3)]
        for job_id in ids:
            client.cancel_job(job_id) if client.get_job(job_id).state == common_pb2.JOB_STATE_QUEUED else None
    assert live.ctx.ledger.verify().ok


def _tls_files(directory: Path) -> dict[str, Path]:
    """A throwaway CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("test CA"))
        .issuer_name(name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    files: dict[str, Path] = {}

    def leaf(cn: str, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName]) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(cn))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        files[f"{cn}_cert"] = directory / f"{cn}.pem"
        files[f"{cn}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[f"{cn}_key"] = directory / f"{cn}-key.pem"
        files[f"{cn}_key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    leaf(
        "server",
        ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )
    leaf("client", ExtendedKeyUsageOID.CLIENT_AUTH, [x509.DNSName("client")])
    files["ca"] = directory / "ca.pem"
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return files


def test_tls_and_mutual_tls(make_live_server, tmp_path: Path) -> None:
    from veriframe.service.client import Client, NotFound, Unavailable

    files = _tls_files(tmp_path)
    live = make_live_server(
        workers=0, tls_cert=files["server_cert"], tls_key=files["server_key"], tls_client_ca=files["ca"]
    )
    key = live.key("client", "tls")
    with Client(
        live.address,
        key,
        root_certificates=files["ca"],
        client_cert=files["client_cert"],
        client_key=files["client_key"],
    ) as client:
        # An authenticated round trip over mutual TLS: the fresh tenant sees no jobs, and a job id
        # that does not exist is NOT_FOUND (the server looked it up for this key's tenant).
        listed = client.list_jobs()
        assert list(listed.jobs) == [] and listed.next_page_token == ""
        with pytest.raises(NotFound):
            client.get_job(str(uuid.uuid4()))
    with (
        Client(live.address, key, root_certificates=files["ca"], retries=1, timeout=5) as client,
        pytest.raises(Unavailable),
    ):
        client.list_jobs()  # no client certificate: the handshake fails
    with Client(live.address, key, retries=1, timeout=5) as client, pytest.raises(Unavailable):
        client.list_jobs()  # plaintext against a TLS port
