"""DMQL2 evaluated over simulator records: a query compiled once into a tree of closures.

Records hold COMPACT strings (lookup codes; LookupMulti comma-separated). Per field type:

- numbers (Tiny/Small/Int/Long/Decimal) compare as ``Decimal``; dates as dates; times as times;
- DateTime values compare as aware datetimes; a record or query value without an offset is in the
  server's ``tz_offset``. A date on a DateTime field means that whole day (``2024-05-01+`` starts at
  its midnight, ``2024-05-01-`` ends at its last microsecond, ``=2024-05-01`` is the day);
- Character and Boolean equality ignores case; ``*`` matches any run and ``?`` one character;
  quoted values are literal;
- lookups: ``|`` any of, ``+`` all of, ``~`` none of (an empty field is "none of"); a plain value
  or list means any of. ``|`` on a non-lookup field is a list of equalities (key batches);
- ``.EMPTY.`` matches a missing or empty value; ``.ANY.`` matches any non-empty value;
- a value that does not read as its type (a blank or garbled number) never matches a comparison;
- ``TODAY`` and ``NOW`` are fixed when the query is compiled (``now``, default: the current time),
  so one search sees one instant; ``TODAY`` is the date in the server's time zone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from retsctl.rets.dmql import (
    And,
    AnyValue,
    Criterion,
    Empty,
    FieldType,
    LookupList,
    Node,
    Not,
    Or,
    Quoted,
    Range,
    Scalar,
    Text,
    Value,
    is_date_text,
    parse,
    validate,
    value_items,
)

Record = Mapping[str, str]
Predicate = Callable[[Record], bool]
_Test = Callable[[Any], bool]

_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")
_ONE_MICROSECOND = timedelta(microseconds=1)


def compile_query(
    text: str, fields: Mapping[str, FieldType], *, tz_offset: str = "Z", now: datetime | None = None
) -> Predicate:
    """A predicate over COMPACT records for a DMQL2 query.

    Raises DmqlSyntaxError or DmqlValidationError (``server_reply_code`` says what a server answers).
    ``tz_offset`` is the server's SYSTEM TimeZoneOffset (``Z``, ``-05:00``); ``now`` (aware) pins
    TODAY/NOW for tests.
    """
    node = parse(text)
    validate(node, fields, query=text)
    if now is not None and now.utcoffset() is None:
        raise ValueError("compile_query needs a timezone-aware `now`")
    clock = _Clock(parse_offset(tz_offset), now or datetime.now(UTC))
    return _compile_node(node, fields, clock)


def parse_offset(offset: str) -> tzinfo:
    """``Z`` (or empty: none advertised, so UTC), ``+HH:MM`` or ``-HHMM`` as a fixed time zone."""
    if offset in ("Z", ""):
        return UTC
    found = _OFFSET.fullmatch(offset)
    if found is None:
        raise ValueError(f"not a time zone offset: {offset!r} (expected Z or ±HH:MM)")
    sign, hours, minutes = found.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    return timezone(-delta if sign == "-" else delta)


# ---------------------------------------------------------------------------------------------
# Boolean structure


def _either(tests: Sequence[_Test]) -> _Test:
    if len(tests) == 1:
        return tests[0]

    # Plain loops: any()/all() over a generator doubles the cost per record here.
    def either(subject: Any) -> bool:
        for test in tests:  # noqa: SIM110
            if test(subject):
                return True
        return False

    return either


def _every(tests: Sequence[_Test]) -> _Test:
    def every(subject: Any) -> bool:
        for test in tests:  # noqa: SIM110
            if not test(subject):
                return False
        return True

    return every


def _negate(test: _Test) -> _Test:
    return lambda subject: not test(subject)


def _compile_node(node: Node, fields: Mapping[str, FieldType], clock: _Clock) -> Predicate:
    match node:
        case Or(items):
            return _either([_compile_node(item, fields, clock) for item in items])
        case And(items):
            return _every([_compile_node(item, fields, clock) for item in items])
        case Not(item):
            return _negate(_compile_node(item, fields, clock))
    return _compile_criterion(node, fields[node.field], clock)  # type: ignore[union-attr]


def _compile_criterion(criterion: Criterion, field: FieldType, clock: _Clock) -> Predicate:
    name, value = criterion.field, criterion.value
    match value:
        case Empty():
            return lambda record: not record.get(name)
        case AnyValue():
            return lambda record: bool(record.get(name))
    if field.is_lookup:
        return _lookup_predicate(name, value, field.is_multi)
    if field.kind == "text":
        return _text_predicate(name, value_items(value))
    return _ordered_predicate(name, value_items(value), _scale(field.kind, clock))


# ---------------------------------------------------------------------------------------------
# Lookups


def _lookup_predicate(name: str, value: Value, multi: bool) -> Predicate:
    op = value.op if isinstance(value, LookupList) else "|"
    codes = frozenset(item.text for item in value_items(value))
    if not multi and op != "+":
        if op == "~":
            return lambda record: record.get(name, "") not in codes
        return lambda record: record.get(name, "") in codes
    held = _held_codes if multi else _single_code
    test: _Test = {"|": lambda found: not codes.isdisjoint(found), "+": codes.issubset, "~": codes.isdisjoint}[op]
    return lambda record: test(held(record.get(name, "")))


def _held_codes(raw: str) -> frozenset[str]:
    return frozenset(map(str.strip, raw.split(","))) - {""} if raw else frozenset()


def _single_code(raw: str) -> frozenset[str]:
    return frozenset((raw,)) if raw else frozenset()


# ---------------------------------------------------------------------------------------------
# Character and Boolean


def _pattern(item: Scalar) -> str:
    if isinstance(item, Quoted):
        return re.escape(item.text)
    return "".join(".*" if char == "*" else "." if char == "?" else re.escape(char) for char in item.text)


def _text_predicate(name: str, items: tuple[Scalar, ...]) -> Predicate:
    if not any(isinstance(item, Text) and item.has_wildcards for item in items):
        wanted = frozenset(item.text.lower() for item in items)
        return lambda record: record.get(name, "").lower() in wanted
    match = re.compile("|".join(map(_pattern, items)), re.IGNORECASE | re.DOTALL).fullmatch
    return lambda record: match(record.get(name, "")) is not None


# ---------------------------------------------------------------------------------------------
# Numbers, dates, datetimes and times


@dataclass(frozen=True)
class _Scale:
    """How one field type reads record values and the inclusive bounds a query value stands for."""

    read: Callable[[str | None], Any]
    lower: Callable[[str], Any]
    upper: Callable[[str], Any]


@dataclass(frozen=True)
class _Clock:
    zone: tzinfo
    now: datetime

    def date(self, text: str) -> date:
        return self.now.astimezone(self.zone).date() if text == "TODAY" else date.fromisoformat(text)

    def moment(self, text: str) -> datetime:
        if text == "NOW":
            return self.now
        if is_date_text(text):
            return datetime.combine(self.date(text), time(), self.zone)
        return _aware(datetime.fromisoformat(text), self.zone)

    def moment_end(self, text: str) -> datetime:
        """The last instant ``text`` covers: a date covers its whole day."""
        if text != "NOW" and is_date_text(text):
            return self.moment(text) + timedelta(days=1) - _ONE_MICROSECOND
        return self.moment(text)


def _aware(moment: datetime, zone: tzinfo) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _read_decimal(raw: str | None) -> Decimal | None:
    if not raw:
        return None
    try:
        number = Decimal(raw)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _read_date(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw[:10]) if raw else None
    except ValueError:
        return None


def _read_time(raw: str | None) -> time | None:
    try:
        return time.fromisoformat(raw).replace(tzinfo=None) if raw else None
    except ValueError:
        return None


def _datetime_reader(zone: tzinfo) -> Callable[[str | None], datetime | None]:
    def read(raw: str | None) -> datetime | None:
        try:
            return _aware(datetime.fromisoformat(raw), zone) if raw else None
        except ValueError:
            return None

    return read


def _scale(kind: str, clock: _Clock) -> _Scale:
    if kind == "number":
        return _Scale(_read_decimal, Decimal, Decimal)
    if kind == "date":
        return _Scale(_read_date, clock.date, clock.date)
    if kind == "time":
        return _Scale(_read_time, time.fromisoformat, time.fromisoformat)
    return _Scale(_datetime_reader(clock.zone), clock.moment, clock.moment_end)


def _interval(low: Any, high: Any) -> _Test:
    if low is None:
        return lambda subject: subject <= high
    if high is None:
        return lambda subject: low <= subject
    return lambda subject: low <= subject <= high


def _range_test(item: Range, scale: _Scale) -> _Test:
    low = None if item.low is None else scale.lower(item.low.text)
    high = None if item.high is None else scale.upper(item.high.text)
    return _interval(low, high)


def _value_test(items: tuple[Scalar | Range, ...], scale: _Scale) -> _Test:
    """Ranges and spans become interval tests; single points one set lookup (fast key batches)."""
    tests: list[_Test] = []
    points = set()
    for item in items:
        if isinstance(item, Range):
            tests.append(_range_test(item, scale))
            continue
        low, high = scale.lower(item.text), scale.upper(item.text)
        if low == high:
            points.add(low)
        else:
            tests.append(_interval(low, high))
    if points:
        tests.append(frozenset(points).__contains__)
    return _either(tests)


def _ordered_predicate(name: str, items: tuple[Scalar | Range, ...], scale: _Scale) -> Predicate:
    test = _value_test(items, scale)
    read = scale.read

    def predicate(record: Record) -> bool:
        subject = read(record.get(name))
        return subject is not None and test(subject)

    return predicate
