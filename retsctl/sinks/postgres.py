"""The ``postgres`` sink: bulk upserts over a direct psycopg connection (for big loads and workers).

Each batch is one transaction: ``COPY`` into a session temp table, then one
``INSERT … SELECT … ON CONFLICT (team_id, source, external_id) DO UPDATE … WHERE (…) IS DISTINCT
FROM (…)``, so unchanged rows are neither written nor queued for enrichment. A lost connection or a
restarting server is retried by reconnecting, within the retry budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import orjson
import psycopg
from psycopg import sql

from retsctl.properties import ALL_COLUMNS, IDENTITY_COLUMNS, PropertyRow
from retsctl.sinks.base import (
    DEFAULT_RETRY,
    Batch,
    PushResult,
    RejectedRows,
    RetryPolicy,
    SinkAuthError,
    SinkError,
    TransientFailure,
    push_rows,
)

DEFAULT_BATCH_ROWS = 5000
STAGE = sql.Identifier("retsctl_stage")
TABLE = sql.SQL("public.properties")
KEY = sql.SQL(", ").join(map(sql.Identifier, IDENTITY_COLUMNS))

# Connection failures carry no SQLSTATE; these texts mean retrying cannot help.
_AUTH_FAILURES = ("password authentication failed", "no pg_hba.conf entry", "authentication failed")
_SETUP_FAILURES = ("does not exist", "invalid dsn", "invalid connection option")
_MIGRATE_HINT = "Run `retsctl db migrate --dsn DSN` first to create the tables."


class PostgresSink:
    """Pushes property rows into ``public.properties`` over a direct connection."""

    name = "postgres"

    def __init__(self, dsn: str, *, retry: RetryPolicy = DEFAULT_RETRY, batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        self._dsn = dsn
        self._retry = retry
        self._batch_rows = batch_rows
        self._conn: psycopg.Connection[Any] | None = None

    def __repr__(self) -> str:
        return "PostgresSink()"  # the DSN may hold a password

    def push(self, rows: Sequence[PropertyRow]) -> PushResult:
        """Upsert the rows in batches; returns confirmed and quarantined keys. Raises SinkError."""
        return push_rows(rows, self._send, self._retry, sink=self.name, max_rows=self._batch_rows)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _send(self, batch: Batch, seconds_left: float) -> int:
        try:
            conn = self._connection(seconds_left)
            with conn.transaction():
                conn.execute("SELECT set_config('statement_timeout', %s, true)", [f"{max(seconds_left, 1.0):.0f}s"])
                _stage(conn, batch)
                return conn.execute(_upsert_sql(batch.columns)).rowcount
        except psycopg.Error as error:
            if self._conn is not None and (self._conn.closed or self._conn.broken):
                self.close()
            raise _classify(error) from error

    def _connection(self, seconds_left: float) -> psycopg.Connection[Any]:
        if self._conn is None:
            conn = psycopg.connect(
                self._dsn, autocommit=True, connect_timeout=max(2, min(10, int(seconds_left))),
                keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
            )
            columns = sql.SQL(", ").join(map(sql.Identifier, ALL_COLUMNS))
            try:
                conn.execute(sql.SQL("CREATE TEMP TABLE {} ON COMMIT DELETE ROWS AS SELECT {} FROM {} WITH NO DATA")
                             .format(STAGE, columns, TABLE))
            except psycopg.Error:
                conn.close()
                raise
            self._conn = conn
        return self._conn


def _stage(conn: psycopg.Connection[Any], batch: Batch) -> None:
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(STAGE, sql.SQL(", ").join(map(sql.Identifier, batch.columns)))
    values = itemgetter(*batch.columns)  # a batch always has the three key columns, so this gives tuples
    raw = batch.columns.index("raw") if "raw" in batch.columns else None
    with conn.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in batch.rows:
            line = list(values(row))
            if raw is not None:
                line[raw] = orjson.dumps(line[raw]).decode()
            copy.write_row(line)


def _upsert_sql(columns: tuple[str, ...]) -> sql.Composed:
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    insert = sql.SQL("INSERT INTO {table} AS p ({names}) SELECT {names} FROM {stage} ORDER BY {key} ON CONFLICT ({key})").format(
        table=TABLE, names=names, stage=STAGE, key=KEY
    )
    changing = [sql.Identifier(c) for c in columns if c not in IDENTITY_COLUMNS]
    if not changing:
        return insert + sql.SQL(" DO NOTHING")
    return insert + sql.SQL(" DO UPDATE SET {sets} WHERE ({old}) IS DISTINCT FROM ({new})").format(
        sets=sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(c) for c in changing),
        old=sql.SQL(", ").join(sql.SQL("p.{}").format(c) for c in changing),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(c) for c in changing),
    )


def _classify(error: psycopg.Error) -> Exception:
    """What a failure means for the batch: retry, bisect, or give up."""
    state = error.sqlstate or ""
    reason = _reason(error)
    if not state and isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return _connection_failure(reason)
    if state == "57014" or state.startswith(("53", "54")):
        return TransientFailure(reason, shrink=True)  # statement timeout or out of resources
    if state.startswith(("08", "57P", "40")):
        return TransientFailure(reason)  # connection, shutdown/restart, serialization or deadlock
    if state.startswith(("22", "23")):
        return RejectedRows(reason)
    if state.startswith("28") or state == "42501":
        return SinkAuthError(f"the database refused access: {reason}", hint="Check the DSN's user and its rights.")
    if state in ("42P01", "42703", "3F000"):
        return SinkError(f"the database lacks retsctl's tables: {reason}", hint=_MIGRATE_HINT)
    return SinkError(f"postgres push failed: {reason}", hint="See the database's message above.")


def _connection_failure(reason: str) -> Exception:
    lowered = reason.lower()
    if any(text in lowered for text in _AUTH_FAILURES):
        return SinkAuthError(f"the database refused the login: {reason}", hint="Check the user and password in the DSN.")
    if any(text in lowered for text in _SETUP_FAILURES):
        return SinkError(f"cannot use the database: {reason}", hint="Check the DSN (host, port, database name).")
    return TransientFailure(reason)


def _reason(error: psycopg.Error) -> str:
    diag = error.diag
    message = diag.message_primary or (str(error).strip().splitlines() or [type(error).__name__])[0]
    detail = f" ({diag.message_detail})" if diag.message_detail else ""
    prefix = f"{error.sqlstate}: " if error.sqlstate else ""
    return f"{prefix}{message}{detail}"[:500]
