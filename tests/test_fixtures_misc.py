"""Logout, error replies, Action, GetPayloadList, ServerInformation, Update, the generic reply, the
Digest auth trace, and the fixture loader itself."""

from __future__ import annotations

import pytest
from fixture_files import all_fixtures, load_cassette, load_fixture
from lxml import etree
from requests.utils import parse_dict_header

from retsctl.rets.login import parse_logout_response
from retsctl.rets.metadata import parse_metadata
from retsctl.rets.objects import read_objects
from retsctl.rets.replies import RetsProtocolError, RetsReplyError, find_reply, raise_for_reply

LIBRETS = "NationalAssociationOfRealtors-libRETS"

LOGOUTS = [
    ("troydavisson-PHRETS/get/retsgw.flexmls.com/rets2_1_Logout/18f6b7bfb97630b9cdbfd8af1b817310.txt",
     "Logout Successful", {"SignOffMessage": "Good Bye"}),
    (f"{LIBRETS}/test/logout-cris.xml", "", {}),
    (f"{LIBRETS}/test/logout-tarasoft.xml", "Operation Success.", {}),
    (f"{LIBRETS}/test/logout-valid15.xml", "Operation Successful",
     {"ConnectTime": "51", "Billing": "0.36", "SignOffMessage": "Goodbye"}),
    (f"{LIBRETS}/test-network/logout", "Operation Successful",
     {"ConnectTime": "1", "Billing": "0.01", "SignOffMessage": "Goodbye"}),
]  # fmt: skip


@pytest.mark.parametrize(("relpath", "reply_text", "expected"), LOGOUTS)
def test_logout_fixture(relpath: str, reply_text: str, expected: dict[str, str]) -> None:
    body = load_fixture(relpath).body
    reply = find_reply(body)
    assert reply is not None and (reply.code, reply.text) == (0, reply_text)
    assert parse_logout_response(body) == expected


def test_logout_answered_with_html() -> None:
    with pytest.raises(RetsProtocolError) as raised:
        parse_logout_response(load_fixture("refindlyllc-rets/Logout.html").body)
    assert raised.value.transaction == "Logout"


def test_logout_not_logged_in() -> None:
    with pytest.raises(RetsReplyError) as raised:
        parse_logout_response(b'<RETS ReplyCode="20701" ReplyText="Not logged in"/>')
    assert raised.value.reply_code == 20701


@pytest.mark.parametrize(
    ("relpath", "code", "text"),
    [
        ("refindlyllc-rets/Errors/20514.xml", 20514,
         "Unknown DTD version Reference ID: b99e35e9-0dec-4136-be66-86224e9aa560"),
        ("refindlyllc-rets/Errors/Error_InvalidFormat.xml", 20513, "Invalid Format"),
    ],
)  # fmt: skip
def test_error_reply_fixture(relpath: str, code: int, text: str) -> None:
    body = load_fixture(relpath).body
    with pytest.raises(RetsReplyError) as raised:
        parse_metadata(body)
    assert (raised.value.reply_code, raised.value.text) == (code, text)
    assert raised.value.transaction == "GetMetadata"
    assert raised.value.hint  # the table's advice for metadata errors


def test_action_fixture() -> None:
    fixture = load_fixture(
        "troydavisson-PHRETS/get/retsgw.flexmls.com/action_rets2_1_Action/d5d441322368e5c2ad059621979b0d88.txt"
    )
    assert fixture.status == 200
    assert fixture.content_type == "text/plain"
    assert fixture.body == b"You have found an Action!\r\n"
    assert fixture.headers["etag"] == '"35ffb8-1a-502867c124a80"'


def compact_rows(element: etree._Element) -> list[dict[str, str]]:
    columns = element.findtext("COLUMNS").strip("\t").split("\t")
    return [dict(zip(columns, data.text.strip("\t").split("\t"), strict=True)) for data in element.iter("DATA")]


def test_payload_list_fixture() -> None:
    body = load_fixture(f"{LIBRETS}/test/payloadlist-response.xml").body
    reply = find_reply(body)
    assert reply is not None and reply.text.endswith("Reference ID: 8d5d8dd9-a3e1-47b1-81e5-736a2a8a9ce3")
    payloads = etree.fromstring(body).find("RETSPayloadList")
    assert (payloads.get("Resource"), payloads.get("Class"), payloads.get("Version")) == ("bar", "foo", "01.02.33333")
    rows = compact_rows(payloads)
    assert len(rows) == 4
    assert rows[1]["PayloadName"] == "DATADICTIONARY:1.1"
    assert rows[3]["MetadataEntryID"] == "Datadictionary11_Property_12"


def test_server_information_fixture() -> None:
    body = load_fixture(f"{LIBRETS}/test/server-response-property.xml").body
    parameters = etree.fromstring(body).findall("ServerInformation/Parameter")
    assert [(p.get("name"), p.text.strip()) for p in parameters] == [
        ("MinimumLimit", "NONE"),
        ("KeyLimit", "1234"),
        ("ReplicationSupport", "N"),
    ]
    assert {p.get("class") for p in parameters} == {"ResidentialProperty"}


def test_update_response_with_error_and_warning_blocks() -> None:
    root = etree.fromstring(load_fixture(f"{LIBRETS}/test/update-response-both.xml").body)
    assert compact_rows(root) == [
        {"ListingID": "LN000005", "ListPrice": "250000", "City": "Chicago", "ListDate": "2004-07-04"}
    ]
    errors = [e.text.strip("\t").split("\t") for e in root.iter("ERRORDATA")]
    warnings = [w.text.strip("\t").split("\t") for w in root.iter("WARNINGDATA")]
    assert errors == [["ListPrice", "10101", "0", "Are you kidding me?"], ["City", "10102", "1", "Well, maybe."]]
    assert warnings[1] == ["ListDate", "405060", "6", "Change date.", "0"]


def test_update_capture_with_transaction_id() -> None:
    fixture = load_fixture(f"{LIBRETS}/test-network/update.1")
    assert (fixture.status, fixture.headers["RETS-Server"]) == (200, "Variman/3.0.0b4")
    root = etree.fromstring(fixture.body)
    assert root.find("TRANSACTIONID").get("value") == "1234567890abcdef"
    row = compact_rows(root)[0]
    assert len(row) == 26
    assert (row["ListingID"], row["ListingStatus"], row["CloseDate"]) == ("LN000005", "Closed", "2004-09-01")
    assert root.findtext("ERRORBLOCK/ERRORDATA").strip("\t").split("\t")[:2] == ["CloseDate", "12345"]


def test_generic_short_success_reply() -> None:
    body = load_fixture(f"{LIBRETS}/test/short-success-response.xml").body
    reply = find_reply(body)
    assert reply is not None and (reply.code, reply.text, reply.ok) == (0, "SUCCESS", True)
    raise_for_reply(reply, transaction="Logout")
    assert parse_logout_response(body) == {}


def digest_challenge(header: str) -> dict[str, str]:
    scheme, _, params = header.partition(" ")
    assert scheme == "Digest"
    return parse_dict_header(params)


def test_auth_trace_cassette() -> None:
    interactions = load_cassette()
    assert [(i.method, i.uri.rsplit("/", 1)[-1], i.response.status) for i in interactions] == [
        ("POST", "GetObject", 401),
        ("POST", "Login", 401),
        ("POST", "Login", 200),
        ("POST", "Login", 200),
        ("POST", "GetObject", 200),
    ]
    challenges = [digest_challenge(i.response.headers["WWW-Authenticate"]) for i in interactions[:2]]
    assert [(c["realm"], c["qop"]) for c in challenges] == [("fake_realm", "auth")] * 2
    assert challenges[0]["nonce"] == "dfd74deac03147e1a4fff598679f1a80"
    assert challenges[1]["nonce"] == "17fdfe2c6125296bd93bb81bd88dc4be"
    assert challenges[1]["opaque"] == "aee1e7da-60eb-41b3-b704-8eb3969645fd"
    assert interactions[0].response.body.startswith(b"Unauthorized Request. Digest Session Invalid Reauthenticate\r\n")
    answer = digest_challenge(interactions[2].request_headers["Authorization"][0])
    assert (answer["nonce"], answer["nc"], answer["response"]) == (
        challenges[1]["nonce"],
        "00000001",
        "7402076f53663602f052e1aa343d3dab",
    )
    assert interactions[0].request_body == "Resource=Property&Type=Photo&ID=2661580%3A1&Location=0"
    assert interactions[3].response_header_lists["Set-Cookie"] == ["RETS-Session-ID=vuesmq55l0cpjy45zyn0e555; path=/"]


def test_auth_trace_photo_is_binary() -> None:
    photo = load_cassette()[4].response
    [found] = read_objects(photo.content_type, photo.headers, [photo.body])
    assert (found.content_id, found.object_id, found.content_type) == ("2661580", "1", "image/jpeg")
    assert found.data.startswith(b"\xff\xd8\xff\xe0") and len(found.data) == 24


def test_all_fixtures_listed() -> None:
    fixtures = all_fixtures()
    assert len(fixtures) == 146
    assert "MANIFEST.md" not in fixtures
    assert fixtures == sorted(fixtures)


def test_loader_unwraps_storage_forms() -> None:
    chunked = load_fixture(f"{LIBRETS}/test-network/search.3")
    assert chunked.headers["transfer-encoding"] == "chunked"  # headers stay as captured
    assert chunked.body.startswith(b'<RETS ReplyCode="0"') and b"\r\n0\r\n" not in chunked.body
    full = load_fixture(f"{LIBRETS}/test-network/full-metadata").body
    assert b"\r\n2000\r\n" not in full and full.count(b"<DATA>") == 418
    photo = load_fixture(f"{LIBRETS}/test-network/photo.1")
    assert photo.body.endswith(b"--simple boundary--")  # curl's log lines after the last chunk dropped
    bare_status = load_fixture(f"{LIBRETS}/test/get-object-response-single.txt")
    assert (bare_status.status, bare_status.body[:6]) == (200, b"GIF89a")
    escaped = load_fixture("5150brien-retsdk/metadata_resource_response.xml").body
    assert b"\\t" not in escaped and b"\t" in escaped
    json_string = load_fixture("troydavisson-PHRETS/GetObject/Multiple1.txt")
    assert json_string.body.startswith(b"\r\n--FLEXeTNY6TFTGAwV1agjJsFyFogbnfoS1dm6y489g08F2TjwZWzQEW\r\n")
    assert (
        json_string.content_type
        == 'multipart/parallel; boundary="FLEXeTNY6TFTGAwV1agjJsFyFogbnfoS1dm6y489g08F2TjwZWzQEW"'
    )
    raw = load_fixture("refindlyllc-rets/GetObject_multipart_Location1.byte")
    assert (raw.status, raw.content_type) == (
        None,
        'multipart/parallel; boundary="FLEXLIAsmcpmiKpZ3uhewHnpQUlQNYzuNzPeUi0PIqCAxzgSRkpypX"',
    )
    body_only = load_fixture("refindlyllc-rets/Login.xml")
    assert (body_only.status, dict(body_only.headers)) == (None, {})
