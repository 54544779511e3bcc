"""Organizations and groups: create/show/list/update/patch/delete/purge and members."""

from __future__ import annotations

from typing import Any

import pytest
from normalise import keys_of, only, pick

from conftest import Case

KINDS = ["organization", "group"]


def members(ckan: Case) -> Any:
    """View of ``member_list``: ``[name or id, type, capacity]`` sorted (CKAN's order is the
    database's, not a contract)."""
    names = ckan.user_names()

    def view(body: Any) -> Any:
        if body.get("success"):
            body["result"] = sorted([names.get(m[0], m[0]), *m[1:]] for m in body["result"])
        return body

    return view


def _create(ckan: Case, kind: str, label: str, **fields: Any) -> dict[str, Any]:
    return ckan.setup(f"{kind}_create", {"name": ckan.name(label), **fields})


def site_counts(body: Any) -> Any:
    """View: members' ``number_created_packages`` counts the whole site's datasets for the
    sysadmin (shared, changing): only the type is compared."""
    users = body.get("result", {}).get("users") if body.get("success") else None
    for user in users or []:
        if isinstance(user.get("number_created_packages"), int):
            user["number_created_packages"] = "<int>"
    return body


@pytest.mark.parametrize("kind", KINDS)
def test_create_and_show(ckan: Case, kind: str) -> None:
    ckan.call(f"{kind}_create", {"name": ckan.name("x"), "title": "Title X",
                                 "description": "About X", "image_url": "http://example.com/x.png",
                                 "extras": [{"key": "region", "value": "north"}]},
              view=site_counts)
    ckan.call(f"{kind}_show", {"id": ckan.name("x")}, method="GET", view=site_counts)
    ckan.call(f"{kind}_show", {"id": ckan.name("x")}, as_="anonymous", view=keys_of("result"),
              label="anonymous keys")


@pytest.mark.parametrize("kind", KINDS)
def test_show_options(ckan: Case, kind: str) -> None:
    obj = _create(ckan, kind, "x")
    org = obj if kind == "organization" else ckan.org()
    groups = [{"name": obj["name"]}] if kind == "group" else []
    ckan.dataset("ds", org, groups=groups)
    ckan.call(f"{kind}_show", {"id": obj["id"], "include_datasets": True},
              view=pick("result.packages", "name"), label="include_datasets")
    ckan.call(f"{kind}_show", {"id": obj["id"], "include_users": False},
              view=only("result.users", "result.package_count"), label="no users")
    ckan.call(f"{kind}_show", {"id": obj["id"], "include_extras": False,
                               "include_tags": False, "include_groups": False},
              view=keys_of("result"), label="fewer keys")
    ckan.call(f"{kind}_show", {"id": ckan.name("nope")}, label="unknown")
    ckan.call(f"{kind}_show", {}, label="no id")


ORG_ERRORS: list[tuple[str, dict[str, Any]]] = [
    ("no_name", {"title": "x"}),
    ("bad_name", {"name": "Bad Name"}),
    ("short_name", {"name": "a"}),
    ("long_name", {"name": "o" * 101}),
    ("bad_extras", {"name": "<run>-x", "extras": [{"key": "k"}]}),
    ("bad_image_url", {"name": "<run>-x", "image_url": 5}),
    ("users_bad", {"name": "<run>-x", "users": [{"name": "ct-no-such-user", "capacity": "admin"}]}),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("data", [d for _, d in ORG_ERRORS], ids=[i for i, _ in ORG_ERRORS])
def test_create_errors(ckan: Case, kind: str, data: dict[str, Any]) -> None:
    data = {k: (ckan.name("x") if v == "<run>-x" else v) for k, v in data.items()}
    ckan.call(f"{kind}_create", data, view=only("result.name", "result.image_url"))


@pytest.mark.parametrize("kind", KINDS)
def test_name_taken(ckan: Case, kind: str) -> None:
    _create(ckan, kind, "x")
    ckan.call(f"{kind}_create", {"name": ckan.name("x")})
    other = "group" if kind == "organization" else "organization"
    ckan.call(f"{other}_create", {"name": ckan.name("x")}, label=f"{other} with same name")


@pytest.mark.parametrize("kind", KINDS)
def test_list_filters_and_paging(ckan: Case, kind: str) -> None:
    names = [_create(ckan, kind, f"l{i}", title=f"T{3 - i}")["name"] for i in range(4)]
    base: dict[str, Any] = {"organizations" if kind == "organization" else "groups": names}
    ckan.call(f"{kind}_list", base, label="names")
    ckan.call(f"{kind}_list", {**base, "sort": "name desc"}, label="name desc")
    ckan.call(f"{kind}_list", {**base, "sort": "title asc"}, label="title asc")
    ckan.call(f"{kind}_list", {**base, "limit": 2, "offset": 1}, label="limit offset")
    ckan.call(f"{kind}_list", {**base, "all_fields": True, "limit": 2},
              view=pick("result", "name", "title", "package_count", "type", "is_organization",
                        "state", "approval_status"), label="all_fields")
    ckan.call(f"{kind}_list", {**base, "all_fields": True, "limit": 1},
              view=keys_of("result.0"), label="all_fields keys")
    ckan.call(f"{kind}_list", {**base, "all_fields": True, "include_extras": True,
                               "limit": 1}, view=keys_of("result.0"), label="include_extras keys")
    ckan.call(f"{kind}_list", {**base, "limit": "x"}, label="bad limit")
    ckan.call(f"{kind}_list", {**base, "sort": "bogus"}, label="bad sort")


@pytest.mark.parametrize("kind", KINDS)
def test_update_replaces_and_drops_members(ckan: Case, kind: str) -> None:
    obj = _create(ckan, kind, "x", title="Old", description="keep?")
    user = ckan.actor("user")
    ckan.setup(f"{kind}_member_create", {"id": obj["id"], "username": user.name,
                                         "role": "editor"})
    ckan.call(f"{kind}_update", {"id": obj["id"], "name": obj["name"], "title": "New"},
              view=only("result.title", "result.description"))
    ckan.call("member_list", {"id": obj["id"], "object_type": "user"}, label="members after",
              view=members(ckan))
    ckan.call(f"{kind}_update", {"id": ckan.name("nope"), "name": ckan.name("nope")},
              label="unknown")


@pytest.mark.parametrize("kind", KINDS)
def test_patch_keeps_members(ckan: Case, kind: str) -> None:
    obj = _create(ckan, kind, "x", title="Old", description="kept")
    user = ckan.actor("user")
    ckan.setup(f"{kind}_member_create", {"id": obj["id"], "username": user.name,
                                         "role": "member"})
    ckan.call(f"{kind}_patch", {"id": obj["id"], "title": "Patched"},
              view=only("result.title", "result.description"))
    ckan.call("member_list", {"id": obj["id"], "object_type": "user"},
              view=members(ckan))


@pytest.mark.parametrize("kind", KINDS)
def test_delete_and_purge(ckan: Case, kind: str) -> None:
    obj = _create(ckan, kind, "x")
    ckan.call(f"{kind}_delete", {"id": obj["name"]})
    ckan.call(f"{kind}_show", {"id": obj["id"]}, view=only("result.state"), label="show deleted")
    key = "organizations" if kind == "organization" else "groups"
    ckan.call(f"{kind}_list", {key: [obj["name"]]}, label="list after delete")
    ckan.call(f"{kind}_create", {"name": obj["name"]}, view=only("result.name"),
              label="name reuse after delete")
    ckan.call(f"{kind}_purge", {"id": obj["id"]})
    ckan.call(f"{kind}_show", {"id": obj["id"]}, label="show purged")
    ckan.call(f"{kind}_purge", {"id": obj["id"]}, label="purge again")
    ckan.call(f"{kind}_delete", {"id": ckan.name("nope")}, label="delete unknown")


def test_delete_org_with_datasets(ckan: Case) -> None:
    org = ckan.org()
    ds = ckan.dataset("ds", org)
    ckan.call("organization_delete", {"id": org["id"]})
    ckan.call("package_show", {"id": ds["id"]}, view=only("result.state", "result.owner_org"))


@pytest.mark.parametrize("kind", KINDS)
def test_members(ckan: Case, kind: str) -> None:
    obj = _create(ckan, kind, "x")
    user = ckan.actor("user")
    ckan.call(f"{kind}_member_create", {"id": obj["id"], "username": user.name,
                                        "role": "editor"})
    ckan.call("member_list", {"id": obj["name"], "object_type": "user"}, method="GET",
              view=members(ckan))
    ckan.call(f"{kind}_member_create", {"id": obj["id"], "username": user.name,
                                        "role": "admin"}, label="change role")
    ckan.call("member_list", {"id": obj["name"], "object_type": "user", "capacity": "admin"},
              label="filter capacity", view=members(ckan))
    ckan.call(f"{kind}_member_create", {"id": obj["id"], "username": user.name,
                                        "role": "boss"}, label="bad role")
    ckan.call(f"{kind}_member_create", {"id": obj["id"], "username": "ct-no-such-user",
                                        "role": "member"}, label="unknown user")
    ckan.call(f"{kind}_member_delete", {"id": obj["id"], "username": user.name})
    ckan.call("member_list", {"id": obj["name"], "object_type": "user"}, label="after delete",
              view=members(ckan))
    ckan.call(f"{kind}_member_delete", {"id": obj["id"], "username": user.name},
              label="delete again")


def test_organization_list_for_user(ckan: Case) -> None:
    org_a = ckan.org("a")
    org_b = ckan.org("b")
    editor = ckan.actor("editor", org_a)
    ckan.setup("organization_member_create", {"id": org_b["id"], "username": editor.name,
                                              "role": "member"})
    view = pick("result", "name", "capacity")
    ckan.call("organization_list_for_user", {}, as_=editor, view=view, label="default")
    ckan.call("organization_list_for_user", {"permission": "read"}, as_=editor, view=view,
              label="read")
    ckan.call("organization_list_for_user", {"permission": "create_dataset"}, as_=editor,
              view=view, label="create_dataset")
    ckan.call("organization_list_for_user", {"id": editor.name, "permission": "manage_group"},
              view=view, label="by id manage_group")
    ckan.call("organization_list_for_user", {}, as_="anonymous", label="anonymous")


def test_group_package_membership(ckan: Case) -> None:
    org = ckan.org()
    grp = _create(ckan, "group", "g")
    ds = ckan.dataset("ds", org)
    ckan.call("member_create", {"id": grp["id"], "object": ds["id"], "object_type": "package",
                                "capacity": "public"})
    ckan.call("member_list", {"id": grp["id"], "object_type": "package"},
              view=members(ckan))
    ckan.call("package_show", {"id": ds["id"]}, view=pick("result.groups", "name"))
    ckan.call("member_delete", {"id": grp["id"], "object": ds["id"], "object_type": "package"})
    ckan.call("package_show", {"id": ds["id"]}, view=pick("result.groups", "name"),
              label="after member_delete")
