"""Users: create/show/list/update/patch/delete, checked against what CKAN 2.11.6 answers.

Expected messages and key orders were taken from the real CKAN (see the module docstrings of
``ckanx.server.users``), not from this implementation.
"""

from __future__ import annotations

import hashlib

import pytest

USER_KEYS_PUBLIC = [
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
    "display_name",
    "email_hash",
    "number_created_packages",
    "image_display_url",
]
# user_create puts email before apikey; user_show (self/sysadmin) apikey before email.
USER_KEYS_CREATE = [*USER_KEYS_PUBLIC[:-1], "email", "apikey", "image_display_url"]
USER_KEYS_PRIVATE = [*USER_KEYS_PUBLIC[:-1], "apikey", "email", "image_display_url"]


def test_user_create_returns_ckan_shape(api):
    status, body = api("user_create", {"name": "bob", "email": "Bob@Example.com", "password": "Pass-word-1234"})
    assert status == 200, body
    user = body["result"]
    assert list(user) == USER_KEYS_CREATE
    assert user["name"] == "bob"
    assert user["display_name"] == "bob"
    assert user["email"] == "Bob@Example.com"
    assert user["email_hash"] == hashlib.md5(b"bob@example.com").hexdigest()
    assert user["apikey"] is None and user["fullname"] is None and user["about"] is None
    assert user["sysadmin"] is False and user["state"] == "active"
    assert user["last_active"] is None and user["number_created_packages"] == 0
    assert "password" not in user and "password_hash" not in user


def test_user_create_sysadmin_only_fields(api):
    status, body = api(
        "user_create",
        {
            "name": "carol",
            "email": "carol@example.com",
            "password": "Pass-word-1234",
            "fullname": "Carol C",
            "sysadmin": "yes",
            "state": "pending",
            "activity_streams_email_notifications": "true",
            "image_url": "http://i/x.png",
        },
    )
    user = body["result"]
    assert status == 200
    assert user["display_name"] == "Carol C"
    assert user["sysadmin"] is True and user["state"] == "pending"
    assert user["activity_streams_email_notifications"] is True
    assert user["image_display_url"] == "http://i/x.png"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({}, {"email": ["Missing value"], "name": ["Missing value"], "password": ["Missing value"]}),
        (
            {"name": "A B", "email": "bad", "password": "short"},
            {
                "email": ["Email bad is not a valid format"],
                "name": ["Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_"],
                "password": ["Your password must be 8 characters or longer"],
            },
        ),
        (
            {"name": "x", "email": "", "password": ""},
            {
                "email": ["Missing value"],
                "name": ["Must be at least 2 characters long"],
                "password": ["Missing value"],
            },
        ),
        ({"name": "new", "email": "a@b.co", "password": "12345678"}, {"name": ["That name cannot be used"]}),
        (
            {"name": "ckan_admin", "email": "a@b.co", "password": "12345678"},
            {"name": ["That login name is not available."]},
        ),
        (
            {"name": "okname", "email": "a@b.co", "password": 12345678},
            {"password": ["Passwords must be strings"]},
        ),
        (
            {"name": "a" * 101, "email": "a@b", "password": "12345678"},
            {"name": ["Name must be a maximum of 100 characters long"]},
        ),
        (
            {"name": "okname", "email": "a@b.co", "password": "12345678", "about": "see http://x", "id": "abc"},
            {
                "about": ["Edit not allowed as it looks like spam. Please avoid links in your description."],
                "id": ["Invalid id provided"],
            },
        ),
    ],
)
def test_user_create_validation(api, data, expected):
    status, body = api("user_create", data)
    assert status == 409
    assert body["success"] is False
    assert body["error"] == {**expected, "__type": "Validation Error"}


def test_user_create_email_must_be_unique_among_active_users(api, make_user):
    make_user("dora", email="dora@example.com")
    status, body = api("user_create", {"name": "dora2", "email": "DORA@example.com", "password": "12345678"})
    assert status == 409
    assert body["error"]["email"] == ["The email address 'DORA@example.com' belongs to a registered user."]
    api("user_delete", {"id": "dora"})
    status, _ = api("user_create", {"name": "dora3", "email": "dora@example.com", "password": "12345678"})
    assert status == 200


def test_user_create_denied_to_non_sysadmins(api, make_user):
    _, token = make_user()
    data = {"name": "eve", "email": "eve@example.com", "password": "12345678"}
    status, body = api("user_create", data, token=None)
    assert status == 403
    assert body["error"]["message"] == "Access denied: User  not authorized to create users via the API"
    _user, token = make_user("mallory")
    status, body = api("user_create", data, token=token)
    assert body["error"]["message"] == ("Access denied: User mallory not authorized to create users via the API")


def test_sysadmin_may_choose_the_id(api):
    wanted = "2d4a8b8e-4a7f-4c36-9c1f-2c9b0d7c1e11"
    status, body = api("user_create", {"id": wanted, "name": "idd", "email": "idd@example.com", "password": "12345678"})
    assert status == 200 and body["result"]["id"] == wanted


def test_user_show_hides_email_except_for_self_and_sysadmin(api, make_user):
    alice, alice_token = make_user("alice", fullname="Alice A")
    _, bob_token = make_user("bob")
    _, anon = api("user_show", {"id": "alice"}, token=None)
    assert list(anon["result"]) == USER_KEYS_PUBLIC
    _, other = api("user_show", {"id": "alice"}, token=bob_token)
    assert "email" not in other["result"]
    _, me = api("user_show", {}, token=alice_token)  # no id: the caller
    assert list(me["result"]) == USER_KEYS_PRIVATE
    assert me["result"]["email"] == "alice@example.com"
    _, admin = api("user_show", {"id": alice["id"], "include_password_hash": True})
    assert admin["result"]["email"] == "alice@example.com"
    assert admin["result"]["password_hash"].startswith("$pbkdf2-sha512$")
    _, own = api("user_show", {"id": "alice", "include_password_hash": True}, token=alice_token)
    assert "password_hash" not in own["result"]


def test_user_show_not_found(api):
    assert api("user_show", {"id": "nope"}) == (
        404,
        {
            "help": "http://127.0.0.1:5000/api/3/action/help_show?name=user_show",
            "error": {"__type": "Not Found Error", "message": "Not found"},
            "success": False,
        },
    )
    status, body = api("user_show", {}, token=None)
    assert status == 404 and body["error"]["message"] == "Not found"


def test_user_show_get_and_last_active(api, make_user):
    _, token = make_user("walker")
    status, body = api("user_show", {"id": "walker"}, method="GET", token=token)
    assert status == 200
    # Using a token marks the user active (CKAN's last_active).
    assert body["result"]["last_active"] is not None


def test_user_list(api, make_user):
    make_user("zed", fullname="Aaron Z")
    make_user("amy")
    make_user("gone")
    api("user_delete", {"id": "gone"})
    status, body = api("user_list", {"all_fields": False}, token=None)
    assert status == 200
    # display_name order: fullname when set, else name; deleted users and the site user hidden.
    assert body["result"] == ["zed", "amy", "ckan_admin"]
    _, body = api("user_list", {"all_fields": "false", "include_site_user": True})
    assert "default" in body["result"]
    _, body = api("user_list", {"all_fields": False, "order_by": "name"})
    assert body["result"] == ["amy", "ckan_admin", "zed"]
    _, body = api("user_list", {"q": "AARON"}, method="GET")
    assert [u["name"] for u in body["result"]] == ["zed"]
    assert "email" in body["result"][0]  # the sysadmin sees emails
    _, body = api("user_list", {"q": "zed"}, token=None)
    assert "email" not in body["result"][0]


def test_user_list_errors(api):
    status, body = api("user_list", {"order_by": "edits"})
    assert status == 409
    assert body["error"] == {
        "message": "order_by=edits is no longer supported",
        "__type": "Validation Error",
    }
    status, body = api("user_list", {"email": "x@y"}, token=None)
    assert status == 403 and body["error"]["message"] == "Access denied"


def test_user_update_rules(api, make_user):
    _user, token = make_user("upd", fullname="Full", about="ab")
    other, _other_token = make_user("upd2")
    # email is required; other fields keep their value
    status, body = api("user_update", {"id": "upd"}, token=token)
    assert status == 409 and body["error"] == {"email": ["Missing value"], "__type": "Validation Error"}
    status, body = api("user_update", {"id": "upd", "email": "upd@example.com"}, token=token)
    assert status == 200
    assert body["result"]["fullname"] == "Full" and body["result"]["about"] == "ab"
    # a user cannot rename themself, take another's email, or make themself sysadmin
    status, body = api("user_update", {"id": "upd", "email": "upd@example.com", "name": "upd-r"}, token=token)
    assert body["error"]["name"] == ["That login name can not be modified."]
    status, body = api("user_update", {"id": "upd", "email": "upd2@example.com"}, token=token)
    assert body["error"]["email"] == ["The email address 'upd2@example.com' belongs to a registered user."]
    status, body = api(
        "user_update",
        {"id": "upd", "email": "upd@example.com", "fullname": "", "sysadmin": True, "state": "deleted"},
        token=token,
    )
    assert status == 200
    assert body["result"]["sysadmin"] is False and body["result"]["state"] == "active"
    assert body["result"]["display_name"] == "upd"
    # others' accounts
    status, body = api("user_update", {"id": "upd2", "email": "upd2@example.com"}, token=token)
    assert status == 403
    assert body["error"]["message"] == f"Access denied: User upd not authorized to edit user {other['id']}"
    status, body = api("user_update", {"id": "upd2", "email": "upd2@example.com"}, token=None)
    assert body["error"]["message"] == "Access denied: Have to be logged in to edit user"
    status, body = api("user_update", {"id": "nope-nope", "email": "x@example.com"})
    assert status == 404 and body["error"]["message"] == "Not found: User was not found."
    status, body = api("user_update", {"email": "x@example.com"})
    assert body["error"] == {"id": ["Missing value"], "__type": "Validation Error"}
    # password rules apply; a sysadmin may rename
    status, body = api("user_update", {"id": "upd", "email": "upd@example.com", "password": "short"}, token=token)
    assert body["error"]["password"] == ["Your password must be 8 characters or longer"]
    status, body = api("user_update", {"id": "upd", "email": "upd@example.com", "name": "upd-renamed"})
    assert status == 200 and body["result"]["name"] == "upd-renamed"


def test_user_patch_changes_one_field(api, make_user):
    _, token = make_user("pat", fullname="Pat")
    status, body = api("user_patch", {"id": "pat", "about": "patched"}, token=token)
    assert status == 200
    assert body["result"]["about"] == "patched" and body["result"]["fullname"] == "Pat"
    assert body["result"]["email"] == "pat@example.com"


def test_user_delete(api, make_user):
    _user, token = make_user("del")
    _, other_token = make_user("del2")
    status, body = api("user_delete", {"id": "del"}, token=other_token)
    assert status == 403 and body["error"]["message"] == "Access denied"
    status, body = api("user_delete", {"id": "del"}, token=None)
    assert status == 403 and body["error"]["message"] == "Access denied"
    assert api("user_delete", {"id": "del"})[0] == 200
    # state deleted, still shown, name still taken; its token is now anonymous
    _, shown = api("user_show", {"id": "del"})
    assert shown["result"]["state"] == "deleted"
    status, body = api("user_create", {"name": "del", "email": "d@example.com", "password": "12345678"})
    assert body["error"]["name"] == ["That login name is not available."]
    status, body = api("user_show", {}, token=token)
    assert status == 404
    status, body = api("user_delete", {"id": "nope-nope"})
    assert status == 404 and body["error"]["message"] == 'Not found: User "nope-nope" was not found.'
    status, body = api("user_delete", {})
    assert body["error"] == {"id": ["Missing value"], "__type": "Validation Error"}


def test_user_delete_removes_memberships(api, make_user, make_org):
    make_user("leaver")
    make_org("club", users=[("leaver", "editor")])
    api("user_delete", {"id": "leaver"})
    _, body = api("organization_show", {"id": "club"})
    assert [u["name"] for u in body["result"]["users"]] == ["ckan_admin"]


def test_users_survive_restart(tmp_path):
    from ckanx.server.core import EmbeddedCKAN

    with EmbeddedCKAN(tmp_path / "site") as first:
        first_token = first.sysadmin_token
    with EmbeddedCKAN(tmp_path / "site") as second:
        assert second.sysadmin_token != first_token
        with second.db.transaction() as conn:
            names = [r[0] for r in conn.execute('SELECT name FROM "user" ORDER BY name')]
    # the sysadmin and the site user exist once each
    assert names == ["ckan_admin", "default"]


def test_user_autocomplete(api, make_user):
    make_user("findme", fullname="Hidden Gem")
    make_user("other-one")
    make_user("gone-user", fullname="Gem Two")
    api("user_delete", {"id": "gone-user"})
    status, body = api("user_autocomplete", {"q": "gem"}, method="GET", token=None)
    assert status == 200
    assert [list(u) for u in body["result"]] == [["id", "name", "fullname"]]
    assert [u["name"] for u in body["result"]] == ["findme"]
    assert [u["name"] for u in api("user_autocomplete", {"q": "a", "limit": 1})[1]["result"]] == ["ckan_admin"]
    assert api("user_autocomplete", {})[1]["error"] == {"q": ["Missing value"], "__type": "Validation Error"}


def test_get_site_user_is_internal(api):
    status, body = api("get_site_user", {}, token=None)
    assert status == 403
    assert body["error"]["message"] == "Access denied: Only internal services allowed to use this action"
    status, body = api("get_site_user", {})
    assert status == 200 and body["result"]["name"] == "default"
    assert sorted(body["result"]) == ["apikey", "name"] and body["result"]["apikey"]


def test_user_show_include_datasets(api, make_user, make_org):
    _, token = make_user("maker")
    make_org("maker-org", users=[("maker", "editor")])
    assert api("package_create", {"name": "pub", "owner_org": "maker-org"}, token=token)[0] == 200
    assert api("package_create", {"name": "priv", "owner_org": "maker-org", "private": True}, token=token)[0] == 200
    _, body = api("user_show", {"id": "maker", "include_datasets": True}, token=None)
    assert list(body["result"])[-1] == "datasets"
    assert [d["name"] for d in body["result"]["datasets"]] == ["pub"]
    assert body["result"]["number_created_packages"] == 1
    _, body = api("user_show", {"id": "maker", "include_datasets": True}, token=token)
    assert sorted(d["name"] for d in body["result"]["datasets"]) == ["priv", "pub"]
    assert body["result"]["number_created_packages"] == 2


@pytest.mark.parametrize("ckan_version", ["2.12"])
def test_user_rules_on_212(api, make_user):
    make_user("twelve", email="Twelve@Example.com")
    status, body = api("user_create", {"name": "twelve", "email": "t2@example.com", "password": "12345678"})
    assert body["error"]["name"] == [
        "The username is already associated with another account. Please use a different username."
    ]
    status, body = api("user_create", {"name": "twelve2", "email": "TWELVE@example.com", "password": "12345678"})
    assert body["error"]["email"] == ["The email address 'twelve@example.com' belongs to a registered user."]
    # 2.12's limit_sysadmin_update: not on yourself, nor on the site user
    status, body = api("user_patch", {"id": "ckan_admin", "sysadmin": False})
    assert status == 409
    assert body["error"] == {"sysadmin": ["Cannot modify your own sysadmin privileges"], "__type": "Validation Error"}
    status, body = api("user_patch", {"id": "default", "sysadmin": False})
    assert body["error"]["sysadmin"] == ["Cannot modify sysadmin privileges for system user"]
    status, body = api("user_patch", {"id": "twelve", "sysadmin": True})
    assert status == 200 and body["result"]["sysadmin"] is True


def test_user_list_order_matches_ckan_postgres(api):
    # Orders observed on CKAN 2.11.6 (PostgreSQL, C collation) for these six users.
    specs = [
        ("ob-a", "beta"),
        ("ob-b", "Alpha"),
        ("ob-c", ""),
        ("ob-d", None),
        ("ob-e", "_under"),
        ("ob-f", "alpha two"),
    ]
    for name, fullname in specs:
        data = {"name": name, "email": f"{name}@example.com", "password": "Pass-word-1234"}
        if fullname is not None:
            data["fullname"] = fullname
        assert api("user_create", data)[0] == 200
    expected = {
        "display_name": "befacd",
        "bogus": "befacd",
        "name": "abcdef",
        "created": "abcdef",
        "fullname": "cbefad",  # NULL last, no tie-break needed
    }
    for order_by, letters in expected.items():
        _, body = api("user_list", {"q": "ob-", "order_by": order_by, "all_fields": False})
        assert "".join(n[-1] for n in body["result"]) == letters, order_by
