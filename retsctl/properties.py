"""The ``properties`` row: the one shape every stage after the mapping agrees on.

Mapped columns come from the mapping; identity and bookkeeping columns from the sync. Numbers
are ``Decimal`` (prices, bathrooms) or ``int``; times are ISO 8601 strings in UTC with ``Z``;
``photo_urls`` is a list of URLs and ``raw`` the whole record as the server sent it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypedDict

MAPPED_COLUMNS: tuple[str, ...] = (
    "external_id",
    "address",
    "list_price",
    "bedrooms",
    "bathrooms",
    "square_feet",
    "year_built",
    "status",
    "description",
    "photo_urls",
)
IDENTITY_COLUMNS: tuple[str, ...] = ("team_id", "source", "external_id")
BOOKKEEPING_COLUMNS: tuple[str, ...] = ("source_key", "modified_at", "raw", "synced_at", "deleted_at")
ALL_COLUMNS: tuple[str, ...] = ("team_id", "source", *MAPPED_COLUMNS, *BOOKKEEPING_COLUMNS)

# RESO StandardStatus values in snake case (the contract's list).
STANDARD_STATUSES: tuple[str, ...] = (
    "active",
    "active_under_contract",
    "pending",
    "closed",
    "canceled",
    "expired",
    "withdrawn",
    "hold",
    "coming_soon",
    "delete",
    "incomplete",
)


class PropertyRow(TypedDict, total=False):
    team_id: str
    source: str
    external_id: str
    address: str | None
    list_price: Decimal | None
    bedrooms: int | None
    bathrooms: Decimal | None
    square_feet: int | None
    year_built: int | None
    status: str | None
    description: str | None
    photo_urls: list[str]
    source_key: str | None
    modified_at: str | None
    raw: dict[str, str]
    synced_at: str | None
    deleted_at: str | None
