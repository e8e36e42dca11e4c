"""Sinks: pushing normalized property rows into Postgres or Supabase, plus the schema they need.

``open_sink("postgres", dsn=…)`` or ``open_sink("supabase", url=…, key=…)`` gives a :class:`Sink`;
``apply_migrations`` / ``migrations_sql`` create the tables; ``store_rets_credentials`` keeps a
team's RETS passwords in Supabase Vault. supabase-py is imported only when that sink is opened.
"""

from __future__ import annotations

from retsctl.sinks.base import (
    DEFAULT_TIMEOUT,
    PushResult,
    RetryPolicy,
    Sink,
    SinkAuthError,
    SinkError,
    SinkUsageError,
)
from retsctl.sinks.credentials import store_rets_credentials
from retsctl.sinks.migrations import apply_migrations, migrations_sql

SINK_NAMES = ("supabase", "postgres")

__all__ = [
    "DEFAULT_TIMEOUT",
    "SINK_NAMES",
    "PushResult",
    "RetryPolicy",
    "Sink",
    "SinkAuthError",
    "SinkError",
    "SinkUsageError",
    "apply_migrations",
    "migrations_sql",
    "open_sink",
    "store_rets_credentials",
]


def open_sink(
    name: str,
    *,
    dsn: str | None = None,
    url: str | None = None,
    key: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Sink:
    """The named sink: ``postgres`` needs ``dsn``; ``supabase`` needs ``url`` and ``key``.

    ``timeout`` is the retry budget: seconds without progress before a push gives up.
    """
    retry = RetryPolicy(timeout=timeout)
    if name == "postgres":
        if not dsn:
            raise SinkUsageError("the postgres sink needs a DSN", hint="Pass --dsn or set RETSCTL_DSN.")
        from retsctl.sinks.postgres import PostgresSink

        return PostgresSink(dsn, retry=retry)
    if name == "supabase":
        if not url or not key:
            raise SinkUsageError("the supabase sink needs the project URL and a service-role key",
                            hint="Set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY (or store the key in the keyring).")
        from retsctl.sinks.supabase import SupabaseSink

        return SupabaseSink(url, key, retry=retry)
    raise SinkUsageError(f"unknown sink {name!r}", hint=f"Choose one of: {', '.join(SINK_NAMES)}.")
