#!/usr/bin/env python3
"""End-to-end pull benchmark: ``retsctl query --format jsonl`` against the lxml floor and other RETS clients.

For each size N it starts the simulator (``retsctl.simulator.server.serve_forever``, what ``retsctl
simulate --json`` runs) in its own process, holding exactly N ``RES`` listings: Digest auth, page cap
2500, about 150 columns and 3.5 KB a row in COMPACT-DECODED. One untimed download warms it up; then
every client runs as its own subprocess, one after the other, over the same pages:

* ``floor``       ../shared/bench/floor_lxml.py: requests + lxml.etree.iterparse into dicts;
* ``retsctl``     ``retsctl query Property RES '(ListPrice=0+)' --format jsonl`` (stdout to a file);
* ``rets``        PyPI ``rets`` 1.0.0 (refindlyllc), in its own venv;
* ``rets-python`` PyPI ``rets-python`` 0.4.12 (opendoor-labs), in its own venv;
* ``rets-client`` npm ``rets-client`` 5.2.4, in a throwaway node project;
* ``wire``        the floor's downloads without parsing: what the server and HTTP cost on their own.

Each client runs under GNU time: wall seconds (spawn to exit), its own CPU seconds, and its own
peak RSS. Every client must deliver exactly N records (and, where it reports them, the first and
last ListingKey the simulator holds). Venvs and node_modules live in ``~/.cache/retsctl-bench``
(or ``$RETSCTL_BENCH_CACHE``), made on first use.

Usage: python benchmarks/bench_query.py [--sizes 50000,200000 | --quick] [--repeat 1]
                                        [--clients floor,retsctl,...] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ANCHORS = HERE / "anchors"
CACHE = Path(os.environ.get("RETSCTL_BENCH_CACHE", Path.home() / ".cache" / "retsctl-bench"))

CLASS = "RES"
QUERY = "(ListPrice=0+)"
KEY = "ListingKey"
PAGE_CAP = 2500
RSS_BUDGET_MB = 80.0
RUN_TIMEOUT_S = 1800.0
ALL_CLIENTS = ("floor", "retsctl", "rets", "rets-python", "rets-client", "wire")
DESCRIPTIONS = {
    "floor": "requests + lxml iterparse (floor)",
    "retsctl": "retsctl query --format jsonl",
    "rets": "PyPI rets 1.0.0",
    "rets-python": "PyPI rets-python 0.4.12",
    "rets-client": "npm rets-client 5.2.4",
    "wire": "download only, no parsing",
}
PYTHON_ANCHORS = {  # client -> (venv name, pip requirement, script)
    "rets": ("venv-rets-1.0.0", "rets==1.0.0", "rets_refindly.py"),
    "rets-python": ("venv-rets-python-0.4.12", "rets-python==0.4.12", "rets_python.py"),
}
NODE_PACKAGE = "rets-client@5.2.4"
_SERVE = (
    "import sys; from retsctl.simulator.server import SimulatorConfig, serve_forever; "
    "serve_forever(SimulatorConfig(listings=int(sys.argv[1]), page_cap=int(sys.argv[2])), "
    "'127.0.0.1', 0, sys.stdout, True)"
)


@dataclass(frozen=True)
class Server:
    login_url: str
    username: str
    password: str


@dataclass(frozen=True)
class Expected:
    records: int
    first_key: str
    last_key: str


@dataclass(frozen=True)
class Measured:
    seconds: float
    cpu_seconds: float
    peak_mb: float  # the child's own peak RSS (GNU time)
    returncode: int
    # Sampled every TREE_SAMPLE_S from /proc (Linux), over the child and every process it started:
    tree_rss_mb: float | None = None  # the highest sum of their RSS (shared pages counted in each)
    tree_pss_mb: float | None = None  # the highest sum of their PSS (shared pages split between them)


@dataclass
class Run:
    client: str
    size: int
    seconds: float
    cpu_seconds: float
    peak_mb: float
    records: int | None
    ok: bool
    note: str = ""


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Measuring one child process


def gnu_time() -> str:
    """The GNU time program, which reports its child's own peak RSS.

    ``os.wait4`` on a child spawned from here would not do: Linux counts the memory the child had
    between fork and exec (this whole process) in its ``ru_maxrss``.
    """
    found = shutil.which("time", path="/usr/bin:/bin")
    if found:
        probe = subprocess.run([found, "--version"], capture_output=True, text=True)
        if "GNU" in probe.stdout + probe.stderr:
            return found
    raise SystemExit("GNU time is needed to measure peak memory (Debian: apt-get install time)")


def measure(timer: str, argv: list[str], stdout: Path, stderr: Path, env: dict[str, str] | None,
            *, sample_tree: bool = False) -> Measured:
    """Run ``argv`` under GNU time: wall seconds, CPU seconds (user + system, its waited-for
    children's included) and peak RSS in MiB; with ``sample_tree``, the peaks of its process tree."""
    report = stderr.with_suffix(".time")
    with stdout.open("wb") as out, stderr.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([timer, "--format", "%U %S %M", "--output", str(report), *argv],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        sampler = TreeSampler(proc.pid) if sample_tree else None
        try:
            returncode = proc.wait(timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            returncode = proc.wait()
        seconds = time.perf_counter() - start
        peaks = sampler.stop() if sampler is not None else (None, None)
    figures = report.read_text().split()[-3:]  # after a "Command exited with non-zero status" line, if any
    user, system, peak_kib = figures if len(figures) == 3 else ("0", "0", "0")
    return Measured(seconds, float(user) + float(system), int(peak_kib) / 1024, returncode, *peaks)


TREE_SAMPLE_S = 0.05


class TreeSampler:
    """Samples the memory of every process below ``root`` (not ``root`` itself: GNU time)."""

    def __init__(self, root: int) -> None:
        self._root = root
        self._rss = self._pss = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> tuple[float | None, float | None]:
        self._done.set()
        self._thread.join()
        return (self._rss or None), (self._pss or None)

    def _run(self) -> None:
        while not self._done.wait(TREE_SAMPLE_S):
            rss = pss = 0.0
            for pid in _descendants(self._root):
                rss_mb, pss_mb = _memory_mb(pid)
                rss, pss = rss + rss_mb, pss + pss_mb
            self._rss, self._pss = max(self._rss, rss), max(self._pss, pss)


def _descendants(pid: int) -> list[int]:
    try:
        children = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return [found for child in children for found in (child, *_descendants(child))]


def _memory_mb(pid: int) -> tuple[float, float]:
    """RSS and PSS of one process in MiB (0 when it is gone)."""
    try:
        fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:])
    except (OSError, ValueError):
        return 0.0, 0.0
    return int(fields["Rss"].split()[0]) / 1024, int(fields["Pss"].split()[0]) / 1024


# ---------------------------------------------------------------------------------------------
# The simulator


def listings_holding(records: int) -> tuple[int, Expected]:
    """How many listings the simulator needs so that class RES holds exactly ``records``, and their keys."""
    from retsctl.simulator.dataset import Dataset

    total = int(records / 0.8) + 1000
    dataset = Dataset(total)
    while len(dataset.keys(CLASS)) < records:
        total *= 2
        dataset = Dataset(total)
    keys = dataset.keys(CLASS)
    # Keys ascend with the generation index and a prefix of the data does not depend on the total,
    # so the listings up to the records-th RES one hold exactly that many RES listings.
    last = keys[records - 1]
    return (dataset.index_of(last) or 0) + 1, Expected(records, keys[0], last)


@contextmanager
def simulator(listings: int, logs: Path) -> Iterator[Server]:
    """The simulator in its own process, announced as one JSON line, stopped by SIGTERM after the block."""
    argv = [sys.executable, "-c", _SERVE, str(listings), str(PAGE_CAP)]
    with (logs / "simulator.stderr").open("wb") as err:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
    try:
        assert proc.stdout is not None
        announced = proc.stdout.readline()
        if not announced:
            raise SystemExit(f"the simulator exited early: {(logs / 'simulator.stderr').read_text()[-2000:]}")
        details = json.loads(announced)
        yield Server(details["login_url"], details["username"], details["password"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)


# ---------------------------------------------------------------------------------------------
# Client environments (made once, kept in CACHE)


def floor_script() -> Path:
    """floor_lxml.py in the shared/ folder beside the repo, else under $RETSCTL_SHARED."""
    beside = REPO.parent / "shared" / "bench" / "floor_lxml.py"
    if beside.exists() or "RETSCTL_SHARED" not in os.environ:
        return beside
    return Path(os.environ["RETSCTL_SHARED"]) / "bench" / "floor_lxml.py"


def _setup(argv: list[str], log: Path, cwd: Path | None = None) -> None:
    with log.open("ab") as out:
        subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, check=True)


def python_anchor(client: str) -> Path:
    """The python of ``client``'s own venv, made on first use."""
    venv_name, requirement, _ = PYTHON_ANCHORS[client]
    venv = CACHE / venv_name
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if not marker.exists():
        progress(f"#   making {venv} ({requirement})")
        CACHE.mkdir(parents=True, exist_ok=True)
        log = CACHE / f"{venv_name}.log"
        _setup([sys.executable, "-m", "venv", "--clear", str(venv)], log)
        _setup([str(python), "-m", "pip", "install", "--quiet", requirement], log)
        marker.write_text(requirement + "\n")
    return python


def node_anchor() -> Path:
    """node_modules holding rets-client (node-expat built against the system node), made on first use."""
    if not (shutil.which("node") and shutil.which("npm")):
        raise FileNotFoundError("node and npm are needed for rets-client")
    project = CACHE / "node-rets-client"
    marker = project / ".installed"
    if not marker.exists():
        progress(f"#   making {project} ({NODE_PACKAGE})")
        project.mkdir(parents=True, exist_ok=True)
        (project / "package.json").write_text('{"name": "retsctl-bench-anchor", "private": true}\n')
        log = CACHE / "node-rets-client.log"
        _setup(["npm", "install", "--no-audit", "--no-fund", NODE_PACKAGE], log, cwd=project)
        _setup(["npm", "rebuild", "node-expat", "--foreground-scripts", "--nodedir=/usr"], log, cwd=project)
        marker.write_text(NODE_PACKAGE + "\n")
    return project / "node_modules"


def anchor_env(**extra: str) -> dict[str, str]:
    """The environment for a third-party client: ours, without anything pointing into this repo."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "NODE_PATH")}
    env.update(extra)
    return env


# ---------------------------------------------------------------------------------------------
# Clients: each gives (argv, env) for one pull; records land in stdout (retsctl) or a JSON summary


Command = tuple[list[str], dict[str, str] | None]


def client_commands(server: Server) -> dict[str, Callable[[], Command]]:
    """A factory per client (calling it may first build that client's environment)."""
    common = ["--url", server.login_url, "--user", server.username, "--password", server.password,
              "--class", CLASS, "--query", QUERY]

    def python_client(client: str) -> Callable[[], Command]:
        return lambda: ([str(python_anchor(client)), str(ANCHORS / PYTHON_ANCHORS[client][2]), *common], anchor_env())

    return {
        "floor": lambda: ([sys.executable, str(floor_script()), *common, "--page-size", str(PAGE_CAP)], None),
        "retsctl": lambda: (
            [sys.executable, "-m", "retsctl", "query", "Property", CLASS, QUERY, "--format", "jsonl",
             "--url", server.login_url, "--username", server.username, "--password", server.password],
            None,
        ),
        "rets": python_client("rets"),
        "rets-python": python_client("rets-python"),
        "rets-client": lambda: (["node", str(ANCHORS / "rets_client.js"), *common],
                                anchor_env(NODE_PATH=str(node_anchor()))),
        "wire": lambda: ([sys.executable, str(ANCHORS / "wire_only.py"), *common], None),
    }


def jsonl_summary(path: Path) -> dict[str, object]:
    """Records, first and last ListingKey of a JSON-lines file (read after the clock stopped)."""
    records = 0
    first = last = b""
    with path.open("rb") as lines:
        for line in lines:
            first = first or line
            last = line
            records += 1
    return {
        "records": records,
        "first_key": json.loads(first)[KEY] if first else None,
        "last_key": json.loads(last)[KEY] if last else None,
    }


def last_json_line(path: Path) -> dict[str, object]:
    lines = path.read_bytes().strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def check(delivered: dict[str, object], expected: Expected) -> str:
    """Why ``delivered`` differs from what the server holds ("" when it does not)."""
    problems = []
    if delivered.get("records") != expected.records:
        problems.append(f"{delivered.get('records')} records, expected {expected.records}")
    if delivered.get("in_order", expected.records) != expected.records:  # the floor counts ascending keys
        problems.append(f"only {delivered.get('in_order')} records in ascending key order")
    for name in ("first_key", "last_key"):
        if name in delivered and delivered[name] != getattr(expected, name):
            problems.append(f"{name} {delivered[name]!r}, expected {getattr(expected, name)!r}")
    return "; ".join(problems)


def run_client(client: str, factory: Callable[[], Command], timer: str, size: int, expected: Expected,
               work: Path) -> Run:
    """Build the client's environment if needed, time one pull and check what it delivered."""
    try:
        argv, env = factory()
    except (OSError, subprocess.CalledProcessError) as exc:
        return Run(client, size, 0.0, 0.0, 0.0, None, False, f"not run: {exc}")
    stdout, stderr = work / f"{client}.out", work / f"{client}.err"
    measured = measure(timer, argv, stdout, stderr, env)
    try:
        if measured.returncode != 0:
            tail = stderr.read_text(errors="replace").strip().splitlines()[-2:]
            note, delivered = f"exit {measured.returncode}: {' | '.join(tail)}", {}
        else:
            delivered = jsonl_summary(stdout) if client == "retsctl" else last_json_line(stdout)
            note = check(delivered, expected)
    finally:
        stdout.unlink(missing_ok=True)
    records = delivered.get("records")
    return Run(client, size, measured.seconds, measured.cpu_seconds, measured.peak_mb,
               records if isinstance(records, int) else None, not note, note)


# ---------------------------------------------------------------------------------------------
# Reporting


def best_of(runs: list[Run]) -> Run:
    """The fastest good run, with the highest peak of the good runs (or the first run if none was good)."""
    good = [r for r in runs if r.ok]
    if not good:
        return runs[0]
    fastest = min(good, key=lambda r: r.seconds)
    return Run(fastest.client, fastest.size, fastest.seconds, fastest.cpu_seconds,
               max(r.peak_mb for r in good), fastest.records, True)


def paired_ratio(runs: list[Run], floor_runs: list[Run]) -> float | None:
    """The median over rounds of a client's seconds over the floor's in the same round.

    Rounds run every client back to back, so a ratio within a round cancels how fast the machine
    happened to be during it (on this shared two-core machine that drifts by tens of percent).
    """
    ratios = [run.seconds / floor.seconds for run, floor in zip(runs, floor_runs, strict=False) if run.ok and floor.ok]
    return statistics.median(ratios) if ratios else None


def summarize(runs: list[Run], sizes: list[int], clients: list[str]) -> list[dict[str, object]]:
    """One row per size and client: best seconds, records/s, CPU, peak MB, the ratio of the best
    run to the floor's best, and the median ratio to the floor within a round."""
    rows = []
    for size in sizes:
        each = {c: [r for r in runs if r.size == size and r.client == c] for c in clients}
        best = {c: best_of(client_runs) for c, client_runs in each.items()}
        floor = best.get("floor")
        for client, run in best.items():
            compared = floor is not None and floor.ok and run.ok
            ratio = run.seconds / floor.seconds if compared else None
            cpu_ratio = run.cpu_seconds / floor.cpu_seconds if compared and floor.cpu_seconds else None
            paired = paired_ratio(each[client], each["floor"]) if "floor" in each else None
            rows.append({
                "size": size,
                "client": client,
                "what": DESCRIPTIONS[client],
                "ok": run.ok,
                "seconds": round(run.seconds, 2),
                "records_per_s": round(run.records / run.seconds) if run.ok and run.records else None,
                "cpu_seconds": round(run.cpu_seconds, 2),
                "peak_mb": round(run.peak_mb, 1),
                "ratio_to_floor": round(ratio, 2) if ratio is not None else None,
                "paired_ratio_to_floor": round(paired, 2) if paired is not None else None,
                "cpu_ratio_to_floor": round(cpu_ratio, 2) if cpu_ratio is not None else None,
                "note": run.note,
            })
    return rows


def print_table(rows: list[dict[str, object]]) -> None:
    header = (f"{'size':>8}  {'client':<12} {'seconds':>8} {'records/s':>10} {'peak MB':>8} {'x floor':>8} "
              f"{'paired':>7} {'CPU s':>7} {'CPU x floor':>11}  note")
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio, paired, cpu_ratio = (f"{row[k]:.2f}" if row[k] is not None else "-"
                                    for k in ("ratio_to_floor", "paired_ratio_to_floor", "cpu_ratio_to_floor"))
        rate = f"{row['records_per_s']:,}" if row["records_per_s"] else "-"
        note = row["note"] or ("" if row["ok"] else "FAILED")
        print(f"{row['size']:>8,}  {row['client']:<12} {row['seconds']:>8.2f} {rate:>10} {row['peak_mb']:>8.1f} "
              f"{ratio:>8} {paired:>7} {row['cpu_seconds']:>7.2f} {cpu_ratio:>11}  {note}")


def verdicts(rows: list[dict[str, object]]) -> list[str]:
    """The issue's goal for retsctl at each size: no slower than the floor (the best runs compared,
    and the median ratio within a round), peak under 80 MB."""
    found = []
    for row in rows:
        if row["client"] != "retsctl":
            continue
        ratio, paired, peak = row["ratio_to_floor"], row["paired_ratio_to_floor"], row["peak_mb"]
        fast = all(isinstance(r, float) and r <= 1.0 for r in (ratio, paired))
        small = bool(row["ok"]) and isinstance(peak, float) and peak < RSS_BUDGET_MB
        found.append(
            f"retsctl at {row['size']:,}: time {'OK' if fast else 'MISSED'} ({ratio} x floor, best runs; "
            f"{paired} x floor, median within a round), memory {'OK' if small else 'MISSED'} ({peak} MB, "
            f"budget {RSS_BUDGET_MB:g})"
        )
    return found


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", default="50000,200000", help="comma-separated record counts [50000,200000]")
    ap.add_argument("--quick", action="store_true", help="one small size: 5,000 records")
    ap.add_argument("--repeat", type=int, default=1, help="pulls per client and size; the fastest counts [1]")
    ap.add_argument("--clients", default=",".join(ALL_CLIENTS), help=f"a subset of {','.join(ALL_CLIENTS)}")
    ap.add_argument("--json-out", type=Path, help="also write the JSON summary to this file")
    args = ap.parse_args(argv)
    args.sizes = [5000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    args.clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = set(args.clients) - set(ALL_CLIENTS)
    if unknown:
        ap.error(f"unknown clients: {', '.join(sorted(unknown))}")
    return args


def warm_up(wire: Callable[[], Command], timer: str, work: Path) -> None:
    """Two pages, so the simulator has evaluated the query (it caches the matches) before any client runs."""
    argv, env = wire()
    measured = measure(timer, [*argv, "--pages", "2"], work / "warm-up.out", work / "warm-up.err", env)
    if measured.returncode != 0:
        raise SystemExit(f"warm-up download failed: {(work / 'warm-up.err').read_text()[-2000:]}")
    progress(f"#   warm-up      {measured.seconds:7.2f} s")


def bench_size(size: int, clients: list[str], repeat: int, timer: str, work: Path) -> list[Run]:
    """Every client ``repeat`` times (round-robin) against one simulator holding ``size`` records."""
    listings, expected = listings_holding(size)
    progress(f"# {size:,} records: simulator with {listings:,} listings")
    runs = []
    with simulator(listings, work) as server:
        commands = client_commands(server)
        warm_up(commands["wire"], timer, work)
        for _ in range(repeat):
            for client in clients:
                run = run_client(client, commands[client], timer, size, expected, work)
                progress(f"#   {client:<12} {run.seconds:7.2f} s {run.cpu_seconds:7.2f} CPU s "
                         f"{run.peak_mb:7.1f} MB {run.note}")
                runs.append(run)
    return runs


def compile_retsctl() -> None:
    """Byte-compile retsctl as ``pip install`` does: from an editable checkout, with
    PYTHONDONTWRITEBYTECODE set, every start would otherwise compile each module it imports."""
    import retsctl

    compileall.compile_dir(Path(retsctl.__file__).parent, quiet=1)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    timer = gnu_time()
    compile_retsctl()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="retsctl-bench-") as scratch:
        for size in args.sizes:
            runs += bench_size(size, args.clients, args.repeat, timer, Path(scratch))
    rows = summarize(runs, args.sizes, args.clients)
    print_table(rows)
    goals = verdicts(rows)
    print("\n".join(goals))
    summary = {"page_cap": PAGE_CAP, "class": CLASS, "query": QUERY, "repeat": args.repeat,
               "results": rows, "goals": goals, "runs": [asdict(r) for r in runs]}
    print(json.dumps(summary))
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=2) + "\n")
    if not all(r["ok"] for r in rows if r["client"] == "retsctl"):
        return 2
    return 1 if any("MISSED" in goal for goal in goals) else 0


if __name__ == "__main__":
    sys.exit(main())
