"""Datasets in the embedded CKAN: create/show/update/patch/revise/delete/purge, validation, auth.

Expected messages and shapes were taken from a real CKAN 2.11.6 (see the contract goldens).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from ckanx.server.datasets import models

Api = Callable[..., tuple[int, Any]]
ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")

FULL: dict[str, Any] = {
    "title": "Full dataset",
    "notes": "Some notes",
    "url": "http://example.com/source",
    "version": "1.0",
    "author": "A. Author",
    "author_email": "author@example.com",
    "license_id": "cc-by",
    "extras": [{"key": "source", "value": "census"}, {"key": "a_first", "value": "1"}],
    "tags": [{"name": "population"}, {"name": "cities"}],
    "resources": [
        {"url": "http://example.com/a.csv", "name": "a", "description": "first"},
        {"url": "http://example.com/b.json", "name": "b", "format": "json"},
    ],
}


def ok(result: tuple[int, Any]) -> Any:
    status, body = result
    assert status == 200, body
    return body["result"]


def error(result: tuple[int, Any], status: int) -> Any:
    got, body = result
    assert got == status, body
    assert body["success"] is False
    return body["error"]


@pytest.fixture
def org(make_org: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return make_org("ds-org", title="DS Org")


def create(api: Api, org: dict[str, Any], name: str, **fields: Any) -> dict[str, Any]:
    return ok(api("package_create", {"name": name, "owner_org": org["id"], **fields}))


def test_create_minimal_shape(api: Api, org: dict[str, Any]) -> None:
    pkg = create(api, org, "minimal")
    assert list(pkg) == [
        "author", "author_email", "creator_user_id", "id", "isopen", "license_id",
        "license_title", "maintainer", "maintainer_email", "metadata_created",
        "metadata_modified", "name", "notes", "num_resources", "num_tags", "organization",
        "owner_org", "private", "state", "title", "type", "url", "version", "resources",
        "tags", "extras", "groups", "relationships_as_subject", "relationships_as_object",
    ]  # fmt: skip
    assert pkg["title"] == "minimal" and pkg["type"] == "dataset" and pkg["state"] == "active"
    assert pkg["isopen"] is False and pkg["license_title"] is None
    assert ISO_RE.match(pkg["metadata_created"]) and ISO_RE.match(pkg["metadata_modified"])
    assert pkg["organization"]["name"] == "ds-org"
    assert pkg["organization"]["is_organization"] is True
    assert pkg["owner_org"] == org["id"]
    assert ok(api("package_show", {"id": "minimal"})) == pkg


def test_create_full_lists_sorted_and_license(api: Api, org: dict[str, Any]) -> None:
    pkg = create(api, org, "full", **FULL)
    assert pkg["isopen"] is True
    assert pkg["license_title"] == "Creative Commons Attribution"
    assert pkg["license_url"] == "http://www.opendefinition.org/licenses/cc-by"
    assert [e["key"] for e in pkg["extras"]] == ["a_first", "source"]
    assert [t["name"] for t in pkg["tags"]] == ["cities", "population"]
    assert pkg["num_tags"] == 2 and pkg["num_resources"] == 2
    # non-empty lists come after the scalars, sorted; empty ones after them
    assert list(pkg)[-6:] == [
        "extras", "resources", "tags", "groups", "relationships_as_subject",
        "relationships_as_object",
    ]  # fmt: skip
    first, second = pkg["resources"]
    assert first["format"] == "CSV" and second["format"] == "JSON"
    assert [first["position"], second["position"]] == [0, 1]
    assert first["hash"] == "" and first["datastore_active"] is False
    assert list(first) == sorted(first)


def test_unknown_license_and_custom_fields(api: Api, org: dict[str, Any]) -> None:
    pkg = create(api, org, "custom", license_id="no-such", custom_field="x", another=5)
    assert pkg["license_title"] == "no-such" and "license_url" not in pkg
    assert "custom_field" not in pkg and pkg["extras"] == []


def test_validation_messages(api: Api, org: dict[str, Any]) -> None:
    err = error(
        api(
            "package_create",
            {
                "name": "A B",
                "owner_org": "nope",
                "extras": [
                    {"key": "a", "value": "1"},
                    {"key": "a", "value": "2"},
                    {"value": "x"},
                    {"key": "title", "value": "y"},
                ],
                "tags": [{"name": "x"}, {"name": "bad!tag"}, {"name": "!"}],
                "author_email": "bad",
                "version": "x" * 101,
            },
        ),
        409,
    )
    assert err == {
        "author_email": ["Email bad is not a valid format"],
        "extras_validation": ['Duplicate key "a"'],
        "name": ["Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_"],
        "owner_org": ["Organization does not exist"],
        "version": ["Version must be a maximum of 100 characters long"],
        "extras": [{}, {}, {"key": ["Missing value"]}, {"key": ["There is a schema field with the same name"]}],
        "tags": [
            'Tag "x" length is less than minimum 2',
            'Tag "bad!tag" can only contain alphanumeric characters, spaces (" "), hyphens ("-"), underscores ("_") or dots (".")',  # noqa: E501
            'Tag "!" length is less than minimum 2, Tag "!" can only contain alphanumeric characters, spaces (" "), hyphens ("-"), underscores ("_") or dots (".")',  # noqa: E501
        ],
        "__type": "Validation Error",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, {"name": ["Missing value"], "owner_org": ["An organization must be provided"]}),
        ({"name": "new", "owner_org": ""}, {"name": ["That name cannot be used"], "owner_org": ["An organization must be provided"]}),  # noqa: E501
        ({"name": "a"}, {"name": ["Must be at least 2 characters long", 'Name "a" length is less than minimum 2']}),
        ({"name": "x" * 101}, {"name": ["Name must be a maximum of 100 characters long", f'Name "{"x" * 101}" length is more than maximum 100']}),  # noqa: E501
        ({"id": "not-a-uuid"}, {"id": ["Invalid id provided"]}),
        ({"tag_string": "ok,b"}, {"tag_string": ['Tag "b" length is less than minimum 2']}),
        ({"resources": [{"url": "u", "size": "big", "last_modified": "yesterday"}]}, {"resources": [{"last_modified": ["Date format incorrect"], "size": ["Invalid integer"]}]}),  # noqa: E501
    ],
)  # fmt: skip
def test_validation_cases(api: Api, org: dict[str, Any], fields: dict[str, Any], expected: dict[str, Any]) -> None:
    data = {"name": "valid-name", "owner_org": org["id"], **fields}
    data = {k: v for k, v in data.items() if not (fields == {} and k in ("name", "owner_org"))}
    err = error(api("package_create", data), 409)
    assert err == {**expected, "__type": "Validation Error"}


def test_sublist_not_a_list_is_integrity_error(api: Api, org: dict[str, Any]) -> None:
    err = error(api("package_create", {"name": "x1", "owner_org": org["id"], "tags": "a,b"}), 400)
    assert err["__type"] == "Integrity Error"
    assert err["message"] == ("Only lists of dicts can be placed against subschema ('tags',), not <class 'str'>")
    assert err["data"]["type"] == "dataset"
    for value, message in [
        (["a"], "Only lists of dicts can be placed against subschema ('tags',), not <class 'list'>"),
        ([{"name": "ok"}, "b"], "Values in lists need to be dicts"),
        (None, "Only lists of dicts can be placed against subschema ('tags',), not <class 'NoneType'>"),
    ]:
        err = error(api("package_create", {"name": "x1", "owner_org": org["id"], "tags": value}), 400)
        assert err["message"] == message
    assert ok(api("package_create", {"name": "x1", "owner_org": org["id"], "tags": []}))["tags"] == []


def test_odd_values_accepted(api: Api, org: dict[str, Any]) -> None:
    pkg = create(api, org, "odd", title="t" * 1000, type="custom", url="javascript:x")
    assert pkg["type"] == "custom" and pkg["url"] == "javascript:x"
    assert ok(api("package_create", {"name": 123, "owner_org": org["name"]}))["name"] == "123"
    for value, expected in [("true", True), ("False", False), ("yes", True), ("maybe", False)]:
        got = create(api, org, f"bool-{value.lower()}", private=value)
        assert got["private"] is expected


def test_name_taken_and_deleted_name_reusable(api: Api, org: dict[str, Any]) -> None:
    first = create(api, org, "taken")
    err = error(api("package_create", {"name": "taken", "owner_org": org["id"]}), 409)
    assert err["name"] == ["That URL is already in use."]
    assert ok(api("package_delete", {"id": "taken"})) is None
    shown = ok(api("package_show", {"id": first["id"]}))
    assert shown["state"] == "deleted"
    anon = error(api("package_show", {"id": first["id"]}, token=None), 403)
    assert anon["message"] == f"Access denied: User  not authorized to read package {first['id']}"
    # CKAN 2.11 frees the name of a deleted dataset, renaming the deleted one to its id
    second = create(api, org, "taken")
    assert second["id"] != first["id"]
    assert "taken" in ok(api("package_list", {}))
    old = ok(api("package_show", {"id": first["id"]}))
    assert (old["name"], old["state"]) == (first["id"], "deleted")
    assert old["metadata_modified"] == shown["metadata_modified"]
    assert ok(api("package_show", {"id": "taken"}))["id"] == second["id"]


def test_show_errors(api: Api) -> None:
    assert error(api("package_show", {"id": "nope"}), 404) == {
        "__type": "Not Found Error",
        "message": "Not found",
    }
    assert error(api("package_show", {}), 409)["name_or_id"] == ["Missing value"]
    assert error(api("package_show", {"id": ""}), 409)["name_or_id"] == ["Missing value"]


def test_update_is_full_replace(api: Api, org: dict[str, Any]) -> None:
    pkg = create(api, org, "replace", private=True, **FULL)
    new = ok(api("package_update", {"id": pkg["id"], "notes": "new"}))
    assert new["notes"] == "new" and new["title"] == "replace"
    assert new["resources"] == [] and new["tags"] == [] and new["extras"] == []
    assert new["license_id"] is None and new["url"] is None
    # kept when left out: organization, visibility, type, creation time
    assert new["owner_org"] == org["id"] and new["private"] is True
    assert new["metadata_created"] == pkg["metadata_created"]
    assert new["metadata_modified"] > pkg["metadata_modified"]


def test_update_errors(api: Api, org: dict[str, Any]) -> None:
    assert error(api("package_update", {}), 409)["id"] == "Missing value"
    err = error(api("package_update", {"name": "nope-x"}), 404)
    assert err["message"] == "Not found: Package was not found."


def test_update_rename(api: Api, org: dict[str, Any]) -> None:
    pkg = create(api, org, "old-name")
    renamed = ok(api("package_update", {"id": pkg["id"], "name": "new-name"}))
    assert renamed["name"] == "new-name"
    error(api("package_show", {"id": "old-name"}), 404)


def test_patch_keeps_other_fields(api: Api, org: dict[str, Any]) -> None:
    pkg = create(api, org, "patchme", **FULL)
    new = ok(api("package_patch", {"id": "patchme", "title": "Patched", "notes": ""}))
    assert new["title"] == "Patched" and new["notes"] == ""
    assert new["num_resources"] == 2 and new["extras"] == pkg["extras"]
    assert [r["id"] for r in new["resources"]] == [r["id"] for r in pkg["resources"]]
    assert error(api("package_patch", {"id": "nope-x"}), 404)["message"] == "Not found"
    assert error(api("package_patch", {"title": "x"}), 409)["id"] == ["Missing value"]


def test_patch_resources_recreates(api: Api, org: dict[str, Any]) -> None:
    pkg = create(api, org, "recreate", resources=[{"url": "http://e.com/x.csv", "name": "x"}])
    new = ok(api("package_patch", {"id": pkg["id"], "resources": [{"url": "http://e/y", "name": "y"}]}))
    assert [r["name"] for r in new["resources"]] == ["y"]
    assert new["resources"][0]["id"] != pkg["resources"][0]["id"]


def test_revise(api: Api, org: dict[str, Any]) -> None:
    pkg = create(api, org, "revise", **FULL)
    rid = pkg["resources"][0]["id"]
    res = ok(
        api(
            "package_revise",
            {
                "match__id": pkg["id"],
                f"update__resources__{rid[:8]}__description": "described",
                "update__resources__extend": [{"url": "http://e.com/c.csv", "name": "c"}],
                "update": {"title": "Revised"},
            },
        )
    )
    assert list(res) == ["package"]
    new = res["package"]
    assert new["title"] == "Revised"
    assert [(r["name"], r["description"]) for r in new["resources"]] == [
        ("a", "described"),
        ("b", None),
        ("c", None),
    ]
    filtered = ok(api("package_revise", {"match": {"name": "revise"}, "filter": ["-resources__1"]}))
    assert [r["name"] for r in filtered["package"]["resources"]] == ["a", "c"]
    err = error(api("package_revise", {"match": {"id": pkg["id"], "title": "Wrong"}}), 409)
    assert err["match"] == ["title"]
    assert error(api("package_revise", {"update": {"x": 1}}), 409)["match__id"] == "Missing value"
    assert error(api("package_revise", {"match": {"id": "nope"}}), 404)["message"] == "Not found"
    err = error(api("package_revise", {"match__id": pkg["id"], "update__resources__zzzzz__name": "x"}), 409)
    assert err["resources__zzzzz__name"] == ["Unmatched key resources__zzzzz"]
    # a failed validation leaves the dataset untouched
    error(api("package_revise", {"match__id": pkg["id"], "update": {"name": "BAD NAME"}}), 409)
    assert ok(api("package_show", {"id": pkg["id"]}))["name"] == "revise"


def test_purge(api: Api, org: dict[str, Any]) -> None:
    pkg = create(api, org, "purgeme", **FULL)
    assert ok(api("dataset_purge", {"id": "purgeme"})) is None
    error(api("package_show", {"id": pkg["id"]}), 404)
    err = error(api("dataset_purge", {"id": "purgeme"}), 404)
    assert err["message"] == "Not found: Dataset was not found"
    assert create(api, org, "purgeme")["num_resources"] == 0


def test_groups(api: Api, org: dict[str, Any]) -> None:
    g1 = ok(api("group_create", {"name": "g1", "title": "G one"}))
    ok(api("group_create", {"name": "g2"}))
    pkg = create(api, org, "grouped", groups=[{"name": "g2"}, {"id": g1["id"]}, {"name": "nogroup"}])
    assert [(g["name"], g["display_name"], g["title"]) for g in pkg["groups"]] == [
        ("g2", "g2", ""),
        ("g1", "G one", "G one"),
    ]
    assert set(pkg["groups"][0]) == {
        "description", "display_name", "id", "image_display_url", "name", "title",
    }  # fmt: skip
    updated = ok(api("package_patch", {"id": pkg["id"], "groups": [{"name": "g1"}]}))
    assert [g["name"] for g in updated["groups"]] == ["g1"]


def test_auth(api: Api, org: dict[str, Any], make_user: Callable[..., Any], make_org: Callable[..., Any]) -> None:
    editor, editor_token = make_user("editor-1")
    _member, member_token = make_user("member-1")
    _outsider, outsider_token = make_user("outsider-1")
    team = make_org("team", users=[("editor-1", "editor"), ("member-1", "member")])
    anon = error(api("package_create", {"name": "x-anon", "owner_org": team["id"]}, token=None), 403)
    assert anon["message"] == "Access denied: User  not authorized to create packages"
    err = error(api("package_create", {"name": "x-out", "owner_org": team["id"]}, token=outsider_token), 403)
    assert err["message"] == "Access denied: User outsider-1 not authorized to create packages"
    pkg = ok(api("package_create", {"name": "x-ed", "owner_org": team["id"], "private": True}, token=editor_token))
    assert pkg["creator_user_id"] == editor["id"]
    # private: members read, others do not
    assert ok(api("package_show", {"id": "x-ed"}, token=member_token))["id"] == pkg["id"]
    err = error(api("package_show", {"id": "x-ed"}, token=outsider_token), 403)
    assert err["message"] == f"Access denied: User outsider-1 not authorized to read package {pkg['id']}"
    err = error(api("package_patch", {"id": "x-ed", "title": "t"}, token=member_token), 403)
    assert err["message"] == f"Access denied: User member-1 not authorized to edit package {pkg['id']}"
    assert error(api("dataset_purge", {"id": "x-ed"}, token=editor_token), 403)["message"] == "Access denied"
    # private datasets are not in package_list
    assert "x-ed" not in ok(api("package_list", {}))
    ok(api("package_patch", {"id": "x-ed", "private": False}, token=editor_token))
    assert "x-ed" in ok(api("package_list", {}))


def test_package_list_paging(api: Api, org: dict[str, Any]) -> None:
    for name in ("pl-c", "pl-a", "pl-b"):
        create(api, org, name)
    create(api, org, "pl-private", private=True)
    assert ok(api("package_list", {}, method="GET")) == ["pl-a", "pl-b", "pl-c"]
    assert ok(api("package_list", {"limit": 2, "offset": 1})) == ["pl-b", "pl-c"]
    assert error(api("package_list", {"limit": "abc"}, method="GET"), 409)["limit"] == ["Invalid integer"]
    assert error(api("package_list", {"limit": -1}), 409)["limit"] == ["Must be a natural number"]
    # most recently modified first; sysadmins also get private datasets (as on CKAN)
    listed = ok(api("current_package_list_with_resources", {"limit": 1}, token=None))
    assert [p["name"] for p in listed] == ["pl-b"]
    listed = ok(api("current_package_list_with_resources", {"limit": 1}))
    assert [p["name"] for p in listed] == ["pl-private"]


def test_activity(api: Api, org: dict[str, Any]) -> None:
    pkg = create(api, org, "act")
    ok(api("package_patch", {"id": pkg["id"], "title": "t2"}))
    acts = ok(api("package_activity_list", {"id": pkg["id"]}, method="GET"))
    assert [a["activity_type"] for a in acts] == ["changed package", "new package"]
    assert acts[0]["object_id"] == pkg["id"]
    assert acts[0]["data"]["package"]["title"] == "t2"
    err = error(api("package_activity_list", {"id": pkg["id"], "limit": "x"}), 409)
    assert err["limit"] == ["Invalid integer", "Please enter an integer value"]


def test_bulk_updates(api: Api, org: dict[str, Any]) -> None:
    a = create(api, org, "bulk-a")
    b = create(api, org, "bulk-b")
    assert ok(api("bulk_update_private", {"org_id": org["id"], "datasets": [a["id"], b["id"]]})) is None
    assert ok(api("package_show", {"id": a["id"]}))["private"] is True
    ok(api("bulk_update_public", {"org_id": org["id"], "datasets": [a["id"]]}))
    assert ok(api("package_show", {"id": a["id"]}))["private"] is False
    ok(api("bulk_update_delete", {"org_id": org["id"], "datasets": [b["id"]]}))
    assert ok(api("package_show", {"id": b["id"]}))["state"] == "deleted"
    err = error(api("bulk_update_private", {"org_id": org["id"], "datasets": [a["id"]]}, token=None), 403)
    assert err["__type"] == "Authorization Error"


def test_tags_and_vocabularies(api: Api, org: dict[str, Any]) -> None:
    vocab = ok(api("vocabulary_create", {"name": "colours", "tags": [{"name": "red"}, {"name": "blue"}]}))
    assert [t["name"] for t in vocab["tags"]] == ["red", "blue"]
    assert error(api("vocabulary_create", {"name": "colours"}), 409)["name"] == [
        "That vocabulary name is already in use."
    ]
    assert error(api("vocabulary_create", {"name": "v2"}, token=None), 403)["message"] == "Access denied"
    pkg = create(api, org, "tagged", tags=[{"name": "free one"}, {"name": "red", "vocabulary_id": vocab["id"]}])
    assert {(t["name"], t["vocabulary_id"]) for t in pkg["tags"]} == {("free one", None), ("red", vocab["id"])}
    assert ok(api("tag_list", {})) == ["free one"]
    assert ok(api("tag_list", {"vocabulary_id": "colours"})) == ["red", "blue"]
    assert ok(api("tag_list", {"query": "fre", "all_fields": True}))[0]["name"] == "free one"
    shown = ok(api("tag_show", {"id": "free one", "include_datasets": True}))
    assert [p["name"] for p in shown["packages"]] == ["tagged"]
    err = error(
        api(
            "package_create",
            {"name": "badvocab", "owner_org": org["id"], "tags": [{"name": "aa", "vocabulary_id": "nope"}]},
        ),
        409,
    )
    assert err["tags"] == [{"vocabulary_id": ["Tag vocabulary was not found."]}]
    assert (
        error(api("vocabulary_show", {"id": "nope"}), 404)["message"] == 'Not found: Could not find vocabulary "nope"'
    )
    ok(api("vocabulary_update", {"id": vocab["id"], "tags": [{"name": "red"}]}))
    assert ok(api("tag_list", {"vocabulary_id": vocab["id"]})) == ["red"]
    assert ok(api("vocabulary_delete", {"id": vocab["id"]})) is None
    assert ok(api("vocabulary_list", {})) == []


def test_package_dicts_for_search(api: Api, org: dict[str, Any], server: Any) -> None:
    a = create(api, org, "pd-a", **FULL)
    b = create(api, org, "pd-b")
    ok(api("package_delete", {"id": b["id"]}))
    shown_b = ok(api("package_show", {"id": b["id"]}))
    with server.db.transaction() as conn:
        got = models.package_dicts(conn, [b["id"], "missing", a["id"]])
        everything = {p["id"]: p for p in models.iter_package_dicts(conn)}
    assert got == [shown_b, ok(api("package_show", {"id": a["id"]}))]
    assert everything[b["id"]]["state"] == "deleted" and a["id"] in everything


@pytest.mark.parametrize(
    ("ckan_version", "empty_order"),
    [
        ("2.11", ["resources", "tags", "extras", "groups"]),
        ("2.12", ["extras", "resources", "tags", "groups"]),
    ],
)
def test_empty_list_order_per_version(
    api: Api, org: dict[str, Any], server: Any, ckan_version: str, empty_order: list[str]
) -> None:
    pkg = create(api, org, "order")
    assert list(pkg)[-6:] == [*empty_order, "relationships_as_subject", "relationships_as_object"]
    tagged = create(api, org, "order-tags", tags=[{"name": "zz"}])
    rest = [k for k in empty_order if k != "tags"]
    assert list(tagged)[-6:] == ["tags", *rest, "relationships_as_subject", "relationships_as_object"]
    with server.db.transaction() as conn:
        assert list(models.package_dicts(conn, [pkg["id"]])[0]) == list(pkg)


def test_blank_title_null_extra_and_text_coercion(api: Api, org: dict[str, Any]) -> None:
    pkg = create(
        api,
        org,
        "coerce",
        title="   ",
        notes=5,
        version=1.5,
        tags=[{"name": "dup"}, {"name": "dup"}],
        extras=[{"key": "gone", "value": None}, {"key": "x", "value": "1", "deleted": True}, {"key": "x", "value": 2}],
    )
    assert (pkg["title"], pkg["notes"], pkg["version"]) == ("coerce", "5", "1.5")
    assert [t["name"] for t in pkg["tags"]] == ["dup"]
    assert pkg["extras"] == [{"key": "x", "value": "2"}]


@pytest.mark.parametrize("ckan_version", ["2.12"])
def test_ckan_212_update_keeps_resources_and_extras_order(
    api: Api, org: dict[str, Any], server: Any, ckan_version: str
) -> None:
    extras = [{"key": "zz", "value": "1"}, {"key": "b", "value": "2"}, {"key": "a", "value": "3"}]
    pkg = create(api, org, "v212", extras=extras, resources=[{"url": "http://e.com/a.csv"}])
    assert pkg["extras"] == extras  # package_create answers in the given order on 2.12
    # ... and package_show in PostgreSQL JSONB's key order: shorter keys first, then bytewise
    assert [e["key"] for e in ok(api("package_show", {"id": pkg["id"]}))["extras"]] == ["a", "b", "zz"]
    status, body = api("package_update", {"id": pkg["id"], "title": "x", "extras": extras})
    assert status == 200 and list(body) == ["help", "success", "result", "changed_entities"]
    assert body["changed_entities"] == {"packages": [pkg["id"]]}
    assert [r["id"] for r in body["result"]["resources"]] == [r["id"] for r in pkg["resources"]]
    assert "changed_entities" not in api("package_patch", {"id": pkg["id"], "title": "y"})[1]
    cleared = ok(api("package_update", {"id": pkg["id"], "resources": []}))
    assert cleared["resources"] == []
    ok(api("group_create", {"name": "g212"}))
    ok(api("package_patch", {"id": pkg["id"], "groups": [{"name": "g212"}], "tags": [{"name": "tt"}]}))
    kept = ok(api("package_update", {"id": pkg["id"]}))
    assert [g["name"] for g in kept["groups"]] == ["g212"] and kept["tags"] == [] and kept["extras"] == []


def test_ckan_211_update_has_no_changed_entities(api: Api, org: dict[str, Any]) -> None:
    pkg = create(api, org, "v211", resources=[{"url": "http://e.com/a.csv"}])
    status, body = api("package_update", {"id": pkg["id"], "title": "x"})
    assert status == 200 and "changed_entities" not in body
    assert body["result"]["resources"] == []


def test_tag_search_autocomplete_create_delete(api: Api, org: dict[str, Any]) -> None:
    pkg = create(api, org, "ts", tags=[{"name": "Zebra"}, {"name": "lizard"}, {"name": "cat"}])
    found = ok(api("tag_search", {"query": "z"}))
    assert found["count"] == 2 and [t["name"] for t in found["results"]] == ["Zebra", "lizard"]
    assert set(found["results"][0]) == {"id", "name", "vocabulary_id"}
    assert ok(api("tag_search", {"query": ["z", "a"], "limit": 1}))["count"] == 2
    assert ok(api("tag_search", {})) == {"count": 0, "results": []}
    assert ok(api("tag_autocomplete", {"q": "liz"})) == ["lizard"]
    assert ok(api("tag_autocomplete", {})) == []
    vocab = ok(api("vocabulary_create", {"name": "animals"}))
    tag = ok(api("tag_create", {"name": "dog", "vocabulary_id": vocab["id"]}))
    assert tag == {"id": tag["id"], "name": "dog", "vocabulary_id": vocab["id"], "display_name": "dog", "packages": []}
    assert error(api("tag_create", {"name": "dog2"}), 409)["vocabulary_id"] == ["Missing value"]
    assert error(api("tag_create", {"name": "x1", "vocabulary_id": vocab["id"]}, token=None), 403)["message"] == (
        "Access denied"
    )
    assert ok(api("tag_delete", {"id": "cat"})) is None
    assert [t["name"] for t in ok(api("package_show", {"id": pkg["id"]}))["tags"]] == ["Zebra", "lizard"]
    assert error(api("tag_delete", {"id": "nope-tag"}), 404)["message"] == 'Not found: Could not find tag "nope-tag"'


def test_format_autocomplete_and_owner_org_update(
    api: Api, org: dict[str, Any], make_org: Callable[..., dict[str, Any]]
) -> None:
    pkg = create(
        api,
        org,
        "fa",
        resources=[{"url": "http://e/a", "format": "CSV"}, {"url": "http://e/b", "format": "csv"},
                   {"url": "http://e/c", "format": "CSV"}, {"url": "http://e/d", "format": "DOCX"}],
    )  # fmt: skip
    assert ok(api("format_autocomplete", {"q": "c"})) == ["csv", "docx"]  # most used first
    assert ok(api("format_autocomplete", {"q": "c", "limit": 1})) == ["csv"]
    assert error(api("format_autocomplete", {}), 409)["q"] == ["Missing value"]
    other = make_org("fa-other")
    assert ok(api("package_owner_org_update", {"id": pkg["id"], "organization_id": other["name"]})) is None
    moved = ok(api("package_show", {"id": pkg["id"]}))
    assert moved["owner_org"] == other["id"] and moved["organization"]["name"] == "fa-other"
    err = error(api("package_owner_org_update", {"id": pkg["id"], "organization_id": "nope"}), 404)
    assert err["message"] == "Not found: Organization was not found."
    acts = ok(api("package_activity_list", {"id": pkg["id"]}))
    assert [a["activity_type"] for a in acts] == ["new package"]  # no activity for the move (as CKAN)
    shown = ok(api("activity_show", {"id": acts[0]["id"]}))
    assert shown == acts[0]
    assert ok(api("activity_data_show", {"id": acts[0]["id"]}))["package"]["name"] == "fa"
    recent = ok(api("recently_changed_packages_activity_list", {"limit": 1}))
    assert [a["object_id"] for a in recent] == [pkg["id"]]


def test_parameter_errors(api: Api, org: dict[str, Any]) -> None:
    pkg = create(api, org, "params", resources=[{"url": "http://e/a"}])
    assert error(api("package_revise", {"match": "x"}), 409)["match"] == ["Must be a dict"]
    assert error(api("package_revise", {"match__id": pkg["id"], "filter": [1]}), 409)["filter"] == ["Not a string: 1"]
    err = error(api("package_revise", {"match__id": pkg["id"], "update": {"resources": {"a": 1}}}), 409)
    assert err["update"] == ["Expected list for resources"]
    assert error(api("package_resource_reorder", {"id": pkg["id"], "order": "x"}), 409)["order"] == (
        "Must be a list of resource"
    )
    assert error(api("package_resource_reorder", {"id": pkg["id"]}), 409)["order"] == ["Missing value"]
    rid = pkg["resources"][0]["id"]
    assert error(api("package_resource_reorder", {"id": pkg["id"], "order": [rid, rid]}), 409)["order"] == (
        "Must supply unique resource_ids"
    )
    for name in ("package_delete", "dataset_purge", "package_activity_list", "resource_delete", "tag_show"):
        assert error(api(name, {}), 409)["id"] == ["Missing value"], name
    assert error(api("vocabulary_update", {"name": "x"}), 409)["id"] == "id not in data"
    assert (
        error(api("vocabulary_delete", {"id": "nope"}), 404)["message"] == 'Not found: Could not find vocabulary "nope"'
    )
    err = error(api("package_owner_org_update", {}), 404)
    assert err["message"] == "Not found: Package was not found."


def test_delete_leaves_groups(api: Api, org: dict[str, Any]) -> None:
    ok(api("group_create", {"name": "dg"}))
    pkg = create(api, org, "dg-ds", groups=[{"name": "dg"}])
    assert [g["name"] for g in pkg["groups"]] == ["dg"]
    ok(api("package_delete", {"id": pkg["id"]}))
    assert ok(api("package_show", {"id": pkg["id"]}))["groups"] == []
    assert ok(api("member_list", {"id": "dg", "object_type": "package"})) == []


def test_activity_labels_and_visibility(
    api: Api, make_user: Callable[..., Any], make_org: Callable[..., dict[str, Any]]
) -> None:
    editor, editor_token = make_user("act-ed")
    _, outsider_token = make_user("act-out")
    team = make_org("act-team", users=[("act-ed", "editor")])
    pkg = ok(api("package_create", {"name": "act-p", "owner_org": team["id"]}, token=editor_token))
    ok(api("package_patch", {"id": pkg["id"], "private": True}, token=editor_token))
    ok(api("package_delete", {"id": pkg["id"]}, token=editor_token))
    ok(api("package_patch", {"id": pkg["id"], "notes": "after"}))
    acts = ok(api("package_activity_list", {"id": pkg["id"]}))
    # CKAN 2.11 records every write to a deleted dataset as "deleted package"
    assert [a["activity_type"] for a in acts] == [
        "deleted package", "deleted package", "changed package", "new package",
    ]  # fmt: skip
    assert list(acts[0]) == [
        "id", "timestamp", "user_id", "object_id", "activity_type", "data", "permission_labels",
    ]  # fmt: skip
    assert [a["permission_labels"] for a in acts] == [
        [f"member-{team['id']}"], [f"member-{team['id']}"], [f"member-{team['id']}"], ["public"],
    ]  # fmt: skip
    assert list(acts[-1]["data"]) == ["package", "actor"] and acts[-1]["data"]["actor"] == "act-ed"
    assert acts[-1]["user_id"] == editor["id"]
    # a member of the organization sees all of them
    assert len(ok(api("package_activity_list", {"id": pkg["id"]}, token=editor_token))) == 4
    # package_owner_org_update is for sysadmins only
    err = error(
        api("package_owner_org_update", {"id": pkg["id"], "organization_id": team["id"]}, token=editor_token), 403
    )
    assert err["message"] == "Access denied"
    assert (
        error(api("package_owner_org_update", {"id": "nope"}, token=outsider_token), 403)["message"] == "Access denied"
    )


def test_update_nulls_for_private_and_owner_org_are_ignored(api: Api, org: dict[str, Any]) -> None:
    pkg = create(api, org, "nulls", private=True, notes="x")
    new = ok(api("package_update", {"id": pkg["id"], "private": None, "owner_org": None, "name": None, "notes": None}))
    assert (new["private"], new["owner_org"], new["name"], new["notes"]) == (True, org["id"], "nulls", None)
    assert ok(api("package_update", {"id": pkg["id"], "private": ""}))["private"] is False


def test_search_index_follows_writes(api: Api, org: dict[str, Any]) -> None:
    """Every write re-indexes the dataset once the transaction commits (purge removes it)."""

    def count(q: str, **extra: Any) -> int:
        return int(ok(api("package_search", {"q": q, **extra}))["count"])

    create(api, org, "findme", title="Unicorn data")
    assert count("unicorn") == 1
    ok(api("package_patch", {"id": "findme", "title": "Dragon data"}))
    assert (count("unicorn"), count("dragon")) == (0, 1)
    ok(api("resource_create", {"package_id": "findme", "url": "http://x/a.csv", "name": "griffin"}))
    assert count("res_name:griffin") == 1
    # a failed write changes nothing in the index either
    error(api("package_patch", {"id": "findme", "title": "Phoenix", "name": "BAD NAME"}), 409)
    assert count("phoenix") == 0
    ok(api("package_delete", {"id": "findme"}))
    assert count("dragon") == 0
    ok(api("package_patch", {"id": "findme", "state": "active"}))  # undelete: indexed again
    assert count("dragon") == 1
    ok(api("dataset_purge", {"id": "findme"}))
    assert count("dragon", include_deleted=True) == 0


def test_activity_type_filters(api: Api, org: dict[str, Any]) -> None:
    pkg = create(api, org, "act-f")
    ok(api("package_patch", {"id": pkg["id"], "title": "t2"}))
    only_new = ok(api("package_activity_list", {"id": pkg["id"], "activity_types": ["new package"]}))
    assert [a["activity_type"] for a in only_new] == ["new package"]
    no_new = ok(api("package_activity_list", {"id": pkg["id"], "exclude_activity_types": ["new package"]}))
    assert [a["activity_type"] for a in no_new] == ["changed package"]
    err = error(
        api("package_activity_list", {"id": pkg["id"], "activity_types": ["x"], "exclude_activity_types": ["y"]}),
        409,
    )
    assert err["activity_types"] == ["Cannot be used together with `exclude_activity_types"]
    assert ok(api("package_activity_list", {"id": pkg["id"], "after": 4102444800})) == []  # 2100-01-01
    assert len(ok(api("package_activity_list", {"id": pkg["id"], "before": 4102444800}))) == 2
