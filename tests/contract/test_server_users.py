"""Users and API tokens: create/show/update/delete, token create/list/revoke, token semantics."""

from __future__ import annotations

from typing import Any

import pytest
from normalise import keys_of, only, pick

from conftest import Case


def test_user_create_and_show(ckan: Case) -> None:
    name = ckan.name("u")
    ckan.call("user_create", {"name": name, "email": f"{name}@example.com",
                              "password": "Contract-pass-1234", "fullname": "U Ser",
                              "about": "about me"})
    ckan.call("user_show", {"id": name}, method="GET")
    ckan.call("user_show", {"id": name}, as_="anonymous", label="anonymous")
    ckan.call("user_show", {"id": name}, as_="user", view=keys_of("result"), label="other user")
    ckan.call("user_show", {"id": ckan.name("nope")}, label="unknown")
    ckan.call("user_show", {}, view=only("result.name"), label="no id")


USER_ERRORS: list[tuple[str, dict[str, Any]]] = [
    ("empty", {}),
    ("no_email", {"name": "<n>", "password": "Contract-pass-1234"}),
    ("bad_email", {"name": "<n>", "email": "nope", "password": "Contract-pass-1234"}),
    ("short_password", {"name": "<n>", "email": "<n>@example.com", "password": "short"}),
    ("no_password", {"name": "<n>", "email": "<n>@example.com"}),
    ("bad_name", {"name": "Bad Name", "email": "x@example.com", "password": "Contract-pass-1234"}),
    ("short_name", {"name": "u", "email": "x@example.com", "password": "Contract-pass-1234"}),
    ("taken_name", {"name": "ckan_admin", "email": "x@example.com",
                    "password": "Contract-pass-1234"}),
]


@pytest.mark.parametrize("data", [d for _, d in USER_ERRORS], ids=[i for i, _ in USER_ERRORS])
def test_user_create_errors(ckan: Case, data: dict[str, Any]) -> None:
    name = ckan.name("u")
    data = {k: v.replace("<n>", name) if isinstance(v, str) else v for k, v in data.items()}
    ckan.call("user_create", data, view=only("result.name"))


def test_user_create_permissions(ckan: Case) -> None:
    name = ckan.name("u")
    data = {"name": name, "email": f"{name}@example.com", "password": "Contract-pass-1234"}
    ckan.call("user_create", data, as_="anonymous", label="anonymous")
    ckan.call("user_create", data, as_="user", label="plain user")


def test_user_name_taken_after_delete(ckan: Case) -> None:
    user = ckan.actor("user")
    ckan.call("user_delete", {"id": user.name})
    ckan.call("user_show", {"id": user.name}, view=only("result.state"))
    ckan.call("user_create", {"name": user.name, "email": "again@example.com",
                              "password": "Contract-pass-1234"}, label="name reuse")
    ckan.call("status_show", as_=user, view=only("success"), label="deleted user's token")
    ckan.call("package_create", {"name": ckan.name("ds")}, as_=user,
              label="deleted user's token writes")
    ckan.call("user_delete", {"id": ckan.name("nope")}, label="delete unknown")


def test_user_update_and_patch(ckan: Case) -> None:
    user = ckan.actor("user")
    ckan.call("user_patch", {"id": user.name, "fullname": "Patched Name"},
              view=only("result.fullname", "result.email", "result.name"))
    ckan.call("user_patch", {"id": user.name, "about": "me"}, as_=user,
              view=only("result.about", "result.fullname"), label="self patch")
    ckan.call("user_update", {"id": user.name, "email": f"{user.name}@example.org"}, as_=user,
              view=only("result.email", "result.fullname"), label="self update")
    other = ckan.actor("editor", ckan.org())
    ckan.call("user_patch", {"id": user.name, "fullname": "x"}, as_=other, label="other user")
    ckan.call("user_patch", {"id": user.name, "sysadmin": True}, as_=user,
              view=only("result.sysadmin"), label="self sysadmin")


def test_user_list_q(ckan: Case) -> None:
    ckan.actor("user")
    ckan.actor("editor", ckan.org())
    ckan.call("user_list", {"q": ckan.run}, view=pick("result", "name", "state", "sysadmin"))
    ckan.call("user_list", {"q": ckan.run, "all_fields": False}, label="names only")
    ckan.call("user_list", {"q": ckan.run, "order_by": "bogus"}, view=pick("result", "name"),
              label="bad order_by")


def test_token_create_list_revoke(ckan: Case) -> None:
    user = ckan.actor("user")
    _, created = ckan.call("api_token_create", {"user": user.name, "name": "second"},
                           view=keys_of("result"))
    ckan.call("api_token_list", {"user_id": user.name}, method="GET",
              view=lambda b: {"success": b["success"], "result": sorted(
                  ({k: v for k, v in t.items() if k != "last_access"} for t in b["result"]),
                  key=lambda t: t["name"])} if b.get("success") else b)
    token = created["result"]["token"]
    ckan.call("api_token_revoke", {"token": token})
    ckan.call("package_create", {"name": ckan.name("ds")}, as_=None, label="anonymous reference")
    status, body = ckan.target.call("package_create", {"name": ckan.name("ds")}, token=token)
    ckan.note("revoked token create", (status, body["error"]))
    status, body = ckan.target.call("status_show", token=token)
    ckan.note("revoked token read", (status, body.get("success")))
    ckan.call("api_token_list", {"user_id": user.name}, view=pick("result", "name"),
              label="list after revoke")


def test_token_revoke_by_jti_and_errors(ckan: Case) -> None:
    user = ckan.actor("user")
    token = ckan.setup("api_token_create", {"user": user.name, "name": "t2"})["token"]
    tokens = ckan.setup("api_token_list", {"user_id": user.name})
    jti = next(t["id"] for t in tokens if t["name"] == "t2")
    ckan.call("api_token_revoke", {"jti": jti})
    status, _ = ckan.target.call("organization_list_for_user", {}, token=token)
    ckan.note("revoked token is anonymous (org list)", status)
    ckan.call("api_token_revoke", {"jti": jti}, label="revoke again")
    ckan.call("api_token_revoke", {}, label="no args")
    ckan.call("api_token_create", {"user": user.name}, label="no name")
    ckan.call("api_token_create", {"name": "x"}, label="no user")
    ckan.call("api_token_create", {"user": "ct-no-such-user", "name": "x"}, label="unknown user")


def test_token_permissions(ckan: Case) -> None:
    user = ckan.actor("user")
    other = ckan.actor("editor", ckan.org())
    ckan.call("api_token_create", {"user": user.name, "name": "self"}, as_=user,
              view=keys_of("result"), label="self")
    ckan.call("api_token_create", {"user": other.name, "name": "x"}, as_=user, label="other")
    ckan.call("api_token_list", {"user_id": other.name}, as_=user, label="list other")
    ckan.call("api_token_list", {"user_id": user.name}, as_="anonymous", label="list anonymous")
    ckan.call("api_token_create", {"user": user.name, "name": "x"}, as_="anonymous",
              label="create anonymous")


AUTH_HEADERS = [
    ("bearer", lambda tok: {"Authorization": f"Bearer {tok}"}),
    ("x_ckan_api_key", lambda tok: {"X-CKAN-API-Key": tok}),
    ("garbage", lambda tok: {"Authorization": "not-a-token"}),
    ("truncated_jwt", lambda tok: {"Authorization": tok[:-5]}),
    ("empty", lambda tok: {"Authorization": ""}),
]


@pytest.mark.parametrize("headers", [h for _, h in AUTH_HEADERS], ids=[i for i, _ in AUTH_HEADERS])
def test_unusable_auth_headers_are_anonymous(ckan: Case, headers: Any) -> None:
    hdrs = headers(ckan.target.token)
    for action in ("organization_create", "status_show"):
        resp = ckan.target.http.post(f"/api/3/action/{action}",
                                     json={"name": ckan.name("org")}, headers=hdrs)
        body = resp.json()
        ckan.note(action, [resp.status_code,
                           body.get("error") if isinstance(body, dict) else body])
