"""Every captured Login reply parses to the capabilities and facts it holds."""

from __future__ import annotations

import pytest
from fixture_files import load_fixture

from retsctl.rets.login import parse_login_response
from retsctl.rets.replies import RetsProtocolError, RetsReplyAuthError

FLEX = "troydavisson-PHRETS/get/retsgw.flexmls.com"
FLEX_POST = "troydavisson-PHRETS/post/retsgw.flexmls.com"
LIBRETS = "NationalAssociationOfRealtors-libRETS"
FLEX_LOGIN = "http://retsgw.flexmls.com/rets2_1/Login"
EXAMPLE_LOGIN = "http://example.com:6103/rets/login"
MATRIX_LOGIN = "https://rets.example.org/rets/Login.ashx?profile=a"

# (fixture, login URL used, capability count, capability name, its absolute URL, member name)
LOGINS = [
    (f"{FLEX}/action_rets2_1_Login/03cd0f6cb206f18aed8f4979939a9482.txt", "http://retsgw.flexmls.com/action/rets2_1/Login", 9,
     "Action", "http://retsgw.flexmls.com/action/rets2_1/Action", "UNKNOWN"),
    (f"{FLEX}/limited_rets2_1_Login/d848b86daf1f828cdf637404afc72626.txt", "http://retsgw.flexmls.com/limited/rets2_1/Login", 3,
     "Logout", "http://retsgw.flexmls.com/limited/rets2_1/Logout", "UNKNOWN"),
    (f"{FLEX}/lookup_rets2_1_Login/e057db12dc3a7f37caa2203ecc2fe13e.txt", "http://retsgw.flexmls.com/lookup/rets2_1/Login", 8,
     "GetMetadata", "http://retsgw.flexmls.com/lookup/rets2_1/GetMetadata", "UNKNOWN"),
    (f"{FLEX}/rets2_1_Login/aaae3d614d1660701f3d7508efb11004.txt", FLEX_LOGIN, 8,
     "X-NotificationFeed", "http://retsgw.flexmls.com/atom/feed/private/atom.xml", "UNKNOWN"),
    (f"{FLEX}/rets2_1_Login/ac1f434b220d1920fa87a27d582bc877.txt", FLEX_LOGIN, 8,
     "X-SampleLinks", "http://retsgw.flexmls.com/rets2_1/Links", "UNKNOWN"),
    (f"{FLEX}/rets2_1_Login/e053c8fc90ca621443437db0a2f963d1.txt", FLEX_LOGIN, 9,
     "Search", "http://retsgw.flexmls.com/rets2_1/Search", "demomls.rets.phrets"),
    (f"{FLEX}/rets2_1_Login/e5df43b61e717bc8e3d4759aad894e2f.txt", FLEX_LOGIN, 8,
     "X-SupportSite", "http://flexmls.com/rets/", "UNKNOWN"),
    (f"{FLEX_POST}/rets2_1_Login/57b9c3a515cb43d1141653c3f1395981.txt", FLEX_LOGIN, 9,
     "GetObject", "http://retsgw.flexmls.com/rets2_1/GetObject", "UNKNOWN"),
    (f"{FLEX_POST}/rets2_1_Login/792a904f04a03923cc0a54d8c0cd232c.txt", FLEX_LOGIN, 8,
     "Login", "http://retsgw.flexmls.com/rets2_1/Login", "UNKNOWN"),
    (f"{LIBRETS}/test/login-cris.xml", EXAMPLE_LOGIN, 5,
     "GetObject", "http://rets.crisnetmls.com:6103/cgi-bin/WebObjects/RETS.woa/12/wa/RETSTransactionHandler/getObject", "WATCH1 MLS"),
    (f"{LIBRETS}/test/login-valid10.xml", EXAMPLE_LOGIN, 6,
     "ChangePassword", "http://cornerstone.mris.com:6103/platinum/changepassword", "Elizabeth A Davis"),
    (f"{LIBRETS}/test/login-valid15.xml", EXAMPLE_LOGIN, 10,
     "Search", "http://example.com:6103/rets/search", "Joe Schmoe"),
    (f"{LIBRETS}/test/login-valid18.xml", EXAMPLE_LOGIN, 11,
     "GetPayloadList", "http://example.com:6103/rets/getPayloadList", "Joe Schmoe"),
    (f"{LIBRETS}/test-network/login", "http://localhost:6103/rets/login", 7,
     "Update", "http://localhost:6103/rets/Update", "Joe Schmoe"),
    ("5150brien-retsdk/login_response.xml", MATRIX_LOGIN, 7,
     "PostObject", "https://rets.somemls.com/rets/PostObject.ashx", ""),
    ("refindlyllc-rets/Login.xml", MATRIX_LOGIN, 7,
     "Update", "http://server.rets.com/rets/Update.ashx", ""),
    ("refindlyllc-rets/Login_relative_url.xml", MATRIX_LOGIN, 7,
     "GetObject", "https://rets.example.org/rets/GetObject.ashx", ""),
    ("refindlyllc-rets/Login_with_Action.xml", MATRIX_LOGIN, 8,
     "Action", "http://server.rets.com/rets/Action.ashx", ""),
    ("refindlyllc-rets/Errors/Login_no_host.xml", MATRIX_LOGIN, 6,
     "X-Selector", "https://rets.example.org/rets/selector", ""),
    ("josephholsten-rets4r/login.xml", "http://rets4r.example:8080/rets/Login", 6,
     "Action", "http://rets4r.example:8080/rets/ActionURL", "Spiffy Realtor"),
    ("terradatum-rets-client/login_valid17_18.xml", "http://rets.test:6103/login", 7,
     "GetObject", "http://rets.test:6103/getObjectEx", "Jane W. Schmoe"),
    ("terradatum-rets-client/login_valid18.xml", "http://rets.test:6103/login", 7,
     "Action", "http://rets.test:6103/get", "Joe T. Schmoe"),
]  # fmt: skip


@pytest.mark.parametrize(("relpath", "login_url", "count", "name", "url", "member"), LOGINS)
def test_login_fixture(relpath: str, login_url: str, count: int, name: str, url: str, member: str) -> None:
    login = parse_login_response(load_fixture(relpath).body, login_url)
    assert login.reply.code == 0
    assert len(login.capabilities) == count
    assert login.capabilities[name] == url
    assert login.member == member
    assert all(value.startswith(("http://", "https://")) for value in login.capabilities.values())


def test_login_invalid_raises_20036() -> None:
    with pytest.raises(RetsReplyAuthError) as raised:
        parse_login_response(load_fixture(f"{LIBRETS}/test/login-invalid.xml").body, EXAMPLE_LOGIN)
    assert raised.value.reply_code == 20036
    assert raised.value.kind == "auth"
    assert "Miscellaneous Server Error" in str(raised.value)
    assert "RETS-Version" in raised.value.hint


def test_flexmls_facts() -> None:
    body = load_fixture(f"{FLEX}/rets2_1_Login/aaae3d614d1660701f3d7508efb11004.txt").body
    login = parse_login_response(body, FLEX_LOGIN)
    assert login.user == "demomls,MASTER,4,20000426143505724628000000"
    assert login.broker == "UNKNOWN"
    assert login.metadata_version == "01.03.32190"
    assert login.metadata_timestamp == "2014-09-09T02:44:18Z"
    assert login.min_metadata_timestamp == "2014-09-09T02:44:18Z"
    assert login.timeout_seconds is None
    assert login.action_url is None
    assert list(login.capabilities)[:3] == ["Login", "Search", "GetMetadata"]


def test_rets_1_0_body_without_wrapper() -> None:
    login = parse_login_response(load_fixture(f"{LIBRETS}/test/login-valid10.xml").body, EXAMPLE_LOGIN)
    assert login.user == "272, AGENT:BROKER OFFICE:OFFICE, 50, 272"
    assert login.broker == "MRIS,1"
    assert login.min_metadata_version == "1.1.1"
    assert login.timeout_seconds == 1800
    assert login.get("OfficeList") == "MRIS;1"
    assert login.reply.text == "V2.0.4 : Success"


def test_spaces_around_equals_and_extension_keys() -> None:
    login = parse_login_response(load_fixture(f"{LIBRETS}/test/login-valid15.xml").body, EXAMPLE_LOGIN)
    assert login.broker == ""
    assert login.get("Expr") == "01 Jan 2000 01:03:00 GMT, 5"
    assert login.get("balance") == "3,197.35"
    assert login.info["X-Field"] == "Value"
    assert "X-Field" not in login.capabilities  # a vendor key that holds no URL
    assert login.action_url == "http://example.com:6103/rets/action"
    assert login.capability("loginComplete") == "http://example.com:6103/rets/loginComplete"


def test_rets_1_8_info_tokens() -> None:
    login = parse_login_response(load_fixture(f"{LIBRETS}/test/login-valid18.xml").body, EXAMPLE_LOGIN)
    assert login.metadata_version == "1.0.000"
    assert login.metadata_timestamp == "Sat, 01 Jan 2000 01:02:00 GMT"
    assert login.timeout_seconds == 123
    assert login.broker == "Test,Test01"
    assert login.user == "RESOWG"
    assert login.info["METADATAID"] == "76_31_31_26_TTFF_DMO"
    assert login.info_types["USERLEVEL"] == "Int"
    assert login.get("vendorname") == "Some Vendor"
    assert "Info" not in login.info


def test_mixed_1_7_and_1_8_later_line_wins() -> None:
    login = parse_login_response(load_fixture("terradatum-rets-client/login_valid17_18.xml").body, "http://rets.test/")
    assert login.broker == "B123, BO987"
    assert login.timeout_seconds == 70
    assert login.info_types["Balance"] == ""
    assert login.get("UnknownIdentifier") == "Monkeys"


def test_literal_escape_capture_and_empty_values() -> None:
    login = parse_login_response(load_fixture("5150brien-retsdk/login_response.xml").body, MATRIX_LOGIN)
    assert login.member == ""
    assert login.broker == ""
    assert login.user == "LasloPanaflex,NULL,NULL,TestPassword"
    assert login.metadata_timestamp == "2013-03-27T14:31:31Z"


def test_cassette_login_reply() -> None:
    from fixture_files import load_cassette

    interaction = load_cassette()[2]
    login = parse_login_response(interaction.response.body, interaction.uri)
    assert login.capabilities["GetObject"] == "http://rets.example.com/GetObject.asmx/GetObject"
    assert login.metadata_timestamp == "2012-07-24T17:33:07Z"  # sent as MetadataTimeStamp
    assert login.timeout_seconds == 7200
    assert login.member == "John Wolff"


def test_line_breaks_values_with_equals_and_query_strings() -> None:
    body = (
        b'<RETS ReplyCode="0" ReplyText="ok">\r<RETS-RESPONSE>\n  MemberName = A=B\r\n'
        b"search=/rets/search?x=1&amp;y=2\rGetMetadata= https://meta.example.net/m?fmt=c \n"
        b"Login=login\n</RETS-RESPONSE></RETS>"
    )
    login = parse_login_response(body, "https://rets.example.com/base/login?session=9")
    assert login.member == "A=B"
    assert login.capabilities == {
        "search": "https://rets.example.com/rets/search?x=1&y=2",
        "GetMetadata": "https://meta.example.net/m?fmt=c",
        "Login": "https://rets.example.com/base/login",
    }
    assert login.capability("SEARCH") == "https://rets.example.com/rets/search?x=1&y=2"


def test_html_page_is_not_a_login_url() -> None:
    with pytest.raises(RetsProtocolError) as raised:
        parse_login_response(load_fixture("refindlyllc-rets/Logout.html").body, EXAMPLE_LOGIN)
    assert "not a RETS login URL" in raised.value.hint


def test_body_without_rets_reply() -> None:
    with pytest.raises(RetsProtocolError):
        parse_login_response(b"Service Unavailable", EXAMPLE_LOGIN)


def test_broker_code_required_lists_brokers() -> None:
    body = b'<RETS ReplyCode="20012" ReplyText="Broker Code Required">\n<RETS-RESPONSE>\nBroker=B1,01\nBroker=B2\n</RETS-RESPONSE></RETS>'
    with pytest.raises(RetsReplyAuthError) as raised:
        parse_login_response(body, EXAMPLE_LOGIN)
    assert raised.value.reply_code == 20012
    assert "B1,01; B2" in str(raised.value)
