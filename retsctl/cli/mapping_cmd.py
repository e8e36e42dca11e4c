"""``retsctl mapping …``: suggest a mapping file from a server's metadata, check one, preview one.

A mapping file (``mappings/*.toml``) says which RETS fields fill which ``properties`` columns.
``init`` writes a commented suggestion, ``validate`` checks a file against the live metadata and
``preview`` shows a few live records beside the rows they become.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from retsctl.cli.connection import ConnectionOptions, connection_options, open_session
from retsctl.cli.errors import EXIT_USAGE, CliError, error_boundary
from retsctl.cli.output import JsonFlag, Output

# retsctl.mapping and retsctl.rets are imported where used: they load tomlkit, requests and lxml,
# which would slow every command's start-up.
if TYPE_CHECKING:
    from retsctl.mapping import Mapping, RecordRejected, SuggestedMapping

PREVIEW_WIDTH = 60

mapping_app = typer.Typer(
    help="Field mappings (mappings/*.toml): suggest one from the server's metadata, validate it, preview it.\n\n"
    "Example: retsctl mapping init --resource Property --class RES --out mappings/mymls.toml --url URL --username USER",
    no_args_is_help=True,
)

FileArg = Annotated[Path, typer.Argument(metavar="FILE", help="A mapping file, e.g. mappings/default.toml.",
                                         exists=True, dir_okay=False)]


class RecordFormat(StrEnum):
    compact = "COMPACT"
    compact_decoded = "COMPACT-DECODED"


@mapping_app.command("init")
@connection_options
def init(
    conn: ConnectionOptions,
    resource: Annotated[str, typer.Option("--resource", metavar="R", help="The ResourceID, e.g. Property.")],
    class_name: Annotated[str, typer.Option("--class", metavar="C", help="The ClassName, e.g. RES.")],
    out_path: Annotated[Path | None, typer.Option("--out", metavar="FILE", dir_okay=False,
                                                  help="Write the mapping here (default: stdout).")] = None,
    record_format: Annotated[RecordFormat, typer.Option(
        "--format", help="Records the sync will ask for; COMPACT (codes) is stable and recommended.")] = RecordFormat.compact,
    update: Annotated[bool, typer.Option(
        "--update", help="FILE exists: add new status codes and the metadata version, keep everything else.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Suggest a complete mapping from the server's metadata, every choice explained in comments.

    Each column is matched by SystemName, StandardName and LongName (RESO and RETS names and
    their synonyms) with the field's type checked; status values are read by meaning. What could
    not be mapped is listed on stderr and at the top of the columns table.

    Example: retsctl mapping init --resource Property --class RES --out mappings/mymls.toml --url URL --username USER
    """
    from retsctl.mapping import suggest_from_server

    out = Output.for_json_flag(json_output)
    with error_boundary(out):
        if out_path and out_path.exists() and not update:
            raise CliError(f"{out_path} exists", hint="Pass --update to fold new metadata into it, or choose another --out.")
        if update and not (out_path and out_path.exists()):
            raise CliError("--update needs an existing --out FILE", hint="Drop --update to write a new mapping.")
        with open_session(conn, out) as session:
            suggestion = suggest_from_server(session, resource, class_name, record_format.value)
        changes = _write_suggestion(suggestion, out_path, update)
        _report_suggestion(out, suggestion, out_path, changes)


def _write_suggestion(suggestion: SuggestedMapping, path: Path | None, update: bool) -> list[str] | None:
    from retsctl.mapping.document import read_document, update_document, write_document

    if path is None:
        return None
    if update:
        document = read_document(path)
        changes = update_document(document, suggestion)
        write_document(document, path)
        return changes
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(suggestion.to_toml(), "utf-8")
    return None


def _report_suggestion(out: Output, suggestion: SuggestedMapping, path: Path | None, changes: list[str] | None) -> None:
    if out.json_mode:
        out.document({
            "ok": True, "path": str(path) if path else None, "columns": suggestion.summary(),
            "status_map": suggestion.status_map(), "unmapped": suggestion.unmapped, "changes": changes,
            "toml": None if path else suggestion.to_toml(),
        })
        return
    if path is None:
        out.line(suggestion.to_toml().rstrip("\n"))
    for row in suggestion.summary():
        source = f"{row['source']} ({row['confidence']:.2f})" if row["source"] else row["reason"]
        out.note(f"{row['column']:>12} <- {source}")
    for line in suggestion.unmapped:
        out.warn(f"not mapped: {line}")
    for line in changes or []:
        out.note(f"updated: {line}")
    if path:
        out.note(f"Mapping written to {path}; review it, then `retsctl mapping validate {path}`.")


@mapping_app.command("validate")
@connection_options
def validate(conn: ConnectionOptions, file: FileArg, json_output: JsonFlag = False) -> None:
    """Check a mapping file against the server's metadata.

    Errors: unknown fields, types that cannot fill their column, status lookup values without a
    standard status, a base filter that does not fit. Exits 2 when there is an error.

    Example: retsctl mapping validate mappings/default.toml --url URL --username USER
    """
    from retsctl.mapping import Mapping, validate_with_server
    from retsctl.mapping.validate import ERROR

    out = Output.for_json_flag(json_output)
    with error_boundary(out):
        mapping = Mapping.load(file)
        with open_session(conn, out) as session:
            problems = validate_with_server(session, mapping)
        errors = sum(problem.severity == ERROR for problem in problems)
        if out.json_mode:
            out.document({"ok": not errors, "problems": [problem.to_dict() for problem in problems]})
        elif problems:
            out.rows([problem.to_dict() for problem in problems], label="problems")
        out.note(f"{file}: {errors} errors, {len(problems) - errors} warnings")
    if errors:
        raise typer.Exit(EXIT_USAGE)


@mapping_app.command("preview")
@connection_options
def preview(
    conn: ConnectionOptions,
    file: FileArg,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many live records to map.")] = 5,
    json_output: JsonFlag = False,
) -> None:
    """Map a few live records and show the source values beside each mapped column.

    Example: retsctl mapping preview mappings/default.toml --limit 3 --url URL --username USER
    """
    from retsctl.mapping import Mapping

    out = Output.for_json_flag(json_output)
    with error_boundary(out):
        mapping = Mapping.load(file)
        with open_session(conn, out) as session:
            records = list(session.search(
                mapping.resource, mapping.class_name, preview_query(mapping), select=sorted(mapping.source_fields()),
                limit=limit, format=mapping.format,
            ))
        if out.json_mode:
            out.rows((preview_record(mapping, record) for record in records), label="records")
        else:
            out.rows(_preview_lines(mapping, records), label="rows")
        rejected = sum(_rejection(mapping, record) is not None for record in records)
        out.note(f"{len(records)} records mapped, {rejected} rejected")


def preview_query(mapping: Mapping) -> str:
    """The mapping's base filter, or a query every record with a timestamp matches."""
    from retsctl.rets import dmql

    return mapping.base_filter or dmql.modified_since(mapping.timestamp_field, datetime(1970, 1, 1, tzinfo=UTC))


def _rejection(mapping: Mapping, record: dict[str, str]) -> RecordRejected | None:
    from retsctl.mapping import RecordRejected

    try:
        mapping.apply(record)
    except RecordRejected as rejected:
        return rejected
    return None


def preview_record(mapping: Mapping, record: dict[str, str]) -> dict[str, Any]:
    """One record for JSON: its source values, the mapped row (JSON-safe) or the rejection."""
    from retsctl.mapping import RecordRejected
    from retsctl.mapping.model import COLUMNS

    try:
        row = mapping.apply(record)
    except RecordRejected as rejected:
        return {"source": record, "row": None,
                "rejected": {"reason": rejected.reason, "column": rejected.column, "value": rejected.value}}
    return {"source": record, "row": {column: _json_safe(row.get(column)) for column in COLUMNS}, "rejected": None}


def _json_safe(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _preview_lines(mapping: Mapping, records: Sequence[dict[str, str]]) -> Iterator[dict[str, Any]]:
    """Table rows: per record, one line per column with the source values it came from."""
    from retsctl.mapping.model import COLUMNS

    rules = mapping.rules()
    for number, record in enumerate(records, 1):
        mapped = preview_record(mapping, record)
        if mapped["rejected"]:
            reason = mapped["rejected"]
            yield {"#": number, "column": reason["column"] or "", "value": f"REJECTED: {reason['reason']}",
                   "source": _source_text(record, rules[reason["column"]].fields if reason["column"] else ())}
            continue
        for column in COLUMNS:
            yield {"#": number, "column": column, "value": _shown(mapped["row"][column]),
                   "source": _source_text(record, rules[column].fields) or _constant_note(mapping, column)}


def _constant_note(mapping: Mapping, column: str) -> str:
    if column == "photo_urls" and mapping.photos_from_objects:
        return f"(the sync fills it from GetObject {mapping.photo_object_type})"
    return "(constant)" if column in mapping.columns else "(not mapped)"


def _source_text(record: dict[str, str], fields: Sequence[str]) -> str:
    return "  ".join(f"{name}={_clipped(repr(record.get(name, '')))}" for name in fields)


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return _clipped(", ".join(value)) or "[]"
    return _clipped(str(value))


def _clipped(text: str) -> str:
    """Long remarks cut to a table cell (the JSON output keeps them whole)."""
    return text if len(text) <= PREVIEW_WIDTH else text[: PREVIEW_WIDTH - 1] + "…"
