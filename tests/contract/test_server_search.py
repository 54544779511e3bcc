"""package_search (q, fq, fq_list, sort, paging, fl, facets, include_private, errors) and friends.

The real CKAN's search runs on a Solr stand-in whose relevance ranking is crude, and the real
site is shared with other tests: every query is scoped to this module's two organizations
(through ``fq_list``) and results are compared as *sets* of names unless the case gives an
explicit ``sort``, in which case the order is part of the contract.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from normalise import run_key

from conftest import Case, Target, new_run_id


@dataclass
class Corpus:
    run: str
    org_a: str
    org_b: str

    def scope(self) -> str:
        return f"organization:({self.org_a} OR {self.org_b})"


SPECS: list[dict[str, Any]] = [
    {"name": "alpha", "title": "River water quality", "notes": "Nitrate levels in rivers",
     "tags": ["water", "rivers"], "license_id": "cc-by", "formats": ["CSV"],
     "extras": [{"key": "theme", "value": "environment"}]},
    {"name": "bravo", "title": "City population", "notes": "Populations of cities",
     "tags": ["population", "cities"], "license_id": "odc-by", "formats": ["JSON"]},
    {"name": "charlie", "title": "Water prices", "notes": "What water costs",
     "tags": ["water", "economy"], "license_id": "cc-by", "formats": ["CSV", "XLSX"]},
    {"name": "delta", "title": "Air quality", "notes": "Private measurements",
     "tags": ["air"], "formats": ["CSV"], "private": True},
    {"name": "echo", "title": "Water in the other org", "notes": "Lakes",
     "tags": ["water"], "formats": [], "org": "b"},
    {"name": "foxtrot", "title": "Deleted water", "notes": "gone", "tags": ["water"],
     "formats": [], "deleted": True},
    {"name": "golf", "title": "Budget 2020", "notes": "Spending on water and air",
     "tags": [], "formats": ["PDF"]},
]


@pytest.fixture(scope="module")
def corpus(target: Target) -> Corpus:
    run = new_run_id()
    org_a = target.make_org(f"{run}-a", title="Org A")["name"]
    org_b = target.make_org(f"{run}-b", title="Org B")["name"]
    for spec in SPECS:
        data = {
            "name": f"{run}-{spec['name']}",
            "title": spec["title"],
            "notes": spec["notes"],
            "owner_org": org_b if spec.get("org") == "b" else org_a,
            "tags": [{"name": t} for t in spec["tags"]],
            "resources": [{"url": f"http://example.com/{i}", "format": f,
                           "name": f"{run}-{spec['name']}-r{i}"}
                          for i, f in enumerate(spec["formats"])],
            "private": spec.get("private", False),
            "extras": spec.get("extras", []),
        }
        if "license_id" in spec:
            data["license_id"] = spec["license_id"]
        pkg = target.ok("package_create", data)
        if spec.get("deleted"):
            target.ok("package_delete", {"id": pkg["id"]})
    return Corpus(run, org_a, org_b)


def search_view(ordered: bool, *, facets: bool = False, fl: bool = False) -> Any:
    """Reduce a package_search body to count, names (a set unless ``ordered``), sort and,
    on request, facets or the raw ``fl`` results."""

    def view(body: Any) -> Any:
        if not isinstance(body, dict) or not body.get("success"):
            return body
        res = body["result"]
        out: dict[str, Any] = {"count": res["count"], "sort": res.get("sort")}
        if fl:
            items = res["results"]
            out["results"] = items if ordered else sorted(
                items, key=lambda r: run_key(str(r.get("name")) + json.dumps(r, sort_keys=True)))
        else:
            names = [r.get("name") for r in res["results"]]
            out["names"] = names if ordered else sorted(names, key=lambda n: run_key(str(n)))
        if facets:
            out["facets"] = res.get("facets")
            out["search_facets"] = res.get("search_facets")
        return out

    return view


# (id, params); "{run}" in strings is replaced by the corpus's run id, "{a}"/"{b}" by org names.
SEARCHES: list[tuple[str, dict[str, Any]]] = [
    ("all", {}),
    ("q_word", {"q": "water"}),
    ("q_word_capitalised", {"q": "Water"}),
    ("q_two_words", {"q": "water quality"}),
    ("q_and", {"q": "water AND rivers"}),
    ("q_or", {"q": "rivers OR population"}),
    ("q_not", {"q": "water -rivers"}),
    ("q_phrase", {"q": '"water quality"'}),
    ("q_field_title", {"q": "title:water"}),
    ("q_field_tags", {"q": "tags:water"}),
    ("q_field_name", {"q": "name:{run}-alpha"}),
    ("q_notes_word", {"q": "nitrate"}),
    ("q_stemmed", {"q": "populations"}),
    ("q_wildcard", {"q": "wat*"}),
    ("q_res_format", {"q": "res_format:CSV"}),
    ("q_license", {"q": "license_id:cc-by"}),
    ("q_star", {"q": "*:*"}),
    ("q_no_match", {"q": "zzzyyyxxx"}),
    ("q_extras", {"q": "theme:environment"}),
    ("q_unknown_field", {"q": "nosuchfield:x"}),
    ("fq_tags", {"fq": "tags:water"}),
    ("fq_res_format", {"fq": "res_format:JSON"}),
    ("fq_organization", {"fq": "organization:{b}"}),
    ("fq_negated", {"fq": "-tags:water"}),
    ("fq_and_q", {"q": "quality", "fq": "tags:water"}),
    ("fq_list_two", {"fq_list": ["tags:water", "res_format:CSV"]}),
    ("fq_list_empty_result", {"fq_list": ["tags:water", "tags:population"]}),
    ("fq_range_name", {"fq": 'name:["{run}-b" TO "{run}-d"]'}),
    ("sort_name_asc", {"sort": "name asc"}),
    ("sort_name_desc", {"sort": "name desc"}),
    ("sort_title_string", {"sort": "title_string asc"}),
    ("sort_metadata_created", {"sort": "metadata_created asc"}),
    ("sort_metadata_modified_desc", {"sort": "metadata_modified desc"}),
    ("sort_two_keys", {"sort": "license_id asc, name desc"}),
    ("sort_with_q", {"q": "water", "sort": "name asc"}),
    ("rows_2", {"sort": "name asc", "rows": 2}),
    ("rows_start", {"sort": "name asc", "rows": 2, "start": 2}),
    ("start_past_end", {"sort": "name asc", "start": 50}),
    ("rows_0", {"rows": 0}),
    ("rows_over_cap", {"sort": "name asc", "rows": 5000}),
    ("rows_string_number", {"sort": "name asc", "rows": "3"}),
    ("include_private", {"include_private": True}),
    ("include_private_string", {"include_private": "true"}),
    ("include_private_false", {"include_private": False}),
    ("include_drafts", {"include_drafts": True}),
]


def _fill(value: Any, c: Corpus) -> Any:
    if isinstance(value, str):
        return value.replace("{run}", c.run).replace("{a}", c.org_a).replace("{b}", c.org_b)
    if isinstance(value, list):
        return [_fill(v, c) for v in value]
    return value


def _params(c: Corpus, params: dict[str, Any]) -> dict[str, Any]:
    data = {k: _fill(v, c) for k, v in params.items()}
    data["fq_list"] = [c.scope(), *data.get("fq_list", [])]
    return data


@pytest.mark.parametrize("params", [p for _, p in SEARCHES], ids=[i for i, _ in SEARCHES])
def test_search(ckan: Case, corpus: Corpus, params: dict[str, Any]) -> None:
    ckan.call("package_search", _params(corpus, params),
              view=search_view("sort" in params))


# Errors and odd parameters: the whole error body is the contract, except where the message
# embeds Solr's internals (see _error_view).
ERRORS: list[tuple[str, dict[str, Any]]] = [
    ("bad_sort_direction", {"sort": "name sideways"}),
    ("bad_sort_field", {"sort": "nosuchfield asc"}),
    ("sort_multivalued", {"sort": "tags asc"}),
    ("bad_q_syntax", {"q": "title:(unclosed"}),
    ("rows_abc", {"rows": "abc"}),
    ("rows_negative", {"rows": -1}),
    ("start_abc", {"start": "x"}),
    ("start_negative", {"start": -5}),
    ("facet_field_not_list", {"facet.field": "tags"}),
    ("facet_limit_abc", {"facet.limit": "x", "facet.field": ["tags"]}),
    ("unknown_param", {"junk": "1"}),
    ("include_private_abc", {"include_private": "maybe"}),
    ("fq_list_not_list", {"fq_list": "tags:water"}),
]


def _error_view(body: Any) -> Any:
    # "Search error: 'SOLR returned an error running query: {...the whole Solr query...}'" ends
    # with internals of Solr; the contract is the type and the message's fixed prefix.
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = dict(body["error"])
        msg = err.get("message")
        if isinstance(msg, str) and msg.startswith("Search error:"):
            err["message"] = msg[: len("Search error: 'SOLR returned an error running query")]
        return {**body, "error": err}
    return search_view(False)(body)


@pytest.mark.parametrize("params", [p for _, p in ERRORS], ids=[i for i, _ in ERRORS])
def test_search_errors(ckan: Case, corpus: Corpus, params: dict[str, Any]) -> None:
    data = {k: _fill(v, corpus) for k, v in params.items()}
    if "fq_list" not in data:
        data["fq_list"] = [corpus.scope()]
    else:
        data["fq"] = corpus.scope()
    ckan.call("package_search", data, view=_error_view)


FACETS: list[tuple[str, dict[str, Any]]] = [
    ("tags", {"facet.field": ["tags"]}),
    ("several", {"facet.field": ["tags", "organization", "res_format", "license_id"]}),
    ("limit_1", {"facet.field": ["tags"], "facet.limit": 1}),
    ("mincount_2", {"facet.field": ["tags"], "facet.mincount": 2}),
    ("limit_all", {"facet.field": ["tags"], "facet.limit": -1}),
    ("facet_false", {"facet.field": ["tags"], "facet": "false"}),
    ("with_q", {"q": "water", "facet.field": ["tags", "res_format"]}),
    ("json_string", {"facet.field": '["tags"]'}),
]


@pytest.mark.parametrize("params", [p for _, p in FACETS], ids=[i for i, _ in FACETS])
def test_search_facets(ckan: Case, corpus: Corpus, params: dict[str, Any]) -> None:
    ckan.call("package_search", {**_params(corpus, params), "rows": 0},
              view=search_view(False, facets=True))


FL: list[tuple[str, dict[str, Any]]] = [
    ("name_title", {"fl": "name,title", "sort": "name asc"}),
    ("name_only", {"fl": "name", "sort": "name asc", "rows": 3}),
    ("id_unsorted", {"fl": "id,name"}),
    ("space_separated", {"fl": "name title", "sort": "name asc", "rows": 2}),
]


@pytest.mark.parametrize("params", [p for _, p in FL], ids=[i for i, _ in FL])
def test_search_fl(ckan: Case, corpus: Corpus, params: dict[str, Any]) -> None:
    ckan.call("package_search", _params(corpus, params),
              view=search_view("sort" in params, fl=True))


def test_search_sort_id_asc(ckan: Case, corpus: Corpus) -> None:
    # ids differ between sites, so the contract is "ordered by id" and the set of names
    status, body = ckan.call("package_search", _params(corpus, {"sort": "id asc", "rows": 100}),
                             view=search_view(False))
    ids = [r["id"] for r in body["result"]["results"]] if status == 200 else None
    ckan.note("ids ascending", ids == sorted(ids) if ids else ids)


def test_search_keyset_walk(ckan: Case, corpus: Corpus) -> None:
    # the stable walk CKAN-FACTS recommends: sort id asc, fq id > last, start 0
    seen: list[str] = []
    last = None
    for _ in range(10):
        fq = [corpus.scope()] + ([f'id:{{"{last}" TO *]'] if last else [])
        status, body = ckan.target.call("package_search", {"sort": "id asc", "rows": 2,
                                                           "fq_list": fq, "fl": "id,name"})
        if status != 200:
            ckan.note("walk failed", [status, body])
            return
        page = body["result"]["results"]
        if not page:
            break
        seen.extend(r["name"] for r in page)
        last = page[-1]["id"]
    ckan.note("walked names", sorted(run_key(n) for n in seen))
    ckan.note("no duplicates", len(seen) == len(set(seen)))


def test_search_result_matches_package_show(ckan: Case, corpus: Corpus) -> None:
    name = f"{corpus.run}-alpha"
    _, body = ckan.call("package_search", {"fq_list": [f'name:"{name}"']},
                        view=lambda b: {"count": b["result"]["count"]} if b.get("success") else b)
    shown = ckan.setup("package_show", {"id": name})
    found = body["result"]["results"][0] if body.get("success") and body["result"]["results"] \
        else None
    ckan.note("result keys", sorted(found) if found else None)
    ckan.note("differing keys vs package_show",
              sorted(k for k in shown if found is None or found.get(k) != shown[k]))


def test_search_get_query_string(ckan: Case, corpus: Corpus) -> None:
    ckan.call("package_search", {"q": "water", "fq": corpus.scope(), "sort": "name asc",
                                 "facet.field": '["tags"]', "rows": "10"},
              method="GET", view=search_view(True, facets=True))


def test_search_as_anonymous_and_member(ckan: Case, corpus: Corpus) -> None:
    params = _params(corpus, {"include_private": True, "sort": "name asc"})
    ckan.call("package_search", params, as_="anonymous", view=search_view(True))
    member = ckan.actor("member", corpus.org_a)
    ckan.call("package_search", params, as_=member, view=search_view(True))


def test_package_autocomplete(ckan: Case, corpus: Corpus) -> None:
    ckan.call("package_autocomplete", {"q": f"{corpus.run}-al"}, method="GET")
    ckan.call("package_autocomplete", {"q": f"{corpus.run}-zz"}, label="no match")
    ckan.call("package_autocomplete", {}, label="no q")


def test_resource_search(ckan: Case, corpus: Corpus) -> None:
    def view(body: Any) -> Any:
        if not body.get("success"):
            return body
        res = body["result"]
        return {"count": res["count"],
                "results": sorted((r["format"], r["name"]) for r in res["results"])}

    ckan.call("resource_search", {"query": f"name:{corpus.run}-charlie"}, view=view,
              label="name")
    ckan.call("resource_search", {"query": [f"name:{corpus.run}-charlie", "format:XLSX"]},
              view=view, label="name and format")
    ckan.call("resource_search", {"query": "nosuch:x"}, label="unknown field")
    ckan.call("resource_search", {}, view=lambda b: b if not b.get("success") else {
        "success": True}, label="no query")


def test_search_default_rows_is_ten(ckan: Case) -> None:
    org = ckan.org()
    for i in range(12):
        ckan.dataset(f"d{i:02d}", org)
    fq = f"organization:{org['name']}"
    ckan.call("package_search", {"fq": fq}, view=lambda b: {
        "count": b["result"]["count"], "returned": len(b["result"]["results"])}
        if b.get("success") else b)
    ckan.call("package_search", {"fq": fq, "sort": "name desc", "start": 10},
              view=search_view(True), label="second page")
