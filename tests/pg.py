"""A real, throwaway PostgreSQL 15 for tests and benchmarks.

``initdb`` into a temp dir and ``pg_ctl start`` on a free loopback port (as the ``postgres`` user
via ``runuser`` when running as root, since ``initdb`` refuses root); stopped and removed at the
end of the session. Tests skip, saying why, only when the PostgreSQL 15 binaries are absent.

Use it by importing the fixtures (each with those it depends on) into a test module::

    from pg import migrated_dsn_fixture, postgres_dsn_fixture, postgres_server_fixture  # noqa: F401

and ask for them by their fixture names: ``postgres_server`` (session), ``postgres_dsn`` (a fresh
database per test), ``migrated_dsn`` (the same with retsctl's migrations applied).

``property_rows`` builds PropertyRow dicts shaped like the mapping's output for sink tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from retsctl.properties import PropertyRow
from retsctl.sinks.migrations import apply_migrations

PG_BIN = Path(os.environ.get("RETSCTL_PG_BIN", "/usr/lib/postgresql/15/bin"))
# No fsync: a test cluster is thrown away. synchronous_commit stays on, so a commit the client saw
# survives a server crash (``pg_ctl stop -m immediate``), as it does on a real server.
TEST_SETTINGS = {"fsync": "off", "full_page_writes": "off"}


class PostgresServer:
    """One PostgreSQL cluster in a temp dir; ``start``/``stop`` may be called repeatedly."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.data = root / "data"
        self.log = root / "server.log"

    @classmethod
    def create(cls, settings: dict[str, str] | None = None) -> PostgresServer:
        """initdb a new cluster listening on 127.0.0.1 at a free port (not started)."""
        root = Path(tempfile.mkdtemp(prefix="retsctl-pg-"))
        if _is_root():
            shutil.chown(root, "postgres", "postgres")
        server = cls(root, _free_port())
        server._run("initdb", "-D", str(server.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                    "--locale=C.UTF-8", "--no-sync")
        conf = {"listen_addresses": "'127.0.0.1'", "port": str(server.port), "unix_socket_directories": f"'{root}'",
                "max_connections": "40", **(settings if settings is not None else TEST_SETTINGS)}
        with (server.data / "postgresql.conf").open("a") as file:
            file.writelines(f"{name} = {value}\n" for name, value in conf.items())
        return server

    def dsn(self, dbname: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname} connect_timeout=5"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``immediate`` is a crash (recovery runs on the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self) -> str:
        """A fresh, empty database; returns its DSN."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def destroy(self) -> None:
        """Stop the server if it runs and remove its files."""
        with contextlib.suppress(RuntimeError):  # already stopped
            self.stop("fast")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, binary: str, *args: str) -> None:
        command = [str(PG_BIN / binary), *args]
        if _is_root():
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{binary} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")


def postgres_available() -> str | None:
    """Why PostgreSQL tests cannot run here, or None when they can."""
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL 15 binaries not found in {PG_BIN} (apt-get install postgresql-15)"
    return None


def _is_root() -> bool:
    return os.geteuid() == 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _SharedServer:
    """One server for the whole session, though each test module imports its own copy of the
    session fixture (pytest keeps one instance per defining module): the last user stops it."""

    server: PostgresServer | None = None
    users = 0


@pytest.fixture(scope="session", name="postgres_server")
def postgres_server_fixture() -> Iterator[PostgresServer]:
    """A running PostgreSQL 15 for the whole test session."""
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    if _SharedServer.server is None:
        server = PostgresServer.create()
        try:
            server.start()
        except RuntimeError:
            server.destroy()
            raise
        _SharedServer.server = server
    _SharedServer.users += 1
    try:
        yield _SharedServer.server
    finally:
        _SharedServer.users -= 1
        if _SharedServer.users == 0:
            _SharedServer.server.destroy()
            _SharedServer.server = None


@pytest.fixture(name="postgres_dsn")
def postgres_dsn_fixture(postgres_server: PostgresServer) -> str:
    """The DSN of a fresh, empty database on the session's server."""
    return postgres_server.create_database()


@pytest.fixture(name="migrated_dsn")
def migrated_dsn_fixture(postgres_dsn: str) -> str:
    """A fresh database with retsctl's migrations applied."""
    apply_migrations(postgres_dsn)
    return postgres_dsn


def property_rows(count: int, *, team_id: str = "team-1", source: str = "demo", start: int = 0,
                  **overrides: Any) -> list[PropertyRow]:
    """``count`` distinct, valid rows (keys L000000…), every column present."""
    rows: list[PropertyRow] = []
    for n in range(start, start + count):
        row: PropertyRow = {
            "team_id": team_id, "source": source, "external_id": f"L{n:06d}",
            "address": f"{n} Main St, Springfield", "list_price": Decimal(f"{250000 + n}.50"),
            "bedrooms": n % 6, "bathrooms": Decimal("2.5"), "square_feet": 900 + n % 2000, "year_built": 1950 + n % 70,
            "status": "active", "description": f"Listing {n}: bright, quiet, near the park.",
            "photo_urls": [f"https://photos.example.com/{n}/1.jpg", f"https://photos.example.com/{n}/2.jpg"],
            "source_key": str(900000 + n), "modified_at": "2026-11-01T12:00:00Z",
            "raw": {"ListingID": f"L{n:06d}", "ListPrice": f"{250000 + n}.50", "Remarks": "Café & <b>"},
            "synced_at": "2026-11-02T08:00:00Z", "deleted_at": None,
        }
        row.update(overrides)  # type: ignore[typeddict-item]
        rows.append(row)
    return rows


def query(dsn: str, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """The rows a statement returns (one short connection)."""
    with psycopg.connect(dsn) as conn:
        return conn.execute(statement, params or None).fetchall()  # type: ignore[arg-type]


def scalar(dsn: str, statement: str, params: Sequence[Any] = ()) -> Any:
    return query(dsn, statement, params)[0][0]
