"""The only place that prints data. Data goes to stdout (human table, json, jsonl or csv); messages,
errors and progress go to stderr, so ``--json`` output stays machine-readable.

Rows are written as they arrive (json, jsonl, csv); only the human table collects them first.
JSON rows leave through one 256 KiB buffer, a write call each time it fills; it is also flushed when
a row comes 0.1 s after the last flush, so rows from a slow server still show as they come.
"""

from __future__ import annotations

import csv
import logging
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import IO, Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

# retsctl.secrets is imported where logging is set up: it loads keyring and the protocol package
# (requests, lxml), most of the CLI's start-up cost.

# Past this many columns a table is unreadable, so each row is shown as a field/value block.
MAX_TABLE_COLUMNS = 8
T = TypeVar("T")
# A record is several KB of JSON: through stdout's 8 KiB buffer that is a write call per record.
BUFFER_BYTES = 256 << 10
# A line arriving this long after the last flush goes out at once (with those waiting before it).
FLUSH_SECONDS = 0.1


class Format(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


class Output:
    """Writes one command's results in the chosen format."""

    def __init__(self, format: Format = Format.table) -> None:
        self.format = Format(format)
        self._stdout: IO[str] = sys.stdout
        # Values are shown as sent: no markup, emoji codes or highlighting interpreted in them.
        self.console = Console(highlight=False, markup=False, emoji=False)
        self.stderr = Console(stderr=True, highlight=False, markup=False, emoji=False, soft_wrap=True)

    @classmethod
    def for_json_flag(cls, json_output: bool) -> Output:
        """JSON when ``--json`` was given, else the human table."""
        return cls(Format.json if json_output else Format.table)

    @property
    def json_mode(self) -> bool:
        """Whether stdout carries JSON (so errors are also reported there as JSON)."""
        return self.format in (Format.json, Format.jsonl)

    def document(self, data: Mapping[str, Any]) -> None:
        """One result object: JSON in json modes, a field/value list for humans."""
        if self.json_mode:
            indent = orjson.OPT_INDENT_2 if self.format is Format.json else 0
            self._write_json(data, indent)
        else:
            self.console.print(_key_value_grid(data))

    def line(self, text: str) -> None:
        """A bare line of data (e.g. a count) for humans and shell scripts."""
        self._stdout.write(text + "\n")
        self._stdout.flush()

    def rows(
        self, rows: Iterable[Mapping[str, Any]], *, table_columns: Sequence[str] | None = None, label: str = "rows"
    ) -> int:
        """Write rows in the chosen format and return how many there were.

        ``table_columns`` narrows the human table to the columns worth reading (when present).
        """
        return self._with_progress(rows, label, lambda shown: self._write_rows(shown, table_columns))

    def json_lines(self, lines: Iterable[bytes], *, label: str = "rows") -> int:
        """Records already encoded as JSON lines, written as they arrive in a JSON format (as lines,
        or as one array for ``--format json``); returns how many there were."""
        write = self._write_array if self.format is Format.json else self._write_lines
        return self._with_progress(lines, label, write)

    def _with_progress(self, items: Iterable[T], label: str, write: Callable[[Iterable[T]], int]) -> int:
        if not self._progress_shown():
            return write(items)
        with self.progress(label) as advance:
            return write(_advancing(items, advance))

    def _write_rows(self, rows: Iterable[Mapping[str, Any]], table_columns: Sequence[str] | None) -> int:
        if self.format is Format.jsonl:
            return self._jsonl(rows)
        if self.format is Format.json:
            return self._json_array(rows)
        if self.format is Format.csv:
            return self._csv(rows)
        collected = list(rows)
        self._table(collected, table_columns)
        return len(collected)

    def error(self, error: Mapping[str, Any], *, detail: str | None = None) -> None:
        """An error: cause (then ``detail``, e.g. a caret under a query) and hint on stderr; the
        contract's JSON shape on stdout as well in json modes."""
        self.stderr.print(Text(f"Error: {error['message']}", style="bold red"))
        if detail:
            self.stderr.print(Text(detail))
        if error.get("hint"):
            self.stderr.print(Text(f"Hint: {error['hint']}", style="yellow"))
        if self.json_mode:
            self._write_json({"ok": False, "error": dict(error)}, orjson.OPT_INDENT_2 if self.format is Format.json else 0)

    def note(self, text: str, *, style: str = "dim") -> None:
        """A message for the operator on stderr (never data)."""
        self.stderr.print(Text(text, style=style))

    def warn(self, text: str) -> None:
        self.note(f"Warning: {text}", style="bold yellow")

    @contextmanager
    def progress(self, label: str) -> Iterator[Callable[[int], None]]:
        """A transient progress display on stderr, shown only when stderr is a terminal and stdout
        is not (data printed to the same terminal would tear it); yields ``advance(n)``."""
        columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
        with Progress(*columns, console=self.stderr, transient=True, disable=not self._progress_shown()) as progress:
            task = progress.add_task(label, total=None)
            yield lambda n=1: progress.advance(task, n)

    def _progress_shown(self) -> bool:
        return sys.stderr.isatty() and not self._stdout.isatty()

    def _write_json(self, data: Any, options: int = 0) -> None:
        out = self._binary()
        out.write(orjson.dumps(data, option=options | orjson.OPT_APPEND_NEWLINE))
        out.flush()

    def _binary(self) -> IO[bytes]:
        self._stdout.flush()
        return self._stdout.buffer  # type: ignore[attr-defined]

    @contextmanager
    def _line_writer(self) -> Iterator[Callable[[bytes], None]]:
        """Yields ``write(line)`` for stdout, buffered; what waits is written on the way out, also
        when the source fails (before the error is reported)."""
        lines = _LineWriter(self._binary())
        try:
            yield lines.write
        finally:
            lines.close()

    def _jsonl(self, rows: Iterable[Mapping[str, Any]]) -> int:
        return self._write_lines(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE) for row in rows)

    def _write_lines(self, lines: Iterable[bytes]) -> int:
        count = 0
        with self._line_writer() as write:
            for line in lines:
                write(line)
                count += 1
        return count

    def _json_array(self, rows: Iterable[Mapping[str, Any]]) -> int:
        return self._write_array(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE) for row in rows)

    def _write_array(self, lines: Iterable[bytes]) -> int:
        """JSON lines as one array, a record a line. The first record is read before anything is
        written, so a failing first request leaves stdout holding only the error object."""
        remaining = iter(lines)
        first = next(remaining, None)
        with self._line_writer() as write:
            if first is None:
                write(b"[]\n")
                return 0
            write(b"[\n  " + first[:-1])
            count = 1
            for line in remaining:
                write(b",\n  " + line[:-1])
                count += 1
            write(b"\n]\n")
        return count

    def _csv(self, rows: Iterable[Mapping[str, Any]]) -> int:
        writer: csv.DictWriter[str] | None = None
        count = 0
        for row in rows:
            if writer is None:
                writer = csv.DictWriter(self._stdout, fieldnames=list(row), restval="", extrasaction="ignore")
                writer.writeheader()
            writer.writerow(row)
            count += 1
        self._stdout.flush()
        return count

    def _table(self, rows: list[Mapping[str, Any]], table_columns: Sequence[str] | None) -> None:
        if not rows:
            self.note("(no rows)")
            return
        columns = _columns_of(rows)
        if table_columns:
            columns = [c for c in table_columns if c in columns] or columns
        if len(columns) > MAX_TABLE_COLUMNS:
            for number, row in enumerate(rows, 1):
                self.console.rule(f"{number}", align="left", style="dim")
                self.console.print(_key_value_grid({c: row.get(c) for c in columns}))
        else:
            table = Table()
            for column in columns:
                table.add_column(column, overflow="fold")
            for row in rows:
                table.add_row(*(_cell(row.get(c)) for c in columns))
            self.console.print(table)


class _LineWriter:
    """Encoded lines written to ``out`` through one buffer: they leave when it fills, or when a line
    comes ``FLUSH_SECONDS`` after the last flush (so the first line goes out at once)."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = _large_buffer(out)
        self._owned = self._out is not out
        self._flushed_at = -math.inf

    def write(self, line: bytes) -> None:
        self._out.write(line)
        if time.monotonic() - self._flushed_at >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self._out.flush()
        self._flushed_at = time.monotonic()

    def close(self) -> None:
        """Write what waits; a buffer made here is closed too (stdout's descriptor stays open)."""
        try:
            self.flush()
        finally:
            if self._owned:
                self._out.close()


def _large_buffer(out: IO[bytes]) -> IO[bytes]:
    """``out``'s file descriptor behind a ``BUFFER_BYTES`` buffer, allocated once. (Joining lines
    into batches instead allocates, and page-faults in, a fresh block per batch: at 50,000 records
    that cost more than encoding them.) A stream with no descriptor (a test capture) is used as is."""
    try:
        descriptor = out.fileno()
    except (AttributeError, OSError):
        return out
    return open(descriptor, "wb", buffering=BUFFER_BYTES, closefd=False)


def _advancing(items: Iterable[T], advance: Callable[[int], None]) -> Iterator[T]:
    """Passes rows through, reporting each to the progress display."""
    for item in items:
        yield item
        advance(1)


def _columns_of(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _key_value_grid(data: Mapping[str, Any]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in data.items():
        grid.add_row(key, _key_value_grid(value) if isinstance(value, Mapping) else _cell(value))
    return grid


@contextmanager
def log_to_stderr(*, verbose: bool) -> Iterator[None]:
    """Show retsctl's log on stderr while a command runs: warnings always, the HTTP exchange with
    ``--verbose``; every known secret is masked."""
    from retsctl.secrets import RedactingFilter

    logger = logging.getLogger("retsctl")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s" if verbose else "%(levelname)s: %(message)s"))
    handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    previous_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)


def _cell(value: Any) -> str:
    """A value as a human reads it: blank for none, an error by its message."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return str(value.get("message") or orjson.dumps(value).decode())
    return str(value)
