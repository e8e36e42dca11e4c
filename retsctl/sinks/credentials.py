"""Storing a team's RETS credentials in Supabase Vault through the migrations' SQL function."""

from __future__ import annotations

import psycopg
from psycopg import errors

from retsctl.rets.http import REDACTED
from retsctl.sinks.base import SinkError


def store_rets_credentials(
    dsn: str,
    team_id: str,
    source: str,
    login_url: str,
    username: str,
    password: str,
    user_agent: str | None = None,
    ua_password: str | None = None,
) -> str:
    """Create or replace the feed's credentials (passwords in Vault only); returns the password's secret id.

    Raises SinkError when the database cannot be reached or lacks the function (no Vault, or
    ``retsctl db migrate`` not run).
    """
    try:
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT retsctl.store_rets_credentials(%s, %s, %s, %s, %s, %s, %s)::text",
                [team_id, source, login_url, username, password, user_agent, ua_password],
            ).fetchone()
    except (errors.UndefinedFunction, errors.InvalidSchemaName) as error:
        raise SinkError(
            "the database has no retsctl.store_rets_credentials() function",
            hint="Run `retsctl db migrate --dsn DSN` on the Supabase database; it needs Supabase Vault "
            "(plain PostgreSQL skips the credentials part).",
        ) from error
    except psycopg.Error as error:
        message = _masked(str(error), password, ua_password)
        raise SinkError(f"storing the RETS credentials failed: {message}",
                        hint="Check the DSN and that this user may call the function.") from error
    assert row is not None
    return str(row[0])


def _masked(text: str, *secrets: str | None) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text
