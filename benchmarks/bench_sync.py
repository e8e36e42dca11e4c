#!/usr/bin/env python3
"""Sync benchmark: ``retsctl sync`` of N simulated listings into SQLite against the lxml floor, in one run.

One simulator process (``retsctl.simulator.server.serve_forever``, what ``retsctl simulate --json``
runs; page cap 2500) is sized so that class ``RES`` holds exactly N listings (default 100,000; the
simulator puts about 15% of its listings in ``LND``). A mapping is suggested from its metadata with
``retsctl mapping init`` (COMPACT, the recommended sync format). Both queries are warmed up, then
every step runs as its own subprocess under GNU time (wall seconds from spawn to exit, CPU seconds
with its writer process's, peak RSS of the child itself); for the syncs, /proc is also sampled every
50 ms for the highest sums of RSS and of PSS over the sync and its writer process:

* ``floor``        ../shared/bench/floor_lxml.py: requests + lxml iterparse into dicts (COMPACT-DECODED;
                   the floor has no format option, hence the next-but-one step);
* ``sync``         ``retsctl sync --full --no-photos --no-push`` (the mapping's COMPACT) into an empty
                   ``$RETSCTL_HOME``: raw records, ``properties`` rows and the outbox;
* ``incremental``  the same command without ``--full`` right after: nothing changed on the server;
* ``sync-decoded`` a full sync with a COMPACT-DECODED mapping into another empty home: the same
                   bytes on the wire as the floor;
* ``wire``         the floor's downloads without parsing (reference: the server's and HTTP's share).

Every full run must deliver N records (the floor also in ascending key order); each full sync must
report N fetched and N inserted, nothing rejected, and leave N raw records, N ``properties`` rows
and N outbox rows; the incremental run must insert and update nothing.

With ``--repeat R`` the five steps run R rounds in turn; each step's fastest good run counts, with
the highest peak of its good runs. Each full sync goes into a fresh home, deleted after its round
(about 5 KB a listing on disk).

Goals (issue 3): each full sync reaches at least half the floor's records/s; every sync peaks under
120 MB (its RSS plus its writer process's); the incremental run takes under 5% of the full sync's
time, the time each run reports and ``sync_runs`` keeps (``elapsed_s``). The processes' wall times
are shown too: a fresh interpreter that imports requests, sqlite-utils and typer needs about 0.3 s
before any work, which is about 5% of a full sync at half the floor's speed. Exit 1 when a goal is
missed, 2 when a check fails. The machine has two cores and the simulator needs one: compare ratios
from one run only, and see the CPU columns, which depend much less on load (benchmarks/README.md).

Usage: python benchmarks/bench_sync.py [--listings 100000 | --quick] [--repeat 1] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench_query import (
    CLASS,
    PAGE_CAP,
    QUERY,
    Command,
    Expected,
    Measured,
    Server,
    check,
    client_commands,
    gnu_time,
    last_json_line,
    listings_holding,
    measure,
    progress,
    simulator,
)

from retsctl.mapping import Mapping
from retsctl.rets.dmql import and_all, modified_since
from retsctl.sync.engine import EPOCH

MIN_THROUGHPUT_RATIO = 0.5
RSS_BUDGET_MB = 120.0
MAX_INCREMENTAL_SHARE = 0.05
FORMATS = {"floor": "COMPACT-DECODED", "sync": "COMPACT", "incremental": "COMPACT",
           "sync-decoded": "COMPACT-DECODED", "wire": "COMPACT-DECODED"}  # step -> record format pulled


@dataclass
class Step:
    """One timed subprocess: wall, CPU and peak RSS from GNU time; ``in_process_s`` is the sync's own
    elapsed_s; for syncs, the peak sums of RSS and PSS over the process and its writer process."""

    name: str
    seconds: float
    cpu_seconds: float
    peak_mb: float
    records: int | None
    in_process_s: float | None
    ok: bool
    note: str = ""
    tree_rss_mb: float | None = None
    tree_pss_mb: float | None = None

    @property
    def memory_mb(self) -> float:
        """What the memory budget is held to: the larger of the process's own peak and its tree's."""
        return max(self.peak_mb, self.tree_rss_mb or 0.0)


# ---------------------------------------------------------------------------------------------
# Commands


def sync_env(home: Path, server: Server) -> dict[str, str]:
    """A fresh ``$RETSCTL_HOME``, no keyring, the password from the environment (never on argv)."""
    return {**os.environ, "RETSCTL_HOME": str(home), "RETSCTL_PASSWORD": server.password,
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}


def retsctl_argv(server: Server, *args: str) -> list[str]:
    return [sys.executable, "-m", "retsctl", *args, "--url", server.login_url, "--username", server.username]


def write_mapping(server: Server, path: Path, record_format: str, env: dict[str, str]) -> Mapping:
    """``retsctl mapping init`` for Property/RES in ``record_format``, loaded back."""
    argv = retsctl_argv(server, "mapping", "init", "--resource", "Property", "--class", CLASS,
                        "--out", str(path), "--format", record_format, "--json")
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"mapping init failed ({done.returncode}): {done.stderr[-2000:]}")
    return Mapping.load(path)


def full_sync_query(mapping: Mapping) -> str:
    """The query a full sync sends (to warm the simulator's match cache up)."""
    return and_all(modified_since(mapping.timestamp_field, EPOCH), mapping.base_filter or "")


def warm_up(wire: Command, timer: str, work: Path, query: str) -> None:
    """Two pages of ``query``, so the simulator has evaluated it before the timed runs."""
    argv, env = wire
    measured = measure(timer, [*argv, "--query", query, "--pages", "2"], work / "warm.out", work / "warm.err", env)
    if measured.returncode != 0:
        raise SystemExit(f"warm-up failed: {(work / 'warm.err').read_text()[-2000:]}")
    progress(f"#   warm-up {query:<45} {measured.seconds:6.2f} s")


# ---------------------------------------------------------------------------------------------
# Steps


def failure(measured: Measured, stderr: Path) -> str:
    tail = stderr.read_text(errors="replace").strip().splitlines()[-2:]
    return f"exit {measured.returncode}: {' | '.join(tail)}"


def step(name: str, measured: Measured, records: int | None, in_process_s: float | None, note: str) -> Step:
    return Step(name, measured.seconds, measured.cpu_seconds, measured.peak_mb, records, in_process_s,
                not note, note, measured.tree_rss_mb, measured.tree_pss_mb)


def full_sync_problems(summary: dict[str, Any], home: Path, records: int) -> str:
    """Why a full sync's counts or stored rows differ from ``records`` ("" when they do not)."""
    problems = [f"{name} {summary.get(name)}, expected {want}"
                for name, want in (("fetched", records), ("inserted", records), ("rejected", 0))
                if summary.get(name) != want]
    with closing(sqlite3.connect(home / "retsctl.db")) as db:
        for table in ("raw_records", "properties", "outbox"):
            stored = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            if stored != records:
                problems.append(f"{stored} rows in {table}, expected {records}")
    return "; ".join(problems)


def incremental_problems(summary: dict[str, Any]) -> str:
    return "; ".join(f"{name} {summary.get(name)}, expected 0" for name in ("inserted", "updated", "rejected")
                     if summary.get(name) != 0)


@dataclass
class Rig:
    """One simulator and what every timed step against it needs."""

    server: Server
    timer: str
    work: Path
    expected: Expected
    mappings: dict[str, Path]  # record format -> mapping file

    def client(self, name: str, command: Command) -> Step:
        """The floor or the wire client: one JSON summary line, checked against the expected records."""
        argv, env = command
        out, err = self.work / f"{name}.out", self.work / f"{name}.err"
        measured = measure(self.timer, argv, out, err, env)
        delivered = last_json_line(out) if measured.returncode == 0 else {}
        note = check(delivered, self.expected) if measured.returncode == 0 else failure(measured, err)
        records = delivered.get("records")
        return self.shown(step(name, measured, records if isinstance(records, int) else None, None, note))

    def sync(self, name: str, home: Path, *extra: str) -> tuple[Step, dict[str, Any]]:
        """One ``retsctl sync --json`` into ``home``: the step and the run's summary document."""
        argv = retsctl_argv(self.server, "sync", "--mapping", str(self.mappings[FORMATS[name]]), "--no-photos",
                            "--no-push", "--json", *extra)
        out, err = self.work / f"{name}.out", self.work / f"{name}.err"
        measured = measure(self.timer, argv, out, err, sync_env(home, self.server), sample_tree=True)
        if measured.returncode != 0:
            return step(name, measured, None, None, failure(measured, err)), {}
        summary = json.loads(out.read_text())
        return step(name, measured, summary["fetched"], summary["elapsed_s"], ""), summary

    def full_sync(self, name: str, home: Path) -> Step:
        found, summary = self.sync(name, home, "--full")
        return self.shown(self.checked(found, full_sync_problems(summary, home, self.expected.records)
                                       if found.ok else ""))

    def incremental(self, home: Path) -> Step:
        found, summary = self.sync("incremental", home)
        return self.shown(self.checked(found, incremental_problems(summary) if found.ok else ""))

    @staticmethod
    def checked(found: Step, problems: str) -> Step:
        if problems:
            found.ok, found.note = False, problems
        return found

    @staticmethod
    def shown(found: Step) -> Step:
        progress(f"#   {found.name:<13} {found.seconds:7.2f} s {found.cpu_seconds:7.2f} CPU s "
                 f"{found.memory_mb:6.1f} MB {found.note}")
        return found


def one_round(rig: Rig, commands: dict[str, Command]) -> list[Step]:
    """Floor, full sync, incremental rerun, full COMPACT-DECODED sync, wire; each sync into a fresh home."""
    steps = [rig.client("floor", commands["floor"])]
    home = rig.work / "home"
    steps += [rig.full_sync("sync", home), rig.incremental(home)]
    shutil.rmtree(home)  # 1.5 GB at 100,000 listings
    steps.append(rig.full_sync("sync-decoded", home))
    shutil.rmtree(home)
    steps.append(rig.client("wire", commands["wire"]))
    return steps


def bench(records: int, repeat: int, timer: str, work: Path) -> tuple[list[Step], dict[str, object]]:
    """``repeat`` rounds of every step against one simulator whose RES class holds ``records``."""
    listings, expected = listings_holding(records)
    progress(f"# {records:,} RES records: simulator with {listings:,} listings, page cap {PAGE_CAP}")
    with simulator(listings, work) as server:
        init_env = sync_env(work / "home-init", server)
        mappings = {fmt: work / f"sim-{fmt.lower()}.toml" for fmt in ("COMPACT", "COMPACT-DECODED")}
        loaded = {fmt: write_mapping(server, path, fmt, init_env) for fmt, path in mappings.items()}
        factories = client_commands(server)
        floor_argv, floor_env = factories["floor"]()
        commands = {"floor": ([*floor_argv, "--expect", str(records)], floor_env), "wire": factories["wire"]()}
        warm_up(commands["wire"], timer, work, QUERY)
        warm_up(commands["wire"], timer, work, full_sync_query(loaded["COMPACT"]))
        rig = Rig(server, timer, work, expected, mappings)
        steps = [found for _ in range(repeat) for found in one_round(rig, commands)]
    return steps, {"listings": listings, "records": records, "first_key": expected.first_key,
                   "last_key": expected.last_key}


def best_of(steps: list[Step]) -> Step:
    """The fastest good run, with the highest peak of the good runs (or the first run if none was good)."""
    good = [s for s in steps if s.ok]
    if not good:
        return steps[0]
    def highest(values: list[float | None]) -> float | None:
        return max((v for v in values if v is not None), default=None)

    return replace(min(good, key=lambda s: s.seconds), peak_mb=max(s.peak_mb for s in good),
                   tree_rss_mb=highest([s.tree_rss_mb for s in good]), tree_pss_mb=highest([s.tree_pss_mb for s in good]))


# ---------------------------------------------------------------------------------------------
# Reporting


def ratios(steps: dict[str, Step]) -> dict[str, float | None]:
    """Throughput of each full sync over the floor's, and the incremental run's share of the full one."""
    floor, full, again = steps["floor"], steps["sync"], steps["incremental"]

    def over_floor(name: str, cpu: bool = False) -> float | None:
        found = steps[name]
        if not (floor.ok and found.ok):
            return None
        return round(floor.cpu_seconds / found.cpu_seconds if cpu else floor.seconds / found.seconds, 3)

    return {
        "sync_vs_floor_throughput": over_floor("sync"),
        "sync_decoded_vs_floor_throughput": over_floor("sync-decoded"),
        "sync_vs_floor_records_per_cpu_s": over_floor("sync", cpu=True),
        "sync_decoded_vs_floor_records_per_cpu_s": over_floor("sync-decoded", cpu=True),
        "incremental_vs_full_time": round(again.seconds / full.seconds, 4) if full.ok and again.ok else None,
        "incremental_vs_full_time_in_process": (round(again.in_process_s / full.in_process_s, 4)
                                                if full.in_process_s and again.in_process_s is not None else None),
    }


def goals(steps: dict[str, Step], found: dict[str, float | None]) -> list[str]:
    """The issue's three goals, one verdict line each (per full sync for throughput)."""
    lines = []
    for name, key in (("sync", "sync_vs_floor_throughput"), ("sync-decoded", "sync_decoded_vs_floor_throughput")):
        ratio = found[key]
        verdict = "OK" if ratio is not None and ratio >= MIN_THROUGHPUT_RATIO else "MISSED"
        lines.append(f"throughput {name} ({FORMATS[name]}): {verdict} ({ratio} x floor, goal >= {MIN_THROUGHPUT_RATIO})")
    for name in ("sync", "incremental", "sync-decoded"):
        peak = steps[name].memory_mb
        verdict = "OK" if steps[name].ok and peak < RSS_BUDGET_MB else "MISSED"
        lines.append(f"memory {name}: {verdict} ({peak:.1f} MB RSS with its writer process, budget {RSS_BUDGET_MB:g})")
    share = found["incremental_vs_full_time_in_process"]
    verdict = "OK" if share is not None and share < MAX_INCREMENTAL_SHARE else "MISSED"
    lines.append(f"incremental, the runs' own time (elapsed_s, as sync_runs keeps it): {verdict} "
                 f"({share} x the full sync's, goal < {MAX_INCREMENTAL_SHARE})")
    again = steps["incremental"]
    start_up = again.seconds - (again.in_process_s or 0.0)
    lines.append(f"incremental, process wall time: INFO ({found['incremental_vs_full_time']} x the full sync's; "
                 f"{start_up:.2f} s of its {again.seconds:.2f} s is interpreter start, imports and exit)")
    return lines


def table_row(found: Step, floor: Step) -> str:
    pulled_all = found.ok and found.name != "incremental"
    rate = f"{found.records / found.seconds:,.0f}" if pulled_all and found.records else "-"
    vs_floor = f"{floor.seconds / found.seconds:.2f}" if pulled_all and floor.ok else "-"
    inside = f"{found.in_process_s:.2f}" if found.in_process_s is not None else "-"
    records = f"{found.records:,}" if found.records is not None else "-"
    pss = f"{found.tree_pss_mb:.1f}" if found.tree_pss_mb is not None else "-"
    return (f"{found.name:<13} {FORMATS[found.name]:<16} {found.seconds:>8.2f} {inside:>8} {found.cpu_seconds:>7.2f} "
            f"{records:>8} {rate:>10} {vs_floor:>9} {found.memory_mb:>8.1f} {pss:>7}  {found.note}")


def print_table(steps: list[Step]) -> None:
    header = (f"{'step':<13} {'format':<16} {'wall s':>8} {'inner s':>8} {'CPU s':>7} {'records':>8} "
              f"{'records/s':>10} {'x floor/s':>9} {'peak MB':>8} {'PSS MB':>7}  note")
    print(header)
    print("-" * len(header))
    floor = steps[0]
    for found in steps:
        print(table_row(found, floor))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--listings", type=int, default=100_000,
                    help="RES listings to sync; the simulator is sized so class RES holds exactly this many [100000]")
    ap.add_argument("--quick", action="store_true", help="5,000 listings")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of every step; the fastest run of each counts [1]")
    ap.add_argument("--json-out", type=Path, help="also write the JSON summary to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.listings = 5000
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    timer = gnu_time()
    with tempfile.TemporaryDirectory(prefix="retsctl-bench-sync-") as scratch:
        runs, dataset = bench(args.listings, args.repeat, timer, Path(scratch))
    best = {name: best_of([r for r in runs if r.name == name]) for name in FORMATS}
    found = ratios(best)
    verdicts = goals(best, found)
    print_table(list(best.values()))
    print("\n".join(verdicts))
    summary = {**dataset, "class": CLASS, "page_cap": PAGE_CAP, "repeat": args.repeat,
               "peak_rss": "GNU time %M (the child's own); for syncs the larger of that and the highest sum of RSS "
                           "over the sync and its writer process (sampled every 50 ms); PSS likewise",
               "ratios": found, "goals": verdicts,
               "results": [{**asdict(s), "format": FORMATS[s.name],
                            "records_per_s": (round(s.records / s.seconds)
                                              if s.ok and s.records and s.name != "incremental" else None)}
                           for s in best.values()],
               "runs": [asdict(r) for r in runs]}
    print(json.dumps(summary))
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=2) + "\n")
    if not all(s.ok for s in best.values()):
        return 2
    return 1 if any("MISSED" in line for line in verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())
