"""Responses to exceptions: one mapping, every CKAN error shape, firewalls and wrong URLs."""

from __future__ import annotations

import httpx
import pytest

import ckanx
from ckanx import _core

from .conftest import SITE, TOKEN, Recorder, fail, make_client


@pytest.mark.parametrize(
    ("status", "error", "cls"),
    [
        (404, {"__type": "Not Found Error", "message": "Not found"}, ckanx.NotFound),
        (403, {"__type": "Authorization Error", "message": "Access denied: User  not authorized"}, ckanx.NotAuthorized),
        (409, {"__type": "Validation Error", "name": ["That URL is already in use."]}, ckanx.ValidationError),
        (
            400,
            {"__type": "Search Query Error", "message": "Search Query is invalid: 'Invalid \"sort\" parameter'"},
            ckanx.SearchQueryError,
        ),
        (409, {"__type": "Search Error", "message": "Search error: 'SOLR returned an error'"}, ckanx.SearchError),
        (500, {"__type": "Search Index Error", "message": "Unable to index"}, ckanx.SearchIndexError),
        (500, {"__type": "Internal Server Error", "message": "Internal Server Error"}, ckanx.ServerError),
        (500, {"__type": "Integrity Error", "message": "duplicate key"}, ckanx.ServerError),
        (500, {"__type": "Search Connection Error", "message": "Unable to connect"}, ckanx.ServerError),
    ],
)
def test_envelope_errors_map_to_types(status: int, error: dict[str, object], cls: type) -> None:
    rec = Recorder(fail(status, error))
    with make_client(rec) as ck, pytest.raises(cls) as info:
        ck.action.package_show(id="x")
    err = info.value
    assert isinstance(err, ckanx.CKANAPIError) and isinstance(err, ckanx.ActionError)
    assert err.action == "package_show"
    assert err.status_code == status
    assert err.url == f"{SITE}/api/3/action/package_show"
    assert err.error == error
    assert str(err).startswith("package_show: ")
    assert len(rec.requests) == 1  # answers are never retried


def test_validation_error_dict_and_message() -> None:
    error = {"__type": "Validation Error", "name": ["Missing value"], "extras": [{"value": ["Missing value"]}]}
    rec = Recorder(fail(409, error))
    with make_client(rec) as ck, pytest.raises(ckanx.ValidationError) as info:
        ck.action.package_create(name="")
    assert info.value.error_dict == {"name": ["Missing value"], "extras": [{"value": ["Missing value"]}]}
    assert "name: Missing value" in str(info.value)
    assert '{"value": ["Missing value"]}' in str(info.value)


def test_unknown_action_bare_string_400() -> None:
    rec = Recorder(httpx.Response(400, json="Bad request - Action name not known: my_thing"))
    with make_client(rec) as ck, pytest.raises(ckanx.UnknownAction) as info:
        ck.action.my_thing()
    assert isinstance(info.value, ckanx.BadRequest)
    assert "no action 'my_thing'" in str(info.value)
    assert info.value.status_code == 400


def test_212_style_bare_string_and_other_bad_requests() -> None:
    rec = Recorder(httpx.Response(400, json="Bad request: Action name not known: x"))
    with make_client(rec) as ck, pytest.raises(ckanx.UnknownAction):
        ck.action.x()
    rec = Recorder(httpx.Response(400, json="Bad request - JSON Error: Invalid request. Please use POST method"))
    with make_client(rec) as ck, pytest.raises(ckanx.BadRequest) as info:
        ck.action.package_create(method="GET")
    assert not isinstance(info.value, ckanx.UnknownAction)


@pytest.mark.parametrize("status", [200, 404, 403])
def test_html_is_server_incompatible_with_advice(status: int) -> None:
    page = "<!DOCTYPE html><html><head><title>Sign in - Portal</title></head><body>login</body></html>"
    rec = Recorder(httpx.Response(status, text=page, headers={"content-type": "text/html"}))
    with make_client(rec) as ck, pytest.raises(ckanx.ServerIncompatibleError) as info:
        ck.action.package_show(id="x")
    message = str(info.value)
    assert "HTML page" in message and "'Sign in - Portal'" in message
    assert "site root" in message and f"HTTP {status}" in message
    assert "JSON decode" not in message and "\n" not in message


def test_json_without_envelope_is_incompatible() -> None:
    rec = Recorder(httpx.Response(200, json={"data": [1]}))
    with make_client(rec) as ck, pytest.raises(ckanx.ServerIncompatibleError, match="envelope"):
        ck.action.package_list()


def test_success_false_with_200_still_raises() -> None:
    rec = Recorder(httpx.Response(200, json={"success": False, "error": {"message": "odd"}}))
    with make_client(rec) as ck, pytest.raises(ckanx.ActionError, match="odd"):
        ck.action.package_list()


def test_5xx_html_after_retries_is_http_status_error(no_sleep: list[float]) -> None:
    rec = Recorder(httpx.Response(502, text="<html>Bad Gateway</html>", headers={"content-type": "text/html"}))
    with make_client(rec, retries=2) as ck, pytest.raises(ckanx.HTTPStatusError) as info:
        ck.action.package_show(id="x")
    assert len(rec.requests) == 3
    assert "after 3 attempts" in str(info.value)
    assert info.value.status_code == 502


def test_excerpt_is_short_single_line() -> None:
    text = "x\n" * 1000
    assert len(_core.exc.excerpt(text)) <= _core.exc.BODY_EXCERPT_CHARS
    assert "\n" not in _core.exc.excerpt(text)


def test_exceptions_importable_under_ckanapi_names() -> None:
    for name in (
        "CKANAPIError",
        "NotAuthorized",
        "NotFound",
        "ValidationError",
        "SearchQueryError",
        "SearchError",
        "SearchIndexError",
        "ServerIncompatibleError",
    ):
        assert issubclass(getattr(ckanx, name), Exception)


def test_public_facade_is_exactly_this() -> None:
    assert sorted(ckanx.__all__) == ckanx.__all__
    for name in ckanx.__all__:
        assert hasattr(ckanx, name), name


def test_token_redacted_if_server_echoes_it() -> None:
    rec = Recorder(fail(403, {"__type": "Authorization Error", "message": f"bad token {TOKEN}"}))
    with make_client(rec) as ck, pytest.raises(ckanx.NotAuthorized) as info:
        ck.action.package_create(name="x")
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)
    assert TOKEN not in (info.value.body or "")
