"""Assemble and run the gRPC server: database, ledger, workflow, workers, servicers, health, reflection.

The ONE place where the rooms are wired together (docs/architecture.md).

async with running_server(settings) as server:   # tests, the demo
    print(server.address)
serve(settings)                                    # `veriframe serve`: until SIGTERM / SIGINT
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from veriframe.service.admin import AdminService
from veriframe.service.api.gen import (
    admin_pb2,
    admin_pb2_grpc,
    generation_pb2,
    generation_pb2_grpc,
    verification_pb2,
    verification_pb2_grpc,
)
from veriframe.service.auth import Authenticator
from veriframe.service.flow.workflow import Workflow
from veriframe.service.model_loading import MODEL_LOAD_LOCK
from veriframe.service.observability.wiring import Observability
from veriframe.service.server import memory
from veriframe.service.server.admin_servicer import ModerationAdminServicer
from veriframe.service.server.context import ServerContext
from veriframe.service.server.generation import GenerationServicer
from veriframe.service.server.interceptor import AuthInterceptor
from veriframe.service.server.malformed import MalformedRequestInterceptor
from veriframe.service.server.verification import VerificationServicer
from veriframe.service.settings import Settings
from veriframe.service.store.jobs import JobStore
from veriframe.service.worker import Engines, JobNotifier, Maintenance, Worker, new_worker_id

log = logging.getLogger(__name__)
SERVICE_NAMES = (
    generation_pb2.DESCRIPTOR.services_by_name["Generation"].full_name,
    verification_pb2.DESCRIPTOR.services_by_name["Verification"].full_name,
    admin_pb2.DESCRIPTOR.services_by_name["ModerationAdmin"].full_name,
)


def _engine_loader(settings: Settings, device: str | None) -> Callable[[], Any]:
    options = settings.engine_options(device)

    def load() -> Engines:
        from veriframe.service.engine import Engine
        from veriframe.service.engine.parallel import load_engine

        with MODEL_LOAD_LOCK:  # not beside another model load (the guard LLM's): see model_loading
            main = load_engine(settings.model, options)
        # Compile and tune the configured shapes now, so the first request does not pay for them.
        warmed = main.warm_up() if options.warmup else []
        log.info("engine ready: %s; warm-up %s", main.load_facts, warmed)
        i2v = settings.i2v_model
        if not i2v:
            return Engines(main, None)
        first = replace(main.engine.options, devices=()) if options.devices else options
        # (with devices, the i2v checkpoint runs on the first one, sharing T5 and the VAE)
        share = main.engine if options.devices else main

        def load_i2v() -> Any:
            with MODEL_LOAD_LOCK:
                return Engine.load(i2v, options=first, share_from=share)

        return Engines(main, load_i2v)

    return load


class StartupError(RuntimeError):
    """The server cannot start as configured (missing keys or certificates, a port in use...): the
    message says what and how to fix it; `veriframe serve` prints it and exits 2."""


def _read(path: Path | None, what: str, fix: str) -> bytes:
    try:
        data = Path(path).read_bytes()  # type: ignore[arg-type]
    except OSError as error:
        raise StartupError(f"cannot read the {what} {path}: {error.strerror or error}; {fix}") from None
    if not data.strip():
        raise StartupError(f"the {what} {path} is empty; {fix}")
    return data


def _credentials(settings: Settings) -> grpc.ServerCredentials | None:
    if settings.tls_cert is None:
        return None
    fix = "check tls_cert / tls_key / tls_client_ca"
    chain = _read(settings.tls_cert, "TLS certificate chain (tls_cert)", fix)
    key = _read(settings.tls_key, "TLS private key (tls_key)", fix)
    if settings.tls_client_ca is None:
        return grpc.ssl_server_credentials([(key, chain)])
    return grpc.ssl_server_credentials(
        [(key, chain)],
        root_certificates=_read(settings.tls_client_ca, "client CA (tls_client_ca)", fix),
        require_client_auth=True,
    )



def _bind(server: grpc.aio.Server, listen: str, credentials: grpc.ServerCredentials | None) -> int:
    """Bind the listening address; the port (for :0, the one chosen). A port in use is a StartupError."""
    try:
        if credentials is None:
            port = server.add_insecure_port(listen)
        else:
            port = server.add_secure_port(listen, credentials)
    except RuntimeError:
        port = 0
    if port == 0:
        raise StartupError(
            f"cannot listen on {listen}: the address is in use or not valid here "
            "(is another server running? choose another --listen host:port)"
        )
    return port


class VeriframeServer:
    """`http_mounts`: callables `(aiohttp app, ServerContext)` that add routes to the HTTP port."""

    def __init__(
        self, settings: Settings, *, migrate: bool = True, http_mounts: tuple[Any, ...] = ()
    ) -> None:
        self.settings = settings
        self.migrate = migrate
        if settings.console and settings.http_listen:
            from veriframe.service.console import mount as console_mount

            http_mounts = (*http_mounts, console_mount)
        self.ops = Observability(settings, mounts=http_mounts)
        self.server: grpc.aio.Server | None = None
        self.port = 0
        self.ctx: ServerContext | None = None
        self._maintenance: Maintenance | None = None
        self._webhooks: Any = None  # webhooks.WebhookDispatcher when webhook_secret is set
        self._guard: Any = None  # flow.guard.GuardSweeper when guard_model_path is set
        self._health: health.aio.HealthServicer | None = None  # type: ignore[name-defined]
        self._engine: Any = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        host = self.settings.listen.rsplit(":", 1)[0]
        return f"{host}:{self.port}"

    @property
    def http_url(self) -> str | None:
        """http://host:port of the HTTP port (metrics, health), None when it is off."""
        return self.ops.http.url if self.ops.http is not None else None

    async def start(self) -> None:
        settings = self.settings
        loop = asyncio.get_running_loop()
        memory.limit_arenas(settings.malloc_arena_max)  # before the thread pools allocate (see memory)
        # DB calls and auth run in threads: give them room (the generation runs in its own thread).
        loop.set_default_executor(ThreadPoolExecutor(max_workers=32, thread_name_prefix="veriframe-io"))
        credentials = _credentials(settings)  # missing certificate files stop us before anything else
        _check_guard(settings)
        ctx = await asyncio.to_thread(self._build_context, loop)
        self.ctx = ctx
        server, health_servicer = self._grpc_server(ctx)
        if not settings.worker_only:  # a worker host answers no RPC: its HTTP port tells its readiness
            self.port = _bind(server, settings.listen, credentials)
            await server.start()
            self.server = server
        self._health = health_servicer
        self._start_workers(ctx)
        self._start_background(ctx)
        for name in SERVICE_NAMES:
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        await self._set_generation_health()
        try:  # the overall ("") status follows readiness from here on
            await self.ops.start(ctx, health_servicer)
        except OSError as error:
            raise StartupError(f"{error.strerror}: choose another --http-listen host:port") from None
        log.info(
            "veriframe serving on %s (%d worker(s), database %s)",
            "no gRPC port (worker only)" if settings.worker_only else self.address,
            settings.workers,
            _redact(settings.database_url),
        )

    def _grpc_server(self, ctx: ServerContext) -> tuple[grpc.aio.Server, Any]:
        """The gRPC server with its interceptors, servicers, health and reflection (not yet bound)."""
        settings = self.settings
        options = [
            ("grpc.max_receive_message_length", settings.max_message_bytes),
            ("grpc.max_send_message_length", settings.max_message_bytes),
            ("grpc.keepalive_time_ms", int(settings.keepalive_time_s * 1000)),
            ("grpc.keepalive_timeout_ms", int(settings.keepalive_timeout_s * 1000)),
            ("grpc.http2.min_ping_interval_without_data_ms", 5000),
            ("grpc.keepalive_permit_without_calls", 1),
            # A second server on a port in use must fail to bind, not silently share it.
            ("grpc.so_reuseport", 0),
        ]
        # Malformed bytes are answered first (outermost), before the key check: see server.malformed;
        # then the observer, which sees every call's final status, auth refusals included.
        interceptors = [MalformedRequestInterceptor(), *self.ops.interceptors(), AuthInterceptor(ctx.auth)]
        server = grpc.aio.server(options=options, interceptors=interceptors)

        generation_pb2_grpc.add_GenerationServicer_to_server(GenerationServicer(ctx), server)
        verification_pb2_grpc.add_VerificationServicer_to_server(VerificationServicer(ctx), server)
        admin_pb2_grpc.add_ModerationAdminServicer_to_server(ModerationAdminServicer(ctx), server)
        health_servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        return server, health_servicer

    def _start_workers(self, ctx: ServerContext) -> None:
        settings = self.settings
        for index in range(settings.workers):
            # (with `devices`, the one worker spans them all: the queue sees one worker)
            device = settings.worker_devices[index] if index < len(settings.worker_devices) else None
            worker = Worker(
                ctx.workflow,
                ctx.store,
                _engine_loader(settings, device),
                worker_id=new_worker_id(index),
                notify=ctx.notifier.notify,
                on_loaded=self._worker_loaded,
                after_job=memory.trim if settings.malloc_trim_after_job else None,
            )
            worker.start()
            ctx.workers.append(worker)

    def _start_background(self, ctx: ServerContext) -> None:
        """Maintenance (leases, checkpoints, retention) and, with webhook_secret, webhook delivery."""
        settings = self.settings
        self._maintenance = Maintenance(
            ctx.workflow,
            ctx.store,
            interval=min(5.0, settings.lease_seconds / 2),
            checkpoint_interval=settings.checkpoint_interval_seconds,
            notify=ctx.notifier.notify,
        )
        self._maintenance.start()
        self._start_optional_tasks(ctx, settings)

    def _start_optional_tasks(self, ctx: Any, settings: Settings) -> None:
        """The guard tier (judges held prompts off the request path) and webhook delivery, when set."""
        if settings.guard_model_path is not None:
            from veriframe.service.flow.guard import GuardSweeper

            self._guard = GuardSweeper(ctx.workflow.services, notify=ctx.notifier.notify)
            self._guard.start()
        if settings.webhook_secret:
            from veriframe.service.webhooks import WebhookDispatcher

            self._webhooks = WebhookDispatcher(
                ctx.sessions,
                settings.webhook_secret,
                max_attempts=settings.webhook_max_attempts,
                retry_base_s=settings.webhook_retry_base_s,
                timeout_s=settings.webhook_timeout_s,
            )
            self._webhooks.start()

    def _ledger(self, sessions: Any) -> Any:
        """The ledger with its checkpoint key: a server never runs without one (checkpoints, proofs)."""
        from veriframe.service.ledger import Ledger

        ledger_key = Path(self.settings.keys_dir) / "ledger-key.pem"
        fix = f"run `veriframe keys init {self.settings.keys_dir}` or set keys_dir"
        _read(ledger_key, "ledger signing key", fix)
        try:
            return Ledger(sessions, ledger_key)
        except Exception as error:
            raise StartupError(f"the ledger key {ledger_key} is not usable ({error}); {fix}") from None

    def _load_keys(self, workflow: Workflow) -> None:
        """C2PA signing keys and Verify's trust anchors, loaded now: a bad path fails the start, not a job."""
        fix = f"run `veriframe keys init {self.settings.keys_dir}` or set keys_dir"
        try:
            workflow.signing_keys()
            workflow.services.signing.prompt_key()  # the manifests' prompt-commitment key, too
        except Exception as error:
            raise StartupError(
                f"cannot load the C2PA signing keys from {self.settings.keys_dir} ({error}); {fix}"
            ) from None
        anchors = [
            _read(path, "trust anchor (trust_anchors)", "check trust_anchors / VERIFRAME_TRUST_ANCHORS")
            for path in self.settings.trust_anchors
        ]
        root = Path(self.settings.keys_dir) / "root-ca.pem"
        if root.is_file():
            anchors.append(root.read_bytes())
        workflow.trust_anchors = anchors

    def _worker_loaded(self, worker: Worker, error: str | None) -> None:
        """A worker loaded its model (or failed to): with every worker failed, generation is down."""
        assert self.ctx is not None
        workers = self.ctx.workers
        if error is None:
            known = self.ctx.workflow.limits is not None
            self._background(self._serve_model() if known else self._inspect_again())
            self._background(self.ops.refresh())
            return
        if workers and all(w.load_error is not None for w in workers):
            self.ctx.workflow.set_model_error(error)
        self._background(self._set_generation_health())
        self._background(self.ops.refresh())

    def _background(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _serve_model(self) -> None:
        assert self.ctx is not None
        self.ctx.workflow.set_model_error(None)
        await self._set_generation_health()

    async def _inspect_again(self) -> None:
        """A worker loaded the model that could not be inspected at start (e.g. it was downloaded)."""
        from veriframe.service.flow.model_limits import ModelUnavailable, SubmitLimits

        assert self.ctx is not None
        try:
            limits = await asyncio.to_thread(SubmitLimits, self.settings.model, self.settings.i2v_model)
        except ModelUnavailable as error:
            log.error("the model loaded but its limits still cannot be read: %s", error)
            return
        self.ctx.workflow.limits = limits
        await self._serve_model()

    async def _set_generation_health(self) -> None:
        """Generation, and the overall service "" that standard probes ask, are NOT_SERVING while the
        model cannot be loaded (Submit answers UNAVAILABLE): a pod that cannot generate is not healthy."""
        if self._health is None or self.ctx is None:
            return
        serving = health_pb2.HealthCheckResponse
        status = serving.NOT_SERVING if self.ctx.workflow.model_error is not None else serving.SERVING
        for name in ("", SERVICE_NAMES[0]):
            await self._health.set(name, status)

    def _build_context(self, loop: asyncio.AbstractEventLoop) -> ServerContext:
        from veriframe.service.db import make_engine, session_factory, upgrade

        settings = self.settings
        if self.migrate:
            upgrade(settings.database_url)
        self._engine = make_engine(settings.database_url)
        sessions = session_factory(self._engine)
        ledger = self._ledger(sessions)
        public_pem = ""
        if ledger.public_key is not None:
            from cryptography.hazmat.primitives import serialization

            public_pem = ledger.public_key.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode()
        store = JobStore(
            sessions, ledger, lease_seconds=settings.lease_seconds, max_attempts=settings.max_attempts
        )
        workflow = Workflow(settings, sessions, ledger, store)
        self._load_keys(workflow)
        _warn_of_plain_prompt_hashes(sessions, settings)
        from veriframe.service.flow.model_limits import ModelUnavailable, SubmitLimits

        try:
            workflow.limits = SubmitLimits(settings.model, settings.i2v_model)
            workflow.set_model_error(None)
        except ModelUnavailable as error:
            if settings.workers > 0:  # a worker that cannot have a model is a configuration mistake
                raise StartupError(f"the model cannot be loaded: {error}") from None
            workflow.set_model_error(str(error))  # API-only: stay up, Generation NOT_SERVING
        workflow.ensure_policy()
        with MODEL_LOAD_LOCK:  # another server's worker in this process may be loading its engine
            workflow.classifier()  # load once, before the first request
        auth = Authenticator(
            sessions,
            rate_per_minute=settings.rate_limit_per_minute,
            burst=settings.rate_limit_burst,
            failures_per_minute=settings.auth_failures_per_minute,
            failure_burst=settings.auth_failure_burst,
            shared_limiter=_shared_limiter(settings),
        )
        ctx = ServerContext(
            settings=settings,
            sessions=sessions,
            ledger=ledger,
            store=store,
            workflow=workflow,
            auth=auth,
            notifier=JobNotifier(loop),
            ledger_public_key_pem=public_pem,
        )
        ctx.admin = AdminService(
            sessions, ledger, workflow, on_job_change=ctx.job_changed, witnesses=settings.witnesses()
        )
        return ctx

    async def stop(self, grace: float | None = None) -> None:
        """Graceful: NOT_SERVING, stop accepting, let the running jobs finish (or requeue them), close."""
        grace = self.settings.shutdown_grace_s if grace is None else grace
        await self.ops.stop()
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        if self.ctx is not None:
            await asyncio.gather(*(w.stop(grace) for w in self.ctx.workers))
        if self._maintenance is not None:
            await self._maintenance.stop()
        if self._webhooks is not None:
            await self._webhooks.stop()
        if self._guard is not None:
            await self._guard.stop()
        if self.server is not None:
            await self.server.stop(min(grace, 5.0))
        if self._engine is not None:
            self._engine.dispose()


def _warn_of_plain_prompt_hashes(sessions: Any, settings: Settings) -> None:
    """Rows from before migration 0007 keep a plain prompt SHA-256 until the operator converts them
    (the server does not: several servers share a database, and conversion is a bulk rewrite)."""
    from veriframe.service.flow.commitments import has_unconverted

    with sessions() as s:
        if has_unconverted(s):
            log.warning(
                "jobs recorded before prompt commitments still hold a plain prompt SHA-256, which confirms "
                "a guessed prompt: run `veriframe db convert-prompt-hashes --database ... --keys-dir %s`",
                settings.keys_dir,
            )


def _check_guard(settings: Settings) -> None:
    """The guard tier's files, checked at start (the model itself loads later, off the request path)."""
    path, template = settings.guard_model_path, settings.guard_template
    if path is None:
        if template is not None:
            raise StartupError("guard_template is set without guard_model_path: set both, or neither")
        return
    if not (Path(path) / "config.json").is_file():
        raise StartupError(
            f"the guard model {path} is not a model directory (no config.json): "
            "point guard_model_path at a local AutoModelForCausalLM checkpoint, or unset it"
        )
    if template is not None:
        from veriframe.safety.guard import load_template

        try:
            load_template(template)
        except (OSError, ValueError) as error:
            raise StartupError(f"{error}; fix or unset guard_template") from None


def _shared_limiter(settings: Settings) -> Any:
    """The limiter every API server shares (rate_limit_storage), or None for per-process buckets."""
    if not settings.rate_limit_storage:
        return None
    from veriframe.service.ratelimit import RateLimitStorageError, SharedRateLimiter

    try:
        return SharedRateLimiter(
            settings.rate_limit_storage,
            rate_per_minute=settings.rate_limit_per_minute,
            burst=settings.rate_limit_burst,
        )
    except RateLimitStorageError as error:
        raise StartupError(f"{error}; fix or unset rate_limit_storage") from None


def _redact(url: str) -> str:
    from veriframe.service.db import redact

    return redact(url)


@contextlib.asynccontextmanager
async def running_server(settings: Settings, *, migrate: bool = True) -> AsyncIterator[VeriframeServer]:
    server = VeriframeServer(settings, migrate=migrate)
    try:
        await server.start()
        yield server
    finally:
        await server.stop()


async def serve_forever(settings: Settings) -> None:
    """Serve until SIGTERM / SIGINT. Raises StartupError when the server cannot start as configured."""
    server = VeriframeServer(settings)
    try:
        await server.start()
    except BaseException:
        await server.stop(0)
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down (grace %.0f s)", settings.shutdown_grace_s)
    await server.stop()


class BackgroundServer:
    """A server on its own event loop in a daemon thread: for the demo, tests and benchmarks, where the
    caller keeps using blocking code (the SDK's sync client) meanwhile."""

    def __init__(
        self, settings: Settings, *, migrate: bool = True, http_mounts: tuple[Any, ...] = ()
    ) -> None:
        import threading

        self.settings = settings
        self.server = VeriframeServer(settings, migrate=migrate, http_mounts=http_mounts)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="veriframe-server", daemon=True)
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.start())
        except BaseException as error:  # handed to start()'s caller
            self._failure = error
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    def start(self, timeout: float = 300) -> BackgroundServer:
        self._thread.start()
        self._ready.wait(timeout)
        if self._failure is not None:
            raise self._failure
        return self

    @property
    def address(self) -> str:
        return self.server.address

    @property
    def ctx(self) -> ServerContext:
        assert self.server.ctx is not None
        return self.server.ctx

    def run(self, coro: Any, timeout: float = 120) -> Any:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, grace: float | None = None) -> None:
        if self._thread.is_alive():
            self.run(self.server.stop(grace), timeout=max(60.0, (grace or 0) + 60))
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(30)
