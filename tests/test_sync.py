"""Sync runs end to end: the simulator over loopback, a mapping suggested from its metadata, a real SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlite_utils import Database

from retsctl.mapping import Mapping, suggest_from_server, validate_mapping
from retsctl.mapping.validate import ERROR
from retsctl.rets import ConnectionSettings, RetsError, Session
from retsctl.simulator import Quirks, RunningSimulator, SimulatorConfig, start_simulator
from retsctl.store.db import open_db
from retsctl.store.records import Feed
from retsctl.sync.engine import MetadataDrift, SyncOptions, SyncRun, SyncSummary

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
    assert rig.db["watermarks"].get((rig.feed.source, "Property", "RES"))["watermark"] == first.watermark
