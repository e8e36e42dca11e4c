"""Metadata rows cached per server (login URL + username), metadata version, type and id."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlite_utils import Database
from sqlite_utils.db import NotFoundError

TABLE = "metadata_cache"


@dataclass(frozen=True)
class MetadataKey:
    """What one cached GetMetadata answer is filed under."""

    login_url: str
    username: str
    metadata_version: str
    type: str
    id: str


class MetadataCache:
    """Rows of one metadata type (every attribute as sent) stored as JSON text."""

    def __init__(self, db: Database) -> None:
        self._table = db.table(TABLE)

    def get(self, key: MetadataKey) -> list[dict[str, str]] | None:
        """The cached rows, or None when this key was never stored."""
        try:
            row = self._table.get(tuple(asdict(key).values()))
        except NotFoundError:
            return None
        return json.loads(row["rows"])

    def put(self, key: MetadataKey, rows: list[dict[str, str]]) -> None:
        """Store (or replace) the rows for a key."""
        fetched_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._table.upsert(
            {**asdict(key), "rows": json.dumps(rows, ensure_ascii=False), "fetched_at": fetched_at}
        )

    def previous_version(self, login_url: str, username: str, current: str) -> str | None:
        """The most recently cached metadata version of this server other than ``current``."""
        row = self._table.db.execute(
            f"SELECT metadata_version FROM [{TABLE}] WHERE login_url = ? AND username = ? AND metadata_version != ? "
            "ORDER BY fetched_at DESC LIMIT 1",
            [login_url, username, current],
        ).fetchone()
        return row[0] if row else None

    def listings(self, login_url: str, username: str, version: str) -> list[tuple[str, str]]:
        """The (type, id) pairs cached for one metadata version of a server."""
        return [
            (row["type"], row["id"])
            for row in self._table.rows_where(
                "login_url = ? AND username = ? AND metadata_version = ?", [login_url, username, version],
                order_by="type, id",
            )
        ]
