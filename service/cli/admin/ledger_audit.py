"""`veriframe-admin audit checkpoint | verify | witness`: holding the ledger to account from outside.

- `checkpoint --out FILE`: the latest signed checkpoint (C2SP signed note) from a database or a server,
  to keep somewhere the operator cannot rewrite.
- `verify --database URL --trusted-checkpoint FILE`: the log must extend every checkpoint kept so
  (exit 1 on a smaller log or one that is not an extension); `--incremental` audits only what came
  after the largest one.
- `witness`: cosigns the log's checkpoint (c2sp.org/tlog-cosignature) after checking it extends the
  last one it cosigned; its key and state live outside the operator's database. `--submit` hands the
  cosignature back to the server, which serves it with the checkpoint.
Exit codes: 0 ok, 1 tampering / rollback / fork / not verified, 2 usage or unreachable.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import typer

from veriframe.provenance.transparency.checkpoint import SignedCheckpoint, log_verifier, open_checkpoint
from veriframe.provenance.transparency.cosignature import (
    CosignatureVerifier,
    Cosigner,
    load_quorum,
)
from veriframe.provenance.transparency.monitor import CheckpointStore, ConsistencyError
from veriframe.provenance.transparency.note import NoteError, load_public_key
from veriframe.provenance.transparency.witness import Witness
from veriframe.service.cli.admin.session import fail

DATABASE_HELP = "Database URL (sqlite:///veriframe.db, postgresql://user@host/db); read-only."


@contextlib.contextmanager
def database_ledger(database: str) -> Iterator[Any]:
    """A keyless `Ledger` over a read-only engine (a mistyped SQLite path creates nothing)."""
    from veriframe.service.db import DatabaseUnavailable, make_engine, session_factory
    from veriframe.service.db.engine import read_only_url
    from veriframe.service.ledger import Ledger, LedgerError

    try:
        engine = make_engine(read_only_url(database))
    except FileNotFoundError as error:
        fail(2, str(error))
    except Exception as error:  # an unparseable URL or a missing driver: usage, not tampering
        fail(2, f"cannot use database URL: {error}")
    try:
        yield Ledger(session_factory(engine))
    except (DatabaseUnavailable, LedgerError) as error:
        fail(2, str(error))
    finally:
        engine.dispose()


def read_public_key(public_key: str | None, keys: Path | None) -> Any:
    if public_key and keys:
        fail(2, "pass --public-key or --keys, not both")
    key_file = public_key or (str(keys / "ledger-pub.pem") if keys else None)
    try:
        return load_public_key(Path(key_file)) if key_file else None
    except (OSError, ValueError) as error:
        fail(2, f"cannot read the public key {key_file}: {error}")


def read_trusted(
    files: list[Path], public_key: Any, witnesses: list[CosignatureVerifier], quorum: int
) -> list[SignedCheckpoint]:
    """Each file's checkpoint, its log signature (and required cosignatures) checked."""
    if files and public_key is None:
        fail(2, "--trusted-checkpoint needs the ledger public key (--public-key or --keys)")
    trusted = []
    for path in files:
        try:
            trusted.append(
                open_checkpoint(path.read_text(encoding="utf-8"), log_verifier(public_key), witnesses, quorum)
            )
        except OSError as error:
            fail(2, f"cannot read {path}: {error.strerror}")
        except NoteError as error:
            fail(1, f"the trusted checkpoint {path} does not verify: {error}")
    return trusted


def read_witness_keys(files: list[Path], quorum: int | None) -> tuple[list[CosignatureVerifier], int]:
    try:
        return load_quorum(files, quorum)
    except OSError as error:
        fail(2, f"cannot read a witness key: {error}")
    except ValueError as error:
        fail(2, str(error))


def write_out(out: Path, note: str) -> None:
    try:
        out.write_text(note, encoding="utf-8")
    except OSError as error:
        fail(2, f"cannot write {out}: {error.strerror}")


def checkpoint_from_database(database: str, out: Path | None) -> None:
    """`audit checkpoint --database URL`: the head's signed note, written to --out (or printed)."""
    with database_ledger(database) as ledger:
        note = ledger.latest_note()
    if not note:
        fail(1, "the ledger has no signed checkpoint yet (the server signs one with every append)")
    if out is None:
        typer.echo(note, nl=False)
    else:
        write_out(out, note)
        typer.echo(
            f"checkpoint {note.splitlines()[0]} size {note.splitlines()[1]} written to {out}", err=True
        )


# --- `audit verify --database` -------------------------------------------------------------------------


def verify_database(
    database: str, public_key: Any, trusted: list[SignedCheckpoint], incremental: bool, as_json: bool
) -> NoReturn:
    from veriframe.service.db import redact

    bodies = [t.checkpoint for t in trusted]
    if incremental and not bodies:
        fail(2, "--incremental starts from a trusted checkpoint: pass --trusted-checkpoint FILE")
    since = max(bodies, key=lambda c: c.tree_size) if incremental else None
    with database_ledger(database) as ledger:
        report = ledger.verify(
            public_key=public_key, trusted=[b for b in bodies if b is not since], since=since
        )
    # Without the public key nothing proves the checkpoints are the server's: someone with write access
    # to the database can re-sign the whole tree with a key of their own. Not "intact", then.
    unchecked = 0 if report.signatures_checked else max(report.checkpoints, 1 if report.signed_size else 0)
    not_checked = f"{unchecked} checkpoint(s) not checked: pass --public-key/--keys" if unchecked else None
    ok = report.ok and not unchecked
    if as_json:
        typer.echo(
            json.dumps(
                {"database": redact(database), **report.to_dict(), "ok": ok, "not_checked": not_checked},
                indent=2,
            )
        )
    else:
        _print_report(redact(database), report, not_checked, ok)
    raise typer.Exit(0 if ok else 1)


def _print_report(where: str, report: Any, not_checked: str | None, ok: bool) -> None:
    signatures = "signatures checked" if report.signatures_checked else "signatures NOT checked"
    scope = (
        f"events from {report.from_size} on: {report.events} checked"
        if report.from_size
        else f"{report.events} events"
    )
    typer.echo(
        f"ledger {where}: {scope}, tree size {report.tree_size}, root {report.root_hash}, "
        f"{report.checkpoints} checkpoints ({signatures}), {report.trusted_checked} trusted checkpoint(s)"
    )
    for finding in report.findings:
        typer.echo(f"  {finding}")
    if not report.ok:
        typer.echo(f"TAMPERED: {len(report.findings)} finding(s)")
    if not_checked:
        typer.echo(f"NOT VERIFIED: {not_checked}")
    if ok:
        typer.echo("intact")


# --- `audit witness` -----------------------------------------------------------------------------------


def init_witness_key(key: Path, name: str) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    if key.exists():
        fail(2, f"{key} exists: a witness keeps its key (remove it first to start a new witness)")
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key.parent.mkdir(parents=True, exist_ok=True)
    key.touch(mode=0o600)
    key.write_bytes(pem)
    vkey = Cosigner(name, private).verifier.vkey()
    key.with_suffix(".vkey").write_text(vkey + "\n", encoding="utf-8")
    typer.echo(f"witness key {key}; verifier key (give it to verifiers): {key.with_suffix('.vkey')}\n{vkey}")


def load_cosigner(key: Path, name: str) -> Cosigner:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    try:
        private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    except (OSError, ValueError) as error:
        fail(2, f"cannot read the witness key {key}: {error} (create one with --init)")
    if not isinstance(private, ed25519.Ed25519PrivateKey):
        fail(2, f"the witness key {key} must be an Ed25519 key")
    return Cosigner(name, private)


Source = Callable[[], tuple[str, Callable[[int, int], list[bytes]]]]  # -> (note, proof source)


def witness_once(
    witness: Witness, source: Source, out: Path | None, submit: Callable[[str], str] | None = None
) -> None:
    note, proofs = source()
    try:
        cosigned = witness.cosign(note, proofs).encode()
    except ConsistencyError as error:
        fail(1, f"NOT COSIGNED: {error}")
    except NoteError as error:
        fail(1, f"NOT COSIGNED: the log's checkpoint does not verify: {error}")
    if out is not None:
        write_out(out, cosigned)
    lines = cosigned.splitlines()
    typer.echo(f"cosigned {lines[0]} size {lines[1]} as {witness.cosigner.name}")
    if submit is not None:
        typer.echo(submit(cosigned))


def _submitter(
    ctx: typer.Context, calling: Callable[[typer.Context], Any], name: str
) -> Callable[[str], str]:
    """Hands the cosigned note to the server (AddCosignature); a refusal is exit 2 (its configuration,
    or this witness's key, is what to fix: the cosignature itself was made and kept in --state-dir)."""

    def submit(cosigned: str) -> str:
        from veriframe.service.client.errors import VeriframeError

        with calling(ctx) as client:
            try:
                reply = client.add_cosignature(cosigned)
            except VeriframeError as error:
                fail(2, f"cosigned, but the server refused the cosignature: {error.message}")
        # The note also carries the lines the server served; only this witness's own counts here.
        if name not in (*reply.added, *reply.already):
            fail(2, f"cosigned, but the server refused the cosignature: it does not accept witness {name} "
                    "(not in its witness_keys)")
        kept = "stored" if name in reply.added else "already stored"
        return f"submitted to the server: {kept} (checkpoint size {reply.checkpoint.tree_size})"

    return submit


def make_witness_command(calling: Callable[[typer.Context], Any]) -> Callable[..., None]:
    """The `audit witness` command; `calling(ctx)` is the admin tool's client context (for --server)."""

    def witness(
        ctx: typer.Context,
        key: Path = typer.Option(
            ..., "--key", help="The witness's Ed25519 private key (PEM), kept by the witness."
        ),
        name: str = typer.Option(..., "--name", help="The witness's name, e.g. witness.example.org/w1."),
        init: bool = typer.Option(
            False, "--init", help="Create --key (and KEY.vkey for verifiers), then exit."
        ),
        state_dir: Path | None = typer.Option(
            None,
            "--state-dir",
            help="Where the witness keeps the last "
            "checkpoint it cosigned per log (outside the operator's database).",
        ),
        ledger_key: Path | None = typer.Option(None, "--ledger-key", help="The log's ledger-pub.pem."),
        database: str | None = typer.Option(None, "--database", help=DATABASE_HELP),
        out: Path | None = typer.Option(None, "--out", help="Write the cosigned checkpoint here."),
        interval: float = typer.Option(
            0.0, "--interval", min=0.0, help="Poll every SECONDS until a refusal (0: once)."
        ),
        submit: bool = typer.Option(
            False, "--submit", help="Cosign the server's latest stored checkpoint (the one every witness "
            "sees until the next periodic checkpoint) and send the cosignature back (AddCosignature); "
            "the server must list this witness's vkey in witness_keys.",
        ),
    ) -> None:
        """Cosign the log's latest checkpoint if it extends the last one this witness cosigned.

        Exit 0 cosigned, 1 rollback / fork / bad signature (not cosigned), 2 usage or unreachable."""
        if init:
            init_witness_key(key, name)
            return
        if state_dir is None or ledger_key is None:
            fail(2, "a witness needs --state-dir and --ledger-key")
        if submit and database:
            fail(2, "--submit sends the cosignature to a server: use --server instead of --database")
        log_key = read_public_key(str(ledger_key), None)
        w = Witness(load_cosigner(key, name), log_verifier(log_key), CheckpointStore(state_dir))
        # Submitting witnesses cosign the server's latest stored checkpoint, not its head (re-signed
        # with every append): so they cosign the same one, and a verifier can ask for a quorum.
        source = _database_source(database) if database else _server_source(ctx, calling, submit)
        submitter = _submitter(ctx, calling, name) if submit else None
        while True:
            witness_once(w, source, out, submitter)
            if not interval:
                return
            time.sleep(interval)

    return witness


def _database_source(database: str) -> Source:
    def source() -> tuple[str, Callable[[int, int], list[bytes]]]:
        with database_ledger(database) as ledger:
            note = ledger.latest_note()
        if not note:
            fail(2, "the ledger has no signed checkpoint yet")

        def proofs(first: int, second: int) -> list[bytes]:
            with database_ledger(database) as ledger:
                return [bytes.fromhex(h) for h in ledger.consistency_proof(first, second).path]

        return note, proofs

    return source


def _server_source(ctx: typer.Context, calling: Callable[[typer.Context], Any], stored: bool) -> Source:
    def source() -> tuple[str, Callable[[int, int], list[bytes]]]:
        with calling(ctx) as client:
            note = client.latest_checkpoint(stored=stored).note

        def proofs(first: int, second: int) -> list[bytes]:
            from veriframe.service.client.errors import VeriframeError

            with calling(ctx) as client:
                try:
                    return [bytes.fromhex(h) for h in client.consistency_proof(first, second).path]
                except VeriframeError as error:  # e.g. a rolled-back log cannot prove a size it lost
                    raise ValueError(error.message) from None

        return note, proofs

    return source
