"""The client CLIs' connection options, defined once: `veriframe generate --server`, `veriframe-admin`
and `veriframe-verify --server` take the same flags with the same variables (docs/service.md).

Each option is a factory (typer needs a fresh OptionInfo per command); `scope` prefixes the help where
the options only matter with --server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from veriframe.service.client.common import API_KEY_ENV, SERVER_ENV


def server(help: str) -> Any:
    return typer.Option(None, "--server", envvar=SERVER_ENV, show_envvar=False, help=help)


def api_key(help: str) -> Any:
    return typer.Option(
        None, "--api-key", envvar=API_KEY_ENV, show_envvar=False, show_default=False, help=help
    )


def tls(scope: str = "") -> Any:
    return typer.Option(False, "--tls", help=f"{scope}Use TLS with the system's root certificates.")


def tls_ca(scope: str = "") -> Any:
    return typer.Option(
        None,
        "--tls-ca",
        envvar="VERIFRAME_TLS_CA",
        help=f"{scope}CA certificate (PEM) to trust; implies TLS.",
    )


def tls_cert(scope: str = "") -> Any:
    return typer.Option(
        None,
        "--tls-cert",
        envvar="VERIFRAME_TLS_CERT",
        help=f"{scope}Client certificate (PEM) for mutual TLS.",
    )


def tls_key(scope: str = "") -> Any:
    return typer.Option(
        None, "--tls-key", envvar="VERIFRAME_TLS_KEY", help=f"{scope}Client private key (PEM) for mutual TLS."
    )


def missing_tls_file(ca: Path | None, cert: Path | None, key: Path | None) -> str | None:
    """The usage error for a TLS file that does not exist, or None."""
    for label, path in (("--tls-ca", ca), ("--tls-cert", cert), ("--tls-key", key)):
        if path is not None and not path.is_file():
            return f"{label} {path}: no such file"
    return None
