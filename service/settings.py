"""Server settings: defaults < settings file (TOML or JSON) < environment variables `VERIFRAME_*`.

    VERIFRAME_DATABASE_URL=postgresql+psycopg://veriframe@db/veriframe veriframe serve
    veriframe serve --config /etc/veriframe/server.toml

Nested values are not used: every setting is one flat name, so each has one environment variable
(`VERIFRAME_` + the upper-case name). `VERIFRAME_TRUST_ANCHORS` is PEM paths separated by `os.pathsep`
(":" on POSIX), the same variable `veriframe-verify` reads; a settings file may give a list instead.
`VERIFRAME_WORKER_DEVICES` takes a JSON list; `VERIFRAME_WITNESS_KEYS` a JSON list or comma-separated
vkeys / vkey files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VERIFRAME_", extra="forbid", validate_default=True)

    # --- storage
    database_url: str = Field("sqlite:///veriframe.db", description="SQLAlchemy URL (SQLite/PostgreSQL)")
    output_dir: Path = Field(Path("veriframe-output"), description="where signed videos and frames are kept")
    storage_url: str | None = Field(
        None, description="object store for artifacts (s3://bucket/prefix); unset: output_dir on local disk"
    )
    storage_options: dict[str, Any] = Field(
        default_factory=dict, description="obstore options: endpoint, region, allow_http, ... (JSON in env)"
    )
    # Only prompts of ended jobs are ever purged, so 0 (purge as soon as a job ends) is safe.
    prompt_retention_days: float = Field(
        30.0, ge=0, description="prompt text of ended jobs kept this long, then purged"
    )

    # --- model / worker
    # The engine's and `veriframe generate`'s default too (a Hugging Face id is owner/name).
    model: str = Field("THUDM/CogVideoX-5b", description="model id or local checkpoint directory (t2v, v2v)")
    i2v_model: str | None = Field(None, description="image-to-video checkpoint; i2v is refused without")
    device: str | None = Field(None, description="torch device (default: cuda if present, else cpu)")
    dtype: str | None = Field(None, description="bfloat16 | float16 | float32 (default: per device)")
    offload: Literal["none", "model", "sequential"] = "none"
    vae_tiling: bool = False
    vae_slicing: bool = False
    # Engine speed options (docs/engine.md; None = the device's default, exact ones on for CUDA).
    fuse_qkv: bool | None = Field(None, description="fuse attention Q/K/V projections (default: on CUDA)")
    attention: str | None = Field(None, description="attention backend (docs/engine.md)")
    compile: Literal["none", "blocks", "full"] | None = Field(None, description="torch.compile scope")
    compile_mode: str | None = Field(None, description="torch.compile mode, e.g. max-autotune-no-cudagraphs")
    compile_dynamic: Literal["auto", "static", "dynamic"] = "auto"
    vae_channels_last: bool | None = Field(None, description="VAE convs channels-last-3d (default: on CUDA)")
    warmup: list[str] = Field(default_factory=list, description="WxHxF shapes compiled at worker start")
    fp8: bool = Field(False, description="LOSSY: torchao fp8 matmuls (compute capability 8.9+)")
    cache: Literal["none", "faster", "pab", "fbc", "taylorseer", "mag"] = Field(
        "none", description="LOSSY: a diffusers step-caching hook"
    )
    mag_ratios: list[float] = Field(default_factory=list, description="MagCache's calibrated ratios")
    devices: list[str] = Field(
        default_factory=list, description="one worker spanning these devices (CFG parallel): cuda:0,cuda:1"
    )
    parallel: Literal["cfg", "sequence", "cfg+sequence", "xdit"] | None = Field(
        None, description="how devices split one video (default: cfg on 2, cfg+sequence on 4, 6 ...)"
    )
    sequence_parallel: Literal["ulysses", "ring"] = Field("ulysses", description="sequence split's attention")
    workers: int = Field(1, ge=0, description="generation workers here (one per GPU); 0 = API only")
    worker_devices: list[str] = Field(default_factory=list, description="device per worker: cuda:0,...")
    lease_seconds: float = Field(60.0, gt=0, description="a worker's claim on a job; renewed by heartbeats")
    max_attempts: int = Field(3, ge=1, description="a job whose worker died this often is failed")

    # --- provenance
    keys_dir: Path = Field(Path("keys"), description="signing keys (veriframe keys init DIR)")
    trust_anchors: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="extra root certificates (PEM files; os.pathsep-separated in env)"
    )
    tsa_url: str | None = Field(None, description="RFC 3161 timestamp authority for C2PA signatures")
    checkpoint_interval_seconds: float = Field(300.0, gt=0, description="how often the ledger is signed")
    witness_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="witnesses whose checkpoint cosignatures AddCosignature keeps: vkey strings or files "
        "holding one (comma-separated in env)",
    )

    # --- network
    listen: str = Field("127.0.0.1:50051", description="host:port to listen on")
    worker_only: bool = Field(
        False, description="no gRPC port: a worker host of a multi-host deployment (needs workers >= 1)"
    )
    tls_cert: Path | None = Field(None, description="server certificate chain (PEM); enables TLS")
    tls_key: Path | None = None
    tls_client_ca: Path | None = Field(None, description="CA for client certificates; enables mutual TLS")
    max_message_mb: int = Field(64, ge=1, le=2047, description="largest request/response message")
    max_verify_upload_mb: int = Field(256, ge=1, description="largest file accepted by Verify")
    max_input_image_mb: int = Field(20, ge=1, description="largest i2v image")
    max_input_video_mb: int = Field(60, ge=1, description="largest v2v video")
    keepalive_time_s: float = Field(30.0, gt=0)
    keepalive_timeout_s: float = Field(10.0, gt=0)
    shutdown_grace_s: float = Field(30.0, ge=0, description="time for running jobs to finish on SIGTERM")
    http_listen: str | None = Field(
        None, description="host:port of the HTTP port (/metrics, /healthz, /readyz); off when unset"
    )
    console: bool = Field(True, description="serve the review console at /console/ on the HTTP port")
    console_idle_minutes: float = Field(30.0, gt=0, description="console sign-out after this idle time")
    console_session_hours: float = Field(8.0, gt=0, description="absolute session lifetime")
    console_signin_per_minute: float = Field(10.0, gt=0, description="failed console sign-ins per address")

    # --- observability
    tracing: bool = Field(False, description="OpenTelemetry spans per RPC and flow stage (tracing extra)")

    # --- limits
    rate_limit_per_minute: float = Field(120.0, gt=0, description="requests per API key (token bucket rate)")
    rate_limit_burst: int = Field(60, ge=1, description="token bucket size")
    auth_failures_per_minute: float = Field(
        30.0, ge=0, description="requests with an invalid API key per client address (0 = no limit)"
    )
    auth_failure_burst: int = Field(20, ge=1, description="invalid-key requests allowed in a burst")
    rate_limit_storage: str | None = Field(
        None, description="rate limits shared by API servers: redis://127.0.0.1:6379/0 (unset: per process)"
    )
    tenant_queue_cap: int = Field(20, ge=1, description="queued + held jobs per tenant")
    max_prompt_chars: int = Field(4000, ge=1)
    malloc_arena_max: int = Field(
        2, ge=0, description="glibc malloc arenas for the server process (0 = glibc's default, 8 per core)"
    )
    malloc_trim_after_job: bool = Field(True, description="hand freed heap back to the OS after each job")

    # --- webhooks (per-request callback_url; see docs/operations.md)
    webhook_secret: str | None = Field(
        None, description="Standard Webhooks signing secret (whsec_<base64>); callbacks are refused without"
    )
    webhook_allowed_schemes: list[str] = Field(default_factory=lambda: ["http", "https"])
    webhook_allowed_hosts: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1", "localhost"],
        description="callback hosts allowed (exact, or *.example.com); loopback only by default",
    )
    webhook_max_attempts: int = Field(10, ge=1, description="deliveries tried this often, then failed")
    webhook_retry_base_s: float = Field(5.0, gt=0, description="first retry delay; doubles each time")
    webhook_timeout_s: float = Field(10.0, gt=0, description="per delivery attempt")

    # --- safety
    classifier_path: Path | None = Field(None, description="HF text-classification model dir")
    screening_max_batch: int = Field(
        32, ge=1, le=256, description="prompts per classifier call; 1: one at a time, under a lock"
    )
    screening_batch_window_ms: float = Field(
        4.0, ge=0, le=100, description="how long the micro-batcher waits for more prompts after the first"
    )
    screening_encoder: Literal["int8-per-text", "int8-batch", "fp32"] = Field(
        "int8-per-text",
        description="MiniLM encoder mode (veriframe.safety.classifier.ENCODERS); int8-batch: the old one, "
        "whose scores move with batch mates",
    )
    guard_model_path: Path | None = Field(
        None, description="a local guard LLM checkpoint (AutoModelForCausalLM dir) for the uncertain band"
    )
    guard_template: Path | None = Field(
        None, description="guard task text file with {categories} and {prompt} (default: Llama Guard 3)"
    )
    guard_band_low: float = Field(
        0.6, gt=0, le=1, description="allowed prompts at this fraction of a review threshold go to the guard"
    )

    @field_validator("trust_anchors", mode="before")
    @classmethod
    def _pathsep_list(cls, value: Any) -> Any:
        # VERIFRAME_TRUST_ANCHORS is shared with veriframe-verify (provenance.verify): "a.pem:b.pem".
        if isinstance(value, str):
            return [part for part in value.split(os.pathsep) if part.strip()]
        return value

    @field_validator("witness_keys", mode="before")
    @classmethod
    def _witness_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.lstrip().startswith("[") else value.split(",")
        return value

    @field_validator("witness_keys")
    @classmethod
    def _witnesses_load(cls, value: list[str]) -> list[str]:
        from veriframe.service.ledger.cosignatures import load_witness_keys

        entries = [entry.strip() for entry in value if entry.strip()]
        load_witness_keys(entries)  # a bad key or path fails the start, naming it
        return entries

    def witnesses(self) -> list[Any]:
        """The configured witnesses' verifiers (`transparency.cosignature.CosignatureVerifier`)."""
        from veriframe.service.ledger.cosignatures import load_witness_keys

        return load_witness_keys(self.witness_keys)

    @field_validator("warmup", "devices", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _engine_options(self) -> Settings:
        self.engine_options(None)  # bad values fail at start, with the option's own message
        if self.devices and self.workers > 1:
            raise ValueError("devices makes one worker span several devices: set workers to 1")
        if self.parallel and len(self.devices) < 2:
            raise ValueError(f"parallel={self.parallel} needs several devices: devices=cuda:0,cuda:1")
        if self.worker_only and self.workers == 0:
            raise ValueError("worker_only serves no API, so it needs workers >= 1 (or drop worker_only)")
        return self

    def engine_options(self, device: str | None) -> Any:
        """The EngineOptions of a worker on ``device`` (None: the settings' device or devices)."""
        from veriframe.service.engine.options import EngineOptions

        extra = {"mag_ratios": list(self.mag_ratios)} if self.mag_ratios else {}
        return EngineOptions.from_mapping(
            {
                "device": device or self.device,
                "devices": () if device else tuple(self.devices),
                "parallel": None if device else self.parallel,
                "sequence_parallel": self.sequence_parallel,
                "dtype": self.dtype,
                "offload": self.offload,
                "vae_tiling": self.vae_tiling,
                "vae_slicing": self.vae_slicing,
                "fuse_qkv": self.fuse_qkv,
                "attention": self.attention,
                "compile": self.compile,
                "compile_mode": self.compile_mode,
                "compile_dynamic": self.compile_dynamic,
                "vae_channels_last": self.vae_channels_last,
                "warmup": ",".join(self.warmup),
                "fp8": self.fp8,
                "cache": self.cache,
                "extra": extra,
            }
        )

    @field_validator("http_listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            parse_listen(value)
        return value

    @model_validator(mode="after")
    def _tls_pairs(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ValueError("tls_client_ca (mutual TLS) needs tls_cert and tls_key")
        return self

    @property
    def max_message_bytes(self) -> int:
        return self.max_message_mb * MiB


def parse_listen(listen: str) -> tuple[str, int]:
    """host:port -> (host, port); ValueError naming the problem. `[::1]:9090` for IPv6."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT (e.g. 127.0.0.1:9090), got {listen!r}")
    return host.strip("[]"), int(port)


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Defaults < the TOML/JSON file at `path` < `VERIFRAME_*` variables < `overrides` (CLI flags).

    None-valued overrides are ignored, so CLI options can default to None.
    """
    values: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        text = path.read_text()
        if path.suffix == ".json":
            values = json.loads(text)
        else:
            import tomllib  # Python >= 3.11; use a .json settings file on 3.10

            values = tomllib.loads(text)
        values = values.get("veriframe", values)
    # The environment wins over the file: drop file values whose variable is set.
    values = {k: v for k, v in values.items() if f"VERIFRAME_{k.upper()}" not in os.environ}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
