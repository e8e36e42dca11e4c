#!/usr/bin/env python3
"""Micro-benchmark: SearchReader versus the lxml iterparse floor on the same COMPACT-DECODED bytes.

Builds an in-memory body of N rows x 150 columns (~3.5 KB a row, with entities and non-ASCII
text), cuts it into 64 KiB chunks, and times turning it into dicts both ways (best of --repeat):

* ``retsctl``: ``SearchReader(chunks)``;
* ``lxml``: ``etree.iterparse`` over a stream of the same chunks, ``dict(zip(columns, values))``
  per ``<DATA>`` and elements freed as in /work/shared/bench/floor_lxml.py.

Usage: python benchmarks/bench_parser.py [--rows 20000] [--repeat 3] [--careful]
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Iterator

from lxml import etree

from retsctl.rets.compact import SearchReader

COLUMNS = 150
CHUNK = 64 * 1024
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


def chunks_of(body: bytes) -> list[bytes]:
    return [body[start : start + CHUNK] for start in range(0, len(body), CHUNK)]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--careful", action="store_true", help="time SearchReader's careful (lxml) path instead")
    options = parser.parse_args()

    body = build_body(options.rows)
    chunks = chunks_of(body)
    assert read_with_retsctl(chunks, options.careful) == read_with_lxml(chunks) == options.rows
    ours, floor = best_times(
        [lambda: read_with_retsctl(chunks, options.careful), lambda: read_with_lxml(chunks)], options.repeat
    )
    print(f"body: {options.rows} rows x {COLUMNS} columns, {len(body) / 2**20:.1f} MiB "
          f"({len(body) / options.rows / 1024:.2f} KiB/row), {len(chunks)} chunks of 64 KiB")
    label = "SearchReader (careful path)" if options.careful else "SearchReader"
    print(f"{label:28s} {options.rows / ours:10,.0f} rows/s  ({ours:.3f} s)")
    print(f"{'lxml iterparse loop':28s} {options.rows / floor:10,.0f} rows/s  ({floor:.3f} s)")
    print(f"ratio (lxml time / ours): {floor / ours:.2f}x")


if __name__ == "__main__":
    main()
