"""Sync runs end to end: the simulator over loopback, a mapping suggested from its metadata, a real SQLite file."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from retsctl.mapping import Mapping, suggest_from_server, validate_mapping
from retsctl.mapping.validate import ERROR
from retsctl.rets import ConnectionSettings, RetsError, Session
from retsctl.simulator import Quirks, RunningSimulator, SimulatorConfig, start_simulator
from retsctl.store.db import open_db
from retsctl.store.records import Feed
from retsctl.store.runs import Checkpoint, RunLog
from retsctl.sync.engine import MetadataDrift, SyncOptions, SyncRun, SyncSummary
from retsctl.sync.writer import WriterProcessError

LISTINGS = 400


@dataclass
class Rig:
    sim: RunningSimulator
    session: Session
    mapping: Mapping
    db: Database
    feed: Feed

    def sync(self, **options: object) -> SyncSummary:
        return SyncRun(self.session, self.mapping, self.db, self.feed, SyncOptions(**options)).run()  # type: ignore[arg-type]

    def runs_start_interrupted(self, *, since: str = "1900-01-01T00:00:00Z", covers_watermark: bool = True) -> int:
        """A run that was killed after checkpointing Offset 101 (as if by kill -9)."""
        runs = RunLog(self.db)
        query = f"({self.mapping.timestamp_field}={since}+)"
        run_id = runs.start(self.feed, mode="full", strategy="timestamp", query=query, watermark_before=None,
                            started_at="2026-01-01T00:00:00Z", mapping_path="", resumed_from=None)
        checkpoint = Checkpoint(run_id, query, "timestamp", 101, None, 1, covers_watermark)
        with self.db.conn:
            runs.save_checkpoint(self.feed, checkpoint, now="2026-01-01T00:00:00Z")
        return run_id

    def live_keys(self) -> set[str]:
        return {row["source_key"] for row in self.db["properties"].rows_where("deleted_at IS NULL")}


def _rig(tmp_path: Path, quirks: Quirks | None = None) -> Iterator[Rig]:
    config = SimulatorConfig(listings=LISTINGS, page_cap=100, quirks=quirks or Quirks())
    with start_simulator(config) as sim, Session(ConnectionSettings(sim.login_url, sim.username, sim.password)) as session:
        session.login()
        mapping = Mapping.loads(suggest_from_server(session, "Property", "RES", "COMPACT").to_toml())
        yield Rig(sim, session, mapping, open_db(tmp_path / "retsctl.db"), Feed(sim.login_url, "Property", "RES", "team-1"))


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    yield from _rig(tmp_path)


def test_suggested_mapping_validates_and_maps_every_runbook_column(rig: Rig) -> None:
    fields = rig.session.fields("Property", "RES")
    problems = validate_mapping(rig.mapping, fields, {})
    assert [p for p in problems if p.severity == ERROR and p.column != "status"] == []
    assert set(rig.mapping.columns) >= {"external_id", "address", "list_price", "bedrooms", "bathrooms",
                                        "square_feet", "year_built", "status", "description"}
    assert rig.mapping.photos_from_objects


def test_full_then_incremental_then_changes(rig: Rig) -> None:
    first = rig.sync()
    total = rig.session.count("Property", "RES", "(ListPrice=0+)")
    assert first.status == "succeeded"
    assert first.counters["fetched"] == first.counters["inserted"] == total
    assert rig.db["properties"].count == total == rig.db["raw_records"].count
    assert first.counters["photos"] > 0 and first.watermark

    again = rig.sync()
    assert again.counters["inserted"] == again.counters["updated"] == 0
    assert again.counters["fetched"] < total // 10
    assert again.watermark == first.watermark

    touched = sorted(rig.live_keys())[:3]
    for key in touched:
        rig.sim.touch(key)
    changed = rig.sync()
    assert changed.counters["updated"] == 3 and changed.counters["inserted"] == 0
    assert changed.watermark > first.watermark
    runs = list(rig.db["sync_runs"].rows_where(order_by="id"))
    assert [r["status"] for r in runs] == ["succeeded"] * 3
    assert runs[2]["watermark_before"] == first.watermark


def test_reconcile_marks_exactly_the_deleted(rig: Rig) -> None:
    rig.sync()
    gone = sorted(rig.live_keys())[5:9]
    for key in gone:
        rig.sim.delete(key)
    summary = rig.sync(reconcile=True)
    assert summary.counters["deleted"] == len(gone)
    deleted = {row["source_key"] for row in rig.db["properties"].rows_where("deleted_at IS NOT NULL")}
    assert deleted == set(gone)
    assert rig.db["properties"].count == rig.db["raw_records"].count  # soft delete only


def test_keys_first_finds_changes_and_deletions_in_one_pass(rig: Rig) -> None:
    rig.sync()
    keys = sorted(rig.live_keys())
    rig.sim.touch(keys[0])
    rig.sim.delete(keys[1])
    summary = rig.sync(strategy="keys-first")
    assert summary.counters["updated"] == 1 and summary.counters["deleted"] == 1
    assert summary.counters["fetched"] == 1


def test_dry_run_writes_nothing(rig: Rig) -> None:
    summary = rig.sync(dry_run=True, photos=False)
    assert summary.counters["fetched"] > 0 and summary.run_id is None
    assert rig.db["properties"].count == 0 and rig.db["sync_runs"].count == 0


def test_bad_records_are_rejected_not_fatal(rig: Rig) -> None:
    forgotten = next(iter(rig.mapping.status_map))
    kept = {code: status for code, status in rig.mapping.status_map.items() if code != forgotten}
    rig.mapping = replace(rig.mapping, status_map=kept)
    summary = rig.sync(photos=False)
    assert summary.status == "succeeded"
    assert summary.counters["rejected"] > 0
    assert summary.counters["fetched"] == summary.counters["inserted"]
    assert rig.db["rejections"].count == summary.counters["rejected"]
    assert rig.db["raw_records"].count == summary.counters["fetched"]
    assert rig.db["properties"].count == summary.counters["fetched"] - summary.counters["rejected"]
    assert summary.quality["unknown_status_codes"]["count"] == summary.counters["rejected"]
    assert {r["value"] for r in rig.db["rejections"].rows} == {forgotten}


def test_metadata_drift_stops_before_writing(rig: Rig) -> None:
    year_rule = rig.mapping.columns["year_built"]
    moved = replace(year_rule, sources=(replace(year_rule.sources[0], field="GoneField"),))
    rig.mapping = replace(rig.mapping, columns={**rig.mapping.columns, "year_built": moved}, metadata_version="0.0.0")
    with pytest.raises(MetadataDrift) as raised:
        rig.sync()
    assert "GoneField" in raised.value.message
    assert rig.db["properties"].count == 0 and rig.db["sync_runs"].count == 0


def test_failed_run_keeps_the_watermark(rig: Rig) -> None:
    first = rig.sync(photos=False)
    rig.sim.touch(sorted(rig.live_keys())[0])
    rig.sim.stop()
    with pytest.raises(RetsError):
        rig.sync(photos=False)
    runs = list(rig.db["sync_runs"].rows_where(order_by="id"))
    assert runs[-1]["status"] == "failed" and runs[-1]["error"]
    assert runs[-1]["watermark_after"] is None
    key = (rig.feed.team_id, rig.feed.source, "Property", "RES")
    assert rig.db["watermarks"].get(key)["watermark"] == first.watermark


def test_a_new_team_gets_its_own_rows(rig: Rig) -> None:
    first = rig.sync(photos=False)
    rig.feed = replace(rig.feed, team_id="team-2")
    second = rig.sync(photos=False, full=True)
    assert second.counters["updated"] == first.counters["inserted"] and second.counters["unchanged"] == 0
    teams = {row["team_id"] for row in rig.db.query("SELECT DISTINCT team_id FROM properties")}
    assert teams == {"team-1", "team-2"}


def test_a_deleted_listing_that_comes_back_is_live_again(rig: Rig) -> None:
    rig.sync(photos=False)
    key = sorted(rig.live_keys())[0]
    rig.db.execute("UPDATE raw_records SET deleted_at = '2020-01-01T00:00:00Z' WHERE key = ?", [key])
    rig.db.execute("UPDATE property_rows SET deleted_at = '2020-01-01T00:00:00Z' WHERE source_key = ?", [key])
    rig.db.conn.commit()
    summary = rig.sync(photos=False, full=True)
    assert summary.counters["updated"] == 1
    assert key in rig.live_keys()


def test_since_after_the_watermark_does_not_move_it(rig: Rig) -> None:
    first = rig.sync(photos=False)
    rig.sim.touch(sorted(rig.live_keys())[0])
    later = datetime.now(UTC) + timedelta(days=1)
    skipped = rig.sync(photos=False, since=later)
    assert skipped.watermark == first.watermark
    caught_up = rig.sync(photos=False)
    assert caught_up.counters["updated"] == 1


def test_a_checkpoint_follows_every_server_page(rig: Rig) -> None:
    offsets: list[int] = []

    def note_checkpoint(_event: object) -> None:
        row = rig.db.execute("SELECT next_offset FROM checkpoints").fetchone()
        if row:
            offsets.append(row[0])

    SyncRun(rig.session, rig.mapping, rig.db, rig.feed, SyncOptions(photos=False, page_size=30),
            progress=note_checkpoint).run()
    assert offsets and all((offset - 1) % 30 == 0 for offset in offsets)


def test_a_resumed_run_on_a_server_that_refuses_offset_starts_over(tmp_path: Path) -> None:
    for rig in _rig(tmp_path, Quirks(offset="refused")):
        run_id = rig.runs_start_interrupted()
        summary = rig.sync(photos=False)
        assert summary.status == "succeeded" and summary.counters["inserted"] == summary.counters["fetched"] > 0
        assert rig.db["sync_runs"].get(run_id)["status"] == "interrupted"


def test_two_teams_on_one_feed_each_see_every_change(rig: Rig) -> None:
    team_one, team_two = rig.feed, replace(rig.feed, team_id="team-2")
    rig.sync(photos=False)
    rig.feed = team_two
    rig.sync(photos=False)
    rig.sim.touch(sorted(rig.live_keys())[0])
    rig.feed = team_one
    assert rig.sync(photos=False).counters["updated"] == 1
    rig.feed = team_two
    assert rig.sync(photos=False).counters["updated"] == 1


def test_a_second_team_on_the_same_feed_gets_everything_and_its_own_deletions(rig: Rig) -> None:
    first = rig.sync(photos=False)
    rig.feed = replace(rig.feed, team_id="team-2")
    second = rig.sync(photos=False)  # no --full: team-2 has no watermark of its own yet
    assert second.counters["updated"] + second.counters["inserted"] == first.counters["inserted"]
    gone = sorted(rig.live_keys())[0]
    rig.sim.delete(gone)
    rig.feed = replace(rig.feed, team_id="team-1")
    assert rig.sync(photos=False, reconcile=True).counters["deleted"] == 1
    rig.feed = replace(rig.feed, team_id="team-2")
    assert rig.sync(photos=False, reconcile=True).counters["deleted"] == 1
    deleted = rig.db.execute("SELECT team_id FROM property_rows WHERE source_key = ? AND deleted_at IS NOT NULL",
                             [gone]).fetchall()
    assert sorted(deleted) == [("team-1",), ("team-2",)]


def test_a_resumed_since_run_after_the_watermark_keeps_it(rig: Rig) -> None:
    first = rig.sync(photos=False)
    rig.sim.touch(sorted(rig.live_keys())[0])
    rig.runs_start_interrupted(since="2099-01-01T00:00:00Z", covers_watermark=False)
    resumed = rig.sync(photos=False)
    assert resumed.watermark == first.watermark


# --- the writer process ---------------------------------------------------------------------------

CACHE_SNAPSHOT = ("SELECT team_id, external_id, address, list_price, bedrooms, bathrooms, square_feet, year_built, "
                  "status, description, source_key, modified_at, raw, deleted_at FROM properties ORDER BY external_id")


def _run_with_writer_process(rig: Rig, *, then: Callable[[SyncRun], None] = lambda run: None) -> SyncRun:
    """A run whose writer process takes over after the first page: the progress hook waits until it
    is ready (it starts in about 0.3 s; the feed is only a few pages), then calls ``then``."""
    def wait_for_the_process(_event: object) -> None:
        deadline = time.monotonic() + 30
        while not run.writer.process_ready() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert run.writer.process_ready(), "the writer process never became ready"
        then(run)

    run = SyncRun(rig.session, rig.mapping, rig.db, rig.feed, SyncOptions(photos=False, writer_after=0),
                  progress=wait_for_the_process)
    return run


def test_a_writer_process_commits_what_an_inline_run_commits(rig: Rig, tmp_path: Path) -> None:
    run = _run_with_writer_process(rig)
    summary = run.run()
    total = rig.session.count("Property", "RES", "(ListPrice=0+)")
    assert run.writer.process_id is not None and summary.status == "succeeded"
    assert summary.counters["fetched"] == summary.counters["inserted"] == total
    assert rig.db["raw_records"].count == rig.db["outbox"].count == total
    assert rig.db["checkpoints"].count == 0 and summary.watermark

    inline_db = open_db(tmp_path / "inline.db")
    SyncRun(rig.session, rig.mapping, inline_db, rig.feed, SyncOptions(photos=False, writer_after=None)).run()
    assert rig.db.execute(CACHE_SNAPSHOT).fetchall() == inline_db.execute(CACHE_SNAPSHOT).fetchall()
    rerun = _run_with_writer_process(rig)
    rerun.options.full = True
    assert rerun.run().counters["unchanged"] == total  # hashes written by the process match the run's


def test_a_writer_process_that_dies_fails_the_run_and_the_next_run_resumes(rig: Rig) -> None:
    killed: list[int] = []

    def kill_the_writer(run: SyncRun) -> None:
        if not killed and run.writer.process_id is not None:
            killed.append(run.writer.process_id)
            os.kill(run.writer.process_id, signal.SIGKILL)

    with pytest.raises(WriterProcessError, match="stopped unexpectedly"):
        _run_with_writer_process(rig, then=kill_the_writer).run()
    failed = list(rig.db["sync_runs"].rows_where(order_by="id"))[-1]
    assert failed["status"] == "failed" and "writer process" in failed["error"] and failed["watermark_after"] is None
    assert rig.db["watermarks"].count == 0 and rig.db["checkpoints"].count == 1

    resumed = rig.sync(photos=False, writer_after=None)
    assert resumed.status == "succeeded" and resumed.watermark
    assert rig.live_keys() == {row["key"] for row in rig.db["raw_records"].rows}
    assert len(rig.live_keys()) == rig.session.count("Property", "RES", "(ListPrice=0+)")


def test_a_writer_process_that_fails_fails_the_run_with_its_own_error(rig: Rig) -> None:
    def break_the_outbox(_run: SyncRun) -> None:
        rig.db.execute("CREATE TRIGGER IF NOT EXISTS boom BEFORE INSERT ON outbox "
                       "BEGIN SELECT RAISE(ABORT, 'boom-from-trigger'); END")
        rig.db.conn.commit()

    with pytest.raises(WriterProcessError, match="boom-from-trigger"):
        _run_with_writer_process(rig, then=break_the_outbox).run()
    failed = list(rig.db["sync_runs"].rows_where(order_by="id"))[-1]
    assert failed["status"] == "failed" and "boom-from-trigger" in failed["error"]
    assert rig.db["watermarks"].count == 0
