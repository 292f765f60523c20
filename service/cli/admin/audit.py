"""`veriframe-admin audit`: the tamper-evident ledger. The events (search, show, export) are in
audit_events.py; here the checkpoints, inclusion proofs, whole-ledger verification and the witness,
which hold the ledger to account (their offline parts: ledger_audit.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from veriframe.service.cli.admin import audit_events, ledger_audit
from veriframe.service.cli.admin.output import JSON_OPTION, as_dict, print_json
from veriframe.service.cli.admin.session import EXIT_NEGATIVE, EXIT_OK, calling
from veriframe.service.cli.admin.times import when

app = typer.Typer(help="The tamper-evident audit ledger.", no_args_is_help=True)
# In this order in --help.
app.command("search")(audit_events.audit_search)
app.command("show")(audit_events.audit_show)
app.command("export")(audit_events.audit_export)


@app.command("checkpoint")
def audit_checkpoint(ctx: typer.Context,
                     create: bool = typer.Option(False, "--create", help="Sign a new checkpoint first."),
                     database: str | None = typer.Option(
                         None, "--database", help="Read it from this database (read-only), not a server."),
                     server: str | None = typer.Option(None, "--server", help="Server address (as the global "
                                                       "--server)."),
                     out: Path | None = typer.Option(None, "--out", help="Write the signed note (C2SP "
                                                     "checkpoint) to FILE: keep it as a trusted checkpoint."),
                     as_json: bool = JSON_OPTION) -> None:
    """The latest signed checkpoint (tree size, root hash, signature, key; the C2SP signed note)."""
    if database:
        ledger_audit.checkpoint_from_database(database, out)
        return
    if server:
        ctx.find_root().obj.server = server
    with calling(ctx) as client:
        checkpoint = client.get_checkpoint(create=True) if create else client.latest_checkpoint()
    if out is not None:
        ledger_audit.write_out(out, checkpoint.note)
        typer.echo(f"checkpoint of size {checkpoint.tree_size} written to {out}", err=True)
        return
    if as_json:
        data = as_dict(checkpoint)
        data["signed_data"] = checkpoint.signed_data.decode()
        print_json(data)
        return
    typer.echo(f"tree size {checkpoint.tree_size}, root {checkpoint.root_hash}, "
               f"{when(checkpoint.created_at)}, "
               f"key {checkpoint.key_id[:16]}")
    typer.echo(checkpoint.note or checkpoint.signed_data.decode(), nl=False)


@app.command("proof")
def audit_proof(ctx: typer.Context, seq: int = typer.Argument(..., min=0, help="Event sequence number."),
                tree_size: int = typer.Option(0, "--tree-size", min=0,
                                              help="Prove against this tree size "
                                                   "(default: the latest checkpoint)."),
                public_key: Path | None = typer.Option(
                    None, "--public-key", help="ledger-pub.pem: check the checkpoint's signature."),
                as_json: bool = JSON_OPTION) -> None:
    """An inclusion proof for one event, re-checked here: the audit path leads to the (signed) root.

    Exit 0 when it holds, 1 when it does not."""
    from veriframe.service.client.audit_lookup import Trust, check_inclusion_proof

    with calling(ctx) as client:
        proof = client.inclusion_proof(seq, tree_size=tree_size)
    check = check_inclusion_proof(proof, Trust(public_key))
    path_ok, checkpoint_ok, how, ok = check.path_ok, check.checkpoint_ok, check.how, check.ok
    if as_json:
        data = as_dict(proof)
        data.update({"path_ok": path_ok, "checkpoint_ok": checkpoint_ok, "ok": ok, "checked": how})
        data.get("checkpoint", {}).pop("signed_data", None)
        print_json(data)
    else:
        typer.echo(f"event {proof.seq} in tree of {proof.tree_size}: leaf {proof.leaf_hash}")
        typer.echo(f"audit path: {len(proof.audit_path)} hash(es) -> root {proof.root_hash}")
        typer.echo(f"path {'valid' if path_ok else 'INVALID'}; "
                   f"{how}: {'valid' if checkpoint_ok else 'INVALID'}")
        typer.echo("included" if ok else "NOT PROVEN")
    raise typer.Exit(EXIT_OK if ok else EXIT_NEGATIVE)


def _audit_verify_server(ctx: typer.Context, as_json: bool) -> None:
    """`audit verify` without --database: the server recomputes its ledger."""
    with calling(ctx) as client:
        report = client.verify_ledger()
    if as_json:
        print_json({"server": ctx.find_root().obj.server, **as_dict(report)})
    else:
        typer.echo(f"ledger at {ctx.find_root().obj.server}: tree size {report.tree_size}, "
                   f"root {report.root_hash}, "
                   f"{report.checkpoints_checked} checkpoint(s) checked")
        for problem in report.problems:
            typer.echo(f"  {problem}")
        typer.echo("intact" if report.ok else f"TAMPERED: {len(report.problems)} finding(s)")
    raise typer.Exit(EXIT_OK if report.ok else EXIT_NEGATIVE)


@app.command("verify")
def audit_verify(
    ctx: typer.Context,
    database: str | None = typer.Option(
        None, "--database", envvar="VERIFRAME_DATABASE_URL",
        help="Database URL, e.g. sqlite:///veriframe.db or postgresql://user@host/db. "
             "Without it, the server (--server) verifies its own ledger."),
    public_key: str | None = typer.Option(
        None, "--public-key", help="ledger-pub.pem: also check every checkpoint's ES256 signature."),
    keys: Path | None = typer.Option(
        None, "--keys", help="A key directory (veriframe keys init): its ledger-pub.pem, as --public-key."),
    trusted_checkpoint: list[Path] = typer.Option(
        [], "--trusted-checkpoint", help="A checkpoint kept outside the database (audit checkpoint --out; "
        "repeatable): exit 1 if the log is smaller than it or not an extension of it."),
    incremental: bool = typer.Option(
        False, "--incremental", help="Check only what came after the largest --trusted-checkpoint."),
    witness_key: list[Path] = typer.Option(
        [], "--witness-key", help="A witness's verifier key (audit witness --init): trusted checkpoints "
        "must carry its cosignature (repeatable)."),
    witness_quorum: int | None = typer.Option(
        None, "--witness-quorum", min=0, help="Cosignatures required (default: 1 with --witness-key)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Recompute the ledger's Merkle tree and checkpoints; list every edited, deleted, inserted or
    reordered event, unsigned tail, rollback or fork. With --database, checkpoint signatures need the
    ledger's public key (--public-key or --keys): without one, a ledger that has checkpoints is not
    called intact. Exit 0 intact, 1 tampering found or checkpoints left unchecked, 2 unusable input or
    database unreachable."""
    # (admin tool) No database, or one only from the environment while --server was given: ask the server.
    from click.core import ParameterSource

    from_env = ctx.get_parameter_source("database") == ParameterSource.ENVIRONMENT
    if database is None or (from_env and ctx.find_root().obj.server_from_command_line):
        _audit_verify_server(ctx, as_json)
    key = ledger_audit.read_public_key(public_key, keys)
    witnesses, quorum = ledger_audit.read_witness_keys(witness_key, witness_quorum)
    trusted = ledger_audit.read_trusted(trusted_checkpoint, key, witnesses, quorum)
    ledger_audit.verify_database(database, key, trusted, incremental, as_json)


app.command("witness")(ledger_audit.make_witness_command(calling))
