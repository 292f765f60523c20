"""Where artifacts live: signed videos and frames, and uploaded i2v/v2v inputs.

    storage_url unset            a local directory: `output_dir` (the default; one host, or a shared volume)
    storage_url = "s3://bucket/prefix"   any S3-compatible object store, through obstore; the options
                                 (endpoint, region, allow_http...) come from `storage_options` and the
                                 standard AWS_* environment variables (AWS_ACCESS_KEY_ID, ...)

Artifacts are named by keys such as `acme/6c1e.../video.mp4`. Every API server and worker that shares
the database must share the storage too: a worker writes, any API server's Download reads.
`LocalStorage` also reads absolute paths, as recorded before keys existed.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol


class ArtifactMissing(FileNotFoundError):
    """No artifact under that key."""


class Storage(Protocol):
    def put_file(self, key: str, source: Path) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def size(self, key: str) -> int: ...
    def read_chunks(self, key: str, chunk_size: int) -> Iterator[bytes]: ...
    def fetch(self, key: str, dest: Path) -> Path: ...
    def list(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...
    def delete_prefix(self, prefix: str) -> None: ...


class LocalStorage:
    """Keys are paths under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        path = Path(key)
        if path.is_absolute():  # recorded before keys existed
            return path
        resolved = (self.root / path).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise ValueError(f"artifact key {key!r} leaves the storage root")
        return resolved

    def put_file(self, key: str, source: Path) -> None:
        target = self.path(key)
        if Path(source).resolve() == target:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise ArtifactMissing(key) from None

    def read_chunks(self, key: str, chunk_size: int) -> Iterator[bytes]:
        try:
            handle = open(self.path(key), "rb")  # noqa: SIM115 (closed below, also on early exit)
        except FileNotFoundError:
            raise ArtifactMissing(key) from None
        with handle:
            while chunk := handle.read(chunk_size):
                yield chunk

    def fetch(self, key: str, dest: Path) -> Path:
        return self.path(key)  # already a local file: no copy

    def list(self, prefix: str) -> list[str]:
        base = self.path(prefix)
        if not base.is_dir():
            return []
        return sorted(str(p.relative_to(self.root.resolve())) for p in base.rglob("*") if p.is_file())

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        target = self.path(prefix)
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)


class ObjectStorage:
    """An S3-compatible bucket (or another obstore backend) under an optional key prefix."""

    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        from obstore.store import from_url

        options = dict(options or {})
        client_options = options.pop("client_options", None)
        if options.pop("allow_http", False):
            client_options = {**(client_options or {}), "allow_http": True}
        self.url = url
        self._store = from_url(url, client_options=client_options, **options)

    def put_file(self, key: str, source: Path) -> None:
        import obstore

        with open(source, "rb") as handle:
            obstore.put(self._store, key, handle)

    def put_bytes(self, key: str, data: bytes) -> None:
        import obstore

        obstore.put(self._store, key, data)

    def size(self, key: str) -> int:
        import obstore

        try:
            return int(obstore.head(self._store, key)["size"])
        except FileNotFoundError:
            raise ArtifactMissing(key) from None

    def read_chunks(self, key: str, chunk_size: int) -> Iterator[bytes]:
        import obstore

        try:
            result = obstore.get(self._store, key)
        except FileNotFoundError:
            raise ArtifactMissing(key) from None
        pending = b""
        for part in result.stream(min_chunk_size=chunk_size):
            pending += bytes(part)
            while len(pending) >= chunk_size:
                yield pending[:chunk_size]
                pending = pending[chunk_size:]
        if pending:
            yield pending

    def fetch(self, key: str, dest: Path) -> Path:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(dest, "wb") as handle:
            for chunk in self.read_chunks(key, 1024 * 1024):
                handle.write(chunk)
        return dest

    def list(self, prefix: str) -> list[str]:
        import obstore

        prefix = prefix.rstrip("/") + "/"
        return sorted(m["path"] for batch in obstore.list(self._store, prefix=prefix) for m in batch)

    def delete(self, key: str) -> None:
        import obstore

        with contextlib.suppress(FileNotFoundError):  # deleting what is gone is done
            obstore.delete(self._store, key)

    def delete_prefix(self, prefix: str) -> None:
        import obstore

        keys = self.list(prefix) or [prefix]
        with contextlib.suppress(FileNotFoundError):
            obstore.delete(self._store, keys)


def storage_for(settings: Any) -> Storage:
    """The configured storage: the object store at `storage_url`, else the local `output_dir`."""
    if settings.storage_url:
        return ObjectStorage(settings.storage_url, settings.storage_options)
    return LocalStorage(Path(settings.output_dir))
