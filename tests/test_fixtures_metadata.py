"""Every captured GetMetadata reply parses to the segments, rows and values it holds."""

from __future__ import annotations

import pytest
from fixture_files import load_fixture

from retsctl.rets.dmql import FieldType
from retsctl.rets.metadata import MetadataResponse, parse_metadata
from retsctl.rets.replies import RetsProtocolError, RetsReplyError

FLEX = "troydavisson-PHRETS/get/retsgw.flexmls.com"
FLEX_POST = "troydavisson-PHRETS/post/retsgw.flexmls.com"
LIBRETS = "NationalAssociationOfRealtors-libRETS"
REFINDLY = "refindlyllc-rets"
FLEX_SYSTEM = ("SYSTEM", "SystemID", "demomls", "SystemDescription", "flexmls Web Demo Database")
CRT_SYSTEM = ("SYSTEM", "SystemID", "CRT_RETS", "SystemDescription", "Center for REALTOR Technology")
FLEX_LOOKUP = ("LOOKUP_TYPE", "Value", "5PSUX4AVW7L", "LongValue", "Townhouse and Condos")

# (fixture, segments, rows over all segments, (type, key column, key value, column, expected value))
METADATA = [
    (f"{FLEX}/lookup_rets2_1_GetMetadata/9d3ab35ecd3b097760867c2d7259ed83.txt", 1, 6, FLEX_LOOKUP),
    (f"{FLEX}/rets2_1_GetMetadata/0c110d39a7815a91b58a68006aa42dbf.txt", 0, 0, None),
    (f"{FLEX}/rets2_1_GetMetadata/3f61a38b92bfdb51eaf133bf516b2483.txt", 1, 1, FLEX_SYSTEM),
    (f"{FLEX}/rets2_1_GetMetadata/4f4529540496ce9bc194500a6d109a2c.txt", 1, 149, ("TABLE", "SystemName", "LIST_1", "LongName", "Internal Listing ID")),
    (f"{FLEX}/rets2_1_GetMetadata/641d8d7917275a5ad955e16077733535.txt", 1, 6, FLEX_LOOKUP),
    (f"{FLEX}/rets2_1_GetMetadata/785c884c29c4c4d17deb0fcd89cd5282.txt", 1, 6, FLEX_LOOKUP),
    (f"{FLEX}/rets2_1_GetMetadata/940a2bcb4240708a30ed3e4abd2a3056.txt", 1, 1, FLEX_SYSTEM),
    (f"{FLEX}/rets2_1_GetMetadata/9d194ccfcc9edb5a93dea267d1f9c91d.txt", 1, 9, ("OBJECT", "ObjectType", "Supplement", "Description", "Supplemental Listing Data")),
    (f"{FLEX}/rets2_1_GetMetadata/9ed93625ec4cad577e42158701ae7b44.txt", 1, 7, ("CLASS", "ClassName", "D", "VisibleName", "Farm/Ranch/Orchard")),
    (f"{FLEX}/rets2_1_GetMetadata/b3a4345b713492d24315d1f92665d7a6.txt", 1, 9, ("RESOURCE", "ResourceID", "Property", "KeyField", "LIST_1")),
    (f"{FLEX}/rets2_1_GetMetadata/bbe857812f04d9e40c3508c212ab0ebe.txt", 1, 313, ("TABLE", "SystemName", "FEAT20000724204817324359000000", "LongName", "Cooling: Fans")),
    (f"{FLEX}/rets2_1_GetMetadata/df6c017842562b837dd77c23a95c5777.txt", 1, 148, ("TABLE", "SystemName", "LIST_74", "LongName", "LIST_74")),
    (f"{FLEX_POST}/rets2_1_GetMetadata/026512d08d8a650c3fe99a4df7d34add.txt", 1, 1, FLEX_SYSTEM),
    (f"{FLEX_POST}/rets2_1_GetMetadata/c20c26bddeea7fe09b27bc3c6a225d16.txt", 1, 1, FLEX_SYSTEM),
    (f"{FLEX_POST}/rets2_1_GetMetadata/d9883fd2658c0512b0b75a96e217c46f.txt", 1, 1, FLEX_SYSTEM),
    (f"{REFINDLY}/COMPACT-DECODED/GetMetadata_classes.xml", 1, 6, ("CLASS", "ClassName", "LOT", "VisibleName", "Lot & Land")),
    (f"{REFINDLY}/COMPACT-DECODED/GetMetadata_classes_single.xml", 1, 1, ("CLASS", "ClassName", "Listing", "StandardName", "Residential\r\n")),
    (f"{REFINDLY}/COMPACT-DECODED/GetMetadata_lookup.xml", 1, 61, ("LOOKUP_TYPE", "Value", "FUSESP", "LongValue", "Full Service Spa")),
    (f"{REFINDLY}/COMPACT-DECODED/GetMetadata_objects.xml", 1, 3, ("OBJECT", "ObjectType", "XLargePhoto", "MIMEType", "image/jpeg")),
    (f"{REFINDLY}/COMPACT-DECODED/GetMetadata_resources.xml", 1, 6, ("RESOURCE", "ResourceID", "OpenHouse", "KeyField", "matrix_unique_id")),
    (f"{REFINDLY}/COMPACT-DECODED/GetMetadata_system.xml", 1, 1, ("SYSTEM", "SystemID", "MLS-RETS", "SystemDescription", "MLS-RETS")),
    (f"{REFINDLY}/COMPACT-DECODED/GetMetadata_table.xml", 1, 208, ("TABLE", "SystemName", "MandatoryClubFeeFreq", "LongName", "Mandatory Club Fee Freq")),
    (f"{REFINDLY}/STANDARD-XML/GetMetadata_classes.xml", 1, 8, ("CLASS", "ClassName", "5", "VisibleName", "CLD")),
    (f"{REFINDLY}/STANDARD-XML/GetMetadata_lookup.xml", 1, 9, ("LOOKUP_TYPE", "Value", "S", "LongValue", "S-Closed/Rented")),
    (f"{REFINDLY}/STANDARD-XML/GetMetadata_lookup2.xml", 1, 4, ("LOOKUP_TYPE", "Value", "4", "LongValue", "Window unit(s)")),
    (f"{REFINDLY}/STANDARD-XML/GetMetadata_objects.xml", 1, 1, ("OBJECT", "ObjectType", "Photo", "Description", "High resolution property photos")),
    (f"{REFINDLY}/STANDARD-XML/GetMetadata_objects2.xml", 1, 3, ("OBJECT", "ObjectType", "LargePhoto", "ObjectCount", "PhotoCount")),
    (f"{REFINDLY}/STANDARD-XML/GetMetadata_resources.xml", 1, 2, ("RESOURCE", "ResourceID", "Property", "KeyField", "sysid")),
    (f"{REFINDLY}/STANDARD-XML/GetMetadata_system.xml", 1, 1, ("SYSTEM", "SystemID", "RETS", "SystemDescription", "RETS System")),
    (f"{REFINDLY}/STANDARD-XML/GetMetadata_table.xml", 1, 162, ("TABLE", "SystemName", "160", "LongName", "Membership Purch Rqd")),
    (f"{REFINDLY}/STANDARD-XML/GetMetadata_table2.xml", 1, 208, ("TABLE", "SystemName", "Acres", "DBName", "R597")),
    (f"{REFINDLY}/STANDARD-XML/GetMetadata_wildcard.xml", 40, 1199, ("LOOKUP_TYPE", "Value", "LWRCP", "LongValue", "Lower Cape")),
    (f"{LIBRETS}/test/metadata-system-empty-comments.xml", 1, 1, ("SYSTEM", "SystemID", "RMLS-RETS", "SystemDescription", "RMLS RETS System")),
    (f"{LIBRETS}/test/metadata-extended-char.xml", 1, 1, ("CLASS", "ClassName", "RES", "VisibleName", "Single Family")),
    (f"{LIBRETS}/test/metadata-blank-data.xml", 1, 2, ("CLASS", "ClassName", "CON", "ClassName", "CON")),
    (f"{LIBRETS}/test/raw-metadata", 42, 447, ("TABLE", "SystemName", "LD", "LongName", "Listing Date")),
    (f"{LIBRETS}/test-network/metadata-system", 1, 1, CRT_SYSTEM),
    (f"{LIBRETS}/test-network/metadata-resource", 1, 4, ("RESOURCE", "ResourceID", "Office", "KeyField", "OFFICE_ID")),
    (f"{LIBRETS}/test-network/metadata-table.9", 1, 27, ("TABLE", "SystemName", "LD", "LongName", "Listing Date")),
    (f"{LIBRETS}/test-network/metadata-lookup-type.4", 1, 60, ("LOOKUP_TYPE", "Value", "VM", "LongValue", "VIEW MOUNTAINS")),
    (f"{LIBRETS}/test-network/foreign_keys.1", 1, 1, ("FOREIGNKEYS", "ForeignKeyID", "ResPropertyAgent", "ChildResourceID", "Property")),
    (f"{LIBRETS}/test-network/full-metadata", 37, 419, ("VALIDATION_EXPRESSION", "ValidationExpressionID", "LD_UPDATE_EXPRESSION", "Value", "LD > .TODAY. - 3 .AND. LD < .TODAY. +3")),
    ("5150brien-retsdk/metadata_resource_response.xml", 1, 5, ("RESOURCE", "ResourceID", "Office", "KeyField", "sysid")),
    ("Homefinder-ruby-rets/get_metadata/success.txt", 1, 6, ("TABLE", "SystemName", "DM_LVL", "DataType", "Decimal")),
    ("josephholsten-rets4r/metadata.xml", 21, 64, ("CLASS", "ClassName", "MOB", "VisibleName", "Mobile Home")),
    ("terradatum-rets-client/getMetadataResponse_lookupZero.xml", 2, 10, ("LOOKUP", "LookupName", "VEW", "VisibleName", "View")),
]  # fmt: skip


def parse(relpath: str) -> MetadataResponse:
    fixture = load_fixture(relpath)
    return parse_metadata(fixture.body, content_type=fixture.content_type or None)


@pytest.mark.parametrize(("relpath", "segments", "rows", "known"), METADATA)
def test_metadata_fixture(relpath: str, segments: int, rows: int, known: tuple[str, ...] | None) -> None:
    response = parse(relpath)
    assert response.reply.code == 0
    assert len(response.segments) == segments
    assert sum(len(segment.rows) for segment in response.segments) == rows
    if known is not None:
        metadata_type, key, key_value, column, expected = known
        matching = [
            row for segment in response.segments_of(metadata_type) for row in segment.rows if row.get(key) == key_value
        ]
        assert matching, f"no {metadata_type} row with {key}={key_value}"
        assert matching[0][column] == expected


def test_all_metadata_fixtures_listed() -> None:
    assert len(METADATA) == 46


def test_standard_xml_field_view() -> None:
    response = parse(f"{FLEX}/rets2_1_GetMetadata/4f4529540496ce9bc194500a6d109a2c.txt")
    segment = response.segments[0]
    assert (segment.resource, segment.class_name, segment.version) == ("Property", "RETSSESSIONID", "01.03.32190")
    assert segment.attributes["System"] == "demomls"  # an extra header attribute, kept
    field = next(f for f in response.fields() if f.system_name == "LIST_1")
    assert field.attributes["MetadataEntryID"] == "2d26b6ce426160009ebfd8b84382c913"
    assert field.attributes["StandardName"] == ""
    assert (field.data_type, field.maximum_length, field.unique, field.in_key_index) == ("Character", 26, True, True)
    assert field.searchable
    assert (field.resource, field.class_name) == ("Property", "RETSSESSIONID")
    assert field.field_type() == FieldType("Character", "", None, True)


def test_compact_lookup_field_type_and_columns_as_sent() -> None:
    response = parse(f"{REFINDLY}/COMPACT-DECODED/GetMetadata_table.xml")
    fields = {field.system_name: field for field in response.fields()}
    area = next(field for field in fields.values() if field.interpretation == "Lookup")
    assert area.is_lookup and area.lookup_name
    codes = frozenset({"A", "B"})
    assert area.field_type(codes) == FieldType(area.data_type, "Lookup", codes, area.searchable)
    assert fields["Acres"].attributes["InKeyIndex"] == "0"
    assert fields["Acres"].precision == 4
    assert list(fields["Acres"].attributes)[:3] == ["MetadataEntryID", "SystemName", "StandardName"]


def test_system_attribute_style_1_7() -> None:
    system = parse(f"{FLEX}/rets2_1_GetMetadata/3f61a38b92bfdb51eaf133bf516b2483.txt").system
    assert system is not None
    assert (system.system_id, system.time_zone_offset, system.comments) == ("demomls", "-05:00", "")
    assert (system.version, system.date) == ("01.03.28598", "2014-07-08T20:10:20Z")


def test_system_child_element_style_1_5() -> None:
    system = parse(f"{FLEX}/rets2_1_GetMetadata/940a2bcb4240708a30ed3e4abd2a3056.txt").system
    assert system is not None
    assert system.attributes == {"SystemID": "demomls", "SystemDescription": "flexmls Web Demo Database"}
    assert system.time_zone_offset is None
    assert system.date == "Fri, 5 Sep 2014 21:35:01 GMT"


def test_compact_system_comments_and_version_as_sent() -> None:
    response = parse(f"{LIBRETS}/test/metadata-system-empty-comments.xml")
    assert response.system is not None and response.system.comments == ""
    assert response.segments[0].version == "1.11.54182 "  # trailing space kept as sent
    rets4r = parse("josephholsten-rets4r/metadata.xml").system
    assert rets4r is not None and rets4r.comments == "\nThis is a comment line "


def test_wildcard_lookups_split_by_lookup() -> None:
    response = parse(f"{REFINDLY}/STANDARD-XML/GetMetadata_wildcard.xml")
    assert len({segment.lookup for segment in response.segments}) == 40
    cities = response.lookup_values("City")
    assert len(cities) == 298
    assert (cities[0].value, cities[0].long_value, cities[0].short_value) == ("ABJGN", "Aboujagane", "ABJGN")
    assert cities[0].lookup == "City"


def test_multi_resource_lookup_reply() -> None:
    lookups = parse("terradatum-rets-client/getMetadataResponse_lookupZero.xml").lookups()
    assert [lookup.resource for lookup in lookups].count("Agent") == 1
    assert lookups[-1].lookup_name == "DESIGNATIONS"


def test_full_tree_compact_views() -> None:
    response = parse(f"{LIBRETS}/test-network/full-metadata")
    assert [resource.resource_id for resource in response.resources()] == ["Agent", "ActiveAgent", "Office", "Property"]
    assert len(response.segments_of("TABLE")) == 9
    assert {value.lookup for value in response.lookup_values()} >= {"AR", "EFT"}
    objects = response.object_types()
    # The CRT server sends two OBJECT rows with an empty ObjectType; they are kept as sent.
    assert [(o.object_type, o.visible_name) for o in objects[:3]] == [
        ("", "Small, Branded Photos"),
        ("", "Enlarged  Photos"),
        ("Thumbnail", "Small Photos"),
    ]


def test_count_mismatch_tolerated() -> None:
    response = parse("josephholsten-rets4r/metadata.xml")
    tax = next(resource for resource in response.resources() if resource.resource_id == "Tax")
    assert tax.class_count == 2
    assert tax.key_field == "0"  # the row has one cell too many; cells still map by position
    assert response.repairs.cell_count_mismatches >= 1


def test_blank_data_row() -> None:
    rows = parse(f"{LIBRETS}/test/metadata-blank-data.xml").segments[0].rows
    assert rows == [{"ClassName": ""}, {"ClassName": "CON"}]


def test_latin1_byte_in_utf8_fragment() -> None:
    response = parse(f"{LIBRETS}/test/metadata-extended-char.xml")
    description = response.classes()[0].description
    assert description == "N\u0153\u2013ez"  # bytes 9C 96 read as Windows-1252
    assert response.repairs.encoding_fallbacks == 1


def test_entity_encoded_values() -> None:
    classes = parse(f"{REFINDLY}/COMPACT-DECODED/GetMetadata_classes.xml").classes()
    assert classes[0].standard_name == "Residential\r\n"
    assert classes[3].visible_name == "Lot & Land"


def test_case_insensitive_column_lookup() -> None:
    compact = parse(f"{REFINDLY}/COMPACT-DECODED/GetMetadata_objects.xml").object_types()
    standard = parse(f"{REFINDLY}/STANDARD-XML/GetMetadata_objects2.xml").object_types()
    assert "MIMEType" in compact[0].attributes and "MimeType" in standard[0].attributes
    assert compact[0].mime_type == standard[0].mime_type == "image/jpeg"


def test_nested_full_tree_standard_xml() -> None:
    body = b"""<RETS ReplyCode="0" ReplyText="ok"><METADATA>
    <METADATA-RESOURCE Version="1" Date="d"><Resource><ResourceID>Property</ResourceID><KeyField>LN</KeyField>
      <METADATA-CLASS Version="1" Date="d"><Class><ClassName>RES</ClassName>
        <METADATA-TABLE Version="1" Date="d"><Field><SystemName>LN</SystemName><DataType>Int</DataType></Field>
          <Field><SystemName>ST</SystemName><Interpretation>Lookup</Interpretation><LookupName>STATUS</LookupName></Field>
        </METADATA-TABLE></Class></METADATA-CLASS>
      <METADATA-LOOKUP Version="1" Date="d"><Lookup><LookupName>STATUS</LookupName>
        <METADATA-LOOKUP_TYPE Version="1" Date="d"><LookupType><Value>A</Value><LongValue>Active</LongValue></LookupType>
        </METADATA-LOOKUP_TYPE></Lookup></METADATA-LOOKUP>
    </Resource></METADATA-RESOURCE></METADATA></RETS>"""
    response = parse_metadata(body)
    assert [segment.type for segment in response.segments] == [
        "METADATA-RESOURCE", "METADATA-CLASS", "METADATA-TABLE", "METADATA-LOOKUP", "METADATA-LOOKUP_TYPE",
    ]  # fmt: skip
    assert response.resources()[0].attributes == {"ResourceID": "Property", "KeyField": "LN"}
    fields = response.fields()
    assert [(field.system_name, field.resource, field.class_name) for field in fields] == [
        ("LN", "Property", "RES"),
        ("ST", "Property", "RES"),
    ]
    assert response.lookup_values("STATUS")[0].long_value == "Active"
    assert response.segments_of("lookup_type")[0].lookup == "STATUS"


def test_error_reply_and_html() -> None:
    with pytest.raises(RetsReplyError) as raised:
        parse_metadata(load_fixture(f"{REFINDLY}/Errors/Error_InvalidFormat.xml").body)
    assert raised.value.reply_code == 20513
    with pytest.raises(RetsProtocolError):
        parse_metadata(load_fixture(f"{REFINDLY}/Logout.html").body)
