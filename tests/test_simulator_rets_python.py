"""A third-party client, rets-python (opendoor-labs, module ``rets``), against the simulator.

If an independent implementation can log in, read metadata, search, page and fetch photos, the
simulator speaks RETS as others understand it, not only as retsctl does.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

import pytest
from rets import RetsClient, RetsHttpClient
from rets.errors import RetsApiError

from retsctl.simulator import Quirks, RunningSimulator, SimulatorConfig, start_simulator

CAP = 40
AGENT = "rets-python-test/1.0"


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_simulator(SimulatorConfig(listings=200, page_cap=CAP)) as running:
        yield running


def connect(sim: RunningSimulator, **options: object) -> RetsHttpClient:
    client = RetsHttpClient(sim.login_url, sim.username, sim.password, user_agent=AGENT, **options)  # type: ignore[arg-type]
    client.login()
    return client


def test_login_and_metadata(sim: RunningSimulator) -> None:
    client = RetsHttpClient(sim.login_url, sim.username, sim.password, user_agent=AGENT)
    capabilities = client.login()
    assert capabilities["Search"] == "/rets/Search" and capabilities["GetMetadata"] == "/rets/GetMetadata"
    assert capabilities["MetadataVersion"] == "1.00.00042"

    system = client.get_system_metadata()
    assert (system.system_id, system.system_version, system.time_zone_offset) == ("SIMMLS", "1.00.00042", "+00:00")
    resource = client.get_metadata("resource")[0].data[0]
    assert (resource["ResourceID"], resource["KeyField"]) == ("Property", "ListingKey")
    classes = client.get_metadata("class", resource="Property")[0].data
    assert [c["ClassName"] for c in classes] == ["RES", "LND"]
    table = {f["SystemName"]: f for f in client.get_metadata("table", resource="Property", class_="RES")[0].data}
    assert len(table) >= 140
    assert (table["ListPrice"]["DataType"], table["ListPrice"]["Interpretation"]) == ("Int", "Currency")
    assert table["ListingStatus"]["StandardName"] == "StandardStatus"
    status = client.get_metadata("lookup_type", resource="Property", class_="ListingStatus")[0].data
    assert {"Value": "A", "LongValue": "Active"}.items() <= next(v for v in status if v["Value"] == "A").items()
    objects = client.get_metadata("object", resource="Property")[0].data
    assert [o["ObjectType"] for o in objects] == ["Photo", "Thumbnail"]
    client.logout()


@pytest.mark.parametrize("use_get_method", [False, True])
def test_search_pages_through_every_listing(sim: RunningSimulator, use_get_method: bool) -> None:
    client = connect(sim, use_get_method=use_get_method)
    expected = sim.dataset.keys("RES")
    keys: list[str] = []
    offset = 1
    while True:
        page = client.search("Property", "RES", "(ListPrice=0+)", select="ListingKey,ListPrice", limit=CAP,
                             offset=offset, format_="COMPACT")
        assert page.count == len(expected)
        keys += [row["ListingKey"] for row in page.data]
        offset += len(page.data)
        if not page.max_rows:
            break
    assert keys == expected
    empty = client.search("Property", "RES", "(ListPrice=999999999+)", limit=CAP)
    assert (empty.count, empty.data) == (0, ())


def test_compact_decoded_long_values(sim: RunningSimulator) -> None:
    client = connect(sim)
    coded = client.search("Property", "RES", "(ListingStatus=|A,S)", select="ListingKey,ListingStatus", limit=10,
                          format_="COMPACT")
    decoded = client.search("Property", "RES", "(ListingStatus=|A,S)", select="ListingKey,ListingStatus", limit=10)
    assert {row["ListingStatus"] for row in coded.data} <= {"A", "S"}
    assert [row["ListingStatus"] for row in decoded.data] == [
        {"A": "Active", "S": "Closed"}[row["ListingStatus"]] for row in coded.data]


def test_high_level_client_decodes_every_type(sim: RunningSimulator) -> None:
    client = RetsClient(sim.login_url, sim.username, sim.password, user_agent=AGENT)
    resource = client.get_resource("Property")
    assert resource.key_field == "ListingKey"
    result = resource.get_class("RES").search("(ListingStatus=|A)", limit=10, offset=1)
    assert result.count and len(result.data) == min(10, result.count)
    for record in result.data:
        data = record.data
        assert data["ListingStatus"] == "Active"
        assert isinstance(data["ListPrice"], int) and isinstance(data["LotSizeAcres"], Decimal)
        assert isinstance(data["ModificationTimestamp"], datetime)
        assert data["Appliances"] is None or isinstance(data["Appliances"], list)
        assert data["ListingKey"] in sim.dataset.keys("RES")


def test_get_object(sim: RunningSimulator) -> None:
    client = connect(sim)
    key = next(k for k in sim.dataset.keys("RES") if sim.dataset.photo_count(k) >= 2)
    bare = next(k for k in sim.dataset.keys("RES") if sim.dataset.photo_count(k) == 0)
    photos = client.get_object("Property", "Photo", key)
    assert [p.object_id for p in photos] == [str(n) for n in range(1, sim.dataset.photo_count(key) + 1)]
    assert photos[0].preferred and not photos[1].preferred
    assert photos[0].data == sim.dataset.photo_bytes(key, "Photo", 1)
    located = client.get_object("Property", "Photo", {key: [1]}, location=True)
    assert located[0].url.endswith(f"/media/Property/Photo/{key}/1.jpg") and located[0].data is None
    assert client.get_object("Property", "Photo", {bare: "*", key: [2]})[0].object_id == "2"


def test_ua_auth_with_rets_python() -> None:
    config = SimulatorConfig(listings=30, user_agent="rets-python-test", ua_password="ua-pw",
                             quirks=Quirks(ua_auth="standard"))
    with start_simulator(config) as sim:
        client = connect(sim, user_agent_password="ua-pw")
        assert len(client.search("Property", "RES", "(ListPrice=0+)", limit=5).data) == 5
        with pytest.raises(RetsApiError) as raised:
            connect(sim, user_agent_password="wrong")
        assert raised.value.reply_code == 20037
