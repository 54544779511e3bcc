"""The Lucene query parser: unit cases, and property tests against a set-algebra model."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckanx.server.search import lucene
from ckanx.server.search.analysis import parse_date
from ckanx.server.search.engine import SearchIndex
from ckanx.server.search.lucene import MUST, MUST_NOT, SHOULD, BoolQuery, MatchAll, RangeQuery, TermQuery


def test_field_terms_phrases_and_default_field() -> None:
    q = lucene.parse('tags:water "air quality" name:x\\:y')
    assert q.clauses == [
        (MUST, TermQuery("tags", "water")),
        (MUST, TermQuery(None, "air quality", phrase=True)),
        (MUST, TermQuery("name", "x:y")),
    ]


def test_operators_follow_lucene_add_clause_rules() -> None:
    # default operator AND (CKAN's q.op): OR makes both neighbours optional
    assert [o for o, _ in lucene.parse("a OR b").clauses] == [SHOULD, SHOULD]
    assert [o for o, _ in lucene.parse("a b").clauses] == [MUST, MUST]
    assert [o for o, _ in lucene.parse("a -b +c").clauses] == [MUST, MUST_NOT, MUST]
    assert [o for o, _ in lucene.parse("a AND NOT b").clauses] == [MUST, MUST_NOT]
    # default operator OR (dismax): AND makes both required
    assert [o for o, _ in lucene.parse("a b", default_and=False).clauses] == [SHOULD, SHOULD]
    assert [o for o, _ in lucene.parse("a AND b c", default_and=False).clauses] == [MUST, MUST, SHOULD]
    assert [o for o, _ in lucene.parse("a && b || c", default_and=False).clauses] == [MUST, MUST, SHOULD]


def test_groups_ranges_wildcards_and_match_all() -> None:
    q = lucene.parse('tags:(a OR "b c") id:{"x-1" TO *] metadata_modified:[NOW-1DAY TO NOW] name:ab*d? *:*')
    group, idr, mod, wild, everything = (node for _, node in q.clauses)
    assert isinstance(group, BoolQuery)
    assert [n for _, n in group.clauses] == [TermQuery("tags", "a"), TermQuery("tags", "b c", phrase=True)]
    assert idr == RangeQuery("id", "x-1", None, False, True)
    assert mod == RangeQuery("metadata_modified", "NOW-1DAY", "NOW", True, True)
    assert wild == TermQuery("name", "ab*d?", wildcard=True)
    assert everything == MatchAll()


def test_boost_and_slop_are_accepted() -> None:
    q = lucene.parse('title:water^2 "a b"~3 (x y)^0.5')
    assert q.clauses[0][1] == TermQuery("title", "water", boost=2.0)
    assert q.clauses[1][1] == TermQuery(None, "a b", phrase=True)


@pytest.mark.parametrize(
    "bad", ["title:(unclosed", '"open', "x OR", "(a", "a)", "[a TO", "x:[a b]", "a \\", "a AND", "tags:"]
)
def test_syntax_errors(bad: str) -> None:
    with pytest.raises(lucene.QuerySyntaxError):
        lucene.parse(bad)


def test_minimum_should_match() -> None:
    spec = "2<-1 5<80%"
    assert [lucene.parse_mm(spec, n) for n in range(1, 9)] == [1, 2, 2, 3, 4, 4, 5, 6]
    assert lucene.parse_mm("100%", 3) == 3
    assert lucene.parse_mm("-1", 3) == 2


def test_date_math() -> None:
    now = dt.datetime(2024, 1, 31, 13, 45, 10)
    assert parse_date("NOW-1DAY", now) == dt.datetime(2024, 1, 30, 13, 45, 10)
    assert parse_date("NOW/DAY+1MONTH", now) == dt.datetime(2024, 2, 29)
    assert parse_date("NOW-2YEARS/YEAR", now) == dt.datetime(2022, 1, 1)
    assert parse_date("2020-05-01T10:00:00Z+6HOURS") == dt.datetime(2020, 5, 1, 16)
    assert parse_date("2020-05-01T10:00:00+02:00") == dt.datetime(2020, 5, 1, 8)
    assert parse_date("NOW-1FORTNIGHT", now) is None
    assert parse_date("yesterday") is None


@given(st.text(max_size=40))
@settings(max_examples=400)
def test_parser_never_crashes(q: str) -> None:
    with contextlib.suppress(lucene.QuerySyntaxError):
        lucene.parse(q)


# ---------------------------------------------------------------- model-based property test

TAGS = ["a", "b", "c", "d"]
ORGS = ["o1", "o2", "o3"]
FORMATS = ["CSV", "JSON"]


def _docs() -> list[dict[str, Any]]:
    docs = []
    for n in range(48):
        i = n
        tags = [t for k, t in enumerate(TAGS) if (i >> k) & 1]
        docs.append(
            {
                "id": f"id-{n:03d}",
                "name": f"ds-{n:03d}",
                "tags": tags,
                "organization": ORGS[i % 3],
                "res_format": [FORMATS[i % 2]] if i % 5 else [],
            }
        )
    return docs


DOCS = _docs()
INDEX = SearchIndex(keep_docs=True)
INDEX.add_many(dict(d) for d in DOCS)
ALL = {d["id"] for d in DOCS}

leaf = st.one_of(
    st.sampled_from(TAGS).map(lambda t: (f"tags:{t}", {d["id"] for d in DOCS if t in d["tags"]})),
    st.sampled_from(TAGS).map(lambda t: (f'tags:"{t}"', {d["id"] for d in DOCS if t in d["tags"]})),
    st.sampled_from(ORGS).map(lambda o: (f"organization:{o}", {d["id"] for d in DOCS if d["organization"] == o})),
    st.sampled_from(FORMATS).map(lambda f: (f"res_format:{f}", {d["id"] for d in DOCS if f in d["res_format"]})),
    st.integers(0, 47).map(lambda k: (f'id:{{"id-{k:03d}" TO *]', {d["id"] for d in DOCS if d["id"] > f"id-{k:03d}"})),
    st.integers(0, 47).map(
        lambda k: (f"name:[* TO ds-{k:03d}]", {d["id"] for d in DOCS if d["name"] <= f"ds-{k:03d}"})
    ),
    st.sampled_from(["ds-01*", "ds-0?3", "*7"]).map(
        lambda p: (f"name:{p}", {d["id"] for d in DOCS if __import__("fnmatch").fnmatchcase(d["name"], p)})
    ),
    st.just(("*:*", ALL)),
)


def _combine(children: Any) -> Any:
    def build(op: str, a: tuple[str, set[str]], b: tuple[str, set[str]]) -> tuple[str, set[str]]:
        if op in ("AND", "&&"):
            return f"({a[0]} {op} {b[0]})", a[1] & b[1]
        if op in ("OR", "||"):
            return f"({a[0]} {op} {b[0]})", a[1] | b[1]
        if op == "AND NOT":
            return f"({a[0]} AND NOT {b[0]})", a[1] - b[1]
        if op == "-":
            return f"({a[0]} -{b[0]})", a[1] - b[1]
        if op == "+":
            return f"(+{a[0]} +{b[0]})", a[1] & b[1]
        return f"(*:* -{a[0]})", ALL - a[1]  # "NOT"

    ops = st.sampled_from(["AND", "&&", "OR", "||", "AND NOT", "-", "+", "NOT"])
    return st.builds(build, ops, children, children)


queries = st.recursive(leaf, _combine, max_leaves=8)


@given(queries)
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_evaluation_matches_set_algebra(query: tuple[str, set[str]]) -> None:
    text, expected = query
    found = INDEX.search(text, rows=1000, sort="id asc")
    assert set(found.ids) == expected, text
    assert found.count == len(expected)
    assert found.ids == sorted(expected)


@given(queries, queries)
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_filters_intersect_and_facets_count_the_intersection(
    q1: tuple[str, set[str]], q2: tuple[str, set[str]]
) -> None:
    found = INDEX.search(q1[0], [q2[0]], rows=0, facet_fields=["tags", "organization"], facet_limit=-1)
    expected = q1[1] & q2[1]
    assert found.count == len(expected)
    by_id = {d["id"]: d for d in DOCS}
    tag_counts: dict[str, int] = {}
    for i in expected:
        for t in by_id[i]["tags"]:
            tag_counts[t] = tag_counts.get(t, 0) + 1
    assert dict(found.facets["tags"]) == tag_counts
    org_counts: dict[str, int] = {}
    for i in expected:
        org_counts[by_id[i]["organization"]] = org_counts.get(by_id[i]["organization"], 0) + 1
    assert dict(found.facets["organization"]) == org_counts
