"""The search engine (documents, index, evaluator, facets, sorting) on real CKAN package dicts.

Expected values are computed straight from the corpus dicts with plain Python (sets, Counter,
sorted), never from the engine itself.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ckanx.server.search.documents import solr_document
from ckanx.server.search.engine import QueryOptions, SearchIndex, SearchSyntaxError, SortError

CORPUS = Path("/work/shared/corpus")


def _load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def pkgs() -> list[dict[str, Any]]:
    out = _load(CORPUS / "envidat_ch" / "packages.jsonl") + _load(CORPUS / "sandiegodata_us" / "datasets.jsonl")
    # make a few private / draft / deleted so visibility filters have something to do
    for i, p in enumerate(out):
        p.setdefault("state", "active")
        if i % 17 == 0:
            p["private"] = True
        if i % 41 == 0:
            p["state"] = "draft"
    return out


@pytest.fixture(scope="module")
def index(pkgs: list[dict[str, Any]]) -> SearchIndex:
    ix = SearchIndex(keep_docs=True)
    ix.add_many(solr_document(p) for p in pkgs)
    return ix


def ids_of(index: SearchIndex, q: str = "*:*", fq: tuple[str, ...] = (), **kw: Any) -> set[str]:
    found = index.search(q, fq, rows=100_000, sort=kw.pop("sort", "id asc"), **kw)
    assert found.count == len(found.ids)
    return set(found.ids)


def tags(p: dict[str, Any]) -> set[str]:
    return {t["name"] for t in p.get("tags") or [] if not t.get("vocabulary_id")}


def formats(p: dict[str, Any]) -> set[str]:
    # CKAN indexes resource.get("format", ""): an empty format is a (facetable) empty string
    return {r.get("format", "") for r in p.get("resources") or [] if r.get("format", "") is not None}


def test_every_document_is_indexed(index: SearchIndex, pkgs: list[dict[str, Any]]) -> None:
    assert len(index) == len({p["id"] for p in pkgs})
    assert ids_of(index) == {p["id"] for p in pkgs}


def test_string_field_terms_are_exact_and_case_sensitive(index: SearchIndex, pkgs: list[dict[str, Any]]) -> None:
    counts = Counter(t for p in pkgs for t in tags(p))
    for tag, n in counts.most_common(8):
        assert len(ids_of(index, f'tags:"{tag}"')) == n
        assert ids_of(index, f'tags:"{tag.lower()}"') == {p["id"] for p in pkgs if tag.lower() in tags(p)}


def test_boolean_operators(index: SearchIndex, pkgs: list[dict[str, Any]]) -> None:
    (a, _), (b, _) = Counter(t for p in pkgs for t in tags(p)).most_common(2)
    has_a = {p["id"] for p in pkgs if a in tags(p)}
    has_b = {p["id"] for p in pkgs if b in tags(p)}
    every = {p["id"] for p in pkgs}
    assert ids_of(index, f'tags:"{a}" AND tags:"{b}"') == has_a & has_b
    assert ids_of(index, f'tags:"{a}" && tags:"{b}"') == has_a & has_b
    assert ids_of(index, f'tags:"{a}" OR tags:"{b}"') == has_a | has_b
    assert ids_of(index, f'tags:"{a}" || tags:"{b}"') == has_a | has_b
    assert ids_of(index, f'tags:("{a}" OR "{b}")') == has_a | has_b
    assert ids_of(index, f'tags:"{a}" -tags:"{b}"') == has_a - has_b
    assert ids_of(index, f'tags:"{a}" NOT tags:"{b}"') == has_a - has_b
    assert ids_of(index, f'tags:"{a}" !tags:"{b}"') == has_a - has_b
    assert ids_of(index, f'-tags:"{a}"') == every - has_a
    assert ids_of(index, f'*:* -tags:"{a}"') == every - has_a
    assert ids_of(index, f'(tags:"{a}" OR tags:"{b}") AND -(tags:"{a}" AND tags:"{b}")') == has_a ^ has_b
    # q.op=AND (CKAN's setting): juxtaposition means AND
    assert ids_of(index, f'tags:"{a}" tags:"{b}"') == has_a & has_b
    # fq entries are ANDed
    assert ids_of(index, fq=(f'tags:"{a}"', f'tags:"{b}"')) == has_a & has_b


def test_wildcards_and_field_existence(index: SearchIndex, pkgs: list[dict[str, Any]]) -> None:
    for pattern in ("*snow*", "gr?d*", "*-20??"):
        expected = {p["id"] for p in pkgs if fnmatch.fnmatchcase(p["name"], pattern)}
        assert ids_of(index, f"name:{pattern}") == expected, pattern
    assert ids_of(index, "url:*") == {p["id"] for p in pkgs if p.get("url")}
    assert ids_of(index, "-url:*") == {p["id"] for p in pkgs if not p.get("url")}
    assert ids_of(index, "url:[* TO *]") == {p["id"] for p in pkgs if p.get("url")}


def test_date_ranges_and_date_math(index: SearchIndex, pkgs: list[dict[str, Any]]) -> None:
    def when(p: dict[str, Any]) -> dt.datetime:
        return dt.datetime.fromisoformat(p["metadata_modified"])

    cut = dt.datetime(2021, 1, 1)
    assert ids_of(index, "metadata_modified:[2021-01-01T00:00:00Z TO *]") == {p["id"] for p in pkgs if when(p) >= cut}
    assert ids_of(index, "metadata_modified:{* TO 2021-01-01T00:00:00Z}") == {p["id"] for p in pkgs if when(p) < cut}
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    year_ago = now.replace(year=now.year - 1)
    got = ids_of(index, "metadata_modified:[NOW-1YEAR TO NOW]")
    assert got == {p["id"] for p in pkgs if year_ago <= when(p) <= now}
    assert ids_of(index, "metadata_created:[NOW/DAY-100YEARS TO NOW+1DAY]") == {p["id"] for p in pkgs}
    with pytest.raises(SearchSyntaxError):
        index.search("metadata_modified:[yesterday TO *]")


def test_keyset_paging_on_id_walks_everything_once(index: SearchIndex, pkgs: list[dict[str, Any]]) -> None:
    seen: list[str] = []
    last = None
    while True:
        fq = (f'id:{{"{last}" TO *]',) if last else ()
        page = index.search("*:*", fq, sort="id asc", rows=37).ids
        if not page:
            break
        seen.extend(page)
        last = page[-1]
    assert seen == sorted(p["id"] for p in pkgs)


def test_id_range_is_exclusive_and_inclusive_as_asked(index: SearchIndex, pkgs: list[dict[str, Any]]) -> None:
    ids = sorted(p["id"] for p in pkgs)
    mid = ids[len(ids) // 2]
    assert ids_of(index, f'id:{{"{mid}" TO *]') == set(ids[len(ids) // 2 + 1 :])
    assert ids_of(index, f'id:["{mid}" TO *]') == set(ids[len(ids) // 2 :])
    assert ids_of(index, f'id:[* TO "{mid}"}}') == set(ids[: len(ids) // 2])
    assert ids_of(index, f"id:[{ids[3]} TO {ids[9]}]") == set(ids[3:10])


def test_multi_key_sort(index: SearchIndex, pkgs: list[dict[str, Any]]) -> None:
    public = [p for p in pkgs]
    expected = sorted(public, key=lambda p: p["name"])
    expected = sorted(expected, key=lambda p: p["metadata_modified"][:23], reverse=True)
    got = index.search("*:*", sort="metadata_modified desc, name asc", rows=1000).ids
    # Solr keeps millisecond precision: compare on the (ms-truncated) sort keys
    by_id = {p["id"]: p for p in pkgs}
    assert [(by_id[i]["metadata_modified"][:23], by_id[i]["name"]) for i in got] == [
        (p["metadata_modified"][:23], p["name"]) for p in expected
    ]
    names = index.search("*:*", sort="name desc", rows=5, start=3).ids
    assert [by_id[i]["name"] for i in names] == sorted((p["name"] for p in pkgs), reverse=True)[3:8]


def test_bad_sorts(index: SearchIndex) -> None:
    with pytest.raises(SortError, match="Sort Order"):
        index.search("*:*", sort="name sideways")
    with pytest.raises(SortError, match="multivalued"):
        index.search("*:*", sort="tags asc")


def test_facets_count_documents(index: SearchIndex, pkgs: list[dict[str, Any]]) -> None:
    found = index.search("*:*", facet_fields=["tags", "res_format", "organization"], facet_limit=-1, rows=0)
    assert dict(found.facets["tags"]) == dict(Counter(t for p in pkgs for t in tags(p)))
    assert dict(found.facets["res_format"]) == dict(Counter(f for p in pkgs for f in formats(p)))
    orgs = Counter((p.get("organization") or {}).get("name") for p in pkgs)
    orgs.pop(None, None)
    assert dict(found.facets["organization"]) == dict(orgs)
    # limit -1: index order; limit n: count desc then value
    assert [k for k, _ in found.facets["tags"]] == sorted(k for k, _ in found.facets["tags"])
    top = index.search("*:*", facet_fields=["tags"], facet_limit=5, rows=0).facets["tags"]
    expected = sorted(Counter(t for p in pkgs for t in tags(p)).items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    assert top == expected


def test_facets_within_a_filter(index: SearchIndex, pkgs: list[dict[str, Any]]) -> None:
    fmt = "CSV"
    subset = [p for p in pkgs if fmt in formats(p)]
    found = index.search("*:*", [f"res_format:{fmt}"], facet_fields=["tags", "license_id"], facet_limit=-1, rows=0)
    assert found.count == len(subset)
    assert dict(found.facets["tags"]) == dict(Counter(t for p in subset for t in tags(p)))
    licenses = Counter(p.get("license_id") for p in subset if p.get("license_id"))
    assert dict(found.facets["license_id"]) == dict(licenses)
    assert (
        index.search("*:*", [f"res_format:{fmt}"], facet_fields=["tags"], facet_mincount=3).facets["tags"]
        == [
            kv
            for kv in sorted(Counter(t for p in subset for t in tags(p)).items(), key=lambda kv: (-kv[1], kv[0]))
            if kv[1] >= 3
        ][:50]
    )


def _words(text: str | None) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", (text or "").lower()))


def test_text_search_stems_and_lowercases(index: SearchIndex, pkgs: list[dict[str, Any]]) -> None:
    got = ids_of(index, "notes:Snow")
    must = {p["id"] for p in pkgs if {"snow", "snows"} & _words(p.get("notes"))}
    assert must <= got
    assert all("snow" in (p.get("notes") or "").lower() for p in pkgs if p["id"] in got)
    assert ids_of(index, "text:snow") >= got  # notes are copied into the catch-all text field


def test_phrase_needs_adjacent_words(index: SearchIndex, pkgs: list[dict[str, Any]]) -> None:
    got = ids_of(index, 'title:"research site"')
    both = {p["id"] for p in pkgs if {"research", "site"} <= _words(p.get("title"))}
    adjacent = {p["id"] for p in pkgs if re.search(r"\bresearch\W+sites?\b", (p.get("title") or "").lower())}
    assert adjacent and adjacent <= got <= both


def test_dismax_default_fields_and_minimum_match(index: SearchIndex, pkgs: list[dict[str, Any]]) -> None:
    qf = [("name", 4.0), ("title", 4.0), ("tags", 2.0), ("groups", 2.0), ("text", 1.0)]
    opts = QueryOptions(defType="dismax", qf=qf, mm="2<-1 5<80%")
    one = index.search("avalanche", opts=opts, rows=1000).ids
    assert set(one) == ids_of(index, "text:avalanche")
    # two terms: both required (mm "2<-1": up to 2 optional clauses all must match)
    two = set(index.search("avalanche snow", opts=opts, rows=1000).ids)
    assert two == ids_of(index, "text:avalanche AND text:snow")
    # default sort puts better (name/title) matches first; compare sets only
    assert set(index.search("avalanche", opts=opts, sort="score desc, metadata_modified desc", rows=1000).ids) == set(
        one
    )


def test_syntax_errors(index: SearchIndex) -> None:
    for bad in ("title:(unclosed", 'title:"open', "AND", "a OR", "[a TO", "name:[a b]"):
        with pytest.raises(SearchSyntaxError):
            index.search(bad)


def test_remove_and_reindex(pkgs: list[dict[str, Any]]) -> None:
    ix = SearchIndex(keep_docs=True)
    for p in pkgs[:20]:
        ix.add(solr_document(p))
    victim = pkgs[3]
    ix.remove(victim["id"])
    assert victim["id"] not in ids_of(ix)
    assert len(ix) == 19
    changed = dict(pkgs[4], title="Completely new heading", tags=[{"name": "fresh-tag"}])
    ix.add(solr_document(changed))
    assert ids_of(ix, "tags:fresh-tag") == {changed["id"]}
    assert ids_of(ix, "title:heading") == {changed["id"]}
    assert len(ix) == 19
    facets = ix.search("*:*", facet_fields=["tags"], facet_limit=-1).facets["tags"]
    expected = Counter(t for p in pkgs[:20] if p["id"] not in (victim["id"], changed["id"]) for t in tags(p))
    expected["fresh-tag"] += 1
    assert dict(facets) == dict(expected)


def test_solr_document_shape(pkgs: list[dict[str, Any]]) -> None:
    p = next(p for p in pkgs if p.get("extras") and p.get("resources") and p.get("organization"))
    doc = solr_document(p)
    assert doc["organization"] == p["organization"]["name"]
    assert doc["capacity"] == ("private" if p.get("private") else "public")
    assert doc["res_url"] == [r.get("url", "") for r in p["resources"]]
    for extra in p["extras"]:
        key = "".join(c for c in extra["key"] if c.isalnum() or c in "_-")
        if extra["value"] in (None, ""):  # pysolr drops null and empty values
            assert "extras_" + key not in doc
        else:
            assert doc["extras_" + key] == extra["value"]
    assert doc["metadata_modified"] == p["metadata_modified"] + "Z"
    assert doc["permission_labels"] == (
        ["public"] if p["state"] == "active" and not p.get("private") else [f"member-{p['owner_org']}"]
    )


def test_phrase_prefilter_loads_few_documents(pkgs: list[dict[str, Any]]) -> None:
    """Phrase candidates are confirmed on documents; the pair signatures keep those loads few."""
    ix = SearchIndex()
    ix.add_many(solr_document(p) for p in pkgs)
    by_id = {p["id"]: p for p in pkgs}
    loaded: list[str] = []

    def fetch(ids: list[str]) -> dict[str, dict[str, Any]]:
        loaded.extend(ids)
        return {i: solr_document(by_id[i]) for i in ids}

    # "swiss" and "data" appear together in ~70 notes but side by side in very few
    got = set(ix.search('notes:"swiss data"', fetch_docs=fetch, rows=1000).ids)
    both = {p["id"] for p in pkgs if {"swiss", "data"} <= _words(p.get("notes"))}
    adjacent = {p["id"] for p in pkgs if re.search(r"\bswiss\W+data\b", (p.get("notes") or "").lower())}
    assert adjacent and adjacent <= got <= both
    # without the signatures every co-occurrence would be loaded; with them only documents with the
    # pair somewhere in their text (any field) or a signature collision
    assert len(loaded) <= len(both) // 4


def test_cached_sort_orders_follow_adds_and_removes(pkgs: list[dict[str, Any]]) -> None:
    ix = SearchIndex(keep_docs=True)
    ix.add_many(solr_document(p) for p in pkgs[:200])
    spec = "metadata_modified desc, name asc"
    ix.search("*:*", sort=spec, rows=5)  # builds and caches the global order
    by_id = {p["id"]: p for p in pkgs}
    live = {p["id"]: p for p in pkgs[:200]}
    for i, p in enumerate(pkgs[200:260]):
        changed = dict(p, metadata_modified=pkgs[i]["metadata_modified"], name=f"zz-{i}")
        by_id[p["id"]] = changed
        live[p["id"]] = changed
        ix.add(solr_document(changed))
        if i % 3 == 0:
            gone = pkgs[i * 2]["id"]
            ix.remove(gone)
            live.pop(gone, None)
    expected = sorted(live.values(), key=lambda p: p["name"])
    expected = sorted(expected, key=lambda p: p["metadata_modified"][:23], reverse=True)
    got = ix.search("*:*", sort=spec, rows=1000).ids
    assert [(live[i]["metadata_modified"][:23], live[i]["name"]) for i in got] == [
        (p["metadata_modified"][:23], p["name"]) for p in expected
    ]
    # and with a filter walking the cached order
    half = ix.search("*:*", ["-tags:*"], sort=spec, rows=1000).ids
    assert half == [i for i in got if not tags(live[i])]
