"""package_search, resource_search, package_autocomplete and the count helper, through the app.

Error bodies are the ones the real CKAN 2.11.6 sends for the same requests (checked by hand with
the same parameters; see ``/work/shared/real-ckan/README.md``).
"""

from __future__ import annotations

from typing import Any

import pytest

from ckanx.server.search import actions as search_actions
from ckanx.server.search import indexing


@pytest.fixture
def site(api: Any, make_org: Any, make_user: Any) -> dict[str, Any]:
    member, member_token = make_user()
    _, outsider_token = make_user()
    org = make_org(title="Water Board", users=[(member["name"], "member")])
    other = make_org(title="Roads Office")
    made = {}
    specs = [
        ("ws-river", "River levels", ["water", "hydrology"], "CSV", org, False, "active"),
        ("ws-lake", "Lake temperature readings", ["water", "climate"], "JSON", org, False, "active"),
        ("ws-roads", "Road works", ["transport"], "CSV", other, False, "active"),
        ("ws-secret", "Secret water plans", ["water"], "PDF", org, True, "active"),
        ("ws-draft", "Draft water notes", ["water"], "CSV", org, False, "draft"),
    ]
    for name, title, tags, fmt, owner, private, state in specs:
        status, body = api(
            "package_create",
            {
                "name": name,
                "title": title,
                "owner_org": owner["id"],
                "private": private,
                "state": state,
                "license_id": "cc-by",
                "tags": [{"name": t} for t in tags],
                "resources": [
                    {"url": f"http://example.com/{name}.{fmt.lower()}", "format": fmt, "name": f"{name} data"}
                ],
            },
        )
        assert status == 200, body
        made[name] = body["result"]
    return {
        "org": org,
        "other": other,
        "datasets": made,
        "member_token": member_token,
        "outsider_token": outsider_token,
    }


def names(body: dict[str, Any]) -> list[str]:
    return [r["name"] for r in body["result"]["results"]]


def search(api: Any, data: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    status, body = api("package_search", data or {}, **kw)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


def test_default_visibility_and_shapes(api: Any, site: dict[str, Any]) -> None:
    body = search(api, {"sort": "name asc"})
    assert names(body) == ["ws-lake", "ws-river", "ws-roads"]
    result = body["result"]
    assert list(result) == ["count", "facets", "results", "sort", "search_facets"]
    assert result["count"] == 3 and result["facets"] == {} and result["search_facets"] == {}
    assert result["results"][0] == api("package_show", {"id": "ws-lake"})[1]["result"]


def test_private_and_drafts_follow_permission_labels(api: Any, site: dict[str, Any]) -> None:
    everything = {"include_private": True, "include_drafts": True, "sort": "name asc"}
    assert names(search(api, everything)) == ["ws-draft", "ws-lake", "ws-river", "ws-roads", "ws-secret"]
    member = names(search(api, everything, token=site["member_token"]))
    assert member == ["ws-draft", "ws-lake", "ws-river", "ws-roads", "ws-secret"]
    outsider = names(search(api, everything, token=site["outsider_token"]))
    assert outsider == ["ws-lake", "ws-river", "ws-roads"]
    assert names(search(api, everything, token=None)) == ["ws-lake", "ws-river", "ws-roads"]
    # include_private defaults to false, for sysadmins too
    assert "ws-secret" not in names(search(api, {"rows": 100}))
    # an explicit +state in fq replaces the default state filter
    assert names(search(api, {"fq": "+state:draft"})) == ["ws-draft"]


def test_facets_and_search_facets(api: Any, site: dict[str, Any]) -> None:
    body = search(api, {"facet.field": '["organization", "tags", "license_id"]', "include_private": True})
    result = body["result"]
    assert result["facets"]["organization"] == {site["org"]["name"]: 3, site["other"]["name"]: 1}
    assert result["facets"]["tags"] == {"water": 3, "climate": 1, "hydrology": 1, "transport": 1}
    org_items = result["search_facets"]["organization"]["items"]
    assert org_items == [
        {"name": site["org"]["name"], "display_name": "Water Board", "count": 3},
        {"name": site["other"]["name"], "display_name": "Roads Office", "count": 1},
    ]
    assert result["search_facets"]["license_id"]["items"] == [
        {"name": "cc-by", "display_name": "Creative Commons Attribution", "count": 4}
    ]
    # facet.limit / facet.mincount
    limited = search(api, {"facet.field": ["tags"], "facet.limit": 1, "include_private": True})
    assert limited["result"]["facets"] == {"tags": {"water": 3}}
    mincount = search(api, {"facet.field": ["tags"], "facet.mincount": 2, "include_private": True})
    assert mincount["result"]["facets"] == {"tags": {"water": 3}}
    # GET with facet.field as a JSON string
    status, got = api("package_search", {"facet.field": '["tags"]', "fq": "tags:water"}, method="GET")
    assert status == 200 and got["result"]["facets"] == {"tags": {"water": 2, "climate": 1, "hydrology": 1}}


def test_q_fq_sort_rows_start_fl(api: Any, site: dict[str, Any]) -> None:
    assert names(search(api, {"q": "temperature"})) == ["ws-lake"]
    assert names(search(api, {"q": "tags:water", "sort": "name desc"})) == ["ws-river", "ws-lake"]
    assert names(search(api, {"fq": "res_format:CSV", "sort": "name asc"})) == ["ws-river", "ws-roads"]
    assert names(search(api, {"fq_list": ["tags:water", "res_format:JSON"]})) == ["ws-lake"]
    paged = search(api, {"sort": "name asc", "rows": 1, "start": 1})
    assert names(paged) == ["ws-river"] and paged["result"]["count"] == 3
    multi = search(api, {"sort": "metadata_modified desc, name asc"})
    assert multi["result"]["sort"] == "metadata_modified desc, name asc"
    assert names(multi) == ["ws-roads", "ws-lake", "ws-river"]
    fl = search(api, {"fl": "id,name", "sort": "name asc", "rows": 1})
    assert fl["result"]["results"] == [{"id": site["datasets"]["ws-lake"]["id"], "name": "ws-lake"}]
    ids = sorted(d["id"] for n, d in site["datasets"].items() if n in ("ws-lake", "ws-river", "ws-roads"))
    keyset = search(api, {"sort": "id asc", "fq": f'id:{{"{ids[0]}" TO *]', "fl": ["id"]})
    assert [r["id"] for r in keyset["result"]["results"]] == ids[1:]


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        ({"rows": "abc"}, 409, {"rows": ["Invalid integer", "Please enter an integer value"]}),
        ({"rows": -1}, 409, {"rows": ["Must be a natural number"]}),
        (
            {"start": "x", "rows": "y"},
            409,
            {"start": ["Invalid integer"], "rows": ["Invalid integer", "Please enter an integer value"]},
        ),
        ({"facet.limit": "x"}, 409, {"facet.limit": ["Invalid integer"]}),
        ({"facet.mincount": -1}, 409, {"facet.mincount": ["Must be a natural number"]}),
        ({"facet.field": "tags"}, 409, {"facet.field": ["Could not parse as valid JSON", "Not a list"]}),
        ({"facet.field": "[1]"}, 409, {"facet.field": ["Not a string: 1"]}),
    ],
)
def test_validation_errors(api: Any, data: dict[str, Any], status: int, error: dict[str, Any]) -> None:
    got_status, body = api("package_search", data)
    assert got_status == status
    assert body["error"] == {**error, "__type": "Validation Error"}


def test_search_errors(api: Any) -> None:
    status, body = api("package_search", {"foo": "bar"})
    assert status == 400
    assert body["error"] == {
        "__type": "Search Query Error",
        "message": "Search Query is invalid: \"Invalid search parameters: ['foo']\"",
    }
    status, body = api("package_search", {"sort": "name sideways"})
    assert (status, body["error"]) == (
        400,
        {"__type": "Search Query Error", "message": "Search Query is invalid: 'Invalid \"sort\" parameter'"},
    )
    status, body = api("package_search", {"sort": "tags asc"})
    assert status == 409 and body["error"]["__type"] == "Search Error"
    assert "can not sort on multivalued field: tags" in body["error"]["message"]
    status, body = api("package_search", {"q": "title:(unclosed"})
    assert status == 409 and body["error"]["__type"] == "Search Error"
    assert body["error"]["message"].startswith("Search error: 'SOLR returned an error running query: ")
    status, body = api("package_search", {"q": "{!lucene}x"})
    assert (status, body["error"]["message"]) == (
        409,
        "Search error: \"Local parameters are not supported in param 'q'.\"",
    )
    status, body = api("package_search", {"include_private": "maybe"})
    assert (status, body["error"]["__type"]) == (500, "Internal Server Error")


def test_rows_are_capped_and_ext_params_ignored(api: Any, site: dict[str, Any]) -> None:
    body = search(api, {"rows": 5000, "ext_bbox": "1,2,3,4"})
    assert body["result"]["count"] == 3 and len(body["result"]["results"]) == 3


def test_index_follows_updates_deletes_and_purges(api: Any, site: dict[str, Any], server: Any) -> None:
    status, _ = api("package_patch", {"id": "ws-roads", "title": "Bridge inspections", "tags": [{"name": "bridges"}]})
    assert status == 200
    assert names(search(api, {"q": "bridge"})) == ["ws-roads"]
    assert names(search(api, {"fq": "tags:transport"})) == []
    assert api("package_delete", {"id": "ws-lake"})[0] == 200
    assert "ws-lake" not in names(search(api, {"rows": 100}))
    # CKAN removes deleted datasets from the index (ckan.search.remove_deleted_packages, default
    # true): include_deleted finds nothing, as on CKAN 2.11.6
    assert names(search(api, {"include_deleted": True, "fq": "name:ws-lake"})) == []
    assert names(search(api, {"fq": "+state:deleted"})) == []
    assert api("dataset_purge", {"id": "ws-river"})[0] == 200
    assert names(search(api, {"sort": "name asc"})) == ["ws-roads"]
    # a fresh index built from the database at startup agrees
    before = search(api, {"include_private": True, "include_drafts": True, "sort": "name asc", "rows": 100})
    indexing.rebuild(server)
    after = search(api, {"include_private": True, "include_drafts": True, "sort": "name asc", "rows": 100})
    assert names(after) == names(before) == ["ws-draft", "ws-roads", "ws-secret"]


def test_count_helper(api: Any, site: dict[str, Any], server: Any) -> None:
    org_id = site["org"]["id"]
    assert search_actions.count(server, f"owner_org:{org_id}") == 3  # private included, draft not
    assert search_actions.count(server, f"owner_org:{org_id}", include_private=False) == 2
    assert search_actions.count(server, "tags:transport") == 1


def test_resource_search(api: Any, site: dict[str, Any]) -> None:
    status, body = api("resource_search", {"query": "format:csv", "order_by": "name"})
    assert status == 200
    # public active datasets only (not the private or draft ones), case-insensitive substring
    assert [r["name"] for r in body["result"]["results"]] == ["ws-river data", "ws-roads data"]
    assert body["result"]["count"] == 2
    status, body = api(
        "resource_search", {"query": ["name:data", "url:example.com"], "offset": 1, "limit": 1, "order_by": "name"}
    )
    assert (body["result"]["count"], [r["name"] for r in body["result"]["results"]]) == (3, ["ws-river data"])
    assert api("resource_search", {})[1]["error"] == {"query": "Missing value", "__type": "Validation Error"}
    assert api("resource_search", {"query": "nocolon"})[1]["error"]["query"] == "Must be <field>:<value> pair(s)"
    assert (
        api("resource_search", {"query": "bogus:x"})[1]["error"]["query"]
        == 'Field "bogus" not recognised in resource_search.'
    )
    assert api("resource_search", {"query": "format:csv", "limit": "x"})[1]["error"]["limit"] == ["Invalid integer"]


def test_package_autocomplete(api: Any, site: dict[str, Any]) -> None:
    status, body = api("package_autocomplete", {"q": "ws-r"})
    assert status == 200
    assert sorted(r["name"] for r in body["result"]) == ["ws-river", "ws-roads"]
    assert {r["match_field"] for r in body["result"]} == {"name"}
    _, body = api("package_autocomplete", {"q": "temperature"})
    assert body["result"] == [
        {
            "name": "ws-lake",
            "title": "Lake temperature readings",
            "match_field": "title",
            "match_displayed": "Lake temperature readings (ws-lake)",
        }
    ]
    _, body = api("package_autocomplete", {"q": "ws", "limit": 1})
    assert len(body["result"]) == 1
    status, body = api("package_autocomplete", {})
    assert (status, body["error"]) == (409, {"q": ["Missing value"], "__type": "Validation Error"})


def test_vocabulary_tags_are_indexed_under_their_vocabulary(api: Any, make_org: Any) -> None:
    # same calls as on CKAN 2.11.6, which answered as asserted below
    org = make_org()
    status, body = api("vocabulary_create", {"name": "genre", "tags": [{"name": "jazzy"}]})
    assert status == 200, body
    vocab_id = body["result"]["id"]
    tags = [{"name": "jazzy", "vocabulary_id": vocab_id}, {"name": "free"}]
    assert api("package_create", {"name": "vt-ds", "owner_org": org["id"], "tags": tags})[0] == 200
    assert names(search(api, {"fq": "vocab_genre:jazzy"})) == ["vt-ds"]
    assert names(search(api, {"fq": "tags:jazzy"})) == []
    assert names(search(api, {"q": "jazzy"})) == ["vt-ds"]
    facets = search(api, {"facet.field": '["vocab_genre", "tags"]'})["result"]["facets"]
    assert facets == {"vocab_genre": {"jazzy": 1}, "tags": {"free": 1}}
    fl = search(api, {"fl": "name,vocab_genre,tags"})["result"]["results"]
    assert fl == [{"name": "vt-ds", "vocab_genre": ["jazzy"], "tags": ["free"]}]


@pytest.mark.parametrize(
    "fl",
    [
        ["id"],
        ["id,name"],
        ["name title metadata_modified metadata_created tags groups organization res_format license_id"],
        ["state", "capacity", "res_url", "dataset_type"],
    ],
)
def test_fl_from_index_columns_agrees_with_documents(site: dict[str, Any], server: Any, fl: list[str]) -> None:
    from ckanx.server.datasets import models

    index = indexing.get_index(server)
    ids = list(index.slot_of)
    fast = search_actions._fl_from_index(index, ids, fl)
    with server.db.transaction() as conn:
        pkgs = models.package_dicts(conn, ids)
        slow = [search_actions._render_fl(indexing.document_for(conn, p), p, fl) for p in pkgs]
    assert fast is not None
    assert fast == slow
    assert [list(r) for r in fast] == [list(r) for r in slow]  # same key order


def test_fl_needing_documents_is_not_answered_from_columns(server: Any) -> None:
    index = indexing.get_index(server)
    # notes and extras are text fields, owner_org is a non-stored dynamic field
    for fl in (["notes"], ["extras_source"], ["validated_data_dict"], ["name,*"], ["text"], ["owner_org"]):
        assert search_actions._fl_from_index(index, [], fl) is None


def test_startup_rebuilds_the_index_from_the_database(site: dict[str, Any], server: Any) -> None:
    from ckanx.server.core import EmbeddedCKAN

    with EmbeddedCKAN(server.data_dir) as reopened:
        index = indexing.get_index(reopened)
        assert len(index) == len(site["datasets"])
        found = index.search("*:*", ["+capacity:public +state:active"], sort="name asc")
        by_id = {d["id"]: n for n, d in site["datasets"].items()}
        assert [by_id[i] for i in found.ids] == ["ws-lake", "ws-river", "ws-roads"]


def test_default_sort_ranks_name_and_title_matches_first(api: Any, make_org: Any) -> None:
    # the same four datasets on CKAN 2.11.6 came back in this order for q=<word> (default sort)
    org = make_org()
    word = "zqxword"
    for name, title, notes, tags in [
        (f"{word}-c", "Other things", f"About {word} here", []),
        (f"{word}-b", f"{word.title()} data", "Nothing", []),
        (word, word, "x", []),
        (f"{word}-d", "Else", "y", [{"name": word}]),
    ]:
        status, body = api(
            "package_create", {"name": name, "title": title, "notes": notes, "owner_org": org["id"], "tags": tags}
        )
        assert status == 200, body
    ranked = names(search(api, {"q": word}))
    assert ranked == [word, f"{word}-b", f"{word}-d", f"{word}-c"]
    assert search(api, {"q": word})["result"]["sort"] == "score desc, metadata_modified desc"
    # two optional clauses under CKAN's mm (2<-1 ...): both must match
    assert names(search(api, {"q": f"{word} OR nothing"})) == [f"{word}-b"]
