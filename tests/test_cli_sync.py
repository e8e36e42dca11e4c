"""`retsctl sync`, `push`, `runs`, `properties` and `demo` through the real command line.

The simulator runs over loopback, the cache is a real SQLite file, the sink a real PostgreSQL 15;
the kill test sends a real SIGKILL to a `retsctl sync` process.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pg import migrated_dsn_fixture, postgres_dsn_fixture, postgres_server_fixture, scalar  # noqa: F401

from retsctl.mapping import suggest_from_server
from retsctl.rets import ConnectionSettings, Session
from retsctl.simulator import Quirks, RunningSimulator, SimulatorConfig, start_simulator

CONTRACT_KEYS = {"run_id", "status", "fetched", "inserted", "updated", "unchanged", "deleted", "rejected",
                 "photos", "pushed", "watermark", "elapsed_s"}
MAPPED = "external_id, address, list_price, bedrooms, bathrooms, square_feet, year_built, status, description, " \
         "source_key, modified_at, raw, deleted_at"


@pytest.fixture
def feed(tmp_path: Path) -> Iterator[tuple[RunningSimulator, Path, list[str]]]:
    with start_simulator(SimulatorConfig(listings=300, page_cap=100)) as sim:
        yield sim, _mapping_for(sim, tmp_path), _conn(sim)


def _mapping_for(sim: RunningSimulator, folder: Path) -> Path:
    with Session(ConnectionSettings(sim.login_url, sim.username, sim.password)) as session:
        session.login()
        path = folder / "sim.toml"
        path.write_text(suggest_from_server(session, "Property", "RES").to_toml(), encoding="utf-8")
    return path


def _conn(sim: RunningSimulator) -> list[str]:
    return ["--url", sim.login_url, "--username", sim.username, "--password", sim.password]


def _summary(result: object) -> dict[str, object]:
    return json.loads(result.stdout)  # type: ignore[attr-defined]


def test_sync_json_matches_the_contract_and_reruns_change_nothing(
        feed: tuple[RunningSimulator, Path, list[str]], run_cli: Callable[..., object]) -> None:
    sim, mapping, conn = feed
    first = run_cli("sync", "--mapping", mapping, *conn, "--no-push", "--json")
    assert first.exit_code == 0, first.stderr
    summary = _summary(first)
    assert set(summary) >= CONTRACT_KEYS
    assert summary["status"] == "succeeded" and summary["inserted"] == summary["fetched"] > 100
    assert sim.password not in first.stdout + first.stderr

    again = _summary(run_cli("sync", "--mapping", mapping, *conn, "--no-push", "--json"))
    assert again["inserted"] == again["updated"] == 0 and again["watermark"] == summary["watermark"]

    runs = json.loads(run_cli("runs", "--json").stdout)
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    listed = run_cli("properties", "--format", "jsonl", "--limit", "3").stdout.splitlines()
    assert len(listed) == 3 and all(json.loads(line)["external_id"] for line in listed)


def test_bad_inputs_exit_2(feed: tuple[RunningSimulator, Path, list[str]], run_cli: Callable[..., object],
                           tmp_path: Path) -> None:
    _sim, mapping, conn = feed
    missing = run_cli("sync", "--mapping", tmp_path / "nope.toml", *conn)
    assert missing.exit_code == 2 and "mapping init" in missing.stderr
    broken = tmp_path / "broken.toml"
    broken.write_text("[source\n", encoding="utf-8")
    assert run_cli("sync", "--mapping", broken, *conn).exit_code == 2
    assert run_cli("sync", "--mapping", mapping, *conn, "--since", "yesterday").exit_code == 2


def _subprocess_env(home: Path, sim: RunningSimulator) -> dict[str, str]:
    return {**os.environ, "RETSCTL_HOME": str(home), "RETSCTL_PASSWORD": sim.password,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}


def _sync_command(sim: RunningSimulator, mapping: Path) -> list[str]:
    return [sys.executable, "-m", "retsctl", "sync", "--mapping", str(mapping), "--url", sim.login_url,
            "--username", sim.username, "--no-push", "--no-photos", "--page-size", "50", "--json"]


def _wait_for_checkpoint(db_path: Path, process: subprocess.Popen[bytes], beyond: int) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if db_path.exists():
            try:
                with sqlite3.connect(db_path) as db:
                    row = db.execute("SELECT next_offset FROM checkpoints").fetchone()
            except sqlite3.OperationalError:
                row = None
            if row and row[0] > beyond:
                return int(row[0])
        time.sleep(0.02)
    raise AssertionError("the sync never checkpointed past the first pages")


def _final_table(db_path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db_path) as db:
        return db.execute(f"SELECT {MAPPED} FROM properties ORDER BY external_id").fetchall()


def test_killed_sync_resumes_to_the_same_table(tmp_path: Path) -> None:
    with start_simulator(SimulatorConfig(listings=1200, page_cap=100, quirks=Quirks(slow_ms=40))) as sim:
        mapping = _mapping_for(sim, tmp_path)
        interrupted, straight = tmp_path / "interrupted", tmp_path / "straight"

        process = subprocess.Popen(_sync_command(sim, mapping), env=_subprocess_env(interrupted, sim),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        reached = _wait_for_checkpoint(interrupted / "retsctl.db", process, beyond=150)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL

        resumed = subprocess.run(_sync_command(sim, mapping), env=_subprocess_env(interrupted, sim),
                                 capture_output=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr.decode()
        summary = json.loads(resumed.stdout)
        whole = subprocess.run(_sync_command(sim, mapping), env=_subprocess_env(straight, sim),
                               capture_output=True, timeout=120)
        assert whole.returncode == 0, whole.stderr.decode()
        total = json.loads(whole.stdout)["fetched"]

    assert reached - 1 <= total - summary["fetched"]  # the resumed run did not refetch everything
    assert _final_table(interrupted / "retsctl.db") == _final_table(straight / "retsctl.db")
    with sqlite3.connect(interrupted / "retsctl.db") as db:
        runs = db.execute("SELECT status, mode FROM sync_runs ORDER BY id").fetchall()
    assert runs == [("interrupted", "full"), ("succeeded", "resume")]


def test_killed_sync_with_a_writer_process_resumes_to_the_same_table(tmp_path: Path) -> None:
    """kill -9 of a run whose pages a writer process commits: the orphaned writer stops by itself
    and the resumed run ends with the same table as one uninterrupted run."""
    with start_simulator(SimulatorConfig(listings=3000, page_cap=100, quirks=Quirks(slow_ms=15))) as sim:
        mapping = _mapping_for(sim, tmp_path)
        interrupted, straight = tmp_path / "interrupted", tmp_path / "straight"

        process = subprocess.Popen(_sync_command(sim, mapping), env=_subprocess_env(interrupted, sim),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        writer = _wait_for_writer_process(process)
        reached = _wait_for_checkpoint(interrupted / "retsctl.db", process, beyond=1300)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        _wait_until_gone(writer)

        resumed = subprocess.run(_sync_command(sim, mapping), env=_subprocess_env(interrupted, sim),
                                 capture_output=True, timeout=120)
        assert resumed.returncode == 0, resumed.stderr.decode()
        whole = subprocess.run(_sync_command(sim, mapping), env=_subprocess_env(straight, sim),
                               capture_output=True, timeout=120)
        assert whole.returncode == 0, whole.stderr.decode()

    assert reached - 1 <= json.loads(whole.stdout)["fetched"] - json.loads(resumed.stdout)["fetched"]
    assert _final_table(interrupted / "retsctl.db") == _final_table(straight / "retsctl.db")
    with sqlite3.connect(interrupted / "retsctl.db") as db:
        runs = db.execute("SELECT status, mode FROM sync_runs ORDER BY id").fetchall()
    assert runs == [("interrupted", "full"), ("succeeded", "resume")]


def test_ctrl_c_during_a_sync_with_a_writer_process_is_an_interruption(tmp_path: Path) -> None:
    """SIGINT reaches the run (not its writer, in its own process group): what was handed over is
    committed, and the command says "Interrupted." with exit 130, not a bug report."""
    with start_simulator(SimulatorConfig(listings=3000, page_cap=100, quirks=Quirks(slow_ms=15))) as sim:
        mapping = _mapping_for(sim, tmp_path)
        home = tmp_path / "home"
        process = subprocess.Popen(_sync_command(sim, mapping), env=_subprocess_env(home, sim),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        writer = _wait_for_writer_process(process)
        _wait_for_checkpoint(home / "retsctl.db", process, beyond=1300)
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=60)
        _wait_until_gone(writer)

    assert process.returncode == 130, err.decode()
    assert "Interrupted" in err.decode() and "bug" not in err.decode()
    with sqlite3.connect(home / "retsctl.db") as db:
        status = db.execute("SELECT status FROM sync_runs").fetchone()[0]
        stored = db.execute("SELECT count(*) FROM raw_records").fetchone()[0]
        (next_offset,) = db.execute("SELECT next_offset FROM checkpoints").fetchone()
    # Every page handed to the writer is cached, and the checkpoint says so (a page being handed
    # over when Ctrl-C came is fetched again by the resumed run).
    assert status == "failed" and stored == next_offset - 1 >= 1300


def _wait_for_writer_process(process: subprocess.Popen[bytes]) -> int:
    """The PID of the sync's writer process (Linux: /proc lists a task's children)."""
    deadline = time.monotonic() + 60
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    while time.monotonic() < deadline and process.poll() is None:
        for pid in children.read_text().split():
            if b"retsctl.sync.writer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return int(pid)
        time.sleep(0.02)
    raise AssertionError("the sync never started a writer process")


def _wait_until_gone(pid: int) -> None:
    deadline = time.monotonic() + 10
    stat = Path(f"/proc/{pid}/stat")
    while time.monotonic() < deadline:
        try:
            state = stat.read_text().rpartition(")")[2].split()[0]
        except FileNotFoundError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.02)
    raise AssertionError(f"the orphaned writer process {pid} did not stop")


def test_sync_pushes_into_postgres_and_enqueues_enrichment_once(
        feed: tuple[RunningSimulator, Path, list[str]], run_cli: Callable[..., object], migrated_dsn: str) -> None:
    sim, mapping, conn = feed
    first = _summary(run_cli("sync", "--mapping", mapping, *conn, "--dsn", migrated_dsn, "--team-id", "t1", "--json"))
    assert first["status"] == "succeeded" and first["pushed"] == first["inserted"] > 100
    assert scalar(migrated_dsn, "SELECT count(*) FROM properties WHERE team_id = 't1'") == first["inserted"]
    jobs = scalar(migrated_dsn, "SELECT count(*) FROM enrichment_jobs")
    assert jobs == first["inserted"]

    again = _summary(run_cli("sync", "--mapping", mapping, *conn, "--dsn", migrated_dsn, "--team-id", "t1", "--json"))
    assert again["pushed"] == 0
    assert scalar(migrated_dsn, "SELECT count(*) FROM enrichment_jobs") == jobs

    touched = [r[0] for r in _pg_keys(migrated_dsn)[:2]]
    for key in touched:
        sim.touch(key)
    changed = _summary(run_cli("sync", "--mapping", mapping, *conn, "--dsn", migrated_dsn, "--team-id", "t1", "--json"))
    assert changed["updated"] == changed["pushed"] == 2
    assert scalar(migrated_dsn, "SELECT count(*) FROM enrichment_jobs") == jobs + 2


def _pg_keys(dsn: str) -> list[tuple[str]]:
    import psycopg

    with psycopg.connect(dsn) as connection:
        return connection.execute("SELECT source_key FROM properties ORDER BY source_key").fetchall()


def test_failed_push_is_partial_and_push_later_delivers(
        feed: tuple[RunningSimulator, Path, list[str]], run_cli: Callable[..., object], migrated_dsn: str) -> None:
    _sim, mapping, conn = feed
    dead = "postgresql://postgres:dsn-secret-42@127.0.0.1:1/postgres?connect_timeout=1"
    partial = run_cli("sync", "--mapping", mapping, *conn, "--dsn", dead, "--timeout", "2", "--no-photos",
                      "--team-id", "t1", "--json")
    assert partial.exit_code == 5, partial.stderr
    assert "dsn-secret-42" not in partial.stdout + partial.stderr
    summary = _summary(partial)
    assert summary["status"] == "partial" and summary["pushed"] == 0 and summary["inserted"] > 100

    pushed = run_cli("push", "--dsn", migrated_dsn, "--json")
    assert pushed.exit_code == 0, pushed.stderr
    assert json.loads(pushed.stdout) == {"ok": True, "pushed": summary["inserted"], "quarantined": 0, "pending": 0}
    assert scalar(migrated_dsn, "SELECT count(*) FROM properties") == summary["inserted"]


def test_pushing_needs_a_team(feed: tuple[RunningSimulator, Path, list[str]], run_cli: Callable[..., object],
                              migrated_dsn: str) -> None:
    _sim, mapping, conn = feed
    result = run_cli("sync", "--mapping", mapping, *conn, "--dsn", migrated_dsn)
    assert result.exit_code == 2 and "--team-id" in result.stderr


def test_demo_runs_the_main_job_on_the_embedded_default(run_cli: Callable[..., object], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("demo", "--listings", "60")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "mappings" / "simulator.toml").exists()
    assert "Incremental sync" in result.stderr and "deleted" in result.stdout
