"""Organizations, groups and members, checked against CKAN 2.11.6's answers."""

from __future__ import annotations

import pytest

SHOW_SCALARS = [
    "approval_status",
    "created",
    "description",
    "display_name",
    "id",
    "image_display_url",
    "image_url",
    "is_organization",
    "name",
    "num_followers",
    "package_count",
    "state",
    "title",
    "type",
]
MEMBER_USER_KEYS = [
    "about",
    "activity_streams_email_notifications",
    "capacity",
    "created",
    "display_name",
    "email_hash",
    "fullname",
    "id",
    "image_display_url",
    "image_url",
    "last_active",
    "name",
    "number_created_packages",
    "state",
    "sysadmin",
]
LIST_FOR_USER_KEYS = [
    "id",
    "name",
    "title",
    "type",
    "description",
    "image_url",
    "created",
    "is_organization",
    "approval_status",
    "state",
    "capacity",
    "display_name",
    "image_display_url",
]


def test_organization_create_shape_and_creator_admin(api, make_user):
    _, token = make_user("founder")
    make_user("helper")
    status, body = api(
        "organization_create",
        {
            "name": "acme",
            "title": "Acme",
            "description": "d",
            "extras": [{"key": "k1", "value": "v1"}],
            "users": [{"name": "helper", "capacity": "editor"}],
        },
        token=token,
    )
    assert status == 200, body
    org = body["result"]
    assert list(org) == [*SHOW_SCALARS, "extras", "users", "tags", "groups"]
    assert org["display_name"] == "Acme" and org["type"] == "organization"
    assert org["is_organization"] is True and org["approval_status"] == "approved"
    assert org["image_url"] == "" and org["image_display_url"] == ""
    assert org["package_count"] == 0 and org["num_followers"] == 0
    assert [(e["key"], e["value"], e["state"], e["group_id"]) for e in org["extras"]] == [
        ("k1", "v1", "active", org["id"])
    ]
    assert [(u["name"], u["capacity"]) for u in org["users"]] == [
        ("founder", "admin"),
        ("helper", "editor"),
    ]
    assert list(org["users"][0]) == MEMBER_USER_KEYS
    assert org["tags"] == [] and org["groups"] == []


def test_group_create_defaults(api):
    status, body = api("group_create", {"name": "readers"})
    group = body["result"]
    assert status == 200
    assert group["type"] == "group" and group["is_organization"] is False
    assert group["title"] == "" and group["display_name"] == "readers" and group["description"] == ""
    assert [(u["name"], u["capacity"]) for u in group["users"]] == [("ckan_admin", "admin")]


@pytest.mark.parametrize("ckan_version", ["2.12"])
def test_organization_show_drops_tags_on_212(api, make_org):
    org = make_org("neworg")
    assert "tags" not in org
    status, body = api("organization_show", {"id": "neworg"})
    assert status == 200 and "tags" not in body["result"]
    # CKAN 2.12's group_dictize has no tags at all, for groups too
    _, body = api("group_create", {"name": "grp12"})
    assert "tags" not in body["result"]
    _, body = api("organization_update", {"id": "neworg", "title": "T"})
    assert "tags" not in body["result"]


@pytest.mark.parametrize("ckan_version", ["2.12"])
def test_extras_on_212(api, make_org):
    org = make_org("x12", extras=[{"key": "zz", "value": "1"}, {"key": "aa", "value": "2"}])
    assert org["extras"] == [{"key": "zz", "value": "1"}, {"key": "aa", "value": "2"}]  # given order
    _, body = api("organization_patch", {"id": "x12", "title": "kept"})
    assert body["result"]["extras"] == [{"key": "zz", "value": "1"}, {"key": "aa", "value": "2"}]
    # a full update without extras clears them on 2.12, but leaves the members alone
    _, body = api("organization_update", {"id": "x12", "title": "gone"})
    assert body["result"]["extras"] == []
    assert [u["name"] for u in body["result"]["users"]] == ["ckan_admin"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, {"name": ["Missing value"]}),
        (
            {"name": "Bad Name", "id": "x"},
            {
                "id": ["Invalid id provided"],
                "name": ["Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_"],
            },
        ),
        (
            {"name": "fine", "users": [{"name": "nope-nope"}], "extras": [{"key": "a"}]},
            {"extras": [{"value": ["Missing value"]}]},
        ),
        ({"name": "taken"}, {"name": ["Group name already exists in database"]}),
    ],
)
def test_organization_create_validation(api, make_org, data, expected):
    make_org("taken")
    status, body = api("organization_create", data)
    assert status == 409
    assert body["error"] == {**expected, "__type": "Validation Error"}


def test_create_denied_to_anonymous(api):
    for action, kind in (("organization_create", "organizations"), ("group_create", "groups")):
        status, body = api(action, {"name": "anon-made"}, token=None)
        assert status == 403
        assert body["error"]["message"] == f"Access denied: User None not authorized to create {kind}"


def test_show_errors(api, make_org):
    make_org("realorg")
    assert api("organization_show", {"id": "nope"})[1]["error"] == {
        "__type": "Not Found Error",
        "message": "Not found",
    }
    assert api("organization_show", {})[1]["error"] == {"id": ["Missing value"], "__type": "Validation Error"}
    # an organization is not a group and vice versa
    assert api("group_show", {"id": "realorg"})[0] == 404


def test_show_flags(api, make_org):
    make_org("flags", extras=[{"key": "a", "value": "b"}])
    _, body = api(
        "organization_show",
        {"id": "flags", "include_users": "false", "include_extras": False, "include_member_count": True},
        method="GET",
    )
    org = body["result"]
    assert "users" not in org and "extras" not in org
    assert org["member_count"] == 1
    _, body = api("organization_show", {"id": "flags", "include_datasets": True})
    assert body["result"]["packages"] == []


def test_update_replaces_members_and_patch_keeps_them(api, make_user, make_org):
    _, admin_token = make_user("boss")
    _, editor_token = make_user("worker")
    api("organization_create", {"name": "shop", "users": [{"name": "worker", "capacity": "editor"}]}, token=admin_token)
    org_id = api("organization_show", {"id": "shop"})[1]["result"]["id"]
    status, body = api("organization_update", {"id": "shop", "title": "x"}, token=editor_token)
    assert status == 403
    assert body["error"]["message"] == f"Access denied: User worker not authorized to edit organization {org_id}"
    status, body = api("organization_patch", {"id": "shop", "description": "patched"}, token=admin_token)
    assert status == 200
    assert body["result"]["description"] == "patched"
    assert [u["name"] for u in body["result"]["users"]] == ["boss", "worker"]
    # update/patch return raw member dicts: columns, capacity, then computed keys (CKAN 2.11.6)
    assert list(body["result"]["users"][0]) == [
        "id",
        "name",
        "fullname",
        "created",
        "about",
        "last_active",
        "activity_streams_email_notifications",
        "sysadmin",
        "state",
        "image_url",
        "capacity",
        "display_name",
        "email_hash",
        "number_created_packages",
        "image_display_url",
    ]
    status, body = api("organization_update", {"id": "shop", "title": "New"}, token=admin_token)
    assert status == 200
    result = body["result"]
    assert list(result) == [
        "id",
        "name",
        "title",
        "type",
        "description",
        "image_url",
        "created",
        "is_organization",
        "approval_status",
        "state",
        "display_name",
        "extras",
        "packages",
        "package_count",
        "tags",
        "groups",
        "users",
        "image_display_url",
    ]
    assert result["title"] == "New" and result["description"] == "patched"  # not given: kept
    assert result["users"] == []  # not given: everyone removed, as CKAN does
    assert api("member_list", {"id": "shop"})[1]["result"] == []


def test_update_errors(api, make_org):
    make_org("upd-org")
    make_org("other-org")
    status, body = api("organization_update", {"id": "nope", "title": "x"})
    assert status == 404 and body["error"]["message"] == "Not found: Group was not found."
    status, body = api("organization_update", {"id": "upd-org", "type": "group"})
    assert body["error"] == {"message": "Type cannot be updated", "__type": "Validation Error"}
    status, body = api("organization_update", {"id": "upd-org", "name": "other-org"})
    assert body["error"] == {"name": ["Group name already exists in database"], "__type": "Validation Error"}


def test_extras_update_semantics(api, make_org):
    make_org("ext", extras=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    # an empty extras list changes nothing; a non-empty one replaces
    _, body = api("organization_patch", {"id": "ext", "extras": []})
    assert [e["key"] for e in body["result"]["extras"]] == ["a", "b"]
    _, body = api("organization_patch", {"id": "ext", "extras": [{"key": "b", "value": "3"}]})
    assert [(e["key"], e["value"]) for e in body["result"]["extras"]] == [("b", "3")]


def test_delete_and_purge(api, make_user, make_org):
    _, token = make_user("outsider")
    org = make_org("doomed")
    status, body = api("organization_delete", {"id": "doomed"}, token=token)
    assert status == 403
    assert body["error"]["message"] == (
        f"Access denied: User outsider not authorized to delete organization {org['id']}"
    )
    assert api("organization_delete", {"id": "doomed"})[0] == 200
    _, body = api("organization_show", {"id": "doomed"})
    assert body["result"]["state"] == "deleted"
    assert api("organization_list", {})[1]["result"] == []
    # deleted organizations need read permission to be shown
    status, body = api("organization_show", {"id": "doomed"}, token=token)
    assert status == 403
    assert body["error"]["message"] == f"Access denied: User outsider not authorized to read group {org['id']}"
    status, body = api("organization_purge", {"id": "doomed"}, token=token)
    assert status == 403 and body["error"]["message"] == "Access denied"
    assert api("organization_purge", {"id": "doomed"})[0] == 200
    status, body = api("organization_purge", {"id": "doomed"})
    assert status == 404 and body["error"]["message"] == "Not found: Organization was not found"
    status, body = api("group_purge", {"id": "doomed"})
    assert body["error"]["message"] == "Not found: Group was not found"
    status, body = api("organization_delete", {"id": "doomed"})
    assert body["error"]["message"] == "Not found: Group was not found."


def test_list_sorting_paging_and_caps(api, make_org):
    make_org("bravo", title="Zulu")
    make_org("alpha", title="Yankee")
    make_org("charlie", title="X-ray", description="has needle")
    assert api("organization_list", {})[1]["result"] == ["charlie", "alpha", "bravo"]  # title
    assert api("organization_list", {"sort": "name desc"})[1]["result"] == ["charlie", "bravo", "alpha"]
    assert api("organization_list", {"order_by": "name"})[1]["result"] == ["alpha", "bravo", "charlie"]
    assert api("organization_list", {"sort": "name", "limit": 1, "offset": 1})[1]["result"] == ["bravo"]
    assert api("organization_list", {"q": "needle"})[1]["result"] == ["charlie"]
    assert api("organization_list", {"organizations": "alpha,bravo", "sort": "name"})[1]["result"] == [
        "alpha",
        "bravo",
    ]
    _, body = api("organization_list", {"all_fields": True, "limit": 2}, method="GET")
    assert [o["name"] for o in body["result"]] == ["charlie", "alpha"]
    assert list(body["result"][0]) == SHOW_SCALARS
    status, body = api("organization_list", {"sort": "created"})
    assert status == 409
    assert body["error"] == {"message": "Cannot sort by field `created`", "__type": "Validation Error"}
    status, body = api("organization_list", {"sort": "name sideways"})
    assert status == 409
    assert body["error"] == {"message": "Invalid sort direction `sideways`", "__type": "Validation Error"}
    status, body = api("organization_list", {"limit": "x"})
    assert status == 409
    assert body["error"] == {"limit": ["Invalid integer"], "__type": "Validation Error"}
    assert api("group_list", {})[1]["result"] == []


def test_list_caps(api):
    from ckanx.server.organizations import actions

    assert (actions.LIST_MAX, actions.LIST_ALL_FIELDS_MAX) == (1000, 25)
    for i in range(27):
        api("group_create", {"name": f"g{i:02d}"})
    _, body = api("group_list", {"all_fields": True, "limit": 100})
    assert len(body["result"]) == 25
    _, body = api("group_list", {"sort": "name"})
    assert len(body["result"]) == 27


def test_members(api, make_user, make_org):
    _, admin_token = make_user("adm")
    editor, _ = make_user("edi")
    _, outsider_token = make_user("out")
    status, body = api("organization_create", {"name": "team"}, token=admin_token)
    org = body["result"]
    status, body = api(
        "organization_member_create", {"id": "team", "username": "edi", "role": "editor"}, token=admin_token
    )
    assert status == 200
    membership = body["result"]
    assert list(membership) == ["id", "table_name", "table_id", "capacity", "group_id", "state"]
    assert (membership["table_name"], membership["table_id"], membership["capacity"]) == (
        "user",
        editor["id"],
        "editor",
    )
    status, body = api(
        "member_create",
        {"id": "team", "object": "edi", "object_type": "user", "capacity": "member"},
        token=admin_token,
    )
    assert body["result"]["id"] == membership["id"] and body["result"]["capacity"] == "member"
    _, body = api("member_list", {"id": "team"}, token=None)
    assert sorted(body["result"]) == sorted(
        [[org["users"][0]["id"], "user", "Admin"], [editor["id"], "user", "Member"]]
    )
    _, body = api("member_list", {"id": "team", "object_type": "user", "capacity": "admin"})
    assert [m[2] for m in body["result"]] == ["Admin"]
    status, body = api(
        "organization_member_create", {"id": "team", "username": "adm", "role": "member"}, token=admin_token
    )
    assert status == 403
    assert body["error"]["message"] == "Access denied: Administrators cannot revoke their own admin status"
    status, body = api(
        "organization_member_create", {"id": "team", "username": "out", "role": "member"}, token=outsider_token
    )
    assert body["error"]["message"] == "Access denied: User out not authorized to add members"
    status, body = api(
        "member_create",
        {"id": "team", "object": "out", "object_type": "user", "capacity": "member"},
        token=outsider_token,
    )
    assert body["error"]["message"] == f"Access denied: User out not authorized to edit group {org['id']}"
    for _ in range(2):  # deleting twice is fine
        assert api("organization_member_delete", {"id": "team", "username": "edi"}, token=admin_token)[0] == 200
    assert [m[1:] for m in api("member_list", {"id": "team"})[1]["result"]] == [["user", "Admin"]]


def test_member_errors(api, make_org):
    make_org("errs")
    status, body = api("member_create", {"id": "nope"}, token=None)
    assert body["error"] == {
        "capacity": ["Missing value"],
        "object": ["Missing value"],
        "object_type": ["Missing value"],
        "__type": "Validation Error",
    }
    status, body = api(
        "member_create", {"id": "nope", "object": "x", "object_type": "user", "capacity": "member"}, token=None
    )
    assert status == 404 and body["error"]["message"] == "Not found: Group was not found."
    status, body = api("member_create", {"id": "errs", "object": "x", "object_type": "user", "capacity": "member"})
    assert status == 404 and body["error"]["message"] == "Not found: User was not found."
    status, body = api("organization_member_create", {"id": "errs", "username": "nobody", "role": "boss"})
    assert body["error"] == {
        "role": ["role does not exist."],
        "username": ["Not found: User"],
        "__type": "Validation Error",
    }


def test_organization_list_for_user(api, make_user, make_org):
    _user, token = make_user("lfu")
    make_org("zeta", users=[("lfu", "member")])
    make_org("eta", users=[("lfu", "editor")], title="Eta")
    make_org("theta")
    _, body = api("organization_list_for_user", {}, token=token)  # default permission manage_group
    assert [(o["name"], o["capacity"]) for o in body["result"]] == [("eta", "editor"), ("zeta", "member")]
    assert list(body["result"][1]) == LIST_FOR_USER_KEYS
    _, body = api("organization_list_for_user", {"id": "lfu", "permission": "create_dataset"})
    assert [o["name"] for o in body["result"]] == ["eta"]
    _, body = api("organization_list_for_user", {"permission": "read", "include_dataset_count": True})
    assert [(o["name"], o["capacity"]) for o in body["result"]] == [
        ("eta", "admin"),
        ("theta", "admin"),
        ("zeta", "admin"),
    ]  # a sysadmin is admin everywhere
    assert all(o["package_count"] == 0 for o in body["result"])
    assert api("organization_list_for_user", {}, token=None)[1]["result"] == []
    assert api("organization_list_for_user", {"id": "nope"})[0] == 404


def test_group_list_authz(api, make_user):
    _user, token = make_user("gla")
    api("group_create", {"name": "mine", "users": [{"name": "gla", "capacity": "member"}]})
    api("group_create", {"name": "theirs"})
    _, body = api("group_list_authz", {}, token=token)
    assert [g["name"] for g in body["result"]] == ["mine"]
    # no counts in these entries (CKAN 2.11.6)
    assert list(body["result"][0]) == [k for k in LIST_FOR_USER_KEYS if k != "capacity"]
    _, body = api("group_list_authz", {})
    assert [g["name"] for g in body["result"]] == ["mine", "theirs"]
    _, body = api("group_list_authz", {"am_member": True})
    assert [g["name"] for g in body["result"]] == ["mine", "theirs"]  # the sysadmin created both
    assert api("group_list_authz", {}, token=None)[1]["result"] == []


def test_datasets_in_groups_and_organizations(api, make_user, make_org):
    _, token = make_user("pub")
    make_org("owner", users=[("pub", "editor")])
    api("group_create", {"name": "shelf"})
    assert api("package_create", {"name": "d1", "owner_org": "owner"}, token=token)[0] == 200
    assert api("package_create", {"name": "d2", "owner_org": "owner", "private": True}, token=token)[0] == 200
    assert api("package_create", {"name": "d3", "owner_org": "owner", "groups": [{"name": "shelf"}]})[0] == 200
    # package_count: members see private datasets, others do not
    assert api("organization_show", {"id": "owner"}, token=None)[1]["result"]["package_count"] == 2
    assert api("organization_show", {"id": "owner"}, token=token)[1]["result"]["package_count"] == 3
    _, body = api("group_show", {"id": "shelf", "include_datasets": True})
    assert body["result"]["package_count"] == 1
    assert [p["name"] for p in body["result"]["packages"]] == ["d3"]
    # datasets join and leave groups through member_create / member_delete
    status, body = api("member_create", {"id": "shelf", "object": "d1", "object_type": "package", "capacity": "public"})
    assert status == 200 and body["result"]["table_name"] == "package"
    _, body = api("member_list", {"id": "shelf", "object_type": "package"})
    assert sorted(m[2] for m in body["result"]) == ["public", "public"]
    assert api("member_delete", {"id": "shelf", "object": "d3", "object_type": "package"})[0] == 200
    assert api("package_show", {"id": "d3"})[1]["result"]["groups"] == []
    _, body = api("member_list", {"id": "owner", "object_type": "package"}, token=token)
    assert sorted(m[2] for m in body["result"]) == ["organization"] * 3
    # counts used by organization_list_for_user include private datasets, as CKAN's facets do
    _, body = api("organization_list_for_user", {"include_dataset_count": True}, token=token)
    assert body["result"][0]["package_count"] == 3
    status, body = api("organization_delete", {"id": "owner"})
    assert body["error"] == {
        "message": "Organization cannot be deleted while it still has datasets",
        "__type": "Validation Error",
    }


def test_group_packages_parameter(api, make_org):
    make_org("pkgs-org")
    for name in ("p1", "p2"):
        assert api("package_create", {"name": name, "owner_org": "pkgs-org"})[0] == 200
    status, body = api("group_create", {"name": "bad", "packages": [{"id": "nope-nope"}, {"id": "p1"}, {"name": "p2"}]})
    assert status == 409
    assert body["error"] == {
        "packages": [{"id": ["Not found: Dataset"]}, {}, {"id": ["Missing value"]}],
        "__type": "Validation Error",
    }
    status, body = api("group_create", {"name": "box", "packages": [{"id": "p1"}]})
    assert status == 200 and body["result"]["package_count"] == 1

    def names(result):
        return [p["name"] for p in result["packages"]]

    # without "packages" an update leaves the datasets alone; a list replaces them
    assert names(api("group_update", {"id": "box", "title": "T"})[1]["result"]) == ["p1"]
    assert names(api("group_update", {"id": "box", "packages": [{"id": "p2"}]})[1]["result"]) == ["p2"]
    assert [g["name"] for g in api("package_show", {"id": "p1"})[1]["result"]["groups"]] == []
    assert names(api("group_update", {"id": "box", "packages": []})[1]["result"]) == []


def test_autocomplete_and_roles(api, make_org):
    make_org("north-star", title="Polaris")
    make_org("south")
    api("group_create", {"name": "starry", "title": "Night"})
    _, body = api("organization_autocomplete", {"q": "STAR"}, method="GET", token=None)
    assert body["result"] == [{"id": body["result"][0]["id"], "name": "north-star", "title": "Polaris"}]
    _, body = api("organization_autocomplete", {"q": "polar"})
    assert [o["name"] for o in body["result"]] == ["north-star"]
    _, body = api("group_autocomplete", {"q": "star"})
    assert [g["name"] for g in body["result"]] == ["starry"]
    _, body = api("member_roles_list", {}, token=None)
    assert body["result"] == [
        {"text": "Admin", "value": "admin"},
        {"text": "Editor", "value": "editor"},
        {"text": "Member", "value": "member"},
    ]
    _, body = api("member_roles_list", {"group_type": "group"}, method="GET")
    assert body["result"] == [{"text": "Admin", "value": "admin"}, {"text": "Member", "value": "member"}]


def test_delete_by_name_keeps_memberships_by_id_removes_them(api, make_user, make_org):
    # CKAN filters memberships on the id as given (observed on 2.11.6 and 2.12.0)
    _, token = make_user("keeper")
    make_org("by-name", users=[("keeper", "admin")])
    second = make_org("by-id", users=[("keeper", "admin")])
    assert api("organization_delete", {"id": "by-name"}, token=token)[0] == 200
    status, body = api("organization_show", {"id": "by-name"}, token=token)
    assert status == 200 and body["result"]["state"] == "deleted"
    assert api("organization_delete", {"id": second["id"]}, token=token)[0] == 200
    status, body = api("organization_show", {"id": "by-id"}, token=token)
    assert status == 403


@pytest.mark.parametrize("ckan_version", ["2.12"])
def test_messages_on_212(api, make_org):
    make_org("m12")
    status, body = api("organization_update", {"id": "m12", "type": "group"})
    assert body["error"] == {"type": "Type cannot be updated", "__type": "Validation Error"}
    status, body = api("organization_member_create", {"id": "m12", "username": "nobody", "role": "member"})
    assert body["error"] == {"username": ["User not found"], "__type": "Validation Error"}
    status, body = api("member_create", {"id": "m12", "object": "x", "object_type": "nonsense", "capacity": "member"})
    assert status == 409
    assert body["error"] == {"message": "Nonsense isn't a valid model", "__type": "Validation Error"}
