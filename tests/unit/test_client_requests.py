"""How the client builds requests: URL, method, body, auth header, GET encoding, multipart."""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import tracemalloc
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

import ckanx
from ckanx import _core

from .conftest import SITE, TOKEN, Recorder, fail, make_async_client, make_client, ok


def test_json_post_to_action_url_with_raw_token() -> None:
    rec = Recorder(ok({"name": "x"}))
    with make_client(rec) as ck:
        assert ck.action.package_show(id="x") == {"name": "x"}
    req = rec.requests[0]
    assert req.method == "POST"
    assert str(req.url) == f"{SITE}/api/3/action/package_show"
    assert req.headers["Authorization"] == TOKEN  # raw, not "Bearer"
    assert req.headers["Content-Type"] == "application/json"
    assert rec.json() == {"id": "x"}
    assert req.headers["User-Agent"].startswith("ckanx/")


def test_call_action_any_name_and_plugin_actions() -> None:
    rec = Recorder(ok([1, 2]))
    with make_client(rec) as ck:
        assert ck.call_action("my_plugin_action", {"a": [1, {"b": None}]}) == [1, 2]
    assert rec.requests[0].url.path == "/api/3/action/my_plugin_action"
    assert rec.json() == {"a": [1, {"b": None}]}


@pytest.mark.parametrize(
    "given",
    [
        "https://ckan.example.org",
        "https://ckan.example.org/",
        "https://ckan.example.org/api/3/action",
        "https://ckan.example.org/api/3/action/",
        "https://ckan.example.org/api/action/package_show",
    ],
)
def test_base_url_normalised(given: str) -> None:
    assert _core.normalize_base_url(given) == SITE


def test_base_url_with_path_prefix_kept() -> None:
    assert _core.normalize_base_url("https://x.org/data/") == "https://x.org/data"


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("ckan.example.org", "needs a scheme"),
        ("ftp://x.org", "unsupported URL scheme"),
        ("", "empty"),
        ("https://user:pw@x.org", "credentials"),
    ],
)
def test_bad_base_url_is_one_clear_line(bad: str, words: str) -> None:
    with pytest.raises(ValueError, match=words) as info:
        ckanx.Client(bad)
    assert "\n" not in str(info.value)


def test_no_token_no_auth_header() -> None:
    rec = Recorder(ok(None))
    with make_client(rec, token=None) as ck:
        ck.action.status_show()
    assert "Authorization" not in rec.requests[0].headers


def test_custom_token_header() -> None:
    rec = Recorder(ok(None))
    with make_client(rec, token_header="X-CKAN-Token") as ck:
        ck.action.status_show()
    assert rec.requests[0].headers["X-CKAN-Token"] == TOKEN
    assert "Authorization" not in rec.requests[0].headers


def test_get_encoding_follows_ckan_query_rules() -> None:
    rec = Recorder(ok({"count": 0}))
    with make_client(rec, prefer_get=True) as ck:
        ck.action.package_search(
            q="a b", rows=5, include_private=True, fq_list=["x:1"], **{"facet.field": ["tags", "groups"]}, skip=None
        )
    req = rec.requests[0]
    assert req.method == "GET"
    query = parse_qs(urlsplit(str(req.url)).query)
    assert query == {
        "q": ["a b"],
        "rows": ["5"],
        "include_private": ["true"],
        "fq_list": ['["x:1"]'],
        "facet.field": ['["tags", "groups"]'],
    }


def test_prefer_get_never_uses_get_for_writes() -> None:
    rec = Recorder(ok({}))
    with make_client(rec, prefer_get=True) as ck:
        ck.action.package_patch(id="x", title="t")
    assert rec.requests[0].method == "POST"


def test_long_get_goes_by_post() -> None:
    rec = Recorder(ok({}))
    with make_client(rec, prefer_get=True) as ck:
        ck.action.package_search(q="x" * 10_000)
    assert rec.requests[0].method == "POST"


def test_get_refused_falls_back_to_post_and_sticks() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(405, text="<html>Method Not Allowed</html>", headers={"content-type": "text/html"})
        return ok({"count": 1})

    rec = Recorder(answer)
    with make_client(rec, prefer_get=True) as ck:
        assert ck.action.package_search(q="x") == {"count": 1}
        ck.action.package_search(q="y")
    assert [r.method for r in rec.requests] == ["GET", "POST", "POST"]


def test_post_blocked_by_firewall_falls_back_to_get() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(
                403, text="<html><title>Request blocked</title></html>", headers={"content-type": "text/html"}
            )
        return ok({"id": "1"})

    rec = Recorder(answer)
    with make_client(rec) as ck:
        assert ck.action.package_show(id="x") == {"id": "1"}
    assert [r.method for r in rec.requests] == ["POST", "GET"]


def test_ckan_403_is_not_a_method_refusal() -> None:
    rec = Recorder(fail(403, {"__type": "Authorization Error", "message": "Access denied"}))
    with make_client(rec) as ck, pytest.raises(ckanx.NotAuthorized):
        ck.action.package_show(id="x")
    assert len(rec.requests) == 1


def test_values_json_cannot_carry_are_encoded_deliberately() -> None:
    rec = Recorder(ok({}))
    with make_client(rec) as ck:
        ck.action.thing_create(
            when=dt.datetime(2024, 1, 2, 3, 4, 5), day=dt.date(2024, 1, 2), amount=decimal.Decimal("1.10")
        )
        with pytest.raises(ValueError):
            ck.action.thing_create(x=float("nan"))
    assert rec.json(0) == {"when": "2024-01-02T03:04:05", "day": "2024-01-02", "amount": "1.10"}


def test_multipart_upload_with_nested_fields(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"a,b\n1,2\n")
    rec = Recorder(ok({"id": "r"}))
    with make_client(rec) as ck:
        ck.action.resource_create(package_id="p", upload=path, extras={"k": "v"}, tags=["a"], private=False)
    req = rec.requests[0]
    assert req.headers["Content-Type"].startswith("multipart/form-data")
    body = rec.bodies[0]
    assert b'name="upload"; filename="data.csv"' in body
    assert b"a,b\n1,2\n" in body
    assert b'name="extras"\r\n\r\n{"k": "v"}' in body
    assert b'name="tags"\r\n\r\n["a"]' in body
    assert b'name="private"\r\n\r\nfalse' in body
    assert req.headers["Authorization"] == TOKEN


def test_upload_from_file_object_bytes_and_tuple() -> None:
    rec = Recorder(ok({}))
    with make_client(rec) as ck:
        ck.call_action("resource_create", {"package_id": "p"}, files={"upload": io.BytesIO(b"xyz")})
        ck.call_action("resource_create", {"package_id": "p"}, files={"upload": b"raw-bytes"})
        ck.action.resource_create(package_id="p", upload=("named.txt", io.BytesIO(b"t")))
    assert b"xyz" in rec.bodies[0]
    assert b"raw-bytes" in rec.bodies[1]
    assert b'filename="named.txt"' in rec.bodies[2]


def test_missing_upload_file_is_a_clear_error(tmp_path: Path) -> None:
    rec = Recorder(ok({}))
    with make_client(rec) as ck, pytest.raises(ValueError, match="cannot read file for 'upload'"):
        ck.call_action("resource_create", {}, files={"upload": tmp_path / "nope.csv"})
    assert rec.requests == []


def test_large_upload_is_streamed_with_flat_memory(tmp_path: Path) -> None:
    """A 64 MB file goes out in chunks: peak Python memory stays far below the file size."""
    size = 64 * 1024 * 1024
    path = tmp_path / "big.bin"
    with open(path, "wb") as fh:
        fh.truncate(size)
    seen = {"bytes": 0}

    class Sink(httpx.BaseTransport):
        """Consumes the body chunk by chunk, as a socket would (MockTransport buffers it)."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            for chunk in request.stream:  # type: ignore[union-attr]
                seen["bytes"] += len(chunk)
            return ok({"size": seen["bytes"]})

    ck = ckanx.Client(SITE, TOKEN, transport=Sink())
    tracemalloc.start()
    try:
        ck.call_action("resource_create", {"package_id": "p"}, files={"upload": path})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        ck.close()
    assert seen["bytes"] > size
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes while uploading {size}"


def test_upload_retried_sends_the_whole_file_again(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(b"hello")
    rec = Recorder(httpx.Response(503), ok({}))
    with make_client(rec) as ck, open(path, "rb") as fh:
        ck.call_action("resource_create", {"package_id": "p"}, files={"upload": fh})
    assert b"hello" in rec.bodies[0] and b"hello" in rec.bodies[1]


def test_bad_action_names_and_data_rejected_before_sending() -> None:
    rec = Recorder(ok({}))
    with make_client(rec) as ck:
        with pytest.raises(ValueError, match="invalid action name"):
            ck.call_action("../etc/passwd")
        with pytest.raises(TypeError, match="data must be a dict"):
            ck.call_action("package_show", ["x"])  # type: ignore[arg-type]
    assert rec.requests == []


async def _async_roundtrip() -> tuple[object, list[httpx.Request]]:
    rec = Recorder(ok({"name": "x"}))
    async with make_async_client(rec) as ck:
        result = await ck.action.package_show(id="x")
    return result, rec.requests


@pytest.mark.anyio
async def test_async_client_same_request() -> None:
    result, requests = await _async_roundtrip()
    assert result == {"name": "x"}
    assert requests[0].headers["Authorization"] == TOKEN
    assert json.loads(requests[0].content) == {"id": "x"}


def test_sync_and_async_expose_the_same_public_api() -> None:
    def public(cls: type) -> set[str]:
        return {n for n in dir(cls) if not n.startswith("_")}

    assert public(ckanx.Client) == public(ckanx.AsyncClient)
    import inspect

    for name in public(ckanx.Client):
        a, b = getattr(ckanx.Client, name), getattr(ckanx.AsyncClient, name)
        if callable(a) and not isinstance(a, type):
            sa, sb = inspect.signature(a), inspect.signature(b)
            # a context manager's generator is an Iterator in one and an AsyncIterator in the other
            ra = str(sa.return_annotation).replace("AsyncIterator", "Iterator")
            rb = str(sb.return_annotation).replace("AsyncIterator", "Iterator")
            assert sa.replace(return_annotation=ra) == sb.replace(return_annotation=rb), name
    assert inspect.signature(ckanx.Client.__init__) == inspect.signature(ckanx.AsyncClient.__init__)


def test_datastore_and_files_helpers_are_attached() -> None:
    from ckanx.datastore import AsyncDataStore, DataStore
    from ckanx.files import AsyncFiles, Files

    sync, asyn = ckanx.Client(SITE), ckanx.AsyncClient(SITE)
    assert isinstance(sync.datastore, DataStore) and isinstance(sync.files, Files)
    assert isinstance(asyn.datastore, AsyncDataStore) and isinstance(asyn.files, AsyncFiles)
    assert sync.datastore is sync.datastore  # one per client
    sync.close()


def test_object_managers_pick_the_sync_or_async_class() -> None:
    from ckanx import objects

    sync, asyn = ckanx.Client(SITE), ckanx.AsyncClient(SITE)
    assert sync.datasets.wrap({"id": "1", "name": "a"}).__class__ is objects.Dataset
    assert asyn.datasets.wrap({"id": "1", "name": "a"}).__class__ is objects.AsyncDataset
    assert sync.organizations.wrap({"id": "2", "name": "o"}).__class__ is objects.Organization
    assert asyn.groups.wrap({"id": "3", "name": "g"}).__class__ is objects.AsyncGroup
    sync.close()
