"""Sync runs, per-feed watermarks, checkpoints of unfinished runs, and rejected records."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import orjson
from sqlite_utils import Database
from sqlite_utils.db import NotFoundError

from retsctl.store.records import Feed

# (key, reason, column, value) of a record that did not map
Rejection = tuple[str, str, str | None, str | None]

RUN_COUNTERS = ("fetched", "inserted", "updated", "unchanged", "deleted", "rejected", "photos", "pushed")


@dataclass
class Checkpoint:
    """Where an unfinished run stood after its last committed page."""

    run_id: int
    query: str
    strategy: str
    next_offset: int
    max_modified: str | None
    pages: int
    covers_watermark: bool = True  # False for a --since run that started after the watermark


def _feed_key(feed: Feed) -> dict[str, str]:
    """Watermarks and checkpoints are per team: teams syncing one server each have their own."""
    return {"team_id": feed.team_id, "source": feed.source, "resource": feed.resource, "class_name": feed.class_name}


class RunLog:
    """The ``sync_runs`` table and the per-feed state around it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, feed: Feed, *, mode: str, strategy: str, query: str, watermark_before: str | None,
              started_at: str, mapping_path: str, resumed_from: int | None) -> int:
        table = self.db["sync_runs"]
        table.insert(
            {
                **_feed_key(feed), "mapping_path": mapping_path, "mode": mode,
                "strategy": strategy, "query": query, "status": "running", "started_at": started_at,
                "watermark_before": watermark_before, "resumed_from": resumed_from,
                **dict.fromkeys(RUN_COUNTERS, 0),
            }
        )
        assert table.last_pk is not None
        return int(table.last_pk)

    def finish(self, run_id: int, *, status: str, finished_at: str, elapsed_s: float, counters: dict[str, int],
               watermark_after: str | None, error: str | None, quality: dict[str, object]) -> None:
        self.db["sync_runs"].update(
            run_id,
            {
                "status": status, "finished_at": finished_at, "elapsed_s": round(elapsed_s, 3),
                "watermark_after": watermark_after, "error": error,
                "quality": orjson.dumps(quality).decode(), **counters,
            },
        )

    def mark_interrupted(self, run_id: int) -> None:
        self.db["sync_runs"].update(run_id, {"status": "interrupted"})

    def recent(self, limit: int = 20) -> list[dict[str, object]]:
        return list(self.db["sync_runs"].rows_where(order_by="id desc", limit=limit))

    # -- watermarks -----------------------------------------------------------------------------

    def watermark(self, feed: Feed) -> str | None:
        try:
            row = self.db["watermarks"].get(tuple(_feed_key(feed).values()))
        except NotFoundError:
            return None
        return row["watermark"]

    def advance_watermark(self, feed: Feed, watermark: str, *, run_id: int, now: str) -> None:
        self._replace("watermarks", {**_feed_key(feed), "watermark": watermark, "run_id": run_id, "updated_at": now})

    def _replace(self, table: str, row: dict[str, object]) -> None:
        # Plain SQL, so the statement joins the caller's transaction (sqlite-utils would commit it).
        names = ", ".join(row)
        self.db.execute(f"INSERT OR REPLACE INTO {table} ({names}) VALUES ({', '.join('?' * len(row))})",
                        list(row.values()))

    # -- checkpoints ----------------------------------------------------------------------------

    def checkpoint(self, feed: Feed) -> Checkpoint | None:
        try:
            row = self.db["checkpoints"].get(tuple(_feed_key(feed).values()))
        except NotFoundError:
            return None
        return Checkpoint(**{name: row[name] for name in Checkpoint.__dataclass_fields__})

    def save_checkpoint(self, feed: Feed, checkpoint: Checkpoint, *, now: str) -> None:
        """Record where the run stands, inside the caller's transaction (with the page it follows)."""
        self._replace("checkpoints", {**_feed_key(feed), **asdict(checkpoint), "updated_at": now})

    def clear_checkpoint(self, feed: Feed) -> None:
        self.db.execute(
            "DELETE FROM checkpoints WHERE team_id = ? AND source = ? AND resource = ? AND class_name = ?",
            list(_feed_key(feed).values()),
        )

    # -- rejections -----------------------------------------------------------------------------

    def reject(self, run_id: int, feed: Feed, rejections: Iterable[Rejection]) -> None:
        """Record (key, reason, column, value) for records that did not map."""
        # Inside the caller's transaction (sqlite-utils' insert_all would commit on its own).
        self.db.conn.executemany(
            'INSERT INTO rejections (run_id, source, key, reason, "column", value) VALUES (?, ?, ?, ?, ?, ?)',
            [(run_id, feed.source, key, reason, column, value) for key, reason, column, value in rejections],
        )
