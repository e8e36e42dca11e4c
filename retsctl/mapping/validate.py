"""Checking a mapping against the server's metadata: unknown fields, type mismatches, lookup values
without a status, a base filter that does not fit the class, metadata that moved on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Mapping as MappingABC
from dataclasses import asdict, dataclass

from retsctl.mapping.model import ColumnRule, Mapping
from retsctl.mapping.suggest import NUMERIC_TYPES, status_lookup_for
from retsctl.rets import dmql
from retsctl.rets.metadata import Field, LookupValue

ERROR = "error"
WARNING = "warning"
DATE_TYPES = frozenset({"Date", "DateTime"})


@dataclass(frozen=True)
class Problem:
    """One finding; errors make a mapping unusable, warnings deserve a look."""

    severity: str
    message: str
    column: str | None = None
    field: str | None = None
    # True when only the records carrying the value are affected (they are rejected), not the mapping.
    record_level: bool = False

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


def lookups_used(mapping: Mapping, fields: Sequence[Field], lookup_names: Iterable[str] = ()) -> set[str]:
    """The lookups :func:`validate_mapping` reads: the status field's and those of decoded fields."""
    by_name = {item.system_name: item for item in fields}
    names = list(lookup_names)
    used = set()
    for rule in mapping.rules().values():
        for part in rule.sources:
            item = by_name.get(part.field)
            if item is None:
                continue
            if rule.transform == "status":
                used.add(status_lookup_for(item, names)[0])
            elif (part.decode or rule.transform == "lookup") and item.lookup_name:
                used.add(item.lookup_name)
    used.update(by_name[name].lookup_name for name in _filter_fields(mapping) if name in by_name)
    return {name for name in used if name}


def _filter_fields(mapping: Mapping) -> set[str]:
    """Fields named in the base filter (none when it does not parse: validation reports that)."""
    if not mapping.base_filter:
        return set()
    try:
        return {criterion.field for criterion in dmql.criteria(dmql.parse(mapping.base_filter))}
    except dmql.DmqlError:
        return set()


def validate_mapping(
    mapping: Mapping,
    fields: Sequence[Field],
    lookups_by_name: MappingABC[str, Sequence[LookupValue]],
    *,
    metadata_version: str | None = None,
) -> list[Problem]:
    """Every problem of ``mapping`` against the class's fields and lookups, errors first."""
    by_name = {item.system_name: item for item in fields}
    problems = [
        *_source_problems(mapping, by_name),
        *(problem for rule in mapping.columns.values() for problem in _rule_problems(rule, mapping, by_name)),
        *_status_problems(mapping, by_name, lookups_by_name),
        *_filter_problems(mapping, by_name, lookups_by_name),
    ]
    problems += [Problem(WARNING, f"{column} is not mapped: it stays empty", column) for column in mapping.unmapped_columns()]
    if metadata_version and mapping.metadata_version and metadata_version != mapping.metadata_version:
        problems.append(Problem(WARNING, f"built against metadata {mapping.metadata_version}, the server now has "
                                         f"{metadata_version}: check `retsctl metadata diff` and re-run validate"))
    return sorted(problems, key=lambda problem: problem.severity != ERROR)


def _source_problems(mapping: Mapping, by_name: dict[str, Field]) -> list[Problem]:
    problems = []
    if mapping.key_field not in by_name:
        problems.append(Problem(ERROR, f"key_field {mapping.key_field!r} is not a field of "
                                       f"{mapping.resource}/{mapping.class_name}", field=mapping.key_field))
    timestamp = by_name.get(mapping.timestamp_field)
    if timestamp is None:
        problems.append(Problem(ERROR, f"timestamp_field {mapping.timestamp_field!r} is not a field of "
                                       f"{mapping.resource}/{mapping.class_name}", field=mapping.timestamp_field))
    elif timestamp.data_type not in DATE_TYPES:
        problems.append(Problem(ERROR, f"timestamp_field {timestamp.system_name} is {timestamp.data_type}, "
                                       "not a DateTime", field=timestamp.system_name))
    elif not timestamp.searchable:
        problems.append(Problem(ERROR, f"timestamp_field {timestamp.system_name} is not searchable: incremental "
                                       "queries need it", field=timestamp.system_name))
    return problems


def _rule_problems(rule: ColumnRule, mapping: Mapping, by_name: dict[str, Field]) -> list[Problem]:
    problems = []
    for part in rule.sources:
        item = by_name.get(part.field)
        if item is None:
            problems.append(Problem(ERROR, f"unknown field {part.field!r}", rule.column, part.field))
            continue
        problem = _type_problem(rule, item, mapping.format)
        if problem:
            problems.append(Problem(problem[0], problem[1], rule.column, item.system_name))
        if part.decode and not item.is_lookup:
            problems.append(Problem(WARNING, f"{item.system_name} is decoded but is not a lookup field",
                                    rule.column, item.system_name))
    return problems


def _type_problem(rule: ColumnRule, item: Field, format: str) -> tuple[str, str] | None:
    """(severity, message) when the field's type does not suit the rule's transform."""
    data_type, lookup = item.data_type, item.is_lookup
    described = f"{item.system_name} is {data_type or 'untyped'}{' (lookup)' if lookup else ''}"
    numeric_text = data_type == "Character" and item.interpretation.lower() in ("number", "currency")
    if rule.transform in ("integer", "decimal"):
        if lookup or data_type in ("Boolean", *DATE_TYPES, "Time"):
            return ERROR, f"{described}: not a number"
        if data_type == "Character" and not numeric_text:
            return WARNING, f"{described}: values that are not numbers will be rejected"
        if rule.transform == "integer" and data_type == "Decimal" and not rule.round:
            return WARNING, f"{described}: values with fractions will be rejected (add round = true)"
    elif rule.transform == "timestamp" and data_type not in DATE_TYPES:
        return (WARNING if data_type == "Character" else ERROR), f"{described}, not a Date/DateTime"
    elif rule.transform == "url_list" and data_type != "Character":
        return ERROR, f"{described}: photo URLs come as text"
    elif rule.transform == "status" and not lookup:
        return WARNING, f"{described}, not a lookup: status codes cannot be checked against the metadata"
    elif rule.transform == "text" and lookup and format == "COMPACT" and rule.sources[0].is_plain:
        return WARNING, f"{described}: COMPACT records carry its codes (decode them with a [lookups] table)"
    elif rule.transform in ("text", "lookup") and data_type not in ("Character", *NUMERIC_TYPES):
        return WARNING, f"{described}: stored as text as sent"
    return None


def _status_problems(mapping: Mapping, by_name: dict[str, Field],
                     lookups_by_name: MappingABC[str, Sequence[LookupValue]]) -> list[Problem]:
    rule = mapping.columns.get("status")
    if rule is None or rule.transform != "status" or not rule.fields or rule.fields[0] not in by_name:
        return []
    item = by_name[rule.fields[0]]
    lookup, _ = status_lookup_for(item, lookups_by_name)
    values = lookups_by_name.get(lookup or "", ())
    if not values:
        unchecked = Problem(WARNING, f"no values known for lookup {lookup}: the status map is not checked",
                            "status", item.system_name)
        return [unchecked] if item.is_lookup else []
    decoded = mapping.format == "COMPACT-DECODED"
    problems = []
    keys = set()
    for value in values:
        key = (value.long_value or value.value) if decoded else value.value
        keys.add(key)
        if key not in mapping.status_map:
            problems.append(Problem(ERROR, f"lookup value {key!r} ({value.long_value or 'no LongValue'}) of {lookup} "
                                           "has no status: records with it would be rejected", "status", item.system_name,
                                    record_level=True))
    problems += [Problem(WARNING, f"[status] {code!r} is not a value of lookup {lookup} (stale?)", "status",
                         item.system_name) for code in mapping.status_map if code not in keys]
    return problems


def _filter_problems(mapping: Mapping, by_name: dict[str, Field],
                     lookups_by_name: MappingABC[str, Sequence[LookupValue]]) -> list[Problem]:
    if not mapping.base_filter:
        return []
    types = {
        name: item.field_type(frozenset(v.value for v in lookups_by_name.get(item.lookup_name or "", ())) or None)
        for name, item in by_name.items()
    }
    try:
        dmql.validate(dmql.parse(mapping.base_filter), types, query=mapping.base_filter)
    except dmql.DmqlError as error:
        return [Problem(ERROR, f"base_filter: {error.message}")]
    return []
