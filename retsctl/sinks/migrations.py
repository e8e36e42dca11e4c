"""The Postgres/Supabase schema: versioned, idempotent SQL files shipped in ``retsctl/sinks/sql``.

``apply_migrations`` runs the ones a database has not recorded yet, each in its own transaction,
under an advisory lock so two migrators never interleave; ``migrations_sql`` is the same thing as
one script for the Supabase SQL editor (re-running it is harmless).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import psycopg

from retsctl.sinks.base import SinkError

log = logging.getLogger("retsctl.sinks")

# Any constant shared by every retsctl migrator: pg_advisory_lock takes a bigint key.
_LOCK_KEY = 0x7265_7473_6374_6C  # "retsctl"

NOTICE_PREFIX = "retsctl:"
BOOTSTRAP = """\
CREATE SCHEMA IF NOT EXISTS retsctl;
COMMENT ON SCHEMA retsctl IS 'retsctl bookkeeping and credentials (not exposed over the Data API).';
CREATE TABLE IF NOT EXISTS retsctl.schema_migrations (
    version     text PRIMARY KEY,
    name        text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
);
"""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def label(self) -> str:
        return f"{self.version}_{self.name}"

    def record_sql(self) -> str:
        return (
            "INSERT INTO retsctl.schema_migrations (version, name) "
            f"VALUES ('{self.version}', '{self.name}') ON CONFLICT (version) DO NOTHING;\n"
        )


def migrations() -> list[Migration]:
    """Every shipped migration, in version order."""
    files = [f for f in resources.files("retsctl.sinks.sql").iterdir() if f.name.endswith(".sql")]
    found = []
    for file in sorted(files, key=lambda f: f.name):
        version, _, name = file.name.removesuffix(".sql").partition("_")
        found.append(Migration(version, name, file.read_text(encoding="utf-8")))
    return found


def migrations_sql() -> str:
    """All migrations as one script (for the Supabase SQL editor), recording their versions."""
    parts = ["-- retsctl migrations: paste into the Supabase SQL editor and run. Safe to run again.\n",
             "BEGIN;\n", BOOTSTRAP]
    for migration in migrations():
        parts += [f"\n-- ---- {migration.label} ----\n", migration.sql, migration.record_sql()]
    parts.append("COMMIT;\n")
    return "".join(parts)


def apply_migrations(dsn: str, *, on_notice: Callable[[str], None] | None = None) -> list[str]:
    """Apply the migrations the database lacks; returns their labels (``["001_properties", …]``).

    The migrations' own notices (such as "Vault not found: skipped") go to ``on_notice`` and the log.
    Raises SinkError when the database cannot be reached or a migration fails.
    """
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.add_notice_handler(lambda diag: _notice(diag.message_primary or "", on_notice))
            conn.execute("SELECT pg_advisory_lock(%s)", [_LOCK_KEY])
            conn.execute(BOOTSTRAP)
            done = {row[0] for row in conn.execute("SELECT version FROM retsctl.schema_migrations")}
            applied = []
            for migration in migrations():
                if migration.version not in done:
                    with conn.transaction():
                        conn.execute(migration.sql)
                        conn.execute(migration.record_sql())
                    log.info("applied migration %s", migration.label)
                    applied.append(migration.label)
            return applied
    except psycopg.Error as error:
        raise SinkError(
            f"database migration failed: {error}",
            hint="Check the DSN and that the user may create tables, schemas and functions.",
        ) from error


def _notice(message: str, on_notice: Callable[[str], None] | None) -> None:
    # Only ours: IF NOT EXISTS / IF EXISTS add "already exists, skipping" chatter on every run.
    if not message.startswith(NOTICE_PREFIX):
        log.debug("database notice: %s", message)
        return
    log.info("%s", message)
    if on_notice:
        on_notice(message)
