"""Suggesting a complete mapping from a server's metadata.

Each column is matched against every field of the class by SystemName, StandardName and LongName
(RESO Data Dictionary names, RETS 1.x standard names, common vendor spellings and labels, see
:mod:`retsctl.mapping.synonyms`), with the field's type checked (a price must be numeric, a status
a lookup…). The best field wins if it is sure enough; the runner-up is kept for the comments. The
status lookup's values are read by meaning (:mod:`retsctl.mapping.status`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field

from retsctl.mapping.document import describe_field, suggestion_document
from retsctl.mapping.model import DEFAULT_PHOTO_OBJECT_TYPE, Mapping
from retsctl.mapping.status import StatusGuess, classify_status
from retsctl.mapping.synonyms import (
    ADDRESS_PARTS,
    COLUMN_NAMES,
    TIMESTAMP_AVOID,
    TIMESTAMP_LABELS,
    TIMESTAMP_NAMES,
    AddressPart,
    ColumnNames,
)
from retsctl.properties import MAPPED_COLUMNS
from retsctl.rets.metadata import Field, LookupValue, MetadataClass, ObjectType, Resource

MIN_CONFIDENCE = 0.5
INTEGER_TYPES = frozenset({"Tiny", "Small", "Int", "Long"})
NUMERIC_TYPES = INTEGER_TYPES | {"Decimal"}
_NUMBER_INTERPRETATIONS = frozenset({"number", "currency"})
_AREA_UNITS_OTHER_THAN_SQFT = frozenset({"sqmeters", "acres", "hectares", "meters", "feet"})
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def _squashed(name: str | None) -> str:
    return _NON_ALNUM.sub("", (name or "").lower())


def _words(name: str | None) -> str:
    return _NON_ALNUM.sub(" ", (name or "").lower()).strip()


@dataclass(frozen=True)
class Candidate:
    """A field that could fill a column, how well it fits (0 to 1) and why."""

    field: Field
    score: float
    reason: str


@dataclass
class ColumnChoice:
    """The suggestion for one column: its source part(s), confidence, reason and the runner-up."""

    column: str
    fields: list[Field]
    confidence: float
    reason: str
    runner_up: str | None = None
    prefixes: dict[str, str] = field(default_factory=dict)  # SystemName → prefix (unit numbers)
    decoded: set[str] = field(default_factory=set)  # SystemNames decoded through [lookups]
    round: bool = False

    @property
    def source_names(self) -> list[str]:
        return [item.system_name for item in self.fields]


@dataclass(frozen=True)
class StatusChoice:
    """One status lookup value: the key in the status map, its LongValue and the guess."""

    key: str
    long_value: str | None
    guess: StatusGuess


@dataclass
class SuggestedMapping:
    """A complete mapping suggestion; ``to_toml()`` writes it with every choice explained."""

    resource: str
    class_name: str
    key_field: str
    key_reason: str
    timestamp_field: str
    timestamp_reason: str
    format: str
    photo_object_type: str
    server_timezone: str
    timezone_reason: str
    metadata_version: str | None
    choices: dict[str, ColumnChoice]
    status_field: str | None = None
    status_lookup: str | None = None
    status_lookup_reason: str = ""
    status_values: list[StatusChoice] = field(default_factory=list)
    lookups: dict[str, dict[str, str]] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)

    def to_toml(self) -> str:
        """The mapping file, each choice with its confidence and runner-up as comments."""
        return suggestion_document(self).as_string()

    def to_mapping(self) -> Mapping:
        return Mapping.loads(self.to_toml())

    def status_map(self) -> dict[str, str]:
        return {value.key: value.guess.status for value in self.status_values if value.guess.status}

    def summary(self) -> list[dict[str, object]]:
        """One row per runbook column: source, confidence, reason, runner-up (for reports)."""
        rows: list[dict[str, object]] = []
        for column in MAPPED_COLUMNS:
            choice = self.choices.get(column)
            rows.append({
                "column": column,
                "source": " + ".join(choice.source_names) if choice else None,
                "confidence": round(choice.confidence, 2) if choice else None,
                "reason": choice.reason if choice else self._missing_reason(column),
                "runner_up": choice.runner_up if choice else None,
            })
        return rows

    def _missing_reason(self, column: str) -> str:
        if column == "photo_urls":
            return f"from GetObject Location=1 (type {self.photo_object_type})"
        return "not mapped"


# --- scoring fields -----------------------------------------------------------------------------


def _avoided(item: Field, avoid: Iterable[str]) -> bool:
    long_name = (item.long_name or "").lower()
    padded = f" {_words(long_name)} "
    for word in avoid:
        if _squashed(word):
            if f" {_words(word)} " in padded:
                return True
        elif word in long_name:
            return True
    return False


def _contains_phrase(words: str, phrase: str) -> bool:
    """Whole-word containment; a lone short word ("mls", "ba") is too vague to count."""
    if not words or (" " not in phrase and len(phrase) < 5):
        return False
    return f" {phrase} " in f" {words} "


def _name_score(item: Field, names: ColumnNames) -> tuple[float, str]:
    """How well a field's names match a column's names (before the type check)."""
    standard, system = _squashed(item.standard_name), _squashed(item.system_name)
    found: list[tuple[float, str]] = [(0.0, "")]
    for rank, name in enumerate(names.reso):
        if standard == _squashed(name):
            found.append((1.0 - 0.03 * rank, f"StandardName {item.standard_name} (RESO)"))
        if system == _squashed(name):
            found.append((0.95 - 0.03 * rank, f"SystemName {item.system_name} (RESO name)"))
    for rank, name in enumerate(names.standard):
        if standard == _squashed(name):
            found.append((0.9 - 0.002 * rank, f"StandardName {item.standard_name}"))
        if system == _squashed(name):
            found.append((0.85 - 0.002 * rank, f"SystemName {item.system_name}"))
    long_words = _words(item.long_name)
    for phrase in names.labels:
        if _squashed(item.long_name) == _squashed(phrase):
            found.append((0.8, f'LongName "{item.long_name}"'))
        elif _contains_phrase(long_words, _words(phrase)):
            found.append((0.6 if " " in _words(phrase) else 0.45, f'LongName "{item.long_name}" contains "{_words(phrase)}"'))
    return max(found, key=lambda pair: pair[0])


def _type_factor(kind: str, item: Field) -> float:
    """1 when the field's type suits the column, less when it merely could, 0 when it cannot."""
    data_type, lookup = item.data_type, item.is_lookup
    numeric_text = data_type == "Character" and item.interpretation.lower() in _NUMBER_INTERPRETATIONS
    if kind == "id":
        return 1.0 if not lookup and (data_type == "Character" or data_type in INTEGER_TYPES) else 0.0
    if kind == "text" or kind == "urls":
        return 1.0 if data_type == "Character" and not lookup else 0.0
    if kind in ("decimal", "integer"):
        if lookup:
            return 0.0
        if data_type in INTEGER_TYPES or (kind == "decimal" and data_type == "Decimal"):
            return 1.0
        # Old servers type everything Character: only a strong name match survives x0.6.
        return 0.95 if data_type == "Decimal" else 0.8 if numeric_text else 0.6 if data_type == "Character" else 0.0
    if kind == "status":
        if data_type not in ("Character", *INTEGER_TYPES):
            return 0.0
        return 1.0 if lookup else 0.7
    raise AssertionError(kind)


def rank_candidates(names: ColumnNames, fields: Sequence[Field]) -> list[Candidate]:
    """Every field that could fill the column, best first (ties keep metadata order)."""
    candidates = []
    for item in fields:
        if _avoided(item, names.avoid):
            continue
        score, reason = _name_score(item, names)
        factor = _type_factor(names.kind, item) if score else 0.0
        if names.column == "square_feet" and _squashed(item.get("Units")) in _AREA_UNITS_OTHER_THAN_SQFT:
            factor = 0.0
        if score * factor > 0:
            note = "" if factor == 1.0 else f", type {item.data_type or '?'} x{factor:g}"
            candidates.append(Candidate(item, round(score * factor, 3), reason + note))
    return sorted(candidates, key=lambda candidate: -candidate.score)


def _runner_up(candidates: Sequence[Candidate], chosen: Iterable[Field]) -> str | None:
    taken = {item.system_name for item in chosen}
    for candidate in candidates:
        if candidate.field.system_name not in taken:
            return f"{describe_field(candidate.field)} {candidate.score:.2f}: {candidate.reason}"
    return None


def _single_choice(column: str, fields: Sequence[Field]) -> tuple[ColumnChoice | None, list[Candidate]]:
    candidates = rank_candidates(COLUMN_NAMES[column], fields)
    if not candidates or candidates[0].score < MIN_CONFIDENCE:
        return None, candidates
    best = candidates[0]
    choice = ColumnChoice(column, [best.field], best.score, best.reason, _runner_up(candidates, [best.field]))
    choice.round = COLUMN_NAMES[column].kind == "integer" and best.field.data_type == "Decimal"
    return choice, candidates


# --- address: one field, or the street parts joined ---------------------------------------------


def _part_score(part: AddressPart, item: Field) -> float:
    if _avoided(item, ("legal", "agent", "office", "member", "owner", "mailing", "count", "floor", "building")):
        return 0.0
    if item.data_type not in ("Character", *INTEGER_TYPES) or (item.is_lookup and part.role in ("number", "name")):
        return 0.0
    names = {_squashed(name) for name in part.standard}
    if _squashed(item.standard_name) in names or _squashed(item.system_name) in names:
        return 0.9
    if _squashed(item.long_name) in {_squashed(label) for label in part.labels}:
        return 0.8
    return 0.0


def _needs_decoding(values: Sequence[LookupValue]) -> bool:
    """Codes nobody would print in an address (``5PSUX49PM1Q``, ``17``) are decoded."""
    return any(value.value.isdigit() or len(value.value) > 6 for value in values)


def _address_from_parts(fields: Sequence[Field], lookups: MappingABC[str, Sequence[LookupValue]]) -> ColumnChoice | None:
    chosen: list[tuple[AddressPart, Field, float]] = []
    for part in ADDRESS_PARTS:
        scored = [(score, item) for item in fields if (score := _part_score(part, item)) > 0]
        if scored:
            score, item = max(scored, key=lambda pair: pair[0])
            chosen.append((part, item, score))
    roles = {part.role for part, _, _ in chosen}
    if not {"number", "name"} <= roles:
        return None
    confidence = min(score for _, _, score in chosen)
    choice = ColumnChoice(
        "address", [item for _, item, _ in chosen], confidence,
        "street parts joined: " + ", ".join(f"{part.role} {item.system_name}" for part, item, _ in chosen),
    )
    for part, item, _ in chosen:
        if part.prefix:
            choice.prefixes[item.system_name] = part.prefix
        values = lookups.get(item.lookup_name or "", ())
        if item.is_lookup and values and _needs_decoding(values):
            choice.decoded.add(item.system_name)
    return choice


def _address_choice(fields: Sequence[Field], lookups: MappingABC[str, Sequence[LookupValue]]) -> ColumnChoice | None:
    single, candidates = _single_choice("address", fields)
    joined = _address_from_parts(fields, lookups)
    if joined and (single is None or joined.confidence > single.confidence):
        joined.runner_up = _runner_up(candidates, joined.fields)
        return joined
    if single and joined:
        single.runner_up = f"{joined.reason} {joined.confidence:.2f}"
    return single


# --- status ---------------------------------------------------------------------------------------


def status_lookup_for(item: Field, lookup_names: Iterable[str]) -> tuple[str | None, str]:
    """The field's lookup; for a field that declares none, a lookup named like it (CRT's LISTING_STATUS)."""
    if item.lookup_name:
        return item.lookup_name, f"lookup {item.lookup_name}"
    own = {_squashed(name) for name in (item.system_name, item.standard_name, item.long_name) if name}
    for name in lookup_names:
        if _squashed(name) in own:
            return name, f"lookup {name} (matched by name: the field declares no LookupName)"
    return None, "the field has no lookup"


def _status_values(values: Sequence[LookupValue], format: str) -> list[StatusChoice]:
    """One choice per distinct key (codes, or LongValues for COMPACT-DECODED); the first one wins."""
    decoded = format == "COMPACT-DECODED"
    choices: dict[str, StatusChoice] = {}
    for value in values:
        key = (value.long_value or value.value) if decoded else value.value
        if key and key not in choices:
            guess = classify_status(value.value, value.long_value, value.short_value)
            choices[key] = StatusChoice(key, value.long_value, guess)
    return list(choices.values())


# --- source settings: key, timestamp, object type -------------------------------------------------


def _timestamp_choice(fields: Sequence[Field], metadata_class: MetadataClass | None) -> tuple[str, str]:
    by_name = {item.system_name: item for item in fields}
    if metadata_class and metadata_class.class_timestamp in by_name:
        return metadata_class.class_timestamp, "CLASS ClassTimeStamp"
    names = ColumnNames("modified_at", "timestamp", ("ModificationTimestamp",), TIMESTAMP_NAMES, TIMESTAMP_LABELS,
                        TIMESTAMP_AVOID)
    scored = [
        (score * (1.0 if item.data_type == "DateTime" else 0.5), reason, item)
        for item in fields
        if item.data_type in ("DateTime", "Date") and not _avoided(item, names.avoid)
        for score, reason in [_name_score(item, names)]
        if score
    ]
    if not scored:
        return "", "no modification timestamp field found: set timestamp_field by hand"
    score, reason, item = max(scored, key=lambda entry: entry[0])
    return item.system_name, f"{reason} ({item.data_type}), confidence {score:.2f}"


def _photo_object_type(object_types: Sequence[ObjectType]) -> str:
    names = [item.object_type for item in object_types if item.object_type]
    exact = next((name for name in names if name.lower() == "photo"), None)
    return exact or next((name for name in names if "photo" in name.lower()), None) or DEFAULT_PHOTO_OBJECT_TYPE


def _find(items: Iterable[Resource | MetadataClass], name: str, attribute: str) -> Resource | MetadataClass | None:
    return next((item for item in items if getattr(item, attribute).lower() == name.lower()), None)


def lookups_needed(fields: Sequence[Field], lookup_names: Iterable[str] = ()) -> set[str]:
    """The lookups whose values :func:`suggest_mapping` reads: status candidates and address parts."""
    names = list(lookup_names)
    needed = set()
    for candidate in rank_candidates(COLUMN_NAMES["status"], fields):
        lookup, _ = status_lookup_for(candidate.field, names)
        if lookup:
            needed.add(lookup)
    needed.update(item.lookup_name for item in fields if item.lookup_name and item.is_lookup
                  and any(_part_score(part, item) for part in ADDRESS_PARTS))
    return needed


def suggest_mapping(
    resource: str,
    class_name: str,
    resources: Sequence[Resource],
    classes: Sequence[MetadataClass],
    fields: Sequence[Field],
    lookups_by_name: MappingABC[str, Sequence[LookupValue]],
    *,
    object_types: Sequence[ObjectType] = (),
    format: str = "COMPACT",
    metadata_version: str | None = None,
    time_zone_offset: str | None = None,
) -> SuggestedMapping:
    """A complete mapping for ``resource``/``class_name`` from its metadata.

    ``lookups_by_name`` holds the values of (at least) the lookups :func:`lookups_needed` names;
    ``time_zone_offset`` is METADATA-SYSTEM's TimeZoneOffset when the server sends one.
    """
    fields = [item for item in fields if item.system_name]
    unmapped: list[str] = []
    choices: dict[str, ColumnChoice] = {}
    for column in MAPPED_COLUMNS:
        if column == "address":
            choice = _address_choice(fields, lookups_by_name)
        else:
            choice, candidates = _single_choice(column, fields)
            if choice is None and column != "photo_urls":
                hint = f" (closest: {_runner_up(candidates, [])})" if candidates else ""
                unmapped.append(f"{column}: no field matches{hint}")
        if choice:
            choices[column] = choice
    if "address" not in choices:
        unmapped.append("address: no address field and no street number + street name found")

    resource_row = _find(resources, resource, "resource_id")
    key_field = resource_row.key_field if isinstance(resource_row, Resource) else None
    _fall_back_to_key_field(choices, unmapped, fields, key_field)
    key_reason = "RESOURCE KeyField"
    if not key_field:
        external = choices.get("external_id")
        key_field = external.source_names[0] if external else ""
        key_reason = "no KeyField in RESOURCE metadata: using the external_id field" if external else "unknown"
        if not external:
            unmapped.append("key_field: RESOURCE metadata names no KeyField")
    class_row = _find(classes, class_name, "class_name")
    timestamp_field, timestamp_reason = _timestamp_choice(fields, class_row if isinstance(class_row, MetadataClass) else None)
    if not timestamp_field:
        unmapped.append("timestamp_field: no DateTime field looks like a modification timestamp")

    suggestion = SuggestedMapping(
        resource=resource,
        class_name=class_name,
        key_field=key_field,
        key_reason=key_reason,
        timestamp_field=timestamp_field,
        timestamp_reason=timestamp_reason,
        format=format,
        photo_object_type=_photo_object_type(object_types),
        server_timezone=time_zone_offset or "UTC",
        timezone_reason="METADATA-SYSTEM TimeZoneOffset" if time_zone_offset else
        "the server declares no TimeZoneOffset: UTC assumed; set the MLS's zone (e.g. America/Denver) if it stamps local time",
        metadata_version=metadata_version or (class_row.get("TableVersion") if class_row else None) or None,
        choices=choices,
        unmapped=unmapped,
    )
    _suggest_status(suggestion, fields, lookups_by_name, format)
    _suggest_decoding(suggestion, fields, lookups_by_name)
    return suggestion


def _fall_back_to_key_field(choices: dict[str, ColumnChoice], unmapped: list[str], fields: Sequence[Field],
                            key_field: str | None) -> None:
    """No listing-number field: the KeyField identifies the listing too (a mapping needs external_id)."""
    key = next((item for item in fields if item.system_name == key_field), None)
    if "external_id" in choices or key is None:
        return
    choices["external_id"] = ColumnChoice("external_id", [key], MIN_CONFIDENCE,
                                          "the RESOURCE KeyField: no listing-number field found")
    unmapped[:] = [line for line in unmapped if not line.startswith("external_id:")]


def _suggest_status(suggestion: SuggestedMapping, fields: Sequence[Field],
                    lookups_by_name: MappingABC[str, Sequence[LookupValue]], format: str) -> None:
    choice = suggestion.choices.get("status")
    if choice is None:
        return
    item = choice.fields[0]
    lookup, how = status_lookup_for(item, lookups_by_name)
    values = lookups_by_name.get(lookup or "", ())
    suggestion.status_field, suggestion.status_lookup, suggestion.status_lookup_reason = item.system_name, lookup, how
    suggestion.status_values = _status_values(values, format)
    if not values:
        suggestion.unmapped.append(f"status values: {how}, and no lookup values were found; fill [status] by hand")
    for value in suggestion.status_values:
        if value.guess.status is None:
            suggestion.unmapped.append(f"status value {value.key!r} ({value.long_value or 'no LongValue'}): "
                                       "no standard status recognised")


def _suggest_decoding(suggestion: SuggestedMapping, fields: Sequence[Field],
                      lookups_by_name: MappingABC[str, Sequence[LookupValue]]) -> None:
    """Lookup tables for the address parts chosen to be decoded (COMPACT codes → text)."""
    choice = suggestion.choices.get("address")
    if choice is None or suggestion.format != "COMPACT":
        if choice:
            choice.decoded.clear()
        return
    for item in choice.fields:
        if item.system_name in choice.decoded:
            values = lookups_by_name.get(item.lookup_name or "", ())
            suggestion.lookups[item.system_name] = {value.value: _readable(value) for value in values}


def _readable(value: LookupValue) -> str:
    """The ShortValue when it differs from the code (``St``), else the LongValue."""
    if value.short_value and value.short_value != value.value:
        return value.short_value
    return value.long_value or value.value
