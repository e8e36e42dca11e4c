"""Writing mapping files with tomlkit, so comments survive when a file is edited and rewritten.

:func:`suggestion_document` renders what ``mapping init`` suggests, every choice with its
confidence, reason and runner-up as comments. :func:`update_document` folds a fresh suggestion
into an existing file (new status codes, the metadata version) and leaves everything else —
the operator's choices and comments — as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import tomlkit
from tomlkit.exceptions import ParseError
from tomlkit.items import Table
from tomlkit.toml_document import TOMLDocument

from retsctl.mapping.model import MappingError
from retsctl.properties import STANDARD_STATUSES
from retsctl.rets.metadata import Field

if TYPE_CHECKING:
    from retsctl.mapping.suggest import ColumnChoice, StatusChoice, SuggestedMapping

_HEADER = (
    "retsctl mapping for {resource}/{class_name}, suggested by `retsctl mapping init` from the server's metadata.",
    "Review every choice: each shows its confidence (0-1), why it was made and the runner-up.",
    "",
    "Columns: external_id, address, list_price, bedrooms, bathrooms, square_feet, year_built, status,",
    "description, photo_urls, and source_key / modified_at (default: key_field / timestamp_field).",
    "Transforms: text (the default for text; clean = true trims and collapses spaces), integer",
    "(round = true rounds fractions), decimal, timestamp (read in server_timezone unless timezone = ...),",
    "lookup (decoded through [lookups.FIELD]), status (through [status]), url_list (URLs in one field).",
    "value = ... sets a constant; default = ... fills empty values. A list source joins fields with",
    'separator (" "); a part may be {{ field = "X", prefix = "Unit ", decode = true }}.',
)


def describe_field(item: Field) -> str:
    """``LIST_22 "List Price" (Decimal, Number)`` — how a field is named in comments and reports."""
    kind = ", ".join(part for part in (item.data_type, item.interpretation) if part)
    label = f' "{item.long_name}"' if item.long_name and item.long_name != item.system_name else ""
    return f"{item.system_name}{label} ({kind or 'untyped'})"


def read_document(path: Path) -> TOMLDocument:
    """A mapping file as an editable document (comments and layout kept)."""
    try:
        return tomlkit.parse(path.read_text("utf-8"))
    except ParseError as error:
        raise MappingError(f"not valid TOML: {error}", path=path, line=error.line) from None


def write_document(document: TOMLDocument, path: Path) -> None:
    path.write_text(document.as_string(), "utf-8")


def suggestion_document(suggestion: SuggestedMapping) -> TOMLDocument:
    """The commented mapping file for a suggestion."""
    document = tomlkit.document()
    for line in _HEADER:
        document.add(tomlkit.comment(line.format(resource=suggestion.resource, class_name=suggestion.class_name)))
    document.add(tomlkit.nl())
    document.add("source", _source_table(suggestion))
    document.add("columns", _columns_table(suggestion))
    if suggestion.status_field:
        document.add("status", _status_table(suggestion))
    if suggestion.lookups:
        document.add("lookups", _lookups_table(suggestion.lookups))
    return document


def _source_table(suggestion: SuggestedMapping) -> Table:
    table = tomlkit.table()
    entries = [
        ("resource", suggestion.resource, ""),
        ("class", suggestion.class_name, ""),
        ("key_field", suggestion.key_field, suggestion.key_reason),
        ("timestamp_field", suggestion.timestamp_field, suggestion.timestamp_reason),
        ("base_filter", "", 'optional DMQL ANDed to every sync query, e.g. "(PropertyType=|RESI)"'),
        ("format", suggestion.format, "COMPACT: lookup codes, stable across label changes (recommended for sync)"),
        ("photo_object_type", suggestion.photo_object_type, "GetObject type; photo_urls come from Location=1 URLs"),
        ("server_timezone", suggestion.server_timezone, suggestion.timezone_reason),
    ]
    if suggestion.metadata_version:
        entries.append(("metadata_version", suggestion.metadata_version, "metadata this mapping was built against"))
    for key, value, note in entries:
        table.add(key, tomlkit.item(value).comment(note) if note else value)
    return table


def _columns_table(suggestion: SuggestedMapping) -> Table:
    columns = tomlkit.table(is_super_table=True)
    for line in suggestion.unmapped:
        columns.add(tomlkit.comment(f"NOT MAPPED - {line}"))
    if "photo_urls" not in suggestion.choices:
        columns.add(tomlkit.comment(
            f"photo_urls: filled by the sync from GetObject {suggestion.photo_object_type} (Location=1); "
            "map a field instead if the feed carries photo URLs"))
    for column, choice in suggestion.choices.items():
        columns.add(column, _rule_table(choice))
    return columns


def _rule_table(choice: ColumnChoice) -> Table:
    table = tomlkit.table()
    sources = ", ".join(describe_field(item) for item in choice.fields)
    table.add(tomlkit.comment(f"{sources}: confidence {choice.confidence:.2f} - {choice.reason}"))
    table.add(tomlkit.comment(f"runner-up: {choice.runner_up}" if choice.runner_up else "runner-up: none"))
    if len(choice.fields) == 1 and not choice.prefixes and not choice.decoded:
        table.add("source", choice.fields[0].system_name)
    else:
        table.add("source", _parts_array(choice))
        table.add("clean", True)
    if choice.round:
        table.add("round", tomlkit.item(True).comment("the field is Decimal: fractions are rounded"))
    if choice.column == "status":
        table.add("transform", "status")
    return table


def _parts_array(choice: ColumnChoice) -> tomlkit.items.Array:
    parts = tomlkit.array()
    for item in choice.fields:
        name = item.system_name
        if name in choice.prefixes or name in choice.decoded:
            part = tomlkit.inline_table()
            part["field"] = name
            if name in choice.prefixes:
                part["prefix"] = choice.prefixes[name]
            if name in choice.decoded:
                part["decode"] = True
            parts.append(part)
        else:
            parts.append(name)
    return parts


def _status_table(suggestion: SuggestedMapping) -> Table:
    table = tomlkit.table()
    keyed = "LongValue" if suggestion.format == "COMPACT-DECODED" else "lookup code (Value)"
    table.add(tomlkit.comment(f"{suggestion.status_field}: {suggestion.status_lookup_reason}"))
    table.add(tomlkit.comment(f"{keyed} = standard status   # LongValue (confidence)"))
    table.add(tomlkit.comment(f"standard statuses: {', '.join(STANDARD_STATUSES)}"))
    for value in suggestion.status_values:
        add_status_value(table, value)
    return table


def add_status_value(table: Table, value: StatusChoice) -> None:
    """One status map line; a value nothing matched is written commented out, to be chosen by hand."""
    label = value.long_value or "no LongValue"
    if value.guess.status is None:
        line = tomlkit.dumps({value.key: "?"}).strip()
        table.add(tomlkit.comment(f"{line}   # {label}: no standard status recognised - choose one"))
        return
    table.add(value.key, tomlkit.item(value.guess.status).comment(f"{label} ({value.guess.confidence:.2f})"))


def _lookups_table(lookups: dict[str, dict[str, str]]) -> Table:
    tables = tomlkit.table(is_super_table=True)
    for name, values in lookups.items():
        table = tomlkit.table()
        table.add(tomlkit.comment(f"{name}: COMPACT codes -> text used in the address"))
        for code, text in values.items():
            table.add(code, text)
        tables.add(name, table)
    return tables


def update_document(document: TOMLDocument, suggestion: SuggestedMapping) -> list[str]:
    """Fold a fresh suggestion into an existing mapping; returns what changed, in words.

    Adds status codes the file does not map yet and records the new metadata version; the
    operator's rules, status choices and comments stay as they are.
    """
    changes: list[str] = []
    source = document.get("source")
    if isinstance(source, Table) and suggestion.metadata_version and \
            source.get("metadata_version") != suggestion.metadata_version:
        changes.append(f"metadata_version: {source.get('metadata_version')} -> {suggestion.metadata_version}")
        source["metadata_version"] = suggestion.metadata_version
    if suggestion.status_field:
        if "status" not in document:
            document.add("status", tomlkit.table())
        status = document["status"]
        assert isinstance(status, Table)
        for value in suggestion.status_values:
            if value.key not in status:
                add_status_value(status, value)
                changes.append(f"status {value.key!r} ({value.long_value}): "
                               f"{value.guess.status or 'not recognised, left commented out'}")
        known = {value.key for value in suggestion.status_values}
        changes.extend(f"status {code!r} is no longer a value of {suggestion.status_lookup} (kept)"
                       for code in status if code not in known and suggestion.status_values)
    return changes
