"""API tokens and authentication (CKAN 2.11.6 behaviour; 2.12 returns the token id too)."""

from __future__ import annotations

import base64
import json

import pytest

from ckanx.server.core import EmbeddedCKAN


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_token_looks_like_ckan_jwt(api, make_user):
    make_user("tok")
    status, body = api("api_token_create", {"user": "tok", "name": "t1"})
    assert status == 200
    assert list(body["result"]) == ["token"]
    token = body["result"]["token"]
    assert token.startswith("eyJ") and token.count(".") == 2
    data = claims(token)
    assert set(data) == {"jti", "iat"}
    assert len(data["jti"]) == 43  # token_urlsafe(32), like CKAN's api_token.nbytes = 32


@pytest.mark.parametrize("ckan_version", ["2.12"])
def test_token_create_returns_id_on_212(api, make_user):
    make_user("tok12")
    _, body = api("api_token_create", {"user": "tok12", "name": "t1"})
    result = body["result"]
    assert list(result) == ["token", "id"]
    assert claims(result["token"])["jti"] == result["id"]


def test_only_raw_authorization_header_authenticates(api, make_user):
    _, token = make_user("hdr")
    assert api("user_show", {}, token=token)[0] == 200
    for headers in ({"Authorization": f"Bearer {token}"}, {"X-CKAN-API-Key": token}):
        status, body = api("package_create", {"name": "x"}, token=None, headers=headers)
        assert status == 403
        assert body["error"]["message"] == "Access denied: User  not authorized to create packages"
    status, body = api("user_show", {}, token="garbage")
    assert status == 404  # anonymous: no user to show


def test_token_errors(api, make_user):
    make_user("own")
    _, other = make_user("other")
    assert api("api_token_create", {"user": "own"})[1]["error"] == {
        "name": ["Missing value"],
        "__type": "Validation Error",
    }
    assert api("api_token_create", {})[1]["error"] == {
        "name": ["Missing value"],
        "user": ["Missing value"],
        "__type": "Validation Error",
    }
    assert api("api_token_create", {"user": "own", "name": ""})[1]["error"] == {
        "name": ["Missing value"],
        "__type": "Validation Error",
    }
    status, body = api("api_token_create", {"user": "nope-nope", "name": "x"})
    assert status == 404 and body["error"]["message"] == "Not found: User not found"
    for token in (other, None):
        status, body = api("api_token_create", {"user": "own", "name": "x"}, token=token)
        assert status == 403 and body["error"]["message"] == "Access denied"


def test_token_list_and_revoke(api, make_user):
    user, token = make_user("lister")  # make_user created one token named "test"
    _, body = api("api_token_create", {"user": "lister", "name": "second"}, token=token)
    second = body["result"]["token"]
    status, body = api("api_token_list", {"user_id": "lister"}, token=token)
    assert status == 200
    tokens = body["result"]
    assert [t["name"] for t in tokens] == ["test", "second"]
    assert all(list(t) == ["id", "name", "user_id", "created_at", "last_access"] for t in tokens)
    assert all(t["user_id"] == user["id"] for t in tokens)
    first, newer = tokens
    assert first["last_access"] is not None  # used for this very call
    assert newer["last_access"] is None
    # "user" is accepted for backwards compatibility, also over GET
    status, body = api("api_token_list", {"user": "lister"}, token=token, method="GET")
    assert status == 200 and len(body["result"]) == 2
    # revoke by jti, then by token
    assert api("api_token_revoke", {"jti": newer["id"]}, token=token) == (
        200,
        {"help": "http://127.0.0.1:5000/api/3/action/help_show?name=api_token_revoke", "success": True, "result": None},
    )
    assert api("user_show", {}, token=second)[0] == 404
    status, _ = api("api_token_revoke", {"jti": newer["id"]}, token=token)
    assert status == 403  # already gone
    assert api("api_token_revoke", {"token": token}, token=token)[0] == 200
    assert api("user_show", {}, token=token)[0] == 404


def test_token_list_and_revoke_errors(api, make_user):
    make_user("a1")
    _, other = make_user("a2")
    status, body = api("api_token_list", {})
    assert body["error"] == {"user_id": ["Missing value"], "__type": "Validation Error"}
    for token in (other, None):
        status, body = api("api_token_list", {"user_id": "a1"}, token=token)
        assert status == 403 and body["error"]["message"] == "Access denied"
    status, body = api("api_token_list", {"user_id": "nope-nope"})
    assert status == 404 and body["error"]["message"] == "Not found: User not found"
    status, body = api("api_token_revoke", {}, token=other)
    assert body["error"] == {"token": ["Missing value"], "__type": "Validation Error"}
    for data in ({"jti": "nope"}, {"token": "garbage"}):
        status, body = api("api_token_revoke", data, token=other)
        assert status == 403 and body["error"]["message"] == "Access denied"
    _, tokens = api("api_token_list", {"user_id": "a1"})
    status, _ = api("api_token_revoke", {"jti": tokens["result"][0]["id"]}, token=other)
    assert status == 403  # not theirs


def test_deleted_users_token_is_anonymous(api, make_user):
    _, token = make_user("ghost")
    api("user_delete", {"id": "ghost"})
    _status, body = api("organization_create", {"name": "haunt"}, token=token)
    assert body["error"]["message"] == "Access denied: User None not authorized to create organizations"


def test_tokens_are_stored_hashed_and_survive_restart(tmp_path):
    with EmbeddedCKAN(tmp_path / "site") as site:
        token = site.sysadmin_token
        with site.db.transaction() as conn:
            rows = conn.execute("SELECT * FROM api_token").fetchall()
            assert rows and all(token not in [str(v) for v in tuple(r)] for r in rows)
    raw = (tmp_path / "site" / "catalog.db").read_bytes()
    assert token.encode() not in raw
    with EmbeddedCKAN(tmp_path / "site") as again, again.db.transaction() as conn:
        from ckanx.server.users.models import authenticate

        user = authenticate(again, conn, token)
        assert user is not None and user["name"] == "ckan_admin"
        assert authenticate(again, conn, "Bearer " + token) is None
