"""Configuration (env, profiles), token redaction, ckanapi's RemoteCKAN, action namespace."""

from __future__ import annotations

import io
import logging
import os
import stat
import warnings
from pathlib import Path

import httpx
import pytest

import ckanx
from ckanx import _config

from .conftest import SITE, TOKEN, Recorder, fail, ok


def test_env_url_and_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CKAN_URL", SITE + "/")
    monkeypatch.setenv("CKAN_API_TOKEN", TOKEN)
    ck = ckanx.Client()
    assert ck.url == SITE and ck.has_token
    ck.close()


def test_env_token_not_sent_to_another_site(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CKAN_URL", "https://other.example.net")
    monkeypatch.setenv("CKAN_API_TOKEN", TOKEN)
    ck = ckanx.Client(SITE)
    assert not ck.has_token
    ck.close()


def test_env_token_used_when_url_not_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CKAN_API_TOKEN", TOKEN)
    ck = ckanx.Client(SITE)
    assert ck.has_token
    ck.close()


def test_no_url_anywhere_is_config_error() -> None:
    with pytest.raises(ckanx.ConfigError, match="CKAN_URL"):
        ckanx.Client()


def test_profiles_saved_owner_only_and_loaded(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "config.toml"
    _config.save_profile("prod", SITE, TOKEN, path=path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    target = _config.profile_target("prod", path=path)
    assert target.url == SITE and target.token == TOKEN
    assert TOKEN not in repr(target)


def test_from_profile_uses_config_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    monkeypatch.setenv("CKANX_CONFIG", str(path))
    token_file = tmp_path / "tok"
    token_file.write_text(TOKEN + "\n")
    os.chmod(token_file, 0o600)
    path.write_text(f'default = "p"\n[profiles.p]\nurl = "{SITE}"\ntoken_file = "{token_file}"\n')
    os.chmod(path, 0o600)
    ck = ckanx.Client.from_profile()
    assert ck.url == SITE and ck._token == TOKEN
    ck.close()


def test_profile_token_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[profiles.p]\nurl = "{SITE}"\ntoken_env = "MY_TOK"\n')
    os.chmod(path, 0o600)
    monkeypatch.setenv("MY_TOK", TOKEN)
    assert _config.profile_target("p", path=path).token == TOKEN


def test_world_readable_profile_file_warns(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f'[profiles.p]\nurl = "{SITE}"\n')
    os.chmod(path, 0o644)
    with pytest.warns(UserWarning, match="chmod 600"):
        _config.profile_target("p", path=path)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[profiles.p]\nurl = ", "not valid TOML"),
        ('[profiles.q]\nurl = "x"\n', "no profile 'p'"),
        ("[profiles.p]\n", "has no url"),
    ],
)
def test_bad_profiles_one_line(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(content)
    os.chmod(path, 0o600)
    with pytest.raises(ckanx.ConfigError, match=words) as info:
        _config.profile_target("p", path=path)
    assert "\n" not in str(info.value)


def test_token_never_in_repr_logs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder(
        httpx.Response(503),
        httpx.ConnectError(f"boom {TOKEN}"),
        fail(403, {"__type": "Authorization Error", "message": TOKEN}),
    )
    with caplog.at_level(logging.DEBUG):
        ck = ckanx.Client(SITE, TOKEN, transport=httpx.MockTransport(rec))
        texts = [repr(ck), str(ck), repr(ckanx.RemoteCKAN(SITE, apikey=TOKEN))]
        with pytest.raises(ckanx.NotAuthorized) as info:
            ck.action.package_create(name="x")
        texts += [str(info.value), repr(info.value), str(info.value.body), str(info.value.error)]
        rec2 = Recorder(httpx.ConnectError(f"boom {TOKEN}"))
        ck2 = ckanx.Client(SITE, TOKEN, transport=httpx.MockTransport(rec2), retries=0)
        with pytest.raises(ckanx.NetworkError) as info2:
            ck2.action.package_show(id="x")
        texts += [str(info2.value), repr(info2.value)]
    texts.append(caplog.text)
    for text in texts:
        assert TOKEN not in text, text
    assert rec.requests[0].headers["Authorization"] == TOKEN  # but it is sent


# ---------------------------------------------------------------- RemoteCKAN


def remote(rec: Recorder, **kw: object) -> ckanx.RemoteCKAN:
    return ckanx.RemoteCKAN(SITE, apikey=TOKEN, transport=httpx.MockTransport(rec), **kw)  # type: ignore[arg-type]


def test_remoteckan_signature_and_shortcuts() -> None:
    rec = Recorder(ok(["g1"]))
    with remote(rec, user_agent="ckanapiexample/1.0") as demo:
        assert demo.action.group_list(id="data-explorer") == ["g1"]
        assert demo.call_action("group_list", {"all_fields": True}) == ["g1"]
    assert rec.requests[0].headers["User-Agent"] == "ckanapiexample/1.0"
    assert rec.requests[0].headers["Authorization"] == TOKEN


def test_remoteckan_requests_kwargs_apply_to_http_not_body() -> None:
    rec = Recorder(ok({}))
    with remote(rec) as ck:
        ck.action.package_show(id="x", requests_kwargs={"timeout": 2.5, "headers": {"X-Test": "1"}})
    assert rec.json() == {"id": "x"}
    assert rec.requests[0].extensions["timeout"]["read"] == 2.5
    assert rec.requests[0].headers["X-Test"] == "1"


def test_remoteckan_per_call_apikey_and_context_refused() -> None:
    rec = Recorder(ok({}))
    with remote(rec) as ck:
        ck.call_action("package_show", {"id": "x"}, apikey="other-token-1234")
        with pytest.raises(ckanx.CKANAPIError, match="context"):
            ck.call_action("package_show", {"id": "x"}, context={"user": "x"})
    assert rec.requests[0].headers["Authorization"] == "other-token-1234"


def test_remoteckan_get_only() -> None:
    rec = Recorder(ok({}))
    with remote(rec, get_only=True) as ck:
        ck.action.package_show(id="x")
        with pytest.raises(ckanx.CKANAPIError, match="get_only"):
            ck.call_action("resource_create", {}, files={"upload": io.BytesIO(b"x")})
    assert rec.requests[0].method == "GET"


def test_remoteckan_upload_next_to_nested_fields() -> None:
    """ckanapi crashes here (multipart with a list/dict field); ckanx JSON-encodes them."""
    rec = Recorder(ok({"id": "r"}))
    with remote(rec) as ck:
        ck.action.resource_create(package_id="p", upload=io.BytesIO(b"1,2"), extras={"a": 1})
    assert b'{"a": 1}' in rec.bodies[0] and b"1,2" in rec.bodies[0]


def test_remoteckan_errors_are_ckanapi_names() -> None:
    rec = Recorder(fail(404, {"__type": "Not Found Error", "message": "Not found"}))
    with remote(rec) as ck, pytest.raises(ckanx.NotFound):
        ck.action.package_show(id="x")


def test_remoteckan_session_headers_and_verify_honoured() -> None:
    class Session:
        headers = {"X-From-Session": "yes", "User-Agent": "python-requests"}
        verify = False

    rec = Recorder(ok({}))
    with remote(rec, session=Session()) as ck:
        ck.action.status_show()
        assert ck._client.verify is False
    assert rec.requests[0].headers["X-From-Session"] == "yes"


def test_unsupported_requests_kwargs_warn() -> None:
    rec = Recorder(ok({}))
    with remote(rec) as ck, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ck.call_action("status_show", requests_kwargs={"proxies": {}})
    assert any("proxies" in str(w.message) for w in caught)


# ---------------------------------------------------------------- action namespace


def test_action_namespace_dir_and_doc() -> None:
    rec = Recorder(ok("Return the metadata of a dataset."))
    with ckanx.Client(SITE, transport=httpx.MockTransport(rec)) as ck:
        names = dir(ck.action)
        assert "package_show" in names and "datastore_search" in names
        assert ck.action.package_show.__doc__ == "Return the metadata of a dataset."
    assert rec.json() == {"name": "package_show"}


def test_action_namespace_filters_by_server_extensions() -> None:
    rec = Recorder(ok({"ckan_version": "2.11.6", "extensions": []}))
    with ckanx.Client(SITE, transport=httpx.MockTransport(rec)) as ck:
        ck.server_info()
        names = dir(ck.action)
    assert "package_show" in names and "datastore_search" not in names


def test_server_info_cached_and_version() -> None:
    rec = Recorder(ok({"ckan_version": "2.12.0", "extensions": ["datastore"]}))
    with ckanx.Client(SITE, transport=httpx.MockTransport(rec)) as ck:
        ck.server_info()
        ck.server_info()
        assert ck.server_version() == (2, 12, 0)
    assert len(rec.requests) == 1
