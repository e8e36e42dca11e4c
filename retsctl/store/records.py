"""Raw records and ``properties`` rows in the local cache, written a page at a time.

Every record is kept raw (every field as sent) whether or not it maps; mapped rows go to
``properties`` and, when they are new or really changed, into the outbox for the sinks. A
record whose raw content did not change is counted ``unchanged`` and not written again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import orjson
from sqlite_utils import Database

from retsctl.properties import ALL_COLUMNS, PropertyRow

# SQLite limits bound parameters per statement; look keys up in slices of this size.
KEY_LOOKUP_SLICE = 500


@dataclass(frozen=True)
class Feed:
    """Which slice of which server a run syncs, and where its rows land."""

    source: str
    resource: str
    class_name: str
    team_id: str = ""


@dataclass
class PageOutcome:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: list[str] = field(default_factory=list)


@dataclass
class StagedRecord:
    """One fetched record on its way into the cache: raw always, mapped row when it mapped."""

    key: str
    modified_at: str | None
    raw: dict[str, str]
    row: PropertyRow | None = None
    raw_json: str = ""
    raw_hash: str = ""

    def __post_init__(self) -> None:
        self.raw_json = orjson.dumps(self.raw).decode()
        self.raw_hash = hashlib.blake2b(self.raw_json.encode(), digest_size=16).hexdigest()


def property_columns(row: PropertyRow, raw_json: str) -> dict[str, object]:
    """A properties row as SQLite stores it: numbers as numbers, lists and records as JSON text."""
    stored: dict[str, object] = {name: row.get(name) for name in ALL_COLUMNS}
    for name in ("list_price", "bathrooms"):
        value = stored[name]
        if isinstance(value, Decimal):
            stored[name] = int(value) if value == value.to_integral_value() else float(value)
    stored["photo_urls"] = orjson.dumps(row.get("photo_urls") or []).decode()
    stored["raw"] = raw_json
    return stored


class RecordStore:
    """Writes one feed's pages into ``raw_records`` and ``properties`` (caller owns the transaction)."""

    def __init__(self, db: Database, feed: Feed) -> None:
        self.db = db
        self.feed = feed

    def known_hashes(self, keys: Sequence[str]) -> dict[str, tuple[str, int | None]]:
        """For the given keys: their stored raw hash and the run that last wrote them."""
        found: dict[str, tuple[str, int | None]] = {}
        for start in range(0, len(keys), KEY_LOOKUP_SLICE):
            part = keys[start : start + KEY_LOOKUP_SLICE]
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                f"SELECT key, record_hash, run_id FROM raw_records WHERE source = ? AND resource = ? AND key IN ({marks})",
                [self.feed.source, self.feed.resource, *part],
            ).fetchall()
            found.update({key: (digest, run_id) for key, digest, run_id in rows})
        return found

    def classify(self, staged: Sequence[StagedRecord], *, run_id: int) -> tuple[list[StagedRecord], PageOutcome]:
        """Which records are new or changed (to be written), and the page's counts.

        A key already written by this same run is a duplicate across pages (servers shift data
        between Offset pages); it is counted, and stored once.
        """
        outcome = PageOutcome()
        known = self.known_hashes([s.key for s in staged])
        changed: list[StagedRecord] = []
        for record in staged:
            previous = known.get(record.key)
            if previous is not None and previous[1] == run_id:
                outcome.duplicates.append(record.key)
            if previous is not None and previous[0] == record.raw_hash:
                outcome.unchanged += 1
                continue
            if previous is None:
                outcome.inserted += 1
            else:
                outcome.updated += 1
            known[record.key] = (record.raw_hash, run_id)
            changed.append(record)
        return changed, outcome

    def write(self, changed: Sequence[StagedRecord], *, run_id: int, now: str) -> None:
        """Store new or changed records: raw always, mapped rows into properties and the outbox."""
        self._write_raw(changed, run_id=run_id, now=now)
        self._write_properties([s for s in changed if s.row is not None], run_id=run_id, now=now)

    def _write_raw(self, staged: Iterable[StagedRecord], *, run_id: int, now: str) -> None:
        self.db["raw_records"].insert_all(
            (
                {
                    "source": self.feed.source, "resource": self.feed.resource, "class_name": self.feed.class_name,
                    "key": s.key, "modified_at": s.modified_at, "record": s.raw_json, "record_hash": s.raw_hash,
                    "run_id": run_id, "fetched_at": now, "deleted_at": None,
                }
                for s in staged
            ),
            replace=True,
        )

    def _write_properties(self, staged: Sequence[StagedRecord], *, run_id: int, now: str) -> None:
        rows = []
        for record in staged:
            assert record.row is not None
            row: PropertyRow = {**record.row, "synced_at": now, "deleted_at": None}
            rows.append(property_columns(row, record.raw_json))
        self.db["properties"].insert_all(rows, replace=True)
        self.db["outbox"].insert_all(
            (
                {"team_id": r["team_id"], "source": r["source"], "external_id": r["external_id"],
                 "run_id": run_id, "enqueued_at": now}
                for r in rows
            ),
            replace=True,
        )

    def mark_deleted(self, keys: Iterable[str], *, now: str) -> int:
        """Soft-delete listings the server no longer has (raw and mapped rows); returns how many."""
        count = 0
        for key in keys:
            cursor = self.db.execute(
                "UPDATE raw_records SET deleted_at = ? WHERE source = ? AND resource = ? AND key = ? AND deleted_at IS NULL",
                [now, self.feed.source, self.feed.resource, key],
            )
            if cursor.rowcount:
                count += 1
                self._delete_property(key, now)
        return count

    def _delete_property(self, source_key: str, now: str) -> None:
        rows = self.db.execute(
            "UPDATE properties SET deleted_at = ?, synced_at = ? WHERE team_id = ? AND source = ? AND source_key = ? "
            "AND deleted_at IS NULL RETURNING team_id, source, external_id",
            [now, now, self.feed.team_id, self.feed.source, source_key],
        ).fetchall()
        self.db["outbox"].insert_all(
            ({"team_id": t, "source": s, "external_id": e, "run_id": None, "enqueued_at": now} for t, s, e in rows),
            replace=True,
        )

    def live_keys_not_in(self, seen_table: str) -> list[str]:
        """Keys cached as live that are missing from ``seen_table`` (one ``key`` column)."""
        return [
            key
            for (key,) in self.db.execute(
                f"SELECT key FROM raw_records WHERE source = ? AND resource = ? AND class_name = ? "
                f"AND deleted_at IS NULL AND key NOT IN (SELECT key FROM {seen_table})",
                [self.feed.source, self.feed.resource, self.feed.class_name],
            ).fetchall()
        ]

    def cached_versions(self) -> dict[str, str | None]:
        """Key → cached modification time of every live record of the feed (keys-first diffing)."""
        return dict(
            self.db.execute(
                "SELECT key, modified_at FROM raw_records WHERE source = ? AND resource = ? AND class_name = ? "
                "AND deleted_at IS NULL",
                [self.feed.source, self.feed.resource, self.feed.class_name],
            ).fetchall()
        )
