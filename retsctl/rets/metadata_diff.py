"""What changed between two versions of one metadata listing: items added, removed, retyped, changed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

# The attribute that names an item of each metadata type (rows keep the server's attribute names).
ITEM_KEYS: dict[str, str] = {
    "METADATA-RESOURCE": "ResourceID",
    "METADATA-CLASS": "ClassName",
    "METADATA-TABLE": "SystemName",
    "METADATA-LOOKUP": "LookupName",
    "METADATA-LOOKUP_TYPE": "Value",
    "METADATA-OBJECT": "ObjectType",
}
# A change to one of these makes existing queries and mappings read the field differently.
TYPE_ATTRIBUTES = frozenset({"DataType", "Interpretation", "LookupName", "Precision"})

Row = dict[str, str]


@dataclass(frozen=True)
class MetadataChange:
    type: str
    id: str
    item: str
    change: str  # added | removed | retyped | changed
    attributes: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"type": self.type, "id": self.id, "item": self.item, "change": self.change,
                "attributes": {name: {"from": old, "to": new} for name, (old, new) in self.attributes.items()}}


def _item_name(type: str, row: Row) -> str:
    key = ITEM_KEYS.get(type)
    if key and row.get(key):
        return row[key]
    return row.get("MetadataEntryID") or next(iter(row.values()), "")


def diff_rows(type: str, id: str, old: Sequence[Row], new: Sequence[Row]) -> list[MetadataChange]:
    """Changes from ``old`` to ``new`` rows of one listing, in a stable order (by item name)."""
    before = {_item_name(type, row): row for row in old}
    after = {_item_name(type, row): row for row in new}
    changes = []
    for name in sorted(before.keys() | after.keys()):
        if name not in after:
            changes.append(MetadataChange(type, id, name, "removed"))
        elif name not in before:
            changes.append(MetadataChange(type, id, name, "added"))
        else:
            differing = {attr: (before[name].get(attr), after[name].get(attr))
                         for attr in sorted(before[name].keys() | after[name].keys())
                         if before[name].get(attr) != after[name].get(attr)}
            if differing:
                kind = "retyped" if differing.keys() & TYPE_ATTRIBUTES else "changed"
                changes.append(MetadataChange(type, id, name, kind, differing))
    return changes
