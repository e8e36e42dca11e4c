"""DMQL2, the RETS query language (protocol digest §6): parse, print, validate and build queries.

``parse`` turns a query into a small syntax tree of frozen dataclasses; every node remembers where
it started (``pos``, left out of equality) so errors point at the exact character. ``to_dmql``
prints the canonical form (symbols, no spaces), and ``parse(to_dmql(node)) == node``.

The parser is lenient in three documented ways: whitespace is allowed between the boolean parts
(never inside a criterion), field names and words may contain ``_``, and a list may hold numbers,
dates and quoted values as well as words. Values are tokenised by shape, longest first: datetime,
date, time, number, ``TODAY``/``NOW``, word. So ``2024-05-01`` is a date, never a range, and the
meaning of a token (``123`` as a number or a key) is settled by the field's type, not the parser.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from difflib import get_close_matches
from typing import Any, Literal

from retsctl.rets.replies import REPLY_CODES, RetsError

SYNTAX_REPLY_CODE = 20206
UNKNOWN_FIELD_REPLY_CODE = 20200

# ---------------------------------------------------------------------------------------------
# Field types (what validation and evaluation need to know of a field)

_NUMERIC_TYPES = frozenset({"tiny", "small", "int", "long", "decimal"})
_PERIOD_TYPES = frozenset({"date", "datetime", "time"})

FieldKind = Literal["lookup", "number", "date", "datetime", "time", "text"]


@dataclass(frozen=True)
class FieldType:
    """A field as METADATA-TABLE describes it: DataType, Interpretation, lookup codes, Searchable."""

    data_type: str
    interpretation: str = ""
    lookup_values: frozenset[str] | None = None
    searchable: bool = True

    @property
    def is_lookup(self) -> bool:
        return self.interpretation.lower().startswith("lookup")

    @property
    def is_multi(self) -> bool:
        """LookupMulti: the record holds comma-separated codes."""
        return self.interpretation.lower() == "lookupmulti"

    @property
    def kind(self) -> FieldKind:
        """How values compare: lookup codes, numbers, periods, or text (Character, Boolean, unknown)."""
        if self.is_lookup:
            return "lookup"
        data_type = self.data_type.strip().lower()
        if data_type in _NUMERIC_TYPES:
            return "number"
        if data_type in _PERIOD_TYPES:
            return data_type  # type: ignore[return-value]
        return "text"


# ---------------------------------------------------------------------------------------------
# Errors


class DmqlError(RetsError):
    """A query retsctl refuses to send; ``position`` is a 0-based offset into ``query``.

    ``message`` is one line ("expected ')', found end of query at position 14"); ``str(error)``
    adds the query and a caret under the position. ``server_reply_code`` is the ReplyCode a
    server answers for this mistake (the simulator uses it).
    """

    kind = "input"

    def __init__(
        self, problem: str, query: str, position: int, *, hint: str = "", server_reply_code: int = SYNTAX_REPLY_CODE
    ) -> None:
        super().__init__(f"{problem} at position {position}", hint=hint or REPLY_CODES[SYNTAX_REPLY_CODE].hint)
        self.problem = problem
        self.query = query
        self.position = position
        self.server_reply_code = server_reply_code

    def __str__(self) -> str:
        return f"{self.message}\n{self.pointer()}"

    def pointer(self) -> str:
        """Two lines: the query (an excerpt when long) and a caret under the position."""
        width = 100
        start = max(0, min(self.position - width // 2, len(self.query) - width))
        end = start + width
        prefix = "…" if start else ""
        suffix = "…" if end < len(self.query) else ""
        shown = re.sub(r"\s", " ", self.query[start:end])
        caret = " " * (len(prefix) + self.position - start) + "^"
        return f"  {prefix}{shown}{suffix}\n  {caret}"


class DmqlSyntaxError(DmqlError):
    """The text is not DMQL2."""


class DmqlValidationError(DmqlError):
    """Well-formed DMQL2 that does not fit the class's metadata."""


# ---------------------------------------------------------------------------------------------
# Syntax tree


def _pos() -> Any:
    return field(default=-1, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Number:
    """A number exactly as written (``300000``, ``-1.5``)."""

    text: str
    pos: int = _pos()


@dataclass(frozen=True)
class Period:
    """A date, datetime or time as written, or ``TODAY`` / ``NOW``."""

    text: str
    pos: int = _pos()

    @property
    def kind(self) -> Literal["date", "datetime", "time"]:
        if self.text == "TODAY":
            return "date"
        if self.text == "NOW" or "T" in self.text:
            return "datetime"
        return "time" if ":" in self.text else "date"


@dataclass(frozen=True)
class Text:
    """A bare word; ``*`` (any run) and ``?`` (one character) are wildcards outside lookup lists."""

    text: str
    pos: int = _pos()

    @property
    def has_wildcards(self) -> bool:
        return "*" in self.text or "?" in self.text


@dataclass(frozen=True)
class Quoted:
    """A double-quoted value, unescaped (``""`` in the query is one ``"`` here); never a pattern."""

    text: str
    pos: int = _pos()


Scalar = Number | Period | Text | Quoted
Bound = Number | Period | Text


@dataclass(frozen=True)
class Range:
    """Inclusive range: ``low-high``, ``low+`` (high is None) or ``high-`` (low is None)."""

    low: Bound | None
    high: Bound | None
    pos: int = _pos()


@dataclass(frozen=True)
class RangeList:
    """Two or more ranges, OR-ed."""

    ranges: tuple[Range, ...]
    pos: int = _pos()


@dataclass(frozen=True)
class StringList:
    """Two or more single values, OR-ed."""

    items: tuple[Scalar, ...]
    pos: int = _pos()


@dataclass(frozen=True)
class LookupList:
    """``|`` any of, ``+`` all of (LookupMulti), ``~`` none of: lookup codes (words or quoted)."""

    op: Literal["|", "+", "~"]
    values: tuple[Text | Quoted, ...]
    pos: int = _pos()


@dataclass(frozen=True)
class AnyValue:
    """``.ANY.``: any value of the lookup."""

    pos: int = _pos()


@dataclass(frozen=True)
class Empty:
    """``.EMPTY.``: the field holds nothing."""

    pos: int = _pos()


Value = LookupList | AnyValue | Empty | Range | RangeList | StringList | Scalar


@dataclass(frozen=True)
class Criterion:
    """``(Field=value)``; ``pos`` is the opening parenthesis, the field name starts right after."""

    field: str
    value: Value
    pos: int = _pos()


@dataclass(frozen=True)
class Not:
    """``~x`` / ``NOT x``."""

    item: Node
    pos: int = _pos()


@dataclass(frozen=True)
class And:
    """``a,b`` / ``a AND b``: two or more items."""

    items: tuple[Node, ...]
    pos: int = _pos()


@dataclass(frozen=True)
class Or:
    """``a|b`` / ``a OR b``: two or more items."""

    items: tuple[Node, ...]
    pos: int = _pos()


Node = Or | And | Not | Criterion

# ---------------------------------------------------------------------------------------------
# Parser

_NAME = re.compile(r"[A-Za-z0-9_]+")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}:\d{2}(?:\.\d+)?")
_NUMBER = re.compile(r"-?\d+(?:\.\d*)?")
_KEYWORD = re.compile(r"TODAY|NOW")
_WORD = re.compile(r"[A-Za-z0-9_*?]+")
_DATE_LIKE = re.compile(r"\d{4}-\d{1,2}-")
_DOTTED = re.compile(r"\.[A-Za-z]*\.")
_GROUP_START = re.compile(r"\(\s*(?:\(|~|NOT(?![A-Za-z0-9_=]))")
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_*?")
_DATETIME_TEMPLATE = "dddd-dd-ddTdd:dd:dd"

# Longest shapes first, so a date is never read as a number range.
_SCALAR_SHAPES: tuple[tuple[re.Pattern[str], Callable[..., Scalar]], ...] = (
    (_DATETIME, Period),
    (_DATE, Period),
    (_TIME, Period),
    (_NUMBER, Number),
    (_KEYWORD, Period),
    (_WORD, Text),
)
_VALUE_KEYWORDS: tuple[tuple[str, Callable[..., Value]], ...] = ((".ANY.", AnyValue), (".EMPTY.", Empty))


def _is_word_char(text: str, index: int) -> bool:
    return text[index : index + 1] in _WORD_CHARS


_QUOTE_HINT = 'Quote values with spaces or punctuation: (City="St. Louis").'


class _Parser:
    """Recursive descent over the grammar of §6.1; ``pos`` is the next character to read."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    # -- helpers

    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def fail(self, problem: str, position: int | None = None, hint: str = "") -> DmqlSyntaxError:
        where = self.pos if position is None else position
        return DmqlSyntaxError(problem, self.text, where, hint=hint)

    def expected(self, what: str, hint: str = "") -> DmqlSyntaxError:
        found = repr(self.peek()) if self.peek() else "end of query"
        return self.fail(f"expected {what}, found {found}", hint=hint)

    def skip_space(self) -> None:
        while self.peek().isspace():
            self.pos += 1

    def take(self, symbol: str) -> bool:
        if self.peek() == symbol:
            self.pos += 1
            return True
        return False

    def take_keyword(self, keyword: str) -> bool:
        end = self.pos + len(keyword)
        if self.text.startswith(keyword, self.pos) and not _is_word_char(self.text, end):
            self.pos = end
            return True
        return False

    def expect(self, symbol: str, what: str | None = None) -> None:
        if not self.take(symbol):
            stray_character = symbol == ")" and self.peek() != ""
            raise self.expected(what or repr(symbol), hint=_QUOTE_HINT if stray_character else "")

    # -- boolean structure

    def query(self) -> Node:
        node = self.or_expr()
        self.skip_space()
        if self.pos < len(self.text):
            raise self.expected("'|', ',' or end of query")
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.or_op():
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items), pos=items[0].pos)

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while self.and_op():
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items), pos=items[0].pos)

    def or_op(self) -> bool:
        self.skip_space()
        return self.take("|") or self.take_keyword("OR")

    def and_op(self) -> bool:
        self.skip_space()
        return self.take(",") or self.take_keyword("AND")

    def not_expr(self) -> Node:
        self.skip_space()
        start = self.pos
        if self.take("~") or self.take_keyword("NOT"):
            return Not(self.primary(), pos=start)
        return self.primary()

    def primary(self) -> Node:
        self.skip_space()
        if self.peek() != "(":
            raise self.expected("'('")
        if _GROUP_START.match(self.text, self.pos):
            self.pos += 1
            node = self.or_expr()
            self.skip_space()
            self.expect(")", "')' or an operator")
            return node
        return self.criterion()

    def criterion(self) -> Criterion:
        start = self.pos
        self.pos += 1
        name = _NAME.match(self.text, self.pos)
        if name is None:
            raise self.expected("a field name")
        self.pos = name.end()
        self.expect("=")
        value = self.value()
        self.expect(")", "')'" if isinstance(value, AnyValue | Empty) else "',' or ')'")
        return Criterion(name.group(), value, pos=start)

    # -- values

    def value(self) -> Value:
        if self.peek() in ("|", "+", "~"):
            return self.lookup_list()
        for keyword, node in _VALUE_KEYWORDS:
            if self.text.startswith(keyword, self.pos):
                self.pos += len(keyword)
                return node(pos=self.pos - len(keyword))
        dotted = _DOTTED.match(self.text, self.pos)
        if dotted:
            raise self.fail(f"unknown keyword {dotted.group()!r} (expected .ANY. or .EMPTY.)")
        items = [self.item()]
        while self.take(","):
            items.append(self.item())
        return _list_value(items, self.text)

    def lookup_list(self) -> LookupList:
        start = self.pos
        op = self.text[start]
        self.pos += 1
        values = [self.lookup_value()]
        while self.take(","):
            values.append(self.lookup_value())
        return LookupList(op, tuple(values), pos=start)  # type: ignore[arg-type]

    def lookup_value(self) -> Text | Quoted:
        if self.peek() == '"':
            return self.quoted()
        word = _NAME.match(self.text, self.pos)
        if word is None:
            raise self.expected("a lookup value", hint=_QUOTE_HINT)
        self.pos = word.end()
        return Text(word.group(), pos=word.start())

    def item(self) -> Scalar | Range:
        start = self.pos
        low = self.scalar()
        if self.peek() not in ("+", "-"):
            return low
        bound = self.bound(low)
        if self.take("+"):
            return Range(bound, None, pos=start)
        self.pos += 1
        if self.peek() in ("", ",", ")"):
            return Range(None, bound, pos=start)
        high = self.bound(self.scalar())
        _check_closed_range(bound, high, self.text)
        return Range(bound, high, pos=start)

    def bound(self, node: Scalar) -> Bound:
        if isinstance(node, Quoted) or (isinstance(node, Text) and node.has_wildcards):
            raise self.fail("a range bound must be a number, date, time or plain word", node.pos, _QUOTE_HINT)
        return node

    def scalar(self) -> Scalar:
        if self.peek() == '"':
            return self.quoted()
        start = self.pos
        for shape, make in _SCALAR_SHAPES:
            found = shape.match(self.text, start)
            if found and not _is_word_char(self.text, found.end()):
                if make is Number and _DATE_LIKE.match(self.text, start):
                    raise self.fail(
                        "malformed date or datetime (expected YYYY-MM-DD[THH:MM:SS[.f][Z|±HH:MM]])",
                        _period_break(self.text, start),
                    )
                self.pos = found.end()
                return make(found.group(), pos=start)
        raise self.expected("a value", hint=_QUOTE_HINT)

    def quoted(self) -> Quoted:
        start = self.pos
        parts = []
        cursor = start + 1
        while True:
            close = self.text.find('"', cursor)
            if close < 0:
                raise self.fail("unterminated quoted value", start, 'Close it with ", and write a literal " as "".')
            parts.append(self.text[cursor:close])
            if self.text.startswith('""', close):
                parts.append('"')
                cursor = close + 2
                continue
            self.pos = close + 1
            return Quoted("".join(parts), pos=start)


def _period_break(text: str, start: int) -> int:
    """Where a token that begins like a date stops being a valid date or datetime."""
    is_datetime = text[start + 10 : start + 11] == "T"
    template = _DATETIME_TEMPLATE if is_datetime else _DATETIME_TEMPLATE[:10]
    for offset, expected in enumerate(template):
        char = text[start + offset : start + offset + 1]
        if not (char.isascii() and char.isdigit() if expected == "d" else char == expected):
            return start + offset
    whole = (_DATETIME if is_datetime else _DATE).match(text, start)
    return whole.end() if whole else start


def _bound_kind(node: Bound) -> str:
    if isinstance(node, Period):
        return node.kind
    return "number" if isinstance(node, Number) else "word"


def _check_closed_range(low: Bound, high: Bound, text: str) -> None:
    if isinstance(low, Text):
        raise DmqlSyntaxError("a word can only bound an open range (A+ or A-)", text, low.pos, hint=_QUOTE_HINT)
    low_kind, high_kind = _bound_kind(low), _bound_kind(high)
    if low_kind != high_kind:
        raise DmqlSyntaxError(f"range ends differ in type ({low_kind} and {high_kind})", text, high.pos)


def _list_value(items: list[Scalar | Range], text: str) -> Value:
    ranges = [isinstance(item, Range) for item in items]
    if any(ranges) and not all(ranges):
        odd = items[ranges.index(not ranges[0])]
        raise DmqlSyntaxError(
            "a list holds either ranges or single values, not both", text, odd.pos, hint="Split it: (F=1-5)|(F=7)."
        )
    if len(items) == 1:
        return items[0]
    if ranges[0]:
        return RangeList(tuple(items), pos=items[0].pos)  # type: ignore[arg-type]
    return StringList(tuple(items), pos=items[0].pos)  # type: ignore[arg-type]


def parse(text: str) -> Node:
    """The syntax tree of a DMQL2 query; raises DmqlSyntaxError at the first offending character."""
    return _Parser(text).query()


# ---------------------------------------------------------------------------------------------
# Printer


def _grouped(node: Node, kinds: tuple[type, ...]) -> str:
    printed = to_dmql(node)
    return f"({printed})" if isinstance(node, kinds) else printed


def _range_text(low: Bound | None, high: Bound | None) -> str:
    if low is not None and high is not None:
        return f"{low.text}-{high.text}"
    return f"{low.text}+" if low is not None else f"{high.text}-"  # type: ignore[union-attr]


def to_dmql(node: Node | Value) -> str:
    """Canonical DMQL2 for a tree (or a value): symbolic operators, no spaces."""
    match node:
        case Or(items):
            return "|".join(_grouped(item, (Or,)) for item in items)
        case And(items):
            return ",".join(_grouped(item, (Or, And)) for item in items)
        case Not(item):
            return "~" + _grouped(item, (Or, And, Not))
        case Criterion(name, value):
            return f"({name}={to_dmql(value)})"
        case LookupList(op, values):
            return op + ",".join(map(to_dmql, values))
        case AnyValue():
            return ".ANY."
        case Empty():
            return ".EMPTY."
        case Range(low, high):
            return _range_text(low, high)
        case RangeList(items) | StringList(items):
            return ",".join(map(to_dmql, items))
        case Quoted(text):
            return '"' + text.replace('"', '""') + '"'
        case Number(text) | Period(text) | Text(text):
            return text
    raise TypeError(f"not a DMQL node: {node!r}")


# ---------------------------------------------------------------------------------------------
# Builders

_PLAIN = re.compile(r"[A-Za-z0-9]+")


def quote_value(value: str) -> str:
    """``value`` as one literal DMQL value: bare when alphanumeric, else double-quoted."""
    if _PLAIN.fullmatch(value) and value not in ("TODAY", "NOW"):
        return value
    return '"' + value.replace('"', '""') + '"'


def _checked_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a DMQL field name: {name!r}")
    return name


def modified_since(field: str, moment: datetime) -> str:
    """``(Field=YYYY-MM-DDTHH:MM:SSZ+)``: records changed at or after ``moment``.

    ``moment`` must be timezone-aware (a naive datetime raises ValueError: guessing its zone could
    silently skip records). It is sent in UTC, truncated to the second, which only widens the window.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"modified_since needs a timezone-aware datetime, got naive {moment.isoformat()}")
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"({_checked_name(field)}={stamp}+)"


def any_of(field: str, values: Iterable[str]) -> str:
    """``(Field=|a,b)``, each value quoted when needed (lookup codes, key batches)."""
    quoted = [quote_value(value) for value in values]
    if not quoted:
        raise ValueError(f"any_of({field!r}) needs at least one value")
    return f"({_checked_name(field)}=|{','.join(quoted)})"


def and_all(*queries: str) -> str:
    """All the queries at once, in canonical form; blank ones are skipped, ``a|b`` is grouped."""
    items: list[Node] = []
    for query in queries:
        if query.strip():
            node = parse(query)
            items.extend(node.items if isinstance(node, And) else (node,))
    if not items:
        raise ValueError("and_all needs at least one non-blank query")
    return to_dmql(items[0] if len(items) == 1 else And(tuple(items)))


# ---------------------------------------------------------------------------------------------
# Validation against metadata


_FIELDS_HINT = "Check the field types with `retsctl metadata fields RESOURCE CLASS`."


class _Invalid(Exception):
    def __init__(
        self, problem: str, position: int, hint: str = _FIELDS_HINT, reply_code: int = SYNTAX_REPLY_CODE
    ) -> None:
        super().__init__(problem)
        self.problem = problem
        self.position = position
        self.hint = hint
        self.reply_code = reply_code


def _fits(parser: Callable[[str], object], text: str) -> bool:
    try:
        parser(text)
    except ValueError:
        return False
    return True


def is_date_text(text: str) -> bool:
    """A calendar date ``YYYY-MM-DD`` or ``TODAY``."""
    return text == "TODAY" or (_DATE.fullmatch(text) is not None and _fits(date.fromisoformat, text))


def _is_datetime_text(text: str) -> bool:
    """A valid ISO datetime as DMQL writes it, a date (a whole day), ``NOW`` or ``TODAY``."""
    if text == "NOW" or is_date_text(text):
        return True
    return _DATETIME.fullmatch(text) is not None and _fits(datetime.fromisoformat, text)


def _is_time_text(text: str) -> bool:
    return _TIME.fullmatch(text) is not None and _fits(time.fromisoformat, text)


def _is_number_text(text: str) -> bool:
    return _NUMBER.fullmatch(text) is not None


_SHAPE_CHECKS: dict[str, tuple[Callable[[str], bool], str]] = {
    "number": (_is_number_text, "a number"),
    "date": (is_date_text, "a date (YYYY-MM-DD or TODAY)"),
    "datetime": (_is_datetime_text, "a datetime (YYYY-MM-DDTHH:MM:SS[.f][Z|±HH:MM], a date, NOW or TODAY)"),
    "time": (_is_time_text, "a time (HH:MM:SS[.f])"),
}


def _describe(name: str, field: FieldType) -> str:
    return f"{name} ({field.data_type}{', ' + field.interpretation if field.interpretation else ''})"


def _check_scalar(item: Scalar, name: str, field: FieldType) -> None:
    if field.is_lookup:
        if field.lookup_values is not None and item.text not in field.lookup_values:
            raise _Invalid(
                f"{item.text!r} is not a value of lookup field {name}",
                item.pos,
                "Use the lookup's Value codes: `retsctl metadata lookups RESOURCE LOOKUP`.",
            )
        return
    shape = _SHAPE_CHECKS.get(field.kind)
    if shape and not shape[0](item.text):
        raise _Invalid(f"{item.text!r} is not {shape[1]} for field {_describe(name, field)}", item.pos)


def value_items(value: Value) -> tuple[Scalar | Range, ...]:
    """The single values and ranges a value lists (none for .ANY. and .EMPTY.)."""
    match value:
        case LookupList(_, values):
            return values
        case RangeList(items) | StringList(items):
            return items
        case AnyValue() | Empty():
            return ()
    return (value,)  # type: ignore[return-value]


def _check_operator(value: Value, name: str, field: FieldType) -> None:
    if field.is_lookup:
        return
    # "|" stays allowed on any field: the protocol digest batches keys as (ListingKey=|k1,k2).
    if isinstance(value, AnyValue) or (isinstance(value, LookupList) and value.op != "|"):
        operator = ".ANY." if isinstance(value, AnyValue) else value.op  # type: ignore[union-attr]
        raise _Invalid(f"lookup operator {operator!r} used on non-lookup field {_describe(name, field)}", value.pos)


def _check_item(item: Scalar | Range, name: str, field: FieldType) -> None:
    if not isinstance(item, Range):
        _check_scalar(item, name, field)
        return
    if field.kind in ("lookup", "text"):
        raise _Invalid(
            f"a range cannot be used on field {_describe(name, field)}",
            item.pos,
            "Ranges work on numbers, dates, datetimes and times; list the values instead.",
        )
    for bound in (item.low, item.high):
        if bound is not None:
            _check_scalar(bound, name, field)


def _check_criterion(criterion: Criterion, fields: Mapping[str, FieldType]) -> None:
    name = criterion.field
    field = fields.get(name)
    if field is None:
        close = get_close_matches(name, list(fields), n=3)
        hint = f"Did you mean {', '.join(close)}?" if close else REPLY_CODES[UNKNOWN_FIELD_REPLY_CODE].hint
        raise _Invalid(f"unknown field {name!r}", criterion.pos + 1, hint, UNKNOWN_FIELD_REPLY_CODE)
    if not field.searchable:
        raise _Invalid(
            f"field {name} is not searchable", criterion.pos + 1, "Metadata marks it Searchable=0; query another field."
        )
    _check_operator(criterion.value, name, field)
    for item in value_items(criterion.value):
        _check_item(item, name, field)


def criteria(node: Node) -> Iterator[Criterion]:
    """Every criterion of the tree, left to right."""
    match node:
        case Criterion():
            yield node
        case Not(item):
            yield from criteria(item)
        case Or(items) | And(items):
            for item in items:
                yield from criteria(item)


def validate(node: Node, fields: Mapping[str, FieldType], *, query: str | None = None) -> None:
    """Check a tree against the class's fields (keyed by the names used in the query).

    Raises DmqlValidationError for an unknown or non-searchable field, a lookup code missing from
    its lookup, a range on a Character/Boolean/lookup field, ``+``/``~``/``.ANY.`` on a non-lookup
    field, or a value of the wrong shape (a malformed date on a Date field, a word on a number).
    Positions refer to ``query`` when given (the text ``node`` was parsed from); otherwise to the
    canonical ``to_dmql(node)``.
    """
    if query is None:
        query = to_dmql(node)
        node = parse(query)
    try:
        for criterion in criteria(node):
            _check_criterion(criterion, fields)
    except _Invalid as invalid:
        raise DmqlValidationError(
            invalid.problem, query, invalid.position, hint=invalid.hint, server_reply_code=invalid.reply_code
        ) from None
