"""Importing from a URL: downloaded first through ``client.stream()`` (token only on the CKAN site,
redirects re-checked), then imported like a local file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from ckanx import AsyncClient, Client
from ckanx.datastore import AsyncDataStore, DataStore, SourceError

OTHER = "data.example.net"
CSV = b"code,amount\nA,1\nB,2\nC,3\n"


class Watch(httpx.HTTPTransport):
    """Forwards to the embedded server, plays a third-party host itself, records every request."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.host == OTHER:
            if request.url.path == "/moved":
                return httpx.Response(302, headers={"location": f"https://{OTHER}/table.csv"})
            if request.url.path == "/table.csv":
                return httpx.Response(200, content=CSV)
            return httpx.Response(404, content=b"no")
        return super().handle_request(request)

    def to(self, host: str) -> list[httpx.Request]:
        return [r for r in self.seen if r.url.host == host and "/api/" not in r.url.path]


class AsyncWatch(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.host == OTHER:
            return httpx.Response(200, content=CSV)
        return await super().handle_async_request(request)


def test_url_on_the_site_gets_the_token_and_the_whole_file_is_typed(
    ckan_server: Any, dataset: dict[str, Any], tmp_path: Path
) -> None:
    src = tmp_path / "nums.csv"
    # a value far past the 20,000-row sample of a stream: typing the whole file keeps "n" text
    src.write_text("n\n" + "".join(f"{i}\n" for i in range(25_000)) + "x\n")
    watch = Watch()
    with Client(ckan_server.url, ckan_server.token, transport=watch) as ck:
        res = ck.action.resource_create(package_id=dataset["id"], name="nums", upload=src)
        report = DataStore(ck).import_table(dataset["id"], res["url"])
        rows = ck.action.datastore_search(resource_id=report.resource_id, limit=1, sort="_id desc")
    download = [r for r in watch.seen if "/download/" in r.url.path]
    assert len(download) == 1 and download[0].headers["Authorization"] == ckan_server.token
    assert report.rows_committed == 25_001
    assert report.fields == [{"id": "n", "type": "text"}]
    assert rows["records"][0]["n"] == "x"


def test_third_party_url_and_its_redirect_never_get_the_token(
    ckan_server: Any, dataset: dict[str, Any]
) -> None:
    watch = Watch()
    with Client(ckan_server.url, ckan_server.token, transport=watch) as ck:
        report = DataStore(ck).import_table(dataset["id"], f"https://{OTHER}/moved")
        shown = ck.action.resource_show(id=report.resource_id)
        records = ck.action.datastore_search(resource_id=report.resource_id, sort="_id")["records"]
    hops = watch.to(OTHER)
    assert [r.url.path for r in hops] == ["/moved", "/table.csv"]
    assert all("Authorization" not in r.headers for r in hops)
    assert [(r["code"], r["amount"]) for r in records] == [("A", 1), ("B", 2), ("C", 3)]
    assert shown["name"] == "moved"  # the URL's last segment names the new resource


def test_download_failure_is_one_source_error(ckan_server: Any, dataset: dict[str, Any]) -> None:
    with Client(ckan_server.url, ckan_server.token, transport=Watch()) as ck:
        with pytest.raises(SourceError, match=rf"cannot download https://{OTHER}/missing.csv: HTTP 404"):
            DataStore(ck).import_table(dataset["id"], f"https://{OTHER}/missing.csv")
        assert ck.action.package_show(id=dataset["id"])["resources"] == []


@pytest.mark.anyio
async def test_async_client_imports_a_url_with_the_same_rule(ckan_server: Any, dataset: dict[str, Any]) -> None:
    watch = AsyncWatch()
    async with AsyncClient(ckan_server.url, ckan_server.token, transport=watch) as ck:
        report = await AsyncDataStore(ck).import_table(dataset["id"], f"https://{OTHER}/t.csv")
        total = (await ck.action.datastore_search(resource_id=report.resource_id, limit=0))["total"]
    third = [r for r in watch.seen if r.url.host == OTHER]
    assert len(third) == 1 and "Authorization" not in third[0].headers
    assert total == 3 and report.rows_committed == 3
