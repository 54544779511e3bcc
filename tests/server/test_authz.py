"""The authorization matrix (anonymous / member / editor / admin / outsider / sysadmin).

Expected outcomes and messages come from the same requests sent to a real CKAN 2.11.6
(organization with a member, an editor and an admin; a private, a draft and a deleted dataset).
The functions are tested directly, and through the datasets family's actions over HTTP.
"""

from __future__ import annotations

from typing import Any

import pytest

from ckanx.server import authz, errors
from ckanx.server.context import Context
from ckanx.server.users import models as user_models

ROLES = ("member", "editor", "admin")


@pytest.fixture
def site(api, make_user, make_org):
    """An org "org1" with one user per capacity, an editor of another org, an outsider, a group."""
    users: dict[str, tuple[dict[str, Any], str]] = {}
    for role in (*ROLES, "outsider", "editor2"):
        users[role] = make_user(f"u-{role}")
    org = make_org("org1", users=[(f"u-{r}", r) for r in ROLES])
    other = make_org("org2", users=[("u-editor2", "editor")])
    status, body = api("group_create", {"name": "grp"})
    assert status == 200
    return {"users": users, "org": org, "other": other, "group": body["result"]}


def ctx_for(server, user: dict[str, Any] | None, **kw: Any) -> Context:
    conn = server.db.conn
    row = user_models.get_user(conn, user["id"]) if user else None
    return Context(server, conn, row, **kw)


def pkg(org_id: str | None, *, state: str = "active", private: bool = False, creator: str = "c") -> dict:
    return {"id": "p1", "owner_org": org_id, "state": state, "private": private, "creator_user_id": creator}


# ------------------------------------------------------------------ functions


@pytest.mark.parametrize(
    ("who", "public", "private", "draft", "deleted"),
    [
        ("anon", True, False, False, False),
        ("member", True, True, True, True),
        ("editor", True, True, True, True),
        ("admin", True, True, True, True),
        ("outsider", True, False, False, False),
        ("editor2", True, False, False, False),
        ("sysadmin", True, True, True, True),
    ],
)
def test_can_read_package(server, site, who, public, private, draft, deleted):
    oid = site["org"]["id"]
    user = None if who == "anon" else (site["users"][who][0] if who != "sysadmin" else {"id": _admin_id(server)})
    ctx = ctx_for(server, user)
    assert authz.can_read_package(ctx, pkg(oid)) is public
    assert authz.can_read_package(ctx, pkg(oid, private=True)) is private
    assert authz.can_read_package(ctx, pkg(oid, state="draft")) is draft
    assert authz.can_read_package(ctx, pkg(oid, state="deleted")) is deleted


def _admin_id(server) -> str:
    row = user_models.get_user(server.db.conn, server.sysadmin_name)
    assert row is not None
    return row["id"]


@pytest.mark.parametrize(
    ("who", "edit", "create_here", "create_anywhere"),
    [
        ("anon", False, False, False),
        ("member", False, False, False),
        ("editor", True, True, True),
        ("admin", True, True, True),
        ("outsider", False, False, False),
        ("editor2", False, False, True),
        ("sysadmin", True, True, True),
    ],
)
def test_edit_and_create(server, site, who, edit, create_here, create_anywhere):
    oid = site["org"]["id"]
    user = None if who == "anon" else (site["users"][who][0] if who != "sysadmin" else {"id": _admin_id(server)})
    ctx = ctx_for(server, user)
    assert authz.can_edit_package(ctx, pkg(oid, private=True)) is edit
    assert authz.can_create_package(ctx, oid) is create_here
    assert authz.can_create_package(ctx, "org1") is create_here  # names work too
    assert authz.can_create_package(ctx, None) is create_anywhere


def test_unowned_datasets(server, site):
    creator = site["users"]["outsider"][0]
    unowned = pkg(None, private=True, creator=creator["id"])
    assert authz.dataset_labels(unowned) == [f"creator-{creator['id']}"]
    assert authz.can_read_package(ctx_for(server, creator), unowned)
    assert not authz.can_read_package(ctx_for(server, site["users"]["member"][0]), unowned)
    # CKAN (create_unowned_dataset=false): editors of any organization may edit unowned datasets
    assert authz.can_edit_package(ctx_for(server, site["users"]["editor2"][0]), unowned)
    assert not authz.can_edit_package(ctx_for(server, creator), unowned)


def test_capacities_and_org_ids(server, site):
    oid = site["org"]["id"]
    for role in ROLES:
        user = site["users"][role][0]
        ctx = ctx_for(server, user)
        assert authz.org_capacity(ctx, oid) == role
        assert authz.org_capacity(ctx, "org1") == role
        assert authz.user_org_ids(ctx) == [oid]
        assert authz.user_org_ids(ctx, "create_dataset") == ([oid] if role != "member" else [])
        assert f"member-{oid}" in authz.user_dataset_labels(ctx)
    anon = ctx_for(server, None)
    assert authz.user_org_ids(anon) == [] and authz.user_dataset_labels(anon) == ["public"]
    assert authz.org_capacity(anon, oid) is None
    admin = ctx_for(server, {"id": _admin_id(server)})
    assert sorted(authz.user_org_ids(admin)) == sorted([oid, site["other"]["id"]])
    assert authz.org_capacity(admin, oid, site["users"]["editor"][0]["id"]) == "editor"
    assert authz.has_permission(admin, "no-such-org", "read") is False


def test_ignore_auth_allows_everything(server, site):
    ctx = ctx_for(server, None, ignore_auth=True)
    assert authz.can_read_package(ctx, pkg(site["org"]["id"], private=True))
    assert authz.can_edit_package(ctx, pkg(site["org"]["id"]))
    authz.check_create_group(ctx, True)  # no exception


def test_check_messages(server, site):
    oid = site["org"]["id"]
    member = ctx_for(server, site["users"]["member"][0])
    with pytest.raises(errors.NotAuthorized) as info:
        authz.check_edit_package(member, pkg(oid))
    assert info.value.message == "Access denied: User u-member not authorized to edit package p1"
    with pytest.raises(errors.NotAuthorized) as info:
        authz.check_read_package(ctx_for(server, None), pkg(oid, private=True))
    assert info.value.message == "Access denied: User  not authorized to read package p1"
    with pytest.raises(errors.NotAuthorized) as info:
        authz.check_resource(member, pkg(oid), "create", "p1")
    assert info.value.message == "Access denied: User u-member not authorized to create resources on dataset p1"
    with pytest.raises(errors.NotFound):
        authz.can_manage_groups(member, [{"name": "no-such-group"}])


# ------------------------------------------------------------------ over HTTP (datasets family)


@pytest.fixture
def datasets(api, site):
    for name, extra in (("priv", {"private": True}), ("draft", {"state": "draft"}), ("del", {})):
        status, body = api("package_create", {"name": name, "owner_org": "org1", **extra})
        assert status == 200, body
    assert api("package_delete", {"id": "del"})[0] == 200
    return {name: api("package_show", {"id": name})[1]["result"]["id"] for name in ("priv", "draft", "del")}


@pytest.mark.parametrize("who", ["anon", "outsider", "editor2"])
def test_http_readers_outside_the_org(api, site, datasets, who):
    token = None if who == "anon" else site["users"][who][1]
    name = "" if who == "anon" else f"u-{who}"
    for ds in ("priv", "draft", "del"):
        status, body = api("package_show", {"id": ds}, token=token)
        assert status == 403
        assert body["error"]["message"] == f"Access denied: User {name} not authorized to read package {datasets[ds]}"
    status, body = api("package_patch", {"id": "priv", "notes": "x"}, token=token)
    assert body["error"]["message"] == f"Access denied: User {name} not authorized to edit package {datasets['priv']}"


@pytest.mark.parametrize("who", ROLES)
def test_http_org_members_read_everything(api, site, datasets, who):
    token = site["users"][who][1]
    for ds in ("priv", "draft", "del"):
        assert api("package_show", {"id": ds}, token=token)[0] == 200


@pytest.mark.parametrize(
    ("who", "patch", "create", "create_in_group"),
    [
        (
            "anon",
            "User  not authorized to edit package {priv}",
            "User  not authorized to create packages",
            "User  not authorized to create packages",
        ),
        (
            "member",
            "User u-member not authorized to edit package {priv}",
            "User u-member not authorized to create packages",
            "User u-member not authorized to create packages",
        ),
        ("editor", None, None, "User u-editor not authorized to edit these groups"),
        ("admin", None, None, "User u-admin not authorized to edit these groups"),
        (
            "outsider",
            "User u-outsider not authorized to edit package {priv}",
            "User u-outsider not authorized to create packages",
            "User u-outsider not authorized to create packages",
        ),
        (
            "editor2",
            "User u-editor2 not authorized to edit package {priv}",
            "User u-editor2 not authorized to add dataset to this organization",
            "User u-editor2 not authorized to edit these groups",
        ),
    ],
)
def test_http_write_matrix(api, site, datasets, who, patch, create, create_in_group):
    token = None if who == "anon" else site["users"][who][1]

    def expect(result: tuple[int, Any], message: str | None) -> None:
        status, body = result
        if message is None:
            assert status == 200, body
        else:
            assert status == 403
            assert body["error"]["message"] == "Access denied: " + message.format(**datasets)

    expect(api("package_patch", {"id": "priv", "notes": "x"}, token=token), patch)
    expect(api("package_create", {"name": f"new-{who}", "owner_org": "org1"}, token=token), create)
    expect(
        api("package_create", {"name": f"grp-{who}", "owner_org": "org1", "groups": [{"name": "grp"}]}, token=token),
        create_in_group,
    )


def test_http_group_members_may_add_datasets_to_their_group(api, site, datasets):
    _, token = site["users"]["editor"]
    api("group_member_create", {"id": "grp", "username": "u-editor", "role": "member"})
    status, body = api(
        "package_create", {"name": "grp-ok", "owner_org": "org1", "groups": [{"name": "grp"}]}, token=token
    )
    assert status == 200, body
    assert [g["name"] for g in body["result"]["groups"]] == ["grp"]
