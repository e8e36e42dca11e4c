"""The only place that prints data. Data goes to stdout (human table, json, jsonl or csv); messages,
errors and progress go to stderr, so ``--json`` output stays machine-readable.

Rows are written as they arrive (json, jsonl, csv); only the human table collects them first.
"""

from __future__ import annotations

import csv
import logging
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import IO, Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from retsctl.secrets import RedactingFilter

# Past this many columns a table is unreadable, so each row is shown as a field/value block.
MAX_TABLE_COLUMNS = 8


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
        with self.progress(label) as advance:
            counted = _CountedRows(rows, advance)
            if self.format is Format.jsonl:
                self._jsonl(counted)
            elif self.format is Format.json:
                self._json_array(counted)
            elif self.format is Format.csv:
                self._csv(counted)
            else:
                self._table(list(counted), table_columns)
        return counted.count

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
        shown = sys.stderr.isatty() and not self._stdout.isatty()
        columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
        with Progress(*columns, console=self.stderr, transient=True, disable=not shown) as progress:
            task = progress.add_task(label, total=None)
            yield lambda n=1: progress.advance(task, n)

    def _write_json(self, data: Any, options: int = 0) -> None:
        out = self._binary()
        out.write(orjson.dumps(data, option=options | orjson.OPT_APPEND_NEWLINE))
        out.flush()

    def _binary(self) -> IO[bytes]:
        self._stdout.flush()
        return self._stdout.buffer  # type: ignore[attr-defined]

    def _jsonl(self, rows: Iterable[Mapping[str, Any]]) -> None:
        out = self._binary()
        for row in rows:
            out.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))
        out.flush()

    def _json_array(self, rows: Iterable[Mapping[str, Any]]) -> None:
        # The first row is fetched before anything is written, so a failing first request
        # leaves stdout holding only the error object.
        remaining = iter(rows)
        first = next(remaining, None)
        out = self._binary()
        if first is None:
            out.write(b"[]\n")
        else:
            out.write(b"[\n  " + orjson.dumps(first))
            for row in remaining:
                out.write(b",\n  " + orjson.dumps(row))
            out.write(b"\n]\n")
        out.flush()

    def _csv(self, rows: Iterable[Mapping[str, Any]]) -> None:
        writer: csv.DictWriter[str] | None = None
        for row in rows:
            if writer is None:
                writer = csv.DictWriter(self._stdout, fieldnames=list(row), restval="", extrasaction="ignore")
                writer.writeheader()
            writer.writerow(row)
        self._stdout.flush()

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


class _CountedRows:
    """Passes rows through, counting them and reporting each to ``on_row``."""

    def __init__(self, rows: Iterable[Mapping[str, Any]], on_row: Callable[[int], None]) -> None:
        self._rows = rows
        self._on_row = on_row
        self.count = 0

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        for row in self._rows:
            self.count += 1
            yield row
            self._on_row(1)


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
