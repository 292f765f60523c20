"""`veriframe-admin keys`: create, list and revoke API keys (admin only; a secret is shown once)."""

from __future__ import annotations

from typing import Any

import typer

from veriframe.service.cli.admin.output import JSON_OPTION, as_dict, new_console, print_json
from veriframe.service.cli.admin.session import EXIT_USAGE, calling, fail
from veriframe.service.cli.admin.times import when

app = typer.Typer(help="API keys (admin only): the secret is shown once.", no_args_is_help=True)


_ROLE = {1: "client", 2: "moderator", 3: "admin", 4: "verifier"}


def _key_dict(key: Any) -> dict[str, Any]:
    data = as_dict(key)
    data["role"] = _ROLE.get(key.role, "?")
    return data


@app.command("create")
def keys_create(ctx: typer.Context,
                role: str = typer.Option(..., "--role", help="client, moderator, admin or verifier."),
                tenant: str = typer.Option(..., "--tenant", help="The tenant the key acts for."),
                name: str = typer.Option("", "--name", help="A label (who or what uses it)."),
                as_json: bool = JSON_OPTION) -> None:
    """Create an API key. The secret is printed once: store it now."""
    if role not in _ROLE.values():
        fail(EXIT_USAGE, f"--role must be one of {', '.join(_ROLE.values())}")
    with calling(ctx) as client:
        made = client.create_api_key(role=role, tenant=tenant, name=name)
    if as_json:
        print_json({"key": _key_dict(made.key), "secret": made.secret})
        return
    typer.echo(f"created {role} key {made.key.id} (prefix {made.key.prefix}) for tenant {tenant}")
    typer.echo("secret (shown once, store it now):", err=True)
    typer.echo(made.secret)


@app.command("list")
def keys_list(ctx: typer.Context, tenant: str = typer.Option("", "--tenant", help="Only this tenant."),
              include_revoked: bool = typer.Option(False, "--all", help="Include revoked keys."),
              as_json: bool = JSON_OPTION) -> None:
    """API keys (never their secrets): id, prefix, role, tenant, name, created, revoked."""
    with calling(ctx) as client:
        keys = list(client.iter_api_keys(tenant=tenant, include_revoked=include_revoked))
    if as_json:
        print_json([_key_dict(k) for k in keys])
        return
    console = new_console()
    console.print(_keys_table(keys, narrow=console.width < 120))


def _keys_table(keys: list[Any], *, narrow: bool) -> Any:
    """Every column on a wide terminal; at 80 columns the ones that fit whole (ids are never cut)."""
    from rich import box
    from rich.table import Table

    if not narrow:
        table = Table(title=f"{len(keys)} API key(s)")
        for column in ("key id", "prefix", "role", "tenant", "name", "created", "created by", "revoked"):
            table.add_column(column, no_wrap=column == "key id", overflow="ellipsis")
        for k in keys:
            table.add_row(k.id, k.prefix, _ROLE.get(k.role, "?"), k.tenant, k.name, when(k.created_at),
                          k.created_by[:8], when(k.revoked_at) if k.revoked else "")
        return table
    table = Table(title=f"{len(keys)} API key(s); names and dates: --json or a wider terminal",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in ("key id", "prefix", "role", "tenant"):
        table.add_column(column, no_wrap=column != "tenant", overflow="fold")
    table.add_column("revoked", no_wrap=True)
    for k in keys:
        table.add_row(k.id, k.prefix, _ROLE.get(k.role, "?"), k.tenant, "yes" if k.revoked else "")
    return table


@app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: str = typer.Argument(..., help="Key id (see keys list)."),
                as_json: bool = JSON_OPTION) -> None:
    """Revoke a key: its next call fails, on every server, at once."""
    with calling(ctx) as client:
        key = client.revoke_api_key(key_id)
    if as_json:
        print_json(_key_dict(key))
    else:
        role = _ROLE.get(key.role, "?")
        typer.echo(f"revoked key {key.id} (prefix {key.prefix}, {role}, tenant {key.tenant})")
