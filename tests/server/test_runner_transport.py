"""In-process transports: no socket, streaming bodies, errors, disconnects."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ckanx.server.core import EmbeddedCKAN
from ckanx.server.transport import AsyncEmbeddedTransport, EmbeddedTransport

CHUNKS = 50
produced: list[int] = []
finished = threading.Event()


async def numbers(request: Request) -> StreamingResponse:
    async def gen() -> AsyncIterator[bytes]:
        try:
            for i in range(int(request.query_params.get("n", CHUNKS))):
                produced.append(i)
                yield f"{i}\n".encode()
                await asyncio.sleep(0)
        finally:
            finished.set()

    return StreamingResponse(gen(), media_type="text/plain")


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "len": len(body),
            "auth": request.headers.get("authorization"),
            "host": request.headers.get("host"),
        },
        status_code=201,
    )


async def boom(request: Request) -> Response:
    raise ZeroDivisionError("boom")


APP = Starlette(
    routes=[
        Route("/numbers", numbers),
        Route("/echo/{x}", echo, methods=["GET", "POST"]),
        Route("/boom", boom),
    ]
)


@pytest.fixture
def sync_http() -> httpx.Client:
    with httpx.Client(transport=EmbeddedTransport(APP), base_url="http://ckan.test") as http:
        yield http


def test_sync_status_show_on_embedded_ckan() -> None:
    with (
        EmbeddedCKAN() as site,
        httpx.Client(transport=EmbeddedTransport(site), base_url=site.site_url) as http,
    ):
        r = http.get("/api/3/action/status_show")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json;charset=utf-8"
        assert r.json()["result"]["site_url"] == site.site_url
        r = http.post("/api/3/action/no_such_action", json={})
        assert r.status_code == 400
        assert r.json() == "Bad request - Action name not known: no_such_action"


def test_sync_request_details(sync_http: httpx.Client) -> None:
    payload = b"x" * 200_000
    r = sync_http.post("/echo/a%20b?q=1&q=2", content=payload, headers={"Authorization": "tok"})
    assert r.status_code == 201
    assert r.json() == {
        "method": "POST",
        "path": "/echo/a b",
        "query": "q=1&q=2",
        "len": len(payload),
        "auth": "tok",
        "host": "ckan.test",
    }


def test_sync_streaming_full_body(sync_http: httpx.Client) -> None:
    r = sync_http.get("/numbers")
    assert r.text == "".join(f"{i}\n" for i in range(CHUNKS))


def test_sync_streaming_is_incremental_and_early_close_disconnects(
    sync_http: httpx.Client,
) -> None:
    produced.clear()
    finished.clear()
    with sync_http.stream("GET", "/numbers", params={"n": 100_000}) as r:
        assert r.status_code == 200
        first = next(r.iter_raw())
        assert first == b"0\n"
    # we read one chunk and closed: the app must have stopped long before the end
    assert finished.wait(5)
    assert len(produced) < 1000


def test_sync_app_exception_is_a_500_as_on_a_socket(sync_http: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    # Starlette's error middleware answers 500 and re-raises; the transport behaves like a
    # server: the client sees the 500, the exception is logged.
    r = sync_http.get("/boom")
    assert r.status_code == 500
    assert any(rec.exc_info and rec.exc_info[0] is ZeroDivisionError for rec in caplog.records)


def test_sync_transport_close_stops_loop() -> None:
    transport = EmbeddedTransport(APP)
    http = httpx.Client(transport=transport, base_url="http://ckan.test")
    assert http.get("/numbers", params={"n": 3}).text == "0\n1\n2\n"
    loop_thread = transport._loop
    assert loop_thread is not None and loop_thread.thread.is_alive()
    http.close()
    assert not loop_thread.thread.is_alive()


def test_sync_transport_from_many_threads(sync_http: httpx.Client) -> None:
    results: list[str] = []

    def worker(k: int) -> None:
        for _ in range(5):
            results.append(sync_http.get("/numbers", params={"n": k}).text)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted("".join(f"{i}\n" for i in range(k)) for k in range(1, 5) for _ in range(5))


def test_async_transport_streams() -> None:
    async def main() -> None:
        async with httpx.AsyncClient(transport=AsyncEmbeddedTransport(APP), base_url="http://ckan.test") as http:
            r = await http.post("/echo/z", content=b"abc")
            assert r.status_code == 201 and r.json()["len"] == 3
            produced.clear()
            finished.clear()
            async with http.stream("GET", "/numbers", params={"n": 100_000}) as r:
                async for chunk in r.aiter_raw():
                    assert chunk == b"0\n"
                    break
            for _ in range(100):
                if finished.is_set():
                    break
                await asyncio.sleep(0.01)
            assert finished.is_set()
            assert len(produced) < 1000
            r = await http.get("/numbers", params={"n": 4})
            assert r.text == "0\n1\n2\n3\n"

    asyncio.run(main())


def test_exception_before_response_reaches_caller() -> None:
    async def broken_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        raise KeyError("no response at all")

    with httpx.Client(transport=EmbeddedTransport(broken_app), base_url="http://t") as http:
        with pytest.raises(KeyError):
            http.get("/")
        # the transport survives and serves the next request
        with pytest.raises(KeyError):
            http.get("/")


def test_ckanx_client_over_embedded_transport() -> None:
    import ckanx

    with EmbeddedCKAN() as site:
        transport = EmbeddedTransport(site)
        with ckanx.Client(site.site_url, site.sysadmin_token, transport=transport) as ck:
            assert ck.action.status_show()["site_url"] == site.site_url
            me = ck.action.user_show(id=site.sysadmin_name)
            assert me["sysadmin"] is True
            with pytest.raises(ckanx.NotFound):
                ck.action.package_show(id="no-such-dataset")


def test_datastore_dump_streams_through_the_sync_transport() -> None:
    import ckanx

    with (
        EmbeddedCKAN() as site,
        ckanx.Client(site.site_url, site.sysadmin_token, transport=EmbeddedTransport(site)) as ck,
    ):
        ck.action.organization_create(name="t-org")
        pkg = ck.action.package_create(name="t-ds", owner_org="t-org")
        records = [{"n": i, "label": f"row {i} ✓"} for i in range(5000)]
        created = ck.action.datastore_create(
            resource={"package_id": pkg["id"], "name": "table"},
            fields=[{"id": "n", "type": "int"}, {"id": "label", "type": "text"}],
            records=records,
        )
        with httpx.Client(transport=EmbeddedTransport(site), base_url=site.site_url) as http:
            chunks = 0
            lines: list[str] = []
            with http.stream("GET", f"/datastore/dump/{created['resource_id']}") as r:
                assert r.status_code == 200
                for chunk in r.iter_bytes():
                    chunks += 1
                    lines.extend(chunk.decode().splitlines())
        assert lines[0].lstrip("\ufeff") == "_id,n,label"
        assert len(lines) == 1 + len(records)
        assert lines[-1] == "5000,4999,row 4999 ✓"
        assert chunks > 1  # delivered as the app produced it, not as one buffer
