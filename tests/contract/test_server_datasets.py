"""Datasets: package_create/show/update/patch/revise/delete/purge, extras, tags, groups, validation."""

from __future__ import annotations

from typing import Any

import pytest
from normalise import chain, get_path, keys_of, only, pick

from conftest import Case

FULL = {
    "title": "Contract dataset",
    "notes": "Population of *example* cities",
    "url": "http://example.com/source",
    "version": "1.0",
    "author": "A. Author",
    "author_email": "author@example.com",
    "maintainer": "M. Maintainer",
    "maintainer_email": "maintainer@example.com",
    "license_id": "cc-by",
    "extras": [{"key": "source", "value": "census"}, {"key": "a_first", "value": "1"}],
    "tags": [{"name": "population"}, {"name": "cities"}],
    "resources": [
        {"url": "http://example.com/a.csv", "name": "a.csv", "format": "CSV",
         "description": "first"},
        {"url": "http://example.com/b.json", "name": "b.json", "format": "JSON"},
    ],
}


def test_create_minimal(ckan: Case) -> None:
    org = ckan.org()
    ckan.call("package_create", {"name": ckan.name("ds"), "owner_org": org["id"]})
    ckan.call("package_show", {"id": ckan.name("ds")})


def test_create_full(ckan: Case) -> None:
    org = ckan.org()
    group = ckan.setup("group_create", {"name": ckan.name("grp"), "title": "Group"})
    ckan.call("package_create", {"name": ckan.name("ds"), "owner_org": org["name"],
                                 "groups": [{"name": group["name"]}], **FULL})
    ckan.call("package_show", {"id": ckan.name("ds")}, method="GET")


def test_create_with_tag_string(ckan: Case) -> None:
    org = ckan.org()
    ckan.call("package_create", {"name": ckan.name("ds"), "owner_org": org["id"],
                                 "tag_string": "beta,alpha, gamma"},
              view=only("result.tags", "result.num_tags"))


def test_create_private(ckan: Case) -> None:
    org = ckan.org()
    ckan.call("package_create", {"name": ckan.name("ds"), "owner_org": org["id"], "private": True},
              view=only("result.private", "result.state"))
    ckan.call("package_show", {"id": ckan.name("ds")}, as_="anonymous")
    ckan.call("package_show", {"id": ckan.name("ds")}, as_="user", view=only("error"))


def test_create_string_booleans(ckan: Case) -> None:
    org = ckan.org()
    for i, value in enumerate(["true", "False", "yes", "0"]):
        ckan.call("package_create", {"name": ckan.name(f"ds{i}"), "owner_org": org["id"],
                                     "private": value}, view=only("result.private", "error"))


def test_show_variants(ckan: Case) -> None:
    org = ckan.org()
    ds = ckan.dataset("ds", org)
    ckan.call("package_show", {"id": ds["id"]}, view=only("result.name"), label="by id")
    ckan.call("package_show", {"id": ds["name"]}, view=only("result.id"), label="by name")
    ckan.call("package_show", {"name_or_id": ds["name"]}, view=only("result.id"), label="name_or_id")
    ckan.call("package_show", {"id": ds["name"]}, as_="anonymous", method="GET",
              view=keys_of("result"), label="anonymous GET")
    ckan.call("package_show", {"id": ckan.name("nope")}, label="missing")
    ckan.call("package_show", {}, label="no id")
    ckan.call("package_show", {"id": ""}, label="empty id")


def test_update_is_full_replace(ckan: Case) -> None:
    org = ckan.org()
    ckan.dataset("ds", org, **FULL)
    ckan.call("package_update", {"name": ckan.name("ds"), "owner_org": org["id"],
                                 "title": "Replaced"})
    ckan.call("package_show", {"id": ckan.name("ds")},
              view=only("result.title", "result.notes", "result.resources", "result.extras",
                        "result.tags", "result.num_resources", "result.license_id"))


def test_update_by_id_and_missing(ckan: Case) -> None:
    org = ckan.org()
    ds = ckan.dataset("ds", org)
    ckan.call("package_update", {"id": ds["id"], "name": ds["name"], "owner_org": org["id"],
                                 "notes": "n"}, view=only("result.notes", "result.name"))
    ckan.call("package_update", {"id": ckan.name("nope"), "name": ckan.name("nope"),
                                 "owner_org": org["id"]}, label="unknown id")
    ckan.call("package_update", {"name": ckan.name("nope2")}, label="no id")


def test_update_rename(ckan: Case) -> None:
    org = ckan.org()
    ds = ckan.dataset("ds", org)
    ckan.call("package_update", {"id": ds["id"], "name": ckan.name("renamed"),
                                 "owner_org": org["id"]}, view=only("result.name"))
    ckan.call("package_show", {"id": ckan.name("ds")}, label="old name")
    ckan.call("package_show", {"id": ckan.name("renamed")}, view=only("result.id"))


def test_patch_keeps_other_fields(ckan: Case) -> None:
    org = ckan.org()
    ckan.dataset("ds", org, **FULL)
    ckan.call("package_patch", {"id": ckan.name("ds"), "title": "Patched", "notes": ""})
    ckan.call("package_show", {"id": ckan.name("ds")},
              view=only("result.title", "result.notes", "result.num_resources",
                        "result.extras", "result.tags"))


def test_patch_resources_recreates(ckan: Case) -> None:
    org = ckan.org()
    ds = ckan.dataset("ds", org, resources=[{"url": "http://example.com/x.csv", "name": "x"}])
    ckan.call("package_patch", {"id": ds["id"], "resources": [
        {"url": "http://example.com/y.csv", "name": "y"}]},
        view=pick("result.resources", "id", "name", "url", "position"))
    ckan.note("old resource id still present", any(
        r["id"] == ds["resources"][0]["id"]
        for r in ckan.setup("package_show", {"id": ds["id"]})["resources"]))


def test_patch_extras_and_private(ckan: Case) -> None:
    org = ckan.org()
    ckan.dataset("ds", org, extras=[{"key": "k1", "value": "v1"}])
    ckan.call("package_patch", {"id": ckan.name("ds"), "private": True,
                                "extras": [{"key": "k2", "value": "v2"}]},
              view=only("result.private", "result.extras"))


def test_patch_missing(ckan: Case) -> None:
    ckan.call("package_patch", {"id": ckan.name("nope"), "title": "x"})
    ckan.call("package_patch", {"title": "x"}, label="no id")


def test_revise_update_and_match(ckan: Case) -> None:
    org = ckan.org()
    ds = ckan.dataset("ds", org, **FULL)
    ckan.call("package_revise", {"match": {"id": ds["id"]}, "update": {"title": "Revised"}},
              view=only("result.package.title", "result.package.num_resources"))
    ckan.call("package_revise", {"match": {"id": ds["id"], "title": "Wrong"},
                                 "update": {"title": "x"}}, label="match fails")
    ckan.call("package_revise", {"match": {"name": ds["name"]},
                                 "update": {"notes": "by name"}},
              view=only("result.package.notes"), label="match by name")


def test_revise_flattened_keys(ckan: Case) -> None:
    org = ckan.org()
    ds = ckan.dataset("ds", org, **FULL)
    prefix = ds["resources"][0]["id"][:8]
    ckan.call("package_revise", {
        "match__id": ds["id"],
        f"update__resources__{prefix}__description": "described",
        "update__resources__extend": [{"url": "http://example.com/c.csv", "name": "c"}],
    }, view=pick("result.package.resources", "name", "description", "position"))
    ckan.call("package_revise", {"match__id": ds["id"], "filter": ["-resources__1"]},
              view=pick("result.package.resources", "name"), label="filter out resource")


def test_revise_include_and_errors(ckan: Case) -> None:
    org = ckan.org()
    ds = ckan.dataset("ds", org, **FULL)
    ckan.call("package_revise", {"match": {"id": ds["id"]}, "update": {"version": "2"},
                                 "include": ["version", "name"]})
    ckan.call("package_revise", {"update": {"title": "x"}}, label="no match")
    ckan.call("package_revise", {"match": {"id": ckan.name("nope")}, "update": {"x": 1}},
              label="match unknown")


def test_delete_then_show_and_reuse_name(ckan: Case) -> None:
    org = ckan.org()
    ds = ckan.dataset("ds", org)
    ckan.call("package_delete", {"id": ds["name"]})
    ckan.call("package_show", {"id": ds["id"]}, view=only("result.state", "result.name"))
    ckan.call("package_show", {"id": ds["id"]}, as_="anonymous", label="anonymous")
    ckan.call("package_create", {"name": ds["name"], "owner_org": org["id"]}, label="name taken")
    ckan.call("package_delete", {"id": ds["name"]}, label="delete again")
    ckan.call("package_delete", {"id": ckan.name("nope")}, label="delete missing")
    ckan.call("package_list", {}, method="GET",
              view=lambda b: {"contains_deleted": ds["name"] in (b.get("result") or [])})


def test_purge(ckan: Case) -> None:
    org = ckan.org()
    ds = ckan.dataset("ds", org, **FULL)
    ckan.call("dataset_purge", {"id": ds["name"]})
    ckan.call("package_show", {"id": ds["id"]})
    ckan.call("dataset_purge", {"id": ds["name"]}, label="purge again")
    ckan.call("package_create", {"name": ds["name"], "owner_org": org["id"]},
              view=only("result.name", "result.num_resources"), label="name free again")


def test_purge_deleted(ckan: Case) -> None:
    org = ckan.org()
    ds = ckan.dataset("ds", org)
    ckan.setup("package_delete", {"id": ds["id"]})
    ckan.call("dataset_purge", {"id": ds["id"]})
    ckan.call("package_show", {"id": ds["id"]})


def test_groups_membership(ckan: Case) -> None:
    org = ckan.org()
    g1 = ckan.setup("group_create", {"name": ckan.name("g1"), "title": "G one"})
    ckan.setup("group_create", {"name": ckan.name("g2")})
    ckan.call("package_create", {"name": ckan.name("ds"), "owner_org": org["id"],
                                 "groups": [{"name": ckan.name("g2")}, {"id": g1["id"]}]},
              view=only("result.groups"))
    ckan.call("package_create", {"name": ckan.name("ds2"), "owner_org": org["id"],
                                 "groups": [{"name": ckan.name("nogroup")}]}, label="unknown group")


def test_package_list_paging(ckan: Case) -> None:
    org = ckan.org()
    names = [ckan.dataset(f"ds{i}", org)["name"] for i in range(3)]
    ckan.setup("package_create", {"name": ckan.name("priv"), "owner_org": org["id"],
                                  "private": True})

    def mine(body: Any) -> Any:
        res = body.get("result")
        if isinstance(res, list):
            body["result"] = [n for n in res if n in names or n == ckan.name("priv")]
        return body

    ckan.call("package_list", {}, method="GET", view=mine)
    ckan.call("package_list", {"limit": "abc"}, method="GET", label="bad limit")
    ckan.call("package_list", {"limit": -1}, label="negative limit")
    status, body = ckan.target.call("package_list", {"limit": 2, "offset": 1})
    ckan.note("limit 2 offset 1 length", (status, len(body.get("result") or [])))


def test_activity_list(ckan: Case) -> None:
    org = ckan.org()
    ds = ckan.dataset("ds", org)
    ckan.setup("package_patch", {"id": ds["id"], "title": "t2"})
    ckan.call("package_activity_list", {"id": ds["id"]}, method="GET",
              view=pick("result", "activity_type", "object_id", "user_id"))


# Validation errors: (id, fields merged into a valid base, or a callable building the data)
def _base(ckan: Case, org: dict[str, Any]) -> dict[str, Any]:
    return {"name": ckan.name("ds"), "owner_org": org["id"]}


INVALID_PACKAGES: list[tuple[str, dict[str, Any]]] = [
    ("empty", {"name": None, "owner_org": None}),
    ("name_uppercase", {"name": "Bad Name"}),
    ("name_short", {"name": "a"}),
    ("name_long", {"name": "x" * 101}),
    ("owner_org_unknown", {"owner_org": "no-such-org-contract"}),
    ("owner_org_missing", {"owner_org": None}),
    ("extras_missing_value", {"extras": [{"key": "k"}]}),
    ("extras_missing_key", {"extras": [{"value": "v"}]}),
    ("extras_duplicate", {"extras": [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}]}),
    ("extras_not_list", {"extras": "k=v"}),
    ("extras_reserved", {"extras": [{"key": "name", "value": "x"}]}),
    ("tag_bad_chars", {"tags": [{"name": "bad!tag"}]}),
    ("tag_short", {"tags": [{"name": "a"}]}),
    ("tag_long", {"tags": [{"name": "t" * 101}]}),
    ("tag_missing_name", {"tags": [{"display_name": "x"}]}),
    ("tags_not_list", {"tags": "a,b"}),
    ("resources_not_list", {"resources": {"url": "x"}}),
    ("resource_bad_field", {"resources": [{"url": "http://x", "position": "abc"}]}),
    ("private_bad", {"private": "maybe"}),
    ("author_email_bad", {"author_email": "not an email"}),
    ("maintainer_email_bad", {"maintainer_email": "nope@"}),
    ("title_long", {"title": "t" * 1000}),
    ("type_harvest", {"type": "no-such-type"}),
    ("state_given", {"state": "deleted"}),
    ("url_javascript", {"url": "javascript:alert(1)"}),
    ("license_unknown", {"license_id": "no-such-license"}),
    ("groups_not_list", {"groups": "g"}),
    ("id_not_uuid", {"id": "not-a-uuid-contract"}),
    ("several_errors", {"name": "B", "extras": [{"key": "k"}], "tags": [{"name": "!"}]}),
]


@pytest.mark.parametrize("fields", [f for _, f in INVALID_PACKAGES],
                         ids=[i for i, _ in INVALID_PACKAGES])
def test_create_validation(ckan: Case, fields: dict[str, Any]) -> None:
    org = ckan.org()
    data = {**_base(ckan, org), **fields}
    data = {k: v for k, v in data.items() if v is not None}
    status, body = ckan.call("package_create", data,
                             view=only("result.name", "result.state", "result.type",
                                       "result.license_id", "result.url", "result.id"))
    # a create that succeeded must be readable; record what came back
    if status == 200:
        ckan.call("package_show", {"id": get_path(body, "result.id")},
                  view=only("result.name", "result.state"))


def test_create_name_taken(ckan: Case) -> None:
    org = ckan.org()
    ckan.dataset("ds", org)
    ckan.call("package_create", {"name": ckan.name("ds"), "owner_org": org["id"]})
    ckan.call("package_create", {"name": ckan.name("ds"), "owner_org": "no-org-contract"},
              label="taken and bad org")


def test_create_unicode_and_long_text(ckan: Case) -> None:
    org = ckan.org()
    ckan.call("package_create", {"name": ckan.name("ds"), "owner_org": org["id"],
                                 "title": "Données — 数据 ✓", "notes": "n" * 5000},
              view=chain(only("result.title", "result.notes"),
                         lambda b: {**b, "result.notes": len(b["result.notes"] or "")}))


def test_create_custom_fields_become_extras(ckan: Case) -> None:
    org = ckan.org()
    ckan.call("package_create", {"name": ckan.name("ds"), "owner_org": org["id"],
                                 "custom_field": "value", "another": 5},
              view=only("result.extras", "result.custom_field", "result.another"))


def test_revise_optimistic_concurrency(ckan: Case) -> None:
    org = ckan.org()
    ds = ckan.dataset("ds", org)
    stamp = ds["metadata_modified"]
    ckan.call("package_revise", {"match": {"id": ds["id"], "metadata_modified": stamp},
                                 "update": {"title": "first writer"}},
              view=only("result.package.title"), label="fresh stamp")
    # the second writer still holds the old stamp: rejected, nothing changed
    ckan.call("package_revise", {"match": {"id": ds["id"], "metadata_modified": stamp},
                                 "update": {"title": "second writer"}}, label="stale stamp")
    ckan.call("package_show", {"id": ds["id"]}, view=only("result.title"))


def test_move_between_organizations(ckan: Case) -> None:
    org_a = ckan.org("a")
    org_b = ckan.org("b")
    editor = ckan.actor("editor", org_a)
    ds = ckan.dataset("ds", org_a)
    ckan.call("package_patch", {"id": ds["id"], "owner_org": org_b["id"]}, as_=editor,
              view=only("result.owner_org"), label="editor of source only")
    ckan.call("package_patch", {"id": ds["id"], "owner_org": org_b["name"]},
              view=only("result.owner_org", "result.organization.name"), label="sysadmin")
    ckan.call("package_patch", {"id": ds["id"], "owner_org": "ct-no-such-org"},
              label="unknown organization")


def test_organization_show_hides_private_datasets(ckan: Case) -> None:
    org = ckan.org()
    ckan.dataset("pub", org)
    ckan.dataset("priv", org, private=True)
    member = ckan.actor("member", org)
    view = chain(pick("result.packages", "name", "private"),
                 lambda b: {**b, "result.packages": sorted(
                     b.get("result.packages") or [], key=lambda p: p["name"])}
                 if b.get("success") else b)
    for who in ("anonymous", member, "user", "sysadmin"):
        ckan.call("organization_show", {"id": org["id"], "include_datasets": True}, as_=who,
                  view=view, label=f"as {getattr(who, 'role', who)}")
        ckan.call("organization_show", {"id": org["id"]}, as_=who,
                  view=only("result.package_count"),
                  label=f"package_count as {getattr(who, 'role', who)}")
