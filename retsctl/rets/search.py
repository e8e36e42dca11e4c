"""Search across pages: Offset paging, and key/time slicing for servers that refuse or ignore Offset.

The page size (what one request asks for) and the total limit (what the caller wants) are kept
apart. The end of a result is found from MAXROWS and the rows delivered, never from COUNT alone:
servers send MAXROWS on an exactly full last page (the next page is then 20201) and COUNTs that are
off by one. When Offset does not work, the query is cut into windows of the key (numeric keys) or
of the modification timestamp, each window split in half until it fits under the server's cap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, Protocol, TypeVar

from retsctl.rets.compact import JsonForm, JsonValues
from retsctl.rets.dmql import and_all
from retsctl.rets.replies import RetsError, RetsNetworkError, RetsReplyAuthError, RetsReplyError

log = logging.getLogger("retsctl.rets.search")

Record = dict[str, str]
T = TypeVar("T")
OFFSET_REFUSED_CODES = frozenset({20203, 20212})
PAGE_ATTEMPTS = 3


class TransferInterrupted(RetsNetworkError):
    """The connection broke while a page was streaming; the page can be asked for again."""


class OffsetUnusable(Exception):
    """The server ignores or refuses Offset: switch to slicing."""


class SearchPage(Protocol):
    """One Search response being read (see ``compact.SearchReader``)."""

    count: int | None
    columns: list[str]
    maxrows: bool

    def __iter__(self) -> Iterator[Record]: ...

    def json_lines(self) -> Iterator[bytes]: ...

    def json_values_with(self, fields: Iterable[str]) -> Iterator[JsonValues]: ...


PageOpener = Callable[[dict[str, str]], AbstractContextManager[SearchPage]]


@dataclass(frozen=True)
class SearchRequest:
    """What the caller asked for. ``limit`` is the total wanted, ``page_size`` one request's Limit."""

    resource: str
    class_name: str
    query: str
    select: tuple[str, ...] | None = None
    limit: int | None = None
    offset: int | None = None
    format: str = "COMPACT-DECODED"
    page_size: int | None = None
    count: bool = True
    standard_names: bool = False
    restricted_indicator: str | None = None

    def params(self, *, query: str | None = None, offset: int | None = None, limit: int | None = None,
               count_mode: int = 0, select: tuple[str, ...] | None = None) -> dict[str, str]:
        params = {
            "SearchType": self.resource,
            "Class": self.class_name,
            "Query": query or self.query,
            "QueryType": "DMQL2",
            "Format": self.format,
            "StandardNames": "1" if self.standard_names else "0",
        }
        if count_mode:
            params["Count"] = str(count_mode)
        if limit is not None:
            params["Limit"] = str(limit)
        if offset is not None:
            params["Offset"] = str(offset)
        chosen = select if select is not None else self.select
        if chosen:
            params["Select"] = ",".join(chosen)
        if self.restricted_indicator is not None:
            params["RestrictedIndicator"] = self.restricted_indicator
        return params


@dataclass
class FirstPage:
    """What slicing needs of the first Offset page, without keeping its records.

    Records are remembered by a fingerprint of their values in the first page's columns, so a
    page of 2,500 wide listings costs a few integers each instead of their dicts.
    """

    first: Record | None = None
    rows: int = 0
    columns: tuple[str, ...] = ()
    fingerprints: set[int] = field(default_factory=set)

    def add(self, record: Record) -> None:
        if self.first is None:
            self.first, self.columns = record, tuple(record)
        self.rows += 1
        self.fingerprints.add(self._fingerprint(record))

    def holds(self, record: Record) -> bool:
        """Whether ``record`` (possibly with extra columns) was on the first page."""
        return self.rows > 0 and self._fingerprint(record) in self.fingerprints

    def _fingerprint(self, record: Record) -> int:
        # Records with exactly the first page's columns (COMPACT pages) hash their values directly.
        values = record.values() if tuple(record) == self.columns else (record.get(n) for n in self.columns)
        return hash(tuple(values))


@dataclass(frozen=True)
class SliceFields:
    """What slicing needs to know about the class: its key and timestamp fields."""

    key_field: str
    key_is_numeric: bool
    timestamp_field: str | None


@dataclass
class SearchStats:
    count: int | None = None
    columns: list[str] = field(default_factory=list)
    pages: int = 0
    rows: int = 0
    strategy: str = "offset"
    warnings: list[str] = field(default_factory=list)


class SearchResult:
    """All records of a search, streamed page after page. Iterate it once.

    ``count`` (the server's COUNT as sent), ``columns``, ``pages``, ``rows``, ``strategy`` and
    ``warnings`` fill in as pages arrive.
    """

    def __init__(self, request: SearchRequest, open_page: PageOpener,
                 slice_fields: Callable[[], SliceFields], key_field: Callable[[], str]) -> None:
        self.request = request
        self.stats = SearchStats()
        self._open_page = open_page
        self._slice_fields = slice_fields
        self._key_field = key_field

    count = property(lambda self: self.stats.count)
    columns = property(lambda self: self.stats.columns)
    pages = property(lambda self: self.stats.pages)
    rows = property(lambda self: self.stats.rows)
    strategy = property(lambda self: self.stats.strategy)
    warnings = property(lambda self: self.stats.warnings)

    def __iter__(self) -> Iterator[Record]:
        return self._delivered(None)

    def json_lines(self) -> Iterator[bytes]:
        """The records as JSON lines, each :func:`encode_record` of the record iteration gives.

        COMPACT pages after the first are read with ``SearchPage.json_lines`` (no dict per record);
        the first page is read as records, which slicing needs should Offset fail. A Select the
        key was added to (so its records must lose it again) is encoded record by record.
        """
        return self._as_json(JsonForm())

    def json_values_with(self, fields: Iterable[str]) -> Iterator[JsonValues]:
        """Each record as its columns, its values escaped as JSON strings with a TAB between them
        (:mod:`retsctl.rets.values`; built as :meth:`json_lines` builds lines), and the values of those
        of ``fields`` it has: what a store keeps and a mapping reads, without a dict of every field."""
        return self._as_json(JsonForm(tuple(fields)))

    def _as_json(self, form: JsonForm) -> Iterator[Any]:
        if self.request.format.upper().startswith("STANDARD-XML") or self._select_with_key() != self.request.select:
            return map(form.of_record, self)
        return self._delivered(form)

    def _delivered(self, form: JsonForm | None) -> Iterator[Any]:
        first_page = FirstPage()
        try:
            yield from self._counted(self._offset_pages(first_page, form))
        except OffsetUnusable as reason:
            if self.request.offset not in (None, 1):
                raise RetsError(f"{reason}, so a starting offset cannot be honoured",
                                hint="Leave out --offset and narrow the query instead.") from None
            self._warn(f"{reason}; switching to slicing")
            remaining = None if self.request.limit is None else max(self.request.limit - self.stats.rows, 0)
            sliced = islice(self._sliced(first_page), remaining)
            yield from self._counted(map(form.of_record, sliced) if form is not None else sliced)
        self._check_count()

    def _counted(self, records: Iterator[T]) -> Iterator[T]:
        for record in records:
            self.stats.rows += 1
            yield record

    def _warn(self, message: str) -> None:
        log.warning(message)
        self.stats.warnings.append(message)

    def _check_count(self) -> None:
        count, rows, request = self.stats.count, self.stats.rows, self.request
        if count is None or request.limit is not None or request.offset not in (None, 1):
            return
        if count != rows:
            self._warn(f"server COUNT was {count} but {rows} records were delivered")

    # -- Offset paging ------------------------------------------------------------------------

    def _offset_pages(self, first_page: FirstPage, form: JsonForm | None) -> Iterator[Any]:
        request = self.request
        select = self._select_with_key()
        start = request.offset or 1
        remaining = request.limit
        page_number = 0
        while remaining is None or remaining > 0:
            want = _smallest(request.page_size, remaining)
            params = request.params(
                offset=start if (page_number or request.offset) else None,
                limit=want,
                count_mode=1 if (request.count and page_number == 0) else 0,
                select=select,
            )
            got, maxrows = yield from self._offset_page(params, page_number, first_page, select, form)
            page_number += 1
            if remaining is not None:
                remaining -= got
            if got == 0 or not (maxrows or (want is not None and got == want)):
                return
            start += got

    def _select_with_key(self) -> tuple[str, ...] | None:
        """The Select to send: the caller's plus the key, so a switch to slicing can skip repeats."""
        select = self.request.select
        if not select or self.request.standard_names:
            return select
        key = self._key_field()
        return select if key in select else (*select, key)

    def _offset_page(self, params: dict[str, str], page_number: int, first_page: FirstPage,
                     select: tuple[str, ...] | None, form: JsonForm | None) -> Generator[Any, None, tuple[int, bool]]:
        """Yield one page (asking again after a broken transfer); return (rows, maxrows)."""
        delivered = 0
        for attempt in range(1, PAGE_ATTEMPTS + 1):
            try:
                with self._open_page(params) as page:
                    self._note_page(page, page_number)
                    read = self._first_page if page_number == 0 else self._later_page
                    # After a broken transfer the first ``delivered`` records were handed out already.
                    for item in read(page, first_page, select, form, skip=delivered):
                        delivered += 1
                        yield item
                    return delivered, page.maxrows
            except TransferInterrupted:
                if attempt == PAGE_ATTEMPTS:
                    raise
                self._warn(f"transfer broke after {delivered} records of page {page_number + 1}; asking again")
            except RetsReplyError as error:
                # Only a refusal of the second page can switch to slicing: the records handed out
                # before it are exactly the first page's, which slicing knows how to skip.
                if page_number == 1 and error.code in OFFSET_REFUSED_CODES and not isinstance(error, RetsReplyAuthError):
                    raise OffsetUnusable(f"server refused Offset ({error.code} {error.text.strip()})") from error
                raise
        raise AssertionError("unreachable")

    def _first_page(self, page: SearchPage, first_page: FirstPage, select: tuple[str, ...] | None,
                    form: JsonForm | None, *, skip: int) -> Iterator[Any]:
        """The first page's records after the first ``skip``, each remembered by ``first_page``
        before it is handed out."""
        for record in islice(page, skip, None):
            first_page.add(record)
            requested = self._as_requested(record, select)
            yield form.of_record(requested) if form is not None else requested

    def _later_page(self, page: SearchPage, first_page: FirstPage, select: tuple[str, ...] | None,
                    form: JsonForm | None, *, skip: int) -> Iterator[Any]:
        """A later page's records after the first ``skip``; as JSON lines the Select is the
        caller's own (see json_lines)."""
        if form is None:
            items, first = iter(page), first_page.first
        else:
            items = page.json_lines() if form.fields is None else page.json_values_with(form.fields)
            first = None if first_page.first is None else form.of_record(first_page.first)
        for seen, item in enumerate(items, 1):
            if seen == 1 and item == first:
                raise OffsetUnusable("server ignored Offset (page 2 started with the first record again)")
            if seen > skip:
                yield item if form is not None else self._as_requested(item, select)

    def _note_page(self, page: SearchPage, page_number: int) -> None:
        self.stats.pages += 1
        if page_number == 0:
            self.stats.count = page.count
        if page.columns:
            self.stats.columns = list(page.columns)

    # -- Slicing ------------------------------------------------------------------------------

    def _sliced(self, first_page: FirstPage) -> Iterator[Record]:
        fields = self._slice_fields()
        cap = max(first_page.rows, 1)
        dimension = _dimension_for(fields)
        self.stats.strategy = dimension.name
        select = self._select_with(fields, dimension)
        carry: set[str] = set()
        for window, rows in self._windows(dimension, cap, select):
            next_carry = set()
            for row in rows:
                key = row.get(fields.key_field, "")
                if dimension.on_upper_edge(row, window):
                    next_carry.add(key)
                if key in carry or first_page.holds(row):
                    continue
                yield self._as_requested(row, select)
            carry = next_carry

    def _select_with(self, fields: SliceFields, dimension: _Dimension) -> tuple[str, ...] | None:
        select = self.request.select
        if not select:
            return None
        needed = [fields.key_field, *dimension.fields]
        return tuple(dict.fromkeys([*select, *needed]))

    def _as_requested(self, row: Record, select: tuple[str, ...] | None) -> Record:
        if select is None or self.request.select is None or select == self.request.select:
            return row
        return {name: row[name] for name in self.request.select if name in row}

    def _windows(self, dimension: _Dimension, cap: int, select: tuple[str, ...] | None
                 ) -> Iterator[tuple[tuple[object, object], list[Record]]]:
        """Windows in ascending order, each with all its rows (bounded by the server's cap)."""
        stack = [dimension.full_range()]
        while stack:
            window = stack.pop()
            query = and_all(self.request.query, dimension.criterion(*window))
            # COUNT only decides when to split early; a window that cannot split is fetched anyway.
            if dimension.can_split(*window) and self._count(query) > cap:
                stack.extend(reversed(dimension.split(*window)))
                continue
            rows, complete = self._fetch_window(query, select)
            if complete:
                yield window, rows
            else:
                stack.extend(reversed(dimension.split(*window)))

    def _count(self, query: str) -> int:
        def count_page() -> int:
            with self._open_page(self.request.params(query=query, count_mode=2)) as page:
                for _ in page:
                    pass
                self.stats.pages += 1
                return page.count or 0

        return _asking_again(count_page)

    def _fetch_window(self, query: str, select: tuple[str, ...] | None) -> tuple[list[Record], bool]:
        def fetch() -> tuple[list[Record], bool]:
            with self._open_page(self.request.params(query=query, select=select)) as page:
                rows = list(page)
                self.stats.pages += 1
                if page.columns:
                    self.stats.columns = [c for c in page.columns if not self.request.select or c in self.request.select]
                return rows, not page.maxrows

        return _asking_again(fetch)


def _asking_again(action: Callable[[], T]) -> T:
    """Run a whole-page request, asking again when the transfer breaks (bounded)."""
    for attempt in range(1, PAGE_ATTEMPTS + 1):
        try:
            return action()
        except TransferInterrupted:
            if attempt == PAGE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _smallest(*values: int | None) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


class _Dimension(Protocol):
    name: str
    fields: tuple[str, ...]

    def full_range(self) -> tuple[object, object]: ...
    def can_split(self, low: object, high: object) -> bool: ...
    def criterion(self, low: object, high: object) -> str: ...
    def split(self, low: object, high: object) -> list[tuple[object, object]]: ...
    def on_upper_edge(self, row: Record, window: tuple[object, object]) -> bool: ...


@dataclass(frozen=True)
class KeyRanges:
    """Windows of a numeric key: ``(Key=low-high)``, split into disjoint halves."""

    key_field: str
    name: str = "key-range"

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.key_field,)

    def full_range(self) -> tuple[int, int]:
        return 0, 10**18

    def criterion(self, low: int, high: int) -> str:
        return f"({self.key_field}={low}-{high})"

    def can_split(self, low: int, high: int) -> bool:
        return low < high

    def split(self, low: int, high: int) -> list[tuple[int, int]]:
        if low >= high:
            raise RetsError(f"more records share key {low} than the server returns at once",
                            hint="This server cannot be paged reliably; ask the MLS about Offset support.")
        middle = (low + high) // 2
        return [(low, middle), (middle + 1, high)]

    def on_upper_edge(self, row: Record, window: tuple[int, int]) -> bool:
        return False  # integer windows do not overlap


@dataclass(frozen=True)
class TimeWindows:
    """Windows of the modification timestamp, whole seconds, overlapping on their shared edge.

    Servers differ on whether ``(T=a-b)`` includes fractions of the second ``b``, so neighbouring
    windows share it and records seen on the edge are not handed out twice.
    """

    timestamp_field: str
    name: str = "time-window"

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.timestamp_field,)

    def full_range(self) -> tuple[datetime, datetime]:
        now = datetime.now(UTC).replace(microsecond=0)
        return datetime(1970, 1, 1, tzinfo=UTC), now + timedelta(days=1)

    def criterion(self, low: datetime, high: datetime) -> str:
        return f"({self.timestamp_field}={_iso(low)}-{_iso(high)})"

    def can_split(self, low: datetime, high: datetime) -> bool:
        return (high - low).total_seconds() >= 1

    def split(self, low: datetime, high: datetime) -> list[tuple[datetime, datetime]]:
        span = (high - low).total_seconds()
        if span < 1:
            raise RetsError(f"more records were modified at {_iso(low)} than the server returns at once",
                            hint="This server cannot be paged reliably; ask the MLS about Offset support.")
        if span == 1:
            return [(low, low), (high, high)]
        middle = low + timedelta(seconds=int(span // 2))
        return [(low, middle), (middle, high)]

    def on_upper_edge(self, row: Record, window: tuple[datetime, datetime]) -> bool:
        return row.get(self.timestamp_field, "")[:19] >= _iso(window[1])[:19]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _dimension_for(fields: SliceFields) -> _Dimension:
    if fields.key_is_numeric:
        return KeyRanges(fields.key_field)
    if fields.timestamp_field:
        return TimeWindows(fields.timestamp_field)
    raise RetsError(
        "the server does not page with Offset and the class has neither a numeric key nor a timestamp field",
        hint="Narrow the query so it fits under the server's limit, or ask the MLS about Offset support.",
    )
