"""The simulator over real HTTP on loopback, driven with plain ``requests`` (no retsctl client)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from lxml import etree
from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth

from retsctl.simulator import Dataset, Quirks, RunningSimulator, SimulatorConfig, replay_server, start_simulator
from retsctl.simulator.dataset import CLASSES, LOOKUPS, USER_OFFICE
from retsctl.simulator.quirks import remarks_corrupted
from retsctl.simulator.server import ua_auth_digest

LISTINGS = 300
CAP = 50
AGENT = "retsctl-tests/1.0"
HEADERS = {"RETS-Version": "RETS/1.7.2", "User-Agent": AGENT}
ALL = "(ListPrice=0+)"


# ---------------------------------------------------------------------------------------------
# Helpers


class Client:
    """A logged-in requests session and the capability URLs the Login answered (made absolute)."""

    def __init__(self, sim: RunningSimulator, *, auth: AuthBase | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.http = requests.Session()
        self.http.auth = auth or HTTPDigestAuth(sim.username, sim.password)
        self.http.headers.update(headers or HEADERS)
        self.login_response = self.http.get(sim.login_url)
        lines = login_lines(self.login_response.content) if self.login_response.ok else {}
        self.capabilities = {name: urljoin(sim.login_url, url) for name, url in lines.items() if "/" in url}

    def call(self, transaction: str, method: str = "GET", headers: dict[str, str] | None = None,
             **arguments: str) -> requests.Response:
        url = self.capabilities[transaction]
        if method == "POST":
            return self.http.post(url, data=arguments, headers=headers)
        return self.http.get(url, params=arguments, headers=headers)

    def search(self, query: str = ALL, method: str = "GET", **arguments: str) -> requests.Response:
        defaults = {"SearchType": "Property", "Class": "RES", "QueryType": "DMQL2", "Format": "COMPACT"}
        return self.call("Search", method, Query=query, **{**defaults, **arguments})

    def metadata(self, type_name: str, metadata_id: str, fmt: str = "COMPACT") -> requests.Response:
        return self.call("GetMetadata", Type=f"METADATA-{type_name}", ID=metadata_id, Format=fmt)


def parse(body: bytes) -> etree._Element:
    return etree.fromstring(body)  # strict on purpose: answers must be well-formed XML


def reply(body: bytes) -> tuple[int, str]:
    """The effective reply: a trailing RETS-STATUS wins over the opening tag."""
    root = parse(body)
    status = root.find("RETS-STATUS")
    node = root if status is None else status
    return int(node.get("ReplyCode")), node.get("ReplyText")


def login_lines(body: bytes) -> dict[str, str]:
    text = parse(body).findtext("RETS-RESPONSE") or ""
    return dict(line.strip().split("=", 1) for line in text.strip().splitlines())


def compact(body: bytes) -> tuple[list[str], list[list[str]]]:
    root = parse(body)
    columns = root.findtext("COLUMNS").split("\t")[1:-1]
    return columns, [row.text.split("\t")[1:-1] for row in root.findall("DATA")]


def records(body: bytes) -> list[dict[str, str]]:
    columns, rows = compact(body)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def keys_of(response: requests.Response) -> list[str]:
    return [r["ListingKey"] for r in records(response.content)]


@contextmanager
def simulated(quirks: Quirks | None = None, **config: object) -> Iterator[RunningSimulator]:
    options = {"listings": 60, "page_cap": 20, **config}
    with start_simulator(SimulatorConfig(quirks=quirks or Quirks(), **options)) as running:  # type: ignore[arg-type]
        yield running


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(SimulatorConfig(listings=LISTINGS, page_cap=CAP)) as running:
        yield running


@pytest.fixture(scope="module")
def client(sim: RunningSimulator) -> Client:
    return Client(sim)


@pytest.fixture(scope="module")
def res_keys(sim: RunningSimulator) -> list[str]:
    return sim.dataset.keys("RES")


# ---------------------------------------------------------------------------------------------
# Dataset


def test_dataset_is_deterministic_per_seed() -> None:
    first, again, other = Dataset(400, 3), Dataset(400, 3), Dataset(400, 1)
    key = first.keys("RES")[3]
    assert first.values(key) == again.values(key)
    assert first.values(key) != other.values(key)
    # a prefix of the data does not depend on how many listings follow it
    assert Dataset(100, 3).values(first.keys()[50]) == first.values(first.keys()[50])


def test_dataset_of_200k_listings_is_generated_in_seconds() -> None:
    started = time.perf_counter()
    dataset = Dataset(200_000, 1)
    assert time.perf_counter() - started < 10
    assert len(dataset) == 200_000
    assert 0.8 < len(dataset.keys("RES")) / 200_000 < 0.9


def test_schema_has_the_reso_like_fields() -> None:
    res = {f.system_name: f for f in CLASSES["RES"].fields}
    assert len(res) >= 140 and len(CLASSES["LND"].fields) >= 100
    for name in ("ListingKey", "ListingId", "ListPrice", "OriginalListPrice", "ClosePrice", "ListingStatus",
                 "BedroomsTotal", "BathroomsTotalInteger", "BathroomsFull", "LivingArea", "LotSizeAcres",
                 "YearBuilt", "StreetNumber", "StreetDirPrefix", "StreetName", "StreetSuffix", "UnitNumber", "City",
                 "StateOrProvince", "PostalCode", "CountyOrParish", "Latitude", "Longitude", "PublicRemarks",
                 "PrivateRemarks", "ListAgentFullName", "ListOfficeName", "ModificationTimestamp",
                 "ListingContractDate", "CloseDate", "PhotosCount", "Appliances", "InteriorFeatures",
                 "PropertySubType"):
        assert name in res, name
    assert res["ListingStatus"].standard_name == "StandardStatus"
    assert res["Appliances"].interpretation == "LookupMulti"
    assert res["Latitude"].precision == "6"
    assert {v.value for v in LOOKUPS["ListingStatus"].values} >= {"A", "P", "S", "X", "W", "E", "C", "CS"}
    assert {f.data_type for f in res.values()} >= {"Character", "Int", "Decimal", "Date", "DateTime", "Boolean",
                                                   "Time", "Tiny", "Small", "Long"}


_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _check_value(spec: object, value: str) -> None:
    data_type, interpretation = spec.data_type, spec.interpretation  # type: ignore[attr-defined]
    if value == "":
        return
    if interpretation.startswith("Lookup"):
        codes = {v.value for v in LOOKUPS[spec.lookup_name].values}  # type: ignore[attr-defined]
        assert set(value.split(",")) <= codes
    elif data_type in ("Tiny", "Small", "Int", "Long"):
        assert value.isdigit()
    elif data_type == "Decimal":
        whole, _, fraction = value.partition(".")
        assert whole.lstrip("-").isdigit() and len(fraction) == int(spec.precision)  # type: ignore[attr-defined]
    elif data_type == "Date":
        date.fromisoformat(value)
    elif data_type == "DateTime":
        assert _DATETIME.match(value)
    elif data_type == "Boolean":
        assert value in ("0", "1")
    elif data_type == "Time":
        assert re.match(r"^\d{2}:\d{2}:\d{2}$", value)


def test_every_value_has_its_declared_type_and_lookup_codes() -> None:
    dataset = Dataset(600, 3)
    for key in dataset.keys()[:300]:
        values = dataset.values(key)
        class_def = CLASSES["RES" if values["PropertyType"] == "RESI" else "LND"]
        for spec in class_def.fields:
            try:
                _check_value(spec, values[spec.system_name])
            except (AssertionError, ValueError) as error:
                raise AssertionError(f"{key} {spec.system_name}={values[spec.system_name]!r}") from error
        assert values["ListingKey"] == key
        assert values["UnparsedAddress"].startswith(values["StreetNumber"] + " ")


def test_values_are_consistent_within_a_listing() -> None:
    dataset = Dataset(600, 3)
    mentions = 0
    for key in dataset.keys("RES")[:200]:
        v = dataset.values(key)
        assert int(v["BathroomsTotalInteger"]) == sum(
            int(v[f]) for f in ("BathroomsFull", "BathroomsHalf", "BathroomsThreeQuarter"))
        assert (v["ListingStatus"] == "S") == bool(v["CloseDate"]) == bool(v["ClosePrice"])
        assert v["ListingContractDate"] <= (v["CloseDate"] or "9999") and v["ModificationTimestamp"] < "2025-07-01"
        beds = re.findall(r"(\d+)(?:-bedroom| bed /| bedrooms)", v["PublicRemarks"])
        assert set(beds) <= {v["BedroomsTotal"]}
        mentions += len(beds)
    assert mentions > 20


def test_remarks_carry_entities_and_non_ascii_text() -> None:
    dataset = Dataset(300, 1)
    remarks = " ".join(dataset.values(key)["PublicRemarks"] for key in dataset.keys("RES"))
    for text in ("&", "<", '"', "é", "ñ", "Ü", "🌄", "✨"):
        assert text in remarks


def test_decoded_rows_average_about_3_5_kb() -> None:
    dataset = Dataset(2000, 1)
    keys = dataset.keys()
    sizes = [len("\t".join(dataset.values(k, decoded=True).values()).encode()) for k in keys]
    assert 3000 < sum(sizes) / len(sizes) < 4000


def test_touch_moves_the_listing_past_every_other_and_delete_removes_it() -> None:
    dataset = Dataset(100, 3)
    key, gone = dataset.keys()[10], dataset.keys()[11]
    before = dataset.values(key)
    every = dataset.keys()
    newest = max(dataset.values(k)["ModificationTimestamp"] for k in every)
    stamp = dataset.touch(key)
    after = dataset.values(key)
    assert after["ModificationTimestamp"] == stamp > newest
    assert int(after["ListPrice"]) < int(before["ListPrice"])
    assert after["PriceChangeTimestamp"] == stamp
    assert dataset.touch(key) > stamp
    version = dataset.version
    dataset.delete(gone)
    remaining = dataset.keys()
    assert gone not in remaining and len(dataset) == 99 and dataset.version == version + 1
    with pytest.raises(KeyError):
        dataset.touch(gone)


def test_modified_since_index_follows_changes() -> None:
    dataset = Dataset(300, 5)
    listed = dataset.keys()
    stamp = {key: dataset.values(key)["ModificationTimestamp"] for key in listed}
    day = date.fromisoformat(sorted(stamp.values())[150][:10])
    since = {dataset.key_of(i) for i in dataset.modified_since(day)}
    assert since == {key for key, moment in stamp.items() if moment[:10] >= day.isoformat()}
    touched = min(stamp, key=stamp.get)  # type: ignore[arg-type]
    dataset.touch(touched)
    assert touched in {dataset.key_of(i) for i in dataset.modified_since(day)}


@pytest.mark.parametrize("bound", ["{moment}+", "{moment}Z+", "{moment}-05:00+", "{moment}+09:30+", "{day}+",
                                   "{moment}-{later}", "TODAY-"])
def test_modification_time_queries_answer_as_a_full_scan_would(bound: str) -> None:
    """Listings found through the modification-time index are exactly those a scan finds."""
    with simulated(listings=200, page_cap=500) as running:
        client = Client(running)
        moments = sorted(r["ModificationTimestamp"] for r in records(client.search(Select="ModificationTimestamp").content))
        moment, later = (m.removesuffix("Z") for m in (moments[len(moments) // 2], moments[len(moments) * 3 // 4]))
        criterion = f"(ModificationTimestamp={bound.format(moment=moment, day=moment[:10], later=later)})"
        indexed = keys_of(client.search(criterion))
        scanned = keys_of(client.search(f"{criterion}|(ListingStatus=.EMPTY.)"))  # an OR: no index
        assert indexed == scanned
        assert 0 < len(indexed) < len(moments) or bound == "TODAY-"


# ---------------------------------------------------------------------------------------------
# Login, auth, sessions


def test_login_answers_capabilities_cookie_and_version(client: Client) -> None:
    response = client.login_response
    assert response.status_code == 200 and response.headers["RETS-Version"] == "RETS/1.7.2"
    assert reply(response.content) == (0, "Operation Successful")
    assert re.fullmatch(r"[0-9A-F]{32}", client.http.cookies["RETS-Session-ID"])
    lines = login_lines(response.content)
    assert lines["MetadataVersion"] == "1.00.00042" and lines["Search"] == "/rets/Search"
    assert set(client.capabilities) == {"Login", "Action", "GetMetadata", "Search", "GetObject", "Logout"}
    assert response.history[0].status_code == 401  # the Digest challenge came first
    challenge = response.history[0].headers["WWW-Authenticate"]
    assert 'qop="auth"' in challenge and "algorithm=MD5" in challenge


def test_post_works_like_get(client: Client) -> None:
    get = client.search(Select="ListingKey,ListPrice", Limit="5")
    post = client.search(method="POST", Select="ListingKey,ListPrice", Limit="5")
    assert get.content == post.content and len(records(get.content)) == 5


def test_wrong_password_is_refused_and_repeated_failures_lock_the_account() -> None:
    with simulated(lockout_after=5, lockout_seconds=0.5) as sim:
        for _ in range(4):
            assert Client(sim, auth=HTTPDigestAuth(sim.username, "wrong")).login_response.status_code == 401
        assert Client(sim).login_response.status_code == 200  # a success resets the count
        for _ in range(5):
            Client(sim, auth=HTTPDigestAuth(sim.username, "wrong"))
        locked = Client(sim).login_response
        assert locked.status_code == 403 and reply(locked.content)[0] == 20036
        assert "locked" in reply(locked.content)[1]
        time.sleep(0.6)
        assert Client(sim).login_response.status_code == 200


def test_digest_response_is_verified(sim: RunningSimulator) -> None:
    challenge = requests.get(sim.login_url, headers=HEADERS)
    assert challenge.status_code == 401
    nonce = re.search(r'nonce="([^"]+)"', challenge.headers["WWW-Authenticate"])[1]  # type: ignore[index]
    forged = (f'Digest username="{sim.username}", realm="retsctl-simulator", nonce="{nonce}", uri="/rets/Login", '
              f'response="{"0" * 32}", qop=auth, nc=00000001, cnonce="abc"')
    assert requests.get(sim.login_url, headers={**HEADERS, "Authorization": forged}).status_code == 401


def test_missing_or_invalid_rets_version_is_http_400_with_20036(sim: RunningSimulator) -> None:
    for headers in ({"User-Agent": AGENT}, {"User-Agent": AGENT, "RETS-Version": "1.7.2"}):
        response = requests.get(sim.login_url, headers=headers, auth=HTTPDigestAuth(sim.username, sim.password))
        assert response.status_code == 400 and reply(response.content)[0] == 20036


def test_transactions_need_a_session(sim: RunningSimulator, client: Client) -> None:
    stranger = requests.get(client.capabilities["Search"], headers=HEADERS,
                            auth=HTTPDigestAuth(sim.username, sim.password))
    assert stranger.status_code == 401
    mine = Client(sim)
    assert mine.call("Action").status_code == 200
    assert reply(mine.call("Logout").content)[0] == 0
    assert mine.search().status_code == 401
    assert reply(mine.call("Logout").content)[0] == 20701


def test_stale_nonce_is_rechallenged_and_answered() -> None:
    with simulated(Quirks(nonce_max_uses=1)) as sim:
        client = Client(sim)
        response = client.search(Limit="1")
        assert response.status_code == 200
        assert response.history and "stale=true" in response.history[0].headers["WWW-Authenticate"]


def test_expired_session_answers_20037_until_a_new_login() -> None:
    with simulated(Quirks(expire_session_after=2)) as sim:
        client = Client(sim)
        assert [reply(client.search(Limit="1").content)[0] for _ in range(3)] == [0, 0, 20037]
        again = Client(sim)
        assert reply(again.search(Limit="1").content)[0] == 0


def test_rets_18_login_uses_info_tokens() -> None:
    with simulated(rets_version="RETS/1.8") as sim:
        client = Client(sim, headers={**HEADERS, "RETS-Version": "RETS/1.8"})
        text = parse(client.login_response.content).findtext("RETS-RESPONSE")
        assert client.login_response.headers["RETS-Version"] == "RETS/1.8"
        assert "Info=MEMBERNAME;Character;Demo Agent" in text and "Info=USERID;Character;demo" in text
        assert "Search=/rets/Search" in text
        classes = client.metadata("CLASS", "Property").content
        assert "OffsetSupport" in parse(classes).findtext("METADATA-CLASS/COLUMNS")


def test_basic_only_server_refuses_digest() -> None:
    with simulated(Quirks(auth="basic")) as sim:
        digest = Client(sim)
        assert digest.login_response.status_code == 401
        assert digest.login_response.headers["WWW-Authenticate"].startswith("Basic")
        basic = Client(sim, auth=HTTPBasicAuth(sim.username, sim.password))
        assert basic.login_response.status_code == 200 and len(records(basic.search(Limit="3").content)) == 3
        assert Client(sim, auth=HTTPBasicAuth(sim.username, "nope")).login_response.status_code == 401


# ---------------------------------------------------------------------------------------------
# UA-Auth


def test_ua_auth_digest_matches_the_published_vectors() -> None:
    assert ua_auth_digest("user-agent", "user-agent-pw", "request-id", "session-id", "rets-version") == (
        "052c1af08431d3cc9717a37f9d6de169")
    assert ua_auth_digest("user-agent", "user-agent-pw", "", "", "rets-version") == "73cc7ccfe417292b1155c5ccee7fbdab"
    assert ua_auth_digest("MyRetsClient/1.0", "s3cret", "", "21AC8993DC98DDCE648423628ECF4AB5", "RETS/1.7.2") == (
        "30841c4c9c7efbfe93110d50e12c2741")
    assert ua_auth_digest("VieleRETS", "NWA", "", "", "RETS/1.5") == "07554bfdcfb2b37e280b6d9c4826bc46"  # Interealty


class UaAuth(AuthBase):
    """Adds RETS-UA-Authorization computed from the session cookie the jar will send."""

    def __init__(self, session: requests.Session, variant: str, password: str, *, request_id: str = "") -> None:
        self.session, self.variant, self.password, self.request_id = session, variant, password, request_id

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        agent, version = request.headers["User-Agent"], request.headers["RETS-Version"]
        if self.variant == "interealty":
            value = ua_auth_digest(agent.split("/")[0], self.password, "", "", version)
        else:
            session_id = self.session.cookies.get("RETS-Session-ID") or ""
            value = ua_auth_digest(agent, self.password, self.request_id, session_id, version)
        request.headers["RETS-UA-Authorization"] = f"Digest {value}"
        if self.request_id:
            request.headers["RETS-Request-ID"] = self.request_id
        return request


@pytest.mark.parametrize(("variant", "request_id"), [("standard", ""), ("standard", "req42"), ("interealty", "")])
def test_ua_auth_is_verified_on_every_request(variant: str, request_id: str) -> None:
    config = {"user_agent": "retsctl-tests", "ua_password": "ua-pw"}
    with simulated(Quirks(ua_auth=variant), **config) as sim:  # type: ignore[arg-type]
        missing = Client(sim)
        assert missing.login_response.status_code == 200 and reply(missing.login_response.content)[0] == 20041
        http = requests.Session()
        http.headers.update(HEADERS)
        ua = UaAuth(http, variant, "ua-pw", request_id=request_id)
        digest = HTTPDigestAuth(sim.username, sim.password)
        http.auth = lambda r: ua(digest(r))  # type: ignore[assignment]
        assert reply(http.get(sim.login_url).content)[0] == 0
        search = http.get(sim.login_url.replace("Login", "Search"), params={
            "SearchType": "Property", "Class": "RES", "Query": ALL, "Format": "COMPACT", "Limit": "2"})
        assert len(records(search.content)) == 2
        if request_id:
            assert search.headers["RETS-Request-ID"] == request_id
        wrong = UaAuth(http, variant, "not-it")
        http.auth = lambda r: wrong(digest(r))  # type: ignore[assignment]
        assert reply(http.get(sim.login_url).content)[0] == 20037


# ---------------------------------------------------------------------------------------------
# Metadata


@pytest.mark.parametrize("fmt", ["COMPACT", "STANDARD-XML"])
@pytest.mark.parametrize(("type_name", "metadata_id", "segments"), [
    ("SYSTEM", "0", {"METADATA-SYSTEM": 1}),
    ("RESOURCE", "0", {"METADATA-RESOURCE": 1}),
    ("CLASS", "Property", {"METADATA-CLASS": 1}),
    ("CLASS", "Property:*", {"METADATA-CLASS": 1, "METADATA-TABLE": 2}),
    ("TABLE", "Property:RES", {"METADATA-TABLE": 1}),
    ("TABLE", "Property:*", {"METADATA-TABLE": 2}),
    ("LOOKUP", "Property", {"METADATA-LOOKUP": 1}),
    ("LOOKUP_TYPE", "Property:ListingStatus", {"METADATA-LOOKUP_TYPE": 1}),
    ("OBJECT", "0", {"METADATA-OBJECT": 1}),
])
def test_metadata_types_in_both_formats(client: Client, fmt: str, type_name: str, metadata_id: str,
                                        segments: dict[str, int]) -> None:
    root = parse(client.metadata(type_name, metadata_id, fmt).content)
    assert int(root.get("ReplyCode")) == 0
    container = root.find("METADATA") if fmt == "STANDARD-XML" else root
    found: dict[str, int] = {}
    for child in container:
        found[child.tag] = found.get(child.tag, 0) + 1
        assert child.get("Version") == "1.00.00042" and child.get("Date") == "2025-06-01T00:00:00Z"
    assert found == segments


def test_compact_and_standard_xml_metadata_hold_the_same_rows(client: Client) -> None:
    table = parse(client.metadata("TABLE", "Property:RES").content).find("METADATA-TABLE")
    columns = table.findtext("COLUMNS").split("\t")[1:-1]
    compact_rows = [dict(zip(columns, d.text.split("\t")[1:-1], strict=True)) for d in table.findall("DATA")]
    xml = parse(client.metadata("TABLE", "Property:RES", "STANDARD-XML").content)
    xml_rows = [{c.tag: c.text or "" for c in field} for field in xml.iter("Field")]
    assert compact_rows == xml_rows and len(compact_rows) == len(CLASSES["RES"].fields)
    status = next(row for row in compact_rows if row["SystemName"] == "ListingStatus")
    assert (status["StandardName"], status["Interpretation"], status["LookupName"]) == (
        "StandardStatus", "Lookup", "ListingStatus")
    assert next(r for r in compact_rows if r["SystemName"] == "PrivateRemarks")["Searchable"] == "0"


def test_metadata_wildcards_and_system_tree(client: Client) -> None:
    lookups = parse(client.metadata("LOOKUP_TYPE", "Property:*").content).findall("METADATA-LOOKUP_TYPE")
    assert {node.get("Lookup") for node in lookups} >= {"ListingStatus", "Appliances", "County"}
    status = next(node for node in lookups if node.get("Lookup") == "ListingStatus")
    assert "\tA\t</DATA>" in etree.tostring(status, encoding="unicode")
    tree = parse(client.metadata("SYSTEM", "*").content)
    assert [node.tag for node in tree][:4] == ["METADATA-SYSTEM", "METADATA-RESOURCE", "METADATA-CLASS",
                                              "METADATA-TABLE"]
    assert tree.find("METADATA-SYSTEM/SYSTEM").get("TimeZoneOffset") == "+00:00"


@pytest.mark.parametrize(("type_name", "metadata_id", "code"), [
    ("NOPE", "0", 20501), ("CLASS", "Agent", 20500), ("TABLE", "Property:XYZ", 20502), ("EDITMASK", "Property", 20503),
])
def test_metadata_errors(client: Client, type_name: str, metadata_id: str, code: int) -> None:
    assert reply(client.metadata(type_name, metadata_id).content)[0] == code


def test_refused_metadata_format_lets_the_other_one_work() -> None:
    with simulated(Quirks(refuse_metadata_format="COMPACT", refuse_metadata_code=20506)) as sim:
        client = Client(sim)
        assert reply(client.metadata("RESOURCE", "0").content)[0] == 20506
        assert reply(client.metadata("RESOURCE", "0", "STANDARD-XML").content)[0] == 0


# ---------------------------------------------------------------------------------------------
# Search


def test_formats_carry_codes_long_values_and_elements(client: Client) -> None:
    select = "ListingKey,ListingStatus,Appliances,City"
    coded = records(client.search(Select=select, Limit="5").content)
    decoded = records(client.search(Select=select, Limit="5", Format="COMPACT-DECODED").content)
    xml = parse(client.search(Select=select, Limit="5", Format="STANDARD-XML").content)
    long_values = LOOKUPS["ListingStatus"].long_values()
    assert [long_values[r["ListingStatus"]] for r in coded] == [r["ListingStatus"] for r in decoded]
    assert all("," not in r["Appliances"] or r["Appliances"].replace(",", "").isupper() for r in coded)
    assert [n.text for n in xml.iter("ListingStatus")] == [r["ListingStatus"] for r in decoded]
    assert [n.text for n in xml.iter("ListingKey")] == [r["ListingKey"] for r in coded]
    assert xml.find("REData/REProperties/ResidentialProperty") is not None


def test_results_ascend_by_key_and_match_the_dataset(sim: RunningSimulator, client: Client,
                                                     res_keys: list[str]) -> None:
    rows = records(client.search(Limit="20", Format="COMPACT").content)
    assert [r["ListingKey"] for r in rows] == res_keys[:20]
    assert rows[0] == sim.dataset.values(res_keys[0])
    assert len(rows[0]) == len(CLASSES["RES"].fields)


def test_count_limit_offset_and_select(client: Client, res_keys: list[str]) -> None:
    counted = parse(client.search(Count="1", Limit="3").content)
    assert counted.find("COUNT").get("Records") == str(len(res_keys)) and len(counted.findall("DATA")) == 3
    only = parse(client.search(Count="2", Limit="3").content)
    assert only.find("COUNT").get("Records") == str(len(res_keys)) and only.find("DATA") is None
    assert parse(client.search(Count="0", Limit="3").content).find("COUNT") is None
    page = client.search(Offset="11", Limit="5", Select="ListPrice,ListingKey")
    assert compact(page.content)[0] == ["ListPrice", "ListingKey"]
    assert keys_of(page) == res_keys[10:15]


def test_paging_with_the_server_cap_ends_without_maxrows(client: Client, res_keys: list[str]) -> None:
    seen: list[str] = []
    offset = 1
    while True:
        page = client.search(Offset=str(offset), Select="ListingKey")
        if reply(page.content)[0] == 20201:
            break
        root = parse(page.content)
        rows = keys_of(page)
        seen += rows
        offset += len(rows)
        if root.find("MAXROWS") is None:
            break
        assert len(rows) == CAP and reply(page.content)[0] == 20208  # the server's cap cut it
    assert seen == res_keys


def test_maxrows_without_20208_when_the_client_limit_cuts(client: Client) -> None:
    page = parse(client.search(Limit="10").content)
    assert page.find("MAXROWS") is not None and page.find("RETS-STATUS") is None
    bigger = parse(client.search(Limit=str(CAP * 3)).content)
    assert len(bigger.findall("DATA")) == CAP and bigger.find("RETS-STATUS").get("ReplyCode") == "20208"


def test_key_index_download_is_not_capped(client: Client, res_keys: list[str]) -> None:
    page = client.search(Select="ListingKey,ModificationTimestamp", Limit="NONE")
    assert keys_of(page) == res_keys and parse(page.content).find("MAXROWS") is None


def test_standard_names(client: Client) -> None:
    rows = records(client.search("(StandardStatus=|A,S)", StandardNames="1", Class="ResidentialProperty",
                                 Select="ListingKey,StandardStatus", Limit="10").content)
    assert rows and {r["StandardStatus"] for r in rows} <= {"A", "S"}
    full = compact(client.search(StandardNames="1", Limit="1").content)[0]
    assert "StandardStatus" in full and "ListingStatus" not in full and "MapCoordinate" not in full


def test_queries_filter_with_dmql(sim: RunningSimulator, client: Client) -> None:
    rows = records(client.search("(ListingStatus=|S),(ListPrice=300000-)", Select="ListingKey,ListingStatus,ListPrice",
                                 Limit="NONE").content)
    expected = [k for k in sim.dataset.keys("RES")
                if sim.dataset.values(k)["ListingStatus"] == "S" and int(sim.dataset.values(k)["ListPrice"]) <= 300000]
    assert [r["ListingKey"] for r in rows] == expected[:CAP] and rows


def test_key_batches_return_exactly_their_live_listings(sim: RunningSimulator, client: Client) -> None:
    wanted = sim.dataset.keys("RES")[40:46]
    query = f"(ListingKey=|{','.join(wanted)},{sim.dataset.keys('LND')[0]},9999999999),(ListPrice=0+)"
    assert keys_of(client.search(query, Select="ListingKey")) == wanted


def test_key_batches_do_not_scan_every_listing() -> None:
    with simulated(listings=200_000, page_cap=2500) as sim:
        client = Client(sim)
        keys = sim.dataset.keys("RES")
        started = time.perf_counter()
        for first in range(0, 2000, 100):
            batch = keys[first:first + 100]
            assert keys_of(client.search(f"(ListingKey=|{','.join(batch)})", Select="ListingKey")) == batch
        assert time.perf_counter() - started < 10  # a scan of 170,000 listings per batch would take minutes


def test_restricted_fields_show_the_indicator(client: Client) -> None:
    select = {"Select": "ListingKey,ListOfficeMlsId,PrivateRemarks", "RestrictedIndicator": "****"}
    own = records(client.search(f"(ListOfficeMlsId={USER_OFFICE})", **select).content)
    others = records(client.search(f"~(ListOfficeMlsId={USER_OFFICE})", **select).content)
    assert own and others
    assert all(r["PrivateRemarks"] == "****" for r in others)
    assert all(r["PrivateRemarks"] not in ("", "****") for r in own)


@pytest.mark.parametrize(("arguments", "code"), [
    ({"Query": "(ListPrice=1+"}, 20206),
    ({"Query": "(NoSuchField=1)"}, 20200),
    ({"Select": "ListingKey,NoSuchField"}, 20202),
    ({"Class": "NOPE"}, 20203),
    ({"SearchType": "Agent"}, 20203),
    ({"Limit": "0"}, 20203),
    ({"Offset": "0"}, 20203),
    ({"Query": "(ListPrice=999999999+)"}, 20201),
    ({"Offset": "100000"}, 20201),
])
def test_search_errors(client: Client, arguments: dict[str, str], code: int) -> None:
    query = arguments.pop("Query", ALL)
    assert reply(client.search(query, **arguments).content)[0] == code


# ---------------------------------------------------------------------------------------------
# Quirks


def test_slow_responses() -> None:
    with simulated(Quirks(slow_ms=150)) as sim:
        client = Client(sim)
        started = time.perf_counter()
        client.search(Limit="1")
        assert time.perf_counter() - started >= 0.15


def test_5xx_every_nth_request() -> None:
    with simulated(Quirks(fail_5xx_every=3)) as sim:
        client = Client(sim)  # request 1
        statuses = [client.search(Limit="1").status_code for _ in range(5)]  # requests 2..6
        assert statuses == [200, 503, 200, 200, 503]


@pytest.mark.parametrize("quirk", [Quirks(drop_connection_every=2), Quirks(truncate_body_every=2)])
def test_broken_transfers_every_nth_request(quirk: Quirks) -> None:
    with simulated(quirk) as sim:
        client = Client(sim)
        with pytest.raises(requests.exceptions.RequestException):
            client.search(Limit="5", Format="COMPACT-DECODED")
        assert len(records(client.search(Limit="5").content)) == 5


def test_invalid_characters_in_remarks() -> None:
    with simulated(Quirks(invalid_chars=True), listings=200) as sim:
        client = Client(sim)
        body = client.search(Select="ListingKey,PublicRemarks", Limit="NONE").content
        corrupted = [k for k in sim.dataset.keys("RES") if remarks_corrupted(k)]
        assert corrupted
        line = next(line for line in body.split(b"\n") if corrupted[0].encode() in line)
        for raw in (b"\x0b", b"&#1;", b"&#xD83C;&#xDFE1;", b"seller\x92s"):
            assert raw in line
        clean = next(k for k in sim.dataset.keys("RES") if not remarks_corrupted(k))
        assert b"\x0b" not in next(line for line in body.split(b"\n") if clean.encode() in line)


def test_maxrows_on_an_exactly_full_last_page() -> None:
    with simulated(Quirks(maxrows_on_full_last_page=True), page_cap=1000) as sim:
        client = Client(sim)
        total = len(sim.dataset.keys("RES"))
        last = parse(client.search(Limit=str(total)).content)
        assert len(last.findall("DATA")) == total and last.find("MAXROWS") is not None
        assert reply(client.search(Offset=str(total + 1), Limit=str(total)).content)[0] == 20201
    with simulated(page_cap=1000) as sim:
        total = len(sim.dataset.keys("RES"))
        assert parse(Client(sim).search(Limit=str(total)).content).find("MAXROWS") is None


def test_count_off_by_one() -> None:
    with simulated(Quirks(count_off_by_one=True)) as sim:
        count = parse(Client(sim).search(Count="2").content).find("COUNT").get("Records")
        assert int(count) == len(sim.dataset.keys("RES")) + 1


def test_offset_ignored_and_refused() -> None:
    with simulated(Quirks(offset="ignored")) as sim:
        assert keys_of(Client(sim).search(Offset="11", Limit="3")) == sim.dataset.keys("RES")[:3]
    with simulated(Quirks(offset="refused")) as sim:
        client = Client(sim)
        assert reply(client.search(Offset="1", Limit="3").content) == (20203, "Offset not supported")
        assert len(keys_of(client.search(Limit="3"))) == 3


def test_rets_status_in_body() -> None:
    with simulated(Quirks(rets_status_in_body=True)) as sim:
        body = Client(sim).search("(ListPrice=999999999+)").content
        root = parse(body)
        assert root.get("ReplyCode") == "0" and root.find("RETS-STATUS").get("ReplyCode") == "20201"


def test_capability_urls_with_their_own_query_strings() -> None:
    with simulated(Quirks(capability_query_strings=True)) as sim:
        client = Client(sim)
        assert login_lines(client.login_response.content)["Search"] == "/rets/Search?vendor=sim"
        assert len(keys_of(client.search(Limit="2"))) == 2  # requests keeps ?vendor=sim and adds the rest
        bare = client.http.get(client.capabilities["Search"].split("?")[0],
                               params={"SearchType": "Property", "Class": "RES", "Query": ALL})
        assert bare.status_code == 404


def test_capability_urls_on_absolute_other_paths() -> None:
    with simulated(Quirks(capability_absolute_urls=True)) as sim:
        client = Client(sim)
        search = login_lines(client.login_response.content)["Search"]
        assert search == sim.login_url.replace("/rets/Login", "/other/Search")
        assert len(keys_of(client.search(Limit="2"))) == 2


# ---------------------------------------------------------------------------------------------
# GetObject


def _photo_keys(sim: RunningSimulator) -> tuple[str, str]:
    keys = sim.dataset.keys()
    with_photos = next(k for k in keys if sim.dataset.photo_count(k) >= 3)
    without = next(k for k in keys if sim.dataset.photo_count(k) == 0)
    return with_photos, without


def test_single_object_is_the_raw_image(sim: RunningSimulator, client: Client) -> None:
    key, _ = _photo_keys(sim)
    response = client.call("GetObject", Resource="Property", Type="Photo", ID=f"{key}:1", headers={"Accept": "image/jpeg"})
    assert response.headers["Content-Type"] == "image/jpeg" and response.headers["Object-ID"] == "1"
    assert response.headers["Content-ID"] == key and response.headers["Preferred"] == "1"
    assert response.content == sim.dataset.photo_bytes(key, "Photo", 1)
    assert response.content[:2] == b"\xff\xd8" and response.content[-2:] == b"\xff\xd9"


def _parts(response: requests.Response) -> list[tuple[dict[str, str], bytes]]:
    boundary = re.search(r'boundary="([^"]+)"', response.headers["Content-Type"])[1]  # type: ignore[index]
    parts = []
    for chunk in response.content.split(f"--{boundary}".encode())[1:-1]:
        head, _, body = chunk.strip(b"\r\n").partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n"))
        parts.append((headers, body))
    return parts


def test_multipart_objects_with_missing_ones(sim: RunningSimulator, client: Client) -> None:
    key, bare = _photo_keys(sim)
    response = client.call("GetObject", Resource="Property", Type="Photo", ID=f"{key}:*,{bare}:*",
                           headers={"Accept": "*/*"})
    assert response.headers["Content-Type"].startswith("multipart/parallel")
    parts = _parts(response)
    photos = [p for p in parts if p[0]["Content-ID"] == key]
    assert [h["Object-ID"] for h, _ in photos] == [str(n) for n in range(1, sim.dataset.photo_count(key) + 1)]
    assert [h.get("Preferred") for h, _ in photos[:2]] == ["1", None]
    missing = [p for p in parts if p[0]["Content-ID"] == bare]
    assert len(missing) == 1 and missing[0][0]["Object-ID"] == "*" and reply(missing[0][1])[0] == 20403


def test_location_urls_serve_the_photos(sim: RunningSimulator, client: Client) -> None:
    key, _ = _photo_keys(sim)
    response = client.call("GetObject", Resource="Property", Type="Photo", ID=f"{key}:1:2:999", Location="1")
    parts = _parts(response)
    assert [h["Object-ID"] for h, _ in parts] == ["1", "2", "999"]
    assert parts[0][1] == b"" and reply(parts[2][1])[0] == 20403
    assert requests.get(parts[1][0]["Location"]).content == sim.dataset.photo_bytes(key, "Photo", 2)


def test_object_errors(sim: RunningSimulator, client: Client) -> None:
    key, bare = _photo_keys(sim)
    assert reply(client.call("GetObject", Resource="Property", Type="Photo", ID=f"{bare}:1").content)[0] == 20403
    assert reply(client.call("GetObject", Resource="Property", Type="Video", ID=key).content)[0] == 20401
    assert reply(client.call("GetObject", Resource="Agent", Type="Photo", ID=key).content)[0] == 20400
    refused = client.call("GetObject", Resource="Property", Type="Photo", ID=key, headers={"Accept": "text/html"})
    assert refused.status_code == 406 and reply(refused.content)[0] == 20406


# ---------------------------------------------------------------------------------------------
# Running, touching, replaying


def test_touch_and_delete_through_the_running_server(client: Client, sim: RunningSimulator) -> None:
    key = sim.dataset.keys("RES")[5]
    stamp = sim.touch(key)
    newest = records(client.search(f"(ModificationTimestamp={stamp})", Select="ListingKey").content)
    assert [r["ListingKey"] for r in newest] == [key]
    sim.delete(key)
    assert key not in keys_of(client.search(Select="ListingKey", Limit="NONE"))


def _har_entry(method: str, url: str, status: int, body: str, *, query: dict[str, str] | None = None,
               headers: list[tuple[str, str]] | None = None) -> dict[str, object]:
    return {
        "request": {"method": method, "url": url, "headers": [],
                    "queryString": [{"name": k, "value": v} for k, v in (query or {}).items()]},
        "response": {"status": status, "statusText": "", "headers": [{"name": k, "value": v} for k, v in headers or []],
                     "content": {"size": len(body), "mimeType": "text/xml", "text": body}},
    }


def test_replay_serves_a_capture_in_order(tmp_path: Path) -> None:
    recorded = "http://10.9.8.7:6103"
    login = ('<RETS ReplyCode="0" ReplyText="OK"><RETS-RESPONSE>\nSearch=http://10.9.8.7:6103/rets/Search\n'
             "Logout=/rets/Logout\nX-Site=http://example.com/help\n</RETS-RESPONSE></RETS>")
    search = {"SearchType": "Property", "Query": "(A=1)", "password": "********"}
    entries = [
        _har_entry("GET", f"{recorded}/rets/Login", 401, "", headers=[("WWW-Authenticate", 'Basic realm="x"')]),
        _har_entry("GET", f"{recorded}/rets/Login", 200, login, headers=[("Set-Cookie", "********")]),
        _har_entry("GET", f"{recorded}/rets/Search?SearchType=Property", 200, "<RETS ReplyCode=\"0\" ReplyText=\"first\"/>",
                   query=search),
        _har_entry("GET", f"{recorded}/rets/Search?SearchType=Property", 200, "<RETS ReplyCode=\"0\" ReplyText=\"second\"/>",
                   query=search),
    ]
    har = tmp_path / "capture.har"
    har.write_text(json.dumps({"log": {"version": "1.2", "entries": entries}}))
    with replay_server(har) as replay:
        assert replay.login_url.endswith("/rets/Login") and replay.login_url.startswith("http://127.0.0.1:")
        first = requests.get(replay.login_url)
        assert first.status_code == 401 and first.headers["WWW-Authenticate"] == 'Basic realm="x"'
        logged = requests.get(replay.login_url)
        here = replay.login_url.removesuffix("/rets/Login")
        assert f"Search={here}/rets/Search" in logged.text and "X-Site=http://example.com/help" in logged.text
        assert "Set-Cookie" not in logged.headers
        url = f"{here}/rets/Search"
        live = {"SearchType": "Property", "Query": "(A=1)", "password": "whatever-it-was"}
        assert reply(requests.get(url, params=live).content)[1] == "first"
        assert reply(requests.get(url, params=live).content)[1] == "second"
        assert requests.get(url, params=live).status_code == 404  # nothing left to answer with
        assert requests.get(url, params={**live, "Query": "(B=2)"}).status_code == 404


def test_serve_forever_announces_and_stops_on_sigterm() -> None:
    code = ("import sys; from retsctl.simulator import serve_forever, SimulatorConfig; "
            "serve_forever(SimulatorConfig(listings=20), '127.0.0.1', 0, sys.stdout, sys.argv[1] == 'json')")
    for mode in ("text", "json"):
        proc = subprocess.Popen([sys.executable, "-c", code, mode], stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        if mode == "json":
            details = json.loads(proc.stdout.readline())
        else:
            details = dict(proc.stdout.readline().rstrip("\n").split(": ", 1) for _ in range(3))
        assert set(details) == {"login_url", "username", "password"}
        login = requests.get(details["login_url"], headers=HEADERS,
                             auth=HTTPDigestAuth(details["username"], details["password"]))
        assert login.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.read() == ""


def test_stop_closes_the_port() -> None:
    with simulated() as sim:
        url = sim.login_url
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, headers=HEADERS, timeout=2)


def test_password_is_not_in_reprs() -> None:
    config = SimulatorConfig(password="s3cret-pw", ua_password="ua-s3cret")
    assert "s3cret" not in repr(config)
    with start_simulator(SimulatorConfig(listings=5, password="s3cret-pw")) as sim:
        assert "s3cret" not in repr(sim)


def test_server_speaks_datetimes_the_query_engine_reads(client: Client) -> None:
    rows = records(client.search("(ModificationTimestamp=2024-01-01T00:00:00Z+)",
                                 Select="ListingKey,ModificationTimestamp", Limit="NONE").content)
    assert rows and all(datetime.fromisoformat(r["ModificationTimestamp"]) >= datetime.fromisoformat(
        "2024-01-01T00:00:00+00:00") for r in rows)
