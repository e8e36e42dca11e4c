"""The ``retsctl`` command line: a Typer root with one module per command group."""

from __future__ import annotations

from typing import Annotated

import typer

from retsctl import __version__
from retsctl.cli import demo, login, metadata, objects, query, simulate, sync_cmd
from retsctl.cli.connection import ConnectionOptions, connection_options
from retsctl.cli.db import db_app
from retsctl.cli.mapping_cmd import mapping_app
from retsctl.cli.secrets_cmd import secrets_app

app = typer.Typer(
    name="retsctl",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"retsctl {__version__}")
        raise typer.Exit()


@app.callback()
@connection_options
def root(
    conn: ConnectionOptions,
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Operator tool for RETS (MLS) feeds: test logins, explore metadata, preview DMQL2 queries.

    Connection options go after the command name (or before it).

    Example: retsctl query Property RES '(ListPrice=300000+)' --url URL --username USER --limit 5
    """
    del conn  # kept on the root context by the option group, for the command to fall back on

app.command("login")(login.login)
app.command("logout")(login.logout)
app.add_typer(metadata.app, name="metadata")
app.command("query")(query.query)
app.command("objects")(objects.objects)
app.command("simulate")(simulate.simulate)
app.command("demo")(demo.demo)
app.command("sync")(sync_cmd.sync)
app.command("push")(sync_cmd.push)
app.command("runs")(sync_cmd.runs)
app.command("properties")(sync_cmd.properties)
app.add_typer(mapping_app, name="mapping")
app.add_typer(db_app, name="db")
app.add_typer(secrets_app, name="secrets")


def main() -> None:
    """Console-script entry point."""
    app()
