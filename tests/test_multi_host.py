"""Several hosts for real: one API host and two worker hosts, each a Linux network namespace of its own
(veth pairs on a bridge, made and removed here), running `veriframe serve` processes that share only
PostgreSQL and an S3-compatible object store (SeaweedFS), both reached over the bridge.

A worker host is killed (SIGKILL, every process of it) while its job is RUNNING: the other worker
host takes the job over once its lease expires, no job runs to completion twice, and Download and
Verify work from the API host, which never ran a job and has a disk of its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.server import TEST_PARAMS

pytestmark = pytest.mark.postgres

PORT, HTTP_PORT = 50051, 9090  # the same ports on every host, each on its own address, as on real hosts
LEASE = 3.0  # seconds: short, so recovery after the kill is quick
BENIGN = "a lighthouse on a cliff in a storm, waves crashing"
LONG = {**TEST_PARAMS, "num_inference_steps": 60}  # running for several seconds when the host dies


@pytest.fixture
def network() -> Iterator[Any]:
    from tests.fixtures.hosts import NamespacesRefused, TestNetwork

    try:
        net = TestNetwork.create()
    except NamespacesRefused as error:
        # The only skip: no namespaces here (not Linux, no CAP_NET_ADMIN, or a kernel without them).
        pytest.skip(f"the kernel refuses network namespaces here: {error}")
    try:
        for name in ("api", "worker-a", "worker-b"):
            net.add_host(name)
        yield net
    finally:
        net.close()


@pytest.fixture
def shared(network: Any, postgres_url: str, s3_server: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The database and object store as the hosts see them: through forwarders on the bridge."""
    from sqlalchemy.engine import make_url

    from tests.fixtures.hosts import Forwarder
    from veriframe.service.db import upgrade

    local = make_url(postgres_url)
    s3_port = int(s3_server["endpoint"].rsplit(":", 1)[1])
    database = Forwarder(network.gateway, local.port or 5432).start()
    store = Forwarder(network.gateway, s3_port).start()
    try:
        upgrade(postgres_url)  # once, before three servers start on the same schema
        yield {
            "local_database_url": postgres_url,
            "database_url": local.set(host=network.gateway, port=database.port).render_as_string(False),
            "storage_url": f"s3://veriframe-test/multi-{uuid.uuid4().hex[:8]}",
            "storage_options": {**s3_server["options"], "endpoint": f"http://{network.gateway}:{store.port}"},
            "local_storage_options": s3_server["options"],
        }
    finally:
        database.stop()
        store.stop()


class Host:
    def __init__(self, name: str, address: str, process: subprocess.Popen, log: Path) -> None:
        self.name, self.process, self.log = name, process, log
        self.address, self.readyz = f"{address}:{PORT}", f"http://{address}:{HTTP_PORT}/readyz"

    def kill(self) -> None:
        """SIGKILL every process of the host (the server and anything it started)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)


@pytest.fixture
def hosts(network: Any, shared: dict[str, Any], tiny_model_dir: Path, service_keys_dir: Path,
          tmp_path: Path) -> Iterator[dict[str, Host]]:
    started: dict[str, Host] = {}
    try:
        for name, workers in (("api", 0), ("worker-a", 1), ("worker-b", 1)):
            config = {
                "database_url": shared["database_url"],
                "storage_url": shared["storage_url"],
                "storage_options": shared["storage_options"],
                "model": str(tiny_model_dir),
                "keys_dir": str(service_keys_dir),
                "output_dir": str(tmp_path / name / "disk"),  # each host's own disk
                # Worker hosts are worker-only: no gRPC port at all; only the HTTP port (/readyz,
                # /metrics) is on the network.
                "listen": f"{network.hosts[name]}:{PORT}",
                "worker_only": workers > 0,
                "http_listen": f"{network.hosts[name]}:{HTTP_PORT}",
                "workers": workers,
                "lease_seconds": LEASE,
                "shutdown_grace_s": 0,
            }
            (tmp_path / name).mkdir()
            (tmp_path / name / "veriframe.json").write_text(json.dumps(config))
            log = tmp_path / name / "serve.log"
            command = [str(Path(sys.executable).parent / "veriframe"), "serve", "--log-level", "WARNING",
                       "--config", str(tmp_path / name / "veriframe.json")]
            with open(log, "wb") as sink:
                process = subprocess.Popen(network.exec_prefix(name) + command, stdout=sink,
                                           stderr=subprocess.STDOUT, cwd=tmp_path / name,
                                           env={**os.environ, "HF_HUB_OFFLINE": "1"}, start_new_session=True)
            started[name] = Host(name, network.hosts[name], process, log)
        _wait_serving(started.values())
        yield started
    finally:
        for host in started.values():
            host.kill()


def _wait_serving(hosts: Any, timeout: float = 120) -> None:
    """Until every host's /readyz answers 200 (database reachable; on a worker, the model loaded)."""
    import urllib.error
    import urllib.request

    pending = {host.name: host for host in hosts}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for name, host in list(pending.items()):
            if host.process.poll() is not None:
                tail = host.log.read_text()[-3000:]
                raise AssertionError(f"{name} exited with {host.process.returncode}: {tail}")
            try:
                with urllib.request.urlopen(host.readyz, timeout=2) as reply:
                    if reply.status == 200:
                        del pending[name]
            except (urllib.error.URLError, OSError):
                pass
        time.sleep(0.3)
    if pending:
        raise AssertionError(f"not ready after {timeout} s: " + ", ".join(
            f"{name}: {host.log.read_text()[-1500:]}" for name, host in pending.items()))


def _rows(url: str, tenant: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(job rows by id, ledger event types by job id), read straight from the shared database."""
    from sqlalchemy import select

    from veriframe.service.db import AuditEvent, Job, make_engine, session_factory

    engine = make_engine(url)
    try:
        with session_factory(engine)() as s:
            jobs = {job.id: job for job in s.scalars(select(Job).where(Job.tenant == tenant))}
            events: dict[str, list[str]] = {job_id: [] for job_id in jobs}
            for job_id, kind in s.execute(
                select(AuditEvent.job_id, AuditEvent.event_type)
                .where(AuditEvent.tenant == tenant).order_by(AuditEvent.seq)
            ):
                events.setdefault(job_id, []).append(kind)
            s.expunge_all()
        return jobs, events
    finally:
        engine.dispose()


def _host_of(worker_id: str | None, hosts: dict[str, Host]) -> str:
    """worker ids are hostname:pid:wN; each host has its own hostname (UTS namespace)."""
    name = (worker_id or "").split(":")[0]
    assert name in hosts, f"worker id {worker_id!r} names no host"
    return name


def _wait_running(url: str, tenant: str, job_id: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = _rows(url, tenant)[0][job_id]
        if job.state == "running" and (job.progress_step or 0) >= 1:
            return job
        assert job.state in ("queued", "running"), f"job {job_id} is {job.state} before the kill"
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} never ran")


def test_worker_host_killed_mid_job_is_recovered_and_download_works_from_the_api_host(
    network: Any, hosts: dict[str, Host], shared: dict[str, Any], tmp_path: Path
) -> None:
    import socket

    from veriframe.service.auth import bootstrap_key
    from veriframe.service.client import Client
    from veriframe.service.storage import ObjectStorage

    url, tenant = shared["local_database_url"], "hosts"
    for worker in ("worker-a", "worker-b"):  # worker-only: no gRPC port on the network
        with pytest.raises(OSError), socket.create_connection((network.hosts[worker], PORT), timeout=2):
            pass
    key = bootstrap_key(url, role="client", tenant=tenant).secret
    with Client(hosts["api"].address, key) as client:
        doomed = client.submit(BENIGN, **LONG).job.id
        other = client.submit(f"{BENIGN}, at dawn", **TEST_PARAMS).job.id
        victim = _host_of(_wait_running(url, tenant, doomed).worker_id, hosts)
        hosts[victim].kill()
        survivor = "worker-b" if victim == "worker-a" else "worker-a"
        finals = {job_id: client.wait(job_id, timeout=120) for job_id in (doomed, other)}
        for job_id, final in finals.items():
            assert final.state == "SUCCEEDED", (job_id, final)
        video = client.download(doomed, f"{tmp_path / 'from-api'}/")
        report = client.verify(video)

    jobs, events = _rows(url, tenant)
    assert set(jobs) == {doomed, other}
    assert _host_of(jobs[doomed].worker_id, hosts) == survivor  # taken over by the other worker host
    assert _host_of(jobs[other].worker_id, hosts) == survivor  # the victim was busy with the long one
    assert jobs[doomed].attempts == 2 and "generation.requeued" in events[doomed]
    assert events[doomed].count("generation.started") == 2
    for job_id in jobs:  # no job ran to completion twice
        assert events[job_id].count("generated") == 1, events[job_id]
    assert not list((tmp_path / "api" / "disk").rglob("*.mp4"))  # the API host never held an output

    store = ObjectStorage(shared["storage_url"], shared["local_storage_options"])
    stored = b"".join(store.read_chunks(f"{tenant}/{doomed}/video.mp4", 1 << 20))
    assert video.read_bytes() == stored
    assert finals[doomed].output.video_size == len(stored)
    assert report.verified and report.watermark_id == finals[doomed].provenance_id
