"""``retsctl db …``: create retsctl's tables in Postgres/Supabase (``migrate``) or print them (``sql``)."""

from __future__ import annotations

from typing import Annotated

import typer

from retsctl.cli.errors import CliError, error_boundary
from retsctl.cli.output import JsonFlag, Output

# psycopg, retsctl.sinks and retsctl.secrets are imported in the commands: loading them costs every
# other command's start-up.

DSN_ENV = "RETSCTL_DSN"

db_app = typer.Typer(
    help="The Postgres/Supabase schema: properties, sync runs, enrichment jobs, Vault-backed RETS credentials.\n\n"
    "Example: retsctl db migrate --dsn postgresql://postgres:PASS@db.PROJECT.supabase.co:5432/postgres",
    no_args_is_help=True,
)

DsnOption = Annotated[
    str | None,
    typer.Option("--dsn", metavar="DSN", envvar=DSN_ENV, show_envvar=True,
                 help="PostgreSQL connection string (Supabase: Settings → Database → connection string)."),
]


def resolve_dsn(dsn: str | None) -> str:
    """The DSN, checked and with its password registered for masking; CliError when unusable."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    from retsctl.secrets import redactor

    if not dsn:
        raise CliError("a database connection string is required",
                       hint=f"Pass --dsn or set {DSN_ENV}, e.g. postgresql://postgres:PASS@HOST:5432/postgres")
    try:
        redactor.add(conninfo_to_dict(dsn).get("password"))
    except psycopg.ProgrammingError as error:
        raise CliError(f"--dsn is not a valid connection string: {error}",
                       hint="Use postgresql://USER:PASS@HOST:PORT/DB or 'host=… dbname=… user=…'.") from None
    return dsn


@db_app.command("migrate")
def migrate(dsn: DsnOption = None, json_output: JsonFlag = False) -> None:
    """Create or update retsctl's tables and functions; safe to run again (applies only what is new).

    On plain PostgreSQL (no Supabase Vault) the RETS-credentials part is skipped, with a notice.

    Example: retsctl db migrate --dsn postgresql://postgres:PASS@localhost:5432/postgres
    """
    from retsctl.sinks import apply_migrations

    out = Output.for_json_flag(json_output)
    with error_boundary(out):
        notices: list[str] = []
        applied = apply_migrations(resolve_dsn(dsn), on_notice=notices.append)
        for notice in notices:
            out.note(notice, style="yellow")
        if out.json_mode:
            out.document({"ok": True, "applied": applied, "notices": notices})
        elif applied:
            out.line(f"Applied {len(applied)} migration(s): {', '.join(applied)}")
        else:
            out.line("Nothing to apply: the database is up to date.")


@db_app.command("sql")
def sql() -> None:
    """Print every migration as one script, to paste into the Supabase SQL editor (safe to run again).

    Example: retsctl db sql > retsctl.sql
    """
    from retsctl.sinks import migrations_sql

    Output().line(migrations_sql().rstrip("\n"))
