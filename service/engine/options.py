"""Every engine option in one typed object: what the engine does to the pipeline, and how it reports it.

Two kinds of option:
- **exact** ones compute the same video (same maths; at most kernel rounding on CUDA): placement,
  memory savers, fused QKV, the attention kernel, regional compile, the VAE memory format;
- **lossy** ones approximate it for speed and are opt-in and labelled: fp8 matmuls, step caching,
  SageAttention. ``EngineOptions.report()`` goes into every video's params, so the job record, the
  C2PA manifest and the ledger all say which were used.

``None`` means "the default for the device": on CUDA the exact speed-ups are on, on CPU they are off
(the test suite compares frames bit for bit there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from veriframe.service.engine.attention import BACKENDS, LOSSY_BACKENDS

OFFLOADS: tuple[str, ...] = ("none", "model", "sequential")
COMPILES: tuple[str, ...] = ("none", "blocks", "full")
#: Dynamic-shape policy -> torch.compile's ``dynamic`` argument (see docs/engine.md).
COMPILE_DYNAMIC: dict[str, bool | None] = {"auto": None, "static": False, "dynamic": True}
#: Caching hooks shipped by diffusers that register CogVideoXBlock (see lossy.py for the presets).
CACHES: tuple[str, ...] = ("none", "faster", "pab", "fbc", "taylorseer", "mag")
#: How one video is split over ``devices`` (parallel.py, sequence.py, xdit.py; docs/engine.md).
PARALLELS: tuple[str, ...] = ("cfg", "sequence", "cfg+sequence", "xdit")
SEQUENCE_PARALLELS: tuple[str, ...] = ("ulysses", "ring")
DTYPES: dict[str, str] = {
    "float32": "float32",
    "fp32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
}


class OptionError(ValueError):
    """An engine option that is unknown, malformed or impossible on this machine; says what to do."""


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"720x480x49"`` -> (width, height, frames)."""
    try:
        width, height, frames = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise OptionError(f"warm-up shape {text!r}: expected WIDTHxHEIGHTxFRAMES, e.g. 720x480x49") from None
    return width, height, frames


@dataclass(frozen=True)
class EngineOptions:
    """How the engine loads and runs a model. Build with keywords; ``resolve`` fills device defaults."""

    device: str | None = None  # "cuda", "cuda:1", "cpu"; None: CUDA when present
    #: Several devices for one video (see parallel.py); () = one.
    devices: tuple[str, ...] = ()
    #: How: one of PARALLELS; None: "cfg" on 2 devices, "cfg+sequence" on 4, 6 ..., else "sequence".
    parallel: str | None = None
    sequence_parallel: str = "ulysses"  # the sequence split's attention: ulysses (all-to-all) or ring
    dtype: str | None = None  # None: the model card's (bf16; fp16 for 2b) on CUDA, float32 on CPU
    offload: str = "none"
    vae_tiling: bool = False
    vae_slicing: bool = False
    fuse_qkv: bool | None = None  # None: on with CUDA
    attention: str | None = None  # a key of attention.BACKENDS; None: "sdpa" through our processor
    compile: str | None = None  # none | blocks (regional) | full; None: blocks on CUDA
    compile_mode: str | None = None  # torch.compile mode, e.g. "max-autotune-no-cudagraphs"
    compile_dynamic: str = "auto"
    compile_backend: str = "inductor"  # torch.compile backend; "aot_eager" traces without codegen (tests)
    vae_channels_last: bool | None = None  # None: on with CUDA
    #: Shapes compiled (and kernels tuned) before the first job, as (width, height, frames).
    warmup: tuple[tuple[int, int, int], ...] = ()
    fp8: bool = False  # lossy: torchao float8 dynamic activation + weight on the transformer
    cache: str = "none"  # lossy: one of CACHES
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # free-form, reported as is

    def __post_init__(self) -> None:
        if self.offload not in OFFLOADS:
            raise OptionError(f"offload must be one of {', '.join(OFFLOADS)}, got {self.offload!r}")
        if self.attention is not None and self.attention not in BACKENDS:
            raise OptionError(f"attention must be one of {', '.join(BACKENDS)}, got {self.attention!r}")
        if self.compile is not None and self.compile not in COMPILES:
            raise OptionError(f"compile must be one of {', '.join(COMPILES)}, got {self.compile!r}")
        if self.compile_dynamic not in COMPILE_DYNAMIC:
            raise OptionError(
                f"compile_dynamic must be one of {', '.join(COMPILE_DYNAMIC)}, got {self.compile_dynamic!r}"
            )
        if self.cache not in CACHES:
            raise OptionError(f"cache must be one of {', '.join(CACHES)}, got {self.cache!r}")
        if self.dtype is not None and self.dtype.lower() not in DTYPES:
            raise OptionError(
                f"dtype must be one of {', '.join(sorted(set(DTYPES.values())))}, got {self.dtype!r}"
            )
        if self.devices and self.offload != "none":
            raise OptionError("several devices and CPU offload do not mix: pick one")
        if len(self.devices) > 1 and self.cache != "none":
            raise OptionError(
                "step caching decides per rank what to skip: it cannot run on several devices; pick one"
            )
        self._check_parallel()

    def _check_parallel(self) -> None:
        if self.parallel is not None and self.parallel not in PARALLELS:
            raise OptionError(f"parallel must be one of {', '.join(PARALLELS)}, got {self.parallel!r}")
        if self.sequence_parallel not in SEQUENCE_PARALLELS:
            raise OptionError(
                f"sequence_parallel must be one of {', '.join(SEQUENCE_PARALLELS)}, "
                f"got {self.sequence_parallel!r}"
            )
        # (With fewer than 2 devices ``parallel`` means nothing and resolves to None: the i2v engine
        # of a multi-device worker is its first device's copy. Settings refuse it given alone.)
        count = len(self.devices)
        if count < 2:
            return
        if self.parallel == "cfg" and count != 2:
            raise OptionError(
                "CFG parallelism splits the two guidance halves: exactly 2 devices; "
                "for more use parallel=cfg+sequence (an even count) or sequence"
            )
        if self.parallel == "cfg+sequence" and (count < 4 or count % 2):
            raise OptionError(
                "cfg+sequence needs an even number of devices, at least 4 (2 halves x a sequence group)"
            )
        # Checked here, not in resolve(), so settings refuse them at start (serve exits 2).
        if self.parallel == "xdit":
            from veriframe.service.engine.xdit import XDiTUnavailable, check_xdit

            try:
                check_xdit(self)
            except XDiTUnavailable as exc:
                raise OptionError(str(exc)) from None
        elif self.parallel_mode in ("sequence", "cfg+sequence"):
            self._check_sequence_backend()

    def _check_sequence_backend(self) -> None:
        """The attention kernel must implement diffusers' context parallelism (ring: with log-sum-exp)."""
        from veriframe.service.engine.sequence import CP_BACKENDS

        attention = self.attention or "sdpa"
        usable = CP_BACKENDS[self.sequence_parallel]
        if attention not in usable:
            why = " (it merges partial results by log-sum-exp, which only CUDA kernels return)"
            raise OptionError(
                f"{self.sequence_parallel} attention cannot run with attention={attention}: "
                f"use one of {', '.join(usable)}" + (why if self.sequence_parallel == "ring" else "")
            )

    @property
    def parallel_mode(self) -> str | None:
        """``parallel`` with its default filled in (None on one device)."""
        if len(self.devices) < 2:
            return None
        if self.parallel is not None:
            return self.parallel
        if len(self.devices) == 2:
            return "cfg"
        return "cfg+sequence" if len(self.devices) % 2 == 0 else "sequence"

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> EngineOptions:
        """From settings or CLI values (strings allowed for shapes and devices); unknown keys are errors."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise OptionError(f"unknown engine option(s): {', '.join(unknown)}")
        data = dict(values)
        if isinstance(data.get("devices"), str):
            data["devices"] = tuple(d.strip() for d in data["devices"].split(",") if d.strip())
        if isinstance(data.get("warmup"), str):
            data["warmup"] = tuple(parse_shape(s) for s in data["warmup"].split(",") if s.strip())
        for key in ("devices", "warmup"):
            if key in data:
                data[key] = tuple(tuple(s) if isinstance(s, list) else s for s in data[key])
        return cls(**data)

    def resolve(self) -> EngineOptions:
        """Fill the device-dependent defaults; refuse what this machine cannot do."""
        import torch

        devices = self.devices
        device = self.device or (devices[0] if devices else None)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        for name in devices or (device,):
            if name.startswith("cuda") and not torch.cuda.is_available():
                raise OptionError(f"device {name!r} requested but CUDA is not available")
        cuda = device.startswith("cuda")
        if self.offload != "none" and not cuda:
            raise OptionError("CPU offload only makes sense with a CUDA device")
        if self.fp8:
            _check_fp8(device)
        resolved = replace(
            self,
            device=device,
            fuse_qkv=cuda if self.fuse_qkv is None else self.fuse_qkv,
            attention=self.attention or "sdpa",
            compile=self.compile or ("blocks" if cuda else "none"),
            vae_channels_last=cuda if self.vae_channels_last is None else self.vae_channels_last,
            parallel=self.parallel_mode,
        )
        if resolved.attention != "sdpa":
            from veriframe.service.engine.attention import check_backend

            try:
                check_backend(resolved.attention)
            except ValueError as exc:
                raise OptionError(str(exc)) from exc
        return resolved

    @property
    def lossy(self) -> list[str]:
        """The approximations in use, by name (empty: the exact video)."""
        out = []
        if self.fp8:
            out.append("fp8")
        if self.cache != "none":
            out.append(f"cache:{self.cache}")
        if self.attention in LOSSY_BACKENDS:
            out.append(f"attention:{self.attention}")
        return out

    def report(self) -> dict[str, Any]:
        """JSON-able description recorded with every video (params -> job, manifest, ledger)."""
        data = asdict(self)
        data["devices"] = list(self.devices)
        data["warmup"] = [f"{w}x{h}x{f}" for w, h, f in self.warmup]
        data.pop("extra")
        data.update(self.extra)
        data["lossy"] = self.lossy
        data["exact"] = not self.lossy
        return data


def _check_fp8(device: str) -> None:
    """fp8 matmuls need a CUDA GPU of compute capability 8.9+ (Ada, Hopper) and torchao."""
    import torch

    if not device.startswith("cuda"):
        raise OptionError(
            "fp8 needs a CUDA GPU with compute capability 8.9 or newer (L4, L40S, H100, H200); "
            f"this engine runs on {device}"
        )
    index = torch.device(device).index or 0
    capability = torch.cuda.get_device_capability(index)
    if capability < (8, 9):
        raise OptionError(
            f"fp8 needs compute capability 8.9 or newer; {torch.cuda.get_device_name(index)} "
            f"has {capability[0]}.{capability[1]}"
        )
    try:
        import torchao  # noqa: F401
    except ImportError:
        raise OptionError("fp8 needs torchao: pip install 'veriframe-service[fp8]'") from None
