#!/usr/bin/env python3
"""Micro-benchmark: SearchReader versus the lxml iterparse floor on the same COMPACT-DECODED bytes.

Two corpora, both held in memory and cut into chunks (--chunk; by default the 256 KiB chunks the
session feeds SearchReader with):

* ``synthetic``: one body of N rows x 150 columns (~3.3 KB a row, with entities and non-ASCII text);
* ``simulator``: real Search pages of the simulator (161 columns, ~3.5 KB a row, ~6 references a
  row, non-ASCII text), downloaded once with requests from ``start_simulator`` in this process,
  2,500 rows a page, before anything is timed.

Each corpus is turned into dicts both ways, interleaved, and the best of --repeat counts:

* ``retsctl``: ``SearchReader(chunks)`` per body;
* ``lxml``: ``etree.iterparse`` over a stream of the same chunks, ``dict(zip(columns, values))``
  per ``<DATA>`` and elements freed as in /work/shared/bench/floor_lxml.py.

Prints a table, then one JSON line.

Usage: python benchmarks/bench_parser.py [--rows 20000] [--repeat 5] [--corpus both] [--careful]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urljoin

import requests
from lxml import etree
from requests.auth import HTTPDigestAuth

from retsctl.rets.compact import SearchReader
from retsctl.rets.session import CHUNK_SIZE
from retsctl.simulator import SimulatorConfig, start_simulator

COLUMNS = 150
PAGE_SIZE = 2500  # the simulator's page cap
_WORDS = ["Main", "Oak", "Maple", "Residential", "Active", "Single Family", "Garage", "Pool", "Lake View",
          "Café", "Niño", "Montréal", "Straße", "Brick", "Central Air", "Hardwood", "Granite", "2-Story"]
_ESCAPED = ["Kitchen &amp; Bath", "&quot;As is&quot;", "Owner&apos;s suite", "a &lt; b &gt; c", "Line&#xD;&#xA;two"]


def _value(rng: random.Random, column: int) -> str:
    kind = column % 10
    if kind == 0:
        return f"{rng.randrange(10**9, 10**10)}"
    if kind == 1:
        return f"{rng.randrange(50_000, 2_000_000)}.00"
    if kind == 2:
        return f"20{rng.randrange(10, 25)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T10:11:12"
    if kind == 3:
        return ""
    if kind == 4 and rng.random() < 0.15:
        return rng.choice(_ESCAPED)
    if column == COLUMNS - 1:
        return " ".join(rng.choice(_WORDS) for _ in range(120))  # PublicRemarks-like long text
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(1, 5)))


def build_body(rows: int, seed: int = 1) -> bytes:
    """A COMPACT-DECODED Search body with ``rows`` records of :data:`COLUMNS` fields."""
    rng = random.Random(seed)
    names = ["ListingKey"] + [f"Field{n:03d}" for n in range(1, COLUMNS - 1)] + ["PublicRemarks"]
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<RETS ReplyCode="0" ReplyText="Operation Successful">\n',
        f'<COUNT Records="{rows}"/>\n<DELIMITER value="09"/>\n<COLUMNS>\t' + "\t".join(names) + "\t</COLUMNS>\n",
    ]
    for row in range(rows):
        values = [f"L{row:09d}"] + [_value(rng, column) for column in range(1, COLUMNS)]
        parts.append("<DATA>\t" + "\t".join(values) + "\t</DATA>\n")
    parts.append("<MAXROWS/>\n</RETS>\n")
    return "".join(parts).encode("utf-8")


def simulator_pages(rows: int) -> list[bytes]:
    """COMPACT-DECODED pages holding ``rows`` RES listings of the simulator, as it serves them."""
    listings = int(rows / 0.8) + 1000  # about 85 % of the simulated listings are in class RES
    with start_simulator(SimulatorConfig(listings=listings)) as simulator, requests.Session() as session:
        session.auth = HTTPDigestAuth(simulator.username, simulator.password)
        session.headers.update({"RETS-Version": "RETS/1.7.2", "User-Agent": "retsctl-bench/1.0"})
        login = session.get(simulator.login_url)
        login.raise_for_status()
        search = next(line.split("=", 1)[1] for line in login.text.splitlines() if line.startswith("Search="))
        pages = []
        for offset in range(1, rows + 1, PAGE_SIZE):
            params = {"SearchType": "Property", "Class": "RES", "Query": "(ListPrice=0+)", "QueryType": "DMQL2",
                      "Format": "COMPACT-DECODED", "Limit": str(min(PAGE_SIZE, rows + 1 - offset)),
                      "Offset": str(offset)}
            reply = session.get(urljoin(simulator.login_url, search.strip()), params=params)
            reply.raise_for_status()
            pages.append(reply.content)
    return pages


def chunks_of(body: bytes, size: int) -> list[bytes]:
    return [body[start : start + size] for start in range(0, len(body), size)]


class ChunkStream:
    """A file-like object over chunks, like ``requests``' ``response.raw``."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)

    def read(self, _size: int = -1) -> bytes:
        return next(self._chunks, b"")


def read_with_retsctl(chunks: list[bytes], careful: bool) -> int:
    rows = 0
    for record in SearchReader(chunks, careful=careful):
        rows += len(record) > 0
    return rows


def read_with_lxml(chunks: list[bytes]) -> int:
    rows = 0
    columns: list[str] = []
    delimiter = "\t"
    for _event, element in etree.iterparse(ChunkStream(chunks), events=("end",)):
        tag = element.tag
        if tag == "DATA":
            record = dict(zip(columns, element.text.split(delimiter)[1:-1], strict=True))
            rows += len(record) > 0
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
        elif tag == "COLUMNS":
            columns = element.text.split(delimiter)[1:-1]
        elif tag == "DELIMITER":
            delimiter = chr(int(element.get("value"), 16))
    return rows


def best_times(functions: list[Callable[[], int]], repeat: int) -> list[float]:
    """The best wall time of each function; runs are interleaved so that load spikes hit both."""
    timings: list[list[float]] = [[] for _ in functions]
    for _ in range(repeat):
        for function, runs in zip(functions, timings, strict=True):
            started = time.perf_counter()
            function()
            runs.append(time.perf_counter() - started)
    return [min(runs) for runs in timings]


@dataclass
class Result:
    corpus: str
    rows: int
    body_bytes: int
    ours_us: float
    lxml_us: float

    @property
    def ratio(self) -> float:
        return self.lxml_us / self.ours_us


def bench(corpus: str, bodies: list[bytes], chunk: int, careful: bool, repeat: int) -> Result:
    """Time both readers over every body of a corpus (each body read on its own, as pages are)."""
    chunked = [chunks_of(body, chunk) for body in bodies]

    def ours() -> int:
        return sum(read_with_retsctl(chunks, careful) for chunks in chunked)

    def floor() -> int:
        return sum(read_with_lxml(chunks) for chunks in chunked)

    rows = ours()
    if rows != floor():
        raise SystemExit(f"{corpus}: SearchReader and lxml disagree on the number of records")
    ours_s, floor_s = best_times([ours, floor], repeat)
    return Result(corpus, rows, sum(map(len, bodies)), ours_s / rows * 1e6, floor_s / rows * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000, help="records per corpus")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=CHUNK_SIZE, help="bytes per chunk fed to both readers")
    parser.add_argument("--corpus", choices=["synthetic", "simulator", "both"], default="both")
    parser.add_argument("--careful", action="store_true", help="time SearchReader's careful (lxml) path instead")
    options = parser.parse_args()

    corpora = {
        "synthetic": lambda: [build_body(options.rows)],
        "simulator": lambda: simulator_pages(options.rows),
    }
    names = list(corpora) if options.corpus == "both" else [options.corpus]
    results = [bench(name, corpora[name](), options.chunk, options.careful, options.repeat) for name in names]

    label = "SearchReader (careful)" if options.careful else "SearchReader"
    print(f"chunks of {options.chunk / 1024:g} KiB, best of {options.repeat}, interleaved")
    print(f"{'corpus':10s} {'rows':>7s} {'KiB/row':>8s} {label + ' µs/rec':>28s} {'lxml µs/rec':>12s} {'ratio':>6s}")
    for result in results:
        print(f"{result.corpus:10s} {result.rows:7d} {result.body_bytes / result.rows / 1024:8.2f} "
              f"{result.ours_us:28.2f} {result.lxml_us:12.2f} {result.ratio:5.2f}x")
    print("ratio = lxml time / SearchReader time (above 1: SearchReader is faster)")
    print(json.dumps({"bench": "parser", "careful": options.careful, "chunk": options.chunk, "results": [
        {"corpus": r.corpus, "rows": r.rows, "ours_us_per_record": round(r.ours_us, 2),
         "lxml_us_per_record": round(r.lxml_us, 2), "ratio": round(r.ratio, 3)} for r in results]}))


if __name__ == "__main__":
    main()
