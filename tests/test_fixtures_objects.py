"""Every captured GetObject reply yields the objects (and per-object errors) it holds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fixture_files import FixtureResponse, load_fixture

from retsctl.rets.objects import RetsObject, read_objects

FLEX = "troydavisson-PHRETS/get/retsgw.flexmls.com/rets2_1_GetObject"
LIBRETS = "NationalAssociationOfRealtors-libRETS"
GIF_BYTES = 94


def read(fixture: FixtureResponse, chunk_size: int = 65536, content_type: str | None = None) -> list[RetsObject]:
    body = fixture.body
    chunks = (body[start : start + chunk_size] for start in range(0, len(body), chunk_size))
    return list(read_objects(content_type or fixture.content_type, fixture.headers, chunks))


def summary(found: RetsObject) -> tuple[object, ...]:
    code = found.error.reply_code if found.error is not None else None
    return (found.content_id, found.object_id, found.headers, found.data, code, found.truncated)


# (fixture, content type when the file stores none, objects, error indexes, index checked,
#  its Content-ID, Object-ID, byte length, and one more header-derived value)
OBJECTS = [
    ("troydavisson-PHRETS/GetObject/Multiple1.txt", None, 5, [], 0, "123456789", "1", 0, ("location", "http://url1.jpg")),
    (f"{FLEX}/204749e19efea78e43edf1f3333ee44b.txt", None, 22, [], 0, "14-52", "1", 12761, ("description", "Walls")),
    (f"{FLEX}/27e68249f6feeb17925a7af12c75e3e9.txt", None, 1, [], 0, "234567865", "1", 59, ("location", "http://someurl")),
    (f"{FLEX}/bc184498e2ca6712c7c2e8f5a4cec90e.txt", None, 1, [], 0, "00-1669", "1", 0,
     ("location", "http://cdn.photos.flexmls.com/demomls/20140430153341745985000000.jpg")),
    ("refindlyllc-rets/GetObject.byte", "image/jpeg", 1, [], 0, "", "", 24714, ("content_type", "image/jpeg")),
    ("refindlyllc-rets/GetObject_multipart.byte", None, 10, [9], 0, "2144466", "0", 24781, ("preferred", True)),
    ("refindlyllc-rets/GetObject_multipart_Location1.byte", None, 41, [], 40, "1256671", "41", 0,
     ("description", "42")),
    (f"{LIBRETS}/test/get-object-response-cris.txt", None, 28, [], 0, "1388404", "1", 15175,
     ("description", "Drew's Construction \"Building One Masterpiece At A Time.\"")),
    (f"{LIBRETS}/test/get-object-response-rapattoni.txt", None, 3, [], 2, "311602", "3", 25112, ("description", "")),
    (f"{LIBRETS}/test/get-object-response-normls.txt", None, 6, [], 0, "2264256", "0", 5149, ("preferred", True)),
    (f"{LIBRETS}/test/get-object-response-no-object-variman.txt", None, 1, [0], 0, "", "", 54, ("location", None)),
    (f"{LIBRETS}/test/get-object-response-multi-rets1-8.txt", None, 6, [3], 0, "2264256", "0", GIF_BYTES,
     ("sub_description", "Sub Description")),
    (f"{LIBRETS}/test/get-object-response-single-rets1-8.txt", None, 1, [], 0, "abc123", "1", GIF_BYTES, ("preferred", True)),
    (f"{LIBRETS}/test/get-object-response-multi-location.txt", None, 3, [], 1, "abc123", "2", 0,
     ("location", "http://www.example.com/images/abc123/2")),
    (f"{LIBRETS}/test/get-object-response-multi-malformed.txt", None, 3, [], 2, "abc123", "3", 0,
     ("location", "http://www.example.com/images/abc123/3")),
    (f"{LIBRETS}/test/get-object-response-single.txt", None, 1, [], 0, "abc123", "1", GIF_BYTES, ("description", "Front view")),
    (f"{LIBRETS}/test/get-object-response-single-location.txt", None, 1, [], 0, "abc123", "1", 0,
     ("location", "http://www.example.com/images/abc123.gif")),
    (f"{LIBRETS}/test/get-object-response-no-object.txt", None, 1, [0], 0, "", "", 54, ("content_type", "text/xml")),
    (f"{LIBRETS}/test/get-object-response-single-no-headers.txt", None, 1, [], 0, "", "", GIF_BYTES, ("content_type", "image/gif")),
    (f"{LIBRETS}/test-network/photo.1", None, 7, [], 5, "2917666", "6", 14727, ("content_type", "image/jpeg")),
    (f"{LIBRETS}/test-network/photo.2", None, 13, [], 12, "90022683104", "13", 59,
     ("location", "http://csmedia.mris.com/platinum/getmedia?ID=90022689937&amp;LOOT=50045650620")),
    ("Homefinder-ruby-rets/get_object/multipart_location_success.txt", None, 2, [], 0, "1234", "1", 0,
     ("description", "Foo Bar")),
    ("terradatum-rets-client/objects-missing.multipart", None, 5, [0, 1, 4], 2, "100084", "1", 53760,
     ("content_type", "image/jpeg")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("relpath", "content_type", "count", "errors", "index", "content_id", "object_id", "size", "extra"), OBJECTS
)
def test_object_fixture(
    relpath: str,
    content_type: str | None,
    count: int,
    errors: list[int],
    index: int,
    content_id: str,
    object_id: str,
    size: int,
    extra: tuple[str, object],
) -> None:
    objects = read(load_fixture(relpath), content_type=content_type)
    assert len(objects) == count
    assert [position for position, found in enumerate(objects) if found.error is not None] == errors
    assert all(found.error.reply_code == 20403 for found in objects if found.error is not None)
    assert not any(found.truncated for found in objects)
    checked = objects[index]
    assert (checked.content_id, checked.object_id, len(checked.data)) == (content_id, object_id, size)
    attribute, expected = extra
    assert getattr(checked, attribute) == expected


def test_all_object_fixtures_listed() -> None:
    assert len(OBJECTS) == 23


@pytest.mark.parametrize(
    "relpath",
    [
        f"{FLEX}/204749e19efea78e43edf1f3333ee44b.txt",
        f"{LIBRETS}/test/get-object-response-rapattoni.txt",
        f"{LIBRETS}/test-network/photo.1",
    ],
)
def test_jpeg_parts_are_cut_exactly(relpath: str) -> None:
    jpegs = [found.data for found in read(load_fixture(relpath)) if found.content_type == "image/jpeg"]
    assert jpegs
    assert all(data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9") for data in jpegs)


@pytest.mark.parametrize(
    "relpath",
    [
        "troydavisson-PHRETS/GetObject/Multiple1.txt",
        f"{FLEX}/204749e19efea78e43edf1f3333ee44b.txt",
        f"{LIBRETS}/test/get-object-response-cris.txt",
        f"{LIBRETS}/test/get-object-response-multi-malformed.txt",
        f"{LIBRETS}/test-network/photo.2",
        "terradatum-rets-client/objects-missing.multipart",
    ],
)
@pytest.mark.parametrize("chunk_size", [1, 7, 1000])
def test_chunking_does_not_change_the_result(relpath: str, chunk_size: int) -> None:
    fixture = load_fixture(relpath)
    if chunk_size == 1 and len(fixture.body) > 20000:
        chunk_size = 3
    whole = [summary(found) for found in read(fixture, chunk_size=len(fixture.body))]
    assert [summary(found) for found in read(fixture, chunk_size=chunk_size)] == whole


def test_objects_stream_before_the_body_ends() -> None:
    fixture = load_fixture(f"{FLEX}/204749e19efea78e43edf1f3333ee44b.txt")
    consumed = []

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(fixture.body), 4096):
            consumed.append(start)
            yield fixture.body[start : start + 4096]

    objects = read_objects(fixture.content_type, fixture.headers, chunks())
    first = next(objects)
    assert (first.object_id, len(first.data)) == ("1", 12761)
    assert len(consumed) < 10  # about 13 KiB read of 278 KiB
    assert len(list(objects)) == 21


def test_per_part_fields() -> None:
    objects = read(load_fixture(f"{LIBRETS}/test/get-object-response-multi-rets1-8.txt"))
    assert objects[0].object_data["ObjectModificationTimestamp"] == "2013-11-29T01:02:03Z"
    assert objects[0].object_data["X-Custom"] == "custom header"
    assert objects[0].preferred and not objects[1].preferred
    assert objects[1].description == "Side view"
    error = objects[3].error
    assert error is not None and error.transaction == "GetObject"
    assert objects[3].object_id == "3"
    single = read(load_fixture(f"{LIBRETS}/test/get-object-response-single-rets1-8.txt"))[0]
    assert single.object_data == {
        "PropMediaCaption": "caption for kitchen",
        "PropMediaDescription": "details about kitchen",
    }


def test_text_plain_not_found_parts() -> None:
    objects = read(load_fixture("terradatum-rets-client/objects-missing.multipart"))
    missing = objects[0]
    assert missing.error is not None and missing.error.reply_code == 20403
    assert "Object 111285:* not found" in missing.error.message
    assert [found.content_id for found in objects] == ["111285", "10037", "100084", "13710", "58946"]
    assert len(objects[3].data) == 51200  # taken from the part's Content-Length


def test_location_parts_with_tiny_success_xml() -> None:
    objects = read(load_fixture(f"{LIBRETS}/test-network/photo.2"))
    assert all(found.ok and found.content_type == "text/xml" for found in objects)
    assert objects[0].data == b'<RETS ReplyCode="0" ReplyText="V2.4.3 625: Success"></RETS>'


def test_truncated_last_part_keeps_what_arrived() -> None:
    fixture = load_fixture(f"{LIBRETS}/test/get-object-response-normls.txt")
    cut = fixture.body.rfind(b"--simple boundary\r\n") + 500
    objects = list(read_objects(fixture.content_type, {}, [fixture.body[:cut]]))
    assert len(objects) == 6
    assert [found.truncated for found in objects] == [False] * 5 + [True]
    assert objects[-1].object_id == "5"
    assert 0 < len(objects[-1].data) < 3913
    assert objects[4].data == read(fixture)[4].data


def test_truncated_inside_part_headers() -> None:
    body = b"--b\r\nContent-ID: 1\r\nObject-ID: 1\r\n\r\nabc\r\n--b\r\nContent-ID: 2\r\nObj"
    objects = list(read_objects("multipart/parallel; boundary=b", {}, [body]))
    assert [(found.content_id, found.data, found.truncated) for found in objects] == [
        ("1", b"abc", False),
        ("2", b"", True),
    ]


def test_unquoted_boundary_charset_and_lf_only() -> None:
    body = b"preamble\n--xyz\nContent-ID:7\nObject-ID:2\nContent-Type:image/png\n\nPNG\n--xyz--\n"
    objects = list(read_objects("Multipart/Parallel; boundary=xyz; charset=utf-8", {}, [body]))
    assert [(found.content_id, found.object_id, found.content_type, found.data) for found in objects] == [
        ("7", "2", "image/png", b"PNG")
    ]


def test_missing_boundary_parameter_is_sniffed() -> None:
    body = b"\r\n--sniffed\r\nContent-ID: 5\r\nObject-ID: 1\r\n\r\nDATA\r\n--sniffed--\r\n"
    objects = list(read_objects("multipart/parallel", {}, [body]))
    assert [(found.content_id, found.data) for found in objects] == [("5", b"DATA")]


def test_rets_error_flag_part() -> None:
    body = (
        b"--b\r\nContent-Type: text/xml\r\nContent-ID: 9\r\nObject-ID: 4\r\nRETS-Error: 1\r\n\r\n"
        b'<RETS ReplyCode="20409" ReplyText="Object Unavailable"/>\r\n--b--'
    )
    objects = list(read_objects('multipart/parallel; boundary="b"', {}, [body]))
    assert objects[0].error is not None and objects[0].error.reply_code == 20409


def test_multipart_header_but_whole_request_error() -> None:
    body = b'<RETS ReplyCode="20400" ReplyText="Invalid Resource"/>'
    objects = list(read_objects('multipart/parallel; boundary="b"', {}, [body]))
    assert len(objects) == 1
    assert objects[0].error is not None and objects[0].error.reply_code == 20400


def test_single_part_error_from_variman() -> None:
    fixture = load_fixture(f"{LIBRETS}/test/get-object-response-no-object-variman.txt")
    found = read(fixture)[0]
    assert found.error is not None
    assert found.error.text == "No Object Found"
    assert found.headers["RETS-Version"] == "RETS/1.5"
