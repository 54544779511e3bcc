"""LocalCKAN / TestAppCKAN where the real ``ckan`` is not importable (ckanx's normal dev venv).

These run in the normal suite. Where they need "a CKAN" they put a stand-in module in
``sys.modules`` for the duration of one test; they never load the real one.
"""

from __future__ import annotations

import io
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from ckanx._exceptions import (
    CKANAPIError,
    HTTPStatusError,
    NotAuthorized,
    NotFound,
    UnknownAction,
    ValidationError,
)
from ckanx._local import CKANNotInstalledError, LocalCKAN, TestAppCKAN


def _hide_ckan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import ckan`` fail here even in a venv that has it (restored after the test)."""
    for name in [n for n in sys.modules if n == "ckan" or n.startswith("ckan.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ckan", None)  # None in sys.modules: ModuleNotFoundError


@pytest.fixture
def fake_ckan(monkeypatch: pytest.MonkeyPatch) -> None:
    """An importable ``ckan`` without anything in it (TestAppCKAN only checks that it is there)."""
    _hide_ckan(monkeypatch)
    monkeypatch.setitem(sys.modules, "ckan", types.ModuleType("ckan"))


@pytest.mark.parametrize("cls", [LocalCKAN, TestAppCKAN])
def test_without_ckan_one_clear_error(cls: type[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    _hide_ckan(monkeypatch)
    args = () if cls is LocalCKAN else (object(),)
    with pytest.raises(CKANNotInstalledError) as info:
        cls(*args)
    assert str(info.value) == (
        f"{cls.__name__} needs the ckan package: run this inside the CKAN virtualenv "
        "(pip install ckanx there)"
    )
    # caught by ckanx users and by ckanapi-era code alike (ckanapi raised ImportError there)
    assert isinstance(info.value, CKANAPIError)
    assert isinstance(info.value, ImportError)
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_broken_ckan_dependency_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # ckan is installed but one of its own imports fails: installing ckanx would not help
    package = tmp_path / "ckan"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "logic.py").write_text("import lcx_missing_dependency_of_ckan\n")
    _hide_ckan(monkeypatch)
    monkeypatch.delitem(sys.modules, "ckan")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CKANNotInstalledError) as info:
        LocalCKAN()
    assert "could not import ckan.logic" in str(info.value)
    assert "lcx_missing_dependency_of_ckan" in str(info.value)
    # monkeypatch's undo puts sys.modules["ckan"] back as it was, dropping the stand-in


# ---------------------------------------------------------------- TestAppCKAN over a fake app


class FlaskResponse:
    """The parts of a werkzeug test response TestAppCKAN reads."""

    def __init__(self, status: int, body: Any, content_type: str = "application/json") -> None:
        self.status_code = status
        self._data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.content_type = content_type

    def get_data(self) -> bytes:
        return self._data


class FlaskStyleApp:
    """Records posts like a Flask test client; answers with queued responses."""

    def __init__(self, *responses: FlaskResponse) -> None:
        self.responses = list(responses)
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.uploaded: dict[str, bytes] = {}

    def post(self, url: str, **kwargs: Any) -> FlaskResponse:
        self.posts.append((url, kwargs))
        data = kwargs.get("data")
        if isinstance(data, dict):  # multipart: read the files as werkzeug would
            for name, value in data.items():
                if isinstance(value, tuple):
                    self.uploaded[name] = value[0].read()
        return self.responses.pop(0)


def ok(result: Any) -> FlaskResponse:
    return FlaskResponse(200, {"help": "h", "success": True, "result": result})


def failed(status: int, error: dict[str, Any]) -> FlaskResponse:
    return FlaskResponse(status, {"help": "h", "success": False, "error": error})


@pytest.mark.usefixtures("fake_ckan")
def test_json_call_with_token() -> None:
    app = FlaskStyleApp(ok({"name": "x"}), ok(None), ok(None))
    ck = TestAppCKAN(app, apikey="tok-1")
    assert ck.action.package_show(id="x", include_tracking=True) == {"name": "x"}
    url, kwargs = app.posts[0]
    assert url == "/api/action/package_show"
    assert json.loads(kwargs["data"]) == {"id": "x", "include_tracking": True}
    assert kwargs["headers"] == {"Authorization": "tok-1", "Content-Type": "application/json"}

    ck.call_action("status_show", apikey="tok-2")  # per-call token
    assert app.posts[1][1]["headers"]["Authorization"] == "tok-2"
    TestAppCKAN(app).action.status_show()  # none: anonymous
    assert "Authorization" not in app.posts[2][1]["headers"]
    assert "tok-1" not in repr(ck)


@pytest.mark.usefixtures("fake_ckan")
def test_multipart_upload_keeps_the_callers_file_open() -> None:
    app = FlaskStyleApp(ok({"id": "r"}))
    mine = io.BytesIO(b"a,b\n1,2\n")
    result = TestAppCKAN(app, apikey="t").action.resource_create(
        package_id="p", private=False, tags=["x"], upload=("data.csv", mine),
        requests_kwargs={"timeout": 5},
    )
    assert result == {"id": "r"}
    _, kwargs = app.posts[0]
    assert kwargs["content_type"] == "multipart/form-data"
    fields = {k: v for k, v in kwargs["data"].items() if k != "upload"}
    # flat strings as CKAN's multipart parser expects; requests_kwargs is not a field
    assert fields == {"package_id": "p", "private": "false", "tags": '["x"]'}
    assert kwargs["data"]["upload"][1] == "data.csv"
    assert app.uploaded["upload"] == b"a,b\n1,2\n"
    assert not mine.closed


@pytest.mark.usefixtures("fake_ckan")
@pytest.mark.parametrize(
    ("response", "expected", "status"),
    [
        (failed(404, {"__type": "Not Found Error", "message": "Not found"}), NotFound, 404),
        (failed(403, {"__type": "Authorization Error", "message": "Access denied"}), NotAuthorized, 403),
        (failed(409, {"__type": "Validation Error", "name": ["Missing value"]}), ValidationError, 409),
        (FlaskResponse(400, "Bad request - Action name not known: nope"), UnknownAction, 400),
        (FlaskResponse(500, b"<html>boom</html>", "text/html"), HTTPStatusError, 500),
    ],
)
def test_errors_are_ckanx_exceptions(response: FlaskResponse, expected: type, status: int) -> None:
    ck = TestAppCKAN(FlaskStyleApp(response))
    with pytest.raises(expected) as info:
        ck.action.nope(id="x")
    assert type(info.value) is expected
    assert info.value.status_code == status
    assert info.value.action == "nope"
    if expected is ValidationError:
        assert info.value.error_dict == {"name": ["Missing value"]}


@pytest.mark.usefixtures("fake_ckan")
def test_context_is_refused() -> None:
    with pytest.raises(CKANAPIError, match="context"):
        TestAppCKAN(FlaskStyleApp()).call_action("status_show", context={"user": "u"})


class WebtestResponse:
    """The parts of a ``webtest.TestResponse`` TestAppCKAN reads."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status_int = status
        self.body = json.dumps(body).encode()
        self.content_type = "application/json"


class WebtestStyleApp:
    """Like ``webtest.TestApp`` (CKAN < 2.9): ``params``, ``upload_files``, ``expect_errors``."""

    def __init__(self, response: WebtestResponse) -> None:
        self.response = response
        self.kwargs: dict[str, Any] = {}

    def post(self, url: str, **kwargs: Any) -> WebtestResponse:
        self.url, self.kwargs = url, kwargs
        return self.response


WebtestStyleApp.__module__ = "webtest.app"  # TestAppCKAN recognises webtest by its module


@pytest.mark.usefixtures("fake_ckan")
def test_webtest_style_app() -> None:
    app = WebtestStyleApp(WebtestResponse(200, {"success": True, "result": [1]}))
    assert TestAppCKAN(app, apikey="k").action.package_list(limit=1) == [1]
    assert app.url == "/api/action/package_list"
    assert json.loads(app.kwargs["params"]) == {"limit": 1}
    assert app.kwargs["content_type"] == "application/json"
    assert app.kwargs["expect_errors"] is True
    assert app.kwargs["headers"] == {"Authorization": "k"}

    app = WebtestStyleApp(WebtestResponse(409, {"success": False, "error": {
        "__type": "Validation Error", "url": ["Missing value"]}}))
    with pytest.raises(ValidationError) as info:
        TestAppCKAN(app).action.resource_create(package_id="p", upload=("f.txt", io.BytesIO(b"hi")))
    assert info.value.error_dict == {"url": ["Missing value"]}
    assert app.kwargs["params"] == {"package_id": "p"}
    assert app.kwargs["upload_files"] == [("upload", "f.txt", b"hi")]
