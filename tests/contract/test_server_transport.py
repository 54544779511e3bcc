"""Transport and envelope: URLs, methods, body encodings, bare-string 400s, JSONP, status_show."""

from __future__ import annotations

import pytest
from normalise import keys_of

from conftest import Case

# (id, method, path) for raw HTTP requests whose status, media type and body shape are the contract.
RAW_REQUESTS = [
    ("trailing_slash", "GET", "/api/3/action/status_show/"),
    ("trailing_slash_post", "POST", "/api/3/action/package_create/"),
    ("api_v2", "GET", "/api/2/action/status_show"),
    ("action_root", "GET", "/api/3/action/"),
    ("unversioned", "GET", "/api/action/status_show"),
    ("api_version", "GET", "/api/3"),
    ("put_method", "PUT", "/api/3/action/status_show"),
    ("delete_method", "DELETE", "/api/3/action/status_show"),
]


@pytest.mark.parametrize(("method", "path"), [r[1:] for r in RAW_REQUESTS],
                         ids=[r[0] for r in RAW_REQUESTS])
def test_raw_path(ckan: Case, method: str, path: str) -> None:
    ckan.http(method, path)


# Bare-string 400s: (id, action, method, raw JSON body or None)
BAD_REQUESTS = [
    ("unknown_post", "no_such_action", "POST", None),
    ("unknown_get", "no_such_action", "GET", None),
    ("unknown_space", "bad name", "GET", None),
    ("get_on_write", "package_create", "GET", None),
    ("get_on_write_with_params", "organization_create", "GET", None),
    ("get_on_delete", "package_delete", "GET", None),
    ("bad_json", "status_show", "POST", b"{bad"),
    ("json_list", "status_show", "POST", b"[1, 2]"),
    ("json_string", "status_show", "POST", b'"x"'),
    ("json_number", "package_search", "POST", b"3"),
    ("unknown_and_bad_json", "no_such_action", "POST", b"{bad"),
]


@pytest.mark.parametrize(("action", "method", "raw"), [r[1:] for r in BAD_REQUESTS],
                         ids=[r[0] for r in BAD_REQUESTS])
def test_bad_request(ckan: Case, action: str, method: str, raw: bytes | None) -> None:
    data = {"name": "x"} if action.endswith("_create") and method == "GET" else None
    ckan.call(action, data, method=method, raw=raw)


def test_status_show_get(ckan: Case) -> None:
    ckan.call("status_show", method="GET")


def test_status_show_post_empty(ckan: Case) -> None:
    ckan.call("status_show")
    ckan.call("status_show", raw=b"")
    ckan.call("status_show", raw=b"   ")


def test_status_show_anonymous_and_junk(ckan: Case) -> None:
    ckan.call("status_show", as_="anonymous")
    # unknown parameters are ignored by ordinary actions
    ckan.call("status_show", {"junk": 1}, as_="anonymous")
    ckan.call("status_show", {"junk": "1"}, method="GET")


def test_status_show_unversioned(ckan: Case) -> None:
    ckan.call("status_show", path="/api/action/")
    ckan.call("no_such_action", path="/api/action/")


def test_content_type_headers(ckan: Case) -> None:
    # the exact media type CKAN sends with every action response, success and error
    for path in ("/api/3/action/status_show", "/api/3/action/package_show?id=ct-nope"):
        resp = ckan.target.http.get(path)
        ckan.note(f"content-type {path}", resp.headers.get("content-type"))
    resp = ckan.target.http.get("/api/3/action/no_such_action")
    ckan.note("content-type unknown action", resp.headers.get("content-type"))


def test_jsonp_callback(ckan: Case) -> None:
    ckan.http("GET", "/api/3/action/status_show?callback=cb", text=True)


def test_form_urlencoded_post(ckan: Case) -> None:
    org = ckan.org()
    ckan.dataset("ds", org)
    ckan.call("package_show", {"id": ckan.name("ds")}, files=None,
              view=keys_of("result"), label="package_show_json")
    # the same read as a urlencoded form body
    resp = ckan.target.http.post(
        "/api/3/action/package_show", data={"id": ckan.name("ds")},
        headers={"Authorization": ckan.target.token},
    )
    ckan.note("form status", resp.status_code)
    ckan.note("form name", resp.json()["result"]["name"])


def test_get_query_list_rules(ckan: Case) -> None:
    # titles make organization_list's default order (title) deterministic
    org = ckan.org(title="A")
    ckan.org("org2", title="B")
    # a repeated key becomes a list: organization_list filters by a list of names
    ckan.call("organization_list", {"organizations": [org["name"], ckan.name("org2")]},
              method="GET", label="organization_list repeated key")
    # a single key stays a string
    ckan.call("organization_list", {"organizations": org["name"]}, method="GET",
              label="organization_list single key")
    # a repeated scalar parameter is a list where a string is expected: 500 on CKAN
    ckan.call("package_show", {"id": ["a", "b"]}, method="GET", label="package_show id list")
    # list parameters must be sent as a JSON string in a query
    ckan.call("package_search", {"facet.field": "tags", "rows": "0"}, method="GET",
              label="facet.field not json")
    ckan.call("package_search", {"facet.field": '["tags"]', "rows": "0",
                                 "fq": f"organization:{org['name']}"},
              method="GET", label="facet.field json")
    ckan.call("package_search", {"rows": ["1", "2"]}, method="GET", label="rows repeated")


def test_help_show(ckan: Case) -> None:
    ckan.call("help_show", {"name": "no_such_action"}, method="GET")
    ckan.call("help_show", {}, method="GET")
