"""The mapping file (TOML): which RETS fields fill which ``properties`` columns, and how.

A mapping is read with ``tomllib`` and checked completely when loaded; every rule is then compiled
into one small function, so :meth:`Mapping.apply` on the sync's hot path only calls them.

    [source]
    resource = "Property"
    class = "RES"
    key_field = "ListingKey"                  # RESOURCE KeyField
    timestamp_field = "ModificationTimestamp"
    format = "COMPACT"                        # records carry lookup codes
    server_timezone = "America/Denver"        # for times sent without an offset

    [columns.address]
    source = ["StreetNumber", "StreetName", { field = "UnitNumber", prefix = "Unit " }]
    clean = true

    [status]
    A = "active"                              # Active
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from datetime import UTC
from decimal import InvalidOperation
from pathlib import Path
from typing import Any

from retsctl.mapping import transforms
from retsctl.mapping.transforms import Converter, RecordRejected
from retsctl.properties import MAPPED_COLUMNS, STANDARD_STATUSES, PropertyRow
from retsctl.rets.replies import RetsError

Record = MappingABC[str, str]
Extractor = Callable[[Record], Any]

FORMATS = ("COMPACT", "COMPACT-DECODED")
DEFAULT_PHOTO_OBJECT_TYPE = "Photo"
# Columns a mapping fills: the runbook's, plus the two the sync needs from every record.
DERIVED_COLUMNS = ("source_key", "modified_at")
COLUMNS = (*MAPPED_COLUMNS, *DERIVED_COLUMNS)

# What each column holds, and so which transforms may feed it (the first is used when none is named).
COLUMN_KINDS: dict[str, str] = {
    "external_id": "text",
    "address": "text",
    "list_price": "decimal",
    "bedrooms": "integer",
    "bathrooms": "decimal",
    "square_feet": "integer",
    "year_built": "integer",
    "status": "status",
    "description": "text",
    "photo_urls": "urls",
    "source_key": "text",
    "modified_at": "timestamp",
}
KIND_TRANSFORMS: dict[str, tuple[str, ...]] = {
    "text": ("text", "lookup"),
    "decimal": ("decimal", "integer"),
    "integer": ("integer",),
    "status": ("status",),
    "urls": ("url_list",),
    "timestamp": ("timestamp",),
}
TRANSFORMS = ("text", "lookup", "decimal", "integer", "status", "url_list", "timestamp")
REQUIRED_COLUMNS = ("external_id", "source_key")

_SOURCE_KEYS = {"resource", "class", "key_field", "timestamp_field", "base_filter", "format",
                "photo_object_type", "server_timezone", "metadata_version"}
_RULE_KEYS = {"source", "transform", "clean", "separator", "round", "timezone", "multi", "default", "value"}
_PART_KEYS = {"field", "prefix", "suffix", "decode"}
_TOP_KEYS = {"source", "columns", "status", "lookups"}


class MappingError(RetsError):
    """A mapping file that cannot be used; says which file and line."""

    kind = "input"

    def __init__(self, message: str, *, path: Path | None = None, line: int | None = None, hint: str = "") -> None:
        where = f"{path}:{line}: " if path and line else f"{path}: " if path else ""
        super().__init__(f"{where}{message}", hint=hint or "Fix the mapping file; `retsctl mapping validate FILE` checks it.")
        self.path = path
        self.line = line


@dataclass(frozen=True)
class SourcePart:
    """One field read by a rule; in a concatenation it may carry a prefix/suffix or be decoded."""

    field: str
    prefix: str = ""
    suffix: str = ""
    decode: bool = False

    @property
    def is_plain(self) -> bool:
        return not (self.prefix or self.suffix or self.decode)


@dataclass(frozen=True)
class ColumnRule:
    """How one column is filled: from its source field(s) through a transform, or a constant."""

    column: str
    transform: str
    sources: tuple[SourcePart, ...] = ()
    separator: str = " "
    clean: bool = False
    round: bool = False
    multi: bool = False
    timezone: str | None = None
    default: Any = None
    value: Any = None

    @property
    def is_constant(self) -> bool:
        return not self.sources

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(part.field for part in self.sources)


@dataclass(frozen=True)
class Mapping:
    """One MLS feed's mapping, compiled for :meth:`apply` when built (with :meth:`load` or :meth:`loads`)."""

    resource: str
    class_name: str
    key_field: str
    timestamp_field: str
    columns: dict[str, ColumnRule]
    status_map: dict[str, str] = field(default_factory=dict)
    lookups: dict[str, dict[str, str]] = field(default_factory=dict)
    base_filter: str | None = None
    format: str = "COMPACT"
    photo_object_type: str | None = DEFAULT_PHOTO_OBJECT_TYPE
    server_timezone: str = "UTC"
    metadata_version: str | None = None
    path: Path | None = None
    _compiled: tuple[tuple[str, Extractor], ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", tuple((column, _compile(rule, self)) for column, rule in self.rules().items()))

    @classmethod
    def load(cls, path: str | Path) -> Mapping:
        """Read and check a mapping file; raises :class:`MappingError` naming file and line."""
        path = Path(path)
        try:
            text = path.read_text("utf-8")
        except OSError as error:
            raise MappingError(f"cannot read the mapping file ({error.strerror})", path=path) from None
        return cls.loads(text, path=path)

    @classmethod
    def loads(cls, text: str, *, path: Path | None = None) -> Mapping:
        """A mapping from TOML text (``path`` only names it in errors)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise MappingError(f"not valid TOML: {error}", path=path, line=_toml_error_line(error)) from None
        return _MappingReader(data, text, path).read()

    def rules(self) -> dict[str, ColumnRule]:
        """A rule for every column: the file's, the implicit ``source_key``/``modified_at`` ones, and
        constants (None, or ``[]`` for ``photo_urls``, which the sync fills from GetObject) for the rest."""
        implicit = {
            "source_key": ColumnRule("source_key", "text", (SourcePart(self.key_field),)),
            "modified_at": ColumnRule("modified_at", "timestamp", (SourcePart(self.timestamp_field),)),
            "photo_urls": ColumnRule("photo_urls", "url_list", value=[]),
        }
        return {
            column: self.columns.get(column) or implicit.get(column) or ColumnRule(column, "text", value=None)
            for column in COLUMNS
        }

    def source_fields(self) -> set[str]:
        """Every SystemName the mapping reads (the Search ``Select``)."""
        return {name for rule in self.rules().values() for name in rule.fields}

    def unmapped_columns(self) -> list[str]:
        """Runbook columns this mapping leaves empty (``photo_urls`` comes from GetObject)."""
        return [column for column in MAPPED_COLUMNS if column not in self.columns and column != "photo_urls"]

    @property
    def photos_from_objects(self) -> bool:
        """Whether the sync fills ``photo_urls`` from GetObject (no field carries them)."""
        return "photo_urls" not in self.columns

    def apply(self, record: Record) -> PropertyRow:
        """The ``properties`` row for one record (dict SystemName → string as sent).

        Raises :class:`RecordRejected` (reason, column, value) for a value that cannot be read, an
        unknown status code or a missing key. Empty values become None; ``raw`` is the record itself.
        """
        row = {column: extract(record) for column, extract in self._compiled}
        row["raw"] = record
        return row  # type: ignore[return-value]


# --- compiling rules into extractors ------------------------------------------------------------


def _converter_for(rule: ColumnRule, mapping: Mapping) -> Converter:
    """The transform of ``rule`` as a function of one non-empty source text."""
    if rule.transform == "text":
        return transforms.text_converter(clean=rule.clean)
    if rule.transform == "lookup":
        return transforms.lookup_converter(mapping.lookups.get(rule.sources[0].field, {}), multi=rule.multi)
    if rule.transform == "decimal":
        return transforms.decimal_converter()
    if rule.transform == "integer":
        return transforms.integer_converter(round_fraction=rule.round)
    if rule.transform == "status":
        return transforms.status_converter(mapping.status_map)
    if rule.transform == "url_list":
        return transforms.url_list_converter()
    if rule.transform == "timestamp":
        return transforms.timestamp_converter(transforms.parse_time_zone(rule.timezone or mapping.server_timezone))
    raise AssertionError(f"unchecked transform {rule.transform}")


def _compile(rule: ColumnRule, mapping: Mapping) -> Extractor:
    if rule.is_constant:
        constant = _fresh(rule.value)
        return lambda record: constant()
    # A plain single field is read inline: one function call less per column on the hot path.
    name = rule.sources[0].field if len(rule.sources) == 1 and rule.sources[0].is_plain else None
    read = _joined_reader(rule, mapping.lookups)
    convert = _converter_for(rule, mapping)
    missing = _on_missing(rule)
    column = rule.column

    def extract(record: Record) -> Any:
        text = record.get(name) if name is not None else read(record)
        if not text:
            return missing()
        try:
            value = convert(text)
        except ValueError as error:
            raise RecordRejected(str(error), column, text) from None
        return missing() if value is None else value

    return extract


def _joined_reader(rule: ColumnRule, lookups: dict[str, dict[str, str]]) -> Callable[[Record], str]:
    """The rule's parts joined by its separator (empty parts skipped, decoded parts looked up)."""
    parts = tuple((p.field, p.prefix, p.suffix, lookups.get(p.field) if p.decode else None) for p in rule.sources)
    separator = rule.separator

    def joined(record: Record) -> str:
        pieces = []
        for name, prefix, suffix, table in parts:
            value = record.get(name)
            if value:
                pieces.append(f"{prefix}{table.get(value, value) if table else value}{suffix}")
        return separator.join(pieces)

    return joined


def _on_missing(rule: ColumnRule) -> Callable[[], Any]:
    if rule.column in REQUIRED_COLUMNS and rule.default is None:
        reason = f"missing key: {' + '.join(rule.fields)} is empty"

        def reject() -> Any:
            raise RecordRejected(reason, rule.column, None)

        return reject
    return _fresh([] if rule.column == "photo_urls" and rule.default is None else rule.default)


def _fresh(value: Any) -> Callable[[], Any]:
    # Each row gets its own list: the sync may extend photo_urls in place.
    if isinstance(value, list):
        return lambda: list(value)
    return lambda: value


# --- reading the TOML -----------------------------------------------------------------------------


def _toml_error_line(error: tomllib.TOMLDecodeError) -> int | None:
    found = re.search(r"line (\d+)", str(error))
    return int(found.group(1)) if found else None


class _LineFinder:
    """Line numbers of tables and keys, for error messages (tomllib keeps no positions)."""

    _HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?")
    _KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*=""")

    def __init__(self, text: str) -> None:
        self.headers: dict[str, int] = {}
        self.keys: dict[tuple[str, str], int] = {}
        section = ""
        for number, line in enumerate(text.splitlines(), 1):
            header = self._HEADER.match(line)
            if header:
                section = ".".join(_unquote(part) for part in _split_dotted(header.group(1)))
                self.headers.setdefault(section, number)
                continue
            key = self._KEY.match(line)
            if key:
                self.keys.setdefault((section, _unquote(key.group(1))), number)

    def line(self, section: str, key: str | None = None) -> int | None:
        if key is not None:
            found = self.headers.get(f"{section}.{key}") or self.keys.get((section, key))
            if found:
                return found
        nested = (line for name, line in self.headers.items() if name.startswith(f"{section}."))
        return self.headers.get(section) or min(nested, default=None)


def _split_dotted(name: str) -> list[str]:
    return re.findall(r"""("(?:[^"\\]|\\.)*"|'[^']*'|[^.\s]+)""", name)


def _unquote(name: str) -> str:
    return name[1:-1] if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'" else name


class _MappingReader:
    """Turns the parsed TOML into a checked :class:`Mapping`."""

    def __init__(self, data: dict[str, Any], text: str, path: Path | None) -> None:
        self.data = data
        self.lines = _LineFinder(text)
        self.path = path

    def fail(self, message: str, section: str = "", key: str | None = None, hint: str = "") -> MappingError:
        return MappingError(message, path=self.path, line=self.lines.line(section, key), hint=hint)

    def read(self) -> Mapping:
        unknown = set(self.data) - _TOP_KEYS
        if unknown:
            name = sorted(unknown)[0]
            raise self.fail(f"unknown table or key {name!r} (expected {', '.join(sorted(_TOP_KEYS))})", "", name)
        source = self.table(self.data, "source", required=True)
        self.check_keys(source, _SOURCE_KEYS, "source")
        status_map = self.status_map()
        lookups = self.lookups()
        format = self.text(source, "source", "format", default="COMPACT").upper()
        if format not in FORMATS:
            raise self.fail(f"format must be one of {', '.join(FORMATS)}, not {format!r}", "source", "format")
        server_timezone = self.text(source, "source", "server_timezone", default="UTC")
        self.time_zone(server_timezone, "source", "server_timezone")
        columns = {name: self.rule(name, spec, lookups) for name, spec in self.table(self.data, "columns", True).items()}
        if "external_id" not in columns:
            raise self.fail("no rule for external_id (the listing's MLS number)", "columns",
                            hint='Add e.g. `[columns.external_id]` with `source = "ListingID"`.')
        return Mapping(
            resource=self.text(source, "source", "resource"),
            class_name=self.text(source, "source", "class"),
            key_field=self.text(source, "source", "key_field"),
            timestamp_field=self.text(source, "source", "timestamp_field"),
            columns=columns,
            status_map=status_map,
            lookups=lookups,
            base_filter=self.text(source, "source", "base_filter", default="") or None,
            format=format,
            photo_object_type=self.text(source, "source", "photo_object_type", default=DEFAULT_PHOTO_OBJECT_TYPE) or None,
            server_timezone=server_timezone,
            metadata_version=self.text(source, "source", "metadata_version", default="") or None,
            path=self.path,
        )

    # -- generic checks --------------------------------------------------------------------------

    def table(self, data: dict[str, Any], name: str, required: bool = False) -> dict[str, Any]:
        value = data.get(name, {} if not required else None)
        if not isinstance(value, dict):
            raise self.fail(f"[{name}] table missing" if value is None else f"{name} must be a table", name)
        return value

    def check_keys(self, table: dict[str, Any], allowed: set[str], section: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(f"unknown key {key!r} in [{section}] (allowed: {', '.join(sorted(allowed))})", section, key)

    def text(self, table: dict[str, Any], section: str, key: str, *, default: str | None = None) -> str:
        value = table.get(key, default)
        if value is None:
            raise self.fail(f"[{section}] needs {key}", section)
        if not isinstance(value, str):
            raise self.fail(f"{section}.{key} must be a string", section, key)
        return value.strip()

    def time_zone(self, name: str, section: str, key: str) -> None:
        try:
            transforms.parse_time_zone(name)
        except ValueError as error:
            raise self.fail(str(error), section, key) from None

    # -- status map and lookups ------------------------------------------------------------------

    def status_map(self) -> dict[str, str]:
        statuses = self.table(self.data, "status")
        for code, status in statuses.items():
            if status not in STANDARD_STATUSES:
                raise self.fail(f"status {code!r} maps to {status!r}, which is not a standard status",
                                "status", code, hint=f"Use one of: {', '.join(STANDARD_STATUSES)}.")
        return dict(statuses)

    def lookups(self) -> dict[str, dict[str, str]]:
        tables = self.table(self.data, "lookups")
        for name, table in tables.items():
            if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
                raise self.fail(f"[lookups.{name}] must map codes to strings", f"lookups.{name}")
        return {name: dict(table) for name, table in tables.items()}

    # -- column rules ----------------------------------------------------------------------------

    def rule(self, column: str, spec: Any, lookups: dict[str, dict[str, str]]) -> ColumnRule:
        section = f"columns.{column}"
        if column not in COLUMN_KINDS:
            raise self.fail(f"unknown column {column!r} (columns: {', '.join(COLUMNS)})", "columns", column)
        if isinstance(spec, str | list):
            spec = {"source": spec}
        if not isinstance(spec, dict):
            raise self.fail(f"columns.{column} must be a field name, a list of fields or a table", "columns", column)
        self.check_keys(spec, _RULE_KEYS, section)
        kind = COLUMN_KINDS[column]
        transform = spec.get("transform", KIND_TRANSFORMS[kind][0])
        if transform not in TRANSFORMS:
            raise self.fail(f"unknown transform {transform!r} for {column} (transforms: {', '.join(TRANSFORMS)})",
                            section, "transform")
        if transform not in KIND_TRANSFORMS[kind]:
            raise self.fail(f"transform {transform!r} cannot fill {column} ({kind}); use "
                            f"{' or '.join(KIND_TRANSFORMS[kind])}", section, "transform")
        sources = self.sources(spec, section, lookups)
        if not sources and "value" not in spec:
            raise self.fail(f"{column} needs a source field or a constant value", section)
        if sources and "value" in spec:
            raise self.fail(f"{column} has both a source and a constant value; keep one", section, "value")
        concatenated = len(sources) > 1 or (sources and not sources[0].is_plain)
        if concatenated and (kind != "text" or transform != "text"):
            raise self.fail(f"only text columns can concatenate or decorate fields ({column} is {kind})",
                            section, "source")
        if transform == "lookup" and sources and sources[0].field not in lookups:
            raise self.fail(f"transform 'lookup' needs a [lookups.{sources[0].field}] table", section, "transform")
        timezone = spec.get("timezone")
        if timezone is not None:
            self.time_zone(str(timezone), section, "timezone")
        return ColumnRule(
            column=column,
            transform=transform,
            sources=sources,
            separator=self.option(spec, section, "separator", str, " "),
            clean=self.option(spec, section, "clean", bool, False),
            round=self.option(spec, section, "round", bool, False),
            multi=self.option(spec, section, "multi", bool, False),
            timezone=timezone,
            default=self.constant(column, spec, section, "default"),
            value=self.constant(column, spec, section, "value"),
        )

    def option(self, spec: dict[str, Any], section: str, key: str, kind: type, default: Any) -> Any:
        value = spec.get(key, default)
        if not isinstance(value, kind):
            raise self.fail(f"{section}.{key} must be a {kind.__name__}", section, key)
        return value

    def sources(self, spec: dict[str, Any], section: str, lookups: dict[str, dict[str, str]]) -> tuple[SourcePart, ...]:
        raw = spec.get("source", [])
        items = raw if isinstance(raw, list) else [raw]
        parts = []
        for item in items:
            if isinstance(item, str) and item.strip():
                parts.append(SourcePart(item.strip()))
                continue
            if not isinstance(item, dict) or not isinstance(item.get("field"), str):
                raise self.fail("source must be a field name or a list of names / {field = …} tables", section, "source")
            self.check_keys(item, _PART_KEYS, section)
            part = SourcePart(item["field"].strip(), str(item.get("prefix", "")), str(item.get("suffix", "")),
                              bool(item.get("decode", False)))
            if part.decode and part.field not in lookups:
                raise self.fail(f"{part.field} is decoded but there is no [lookups.{part.field}] table", section, "source")
            parts.append(part)
        return tuple(parts)

    def constant(self, column: str, spec: dict[str, Any], section: str, key: str) -> Any:
        """``value``/``default`` converted to the column's type (None when absent)."""
        if key not in spec:
            return None
        value = spec[key]
        try:
            return _typed(column, value)
        except (ValueError, TypeError, InvalidOperation) as error:
            raise self.fail(f"{section}.{key}: {error}", section, key) from None


def _typed(column: str, value: Any) -> Any:
    kind = COLUMN_KINDS[column]
    if kind in ("decimal", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise TypeError(f"{value!r} is not a number")
        number = transforms.parse_decimal(str(value))
        if kind == "decimal":
            return number
        if number != number.to_integral_value():
            raise ValueError(f"{value!r} is not a whole number")
        return int(number)
    if kind == "status":
        if value not in STANDARD_STATUSES:
            raise ValueError(f"{value!r} is not a standard status ({', '.join(STANDARD_STATUSES)})")
        return value
    if kind == "urls":
        if not isinstance(value, list) or not all(isinstance(url, str) for url in value):
            raise TypeError("photo_urls constants are lists of URL strings")
        return list(value)
    if kind == "timestamp":
        return transforms.timestamp_converter(UTC)(str(value))
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a string")
    return value
