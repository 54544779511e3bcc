"""Unit tests of the DataStore's value layer: PostgreSQL's coercions, text output and casts."""

from __future__ import annotations

import pytest

from ckanx.server.datastore import fulltext, sqldialect, types
from ckanx.server.datastore.formats import copy_field


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e20, "1e+20"),  # as CKAN 2.11.6's dump printed it
        (0.1, "0.1"),
        (1.5, "1.5"),
        (3.0, "3"),
        (-2.5, "-2.5"),
        (1e15, "1e+15"),  # PostgreSQL switches to an exponent at 15 digits, Python at 16
        (123456789012345.0, "123456789012345"),
        (1.5e-5, "1.5e-05"),
        (0.0001, "0.0001"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_pg_float_text(value: float, text: str) -> None:
    assert types.pg_float_text(value) == text


@pytest.mark.parametrize(
    ("value", "ctype", "message"),
    [
        ("abc", "int4", 'invalid input syntax for type integer: "abc"'),
        (True, "int4", 'column "c" is of type integer but expression is of type boolean'),
        (1, "bool", 'column "c" is of type boolean but expression is of type integer'),
        ("notadate", "timestamp", 'invalid input syntax for type timestamp: "notadate"'),
        ("x", "_text", 'malformed array literal: "x"'),
        ({"a": 1}, "text", "can't adapt type 'dict'"),
        (2**31, "int4", "integer out of range"),
    ],
)
def test_coerce_errors_use_postgresql_messages(value: object, ctype: str, message: str) -> None:
    with pytest.raises(types.CoercionError) as info:
        types.coerce(value, ctype, "c")
    assert str(info.value) == message


def test_coerce_and_decode_round_trips() -> None:
    assert types.coerce("2.50", "numeric", "c") == "2.50"  # scale kept, as PostgreSQL's numeric
    assert types.decode("2.50", "numeric") == 2.5 and types.decode("3", "numeric") == 3
    assert types.coerce("2020-01-01", "timestamp", "c") == "2020-01-01T00:00:00"
    assert types.coerce("2020-01-01 10:11:12.5", "timestamp", "c") == "2020-01-01T10:11:12.500000"
    assert types.decode("2020-01-01T10:11:12.500000", "timestamp", seconds=True) == "2020-01-01T10:11:12"
    assert types.decode("2020-01-01T10:11:12.500000", "timestamp", seconds=True, millis=True) == (
        "2020-01-01T10:11:12.500"
    )
    assert types.coerce("12:30", "time", "c") == "12:30:00"
    assert types.coerce("yes", "bool", "c") == 1 and types.coerce("off", "bool", "c") == 0
    assert types.coerce("{a,b}", "_text", "c") == '["a","b"]'
    assert types.coerce([1, None, 3], "_int4", "c") == "[1,null,3]"
    assert types.coerce("{4,5}", "_int4", "c") == "[4,5]"
    with pytest.raises(types.CoercionError, match=r"is of type integer\[\] but expression is of type text\[\]"):
        types.coerce(["x"], "_int4", "c")
    assert types.coerce("01:02:03.25", "time", "c") == "01:02:03.25"
    assert types.coerce("-0.000", "numeric", "c") == "0.000"
    assert types.coerce("NaN", "float8", "c") == "NaN" and types.decode("NaN", "float8") == "NaN"
    assert types.decode(float("inf"), "float8") == "Infinity"
    assert types.coerce({"x": [1, 2]}, "json", "c") == '{"x": [1, 2]}'
    assert types.canonical_type("int") == "int4" and types.canonical_type("_int") == "_int4"
    assert types.canonical_type("nosuch") is None


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), ("", '""'), ("a,b", '"a,b"'), ('say "hi"', '"say ""hi"""'), ("a\nb", '"a\nb"'), ("plain", "plain")],
)
def test_copy_field_quotes_like_postgresql(value: str | None, text: str) -> None:
    assert copy_field(value, ",") == text


def test_full_text_rank_and_stemming() -> None:
    doc = fulltext.document(["hello world", 'say "quoted"'])
    assert fulltext.rank(doc, fulltext.parse_query("worlds", plain=True)) == 0.057308756
    assert fulltext.rank(doc, fulltext.parse_query("hel:*", plain=False)) is not None
    assert fulltext.rank(doc, fulltext.parse_query("hello missing", plain=True)) is None
    assert fulltext.rank(doc, fulltext.parse_query("hello | missing", plain=False)) is not None


@pytest.mark.parametrize(
    ("sql", "rewritten"),
    [
        ("SELECT n::numeric / 3 FROM t", "SELECT CAST(n AS REAL) / 3 FROM t"),
        ('SELECT "n"::int, a.b::text FROM t', 'SELECT CAST("n" AS INTEGER), CAST(a.b AS TEXT) FROM t'),
        ("SELECT count(*)::float8, (a+b)::int FROM t", "SELECT CAST(count(*) AS REAL), CAST((a+b) AS INTEGER) FROM t"),
        ("SELECT x::double precision y FROM t", "SELECT CAST(x AS REAL) y FROM t"),
        ("SELECT 'a::b', \"c::d\" FROM t", "SELECT 'a::b', \"c::d\" FROM t"),
    ],
)
def test_rewrite_casts(sql: str, rewritten: str) -> None:
    assert sqldialect.rewrite_casts(sql) == rewritten
