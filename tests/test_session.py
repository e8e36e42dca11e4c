"""The RETS client against the simulator over real HTTP on loopback: auth, sessions, paging, quirks."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from retsctl.rets import ConnectionSettings, RetsAuthError, RetsNetworkError, Session
from retsctl.rets.capture import WireRecorder
from retsctl.rets.compact import JsonForm, JsonValues, encode_record
from retsctl.rets.http import ua_auth_digest
from retsctl.rets.replies import RetsReplyError
from retsctl.rets.search import FirstPage, SearchRequest, SearchResult, TransferInterrupted
from retsctl.simulator import Quirks, SimulatorConfig, replay_server, start_simulator

LISTINGS = 120
CAP = 50


@contextmanager
def simulated(quirks: Quirks | None = None, *, listings: int = LISTINGS, page_cap: int = CAP,
              **settings: object) -> Iterator[tuple[Session, object]]:
    config = SimulatorConfig(listings=listings, page_cap=page_cap, quirks=quirks or Quirks())
    with start_simulator(config) as sim:
        connection = ConnectionSettings(sim.login_url, sim.username, sim.password, **settings)  # type: ignore[arg-type]
        with Session(connection) as rets:
            yield rets, sim


def all_keys(rets: Session, **options: object) -> list[str]:
    return [r["ListingKey"] for r in rets.search("Property", "RES", "(ListPrice=0+)", **options)]  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def reference_keys() -> list[str]:
    with simulated(page_cap=10_000) as (rets, _sim):
        keys = all_keys(rets)
    assert len(keys) == len(set(keys)) > 40
    return keys


def test_login_reports_capabilities_as_absolute_urls() -> None:
    with simulated() as (rets, _sim):
        login = rets.login()
        assert set(login.capabilities) >= {"Login", "Search", "GetMetadata", "GetObject", "Logout"}
        assert all(url.startswith("http://127.0.0.1:") for url in login.capabilities.values())
        assert rets.server_rets_version and rets.server_rets_version.startswith("RETS/")
        assert login.metadata_version


@pytest.mark.parametrize("auth", ["auto", "digest"])
def test_digest_login(auth: str) -> None:
    with simulated(auth=auth) as (rets, _sim):
        assert rets.login().capability("Search")


@pytest.mark.parametrize("auth", ["auto", "basic"])
def test_basic_only_server(auth: str) -> None:
    with simulated(Quirks(auth="basic"), auth=auth) as (rets, _sim):
        assert rets.login().capability("Search")


def test_forcing_digest_on_a_basic_server_is_an_auth_error() -> None:
    with simulated(Quirks(auth="basic"), auth="digest") as (rets, _sim), pytest.raises(RetsAuthError):
        rets.login()


def test_wrong_password_is_an_auth_error_without_the_password() -> None:
    config = SimulatorConfig(listings=10)
    with start_simulator(config) as sim:
        wrong = "not-the-password-xyz"
        with Session(ConnectionSettings(sim.login_url, sim.username, wrong)) as rets, \
                pytest.raises(RetsAuthError) as raised:
            rets.login()
    assert wrong not in str(raised.value) and wrong not in raised.value.hint
    assert "401" in raised.value.message
    assert wrong not in repr(ConnectionSettings("u", "n", wrong))


@pytest.mark.parametrize("variant", ["standard", "interealty"])
def test_ua_auth(variant: str) -> None:
    config = SimulatorConfig(listings=20, quirks=Quirks(ua_auth=variant))  # type: ignore[arg-type]
    with start_simulator(config) as sim:
        settings = ConnectionSettings(sim.login_url, sim.username, sim.password, user_agent=config.user_agent,
                                      ua_password=config.ua_password, ua_auth_variant=variant)  # type: ignore[arg-type]
        with Session(settings) as rets:
            rets.login()
            assert len(all_keys(rets)) == rets.count("Property", "RES", "(ListPrice=0+)") > 5
        missing = ConnectionSettings(sim.login_url, sim.username, sim.password, user_agent=config.user_agent)
        with Session(missing) as rets, pytest.raises(RetsAuthError) as raised:
            rets.login()
        assert raised.value.reply_code == 20041


def test_ua_auth_vectors() -> None:
    assert ua_auth_digest("user-agent", "user-agent-pw", "request-id", "session-id", "rets-version") == (
        "052c1af08431d3cc9717a37f9d6de169"
    )
    assert ua_auth_digest("user-agent", "user-agent-pw", "", "", "rets-version") == "73cc7ccfe417292b1155c5ccee7fbdab"


def test_unreachable_server_is_a_network_error() -> None:
    settings = ConnectionSettings("http://127.0.0.1:9/rets/login", "u", "p", timeout=2, retries=0)
    with Session(settings) as rets, pytest.raises(RetsNetworkError) as raised:
        rets.login()
    assert "refused" in raised.value.message


def test_paging_gets_every_record_once(reference_keys: list[str]) -> None:
    with simulated() as (rets, _sim):
        result = rets.search("Property", "RES", "(ListPrice=0+)")
        keys = [r["ListingKey"] for r in result]
    assert keys == reference_keys
    assert result.pages == -(-len(keys) // CAP)
    assert result.count == len(keys) and not result.warnings


def test_page_size_and_total_limit_are_separate(reference_keys: list[str]) -> None:
    with simulated() as (rets, _sim):
        result = rets.search("Property", "RES", "(ListPrice=0+)", page_size=7, limit=30)
        keys = [r["ListingKey"] for r in result]
    assert keys == reference_keys[:30]
    assert result.pages == 5


def test_offset_starts_later(reference_keys: list[str]) -> None:
    with simulated() as (rets, _sim):
        keys = all_keys(rets, offset=11, limit=5)
    assert keys == reference_keys[10:15]


def test_maxrows_on_exactly_full_last_page(reference_keys: list[str]) -> None:
    total = len(reference_keys)
    page_size = next(size for size in range(CAP // 2, 0, -1) if total % size == 0)
    with simulated(Quirks(maxrows_on_full_last_page=True)) as (rets, _sim):
        result = rets.search("Property", "RES", "(ListPrice=0+)", page_size=page_size)
        keys = [r["ListingKey"] for r in result]
    assert keys == reference_keys
    assert result.pages == total // page_size + 1  # the page after the full last one answers 20201


def test_count_off_by_one_is_logged_not_trusted(reference_keys: list[str]) -> None:
    with simulated(Quirks(count_off_by_one=True)) as (rets, _sim):
        result = rets.search("Property", "RES", "(ListPrice=0+)")
        keys = [r["ListingKey"] for r in result]
    assert keys == reference_keys
    assert result.count == len(keys) + 1
    assert any("COUNT" in warning for warning in result.warnings)


@pytest.mark.parametrize("offset", ["ignored", "refused"])
def test_servers_without_offset_are_sliced(offset: str, reference_keys: list[str]) -> None:
    with simulated(Quirks(offset=offset)) as (rets, _sim):  # type: ignore[arg-type]
        result = rets.search("Property", "RES", "(ListPrice=0+)")
        keys = [r["ListingKey"] for r in result]
    assert sorted(keys) == sorted(reference_keys)
    assert len(keys) == len(set(keys))
    assert result.strategy in {"key-range", "time-window"}


def test_slicing_keeps_the_requested_select(reference_keys: list[str]) -> None:
    with simulated(Quirks(offset="ignored")) as (rets, _sim):
        records = list(rets.search("Property", "RES", "(ListPrice=0+)", select=["ListPrice"]))
    assert len(records) == len(reference_keys)
    assert all(set(record) == {"ListPrice"} for record in records)


@pytest.mark.parametrize(("quirks", "options"), [
    (Quirks(), {}),
    (Quirks(), {"select": ["ListingKey", "ListPrice"], "limit": 70}),
    (Quirks(), {"select": ["ListPrice"]}),  # the key added for slicing leaves each record again
    (Quirks(), {"format": "STANDARD-XML"}),
    (Quirks(offset="ignored"), {}),
    (Quirks(offset="refused"), {"limit": 90}),
    (Quirks(drop_connection_every=3), {}),
    (Quirks(truncate_body_every=3), {}),
    (Quirks(invalid_chars=True), {}),
    (Quirks(maxrows_on_full_last_page=True), {"page_size": 40}),
], ids=["plain", "select-limit", "select-without-key", "standard-xml", "offset-ignored", "offset-refused",
        "dropped", "truncated", "invalid-chars", "maxrows-full-page"])
def test_json_lines_are_the_encoded_records(quirks: Quirks, options: dict[str, object]) -> None:
    with simulated(quirks) as (rets, _sim):
        records = list(rets.search("Property", "RES", "(ListPrice=0+)", **options))  # type: ignore[arg-type]
        result = rets.search("Property", "RES", "(ListPrice=0+)", **options)  # type: ignore[arg-type]
        lines = list(result.json_lines())
        fields = ("ListPrice", "PublicRemarks", "ListingKey")
        with_values = list(rets.search("Property", "RES", "(ListPrice=0+)", **options).json_values_with(fields))  # type: ignore[arg-type]
    assert len(records) > 40
    assert lines == [encode_record(record) for record in records]
    assert result.rows == len(lines)
    assert with_values == [JsonForm(fields).of_record(record) for record in records]


class _BreakingPages:
    """Pages of five records whose first transfer breaks after three (a fake ``open_page``)."""

    def __init__(self) -> None:
        self.opened = 0
        self.records = [{"ListingKey": str(n)} for n in range(5)]

    @contextmanager
    def __call__(self, _params: dict[str, str]) -> Iterator[_BreakingPages]:
        self.opened += 1
        yield self

    count, columns, maxrows = 5, ["ListingKey"], False

    def __iter__(self) -> Iterator[dict[str, str]]:
        for n, record in enumerate(self.records):
            if self.opened == 1 and n == 3:
                raise TransferInterrupted("connection reset")
            yield record

    def json_lines(self) -> Iterator[bytes]:
        return map(encode_record, self)

    def json_values_with(self, fields: Iterable[str]) -> Iterator[JsonValues]:
        return map(JsonForm(tuple(fields)).of_record, self)


@pytest.mark.parametrize("form", [None, JsonForm(), JsonForm(("ListingKey",))], ids=["records", "lines", "arrays"])
def test_a_first_page_asked_again_is_handed_out_and_remembered_once(form: JsonForm | None) -> None:
    pages = _BreakingPages()
    result = SearchResult(SearchRequest("Property", "RES", "(ListPrice=0+)"), pages, lambda: None, lambda: "ListingKey")
    first_page = FirstPage()
    delivered = list(result._offset_page({}, 0, first_page, None, form))
    expected = pages.records if form is None else [form.of_record(r) for r in pages.records]
    assert (delivered, pages.opened, first_page.rows) == (expected, 2, 5)


def test_expired_sessions_log_in_again(reference_keys: list[str]) -> None:
    with simulated(Quirks(expire_session_after=2)) as (rets, _sim):
        keys = all_keys(rets)
        assert rets.relogins >= 1
    assert keys == reference_keys


@pytest.mark.parametrize("quirk", [Quirks(fail_5xx_every=3), Quirks(drop_connection_every=3),
                                   Quirks(truncate_body_every=3)])
def test_transport_faults_are_retried(quirk: Quirks, reference_keys: list[str]) -> None:
    with simulated(quirk) as (rets, _sim):
        keys = all_keys(rets)
    assert keys == reference_keys


def test_rets_status_in_body_takes_precedence() -> None:
    with simulated(Quirks(rets_status_in_body=True)) as (rets, _sim):
        rets.login()
        assert list(rets.search("Property", "RES", "(ListPrice=999999999+)")) == []
        with pytest.raises(RetsReplyError) as raised:
            list(rets.search("Property", "NOPE", "(ListPrice=0+)"))
    assert raised.value.reply_code == 20203


@pytest.mark.parametrize("quirk", [Quirks(capability_query_strings=True), Quirks(capability_absolute_urls=True)])
def test_capability_urls_keep_their_shape(quirk: Quirks, reference_keys: list[str]) -> None:
    with simulated(quirk) as (rets, _sim):
        assert all_keys(rets) == reference_keys
        assert rets.fields("Property", "RES")


def test_no_records_is_an_empty_result() -> None:
    with simulated() as (rets, _sim):
        result = rets.search("Property", "RES", "(ListPrice=999999999+)")
        assert list(result) == []


def test_metadata_types_and_format_fallback() -> None:
    for quirks in (Quirks(), Quirks(refuse_metadata_format="COMPACT")):
        with simulated(quirks) as (rets, _sim):
            resources = {r.resource_id: r for r in rets.resources()}
            assert resources["Property"].key_field == "ListingKey"
            classes = [c.class_name for c in rets.classes("Property")]
            assert "RES" in classes
            fields = {f.system_name: f for f in rets.fields("Property", "RES")}
            assert len(fields) >= 100
            assert fields["ListPrice"].searchable
            status = fields["ListingStatus"]
            values = [v.value for v in rets.lookup_values("Property", status.lookup_name)]
            assert "A" in values
            assert any(o.object_type == "Photo" for o in rets.object_types("Property"))


def test_compact_sends_codes_and_decoded_sends_long_values() -> None:
    with simulated() as (rets, _sim):
        coded = next(iter(rets.search("Property", "RES", "(ListPrice=0+)", format="COMPACT", limit=1)))
        decoded = next(iter(rets.search("Property", "RES", "(ListPrice=0+)", limit=1)))
    assert coded["ListingKey"] == decoded["ListingKey"]
    assert len(coded["ListingStatus"]) <= 2 < len(decoded["ListingStatus"])


def test_invalid_characters_are_removed_and_counted() -> None:
    with simulated(Quirks(invalid_chars=True)) as (rets, _sim):
        remarks = [r["PublicRemarks"] for r in rets.search("Property", "RES", "(ListPrice=0+)")]
        repairs = rets.repairs.as_dict()
    assert not any("\x0b" in text or "\x01" in text for text in remarks)
    assert any("\U0001f3e1" in text for text in remarks)
    assert sum(repairs.values()) > 0


def test_get_objects_many_listings_in_one_request(reference_keys: list[str]) -> None:
    with simulated() as (rets, _sim):
        objects = list(rets.get_objects("Property", "Photo", reference_keys[:6]))
        located = list(rets.get_objects("Property", "Photo", reference_keys[:6], location=True))
    photos = [o for o in objects if o.error is None]
    assert photos and all(o.data[:2] == b"\xff\xd8" for o in photos)
    assert {o.content_id for o in objects} <= set(reference_keys[:6])
    assert all(o.location and o.location.startswith("http") for o in located if o.error is None)
    missing = [o for o in objects if o.error is not None]
    assert all(o.error.reply_code == 20403 for o in missing)


def test_verbose_log_redacts_secrets(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="retsctl.rets.http"), simulated() as (rets, sim):
        rets.login()
        password = sim.password
    text = caplog.text
    assert "Authorization: ********" in text
    assert password not in text


def test_record_and_replay(tmp_path: Path, reference_keys: list[str]) -> None:
    har = tmp_path / "capture.har"
    config = SimulatorConfig(listings=LISTINGS, page_cap=CAP)
    with start_simulator(config) as sim:
        password = sim.password
        settings = ConnectionSettings(sim.login_url, sim.username, password)
        with Session(settings, recorder=WireRecorder(har, settings.secrets())) as rets:
            rets.login()
            recorded = all_keys(rets)
    text = har.read_text()
    assert password not in text
    assert len(json.loads(text)["log"]["entries"]) >= 4
    with replay_server(har) as replay, Session(ConnectionSettings(replay.login_url, "anyone", "anything")) as rets:
        rets.login()
        assert all_keys(rets) == recorded == reference_keys


def test_limit_still_applies_after_switching_to_slicing(reference_keys: list[str]) -> None:
    with simulated(Quirks(offset="ignored")) as (rets, _sim):
        keys = all_keys(rets, limit=CAP + 7)
    assert len(keys) == len(set(keys)) == CAP + 7


def test_an_offset_cannot_be_honoured_without_offset_support() -> None:
    with simulated(Quirks(offset="refused")) as (rets, _sim), pytest.raises(RetsReplyError) as raised:
        all_keys(rets, offset=5)
    assert raised.value.reply_code == 20203
