"""`veriframe-admin`'s connection: the global options, and one SDK client per command whose errors
become the tool's messages and exit codes (listed in the package docstring)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from veriframe.service.cli import connection

if TYPE_CHECKING:
    from veriframe.service.client.admin import AdminClient

EXIT_OK, EXIT_NEGATIVE, EXIT_USAGE, EXIT_DENIED = 0, 1, 2, 3


@dataclass
class Connection:
    server: str | None
    api_key: str | None
    tls: bool
    tls_ca: Path | None
    tls_cert: Path | None
    tls_key: Path | None
    timeout: float
    server_from_command_line: bool = False


# The connection options (flag -> takes a value). They belong to the top-level command, so
# `hoist_connection_options` moves any given after the sub-command to the front before click parses.
CONNECTION_FLAGS = {"--server": True, "--api-key": True, "--tls": False, "--tls-ca": True,
                    "--tls-cert": True, "--tls-key": True, "--timeout": True}


def hoist_connection_options(args: list[str]) -> list[str]:
    """`review list --server X` -> `--server X review list` (both orders work for people)."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest += args[index:]
            break
        flag = arg.split("=", 1)[0]
        if flag in CONNECTION_FLAGS:
            takes_value = CONNECTION_FLAGS[flag] and "=" not in arg
            front += args[index : index + 1 + takes_value]
            index += 1 + takes_value
            continue
        rest.append(arg)
        index += 1
    return front + rest


def main(
    ctx: typer.Context,
    server: str | None = connection.server("Server address host:port."),
    api_key: str | None = connection.api_key("Moderator or admin API key."),
    tls: bool = connection.tls(),
    tls_ca: Path | None = connection.tls_ca(),
    tls_cert: Path | None = connection.tls_cert(),
    tls_key: Path | None = connection.tls_key(),
    timeout: float = typer.Option(30.0, "--timeout", min=0.1, help="Seconds per call."),
) -> None:
    """Connection options go before or after the command: veriframe-admin review list --server HOST:PORT."""
    from click.core import ParameterSource

    source = ctx.get_parameter_source("server")
    ctx.obj = Connection(server, api_key, tls, tls_ca, tls_cert, tls_key, timeout,
                         server_from_command_line=source == ParameterSource.COMMANDLINE)


def fail(code: int, message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def connect(ctx: typer.Context) -> AdminClient:
    from veriframe.service.client.admin import AdminClient

    conn: Connection = ctx.find_root().obj
    if not conn.server:
        fail(EXIT_USAGE, "no server: pass --server HOST:PORT or set VERIFRAME_SERVER")
    if not conn.api_key:
        fail(EXIT_USAGE, "no API key: pass --api-key or set VERIFRAME_API_KEY")
    problem = connection.missing_tls_file(conn.tls_ca, conn.tls_cert, conn.tls_key)
    if problem:
        fail(EXIT_USAGE, problem)
    try:
        return AdminClient(conn.server, api_key=conn.api_key, tls=conn.tls, tls_ca=conn.tls_ca,
                           tls_cert=conn.tls_cert, tls_key=conn.tls_key, timeout=conn.timeout)
    except (OSError, ValueError) as error:
        fail(EXIT_USAGE, str(error))


@contextlib.contextmanager
def calling(ctx: typer.Context) -> Iterator[AdminClient]:
    """A client, with every SDK error turned into its message and exit code."""
    from veriframe.service.client import errors as E

    client = connect(ctx)
    try:
        yield client
    except (E.PermissionDenied, E.Unauthenticated) as error:
        fail(EXIT_DENIED, f"{error.message} ({error.code.name if error.code else 'denied'})")
    except (E.NotFound, E.FailedPrecondition, E.Aborted) as error:
        fail(EXIT_NEGATIVE, error.message)
    except E.InvalidArgument as error:
        fail(EXIT_USAGE, error.message)
    except E.Unavailable as error:
        fail(EXIT_USAGE, f"server {ctx.find_root().obj.server} unavailable: {error.message}")
    except E.VeriframeError as error:
        fail(EXIT_USAGE, f"{error.message} ({error.code.name if error.code else 'error'})")
    finally:
        client.close()
