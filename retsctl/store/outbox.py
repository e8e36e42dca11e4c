"""Rows waiting for a sink: a row leaves the outbox only when the sink confirms it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal

import orjson
from sqlite_utils import Database

from retsctl.properties import ALL_COLUMNS, PropertyRow

RowKey = tuple[str, str, str]


def _as_property_row(stored: dict[str, object]) -> PropertyRow:
    row: dict[str, object] = {name: stored[name] for name in ALL_COLUMNS}
    for name in ("list_price", "bathrooms"):
        if row[name] is not None:
            row[name] = Decimal(str(row[name]))
    row["photo_urls"] = orjson.loads(str(row["photo_urls"] or "[]"))
    row["raw"] = orjson.loads(str(row["raw"] or "{}"))
    return row  # type: ignore[return-value]


class Outbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    def pending_count(self) -> int:
        return self.db["outbox"].count

    def batches(self, size: int) -> Iterator[list[PropertyRow]]:
        """Pending rows in batches, oldest first; rows confirmed meanwhile are not handed out again."""
        last: RowKey = ("", "", "")
        while True:
            stored = self.db.execute(
                f"SELECT {', '.join('p.' + c for c in ALL_COLUMNS)} FROM outbox o JOIN properties p "
                "USING (team_id, source, external_id) WHERE (o.team_id, o.source, o.external_id) > (?, ?, ?) "
                "ORDER BY o.team_id, o.source, o.external_id LIMIT ?",
                [*last, size],
            ).fetchall()
            if not stored:
                return
            rows = [_as_property_row(dict(zip(ALL_COLUMNS, values, strict=True))) for values in stored]
            last = (rows[-1]["team_id"], rows[-1]["source"], rows[-1]["external_id"])
            yield rows

    def confirm(self, keys: Iterable[RowKey]) -> int:
        """Remove confirmed rows; returns how many left the outbox."""
        with self.db.conn:
            cursor = self.db.conn.executemany(
                "DELETE FROM outbox WHERE team_id = ? AND source = ? AND external_id = ?", list(keys)
            )
        return cursor.rowcount

    def note_failure(self, keys: Iterable[RowKey], reason: str) -> None:
        with self.db.conn:
            self.db.conn.executemany(
                "UPDATE outbox SET attempts = coalesce(attempts, 0) + 1, last_error = ? "
                "WHERE team_id = ? AND source = ? AND external_id = ?",
                [(reason, *key) for key in keys],
            )
