"""``retsctl secrets push``: store a feed's RETS credentials in the team's Supabase Vault."""

from __future__ import annotations

from typing import Annotated

import typer

from retsctl.cli.connection import ConnectionOptions, connection_options
from retsctl.cli.db import DsnOption, resolve_dsn
from retsctl.cli.errors import error_boundary
from retsctl.cli.output import JsonFlag, Output

# retsctl.sinks is imported in the command: it loads psycopg, a cost to every command's start-up.

secrets_app = typer.Typer(
    help="Feed credentials kept in Supabase Vault, for workers that sync on the team's behalf.\n\n"
    "Example: retsctl secrets push --team-id TEAM --dsn DSN --url LOGIN_URL --username USER",
    no_args_is_help=True,
)


@secrets_app.command("push")
@connection_options
def push(
    conn: ConnectionOptions,
    team_id: Annotated[str, typer.Option("--team-id", metavar="T", help="The platform's team identifier.")],
    dsn: DsnOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Store (or replace) the RETS login, password and UA password in Vault; passwords never go in a table.

    The password comes from --password, RETSCTL_PASSWORD, the keyring or a prompt.

    The feed's source is the profile name, or the login URL without a profile.

    Needs `retsctl db migrate` on a Supabase database (Vault).

    Example: retsctl secrets push --team-id 7d0c… --dsn "$RETSCTL_DSN" --url https://rets.example.com/Login --username USER
    """
    from retsctl.sinks import store_rets_credentials

    out = Output.for_json_flag(json_output)
    with error_boundary(out):
        target = resolve_dsn(dsn)
        settings = conn.settings()
        source = conn.profile or settings.login_url
        secret_id = store_rets_credentials(
            target, team_id, source, settings.login_url, settings.username, settings.password,
            user_agent=conn.user_agent, ua_password=settings.ua_password,
        )
        if out.json_mode:
            out.document({"ok": True, "team_id": team_id, "source": source, "password_secret_id": secret_id})
        else:
            out.line(f"Stored the RETS credentials of {settings.username} for team {team_id}, source {source}, "
                     f"in Supabase Vault (secret {secret_id}).")
