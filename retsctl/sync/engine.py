"""One sync run: plan the query → pull pages → map → write raw and mapped rows → push.

The watermark is the newest modification time a successful run saw; the next incremental run
asks for ``(Timestamp=watermark - overlap+)``. Pages are written in batched transactions, each
followed by a checkpoint, so a killed run resumes where it stopped; a failed run never moves
the watermark.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlite_utils import Database

from retsctl.mapping.model import Mapping
from retsctl.mapping.server import validate_with_server
from retsctl.mapping.transforms import RecordRejected
from retsctl.mapping.validate import ERROR, Problem
from retsctl.rets import Session
from retsctl.rets.compact import JsonValues
from retsctl.rets.dmql import and_all, any_of, modified_since
from retsctl.rets.replies import RetsError, RetsReplyError
from retsctl.rets.search import OFFSET_REFUSED_CODES
from retsctl.store.db import bulk_writes
from retsctl.store.outbox import Outbox
from retsctl.store.records import Feed, PageOutcome, RecordStore, StagedRecord
from retsctl.store.runs import RUN_COUNTERS, Checkpoint, Rejection, RunLog
from retsctl.sync.photos import PhotoFetcher
from retsctl.sync.quality import QualityReport
from retsctl.sync.writer import PROCESS_AFTER, PageWrite, PageWriter

# The sinks (psycopg) load only when a run pushes: a --no-push sync starts faster and smaller.
if TYPE_CHECKING:
    from retsctl.sinks.base import Sink

log = logging.getLogger("retsctl.sync")

EPOCH = datetime(1900, 1, 1, tzinfo=UTC)


class MetadataDrift(RetsError):
    """The server's metadata moved away from what the mapping reads: stop before writing bad rows."""

    kind = "input"


@dataclass
class SyncOptions:
    full: bool = False
    since: datetime | None = None
    reconcile: bool = False
    strategy: str = "timestamp"
    dry_run: bool = False
    photos: bool = True
    push: bool = True
    overlap: timedelta = timedelta(minutes=5)
    page_size: int | None = None
    batch_size: int = 200  # records a transaction (and checkpoint); batches never span two server pages
    key_batch: int = 200
    mapping_path: str = ""
    # Records committed inline before a writer process takes over the commits (a full sync starts one
    # at once; None: never; see sync/writer.py).
    writer_after: int | None = PROCESS_AFTER


@dataclass
class SyncProgress:
    phase: str
    fetched: int
    pages: int
    total: int | None


@dataclass
class SyncSummary:
    run_id: int | None
    status: str
    watermark: str | None
    elapsed_s: float
    counters: dict[str, int]
    quality: dict[str, object]
    rejections: list[dict[str, object]] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        """The contract's sync summary (plus the data-quality report)."""
        return {
            "run_id": self.run_id, "status": self.status, **self.counters,
            "watermark": self.watermark, "elapsed_s": round(self.elapsed_s, 3),
            "quality": self.quality, "rejections": self.rejections, "error": self.error,
        }


@dataclass
class _Plan:
    mode: str
    query: str
    start_offset: int
    watermark_before: str | None
    resumed_from: int | None = None
    max_modified: str | None = None
    # A --since run that starts after the watermark skipped changes in between: it may not move it.
    covers_watermark: bool = True


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class SyncRun:
    """One run of one feed. ``run()`` returns the summary or raises after recording the failure."""

    def __init__(self, session: Session, mapping: Mapping, db: Database, feed: Feed, options: SyncOptions, *,
                 sink: Sink | None = None, progress: Callable[[SyncProgress], None] | None = None) -> None:
        self.session = session
        self.mapping = mapping
        self.db = db
        self.feed = feed
        self.options = options
        self.sink = sink
        self.progress = progress or (lambda _event: None)
        self.store = RecordStore(db, feed)
        # What staging reads of each record; the rest of it travels as its escaped values only.
        self._fields = tuple(sorted(mapping.source_fields() | {mapping.key_field, mapping.timestamp_field}))
        self.runs = RunLog(db)
        self.quality = QualityReport()
        self.counters = dict.fromkeys(RUN_COUNTERS, 0)
        self.photos = PhotoFetcher(session, mapping, self.quality) if options.photos and mapping.photos_from_objects else None
        self.writer = PageWriter(db, feed, process_after=options.writer_after, write=not options.dry_run,
                                 on_changed=self._attach_photos if self.photos is not None else None)
        self._rejections: list[Rejection] = []
        self._rejections_written = 0
        self._pages = 0
        self.run_id = 0

    # -- the run --------------------------------------------------------------------------------

    def run(self) -> SyncSummary:
        started = time.perf_counter()
        self.check_metadata()
        plan = self._plan()
        if not self.options.dry_run:
            self.run_id = self.runs.start(
                self.feed, mode=plan.mode, strategy=self.options.strategy, query=plan.query,
                watermark_before=plan.watermark_before, started_at=_now(),
                mapping_path=self.options.mapping_path, resumed_from=plan.resumed_from,
            )
            if plan.resumed_from:
                self.runs.mark_interrupted(plan.resumed_from)
        try:
            if plan.mode == "full" and not self.options.dry_run:  # the whole feed: a writer process from the start
                self.writer.start_process()
            with bulk_writes(self.db):
                try:
                    self._pull(plan)
                finally:  # what was fetched is committed, also when the pull failed
                    self._commit_outstanding()
            status = "succeeded"
            if self.options.push and self.sink is not None and not self.options.dry_run:
                status = self._push()
        except BaseException as error:
            self._finish(plan, "failed", started, error=_describe(error))
            raise
        return self._finish(plan, status, started)

    def _pull(self, plan: _Plan) -> None:
        if self.options.strategy == "keys-first":
            self._pull_keys_first(plan)
            return
        self._pull_by_timestamp(plan)
        if self.options.reconcile:
            self._commit_outstanding()
            self._reconcile()

    def _commit_outstanding(self) -> None:
        """Wait until every page handed to the writer is committed, and count them."""
        for outcome in self.writer.finish():
            self._count(outcome)

    def _finish(self, plan: _Plan, status: str, started: float, *, error: str | None = None) -> SyncSummary:
        elapsed = time.perf_counter() - started
        self.quality.repairs = self.session.repairs.as_dict()
        watermark = plan.watermark_before
        if status != "failed" and plan.max_modified and (watermark is None or plan.max_modified > watermark) \
                and plan.covers_watermark:
            watermark = plan.max_modified
        summary = SyncSummary(
            run_id=self.run_id or None, status=status, watermark=watermark, elapsed_s=elapsed,
            counters=dict(self.counters), quality=self.quality.as_dict(), error=error,
            rejections=[{"key": k, "reason": r, "column": c, "value": v} for k, r, c, v in self._rejections[:20]],
        )
        if self.options.dry_run:
            return summary
        with self.db.conn:
            if status != "failed":
                if watermark:
                    self.runs.advance_watermark(self.feed, watermark, run_id=self.run_id, now=_now())
                self.runs.clear_checkpoint(self.feed)
            self.runs.finish(self.run_id, status=status, finished_at=_now(), elapsed_s=elapsed,
                             counters=self.counters, watermark_after=watermark if status != "failed" else None,
                             error=error, quality=summary.quality)
        return summary

    # -- before pulling -------------------------------------------------------------------------

    def check_metadata(self) -> None:
        """Stop with the differences when a field the mapping reads is gone or retyped."""
        login = self.session.login_response or self.session.login()
        if self.mapping.metadata_version and login.metadata_version == self.mapping.metadata_version:
            return
        blocking = [p for p in validate_with_server(self.session, self.mapping) if _is_drift(p)]
        if blocking:
            details = "; ".join(p.message for p in blocking)
            raise MetadataDrift(
                f"the server's metadata no longer fits the mapping: {details}",
                hint=f"Review the mapping with `retsctl mapping validate {self.options.mapping_path or 'FILE'}` "
                "and update the fields that moved; nothing was written.",
            )

    def _plan(self) -> _Plan:
        watermark = self.runs.watermark(self.feed)
        checkpoint = None if self.options.dry_run else self.runs.checkpoint(self.feed)
        explicit = self.options.full or self.options.since is not None
        if checkpoint is not None and self.options.strategy == "timestamp" and not explicit:
            log.info("resuming run %s at offset %s", checkpoint.run_id, checkpoint.next_offset)
            return _Plan("resume", checkpoint.query, checkpoint.next_offset, watermark,
                         resumed_from=checkpoint.run_id, max_modified=checkpoint.max_modified,
                         covers_watermark=bool(checkpoint.covers_watermark))
        if self.options.since is not None:
            covers = watermark is None or self.options.since <= _parse_iso(watermark)
            return _Plan("since", self._query_since(self.options.since), 1, watermark, covers_watermark=covers)
        if self.options.full or watermark is None:
            return _Plan("full", self._query_since(EPOCH), 1, watermark)
        return _Plan("incremental", self._query_since(_parse_iso(watermark) - self.options.overlap), 1, watermark)

    def _query_since(self, moment: datetime) -> str:
        return and_all(modified_since(self.mapping.timestamp_field, moment), self.mapping.base_filter or "")

    # -- pulling by timestamp -------------------------------------------------------------------

    def _pull_by_timestamp(self, plan: _Plan) -> None:
        try:
            self._pull_pages(plan)
        except RetsReplyError as error:
            if plan.start_offset == 1 or self.counters["fetched"] or error.reply_code not in OFFSET_REFUSED_CODES:
                raise
            log.info("the server refuses the checkpoint's Offset (%s); starting the query over", error.reply_code)
            plan.start_offset = 1
            self._pull_pages(plan)

    def _pull_pages(self, plan: _Plan) -> None:
        result = self.session.search(
            self.mapping.resource, self.mapping.class_name, plan.query, format=self.mapping.format,
            offset=plan.start_offset if plan.start_offset > 1 else None, page_size=self.options.page_size,
        )
        processed = 0
        for batch in self._batches(result.json_values_with(self._fields), lambda: result.pages):
            processed += len(batch)
            self._pages = result.pages
            offset = plan.start_offset + processed if result.strategy == "offset" else 1
            self._store_batch(batch, plan, next_offset=offset, total=result.count)
        self.quality.count_reported = result.count
        self.quality.delivered = result.rows
        self.quality.warnings += result.warnings
        self._store_batch([], plan, next_offset=plan.start_offset + processed, total=result.count)

    def _batches(self, records: Iterable[JsonValues], pages: Callable[[], int]) -> Iterator[list[StagedRecord]]:
        """Staged records in batches that never span two server pages (a checkpoint per page)."""
        batch: list[StagedRecord] = []
        page = pages()
        for record in records:
            current = pages()
            if batch and (current != page or len(batch) >= self.options.batch_size):
                yield batch
                batch = []
            page = current
            batch.append(self._stage(*record))
        if batch:
            yield batch

    def _stage(self, columns: tuple[str, ...], escaped: bytes, values: dict[str, str]) -> StagedRecord:
        """One record from its columns, its escaped values and the values the mapping reads."""
        key = values.get(self.mapping.key_field, "")
        staged = StagedRecord(key, None, columns, escaped, source_modified=values.get(self.mapping.timestamp_field))
        try:
            row = self.mapping.apply(values)
        except RecordRejected as rejected:
            self._rejections.append((key, rejected.reason, rejected.column, rejected.value))
            self.quality.note_rejection(key, rejected.column, rejected.reason)
            return staged
        del row["raw"]  # stored once, in raw_records
        row["team_id"] = self.feed.team_id
        row["source"] = self.feed.source
        staged.row, staged.modified_at = row, row.get("modified_at")
        return staged

    def _store_batch(self, batch: list[StagedRecord], plan: _Plan, *, next_offset: int, total: int | None) -> None:
        """Hand the batch, its rejections and the checkpoint after it to the writer (one transaction)."""
        self.counters["fetched"] += len(batch)
        newest = max((s.modified_at for s in batch if s.modified_at), default=None)
        if newest and (plan.max_modified is None or newest > plan.max_modified):
            plan.max_modified = newest
        rejections, self._rejections_written = self._rejections[self._rejections_written:], len(self._rejections)
        self.counters["rejected"] += len(rejections)
        checkpoint = Checkpoint(self.run_id, plan.query, self.options.strategy, next_offset, plan.max_modified,
                                self._pages, plan.covers_watermark)
        self.writer.submit(PageWrite(batch, rejections, checkpoint, _now()))
        for outcome in self.writer.outcomes():
            self._count(outcome)
        self.progress(SyncProgress("pull", self.counters["fetched"], self._pages, total))

    def _attach_photos(self, changed: list[StagedRecord]) -> int:
        assert self.photos is not None
        return self.photos.attach([s.row for s in changed if s.row is not None])

    def _count(self, outcome: PageOutcome) -> None:
        self.counters["inserted"] += outcome.inserted
        self.counters["updated"] += outcome.updated
        self.counters["unchanged"] += outcome.unchanged
        self.counters["photos"] += outcome.photos
        if outcome.duplicates:
            self.quality.note("duplicate_keys_across_pages", outcome.duplicates)

    # -- deletions and keys-first ---------------------------------------------------------------

    def _server_keys(self, select: list[str]) -> Iterator[dict[str, str]]:
        query = self._query_since(EPOCH)
        yield from self.session.search(self.mapping.resource, self.mapping.class_name, query, select=select,
                                       format="COMPACT")

    def _load_server_keys(self, with_timestamps: bool) -> int:
        """Stream the feed's keys (and timestamps) into a temporary table; returns how many."""
        key, stamp = self.mapping.key_field, self.mapping.timestamp_field
        self.db.execute("DROP TABLE IF EXISTS temp.server_keys")
        self.db.execute("CREATE TEMP TABLE server_keys (key TEXT PRIMARY KEY, modified TEXT)")
        select = [key, stamp] if with_timestamps else [key]
        rows = ((r.get(key, ""), r.get(stamp)) for r in self._server_keys(select))
        with self.db.conn:
            self.db.conn.executemany("INSERT OR REPLACE INTO temp.server_keys VALUES (?, ?)", rows)
        return self.db.execute("SELECT count(*) FROM temp.server_keys").fetchone()[0]

    def _reconcile(self) -> None:
        """Soft-delete cached listings the server no longer has."""
        seen = self._load_server_keys(with_timestamps=False)
        self._mark_missing_deleted(seen)

    def _mark_missing_deleted(self, seen: int) -> None:
        missing = self.store.live_keys_not_in("temp.server_keys")
        if seen == 0 and missing:
            self.quality.warnings.append("the server listed no keys at all; nothing was marked deleted")
            return
        if self.options.dry_run:
            self.counters["deleted"] += len(missing)
            return
        with self.db.conn:
            self.counters["deleted"] += self.store.mark_deleted(missing, now=_now())

    def _pull_keys_first(self, plan: _Plan) -> None:
        """Rapattoni's recipe: keys and timestamps only, diff with the cache, fetch what differs."""
        seen = self._load_server_keys(with_timestamps=True)
        stale = self._stale_keys()
        for start in range(0, len(stale), self.options.key_batch):
            keys = stale[start : start + self.options.key_batch]
            query = and_all(any_of(self.mapping.key_field, keys), self.mapping.base_filter or "")
            records = self.session.search(self.mapping.resource, self.mapping.class_name, query,
                                          format=self.mapping.format).json_values_with(self._fields)
            for batch in self._batches(records, lambda: 0):
                self._store_batch(batch, plan, next_offset=1, total=len(stale))
        self._commit_outstanding()
        self._mark_missing_deleted(seen)

    def _stale_keys(self) -> list[str]:
        """Server keys that are new, whose timestamp differs from the cached raw record's, or whose
        row this team lacks or made from an older raw version (raw records are shared by teams)."""
        json_path = '$."' + self.mapping.timestamp_field.replace('"', '\\"') + '"'
        rows = self.db.execute(
            "SELECT s.key FROM temp.server_keys s LEFT JOIN raw_records r ON r.source = ? AND r.resource = ? "
            "AND r.key = s.key AND r.deleted_at IS NULL LEFT JOIN property_rows p ON p.team_id = ? AND p.source = ? "
            "AND p.resource = ? AND p.source_key = s.key AND p.deleted_at IS NULL "
            "WHERE r.key IS NULL OR p.record_hash IS NOT r.record_hash OR coalesce(r.source_modified, "
            "CASE WHEN r.columns_id IS NULL THEN json_extract(r.record, ?) END) IS NOT s.modified "
            "ORDER BY s.key",
            [self.feed.source, self.feed.resource, self.feed.team_id, self.feed.source, self.feed.resource, json_path],
        ).fetchall()
        return [key for (key,) in rows]

    # -- pushing --------------------------------------------------------------------------------

    def _push(self) -> str:
        from retsctl.sinks.base import SinkError

        assert self.sink is not None
        try:
            pushed, quarantined = push_outbox(Outbox(self.db), self.sink)
        except SinkError as error:
            log.warning("push failed: %s", error)
            self.quality.warnings.append(f"push failed: {error.message}")
            return "partial"
        self.counters["pushed"] = pushed
        if quarantined:
            self.quality.warnings.append(f"the sink refused {quarantined} row(s); they stay in the outbox "
                                         "with the reason (`retsctl push` retries them)")
            return "partial"
        return "succeeded"


def push_outbox(outbox: Outbox, sink: Sink, *, batch_rows: int = 500) -> tuple[int, int]:
    """Push every pending row; rows leave the outbox only once the sink confirms them.

    Returns (rows confirmed, rows the sink refused and quarantined).
    """
    from retsctl.sinks.base import SinkError

    pushed = quarantined = 0
    for rows in outbox.batches(batch_rows):
        try:
            result = sink.push(rows)
        except SinkError as error:
            if error.result is not None:  # what the sink confirmed before giving up is done
                outbox.confirm(error.result.confirmed)
            raise
        pushed += outbox.confirm(result.confirmed)
        quarantined += len(result.quarantined)
        for key, reason in result.quarantined:
            outbox.note_failure([key], reason)
    return pushed, quarantined


def _is_drift(problem: Problem) -> bool:
    """Errors about fields (gone, retyped); an unknown status value only rejects its records."""
    return problem.severity == ERROR and not problem.record_level


def _describe(error: BaseException) -> str:
    if isinstance(error, RetsError):
        return error.message
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
