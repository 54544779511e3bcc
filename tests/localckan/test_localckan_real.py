"""LocalCKAN against a real CKAN, in-process (run inside CKAN's virtualenv: .ci/localckan.sh)."""

from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path
from typing import Any

import pytest

from ckanx._exceptions import (
    CKANAPIError,
    NotAuthorized,
    NotFound,
    SearchError,
    SearchQueryError,
    UnknownAction,
    ValidationError,
)

pytestmark = pytest.mark.localckan

CSV = b"code,name,n\na,Alpha,1\nb,Beta,2\n"


def _download(site_url: str, url: str) -> bytes:
    """GET a resource URL from the real server (it shares this config's storage)."""
    import httpx

    assert url.startswith(site_url + "/"), url
    response = httpx.get(url, timeout=60)
    assert response.status_code == 200, (response.status_code, url)
    return response.content


def test_status_show(site: Any) -> None:
    import ckan

    status = site.action.status_show()
    assert status["ckan_version"] == ckan.__version__


def test_default_user_is_the_site_user(site: Any, ckan_config: Any) -> None:
    # CKAN names its site user after ckan.site_id
    assert site.username == ckan_config["ckan.site_id"]
    assert site.context["user"] == site.username
    me = site.action.user_show(id=site.username)
    assert me["sysadmin"] is True


def test_dataset_lifecycle_with_upload(
    site: Any, org: dict[str, Any], dataset_name: str, site_url: str
) -> None:
    created = site.action.package_create(
        name=dataset_name, title="LocalCKAN lifecycle", owner_org=org["id"],
        tags=[{"name": "lcx"}], extras=[{"key": "source", "value": "localckan"}],
    )
    assert created["name"] == dataset_name
    assert created["organization"]["name"] == org["name"]

    shown = site.call_action("package_show", {"id": dataset_name})
    assert shown["id"] == created["id"]
    assert [t["name"] for t in shown["tags"]] == ["lcx"]
    assert shown["extras"] == [{"key": "source", "value": "localckan"}]

    patched = site.action.package_patch(id=created["id"], notes="patched by LocalCKAN")
    assert patched["notes"] == "patched by LocalCKAN"
    assert patched["title"] == "LocalCKAN lifecycle"  # patch keeps what it was not given
    assert site.action.package_show(id=dataset_name)["notes"] == "patched by LocalCKAN"

    # a file-like keyword in the shortcut is an upload, as in ckanapi
    resource = site.action.resource_create(
        package_id=created["id"], name="upload.csv", upload=("data.csv", io.BytesIO(CSV)),
    )
    assert resource["url_type"] == "upload"
    assert resource["url"] == (
        f"{site_url}/dataset/{created['id']}/resource/{resource['id']}/download/data.csv"
    )
    assert resource["size"] == len(CSV)
    assert _download(site_url, resource["url"]) == CSV
    assert site.action.package_show(id=dataset_name)["num_resources"] == 1

    assert site.action.dataset_purge(id=created["id"]) is None
    with pytest.raises(NotFound):
        site.action.package_show(id=created["id"])


def test_uploads_from_path_and_unseekable_stream_and_files_argument(
    site: Any, org: dict[str, Any], dataset_name: str, site_url: str, tmp_path: Path
) -> None:
    package = site.action.package_create(name=dataset_name, owner_org=org["id"])
    path = tmp_path / "from-path.csv"
    path.write_bytes(CSV)
    by_path = site.call_action(
        "resource_create", {"package_id": package["id"]}, files={"upload": path}
    )
    assert by_path["url"].endswith("/download/from-path.csv")
    assert _download(site_url, by_path["url"]) == CSV

    class Pipe(io.RawIOBase):
        """A stream that cannot seek (a socket, a pipe): CKAN needs it spooled."""

        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)
            self.name = "piped.csv"

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            chunk = self._data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    piped = site.action.resource_create(package_id=package["id"], upload=Pipe(CSV * 3))
    assert piped["size"] == len(CSV) * 3
    assert _download(site_url, piped["url"]) == CSV * 3

    # a file positioned after a header line: the upload starts there, as RemoteCKAN sends it
    partial = io.BytesIO(b"skip me\n" + CSV)
    partial.readline()
    after = site.action.resource_create(package_id=package["id"], upload=("rest.csv", partial))
    assert _download(site_url, after["url"]) == CSV
    site.action.dataset_purge(id=package["id"])


def test_arguments_are_not_mutated(site: Any, org: dict[str, Any], dataset_name: str) -> None:
    data = {
        "name": dataset_name, "owner_org": org["id"],
        "resources": [{"url": "http://example.com/a.csv", "name": "a"}],
        "extras": [{"key": "k", "value": "v"}],
    }
    before = copy.deepcopy(data)
    context = {"user": site.username}
    site.call_action("package_create", data, context=context)
    assert data == before
    assert context == {"user": site.username}  # CKAN adds model/session/... to the copy only
    assert site.context == {"user": site.username}
    site.action.dataset_purge(id=dataset_name)


def test_not_found(site: Any, prefix: str, oracle: Any) -> None:
    import ckan.logic

    with pytest.raises(NotFound) as info:
        site.action.package_show(id=f"{prefix}-no-such-dataset")
    err = info.value
    status, body = oracle("package_show", {"id": f"{prefix}-no-such-dataset"})
    assert status == 404
    assert err.error == body["error"]  # the envelope CKAN's API sends, key for key
    assert str(err) == f"package_show: {body['error']['message']}"
    assert err.action == "package_show"
    # code written for ckanapi's LocalCKAN catches CKAN's own class: still works
    assert isinstance(err, ckan.logic.NotFound)
    assert isinstance(err.__cause__, ckan.logic.NotFound)


def test_validation_error_matches_the_api(site: Any, site_token: str, oracle: Any) -> None:
    import ckan.logic

    data = {"name": "Not A Valid Name!", "extras": [{"key": "x"}]}
    with pytest.raises(ValidationError) as info:
        site.call_action("package_create", data)
    err = info.value
    status, body = oracle("package_create", data, token=site_token)
    assert status == 409
    expected = {k: v for k, v in body["error"].items() if k != "__type"}
    assert err.error_dict == expected
    assert set(expected) >= {"name", "owner_org"}
    assert err.error == body["error"]
    assert isinstance(err, ckan.logic.ValidationError)
    cause = err.__cause__
    assert isinstance(cause, ckan.logic.ValidationError)
    assert cause.error_dict == expected  # CKAN's exception is left as it was raised
    # what extension code reads from CKAN's ValidationError still works on ours
    assert err.error_summary == cause.error_summary
    assert str(err).startswith("package_create: ")


def test_not_authorized_as_plain_user(
    site: Any, plain_user: dict[str, Any], org: dict[str, Any], dataset_name: str, oracle: Any
) -> None:
    # This CKAN keeps CKAN's default ckan.auth.user_create_organizations = true, so any user may
    # create an organization; what a plain user may not do is write into someone else's.
    from ckanx._local import LocalCKAN

    ck = LocalCKAN(username=plain_user["name"])
    assert ck.username == plain_user["name"]
    data = {"name": dataset_name, "owner_org": org["id"]}
    with pytest.raises(NotAuthorized) as info:
        ck.call_action("package_create", data)
    status, body = oracle("package_create", data, token=plain_user["token"])
    assert status == 403
    assert info.value.error == body["error"]
    assert plain_user["name"] in str(info.value)
    with pytest.raises(NotFound):  # nothing was created
        site.action.package_show(id=dataset_name)

    with pytest.raises(NotAuthorized) as org_info:
        ck.action.organization_patch(id=org["id"], title="taken over")
    status, body = oracle(
        "organization_patch", {"id": org["id"], "title": "taken over"}, token=plain_user["token"]
    )
    assert status == 403
    assert org_info.value.error == body["error"]
    assert site.action.organization_show(id=org["id"])["title"] == org["title"]

    # a per-call context replaces the default one (as in ckanapi)
    with pytest.raises(NotAuthorized):
        site.call_action("package_create", data, context={"user": plain_user["name"]})


def test_not_authorized_to_create_an_organization(
    site: Any, plain_user: dict[str, Any], prefix: str, ckan_config: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ckanx._local import LocalCKAN

    # only in this process (the server keeps CKAN's default, which lets users create them)
    monkeypatch.setitem(ckan_config, "ckan.auth.user_create_organizations", False)
    name = f"{prefix}-forbidden-org"
    try:
        with pytest.raises(NotAuthorized) as info:
            LocalCKAN(username=plain_user["name"]).action.organization_create(name=name)
        # CKAN names the user by id in this message
        assert str(info.value) == (
            f"organization_create: Access denied: User {plain_user['id']} not authorized to "
            "create organizations"
        )
        assert info.value.error["__type"] == "Authorization Error"
        with pytest.raises(NotFound):
            site.action.organization_show(id=name)
    finally:  # should the check ever let it through, do not leave it behind
        with contextlib.suppress(NotFound):
            site.action.organization_purge(id=name)


def test_search_errors_match_the_api(site: Any, oracle: Any) -> None:
    with pytest.raises(SearchQueryError) as query_info:
        site.action.package_search(sort="name sideways")
    status, body = oracle("package_search", {"sort": "name sideways"})
    assert status == 400
    assert query_info.value.error == body["error"]

    with pytest.raises(SearchError) as search_info:
        site.action.package_search(q="title:(unclosed")
    status, body = oracle("package_search", {"q": "title:(unclosed"})
    assert status == 409
    assert search_info.value.error["__type"] == body["error"]["__type"] == "Search Error"


def test_unknown_action_and_unsupported_arguments(site: Any) -> None:
    with pytest.raises(UnknownAction) as info:
        site.action.lcx_no_such_action()
    assert "lcx_no_such_action" in str(info.value)
    with pytest.raises(CKANAPIError, match="apikey"):
        site.call_action("status_show", apikey="secret")
    # requests_kwargs is accepted and ignored: it must not reach the action as a field
    assert site.action.status_show(requests_kwargs={"timeout": 3})["ckan_version"]


def test_data_dict_must_be_a_mapping(site: Any) -> None:
    with pytest.raises(TypeError, match="data_dict must be a dict"):
        site.call_action("status_show", ["not", "a", "dict"])  # type: ignore[arg-type]


def test_dir_lists_ckan_actions(site: Any) -> None:
    names = dir(site.action)
    # core actions only: under CKAN's own pytest plugin, plugins' actions are unloaded
    assert {"package_show", "status_show", "dataset_purge", "api_token_create"} <= set(names)
    assert names == sorted(names)


def test_request_context_reused_or_pushed_per_call(
    site: Any, ckan_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flask

    from ckanx import _local

    # a script: no request is active; one is pushed for the call and popped after it
    assert not flask.has_request_context()
    assert site.action.status_show()
    assert not flask.has_request_context()

    # plugin code: the caller's request context is used as it is, no app is looked up
    def no_app_lookup() -> Any:
        raise AssertionError("LocalCKAN looked for an app inside an active request")

    monkeypatch.setattr(_local, "_flask_app", no_app_lookup)
    with ckan_app._wsgi_app.test_request_context("/dataset/"):
        assert site.action.status_show()
        assert flask.request.path == "/dataset/"
    with pytest.raises(AssertionError, match="looked for an app"):
        site.action.status_show()


def test_datastore_create_and_search(site: Any, org: dict[str, Any], dataset_name: str) -> None:
    # DataStore actions read the Flask request (ckanapi issue #13): they work from a script
    package = site.action.package_create(name=dataset_name, owner_org=org["id"])
    created = site.action.datastore_create(
        resource={"package_id": package["id"], "name": "table"},
        fields=[{"id": "code", "type": "text"}, {"id": "n", "type": "int"}],
        primary_key=["code"], records=[{"code": "a", "n": 1}, {"code": "b", "n": 2}],
    )
    found = site.action.datastore_search(
        resource_id=created["resource_id"], filters={"code": "b"}
    )
    assert found["total"] == 1
    assert found["records"] == [{"_id": 2, "code": "b", "n": 2}]
    site.action.datastore_delete(resource_id=created["resource_id"], force=True)  # drops the table
    site.action.dataset_purge(id=package["id"])


def test_script_without_config_gets_a_clear_error(tmp_path: Path) -> None:
    # a fresh process: no CKAN app exists, and $CKAN_INI names no file
    import subprocess
    import sys

    missing = tmp_path / "missing.ini"
    code = (
        "from ckanx._local import LocalCKAN\n"
        "from ckanx._exceptions import CKANAPIError\n"
        "try:\n"
        "    LocalCKAN()\n"
        "except CKANAPIError as err:\n"
        "    print(type(err).__name__, err)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "CKAN_INI": str(missing)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("CKANAPIError LocalCKAN: no CKAN app is running in this process")
    assert "set CKAN_INI" in done.stdout
    assert str(missing) in done.stdout
