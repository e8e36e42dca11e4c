"""The writer's pieces on their own: grouping waiting pages, and committing a group as one transaction."""

from __future__ import annotations

import io
import pickle
import queue
import threading
import time
from pathlib import Path

import pytest

from retsctl.rets.values import encode_values
from retsctl.store.db import open_db
from retsctl.store.records import Feed, StagedRecord
from retsctl.store.runs import Checkpoint, RunLog
from retsctl.sync.writer import (
    GROUP_PAGES,
    Inbox,
    PageCommitter,
    PageWrite,
    PageWriter,
    _pages_in_groups,
    _read_pages,
)

FEED = Feed("http://mls.example/rets/Login", "Property", "RES", "team-1")
COLUMNS = ("ListingKey", "ListPrice")


def _page(keys: list[str], offset: int) -> PageWrite:
    records = [StagedRecord(key, None, COLUMNS, encode_values([key, "1"])) for key in keys]
    return PageWrite(records, [(keys[0], "bad price", "list_price", "x")], Checkpoint(7, "q", "timestamp", offset, None, 1),
                     "2026-03-01T00:00:00Z")


def test_waiting_pages_are_taken_together_up_to_a_group_and_the_stop_sign_ends_them() -> None:
    pages = [_page([f"K{n}"], n) for n in range(GROUP_PAGES + 2)]
    inbox: Inbox = queue.Queue()
    for page in [*pages, None, _page(["never read"], 99)]:
        inbox.put(page)
    assert list(_pages_in_groups(inbox)) == [pages[:GROUP_PAGES], pages[GROUP_PAGES:]]


def test_what_stopped_the_reader_comes_out_after_the_pages_before_it() -> None:
    inbox: Inbox = queue.Queue()
    first = _page(["K1"], 1)
    inbox.put(first)
    inbox.put(MemoryError("a page too large"))
    groups = _pages_in_groups(inbox)
    assert next(groups) == [first]
    with pytest.raises(MemoryError, match="too large"):
        next(groups)


def _read_all(stream: bytes) -> list[object]:
    inbox: Inbox = queue.Queue()
    _read_pages(io.BytesIO(stream), inbox)
    return [inbox.get() for _ in range(inbox.qsize())]


def test_the_reader_ends_at_a_page_cut_short_and_passes_on_a_malformed_one() -> None:
    page = _page(["K1"], 1)
    whole = pickle.dumps(([r.fields(FEED.resource) for r in page.records], page.rejections, page.checkpoint, page.now))
    read = _read_all(whole + whole[: len(whole) // 2])  # the run died while sending the second page
    assert [type(item) for item in read] == [PageWrite, type(None)]
    assert read[0].records[0].key == "K1"  # type: ignore[union-attr]
    [failure] = _read_all(pickle.dumps(("not", "a", "page")))
    assert isinstance(failure, ValueError)


def test_a_group_is_one_transaction_ending_with_the_last_checkpoint(tmp_path: Path) -> None:
    db = open_db(tmp_path / "retsctl.db")
    first, second = _page(["K1", "K2"], 3), _page(["K2", "K3"], 5)  # K2 comes again on the next page
    outcomes = PageCommitter(db, FEED).commit([first, second])
    assert [(o.inserted, o.unchanged, o.duplicates) for o in outcomes] == [(2, 0, []), (1, 1, ["K2"])]
    assert RunLog(db).checkpoint(FEED).next_offset == 5
    assert db.execute("SELECT count(*) FROM raw_records").fetchone()[0] == 3
    assert db.execute("SELECT count(*) FROM rejections").fetchone()[0] == 2


def test_a_group_that_fails_commits_nothing(tmp_path: Path) -> None:
    db = open_db(tmp_path / "retsctl.db")
    broken = _page(["K9"], 9)
    broken.records[0].columns = None  # type: ignore[assignment]  # no column list to store it against
    with pytest.raises(TypeError):
        PageCommitter(db, FEED).commit([_page(["K1"], 3), broken])
    assert db.execute("SELECT count(*) FROM raw_records").fetchone()[0] == 0
    assert RunLog(db).checkpoint(FEED) is None


def test_many_small_pages_then_a_large_one_do_not_deadlock_the_pipes(tmp_path: Path) -> None:
    """Answers pile up while the run sends: at most IN_FLIGHT_PAGES pages go unanswered, so the
    answers' pipe never fills while the run waits on the pages' pipe (a review found that hang)."""
    writer = PageWriter(open_db(tmp_path / "retsctl.db"), FEED, process_after=0)
    writer.submit(_page(["K0"], 1))
    deadline = time.monotonic() + 30
    while not writer.process_ready() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writer.process_ready()
    huge = _page(["BIG"], 2)
    huge.records = [StagedRecord("BIG", None, COLUMNS, encode_values(["BIG", "x" * 2_500_000]))]
    done: list[int] = []

    def run() -> None:
        for n in range(1, 4000):
            writer.submit(_page([f"K{n}"], n))
        writer.submit(huge)
        done.append(len(writer.finish()))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert done, "the run and its writer process deadlocked"
