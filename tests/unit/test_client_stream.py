"""``Client.stream`` / ``AsyncClient.stream``: raw streamed GETs with the token only on the site."""

from __future__ import annotations

import httpx
import pytest

import ckanx

from .conftest import SITE, TOKEN, Recorder


def body(data: bytes = b"a,b\r\n1,2\r\n", status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=data, headers=headers)


def client(rec: Recorder, url: str = SITE, **kw: object) -> ckanx.Client:
    return ckanx.Client(url, TOKEN, transport=httpx.MockTransport(rec), **kw)  # type: ignore[arg-type]


def test_relative_path_resolves_against_the_site_and_carries_the_token() -> None:
    rec = Recorder(body())
    with client(rec) as ck, ck.stream("GET", "/datastore/dump/abc", params={"format": "csv"}) as response:
        data = b"".join(response.iter_bytes())
    assert data == b"a,b\r\n1,2\r\n"
    sent = rec.requests[0]
    assert str(sent.url) == f"{SITE}/datastore/dump/abc?format=csv"
    assert sent.headers["Authorization"] == TOKEN
    assert sent.headers["User-Agent"].startswith("ckanx/")


def test_site_path_prefix_is_kept_for_paths_with_and_without_slash() -> None:
    rec = Recorder(body())
    with client(rec, "https://host.example/portal") as ck:
        for path in ("/datastore/dump/x", "datastore/dump/x"):
            with ck.stream("GET", path):
                pass
    assert [str(r.url) for r in rec.requests] == ["https://host.example/portal/datastore/dump/x"] * 2
    assert all(r.headers["Authorization"] == TOKEN for r in rec.requests)


@pytest.mark.parametrize(
    "url",
    [
        "https://files.example.org/data.csv",  # another host
        "https://ckan.example.org:8443/data.csv",  # another port
        "http://ckan.example.org/data.csv",  # another scheme
        "https://ckan.example.org.evil.test/data.csv",  # a host that merely starts like the site
    ],
)
def test_token_is_not_sent_to_another_host_port_or_scheme(url: str) -> None:
    rec = Recorder(body())
    with client(rec) as ck, ck.stream("GET", url) as response:
        response.read()
    assert str(rec.requests[0].url) == url
    assert "Authorization" not in rec.requests[0].headers


def test_same_site_with_explicit_default_port_gets_the_token() -> None:
    rec = Recorder(body())
    with client(rec) as ck, ck.stream("GET", "https://CKAN.example.org:443/x"):
        pass
    assert rec.requests[0].headers["Authorization"] == TOKEN


def test_custom_token_header_and_client_headers_follow_the_same_rule() -> None:
    rec = Recorder(body())
    with client(rec, token_header="X-CKAN-Token", headers={"X-Team": "data"}) as ck:
        with ck.stream("GET", "/a"):
            pass
        with ck.stream("GET", "https://elsewhere.example/b", headers={"Range": "bytes=5-"}):
            pass
    on_site, elsewhere = rec.requests
    assert on_site.headers["X-CKAN-Token"] == TOKEN and on_site.headers["X-Team"] == "data"
    assert "X-CKAN-Token" not in elsewhere.headers and "Authorization" not in elsewhere.headers
    assert elsewhere.headers["Range"] == "bytes=5-" and elsewhere.headers["X-Team"] == "data"


def test_redirects_are_not_followed_unless_asked_and_then_drop_the_token_off_site() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "ckan.example.org" and request.url.path == "/download":
            return body(b"", 302, location="https://cdn.example.net/file.bin")
        return body(b"payload")

    rec = Recorder(answer)
    with client(rec) as ck:
        with ck.stream("GET", "/download") as first:
            assert first.status_code == 302
        with ck.stream("GET", "/download", follow_redirects=True) as response:
            assert response.read() == b"payload"
    assert [r.url.host for r in rec.requests] == ["ckan.example.org", "ckan.example.org", "cdn.example.net"]
    assert rec.requests[1].headers["Authorization"] == TOKEN
    assert "Authorization" not in rec.requests[2].headers


def test_redirect_loop_is_a_redirect_error() -> None:
    rec = Recorder(body(b"", 302, location="/again"))
    with (
        client(rec) as ck,
        pytest.raises(ckanx.RedirectError, match="too many redirects"),
        ck.stream("GET", "/start", follow_redirects=True),
    ):
        pass
    assert len(rec.requests) == 6


def test_error_status_is_a_response_not_an_exception() -> None:
    rec = Recorder(body(b"nope", 404))
    with client(rec) as ck, ck.stream("GET", "/datastore/dump/missing") as response:
        assert response.status_code == 404
        assert response.read() == b"nope"


def test_other_schemes_are_refused() -> None:
    rec = Recorder(body())
    with (
        client(rec) as ck,
        pytest.raises(ValueError, match="unsupported URL scheme 'file'"),
        ck.stream("GET", "file:///etc/passwd"),
    ):
        pass
    assert rec.requests == []


def test_per_request_timeout_overrides_the_client_default() -> None:
    rec = Recorder(body())
    with client(rec, timeout=30) as ck:
        with ck.stream("GET", "/a"):
            pass
        with ck.stream("GET", "/b", timeout=2.5):
            pass
    assert rec.requests[0].extensions["timeout"]["read"] == 30
    assert rec.requests[1].extensions["timeout"]["read"] == 2.5


def test_response_is_closed_after_the_block() -> None:
    rec = Recorder(body())
    with client(rec) as ck:
        with ck.stream("GET", "/a") as response:
            pass
        assert response.is_closed


@pytest.mark.anyio
async def test_async_twin_applies_the_same_rules() -> None:
    rec = Recorder(body())
    async with ckanx.AsyncClient(SITE, TOKEN, transport=httpx.MockTransport(rec)) as ck:
        async with ck.stream("GET", "/datastore/dump/abc", params={"format": "tsv"}) as response:
            data = b"".join([chunk async for chunk in response.aiter_bytes()])
        async with ck.stream("GET", "https://other.example/x.csv") as response:
            await response.aread()
    assert data == b"a,b\r\n1,2\r\n"
    assert str(rec.requests[0].url) == f"{SITE}/datastore/dump/abc?format=tsv"
    assert rec.requests[0].headers["Authorization"] == TOKEN
    assert "Authorization" not in rec.requests[1].headers


@pytest.mark.anyio
async def test_async_redirect_drops_the_token_off_site() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "ckan.example.org":
            return body(b"", 307, location="https://cdn.example.net/f")
        return body(b"ok")

    rec = Recorder(answer)
    async with (
        ckanx.AsyncClient(SITE, TOKEN, transport=httpx.MockTransport(rec)) as ck,
        ck.stream("GET", "/f", follow_redirects=True) as response,
    ):
        assert await response.aread() == b"ok"
    assert rec.requests[0].headers["Authorization"] == TOKEN
    assert "Authorization" not in rec.requests[1].headers
