"""The authorization matrix: every role x every operation, status code and error body.

One *world* per target (an organization, a user of each role, a public and a private dataset
with a resource) is shared by all cells; a cell that changes or deletes a dataset works on its
own fresh dataset, so cells do not depend on each other's order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from normalise import only

from conftest import Actor, Case, Target, new_run_id

ROLES = ["anonymous", "user", "member", "editor", "admin", "sysadmin"]


@dataclass
class World:
    """Shared objects for the matrix, created once per target by the sysadmin."""

    run: str
    org: dict[str, Any]
    public: dict[str, Any]
    private: dict[str, Any]
    actors: dict[str, Actor] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(target: Target) -> World:
    run = new_run_id()
    org = target.make_org(f"{run}-org")
    res = [{"url": "http://example.com/r.csv", "name": "r"}]
    public = target.ok("package_create", {"name": f"{run}-pub", "owner_org": org["id"],
                                          "resources": res})
    private = target.ok("package_create", {"name": f"{run}-priv", "owner_org": org["id"],
                                           "private": True, "resources": res})
    w = World(run, org, public, private)
    w.actors["anonymous"] = Actor("anonymous", None, None, None)
    w.actors["sysadmin"] = target.sysadmin_actor()
    for role in ("user", "member", "editor", "admin"):
        actor = target.make_user(f"{run}-{role}")
        actor.role = role
        if role != "user":
            target.add_member(org["name"], actor.name or "", role)
        w.actors[role] = actor
    return w


def _fresh(ckan: Case, w: World) -> dict[str, Any]:
    return ckan.setup("package_create", {"name": ckan.name("target"), "owner_org": w.org["id"],
                                         "resources": [{"url": "http://example.com/x"}]})


def _search_view(body: Any) -> Any:
    if not body.get("success"):
        return body
    res = body["result"]
    return {"success": True, "count": res["count"],
            "names": sorted(r["name"] for r in res["results"])}


def op_read_public(ckan: Case, w: World, who: Actor) -> None:
    ckan.call("package_show", {"id": w.public["id"]}, as_=who, view=only("result.name"))


def op_read_private(ckan: Case, w: World, who: Actor) -> None:
    ckan.call("package_show", {"id": w.private["id"]}, as_=who, view=only("result.name"))


def op_read_private_resource(ckan: Case, w: World, who: Actor) -> None:
    ckan.call("resource_show", {"id": w.private["resources"][0]["id"]}, as_=who,
              view=only("result.name"))


def op_search_include_private(ckan: Case, w: World, who: Actor) -> None:
    fq = f'name:("{w.public["name"]}" OR "{w.private["name"]}")'
    ckan.call("package_search", {"fq": fq, "include_private": True}, as_=who, view=_search_view)


def op_search_default(ckan: Case, w: World, who: Actor) -> None:
    fq = f'name:("{w.public["name"]}" OR "{w.private["name"]}")'
    ckan.call("package_search", {"fq": fq}, as_=who, view=_search_view)


def op_create(ckan: Case, w: World, who: Actor) -> None:
    ckan.call("package_create", {"name": ckan.name("new"), "owner_org": w.org["id"]}, as_=who,
              view=only("result.name", "result.owner_org"))


def op_create_no_org(ckan: Case, w: World, who: Actor) -> None:
    ckan.call("package_create", {"name": ckan.name("new")}, as_=who,
              view=only("result.name", "result.owner_org"))


def op_update(ckan: Case, w: World, who: Actor) -> None:
    ds = _fresh(ckan, w)
    ckan.call("package_patch", {"id": ds["id"], "title": "changed"}, as_=who,
              view=only("result.title"))


def op_delete(ckan: Case, w: World, who: Actor) -> None:
    ds = _fresh(ckan, w)
    ckan.call("package_delete", {"id": ds["id"]}, as_=who)


def op_purge(ckan: Case, w: World, who: Actor) -> None:
    ds = _fresh(ckan, w)
    ckan.call("dataset_purge", {"id": ds["id"]}, as_=who)


def op_resource_create(ckan: Case, w: World, who: Actor) -> None:
    ds = _fresh(ckan, w)
    ckan.call("resource_create", {"package_id": ds["id"], "url": "http://example.com/n"},
              as_=who, view=only("result.url"))


def op_resource_delete(ckan: Case, w: World, who: Actor) -> None:
    ds = _fresh(ckan, w)
    ckan.call("resource_delete", {"id": ds["resources"][0]["id"]}, as_=who)


def op_org_update(ckan: Case, w: World, who: Actor) -> None:
    ckan.call("organization_patch", {"id": w.org["id"], "description": f"by {who.role}"},
              as_=who, view=only("result.description"))


def op_member_create(ckan: Case, w: World, who: Actor) -> None:
    newbie = ckan.target.make_user(ckan.name("newbie"))
    ckan.call("organization_member_create", {"id": w.org["id"], "username": newbie.name,
                                             "role": "member"}, as_=who,
              view=only("result.capacity"))


def op_user_create(ckan: Case, w: World, who: Actor) -> None:
    name = ckan.name("u")
    ckan.call("user_create", {"name": name, "email": f"{name}@example.com",
                              "password": "Contract-pass-1234"}, as_=who,
              view=only("result.name"))


def op_org_create(ckan: Case, w: World, who: Actor) -> None:
    ckan.call("organization_create", {"name": ckan.name("o")}, as_=who,
              view=only("result.name"))


def op_group_create(ckan: Case, w: World, who: Actor) -> None:
    ckan.call("group_create", {"name": ckan.name("g")}, as_=who, view=only("result.name"))


OPS: dict[str, Callable[[Case, World, Actor], None]] = {
    name.removeprefix("op_"): fn for name, fn in globals().items() if name.startswith("op_")
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("op", sorted(OPS))
def test_matrix(ckan: Case, world: World, op: str, role: str) -> None:
    OPS[op](ckan, world, world.actors[role])
