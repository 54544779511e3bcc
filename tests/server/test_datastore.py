"""The embedded DataStore's actions, through the in-process app, for CKAN 2.11 and 2.12.

Expected bodies, messages and status codes were recorded from real CKAN 2.11.6 and 2.12.0 servers
(the same requests, sent with unique names); only ids are substituted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ckanx.server.datastore import actions as ds_actions

Api = Callable[..., tuple[int, Any]]
BOTH = pytest.mark.parametrize("ckan_version", ["2.11", "2.12"])
V212 = pytest.mark.parametrize("ckan_version", ["2.12"])

FIELDS = [
    {"id": "code", "type": "text"},
    {"id": "n", "type": "int"},
    {"id": "num", "type": "numeric"},
    {"id": "b", "type": "bool"},
    {"id": "ts", "type": "timestamp"},
    {"id": "jj", "type": "json"},
    {"id": "arr", "type": "_text"},
    {"id": "desc", "type": "text", "info": {"label": "Desc"}},
]
RECORDS = [
    {
        "code": "a",
        "n": 1,
        "num": "2.50",
        "b": True,
        "ts": "2020-01-01",
        "jj": {"x": [1, 2]},
        "arr": ["p", "q"],
        "desc": 'hello world, "quoted"',
    },
    {
        "code": "b",
        "n": None,
        "num": 3,
        "b": False,
        "ts": "2020-01-01T10:11:12.5",
        "jj": [1, "a"],
        "arr": None,
        "desc": "line1\nline2",
    },
    {"code": "c", "n": 3, "num": 1.1, "b": None, "ts": None, "jj": "str", "arr": [], "desc": None},
]
# datastore_search's records for RECORDS on CKAN 2.11.6 (2.12.0 prints timestamps with ".000")
RECORDS_211 = [
    {
        "_id": 1,
        "code": "a",
        "n": 1,
        "num": 2.5,
        "b": True,
        "ts": "2020-01-01T00:00:00",
        "jj": {"x": [1, 2]},
        "arr": ["p", "q"],
        "desc": 'hello world, "quoted"',
    },
    {
        "_id": 2,
        "code": "b",
        "n": None,
        "num": 3,
        "b": False,
        "ts": "2020-01-01T10:11:12",
        "jj": [1, "a"],
        "arr": None,
        "desc": "line1\nline2",
    },
    {"_id": 3, "code": "c", "n": 3, "num": 1.1, "b": None, "ts": None, "jj": "str", "arr": [], "desc": None},
]
SEARCH_FIELDS = [
    {"id": "_id", "type": "int"},
    {"id": "code", "type": "text"},
    {"id": "n", "type": "int4"},
    {"id": "num", "type": "numeric"},
    {"id": "b", "type": "bool"},
    {"id": "ts", "type": "timestamp"},
    {"id": "jj", "type": "json"},
    {"id": "arr", "type": "_text"},
    {"id": "desc", "type": "text", "info": {"label": "Desc"}},
]


def ok(result: tuple[int, Any]) -> Any:
    status, body = result
    assert status == 200, body
    assert body["success"] is True
    return body["result"]


def err(result: tuple[int, Any], status: int) -> dict[str, Any]:
    got, body = result
    assert got == status, body
    assert body["success"] is False
    return body["error"]  # type: ignore[no-any-return]


@pytest.fixture
def dataset(api: Api, make_org: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    org = make_org()
    return ok(api("package_create", {"name": f"ds-{org['name']}", "owner_org": org["id"]}))  # type: ignore[no-any-return]


@pytest.fixture
def table(api: Api, dataset: dict[str, Any]) -> str:
    """A DataStore table made of FIELDS/RECORDS with primary key ``code``; its resource id."""
    result = ok(
        api(
            "datastore_create",
            {
                "resource": {"package_id": dataset["id"], "name": "tbl"},
                "fields": FIELDS,
                "primary_key": "code",
                "records": RECORDS,
            },
        )
    )
    return result["resource_id"]  # type: ignore[no-any-return]


def search(api: Api, rid: str, **params: Any) -> Any:
    return ok(api("datastore_search", {"resource_id": rid, **params}))


# -- datastore_create ---------------------------------------------------------------------------


@BOTH
def test_create_with_resource_dict_result_and_resource(api: Api, dataset: dict[str, Any], ckan_version: str) -> None:
    result = ok(
        api(
            "datastore_create",
            {
                "resource": {"package_id": dataset["id"], "name": "tbl"},
                "fields": FIELDS,
                "primary_key": "code",
                "records": RECORDS,
                "aliases": ["my_alias"],
            },
        )
    )
    rid = result["resource_id"]
    resource = {"package_id": dataset["id"], "name": "tbl", "url": "_datastore_only_resource"}
    expected: dict[str, Any] = {
        "aliases": ["my_alias"],
        "delete_fields": False,
        "primary_key": "code",
        "fields": [dict(sorted(f.items())) for f in FIELDS],
        "resource": resource | ({"mimetype": None} if ckan_version == "2.11" else {}),
        "resource_id": rid,
        "method": "insert",
    }
    if ckan_version == "2.12":
        expected = {
            "aliases": ["my_alias"],
            "calculate_record_count": "background",
            **{k: v for k, v in expected.items() if k != "aliases"},
        }
    assert result == expected
    assert list(result) == list(expected)
    res = ok(api("resource_show", {"id": rid}))
    assert res["datastore_active"] is True
    assert res["url_type"] == "datastore"
    assert res["url"].endswith(f"/datastore/dump/{rid}")
    # the alias finds the same table
    assert search(api, "my_alias")["resource_id"] == rid


@BOTH
def test_create_on_existing_resource_adds_fields_and_keeps_info(api: Api, table: str, ckan_version: str) -> None:
    result = ok(
        api(
            "datastore_create",
            {
                "resource_id": table,
                "force": True,
                "fields": [{"id": "code", "type": "text", "info": {"notes": "n2"}}, {"id": "extra", "type": "int"}],
                "records": [{"code": "d", "extra": 4}],
            },
        )
    )
    expected = {
        "delete_fields": False,
        "resource_id": table,
        "fields": [{"id": "code", "info": {"notes": "n2"}, "type": "text"}, {"id": "extra", "type": "int"}],
        "method": "insert",
    }
    if ckan_version == "2.12":
        expected = {"calculate_record_count": "background", **expected}
    assert result == expected
    found = search(api, table, fields="code,extra,desc")
    assert found["fields"] == [
        {"id": "code", "type": "text", "info": {"notes": "n2"}},
        {"id": "extra", "type": "int4"},
        {"id": "desc", "type": "text", "info": {"label": "Desc"}},
    ]
    assert found["records"] == [
        {"code": "a", "extra": None, "desc": 'hello world, "quoted"'},
        {"code": "b", "extra": None, "desc": "line1\nline2"},
        {"code": "c", "extra": None, "desc": None},
        {"code": "d", "extra": 4, "desc": None},
    ]


@V212
def test_create_include_records(api: Api, dataset: dict[str, Any]) -> None:
    result = ok(
        api(
            "datastore_create",
            {
                "resource": {"package_id": dataset["id"]},
                "fields": [{"id": "a", "type": "text"}],
                "include_records": True,
                "records": [{"a": "y"}],
            },
        )
    )
    assert result["records"] == [{"_id": 1, "a": "y"}]
    assert list(result) == [
        "calculate_record_count",
        "delete_fields",
        "fields",
        "records",
        "resource",
        "resource_id",
        "method",
    ]


@pytest.mark.parametrize(
    ("ckan_version", "payload", "expected"),
    [
        ("2.11", {"fields": [{"id": "a"}]}, {"resource_id": ["resource_id or resource required"]}),
        ("2.11", {"resource_id": "nonexist", "fields": [{"id": "a"}]}, {"resource_id": ["Not found: Resource"]}),
        (
            "2.12",
            {"resource_id": "nonexist", "fields": [{"id": "a"}]},
            {"resource_id": ["Resource not found: nonexist"]},
        ),
        (
            "2.11",
            {"RES": 1, "fields": [{"id": "_bad"}, {"id": "x", "type": "nosuch"}]},
            {"fields": ['"_bad" is not a valid field name']},
        ),
        (
            "2.12",
            {"RES": 1, "fields": [{"id": "_bad"}, {"id": "x", "type": "nosuch"}]},
            {"fields": [{"id": ['"_bad" is not a valid field name']}, {}]},
        ),
        (
            "2.11",
            {"RES": 1, "fields": [{"id": "x", "type": "nosuch"}]},
            {"fields": ['"nosuch" is not a valid field type']},
        ),
        ("2.11", {"RES": 1, "fields": [{"id": "x"}, {"id": "x"}]}, {"fields": ['"x" type not guessable']}),
        (
            "2.11",
            {"RES": 1, "fields": [{"id": "a", "type": "text"}, {"id": "a", "type": "int"}]},
            {"field": ["Duplicate column names are not supported"]},
        ),
        (
            "2.11",
            {"RES": 1, "fields": [{"id": "a", "type": "text"}], "primary_key": "nope"},
            {"index": ["The field \"['nope']\" is not a valid column name."]},
        ),
        (
            "2.11",
            {"RES": 1, "fields": [{"id": "a", "type": "text"}], "indexes": "nope"},
            {"index": ['The field "nope" is not a valid column name.']},
        ),
        ("2.11", {"RES": 1, "fields": [{"type": "text"}]}, {"fields": [{"id": ["Missing value"]}]}),
        (
            "2.11",
            {"RES": 1, "fields": [{"id": "a", "type": "text"}], "records": "x"},
            {"records": ["The first row is not a json object"]},
        ),
        (
            "2.11",
            {"RES": 1, "fields": [{"id": "ts", "type": "timestamp"}], "records": [{"ts": "notadate"}]},
            {"records": ['invalid input syntax for type timestamp: "notadate"'], "records_row": 0},
        ),
        (
            "2.11",
            {
                "RES": 1,
                "fields": [{"id": "x", "type": "bool"}],
                "records": [{"x": "yes"}, {"x": "f"}, {"x": 1}, {"x": "true"}],
            },
            {"records": ['column "x" is of type boolean but expression is of type integer'], "records_row": 3},
        ),
    ],
)
def test_create_validation_errors(
    api: Api, dataset: dict[str, Any], ckan_version: str, payload: dict[str, Any], expected: dict[str, Any]
) -> None:
    data = dict(payload)
    if data.pop("RES", None):
        data["resource"] = {"package_id": dataset["id"]}
    error = err(api("datastore_create", data), 409)
    assert error == {**expected, "__type": "Validation Error"}
    # nothing was left behind: no resource for a failed create
    assert ok(api("package_show", {"id": dataset["id"]}))["resources"] == []


def test_create_fields_not_a_list_is_integrity_error(api: Api, dataset: dict[str, Any]) -> None:
    error = err(api("datastore_create", {"resource": {"package_id": dataset["id"]}, "fields": "x"}), 400)
    assert error == {
        "__type": "Integrity Error",
        "message": "Only lists of dicts can be placed against subschema ('fields',), not <class 'str'>",
        "data": {"fields": "x"},
    }


@BOTH
def test_create_read_only_resource_needs_force(api: Api, dataset: dict[str, Any], ckan_version: str) -> None:
    res = ok(api("resource_create", {"package_id": dataset["id"], "url": "http://x/y.csv", "url_type": "datapusher"}))
    data = {"resource_id": res["id"], "fields": [{"id": "a", "type": "text"}]}
    error = err(api("datastore_create", data), 409)
    assert error == {"read-only": [ds_actions.READ_ONLY_MESSAGE], "__type": "Validation Error"}
    assert ds_actions.READ_ONLY_MESSAGE.startswith("Cannot edit read-only resource because changes made may be lost.")
    ok(api("datastore_create", {**data, "force": True}))
    assert ok(api("resource_show", {"id": res["id"]}))["datastore_active"] is True


@BOTH
def test_create_auth(
    api: Api, dataset: dict[str, Any], table: str, make_user: Callable[..., Any], ckan_version: str
) -> None:
    error = err(api("datastore_create", {"resource_id": table, "fields": [{"id": "code"}]}, token=None), 403)
    if ckan_version == "2.11":
        assert error["message"] == f"Access denied: User  not authorized to edit resource {table}"
    else:
        assert error["message"] == f"Access denied: User  not authorized to perform resource_update on resource {table}"
    user, token = make_user()
    error = err(
        api(
            "datastore_create",
            {"resource": {"package_id": dataset["id"]}, "fields": [{"id": "a", "type": "text"}]},
            token=token,
        ),
        403,
    )
    if ckan_version == "2.11":
        assert error["message"] == f"Access denied: User {user['name']} not authorized to edit package {dataset['id']}"
    else:
        assert error["message"] == (
            f"Access denied: User {user['name']} not authorized to perform package_update on resource {dataset['id']}"
        )
    assert err(api("datastore_create", {"resource": {"package_id": "nonexist"}, "fields": []}), 404) == {
        "__type": "Not Found Error",
        "message": "Not found",
    }


# -- datastore_search ---------------------------------------------------------------------------


@BOTH
def test_search_round_trips_values(api: Api, table: str, ckan_version: str) -> None:
    result = search(api, table)
    expected = RECORDS_211
    if ckan_version == "2.12":
        stamps = {"2020-01-01T00:00:00": "2020-01-01T00:00:00.000", "2020-01-01T10:11:12": "2020-01-01T10:11:12.500"}
        expected = [{**r, "ts": stamps.get(r["ts"], r["ts"])} for r in RECORDS_211]
    assert result["records"] == expected
    # numeric comes back as a JSON int when written without a fraction, else a float
    assert type(result["records"][1]["num"]) is int and type(result["records"][0]["num"]) is float
    assert result["fields"] == SEARCH_FIELDS
    if ckan_version == "2.11":
        assert list(result) == [
            "include_total",
            "limit",
            "records_format",
            "resource_id",
            "total_estimation_threshold",
            "records",
            "fields",
            "_links",
            "total",
            "total_was_estimated",
        ]
        assert result["_links"] == {
            "start": "/api/3/action/datastore_search",
            "next": "/api/3/action/datastore_search?offset=100",
        }
        assert result["total_was_estimated"] is False
    else:
        assert list(result) == [
            "include_next_page",
            "include_total",
            "limit",
            "records_format",
            "resource_id",
            "records",
            "fields",
            "total",
        ]
    assert result["total"] == 3


@BOTH
def test_search_records_formats(api: Api, table: str, ckan_version: str) -> None:
    ms = ".000" if ckan_version == "2.12" else ""
    lists = search(api, table, records_format="lists", fields=["_id", "code"])["records"]
    assert lists == [[1, "a"], [2, "b"], [3, "c"]]
    csv_text = search(api, table, records_format="csv")["records"]
    second = "2020-01-01T10:11:12.500" if ms else "2020-01-01T10:11:12"
    assert csv_text == (
        f'1,a,1,2.50,t,2020-01-01T00:00:00{ms},"{{""x"": [1, 2]}}","[""p"",""q""]","hello world, ""quoted"""\n'
        f'2,b,,3,f,{second},"[1, ""a""]",null,"line1\nline2"\n'
        '3,c,3,1.1,,,"""str""",[],\n'
    )
    tsv_text = search(api, table, records_format="tsv", fields=["code", "jj", "arr"])["records"]
    assert tsv_text == 'a\t"{""x"": [1, 2]}"\t"[""p"",""q""]"\nb\t"[1, ""a""]"\tnull\nc\t"""str"""\t[]\n'


@BOTH
def test_search_parameters(api: Api, table: str, ckan_version: str) -> None:
    assert [r["code"] for r in search(api, table, filters={"code": ["a", "b"]})["records"]] == ["a", "b"]
    assert [r["code"] for r in search(api, table, filters='{"code": "a"}')["records"]] == ["a"]
    assert [r["code"] for r in search(api, table, filters={"b": True})["records"]] == ["a"]
    assert [r["code"] for r in search(api, table, filters={"ts": "2020-01-01"})["records"]] == ["a"]
    # PostgreSQL's NULL placement: first when descending
    assert [r["code"] for r in search(api, table, sort=["n desc", "code"])["records"]] == ["b", "c", "a"]
    assert [r["code"] for r in search(api, table, sort="n")["records"]] == ["a", "c", "b"]
    page = search(api, table, limit=1, offset=1, fields="code, n", sort="n desc")
    assert page["records"] == [{"code": "c", "n": 3}]
    assert page["fields"] == [{"id": "code", "type": "text"}, {"id": "n", "type": "int4"}]
    distinct = search(api, table, distinct=True, fields="b")
    assert sorted(distinct["records"], key=repr) == sorted([{"b": None}, {"b": False}, {"b": True}], key=repr)
    no_total = search(api, table, include_total=False, limit=1)
    assert "total" not in no_total and "total_was_estimated" not in no_total
    assert search(api, table, limit=50000)["limit"] == 32000
    assert search(api, table, limit=0)["records"] == []
    assert search(api, table, distinct="maybe")["distinct"] is False


@BOTH
def test_search_full_text(api: Api, table: str, ckan_version: str) -> None:
    found = search(api, table, q="hello")
    assert [r["code"] for r in found["records"]] == ["a"]
    assert found["records"][0]["rank"] == 0.057308756  # ts_rank(..., 32) of one match, as on CKAN
    assert found["fields"][-1] == {"id": "rank", "type": "float"}
    # stemming: "worlds" finds "world"
    assert [r["code"] for r in search(api, table, q="worlds", language="english")["records"]] == ["a"]
    assert [r["code"] for r in search(api, table, q="hel:*", plain=False)["records"]] == ["a"]
    by_column = search(api, table, q={"desc": "hello"})
    assert by_column["records"][0]["rank desc"] == 0.057308756
    assert by_column["fields"][-1] == {"id": "rank desc", "type": "float"}
    assert search(api, table, q="hello", fields="code")["records"] == [{"code": "a"}]
    assert search(api, table, q="nothing-like-this")["records"] == []


@pytest.mark.parametrize(
    ("params", "status", "expected"),
    [
        ({"bogus": 1, "other": 2}, 409, {"__extras": ['invalid value "bogus"']}),
        ({"filters": {"nope": "a"}}, 409, {"filters": ['invalid value "nope"']}),
        ({"sort": "nope"}, 409, {"sort": ['invalid value "nope"']}),
        ({"sort": "n sideways"}, 409, {"sort": ['invalid value "n sideways"']}),
        ({"fields": ["nope"]}, 409, {"fields": ['invalid value "nope"']}),
        ({"q": {"nope": "x"}}, 409, {"q": ['invalid value "nope"']}),
        ({"limit": "x"}, 409, {"limit": ["Invalid integer", "Please enter an integer value"]}),
        ({"offset": "x"}, 409, {"offset": ["Invalid integer"]}),
        (
            {"records_format": "xml"},
            409,
            {"records_format": ["Value must be one of ['objects', 'lists', 'csv', 'tsv']"]},
        ),
        ({"filters": "notjson"}, 409, {"filters": ["Cannot parse JSON"]}),
    ],
)
@BOTH
def test_search_validation_errors(
    api: Api, table: str, ckan_version: str, params: dict[str, Any], status: int, expected: dict[str, Any]
) -> None:
    if ckan_version == "2.12" and params.get("filters") == {"nope": "a"}:
        expected = {"filters": ["Unknown field: nope"]}  # 2.12's filter parser
    assert err(api("datastore_search", {"resource_id": table, **params}), status) == {
        **expected,
        "__type": "Validation Error",
    }


@BOTH
def test_search_not_found_missing_id_and_filter_type_error(api: Api, table: str, ckan_version: str) -> None:
    assert err(api("datastore_search", {"resource_id": "nonexist"}), 404) == {
        "__type": "Not Found Error",
        "message": 'Not found: Resource "nonexist" was not found.',
    }
    assert err(api("datastore_search", {}), 409) == {"resource_id": ["Missing value"], "__type": "Validation Error"}
    error = err(api("datastore_search", {"resource_id": table, "filters": {"n": "x"}}), 409)
    assert error["query"] == ["Invalid query"]


def test_search_links_follow_the_query_string(api: Api, table: str) -> None:
    result = ok(
        api(
            "datastore_search",
            {"resource_id": table, "limit": "1", "offset": "1", "sort": "n desc", "fields": "code,n"},
            method="GET",
        )
    )
    assert result["_links"] == {
        "start": f"/api/3/action/datastore_search?resource_id={table}&limit=1&sort=n+desc&fields=code%2Cn",
        "next": f"/api/3/action/datastore_search?resource_id={table}&limit=1&offset=2&sort=n+desc&fields=code%2Cn",
    }
    assert search(api, table, total_estimation_threshold=0)["total_was_estimated"] is True
    assert search(api, table, total_estimation_threshold=0, filters={"code": "a"})["total_was_estimated"] is False


@V212
def test_search_212_filter_operators(api: Api, dataset: dict[str, Any]) -> None:
    rid = ok(
        api(
            "datastore_create",
            {
                "resource": {"package_id": dataset["id"]},
                "fields": [{"id": "a", "type": "int"}, {"id": "s", "type": "text"}],
                "records": [{"a": i, "s": f"x{i}"} for i in range(1, 8)],
            },
        )
    )["resource_id"]

    def ids(filters: Any) -> list[int]:
        return [r["a"] for r in search(api, rid, filters=filters)["records"]]

    assert ids({"a": {"gte": 2, "lt": 4}}) == [2, 3]
    assert ids({"$or": [{"a": 1}, {"s": "x5"}]}) == [1, 5]
    assert ids([{"a": 1}, {"a": {"gt": 6}}]) == [1, 7]
    assert ids({"a": [1, {"gt": 6}]}) == [1, 7]
    assert ids({"a": {"lte": 1}}) == [1]
    result = search(api, rid, filters={"a": {"gte": 2, "lt": 4}})
    assert result["filterops"] == {
        "op": "$and",
        "field": None,
        "value": [{"op": "gte", "field": "a", "value": 2}, {"op": "lt", "field": "a", "value": 4}],
    }
    assert search(api, rid, filters={"a": [1, {"gt": 6}]})["filterops"] == {
        "op": "$or",
        "field": None,
        "value": [{"op": "gt", "field": "a", "value": 6}, {"op": "in", "field": "a", "value": [1]}],
    }
    for filters, message in [
        ({"nope": 1}, "Unknown field: nope"),
        ({"$xor": [{"a": 1}]}, "Unknown operators (must be one of $or, $and): $xor"),
        ({"a": {"like": 1}}, "Unknown filter operation: FilterOp(field='a', op='like', value=1)"),
        ({"$or": {"a": 1}}, "Filter operations must be defined as a list of dicts: {'a': 1}"),
        ([1], "Filters must be defined as a dict or a list of dicts"),
    ]:
        assert err(api("datastore_search", {"resource_id": rid, "filters": filters}), 409) == {
            "filters": [message],
            "__type": "Validation Error",
        }


@V212
def test_search_212_keyset_paging_walks_every_row(api: Api, dataset: dict[str, Any]) -> None:
    rid = ok(
        api(
            "datastore_create",
            {
                "resource": {"package_id": dataset["id"]},
                "fields": [{"id": "a", "type": "int"}],
                "records": [{"a": i} for i in range(1, 8)],
            },
        )
    )["resource_id"]
    first = search(api, rid, limit=3, include_next_page=True)
    assert first["next_page"] == {"_id": {"gt": 3}}
    assert "_links" not in first and "total_estimation_threshold" not in first
    seen: list[int] = []
    filters: dict[str, Any] = {}
    while True:
        page = search(api, rid, limit=3, include_next_page=True, filters=filters)
        seen.extend(r["a"] for r in page["records"])
        if "next_page" not in page:
            break
        filters = page["next_page"]
    assert seen == list(range(1, 8))
    desc = search(api, rid, limit=3, include_next_page=True, sort="_id desc")
    assert [r["a"] for r in desc["records"]] == [7, 6, 5] and desc["next_page"] == {"_id": {"lt": 5}}
    assert "next_page" not in search(api, rid, limit=3, include_next_page=True, sort="a desc")


@BOTH
def test_search_auth_on_private_dataset(
    api: Api, make_org: Callable[..., Any], make_user: Callable[..., Any], ckan_version: str
) -> None:
    member, member_token = make_user()
    editor, editor_token = make_user()
    org = make_org(users=[(member["name"], "member"), (editor["name"], "editor")])
    pkg = ok(api("package_create", {"name": f"priv-{org['name']}", "owner_org": org["id"], "private": True}))
    rid = ok(
        api(
            "datastore_create",
            {"resource": {"package_id": pkg["id"]}, "fields": [{"id": "a", "type": "text"}], "records": [{"a": "x"}]},
        )
    )["resource_id"]
    for action in ("datastore_search", "datastore_info"):
        error = err(api(action, {"resource_id": rid}, token=None), 403)
        if ckan_version == "2.11":
            assert error["message"] == f"Access denied: User  not authorized to read resource {rid}"
        else:
            assert error["message"] == (
                f"Access denied: User  not authorized to perform resource_show on resource {rid}"
            )
    assert ok(api("datastore_search", {"resource_id": rid}, token=member_token))["records"] == [{"_id": 1, "a": "x"}]
    # members may read but not write; editors may write
    error = err(api("datastore_upsert", {"resource_id": rid, "records": [{"a": "y"}]}, token=member_token), 403)
    if ckan_version == "2.11":
        assert error["message"] == f"Access denied: User {member['name']} not authorized to edit resource {rid}"
    ok(api("datastore_upsert", {"resource_id": rid, "method": "insert", "records": [{"a": "y"}]}, token=editor_token))
    ok(api("datastore_delete", {"resource_id": rid, "filters": {"a": "x"}}, token=editor_token))
    assert ok(api("datastore_search", {"resource_id": rid}, token=member_token))["records"] == [{"_id": 2, "a": "y"}]


# -- datastore_upsert ---------------------------------------------------------------------------


@BOTH
def test_upsert_methods(api: Api, table: str, ckan_version: str) -> None:
    result = ok(
        api("datastore_upsert", {"resource_id": table, "records": [{"code": "a", "n": 10}, {"code": "z", "n": 26}]})
    )
    if ckan_version == "2.11":
        assert result == {"resource_id": table, "records": [{"code": "a", "n": 10}, {"code": "z", "n": 26}]}
    else:
        assert result == {"calculate_record_count": "background", "resource_id": table}
    rows = {r["code"]: r["n"] for r in search(api, table)["records"]}
    assert rows == {"a": 10, "b": None, "c": 3, "z": 26}
    ok(api("datastore_upsert", {"resource_id": table, "method": "update", "records": [{"_id": 1, "n": 11}]}))
    ok(api("datastore_upsert", {"resource_id": table, "method": "insert", "records": [{"code": "y"}]}))
    rows = {r["code"]: r["n"] for r in search(api, table)["records"]}
    assert rows == {"a": 11, "b": None, "c": 3, "z": 26, "y": None}
    # the full-text index follows updates
    ok(api("datastore_upsert", {"resource_id": table, "records": [{"code": "c", "desc": "brand new words"}]}))
    assert [r["code"] for r in search(api, table, q="brand")["records"]] == ["c"]


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (
            {"method": "insert", "records": [{"code": "a", "n": 10}]},
            {"records": ['duplicate key value violates unique constraint "PK"'], "records_row": 0},
        ),
        ({"method": "update", "records": [{"code": "q", "n": 10}]}, {"key": ["key \"{'val_2': 'q'}\" not found"]}),
        ({"method": "update", "records": [{"_id": 999, "n": 70}]}, {"key": ["key \"{'val_1': 999}\" not found"]}),
        (
            {"method": "update", "records": [{"n": 10}]},
            {"key": ['fields "code" are missing\n                            but needed as key']},
        ),
        (
            {"records": [{"n": 10}]},
            {"key": ['fields "code" are missing\n                            but needed as key']},
        ),
        ({"method": "insert", "records": [{"code": "y", "nope": 1}]}, {"records": ['row "1" has extra keys "nope"']}),
        (
            {"method": "insert", "records": [{"code": "y", "n": "abc"}]},
            {"records": ['invalid input syntax for type integer: "abc"'], "records_row": 0},
        ),
        ({"method": "bogus", "records": []}, {"method": ["Value must be one of ['upsert', 'insert', 'update']"]}),
        (
            {"records": [{"_id": "x", "n": 71}]},
            {"records": ['invalid input syntax for type integer: "x"'], "records_row": 0},
        ),
    ],
)
@BOTH
def test_upsert_errors(
    api: Api, table: str, ckan_version: str, payload: dict[str, Any], expected: dict[str, Any]
) -> None:
    error = err(api("datastore_upsert", {"resource_id": table, **payload}), 409)
    if "records" in expected and "duplicate" in expected["records"][0]:
        assert error["records"][0].startswith('duplicate key value violates unique constraint "')
        expected = {**expected, "records": error["records"]}
    assert error == {**expected, "__type": "Validation Error"}
    # nothing changed
    assert search(api, table)["total"] == 3


@BOTH
def test_upsert_without_primary_key_dry_run_and_not_found(
    api: Api, dataset: dict[str, Any], table: str, ckan_version: str
) -> None:
    rid = ok(
        api("datastore_create", {"resource": {"package_id": dataset["id"]}, "fields": [{"id": "a", "type": "int"}]})
    )["resource_id"]
    assert err(api("datastore_upsert", {"resource_id": rid, "records": [{"a": 1}]}), 409) == {
        "table": ["unique key must be passed for update/upsert"],
        "__type": "Validation Error",
    }
    dry = ok(
        api(
            "datastore_upsert",
            {
                "resource_id": table,
                "records": [{"code": "dr", "n": 1}],
                "dry_run": True,
                "calculate_record_count": True,
            },
        )
    )
    assert dry["dry_run"] is True and dry["calculate_record_count"] is True
    assert search(api, table, filters={"code": "dr"})["records"] == []
    assert err(api("datastore_upsert", {"resource_id": "nonexist", "records": []}), 404) == {
        "__type": "Not Found Error",
        "message": "Not found",
    }
    error = err(api("datastore_upsert", {"resource_id": table, "records": [{"code": "x"}]}, token=None), 403)
    assert error["__type"] == "Authorization Error"


@V212
def test_upsert_include_records_212(api: Api, table: str) -> None:
    result = ok(
        api(
            "datastore_upsert",
            {"resource_id": table, "method": "insert", "include_records": True, "records": [{"code": "new", "n": 5}]},
        )
    )
    assert result["records"] == [
        {"_id": 4, "code": "new", "n": 5, "num": None, "b": None, "ts": None, "jj": None, "arr": None, "desc": None}
    ]


# -- datastore_delete / datastore_records_delete ------------------------------------------------


@BOTH
def test_delete_rows_then_table(api: Api, table: str, ckan_version: str) -> None:
    result = ok(api("datastore_records_delete", {"resource_id": table, "filters": {"code": "c"}}))
    expected: dict[str, Any] = {"resource_id": table, "filters": {"code": "c"}}
    if ckan_version == "2.12":
        expected["filterops"] = {"op": "eq", "field": "code", "value": "c"}
    assert result == expected
    assert [r["code"] for r in search(api, table)["records"]] == ["a", "b"]
    assert err(api("datastore_records_delete", {"resource_id": table}), 409) == {
        "filters": ["Missing value"],
        "__type": "Validation Error",
    }
    assert err(api("datastore_delete", {"resource_id": table, "filters": "x"}), 409) == {
        "filters": ["filters must be either a dict or null."],
        "__type": "Validation Error",
    }
    assert (
        err(api("datastore_delete", {"resource_id": table, "filters": {"nope": 1}}), 409)["filters"]
        == ['invalid value "nope"']
        if ckan_version == "2.11"
        else ["Unknown field: nope"]
    )
    ok(api("datastore_records_delete", {"resource_id": table, "filters": {}}))
    assert search(api, table)["total"] == 0
    assert ok(api("datastore_delete", {"resource_id": table})) == {"resource_id": table}
    assert ok(api("resource_show", {"id": table}))["datastore_active"] is False
    assert err(api("datastore_search", {"resource_id": table}), 404)["message"] == (
        f'Not found: Resource "{table}" was not found.'
    )
    assert err(api("datastore_delete", {"resource_id": table}), 404)["message"] == (
        f'Not found: Resource "{table}" was not found.'
    )


@V212
def test_delete_include_deleted_records_212(api: Api, table: str) -> None:
    result = ok(
        api("datastore_delete", {"resource_id": table, "filters": {"code": "c"}, "include_deleted_records": True})
    )
    assert result["deleted_records"] == [
        {"_id": 3, "code": "c", "n": 3, "num": 1.1, "b": None, "ts": None, "jj": "str", "arr": [], "desc": None}
    ]


# -- datastore_info -----------------------------------------------------------------------------


@BOTH
def test_info_shapes(api: Api, dataset: dict[str, Any], ckan_version: str) -> None:
    rid = ok(
        api(
            "datastore_create",
            {
                "resource": {"package_id": dataset["id"]},
                "fields": FIELDS,
                "primary_key": ["code"],
                "indexes": "n",
                "records": RECORDS,
                "aliases": "info_alias",
            },
        )
    )["resource_id"]
    info = ok(api("datastore_info", {"id": "info_alias"}))
    assert list(info) == (["meta", "fields"] if ckan_version == "2.11" else ["fields", "meta"])
    meta = info["meta"]
    assert list(meta) == ["id", "count", "table_type", "size", "db_size", "idx_size", "aliases"]
    assert (meta["id"], meta["count"], meta["table_type"], meta["aliases"]) == (rid, 3, "BASE TABLE", ["info_alias"])
    assert [(f["id"], f["type"], f["schema"]["native_type"]) for f in info["fields"]] == [
        ("code", "text", "text"),
        ("n", "int4", "integer"),
        ("num", "numeric", "numeric"),
        ("b", "bool", "boolean"),
        ("ts", "timestamp", "timestamp without time zone"),
        ("jj", "nested", "nested"),
        ("arr", "_text", "text[]"),
        ("desc", "text", "text"),
    ]
    assert info["fields"][-1]["info"] == {"label": "Desc"}
    assert [f["schema"]["is_index"] for f in info["fields"]][:3] == [True, True, False]
    assert all(f["schema"]["uniquekey"] is False and f["schema"]["notnull"] is False for f in info["fields"])
    assert err(api("datastore_info", {"id": "nonexist"}), 404)["message"] == (
        'Not found: Resource/Alias "nonexist" was not found.'
    )
    assert err(api("datastore_info", {}), 409) == {"resource_id": ["Missing value"], "__type": "Validation Error"}
    if ckan_version == "2.12":
        assert ok(api("datastore_info", {"id": rid, "include_meta": False, "include_fields_schema": False})) == {
            "fields": [
                {"id": f["id"], "type": t} | ({"info": f["info"]} if "info" in f else {})
                for f, t in zip(
                    FIELDS, ["text", "int4", "numeric", "bool", "timestamp", "nested", "_text", "text"], strict=True
                )
            ]
        }


# -- datastore_search_sql -----------------------------------------------------------------------


@BOTH
def test_search_sql(api: Api, table: str, ckan_version: str) -> None:
    result = ok(
        api("datastore_search_sql", {"sql": f'SELECT code, n, num, ts, b, jj, arr FROM "{table}" ORDER BY code'})
    )
    assert result["records"] == [
        {
            "code": "a",
            "n": 1,
            "num": 2.5,
            "ts": "2020-01-01T00:00:00",
            "b": True,
            "jj": {"x": [1, 2]},
            "arr": ["p", "q"],
        },
        {"code": "b", "n": None, "num": 3, "ts": "2020-01-01T10:11:12.500000", "b": False, "jj": [1, "a"], "arr": None},
        {"code": "c", "n": 3, "num": 1.1, "ts": None, "b": None, "jj": "str", "arr": []},
    ]
    assert result["fields"] == [
        {"id": "code", "type": "text"},
        {"id": "n", "type": "int4"},
        {"id": "num", "type": "numeric"},
        {"id": "ts", "type": "timestamp"},
        {"id": "b", "type": "bool"},
        {"id": "jj", "type": "json"},
        {"id": "arr", "type": "_text"},
    ]
    agg = ok(api("datastore_search_sql", {"sql": f'SELECT count(*) AS c, sum(n) FROM "{table}"', "bogus": 1}))
    assert agg["records"] == [{"c": 3, "sum": 4}] and agg["bogus"] == 1
    assert ok(api("datastore_search_sql", {"sql": "SELECT 1 AS one"}))["records"] == [{"one": 1}]
    # PostgreSQL casts and now(), as CKAN users write them
    casts = ok(
        api(
            "datastore_search_sql",
            {"sql": f"SELECT n::numeric / 2 AS half, '7'::int AS i, now() AS t FROM \"{table}\" WHERE code = 'c'"},
        )
    )
    assert casts["records"][0]["half"] == 1.5 and casts["records"][0]["i"] == 7
    assert casts["records"][0]["t"].endswith("+00:00")


@pytest.mark.parametrize(
    ("sql", "status", "check"),
    [
        (
            "SELECT 1; SELECT 2",
            409,
            {
                "2.11": {"query": ["Query is not a single statement."]},
                "2.12": {"message": "Query is not a single statement"},
            },
        ),
        ('DELETE FROM "{t}"', 409, {"2.12": {"message": "Invalid query AST element: DeleteStmt"}}),
        ("SELECT * FROM pg_roles", 403, "Access denied: Not authorized to access system tables"),
        ("SELECT * FROM _ds_meta", 403, "Access denied: Not authorized to access system tables"),
        ("SELECT * FROM sqlite_master", 403, "Access denied: Not authorized to access system tables"),
        ("SELECT pg_sleep(0)", 403, "Access denied: Not authorized to call function pg_sleep"),
        ("SELECT load_extension('x')", 403, "Access denied: Not authorized to call function load_extension"),
    ],
)
@BOTH
def test_search_sql_rejects(api: Api, table: str, ckan_version: str, sql: str, status: int, check: Any) -> None:
    error = err(api("datastore_search_sql", {"sql": sql.format(t=table)}), status)
    if isinstance(check, str):
        assert error == {"__type": "Authorization Error", "message": check}
    elif ckan_version in check:
        assert error == {**check[ckan_version], "__type": "Validation Error"}
    # the table is untouched whatever was tried
    assert search(api, table)["total"] == 3


@BOTH
def test_search_sql_private_table_and_truncation(
    api: Api, make_org: Callable[..., Any], table: str, ckan_version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = make_org()
    pkg = ok(api("package_create", {"name": f"sqlpriv-{org['name']}", "owner_org": org["id"], "private": True}))
    rid = ok(
        api(
            "datastore_create",
            {"resource": {"package_id": pkg["id"]}, "fields": [{"id": "a", "type": "text"}], "records": [{"a": "x"}]},
        )
    )["resource_id"]
    error = err(api("datastore_search_sql", {"sql": f'SELECT * FROM "{rid}"'}, token=None), 403)
    if ckan_version == "2.11":
        assert error["message"] == f"Access denied: User  not authorized to read resource {rid}"
    else:
        assert error["message"] == "Access denied: Not authorized to read resource."
    monkeypatch.setattr(ds_actions, "SQL_ROWS_MAX", 2)
    result = ok(api("datastore_search_sql", {"sql": f'SELECT code FROM "{table}" ORDER BY code'}, token=None))
    assert result["records"] == [{"code": "a"}, {"code": "b"}]
    assert result["records_truncated"] is True
    assert "records_truncated" not in ok(api("datastore_search_sql", {"sql": f'SELECT code FROM "{table}" LIMIT 1'}))


def test_search_sql_runaway_query_is_stopped(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ds_actions, "SQL_TIMEOUT", 0.2)
    forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    assert err(api("datastore_search_sql", {"sql": forever}), 409) == {
        "query": ["Query took too long"],
        "__type": "Validation Error",
    }


def test_function_create_and_delete(api: Api) -> None:
    # sysadmin-only, as on CKAN; trigger functions themselves are not supported here
    assert err(api("datastore_function_create", {"name": "x", "definition": "x"}), 409)["__type"] == "Validation Error"
    assert err(api("datastore_function_create", {"name": "x"}, token=None), 403) == {
        "__type": "Authorization Error",
        "message": "Access denied",
    }
    assert err(api("datastore_function_delete", {"name": "nosuch_fn"}), 409) == {
        "name": ["function nosuch_fn() does not exist"],
        "__type": "Validation Error",
    }
    assert ok(api("datastore_function_delete", {"name": "nosuch_fn", "if_exists": True})) is None
    assert err(api("datastore_function_delete", {"name": "nosuch_fn"}, token=None), 403)["message"] == "Access denied"


@BOTH
def test_table_metadata_lists_tables_and_aliases(api: Api, dataset: dict[str, Any], ckan_version: str) -> None:
    rid = ok(
        api(
            "datastore_create",
            {"resource": {"package_id": dataset["id"]}, "fields": [{"id": "a", "type": "int"}], "aliases": ["tm_al"]},
        )
    )["resource_id"]
    listing = ok(api("datastore_search", {"resource_id": "_table_metadata"}, token=None))
    assert listing["fields"] == [
        {"id": "_id", "type": "int"},
        {"id": "name", "type": "name"},
        {"id": "oid", "type": "oid"},
        {"id": "alias_of", "type": "name"},
    ]
    rows = {r["name"]: r["alias_of"] for r in listing["records"]}
    assert rows == {rid: None, "tm_al": rid}
    ids = [r["_id"] for r in listing["records"]]
    assert ids == sorted(ids) and all(len(i) == 16 for i in ids)
    assert all(r["oid"].isdigit() for r in listing["records"])
    found = ok(api("datastore_search", {"resource_id": "_table_metadata", "filters": {"alias_of": rid}}))
    assert [r["name"] for r in found["records"]] == ["tm_al"]
    sql = {"sql": 'SELECT name FROM "_table_metadata"'}
    if ckan_version == "2.11":
        assert err(api("datastore_search_sql", sql), 403)["message"] == (
            "Access denied: Not authorized to access system tables"
        )
    else:
        assert sorted(r["name"] for r in ok(api("datastore_search_sql", sql))["records"]) == sorted([rid, "tm_al"])
    # a CTE borrowing the view's name gets no privileges: no system columns, no private tables
    pkg = ok(api("package_create", {"name": f"tmp-{rid[:8]}", "owner_org": dataset["owner_org"], "private": True}))
    private = ok(
        api("datastore_create", {"resource": {"package_id": pkg["id"]}, "fields": [{"id": "a", "type": "int"}]})
    )["resource_id"]
    for smuggled in ("SELECT fields FROM _ds_meta", f'SELECT * FROM "{private}"'):
        cte = {"sql": f"WITH _table_metadata AS ({smuggled}) SELECT * FROM _table_metadata"}
        assert err(api("datastore_search_sql", cte, token=None), 403)["__type"] == "Authorization Error"


def test_create_delete_fields_reorder_and_add_primary_key(api: Api, dataset: dict[str, Any]) -> None:
    rid = ok(
        api(
            "datastore_create",
            {
                "resource": {"package_id": dataset["id"]},
                "fields": [{"id": "a", "type": "int"}, {"id": "b", "type": "text"}, {"id": "c", "type": "text"}],
                "records": [{"a": 1, "b": "x", "c": "y"}],
            },
        )
    )["resource_id"]
    kept = [{"id": "a", "type": "int"}, {"id": "c", "type": "text"}]
    result = ok(api("datastore_create", {"resource_id": rid, "force": True, "fields": kept, "delete_fields": True}))
    assert result == {"delete_fields": True, "resource_id": rid, "fields": kept, "method": "insert"}
    assert search(api, rid)["records"] == [{"_id": 1, "a": 1, "c": "y"}]
    # fields named again keep their place; new ones are appended
    more = [{"id": "c", "type": "text"}, {"id": "d", "type": "int"}]
    ok(api("datastore_create", {"resource_id": rid, "force": True, "fields": more, "records": [{"c": "z", "d": 4}]}))
    assert search(api, rid)["records"] == [
        {"_id": 1, "a": 1, "c": "y", "d": None},
        {"_id": 2, "a": None, "c": "z", "d": 4},
    ]
    # a primary key added later makes upsert work
    ok(api("datastore_create", {"resource_id": rid, "force": True, "fields": [{"id": "a"}], "primary_key": "a"}))
    ok(api("datastore_upsert", {"resource_id": rid, "method": "upsert", "records": [{"a": 1, "c": "upd"}]}))
    assert search(api, rid)["records"][0] == {"_id": 1, "a": 1, "c": "upd", "d": None}
