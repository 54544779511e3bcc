"""DataStore: create/upsert/search/info/delete/search_sql and the dump route, with their errors."""

from __future__ import annotations

import re
from typing import Any

import pytest
from normalise import only

from conftest import Case

FIELDS = [{"id": "code", "type": "text"}, {"id": "n", "type": "int"},
          {"id": "label", "type": "text"}]
RECORDS = [{"code": "a", "n": 10, "label": "first"}, {"code": "b", "n": 20, "label": "second"},
           {"code": "c", "n": 30, "label": "third"}]


def _resource(ckan: Case, org: dict[str, Any] | None = None, **ds_fields: Any) -> str:
    ds = ckan.dataset("ds", org or ckan.org(), **ds_fields,
                      resources=[{"url": "http://example.com/t.csv", "name": "t"}])
    return str(ds["resources"][0]["id"])


def _table(ckan: Case, **ds_fields: Any) -> str:
    rid = _resource(ckan, **ds_fields)
    ckan.setup("datastore_create", {"resource_id": rid, "fields": FIELDS, "primary_key": ["code"],
                                    "records": RECORDS, "force": True})
    return rid


def records(body: Any) -> Any:
    """View: the parts of a datastore_search result that are the contract for data queries.

    Full-text ``rank`` values are PostgreSQL's ``ts_rank`` numbers: only their presence and type
    are the contract. Errors go through :func:`ds_error`.
    """
    if not isinstance(body, dict) or not body.get("success"):
        return ds_error(body)
    res = body["result"]
    out = {k: res.get(k) for k in ("records", "fields", "total") if k in res}
    if isinstance(out.get("records"), list):
        out["records"] = [
            {k: ("<float>" if k.startswith("rank") and isinstance(v, float) else v)
             for k, v in r.items()} if isinstance(r, dict) else r
            for r in out["records"]
        ]
    return out


def ds_error(body: Any) -> Any:
    """View of DataStore errors: PostgreSQL's texts are reduced to what a client can rely on.

    - constraint names are hashes of the table name: replaced by ``<constraint>``;
    - ``datastore_search_sql`` errors quote psycopg2's exception and the SQL CKAN wrapped around
      the query: only the exception class (``(psycopg2.errors.SyntaxError)``) is kept in
      ``query``, and the first line of PostgreSQL's message in ``info.orig``.
    """
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return body
    err = {}
    for key, value in body["error"].items():
        if isinstance(value, list):
            value = [re.sub(r'"[0-9a-f]{40}"', '"<constraint>"', v) if isinstance(v, str) else v
                     for v in value]
            if key == "query":
                value = [v.split(")")[0] + ")" if isinstance(v, str) else v for v in value]
        if key == "info" and isinstance(value, dict) and isinstance(value.get("orig"), list):
            # PostgreSQL's message, without the "LINE 1: ..." context, which quotes the
            # EXPLAIN wrapper CKAN puts around the query
            value = {**value, "orig": [v.split("\n")[0] if isinstance(v, str) else v
                                       for v in value["orig"]]}
        err[key] = value
    return {**body, "error": err}


def info_view(body: Any) -> Any:
    """View of datastore_info: table and database sizes are PostgreSQL's, only their type counts."""
    if not isinstance(body, dict) or not body.get("success"):
        return ds_error(body)
    meta = body["result"].get("meta")
    if isinstance(meta, dict):
        for key in ("size", "db_size", "idx_size"):
            if isinstance(meta.get(key), int):
                meta[key] = "<int>"
    return body


def test_create_on_resource(ckan: Case) -> None:
    rid = _resource(ckan)
    # a resource with an external URL is "read-only" for the DataStore unless forced
    ckan.call("datastore_create", {"resource_id": rid, "fields": FIELDS}, label="without force")
    ckan.call("datastore_create", {"resource_id": rid, "fields": FIELDS, "primary_key": ["code"],
                                   "records": RECORDS, "force": True})
    ckan.call("resource_show", {"id": rid}, view=only("result.datastore_active", "result.url"))


def test_create_with_resource_dict(ckan: Case) -> None:
    org = ckan.org()
    ds = ckan.dataset("ds", org)
    _, body = ckan.call("datastore_create", {
        "resource": {"package_id": ds["id"], "name": "made by datastore"},
        "fields": FIELDS, "records": RECORDS[:1]})
    rid = (body.get("result") or {}).get("resource_id")
    if rid:
        ckan.call("resource_show", {"id": rid},
                  view=only("result.url", "result.url_type", "result.datastore_active",
                            "result.name"))


def test_create_without_records_then_info(ckan: Case) -> None:
    rid = _resource(ckan)
    ckan.call("datastore_create", {"resource_id": rid, "fields": FIELDS, "force": True})
    ckan.call("datastore_info", {"id": rid}, view=info_view)
    ckan.call("datastore_search", {"resource_id": rid})


def test_info_after_records(ckan: Case) -> None:
    rid = _table(ckan)
    ckan.call("datastore_info", {"id": rid}, method="GET", view=info_view)
    ckan.call("datastore_info", {"id": "ct-no-such-resource"}, label="unknown")


def test_search_default(ckan: Case) -> None:
    rid = _table(ckan)
    ckan.call("datastore_search", {"resource_id": rid})
    ckan.call("datastore_search", {"resource_id": rid}, method="GET", as_="anonymous",
              view=records, label="anonymous GET")


SEARCHES: list[tuple[str, dict[str, Any]]] = [
    ("filters_one", {"filters": {"code": "a"}}),
    ("filters_list", {"filters": {"code": ["a", "c"]}}),
    ("filters_int", {"filters": {"n": 20}}),
    ("filters_two", {"filters": {"code": "a", "n": 20}}),
    ("q_text", {"q": "second"}),
    ("q_dict", {"q": {"label": "third"}}),
    ("sort_desc", {"sort": "n desc"}),
    ("sort_two", {"sort": "label asc, code desc"}),
    ("limit_offset", {"sort": "code", "limit": 1, "offset": 1}),
    ("limit_zero", {"limit": 0}),
    ("fields", {"fields": ["code"], "sort": "code"}),
    ("fields_string", {"fields": "code,n", "sort": "code"}),
    ("include_total_false", {"include_total": False, "sort": "code"}),
    ("records_format_lists", {"records_format": "lists", "sort": "code"}),
    ("records_format_csv", {"records_format": "csv", "sort": "code"}),
    ("records_format_tsv", {"records_format": "tsv", "sort": "code"}),
    ("distinct", {"fields": ["label"], "distinct": True, "sort": "label"}),
    ("plain_false", {"q": "fir:*", "plain": False}),
]


@pytest.mark.parametrize("params", [p for _, p in SEARCHES], ids=[i for i, _ in SEARCHES])
def test_search(ckan: Case, params: dict[str, Any]) -> None:
    rid = _table(ckan)
    ckan.call("datastore_search", {"resource_id": rid, **params},
              view=lambda b: {**records(b), **({"records_format": b["result"].get(
                  "records_format")} if b.get("success") else {})} if b.get("success") else b)


SEARCH_ERRORS: list[tuple[str, dict[str, Any]]] = [
    ("unknown_param", {"bogus_param": "x"}),
    # CKAN 2.11 crashes (500) when the junk key itself is sent with a non-dict value
    ("junk_key_itself", {"__junk": 1}),
    ("unknown_filter_field", {"filters": {"nope": "x"}}),
    ("bad_sort_field", {"sort": "nope"}),
    ("bad_limit", {"limit": "abc"}),
    ("negative_offset", {"offset": -1}),
    ("bad_records_format", {"records_format": "xml"}),
    ("bad_fields", {"fields": ["nope"]}),
    ("filters_not_dict", {"filters": "code=a"}),
]


@pytest.mark.parametrize("params", [p for _, p in SEARCH_ERRORS],
                         ids=[i for i, _ in SEARCH_ERRORS])
def test_search_errors(ckan: Case, params: dict[str, Any]) -> None:
    rid = _table(ckan)
    ckan.call("datastore_search", {"resource_id": rid, **params}, view=records)


def test_search_unknown_and_missing(ckan: Case) -> None:
    ckan.call("datastore_search", {"resource_id": "ct-no-such-resource"}, label="unknown id")
    ckan.call("datastore_search", {}, label="no id")
    rid = _resource(ckan)
    ckan.call("datastore_search", {"resource_id": rid}, label="resource without table")


def test_search_private_dataset(ckan: Case) -> None:
    org = ckan.org()
    rid = _resource(ckan, org, private=True)
    ckan.setup("datastore_create", {"resource_id": rid, "fields": FIELDS, "records": RECORDS,
                                    "force": True})
    ckan.call("datastore_search", {"resource_id": rid}, as_="anonymous")
    ckan.call("datastore_search", {"resource_id": rid}, as_=ckan.actor("member", org),
              view=records)


UPSERTS: list[tuple[str, dict[str, Any]]] = [
    ("upsert", {"method": "upsert", "records": [{"code": "a", "n": 11}, {"code": "d", "n": 40}]}),
    ("insert", {"method": "insert", "records": [{"code": "e", "n": 50}]}),
    ("insert_duplicate", {"method": "insert", "records": [{"code": "a", "n": 1}]}),
    ("update", {"method": "update", "records": [{"code": "b", "label": "changed"}]}),
    ("update_missing", {"method": "update", "records": [{"code": "zz", "n": 1}]}),
    ("upsert_no_key", {"method": "upsert", "records": [{"n": 1}]}),
    ("bad_method", {"method": "merge", "records": [{"code": "a"}]}),
    ("bad_type", {"method": "upsert", "records": [{"code": "f", "n": "many"}]}),
    ("unknown_field", {"method": "upsert", "records": [{"code": "f", "nope": 1}]}),
    ("records_not_list", {"records": {"code": "a"}}),
    ("default_method", {"records": [{"code": "b", "n": 21}]}),
    ("no_records", {"method": "upsert"}),
]


@pytest.mark.parametrize("params", [p for _, p in UPSERTS], ids=[i for i, _ in UPSERTS])
def test_upsert(ckan: Case, params: dict[str, Any]) -> None:
    rid = _table(ckan)
    ckan.call("datastore_upsert", {"resource_id": rid, "force": True, **params}, view=ds_error)
    ckan.call("datastore_search", {"resource_id": rid, "sort": "code"}, view=records)


def test_upsert_without_primary_key(ckan: Case) -> None:
    rid = _resource(ckan)
    ckan.setup("datastore_create", {"resource_id": rid, "fields": FIELDS, "records": RECORDS,
                                    "force": True})
    ckan.call("datastore_upsert", {"resource_id": rid, "method": "upsert", "force": True,
                                   "records": [{"code": "a"}]}, label="upsert needs key")
    ckan.call("datastore_upsert", {"resource_id": rid, "method": "insert", "force": True,
                                   "records": [{"code": "a", "n": 1}]}, label="insert duplicates")
    ckan.call("datastore_search", {"resource_id": rid, "sort": "n"}, view=records)


def test_delete_rows_and_table(ckan: Case) -> None:
    rid = _table(ckan)
    ckan.call("datastore_delete", {"resource_id": rid, "filters": {"code": "b"}, "force": True})
    ckan.call("datastore_search", {"resource_id": rid, "sort": "code"}, view=records)
    ckan.call("datastore_delete", {"resource_id": rid, "filters": {"nope": "x"}, "force": True},
              label="bad filter")
    ckan.call("datastore_delete", {"resource_id": rid, "force": True}, label="drop table")
    ckan.call("datastore_search", {"resource_id": rid}, label="search dropped")
    ckan.call("resource_show", {"id": rid}, view=only("result.datastore_active"))
    ckan.call("datastore_delete", {"resource_id": rid, "force": True}, label="drop again")


def test_create_adds_fields(ckan: Case) -> None:
    rid = _table(ckan)
    ckan.call("datastore_create", {"resource_id": rid, "force": True,
                                   "fields": [*FIELDS, {"id": "extra", "type": "numeric"}]},
              view=only("result.fields"))
    ckan.call("datastore_search", {"resource_id": rid, "sort": "code", "limit": 1}, view=records)


TYPES = [
    {"id": "t_text", "type": "text"}, {"id": "t_int", "type": "int"},
    {"id": "t_bigint", "type": "bigint"}, {"id": "t_float", "type": "float"},
    {"id": "t_numeric", "type": "numeric"}, {"id": "t_bool", "type": "bool"},
    {"id": "t_date", "type": "date"}, {"id": "t_ts", "type": "timestamp"},
    {"id": "t_json", "type": "json"}, {"id": "t_arr", "type": "_text"},
]


def test_types_round_trip(ckan: Case) -> None:
    rid = _resource(ckan)
    ckan.call("datastore_create", {"resource_id": rid, "fields": TYPES, "force": True, "records": [
        {"t_text": "x", "t_int": 1, "t_bigint": 2**40, "t_float": 1.5, "t_numeric": "2.25",
         "t_bool": True, "t_date": "2020-01-02", "t_ts": "2020-01-02T03:04:05",
         "t_json": {"a": [1, 2]}, "t_arr": ["p", "q"]},
        {"t_text": None, "t_int": None}]}, view=only("result.fields"))
    ckan.call("datastore_search", {"resource_id": rid, "sort": "_id"}, view=records)


CREATE_ERRORS: list[tuple[str, dict[str, Any]]] = [
    ("no_resource", {"fields": FIELDS}),
    ("unknown_resource", {"resource_id": "ct-no-such-resource", "fields": FIELDS}),
    ("bad_type", {"fields": [{"id": "x", "type": "banana"}]}),
    ("field_no_id", {"fields": [{"type": "text"}]}),
    ("duplicate_field", {"fields": [{"id": "x", "type": "text"}, {"id": "x", "type": "int"}]}),
    ("reserved_field", {"fields": [{"id": "_id", "type": "int"}]}),
    ("bad_primary_key", {"fields": FIELDS, "primary_key": ["nope"]}),
    ("record_bad_type", {"fields": FIELDS, "records": [{"code": "a", "n": "many"}]}),
    ("unknown_param", {"fields": FIELDS, "bogus_param": "x"}),
    ("junk_key_itself", {"fields": FIELDS, "__junk": 1}),
]


@pytest.mark.parametrize("params", [p for _, p in CREATE_ERRORS],
                         ids=[i for i, _ in CREATE_ERRORS])
def test_create_errors(ckan: Case, params: dict[str, Any]) -> None:
    data = {**params, "force": True}
    if "resource_id" not in data and params is not CREATE_ERRORS[0][1]:
        data["resource_id"] = _resource(ckan)
    ckan.call("datastore_create", data, view=lambda b: ds_error(only("result.resource_id")(b)))


def test_create_permissions(ckan: Case) -> None:
    org = ckan.org()
    rid = _resource(ckan, org)
    for role in ("anonymous", "user", "member", "editor"):
        actor = ckan.actor(role, org)
        ckan.call("datastore_create", {"resource_id": rid, "fields": FIELDS, "force": True},
                  as_=actor, view=only("result.resource_id"), label=f"create as {role}")


def test_search_sql(ckan: Case) -> None:
    rid = _table(ckan)
    ckan.call("datastore_search_sql",
              {"sql": f'SELECT code, n FROM "{rid}" WHERE n > 15 ORDER BY code'},
              view=lambda b: {**b, "result": {k: v for k, v in b["result"].items()
                                              if k in ("records", "fields", "sql")}}
              if b.get("success") else b)
    ckan.call("datastore_search_sql", {"sql": f'SELECT count(*) AS c FROM "{rid}"'},
              view=only("result.records"), label="count")
    ckan.call("datastore_search_sql", {"sql": "SELECT nonsense FROM"}, view=ds_error,
              label="syntax error")
    ckan.call("datastore_search_sql", {"sql": 'SELECT * FROM "ct-no-such-table"'},
              view=ds_error, label="unknown table")
    ckan.call("datastore_search_sql", {}, label="no sql")


def test_dump(ckan: Case) -> None:
    rid = _table(ckan)
    for query in ("", "?format=csv", "?format=tsv", "?format=json", "?limit=1&offset=1",
                  "?sort=n%20desc", "?format=bogus"):
        # error pages are HTML with a per-request CSRF token: their body is not compared
        ckan.http("GET", f"/datastore/dump/{rid}{query}", text=True,
                  view=lambda b: "<html>" if b.lstrip().startswith("<") else b)
    ckan.http("GET", "/datastore/dump/ct-no-such-resource",
              view=lambda b: b if b.startswith(("{", '"')) else "<body>", text=True)


def test_search_default_limit_and_links(ckan: Case) -> None:
    rid = _resource(ckan)
    rows = [{"code": f"k{i:03d}", "n": i} for i in range(105)]
    ckan.setup("datastore_create", {"resource_id": rid, "fields": FIELDS, "records": rows,
                                    "force": True})

    def view(body: Any) -> Any:
        if not body.get("success"):
            return body
        res = body["result"]
        return {"returned": len(res["records"]), "total": res.get("total"),
                "limit": res.get("limit"), "_links": res.get("_links"),
                "first": res["records"][0] if res["records"] else None}

    ckan.call("datastore_search", {"resource_id": rid}, view=view, label="default")
    ckan.call("datastore_search", {"resource_id": rid, "offset": 100}, view=view,
              label="offset 100")
    ckan.call("datastore_search", {"resource_id": rid, "limit": 32001}, view=view,
              label="limit over max")
