"""DMQL2: parser, exact error positions, printer, builders, validation, and round-trip properties."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retsctl.rets.dmql import (
    And,
    AnyValue,
    Criterion,
    DmqlError,
    DmqlSyntaxError,
    DmqlValidationError,
    Empty,
    FieldType,
    LookupList,
    Node,
    Not,
    Number,
    Or,
    Period,
    Quoted,
    Range,
    RangeList,
    StringList,
    Text,
    and_all,
    any_of,
    criteria,
    modified_since,
    parse,
    quote_value,
    to_dmql,
    validate,
)
from retsctl.rets.replies import RetsError


def crit(field: str, value: object) -> Criterion:
    return Criterion(field, value)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Parsing every construct

PARSED = [
    ("(ListPrice=300000)", crit("ListPrice", Number("300000"))),
    ("(ListPrice=-1.5)", crit("ListPrice", Number("-1.5"))),
    ("(ListPrice=5.)", crit("ListPrice", Number("5."))),
    ("(ListPrice=200000-350000)", crit("ListPrice", Range(Number("200000"), Number("350000")))),
    ("(ListPrice=300000+)", crit("ListPrice", Range(Number("300000"), None))),
    ("(ListPrice=300000-)", crit("ListPrice", Range(None, Number("300000")))),
    ("(Temp=-5--3)", crit("Temp", Range(Number("-5"), Number("-3")))),
    ("(Temp=-5-)", crit("Temp", Range(None, Number("-5")))),
    ("(Beds=1-2,5+)", crit("Beds", RangeList((Range(Number("1"), Number("2")), Range(Number("5"), None))))),
    ("(ListDate=2024-05-01)", crit("ListDate", Period("2024-05-01"))),
    ("(ListDate=2024-05-01-)", crit("ListDate", Range(None, Period("2024-05-01")))),
    ("(ListDate=2024-05-01-2024-06-30)", crit("ListDate", Range(Period("2024-05-01"), Period("2024-06-30")))),
    ("(ListDate=TODAY+)", crit("ListDate", Range(Period("TODAY"), None))),
    ("(Mod=NOW-)", crit("Mod", Range(None, Period("NOW")))),
    ("(Mod=2024-05-01T00:00:00Z+)", crit("Mod", Range(Period("2024-05-01T00:00:00Z"), None))),
    ("(Mod=2024-05-01T00:00:00-05:00-)", crit("Mod", Range(None, Period("2024-05-01T00:00:00-05:00")))),
    ("(Mod=2024-05-01T00:00:00.5+05:30+)", crit("Mod", Range(Period("2024-05-01T00:00:00.5+05:30"), None))),
    (
        "(Mod=2024-05-01T00:00:00Z-2024-05-02T00:00:00Z)",
        crit("Mod", Range(Period("2024-05-01T00:00:00Z"), Period("2024-05-02T00:00:00Z"))),
    ),
    (
        "(Mod=2024-05-01T10:00:00-2024-05-01T12:00:00)",
        crit("Mod", Range(Period("2024-05-01T10:00:00"), Period("2024-05-01T12:00:00"))),
    ),
    ("(Open=09:00:00-17:30:00.5)", crit("Open", Range(Period("09:00:00"), Period("17:30:00.5")))),
    ("(Status=|A,P)", crit("Status", LookupList("|", (Text("A"), Text("P"))))),
    ("(Features=+WTRFRNT,DOCK)", crit("Features", LookupList("+", (Text("WTRFRNT"), Text("DOCK"))))),
    ("(PropType=~CONDO,TWNHME)", crit("PropType", LookupList("~", (Text("CONDO"), Text("TWNHME"))))),
    (
        '(Status=|"Active Under Contract",A)',
        crit("Status", LookupList("|", (Quoted("Active Under Contract"), Text("A")))),
    ),
    ("(Area=|1,2)", crit("Area", LookupList("|", (Text("1"), Text("2"))))),
    ("(Status=.ANY.)", crit("Status", AnyValue())),
    ("(CloseDate=.EMPTY.)", crit("CloseDate", Empty())),
    ("(StreetName=RIVER*)", crit("StreetName", Text("RIVER*"))),
    ("(PublicRemarks=*FORECLOSE*)", crit("PublicRemarks", Text("*FORECLOSE*"))),
    ("(OwnerName=P?LE)", crit("OwnerName", Text("P?LE"))),
    ("(Code=12AB)", crit("Code", Text("12AB"))),
    ("(Code=TODAYS)", crit("Code", Text("TODAYS"))),
    ("(City=M+)", crit("City", Range(Text("M"), None))),
    ('(City="St. Louis")', crit("City", Quoted("St. Louis"))),
    ('(Name="say ""hi""")', crit("Name", Quoted('say "hi"'))),
    ('(Name="")', crit("Name", Quoted(""))),
    ("(City=ACTON,BOXBORO)", crit("City", StringList((Text("ACTON"), Text("BOXBORO"))))),
    (
        '(ListingKey=1001,"A-7",2024-05-01)',
        crit("ListingKey", StringList((Number("1001"), Quoted("A-7"), Period("2024-05-01")))),
    ),
    ("(NOT=5)", crit("NOT", Number("5"))),
    ("(L_List_Price=5)", crit("L_List_Price", Number("5"))),
]


@pytest.mark.parametrize(("query", "tree"), PARSED)
def test_parses_each_construct(query: str, tree: Node) -> None:
    assert parse(query) == tree
    assert to_dmql(tree) == query


def test_boolean_structure_and_precedence() -> None:
    a, b, c = (crit(name, Number("1")) for name in "ABC")
    assert parse("(A=1)|(B=1),(C=1)") == Or((a, And((b, c))))
    assert parse("((A=1)|(B=1)),(C=1)") == And((Or((a, b)), c))
    assert parse("~(A=1),(B=1)") == And((Not(a), b))
    assert parse("~((A=1)|(B=1))") == Not(Or((a, b)))
    assert parse("(A=1)|(B=1)|(C=1)") == Or((a, b, c))
    assert parse("((A=1)|(B=1))|(C=1)") == Or((Or((a, b)), c))
    assert parse("~(~(A=1))") == Not(Not(a))
    assert parse("(((A=1)))") == a


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("(A=1) AND (B=2)", "(A=1),(B=2)"),
        ("(A=1)OR(B=2)", "(A=1)|(B=2)"),
        ("NOT (A=1) OR (B=2) AND NOT(C=3)", "~(A=1)|(B=2),~(C=3)"),
        ("(NOT(A=1))", "~(A=1)"),
        ("  ( (A=1) | (B=2) ) , (C=3)  ", "((A=1)|(B=2)),(C=3)"),
        ("\t(A=1)\n,\n(B=2)", "(A=1),(B=2)"),
    ],
)
def test_keywords_and_spaces_print_canonically(query: str, canonical: str) -> None:
    assert to_dmql(parse(query)) == canonical


def test_nodes_remember_where_they_start() -> None:
    tree = parse('(A=1),~(Status=|A,"B C")')
    assert isinstance(tree, And)
    negated = tree.items[1]
    assert isinstance(negated, Not) and negated.pos == 6
    lookup = negated.item.value  # type: ignore[union-attr]
    assert (negated.item.pos, lookup.pos, lookup.values[1].pos) == (7, 15, 18)  # type: ignore[union-attr]


def test_period_kinds() -> None:
    kinds = [Period(text).kind for text in ("2024-05-01", "TODAY", "NOW", "2024-05-01T00:00:00Z", "12:00:00")]
    assert kinds == ["date", "date", "datetime", "datetime", "time"]


# ---------------------------------------------------------------------------------------------
# Exact error positions

SYNTAX_ERRORS = [
    ("(ListPrice=300000", 17, "expected ',' or ')', found end of query"),
    ("(Status=|)", 9, "expected a lookup value, found ')'"),
    ("(=1)", 1, "expected a field name, found '='"),
    ("(A)", 2, "expected '=', found ')'"),
    ("(A=1))", 5, "expected '|', ',' or end of query, found ')'"),
    ("", 0, "expected '(', found end of query"),
    ("(A=1)|", 6, "expected '(', found end of query"),
    ("(A=1) (B=2)", 6, "expected '|', ',' or end of query, found '('"),
    ("A=1", 0, "expected '(', found 'A'"),
    ('(City="St. Louis)', 6, "unterminated quoted value"),
    ("(D=2024-05-01T12:00)", 19, "malformed date or datetime"),
    ("(D=2024-5-1)", 9, "malformed date or datetime"),
    ("(D=2024-05-01x)", 13, "malformed date or datetime"),
    ("(A=.FOO.)", 3, "unknown keyword '.FOO.'"),
    ("(A=.5)", 3, "expected a value, found '.'"),
    ("(A=)", 3, "expected a value, found ')'"),
    ("(A=1-5,7)", 7, "a list holds either ranges or single values, not both"),
    ("(A=ABC-DEF)", 3, "a word can only bound an open range"),
    ("(A=5-2024-01-01)", 5, "range ends differ in type (number and date)"),
    ("(A=RIV*+)", 3, "a range bound must be a number, date, time or plain word"),
    ('(A="x"+)', 3, "a range bound must be a number, date, time or plain word"),
    ('(A="x"-5)', 3, "a range bound must be a number, date, time or plain word"),
    ("(A=2024-05-)", 11, "malformed date or datetime"),
    ("(A=1.5.3)", 6, "expected ',' or ')', found '.'"),
    ("(S=|A-B)", 5, "expected ',' or ')', found '-'"),
    ("(A=.ANY.,B)", 8, "expected ')', found ','"),
    ("~~(A=1)", 1, "expected '(', found '~'"),
    ("((A=1)", 6, "expected ')' or an operator, found end of query"),
    ("(A=1)|(B=2", 10, "expected ',' or ')', found end of query"),
    ("(A=5--)", 5, "expected a value, found '-'"),
    ("(A=1) and (B=2)", 6, "expected '|', ',' or end of query, found 'a'"),
]


@pytest.mark.parametrize(("query", "position", "problem"), SYNTAX_ERRORS)
def test_syntax_errors_point_at_the_offending_character(query: str, position: int, problem: str) -> None:
    with pytest.raises(DmqlSyntaxError) as caught:
        parse(query)
    error = caught.value
    assert (error.position, error.query) == (position, query)
    assert error.problem.startswith(problem)
    assert error.message == f"{error.problem} at position {position}"


def test_error_text_shows_the_query_and_a_caret() -> None:
    with pytest.raises(DmqlSyntaxError) as caught:
        parse("(ListPrice=300000")
    error = caught.value
    assert str(error).splitlines() == [
        "expected ',' or ')', found end of query at position 17",
        "  (ListPrice=300000",
        "                   ^",
    ]
    assert isinstance(error, DmqlError) and isinstance(error, RetsError)
    assert error.to_dict()["kind"] == "input" and error.to_dict()["reply_code"] is None
    assert error.server_reply_code == 20206
    assert "parentheses" in error.hint


def test_caret_stays_under_the_position_in_a_long_query() -> None:
    query = "(ListingKey=|" + ",".join(str(n) for n in range(1000, 1100)) + ",#)"
    with pytest.raises(DmqlSyntaxError) as caught:
        parse(query)
    shown, caret = caught.value.pointer().splitlines()
    assert caught.value.position == query.index("#")
    assert shown[caret.index("^")] == "#"
    assert shown.startswith("  …") and len(shown) < 110


# ---------------------------------------------------------------------------------------------
# Printer and builders


def test_printer_groups_only_where_needed() -> None:
    a, b, c = (crit(name, Number("1")) for name in "ABC")
    assert to_dmql(Or((And((a, b)), c))) == "(A=1),(B=1)|(C=1)"
    assert to_dmql(And((Or((a, b)), c))) == "((A=1)|(B=1)),(C=1)"
    assert to_dmql(And((And((a, b)), c))) == "((A=1),(B=1)),(C=1)"
    assert to_dmql(Not(And((a, b)))) == "~((A=1),(B=1))"
    assert to_dmql(Not(Not(a))) == "~(~(A=1))"
    assert to_dmql(crit("N", Quoted('a "b"'))) == '(N="a ""b""")'
    with pytest.raises(TypeError):
        to_dmql("(A=1)")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("ACTIVE", "ACTIVE"),
        ("1001", "1001"),
        ("St. Louis", '"St. Louis"'),
        ("A_B", '"A_B"'),
        ("RIV*", '"RIV*"'),
        ("TODAY", '"TODAY"'),
        ('5" pipe', '"5"" pipe"'),
        ("", '""'),
    ],
)
def test_quote_value(value: str, quoted: str) -> None:
    assert quote_value(value) == quoted


def test_modified_since_sends_utc_to_the_second() -> None:
    eastern = timezone(timedelta(hours=-5))
    assert modified_since("ModificationTimestamp", datetime(2024, 5, 1, 19, 0, 30, 900, tzinfo=eastern)) == (
        "(ModificationTimestamp=2024-05-02T00:00:30Z+)"
    )
    assert modified_since("M", datetime(2024, 5, 1, tzinfo=UTC)) == "(M=2024-05-01T00:00:00Z+)"
    with pytest.raises(ValueError, match="timezone-aware"):
        modified_since("M", datetime(2024, 5, 1))
    with pytest.raises(ValueError, match="field name"):
        modified_since("Bad Name", datetime(2024, 5, 1, tzinfo=UTC))


def test_any_of_quotes_each_value() -> None:
    assert any_of("Status", ["A", "Active Under Contract"]) == '(Status=|A,"Active Under Contract")'
    assert parse(any_of("ListingKey", (str(n) for n in (1001, 1002)))) == crit(
        "ListingKey", LookupList("|", (Text("1001"), Text("1002")))
    )
    with pytest.raises(ValueError, match="at least one value"):
        any_of("Status", [])


def test_and_all_keeps_each_query_whole() -> None:
    assert and_all("(A=1)|(B=2)", "(C=3)") == "((A=1)|(B=2)),(C=3)"
    assert and_all("(A=1),(B=2)", "(C=3) AND (D=4)") == "(A=1),(B=2),(C=3),(D=4)"
    assert and_all("(A=1)", " ") == "(A=1)"
    assert and_all("~(A=1)", "(M=2024-05-01T00:00:00Z-2024-05-02T00:00:00Z)") == (
        "~(A=1),(M=2024-05-01T00:00:00Z-2024-05-02T00:00:00Z)"
    )
    with pytest.raises(ValueError):
        and_all("", "")
    with pytest.raises(DmqlSyntaxError) as caught:
        and_all("(A=1)", "(B=")
    assert (caught.value.query, caught.value.position) == ("(B=", 3)


# ---------------------------------------------------------------------------------------------
# Validation against metadata

FIELDS = {
    "ListPrice": FieldType("Decimal", "Currency"),
    "Beds": FieldType("Int"),
    "City": FieldType("Character"),
    "ListingKey": FieldType("Character"),
    "Pool": FieldType("Boolean"),
    "ListDate": FieldType("Date"),
    "Mod": FieldType("DateTime"),
    "Open": FieldType("Time"),
    "Status": FieldType("Character", "Lookup", frozenset({"A", "P", "Active Under Contract"})),
    "Features": FieldType("Character", "LookupMulti", frozenset({"POOL", "DOCK"})),
    "Area": FieldType("Int", "Lookup", None),
    "Secret": FieldType("Character", searchable=False),
}

VALIDATION_ERRORS = [
    ("(ListPrise=1)", 1, "unknown field 'ListPrise'"),
    ("(City=X),(Nope=1)", 10, "unknown field 'Nope'"),
    ("(Secret=x)", 1, "field Secret is not searchable"),
    ("(Status=|A,Q)", 11, "'Q' is not a value of lookup field Status"),
    ("(Status=Q)", 8, "'Q' is not a value of lookup field Status"),
    ('(Features=+POOL,"HOT TUB")', 16, "'HOT TUB' is not a value of lookup field Features"),
    ("(City=A+)", 6, "a range cannot be used on field City (Character)"),
    ("(Pool=0-1)", 6, "a range cannot be used on field Pool (Boolean)"),
    ("(Status=A-)", 8, "a range cannot be used on field Status (Character, Lookup)"),
    ("(Beds=1,2),(Area=1-3)", 17, "a range cannot be used on field Area (Int, Lookup)"),
    ("(City=~A,B)", 6, "lookup operator '~' used on non-lookup field City (Character)"),
    ("(Beds=+1,2)", 6, "lookup operator '+' used on non-lookup field Beds (Int)"),
    ("(City=.ANY.)", 6, "lookup operator '.ANY.' used on non-lookup field City (Character)"),
    ("(ListDate=2024-02-30)", 10, "'2024-02-30' is not a date"),
    ("(ListDate=2024-01-01-2024-13-01)", 21, "'2024-13-01' is not a date"),
    ("(ListDate=2024-05-01T00:00:00)", 10, "'2024-05-01T00:00:00' is not a date"),
    ("(ListDate=NOW)", 10, "'NOW' is not a date"),
    ("(ListPrice=ABC)", 11, "'ABC' is not a number for field ListPrice (Decimal, Currency)"),
    ("(Beds=2*)", 6, "'2*' is not a number"),
    ("(Mod=2024-05-01T25:00:00Z+)", 5, "'2024-05-01T25:00:00Z' is not a datetime"),
    ("(Mod=12:00:00+)", 5, "'12:00:00' is not a datetime"),
    ("(Open=25:00:00-)", 6, "'25:00:00' is not a time"),
]


@pytest.mark.parametrize(("query", "position", "problem"), VALIDATION_ERRORS)
def test_validation_errors_point_at_the_offending_token(query: str, position: int, problem: str) -> None:
    with pytest.raises(DmqlValidationError) as caught:
        validate(parse(query), FIELDS, query=query)
    assert (caught.value.position, caught.value.query) == (position, query)
    assert caught.value.problem.startswith(problem)


@pytest.mark.parametrize(
    "query",
    [
        "(ListPrice=200000-350000.50),(Beds=2,3)",
        "(ListingKey=|1001,1002)",  # key batches use '|' on any field (protocol digest §5.5)
        "(Beds=|2,3)",
        '(Status=|A,"Active Under Contract"),(Features=+POOL,DOCK)',
        "(Status=.ANY.)|(Status=.EMPTY.)|(City=.EMPTY.)",
        "(Area=|1,2,999)",  # no lookup values known: any code passes
        "(ListDate=TODAY-),(Mod=2024-05-01+),(Mod=NOW-),(Mod=2024-05-01T00:00:00.123-05:00+)",
        '(Open=09:00:00-17:00:00),(Pool=1),(City=RIV*,"St. Louis")',
        "~((City=ACTON)|(City=1001))",
    ],
)
def test_valid_queries_pass(query: str) -> None:
    validate(parse(query), FIELDS, query=query)


def test_unknown_field_carries_the_search_reply_code_and_a_suggestion() -> None:
    with pytest.raises(DmqlValidationError) as caught:
        validate(parse("(ListPrise=1)"), FIELDS)
    assert caught.value.server_reply_code == 20200
    assert caught.value.hint == "Did you mean ListPrice, ListingKey?"
    assert caught.value.kind == "input"


def test_validating_a_built_tree_points_into_its_canonical_text() -> None:
    tree = And((crit("City", Text("ACTON")), crit("Status", LookupList("|", (Text("Z"),)))))
    with pytest.raises(DmqlValidationError) as caught:
        validate(tree, FIELDS)
    assert caught.value.query == "(City=ACTON),(Status=|Z)"
    assert caught.value.position == 22


def test_field_kinds() -> None:
    assert [FieldType(t).kind for t in ("Tiny", "Long", "Date", "DateTime", "Time", "Boolean", "Character")] == [
        "number",
        "number",
        "date",
        "datetime",
        "time",
        "text",
        "text",
    ]
    assert FieldType("Int", "LookupMulti").kind == "lookup" and FieldType("Int", "LookupMulti").is_multi


# ---------------------------------------------------------------------------------------------
# Property-based: random trees print, parse back equal, and print stably

NAMES = st.one_of(
    st.sampled_from(["ListPrice", "ListingKey", "ListingStatus", "City", "ModificationTimestamp", "L_Area", "NOT"]),
    st.from_regex(r"[A-Za-z0-9_]{1,16}", fullmatch=True),
)
_NUMBER_SHAPE = re.compile(r"-?[0-9]+(\.[0-9]*)?")
NUMBERS = st.from_regex(r"-?[0-9]{1,9}(\.[0-9]{0,4})?", fullmatch=True).map(Number)
DATES = st.one_of(st.just("TODAY"), st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True)).map(Period)
DATETIMES = st.one_of(
    st.just("NOW"),
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})?",
        fullmatch=True,
    ),
).map(Period)
TIMES = st.from_regex(r"[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?", fullmatch=True).map(Period)


def _is_word(text: str) -> bool:
    return not _NUMBER_SHAPE.fullmatch(text) and text not in ("TODAY", "NOW")


PATTERNS = st.from_regex(r"[A-Za-z0-9_*?]{1,12}", fullmatch=True).filter(_is_word).map(Text)
PLAIN_WORDS = st.from_regex(r"[A-Za-z0-9_]{1,12}", fullmatch=True).filter(_is_word).map(Text)
QUOTED = st.text(max_size=12).map(Quoted)
SCALARS = st.one_of(NUMBERS, DATES, DATETIMES, TIMES, PATTERNS, QUOTED)
CLOSED_RANGES = st.one_of(*(st.builds(Range, kind, kind) for kind in (NUMBERS, DATES, DATETIMES, TIMES)))
OPEN_BOUNDS = st.one_of(NUMBERS, DATES, DATETIMES, TIMES, PLAIN_WORDS)
RANGES = st.one_of(
    CLOSED_RANGES,
    st.builds(Range, OPEN_BOUNDS, st.none()),
    st.builds(Range, st.none(), OPEN_BOUNDS),
)
LOOKUP_CODES = st.one_of(st.from_regex(r"[A-Za-z0-9_]{1,10}", fullmatch=True).map(Text), QUOTED)
VALUES = st.one_of(
    SCALARS,
    RANGES,
    st.lists(RANGES, min_size=2, max_size=4).map(lambda ranges: RangeList(tuple(ranges))),
    st.lists(SCALARS, min_size=2, max_size=4).map(lambda items: StringList(tuple(items))),
    st.builds(LookupList, st.sampled_from(["|", "+", "~"]), st.lists(LOOKUP_CODES, min_size=1, max_size=4).map(tuple)),
    st.just(AnyValue()),
    st.just(Empty()),
)
CRITERIA = st.builds(Criterion, NAMES, VALUES)


def _boolean(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    many = st.lists(children, min_size=2, max_size=4).map(tuple)
    return st.one_of(st.builds(Not, children), many.map(And), many.map(Or))


TREES = st.recursive(CRITERIA, _boolean, max_leaves=10)


def _spelled_out(node: Node) -> str:
    """The tree with keyword operators and spaces, as a person might type it."""
    if isinstance(node, Criterion):
        return to_dmql(node)
    if isinstance(node, Not):
        return f"NOT ( {_spelled_out(node.item)} )"
    joiner = " OR " if isinstance(node, Or) else " AND "
    return joiner.join(f"( {_spelled_out(item)} )" for item in node.items)


@settings(max_examples=300)
@given(TREES)
def test_printed_trees_parse_back_equal(tree: Node) -> None:
    printed = to_dmql(tree)
    assert parse(printed) == tree
    assert not re.search(r"\s", re.sub(r'"(?:[^"]|"")*"', "", printed))


@given(TREES)
def test_printing_is_stable(tree: Node) -> None:
    printed = to_dmql(tree)
    assert to_dmql(parse(printed)) == printed


@given(TREES)
def test_keywords_and_spaces_parse_to_the_same_tree(tree: Node) -> None:
    assert parse(_spelled_out(tree)) == tree


@given(TREES)
def test_parsed_positions_point_at_each_criterion(tree: Node) -> None:
    printed = to_dmql(tree)
    for criterion in criteria(parse(printed)):
        assert printed.startswith(f"({criterion.field}=", criterion.pos)


@settings(max_examples=400)
@given(st.text(alphabet=st.sampled_from(list('()|,~+-=.*?":TZ 0123456789AaNOTRDEMPYW')), max_size=30))
def test_any_text_parses_or_fails_with_a_position_inside_it(text: str) -> None:
    try:
        tree = parse(text)
    except DmqlSyntaxError as error:
        assert 0 <= error.position <= len(text)
        assert error.query == text
    else:
        assert parse(to_dmql(tree)) == tree
