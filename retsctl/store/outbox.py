"""Rows waiting for a sink: a row leaves the outbox only when the sink confirms it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal

import orjson
from sqlite_utils import Database

from retsctl.properties import ALL_COLUMNS, PropertyRow
from retsctl.store.raw import raw_object

RowKey = tuple[str, str, str]
# The ``properties`` view's columns, but the raw record as stored: put together here rather than in SQL.
_MAPPED = tuple(name for name in ALL_COLUMNS if name != "raw")
_PENDING = (
    f"SELECT {', '.join('p.' + name for name in _MAPPED)}, r.record, rc.columns FROM outbox o JOIN property_rows p "
    "USING (team_id, source, external_id) "
    "LEFT JOIN raw_records r ON r.source = p.source AND r.resource = p.resource AND r.key = p.source_key "
    "LEFT JOIN raw_columns rc ON rc.id = r.columns_id "
    "WHERE (o.team_id, o.source, o.external_id) > (?, ?, ?) ORDER BY o.team_id, o.source, o.external_id LIMIT ?"
)


def _as_property_row(stored: tuple[object, ...]) -> PropertyRow:
    *mapped, record, columns = stored
    found: dict[str, object] = dict(zip(_MAPPED, mapped, strict=True))
    found["raw"] = raw_object(str(record), None if columns is None else str(columns)) if record is not None else {}
    row = {name: found[name] for name in ALL_COLUMNS}
    for name in ("list_price", "bathrooms"):
        if row[name] is not None:
            row[name] = Decimal(str(row[name]))
    row["photo_urls"] = orjson.loads(str(row["photo_urls"] or "[]"))
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
            stored = self.db.execute(_PENDING, [*last, size]).fetchall()
            if not stored:
                return
            rows = [_as_property_row(values) for values in stored]
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
