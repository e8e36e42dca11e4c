"""GetMetadata replies (COMPACT and STANDARD-XML) and the metadata model.

Every segment keeps its header attributes and every row keeps every column exactly as the server
named and sent it (entities decoded); typed row views (:class:`Field`, :class:`Resource`…) add
properties on top without dropping anything. Parsing is lenient (protocol digest §4, §12): unknown
types and columns are kept, COLUMNS/DATA count mismatches tolerated, SYSTEM in both the attribute
(1.7) and child-element (1.5) styles, nested full-tree STANDARD-XML walked generically, and bodies
that are bare ``<METADATA-…>`` fragments without a ``<RETS>`` envelope accepted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from lxml import etree

from retsctl.rets.dmql import FieldType
from retsctl.rets.replies import (
    Reply,
    RetsProtocolError,
    find_reply,
    looks_like_html,
    raise_for_reply,
)
from retsctl.rets.sanitize import (
    UTF8,
    RepairCounts,
    TextDecoder,
    XmlRepairStream,
    declared_xml_encoding,
    resolve_encoding,
    utf8_chunks,
)

SEGMENT_PREFIX = "METADATA-"
SYSTEM = "METADATA-SYSTEM"
_TRUE = frozenset({"1", "true", "t", "yes", "y"})
_LOOKUP_INTERPRETATIONS = frozenset({"lookup", "lookupmulti", "lookupbitstring", "lookupbitmask"})

# A row of these segment types names the scope of the segments nested inside it (full-tree XML).
_SCOPE_FROM_ROW = {
    "METADATA-RESOURCE": ("Resource", "ResourceID"),
    "METADATA-CLASS": ("Class", "ClassName"),
    "METADATA-LOOKUP": ("Lookup", "LookupName"),
    "METADATA-UPDATE": ("Update", "UpdateName"),
    "METADATA-VALIDATION_LOOKUP": ("ValidationLookup", "ValidationLookupName"),
    "METADATA-VALIDATION_EXTERNAL": ("ValidationExternalName", "ValidationExternalName"),
}
_SCOPE_ATTRIBUTES = ("Resource", "Class", "Lookup", "Update", "ValidationLookup", "ValidationExternalName")


def _get(mapping: dict[str, str], name: str) -> str | None:
    """Case-insensitive lookup: servers spell the same column ``MimeType`` and ``MIMEType``."""
    if name in mapping:
        return mapping[name]
    wanted = name.lower()
    return next((value for key, value in mapping.items() if key.lower() == wanted), None)


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or not value.strip():
        return default
    return value.strip().lower() in _TRUE


def _int(value: str | None) -> int | None:
    try:
        return int(value.strip()) if value is not None else None
    except ValueError:
        return None


@dataclass
class MetadataSegment:
    """One ``<METADATA-…>`` block: its header attributes and its rows (column name → value).

    ``scope`` holds Resource/Class/Lookup inherited from enclosing rows when the segment sat
    nested inside another one (full-tree STANDARD-XML); the header attributes win over it.
    """

    type: str
    attributes: dict[str, str]
    rows: list[dict[str, str]] = field(default_factory=list)
    scope: dict[str, str] = field(default_factory=dict)

    def _scoped(self, name: str) -> str | None:
        return _get(self.attributes, name) or self.scope.get(name)

    @property
    def resource(self) -> str | None:
        return self._scoped("Resource")

    @property
    def class_name(self) -> str | None:
        return self._scoped("Class")

    @property
    def lookup(self) -> str | None:
        return self._scoped("Lookup")

    @property
    def version(self) -> str | None:
        return _get(self.attributes, "Version")

    @property
    def date(self) -> str | None:
        return _get(self.attributes, "Date")

    def scope_values(self) -> dict[str, str]:
        """Resource/Class/Lookup… of this segment, from its attributes or its enclosing rows."""
        values = dict(self.scope)
        for name in _SCOPE_ATTRIBUTES:
            found = _get(self.attributes, name)
            if found:
                values[name] = found
        return values


@dataclass
class MetadataRow:
    """A metadata row: every column as sent, plus the scope (Resource, Class, Lookup) it came from."""

    attributes: dict[str, str]
    scope: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        """The value of column ``name`` (any case), or None when the server did not send it."""
        return _get(self.attributes, name)

    @property
    def resource(self) -> str | None:
        return self.scope.get("Resource")


@dataclass
class SystemInfo(MetadataRow):
    """METADATA-SYSTEM: SystemID, SystemDescription, TimeZoneOffset (1.7+), MetadataID (1.8)…"""

    comments: str | None = None
    version: str | None = None
    date: str | None = None

    @property
    def system_id(self) -> str | None:
        return self.get("SystemID")

    @property
    def description(self) -> str | None:
        return self.get("SystemDescription")

    @property
    def time_zone_offset(self) -> str | None:
        return self.get("TimeZoneOffset") or None


@dataclass
class Resource(MetadataRow):
    @property
    def resource_id(self) -> str:
        return self.get("ResourceID") or ""

    @property
    def standard_name(self) -> str | None:
        return self.get("StandardName")

    @property
    def visible_name(self) -> str | None:
        return self.get("VisibleName")

    @property
    def description(self) -> str | None:
        return self.get("Description")

    @property
    def key_field(self) -> str | None:
        return self.get("KeyField") or None

    @property
    def class_count(self) -> int | None:
        return _int(self.get("ClassCount"))


@dataclass
class MetadataClass(MetadataRow):
    @property
    def class_name(self) -> str:
        return self.get("ClassName") or ""

    @property
    def standard_name(self) -> str | None:
        return self.get("StandardName")

    @property
    def visible_name(self) -> str | None:
        return self.get("VisibleName")

    @property
    def description(self) -> str | None:
        return self.get("Description")

    @property
    def class_timestamp(self) -> str | None:
        """SystemName of the class's last-modified field (the incremental-sync cursor), if declared."""
        return self.get("ClassTimeStamp") or None

    @property
    def has_key_index(self) -> bool:
        return _flag(self.get("HasKeyIndex"))


@dataclass
class Field(MetadataRow):
    """A METADATA-TABLE row: one field of a class."""

    @property
    def class_name(self) -> str | None:
        return self.scope.get("Class")

    @property
    def system_name(self) -> str:
        return self.get("SystemName") or ""

    @property
    def standard_name(self) -> str | None:
        return self.get("StandardName")

    @property
    def long_name(self) -> str | None:
        return self.get("LongName")

    @property
    def db_name(self) -> str | None:
        return self.get("DBName")

    @property
    def data_type(self) -> str:
        return (self.get("DataType") or "").strip()

    @property
    def interpretation(self) -> str:
        return (self.get("Interpretation") or "").strip()

    @property
    def lookup_name(self) -> str | None:
        return (self.get("LookupName") or "").strip() or None

    @property
    def is_lookup(self) -> bool:
        return self.interpretation.lower() in _LOOKUP_INTERPRETATIONS

    @property
    def searchable(self) -> bool:
        """False only when the server says so; a missing Searchable column means searchable."""
        return _flag(self.get("Searchable"), default=True)

    @property
    def maximum_length(self) -> int | None:
        return _int(self.get("MaximumLength"))

    @property
    def precision(self) -> int | None:
        return _int(self.get("Precision"))

    @property
    def unique(self) -> bool:
        return _flag(self.get("Unique"))

    @property
    def in_key_index(self) -> bool:
        return _flag(self.get("InKeyIndex"))

    def field_type(self, lookup_values: frozenset[str] | None = None) -> FieldType:
        """What DMQL validation needs: data type, interpretation, the lookup's codes, searchability."""
        return FieldType(
            data_type=self.data_type,
            interpretation=self.interpretation,
            lookup_values=lookup_values if self.is_lookup else None,
            searchable=self.searchable,
        )


@dataclass
class Lookup(MetadataRow):
    """A METADATA-LOOKUP row: one lookup table of a resource."""

    @property
    def lookup_name(self) -> str:
        return self.get("LookupName") or ""

    @property
    def visible_name(self) -> str | None:
        return self.get("VisibleName")

    @property
    def version(self) -> str | None:
        return self.get("Version")

    @property
    def date(self) -> str | None:
        return self.get("Date")


@dataclass
class LookupValue(MetadataRow):
    """A METADATA-LOOKUP_TYPE row: ``Value`` is the code used in DMQL and COMPACT results."""

    @property
    def lookup(self) -> str | None:
        return self.scope.get("Lookup")

    @property
    def value(self) -> str:
        return self.get("Value") or ""

    @property
    def long_value(self) -> str | None:
        return self.get("LongValue")

    @property
    def short_value(self) -> str | None:
        return self.get("ShortValue")


@dataclass
class ObjectType(MetadataRow):
    """A METADATA-OBJECT row: a media type GetObject can fetch."""

    @property
    def object_type(self) -> str:
        return self.get("ObjectType") or ""

    @property
    def mime_type(self) -> str | None:
        return self.get("MIMEType")

    @property
    def visible_name(self) -> str | None:
        return self.get("VisibleName")

    @property
    def description(self) -> str | None:
        return self.get("Description")


RowView = TypeVar("RowView", bound=MetadataRow)


@dataclass
class MetadataResponse:
    """Every segment of one GetMetadata reply, in document order."""

    segments: list[MetadataSegment]
    system: SystemInfo | None = None
    reply: Reply = field(default_factory=lambda: Reply(0, ""))
    repairs: RepairCounts = field(default_factory=RepairCounts)

    def segments_of(self, metadata_type: str) -> list[MetadataSegment]:
        """The segments of one type, e.g. ``"METADATA-TABLE"`` or ``"TABLE"`` (any case)."""
        wanted = _normalise_type(metadata_type)
        return [segment for segment in self.segments if _normalise_type(segment.type) == wanted]

    def rows_as(self, metadata_type: str, view: type[RowView]) -> list[RowView]:
        return [
            view(attributes=row, scope=segment.scope_values())
            for segment in self.segments_of(metadata_type)
            for row in segment.rows
        ]

    def resources(self) -> list[Resource]:
        return self.rows_as("RESOURCE", Resource)

    def classes(self) -> list[MetadataClass]:
        return self.rows_as("CLASS", MetadataClass)

    def fields(self) -> list[Field]:
        return self.rows_as("TABLE", Field)

    def lookups(self) -> list[Lookup]:
        return self.rows_as("LOOKUP", Lookup)

    def lookup_values(self, lookup: str | None = None) -> list[LookupValue]:
        """LOOKUP_TYPE rows, optionally only those of one lookup (a ``ID=Resource:*`` reply has many)."""
        values = self.rows_as("LOOKUP_TYPE", LookupValue)
        return values if lookup is None else [value for value in values if value.lookup == lookup]

    def object_types(self) -> list[ObjectType]:
        return self.rows_as("OBJECT", ObjectType)


def _normalise_type(metadata_type: str) -> str:
    upper = metadata_type.strip().upper().replace("FOREIGN_KEYS", "FOREIGNKEYS")
    return upper if upper.startswith(SEGMENT_PREFIX) else SEGMENT_PREFIX + upper


def parse_metadata(body: bytes, *, content_type: str | None = None) -> MetadataResponse:
    """Parse a GetMetadata reply in COMPACT or STANDARD-XML (told apart by its shape).

    A non-zero ReplyCode raises the typed error (20503 included: the caller decides whether "no
    metadata" is an error); HTML or unparseable bodies raise :class:`RetsProtocolError`. The body
    goes through the same repairs as Search (illegal characters, bad references, bytes invalid in
    the declared encoding); ``content_type``'s charset counts when the XML declares none.
    """
    if looks_like_html(body):
        raise RetsProtocolError(
            "GetMetadata answered with an HTML page, not RETS XML",
            hint="Check the GetMetadata URL from the login reply; a proxy or portal page answered instead.",
            transaction="GetMetadata",
        )
    reply = find_reply(body)
    if reply is not None:
        raise_for_reply(reply, transaction="GetMetadata")
    repairs = RepairCounts()
    root = _parse_xml(_repaired_utf8(body, content_type, repairs))
    segments: list[MetadataSegment] = []
    system: SystemInfo | None = None
    for element, scope in _segment_elements(root):
        segment, found_system = _read_segment(element, scope, repairs)
        segments.append(segment)
        system = system or found_system
    return MetadataResponse(segments=segments, system=system, reply=reply or Reply(0, ""), repairs=repairs)


def _repaired_utf8(body: bytes, content_type: str | None, repairs: RepairCounts) -> bytes:
    chunks, transcoded = utf8_chunks([body])
    encoding = UTF8 if transcoded else resolve_encoding(declared_xml_encoding(body[:200]), content_type)
    return b"".join(XmlRepairStream(chunks, TextDecoder(encoding, repairs), repairs))


def _parse_xml(body: bytes) -> etree._Element:
    # The repaired body is UTF-8 whatever its XML declaration says; recover from what remains.
    parser = etree.XMLParser(encoding="utf-8", recover=True, huge_tree=True, resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as error:
        root = None
        detail = str(error)
    else:
        detail = "empty document"
    if root is None:
        raise RetsProtocolError(f"GetMetadata answer is not XML ({detail})", transaction="GetMetadata")
    return root


def _is_segment(element: etree._Element) -> bool:
    return isinstance(element.tag, str) and element.tag.upper().startswith(SEGMENT_PREFIX)


def _children(element: etree._Element) -> Iterator[etree._Element]:
    """Element children only (comments and processing instructions skipped)."""
    return (child for child in element if isinstance(child.tag, str))


def _segment_elements(root: etree._Element) -> Iterator[tuple[etree._Element, dict[str, str]]]:
    """Every ``METADATA-*`` element in document order, with the scope inherited from enclosing rows."""
    stack: list[tuple[etree._Element, dict[str, str]]] = [(root, {})]
    while stack:
        element, scope = stack.pop()
        if _is_segment(element):
            yield element, scope
            scope = _segment_scope(element, scope)
        pending = [(child, _row_scope(element, child, scope)) for child in _children(element)]
        stack.extend(reversed(pending))


def _segment_scope(element: etree._Element, inherited: dict[str, str]) -> dict[str, str]:
    scope = dict(inherited)
    for name in _SCOPE_ATTRIBUTES:
        found = _get(dict(element.attrib), name)
        if found:
            scope[name] = found
    return scope


def _row_scope(parent: etree._Element, row: etree._Element, scope: dict[str, str]) -> dict[str, str]:
    """A row of RESOURCE/CLASS/LOOKUP… names the scope of segments nested inside it."""
    if not _is_segment(parent) or parent.tag.upper() not in _SCOPE_FROM_ROW:
        return scope
    scope_name, column = _SCOPE_FROM_ROW[parent.tag.upper()]
    value = _get(_xml_row(row), column)
    return {**scope, scope_name: value} if value else scope


def _read_segment(
    element: etree._Element, scope: dict[str, str], repairs: RepairCounts
) -> tuple[MetadataSegment, SystemInfo | None]:
    segment = MetadataSegment(type=element.tag, attributes=dict(element.attrib), scope=scope)
    if element.tag.upper() == SYSTEM:
        system = _read_system(element)
        if system is not None:
            segment.rows.append(system.attributes)
        return segment, system
    children = list(_children(element))
    columns = next((child for child in children if child.tag.upper() == "COLUMNS"), None)
    if columns is not None:
        names = _split_compact(columns.text or "")
        data = [child for child in children if child.tag.upper() == "DATA"]
        segment.rows = [_compact_row(names, child.text or "", repairs, row) for row, child in enumerate(data, 1)]
    else:
        segment.rows = [_xml_row(child) for child in children if not _is_segment(child)]
    return segment, None


def _split_compact(text: str) -> list[str]:
    """COMPACT cells: drop one leading and one trailing TAB (either may be missing), split on TAB."""
    if text.startswith("\t"):
        text = text[1:]
    if text.endswith("\t"):
        text = text[:-1]
    return text.split("\t")


def _compact_row(columns: list[str], text: str, repairs: RepairCounts, row: int) -> dict[str, str]:
    # Missing trailing cells read as empty; surplus cells (a server bug) have no column to go to.
    cells = _split_compact(text)
    if len(cells) != len(columns):
        repairs.note("cell_count_mismatches", 1, row)
    return {name: cells[index] if index < len(cells) else "" for index, name in enumerate(columns) if name}


def _xml_row(element: etree._Element) -> dict[str, str]:
    """A STANDARD-XML row: its attributes plus the text of each leaf child (nested segments skipped)."""
    row = dict(element.attrib)
    for child in _children(element):
        if not _is_segment(child) and not any(True for _ in _children(child)):
            row[child.tag] = child.text or ""
    return row


def _read_system(element: etree._Element) -> SystemInfo | None:
    system_element = next((child for child in _children(element) if child.tag.upper() == "SYSTEM"), None)
    if system_element is None:
        return None
    attributes = _xml_row(system_element)
    comments_element = next(
        (child for child in [*_children(system_element), *_children(element)] if child.tag.upper() == "COMMENTS"),
        None,
    )
    attributes = {name: value for name, value in attributes.items() if name.upper() != "COMMENTS"}
    return SystemInfo(
        attributes=attributes,
        comments=(comments_element.text or "") if comments_element is not None else None,
        version=_get(dict(element.attrib), "Version"),
        date=_get(dict(element.attrib), "Date"),
    )
