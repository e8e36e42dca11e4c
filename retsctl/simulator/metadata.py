"""GetMetadata answers for the simulated MLS, in COMPACT and STANDARD-XML (protocol digest §4).

``metadata_segments`` resolves a Type and an ID (``0``, ``*``, names, ``Resource:*``) into the
segments to send, following the spec's ID rules: the last ID element decides the scope, ``0``
means every item of the type at that level and ``*`` adds every subordinate type. The renderers
produce the content that goes inside ``<RETS>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from retsctl.simulator.dataset import (
    CLASSES,
    KEY_FIELD,
    LOOKUPS,
    METADATA_DATE,
    METADATA_VERSION,
    RESOURCE,
    TIMESTAMP_FIELD,
    ClassDef,
    FieldDef,
    xml_escape,
)

SYSTEM_ID = "SIMMLS"
SYSTEM_DESCRIPTION = "retsctl simulator MLS"
TIME_ZONE_OFFSET = "+00:00"
OBJECT_TYPES = (("Photo", "image/jpeg", "Photos", "Listing photos"), ("Thumbnail", "image/jpeg", "Thumbnails", "Small photos"))

# Types a RETS 1.7.2 server may be asked for; the simulator has no data for those not rendered.
KNOWN_TYPES = frozenset({
    "SYSTEM", "RESOURCE", "CLASS", "TABLE", "LOOKUP", "LOOKUP_TYPE", "OBJECT", "FOREIGNKEYS", "FOREIGN_KEYS",
    "UPDATE", "UPDATE_TYPE", "UPDATE_HELP", "SEARCH_HELP", "EDITMASK", "VALIDATION_LOOKUP",
    "VALIDATION_LOOKUP_TYPE", "VALIDATION_EXTERNAL", "VALIDATION_EXTERNAL_TYPE", "VALIDATION_EXPRESSION",
})
_ROW_ELEMENT = {
    "RESOURCE": "Resource", "CLASS": "Class", "TABLE": "Field", "LOOKUP": "Lookup", "LOOKUP_TYPE": "LookupType",
    "OBJECT": "Object",
}


class MetadataRequestError(Exception):
    """A GetMetadata request the server answers with a non-zero ReplyCode."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text


@dataclass
class Segment:
    """One ``<METADATA-TYPE ...>`` block: header attributes, columns and rows (SYSTEM has none)."""

    type: str
    attributes: dict[str, str]
    columns: tuple[str, ...] = ()
    rows: list[tuple[str, ...]] = field(default_factory=list)


def _stamp(**attributes: str) -> dict[str, str]:
    return {**attributes, "Version": METADATA_VERSION, "Date": METADATA_DATE}


def _system(rets_18: bool) -> Segment:
    attributes = {"SystemID": SYSTEM_ID, "SystemDescription": SYSTEM_DESCRIPTION, "TimeZoneOffset": TIME_ZONE_OFFSET}
    if rets_18:
        attributes["MetadataID"] = f"{SYSTEM_ID}-{METADATA_VERSION}"
    return Segment("SYSTEM", attributes)


_RESOURCE_COLUMNS = (
    "ResourceID", "StandardName", "VisibleName", "Description", "KeyField", "ClassCount", "ClassVersion",
    "ClassDate", "ObjectVersion", "ObjectDate", "SearchHelpVersion", "SearchHelpDate", "EditMaskVersion",
    "EditMaskDate", "LookupVersion", "LookupDate", "UpdateHelpVersion", "UpdateHelpDate",
    "ValidationExpressionVersion", "ValidationExpressionDate", "ValidationLookupVersion", "ValidationLookupDate",
    "ValidationExternalVersion", "ValidationExternalDate",
)


def _resources() -> Segment:
    version, day = METADATA_VERSION, METADATA_DATE
    row = (RESOURCE, "Property", "Property", "Residential listings and land", KEY_FIELD, str(len(CLASSES)),
           version, day, version, day, "", "", "", "", version, day, "", "", "", "", "", "", "", "")
    return Segment("RESOURCE", _stamp(), _RESOURCE_COLUMNS, [row])


def _classes(names: Iterable[str], rets_18: bool) -> Segment:
    columns = (
        "ClassName", "StandardName", "VisibleName", "Description", "TableVersion", "TableDate", "UpdateVersion",
        "UpdateDate", "ClassTimeStamp", "DeletedFlagField", "DeletedFlagValue", "HasKeyIndex",
    ) + (("OffsetSupport",) if rets_18 else ())
    rows = [
        (c.name, c.standard_name, c.visible_name, c.description, METADATA_VERSION, METADATA_DATE, "", "",
         TIMESTAMP_FIELD, "", "", "1") + (("1",) if rets_18 else ())
        for c in (CLASSES[name] for name in names)
    ]
    return Segment("CLASS", _stamp(Resource=RESOURCE), columns, rows)


_TABLE_COLUMNS = (
    "MetadataEntryID", "SystemName", "StandardName", "LongName", "DBName", "ShortName", "MaximumLength",
    "DataType", "Precision", "Searchable", "Interpretation", "Alignment", "UseSeparator", "EditMaskID",
    "LookupName", "MaxSelect", "Units", "Index", "Minimum", "Maximum", "Default", "Required", "SearchHelpID",
    "Unique", "ModTimeStamp", "ForeignKeyName", "ForeignField", "InKeyIndex",
)
_NUMERIC = frozenset({"Tiny", "Small", "Int", "Long", "Decimal"})
_INDEXED = frozenset({KEY_FIELD, "ListingId", "ListingStatus", "ListPrice", "City", "PostalCode", TIMESTAMP_FIELD})
_DEFAULT_COLUMNS = ("ListingId", "ListingStatus", "ListPrice", "UnparsedAddress", "City", "BedroomsTotal",
                    "BathroomsTotalInteger", "LivingArea")
_TIMESTAMPS = frozenset({TIMESTAMP_FIELD, "PriceChangeTimestamp", "StatusChangeTimestamp", "PhotosChangeTimestamp"})


def _table_row(spec: FieldDef) -> tuple[str, ...]:
    max_select = str(len(LOOKUPS[spec.lookup_name].values)) if spec.interpretation == "LookupMulti" else ""
    default = str(_DEFAULT_COLUMNS.index(spec.system_name) + 1) if spec.system_name in _DEFAULT_COLUMNS else "0"
    return (
        str(spec.entry_id), spec.system_name, spec.standard_name, spec.long_name, spec.db_name, spec.short_name,
        str(spec.max_length), spec.data_type, spec.precision, "1" if spec.searchable else "0", spec.interpretation,
        "Right" if spec.data_type in _NUMERIC else "Left", "1" if spec.interpretation == "Currency" else "0", "",
        spec.lookup_name, max_select, spec.units, "1" if spec.system_name in _INDEXED else "0", "", "", default, "0",
        "", "1" if spec.system_name in (KEY_FIELD, "ListingId") else "0",
        "0" if spec.system_name in _TIMESTAMPS else "1", "", "", "1" if spec.in_key_index else "0",
    )


def _table(class_def: ClassDef, field_name: str | None = None) -> Segment:
    specs = [f for f in class_def.fields if field_name is None or f.system_name == field_name]
    if not specs:
        raise MetadataRequestError(20502, f"Unknown field {field_name} in {RESOURCE}:{class_def.name}")
    return Segment("TABLE", _stamp(Resource=RESOURCE, Class=class_def.name), _TABLE_COLUMNS,
                   [_table_row(spec) for spec in specs])


def _used_lookups() -> list[str]:
    used = {spec.lookup_name for c in CLASSES.values() for spec in c.fields if spec.lookup_name}
    return [name for name in LOOKUPS if name in used]


LOOKUP_NAMES = _used_lookups()


def _lookups(names: Iterable[str]) -> Segment:
    rows = [(str(1000 + LOOKUP_NAMES.index(name)), name, LOOKUPS[name].visible_name, METADATA_VERSION, METADATA_DATE)
            for name in names]
    return Segment("LOOKUP", _stamp(Resource=RESOURCE), ("MetadataEntryID", "LookupName", "VisibleName", "Version", "Date"),
                   rows)


def _lookup_type(name: str) -> Segment:
    base = 100000 + 100 * LOOKUP_NAMES.index(name)
    rows = [(str(base + n), v.long_value, v.short_value, v.value) for n, v in enumerate(LOOKUPS[name].values)]
    return Segment("LOOKUP_TYPE", _stamp(Resource=RESOURCE, Lookup=name),
                   ("MetadataEntryID", "LongValue", "ShortValue", "Value"), rows)


def _objects(names: Iterable[str], rets_18: bool) -> Segment:
    columns = ("MetadataEntryID", "ObjectType", "MIMEType", "VisibleName", "Description", "ObjectTimeStamp",
               "ObjectCount") + (("LocationAvailability",) if rets_18 else ())
    known = {row[0]: row for row in OBJECT_TYPES}
    rows = [
        (str(500 + n), name, known[name][1], known[name][2], known[name][3], "PhotosChangeTimestamp", "PhotosCount")
        + (("1",) if rets_18 else ())
        for n, name in enumerate(names)
    ]
    return Segment("OBJECT", _stamp(Resource=RESOURCE), columns, rows)


# ---------------------------------------------------------------------------------------------
# ID resolution


def _check_resource(name: str) -> None:
    if name not in (RESOURCE, "0", "*"):
        raise MetadataRequestError(20500, f"Invalid resource: {name}")


def _pick(name: str, known: Iterable[str], what: str) -> list[str]:
    """Every known name for ``0``/``*``, else the one asked for (20502 when unknown)."""
    known = list(known)
    if name in ("0", "*", ""):
        return known
    if name not in known:
        raise MetadataRequestError(20502, f"Unknown {what}: {name}")
    return [name]


def _resource_tree(rets_18: bool) -> list[Segment]:
    """Everything below the Property resource (what ``*`` at resource level adds)."""
    return [
        _classes(CLASSES, rets_18),
        *(_table(c) for c in CLASSES.values()),
        _objects((o[0] for o in OBJECT_TYPES), rets_18),
        _lookups(LOOKUP_NAMES),
        *(_lookup_type(name) for name in LOOKUP_NAMES),
    ]


def metadata_segments(type_name: str, metadata_id: str, *, rets_18: bool = False) -> list[Segment]:
    """The segments answering ``Type=METADATA-<type_name>&ID=<metadata_id>``.

    Raises MetadataRequestError with 20501 (unknown type), 20500 (unknown resource), 20502
    (unknown class, lookup, object type or field) or 20503 (a known type with no metadata here).
    """
    kind = type_name.upper().removeprefix("METADATA-")
    parts = [part.strip() for part in (metadata_id or "0").split(":")]
    last = parts[-1]
    if kind not in KNOWN_TYPES:
        raise MetadataRequestError(20501, f"Invalid metadata type: {type_name}")
    if kind == "SYSTEM":
        return [_system(rets_18), *([_resources(), *_resource_tree(rets_18)] if last == "*" else [])]
    if kind == "RESOURCE":
        _pick(last, [RESOURCE], "resource")
        return [_resources(), *(_resource_tree(rets_18) if last == "*" else [])]
    if kind not in _ROW_ELEMENT:
        raise MetadataRequestError(20503, f"No {kind} metadata on this server")
    _check_resource(parts[0])
    inner = parts[1] if len(parts) > 1 else "0"
    if kind == "CLASS":
        names = _pick(inner, CLASSES, "class")
        tables = [_table(CLASSES[n]) for n in names] if last == "*" else []
        return [_classes(names, rets_18), *tables]
    if kind == "TABLE":
        names = _pick(inner, CLASSES, "class")
        field_name = parts[2] if len(parts) > 2 and parts[2] not in ("0", "*") else None
        return [_table(CLASSES[n], field_name) for n in names]
    if kind == "LOOKUP":
        names = _pick(inner, LOOKUP_NAMES, "lookup")
        types = [_lookup_type(n) for n in names] if last == "*" else []
        return [_lookups(names), *types]
    if kind == "LOOKUP_TYPE":
        return [_lookup_type(n) for n in _pick(inner, LOOKUP_NAMES, "lookup")]
    return [_objects(_pick(inner, (o[0] for o in OBJECT_TYPES), "object type"), rets_18)]


# ---------------------------------------------------------------------------------------------
# Rendering


def _attributes(attributes: dict[str, str]) -> str:
    return "".join(f' {name}="{xml_escape(value).replace(chr(34), "&quot;")}"' for name, value in attributes.items())


def _system_xml(segment: Segment) -> str:
    return (
        f'<METADATA-SYSTEM{_attributes(_stamp())}>\n<SYSTEM{_attributes(segment.attributes)}/>\n'
        "<COMMENTS>A synthetic MLS served by retsctl for demos and tests.</COMMENTS>\n</METADATA-SYSTEM>\n"
    )


def render_compact(segments: Iterable[Segment]) -> str:
    """COMPACT metadata: one header element per segment with tab-delimited COLUMNS and DATA."""
    out = []
    for segment in segments:
        if segment.type == "SYSTEM":
            out.append(_system_xml(segment))
            continue
        out.append(f"<METADATA-{segment.type}{_attributes(segment.attributes)}>\n")
        out.append("<COLUMNS>\t" + "\t".join(segment.columns) + "\t</COLUMNS>\n")
        out.extend("<DATA>\t" + "\t".join(map(xml_escape, row)) + "\t</DATA>\n" for row in segment.rows)
        out.append(f"</METADATA-{segment.type}>\n")
    return "".join(out)


def render_standard_xml(segments: Iterable[Segment]) -> str:
    """STANDARD-XML metadata: one child element per row, one element per column, inside ``<METADATA>``."""
    out = ["<METADATA>\n"]
    for segment in segments:
        if segment.type == "SYSTEM":
            out.append(_system_xml(segment))
            continue
        element = _ROW_ELEMENT[segment.type]
        out.append(f"<METADATA-{segment.type}{_attributes(segment.attributes)}>\n")
        for row in segment.rows:
            cells = "".join(f"<{c}>{xml_escape(v)}</{c}>" for c, v in zip(segment.columns, row, strict=True))
            out.append(f"<{element}>{cells}</{element}>\n")
        out.append(f"</METADATA-{segment.type}>\n")
    out.append("</METADATA>\n")
    return "".join(out)
