"""Value transforms: one RETS string (as sent, never empty) → one typed ``properties`` value.

Each ``*_converter`` builds a :data:`Converter` once, when a mapping is loaded; applying it is a
plain function call on the sync's hot path. A converter raises ``ValueError`` with a short reason
for a value it cannot read; the compiled column turns that into :class:`RecordRejected`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Converter = Callable[[str], object]

# Plain decimal numbers, optionally with thousands separators; no exponents, NaN or "1_000".
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?", re.ASCII)
_WHOLE_NUMBER = re.compile(r"[+-]?\d+", re.ASCII)
_FIXED_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})", re.ASCII)
_URL_SEPARATORS = re.compile(r"[\s,]+")
_UTC_NAMES = frozenset({"utc", "z", "gmt", "etc/utc", "+00:00", "-00:00"})
_ONE = Decimal(1)


class RecordRejected(Exception):
    """A record that cannot become a ``properties`` row; the sync keeps it raw and counts it."""

    def __init__(self, reason: str, column: str | None = None, value: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.column = column
        self.value = value

    def __str__(self) -> str:
        return f"{self.column}: {self.reason}" if self.column else self.reason


def parse_time_zone(name: str) -> tzinfo:
    """``UTC``, a fixed offset (``-05:00``, ``+0530``) or an IANA name (``America/Denver``)."""
    text = name.strip()
    if text.lower() in _UTC_NAMES:
        return UTC
    offset = _FIXED_OFFSET.fullmatch(text)
    if offset:
        sign = -1 if offset.group(1) == "-" else 1
        hours, minutes = int(offset.group(2)), int(offset.group(3))
        if hours > 23 or minutes > 59:
            raise ValueError(f"time zone offset out of range: {name!r}")
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use UTC, an offset like -05:00, or a name like America/Denver)") from None


def parse_decimal(text: str) -> Decimal:
    """A plain decimal number (``1234.50``, ``1,234.50``); raises ``ValueError`` otherwise."""
    if text.isascii() and text.isdigit():
        return Decimal(text)
    stripped = text.strip()
    if _PLAIN_NUMBER.fullmatch(stripped):
        return Decimal(stripped)
    if _GROUPED_NUMBER.fullmatch(stripped):
        return Decimal(stripped.replace(",", ""))
    raise ValueError(f"bad number {text!r}")


def decimal_converter() -> Converter:
    return parse_decimal


def integer_converter(*, round_fraction: bool = False) -> Converter:
    """Whole numbers; ``3.00`` reads as 3. A fraction is rejected unless ``round_fraction``."""

    def convert(text: str) -> int:
        if text.isascii() and text.isdigit():
            return int(text)
        stripped = text.strip()
        if _WHOLE_NUMBER.fullmatch(stripped):
            return int(stripped)
        number = parse_decimal(stripped)
        whole = number.to_integral_value(rounding=ROUND_HALF_UP)
        if whole != number and not round_fraction:
            raise ValueError(f"not a whole number {text!r}")
        return int(whole)

    return convert


def timestamp_converter(zone: tzinfo) -> Converter:
    """A RETS Date or DateTime → ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds).

    Values without an offset are read in ``zone`` (the server's time zone); a bare date is the
    start of that day there. Whole seconds keep the strings comparable as text.
    """

    zone_is_utc = zone is UTC

    def convert(text: str) -> str:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"bad date/time {text!r}") from None
        if moment.tzinfo is None:
            if zone_is_utc and len(text) == 19 and text[10] == "T":
                return text + "Z"
            moment = moment.replace(tzinfo=zone)
        elif len(text) == 20 and text[19] == "Z" and text[10] == "T":
            return text  # already YYYY-MM-DDTHH:MM:SSZ
        utc = moment.astimezone(UTC)
        return utc.isoformat()[:19] + "Z"

    return convert


def clean_text(text: str) -> str:
    """Trim and collapse every run of whitespace (line breaks included) to one space."""
    return " ".join(text.split())


def text_converter(*, clean: bool = False) -> Converter:
    """Text as sent, or cleaned up; cleaning that leaves nothing gives ``None``."""
    if not clean:
        return str
    return lambda text: clean_text(text) or None


def lookup_converter(table: Mapping[str, str], *, multi: bool = False) -> Converter:
    """Lookup codes → their text; a code missing from ``table`` is kept as sent.

    ``multi`` decodes a LookupMulti value (comma-separated codes) and joins the texts with ", ".
    """
    decoded = dict(table)
    if not multi:
        return lambda text: decoded.get(text, text)
    return lambda text: ", ".join(decoded.get(code, code) for code in text.split(",") if code)


def status_converter(status_map: Mapping[str, str]) -> Converter:
    """A status code (or long value, for COMPACT-DECODED feeds) → a standard status."""
    statuses = dict(status_map)

    def convert(text: str) -> str:
        status = statuses.get(text)
        if status is None:
            status = statuses.get(text.strip())
            if status is None:
                raise ValueError(f"unknown status code {text!r}")
        return status

    return convert


def url_list_converter() -> Converter:
    """Photo URLs carried in one field, separated by commas and/or whitespace."""
    return lambda text: [url for url in _URL_SEPARATORS.split(text) if url]
