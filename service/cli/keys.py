"""`veriframe keys ...`: signing keys and certificates."""

from pathlib import Path

import typer

app = typer.Typer(help="Signing keys: development CA, C2PA signer, ledger key.", no_args_is_help=True)


@app.command("init")
def init(directory: Path = typer.Argument(..., help="Directory to create the key files in.")) -> None:
    """Create a development root CA, an ES256 C2PA signing certificate and the ledger key pair in DIRECTORY.

    Private keys are written with mode 0600. Existing key files are never overwritten. Give verifiers
    DIRECTORY/root-ca.pem as a trust anchor (veriframe-verify --trust-anchor).
    """
    from veriframe.provenance.keys import KeyFileError, init_dev_keys

    try:
        paths = init_dev_keys(directory)
    except (KeyFileError, OSError) as exc:
        typer.echo(f"veriframe keys init: {exc}", err=True)
        raise typer.Exit(2) from None
    for name, path in vars(paths).items():
        typer.echo(f"{name:13} {path}")


@app.command("create")
def create(
    database: str = typer.Option(None, "--database", envvar="VERIFRAME_DATABASE_URL",
                                 help="Database URL (default: the server's settings)."),
    role: str = typer.Option("admin", "--role", help="client | moderator | admin | verifier"),
    tenant: str = typer.Option(..., "--tenant", help="Tenant the key belongs to."),
    name: str = typer.Option("", "--name", help="A label shown in key lists."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (key id, prefix, role, tenant, secret)."),
) -> None:
    """Create an API key directly in the database (bootstraps the first admin key; no server needed).

    The secret is printed once and never stored: only its hash is. The creation is recorded in the
    audit ledger. Later keys are usually made with `veriframe-admin keys create` through the server.
    """
    import json

    from veriframe.service.auth import bootstrap_key
    from veriframe.service.db import DatabaseUnavailable
    from veriframe.service.errors import InvalidArgument

    if database is None:
        from veriframe.service.settings import load_settings

        database = load_settings().database_url
    try:
        new = bootstrap_key(database, role=role, tenant=tenant, name=name)
    except InvalidArgument as exc:
        typer.echo(f"veriframe keys create: {exc.message}", err=True)
        raise typer.Exit(2) from None
    except DatabaseUnavailable as exc:
        typer.echo(f"veriframe keys create: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps({"key_id": new.key_id, "prefix": new.prefix, "role": new.role,
                               "tenant": new.tenant, "secret": new.secret}))
        return
    typer.echo(f"key id  {new.key_id}\nrole    {new.role}\ntenant  {new.tenant}\n")
    typer.echo(f"API key (shown once, store it now):\n{new.secret}")
