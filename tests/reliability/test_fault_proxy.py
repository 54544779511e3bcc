"""The fault proxy itself: clean forwarding, determinism, bounds, and what each fault looks like on the wire."""

from __future__ import annotations

import time

import httpx
import pytest

from ckanx.testing import CKANServer
from ckanx.testing.faults import ALL_KINDS, FaultProxy


def _requests() -> list[tuple[str, bytes]]:
    return [("POST /api/3/action/package_show", b'{"id": "ds-%d"}' % i) for i in range(200)]


def test_decisions_depend_on_seed_and_request_not_on_order() -> None:
    reqs = _requests()
    a = FaultProxy("http://upstream.invalid", rate=0.2, seed=5)
    b = FaultProxy("http://upstream.invalid", rate=0.2, seed=5)
    c = FaultProxy("http://upstream.invalid", rate=0.2, seed=6)
    first = {r: a.decide(*r) for r in reqs}
    second = {r: b.decide(*r) for r in reversed(reqs)}
    other = {r: c.decide(*r) for r in reqs}
    assert first == second  # same seed, other arrival order: same faults
    assert first != other
    hit = sum(k is not None for k in first.values())
    assert 20 <= hit <= 60  # ~20% of 200
    assert {k for k in first.values() if k} <= set(ALL_KINDS)


def test_a_repeated_request_gets_a_fresh_draw() -> None:
    proxy = FaultProxy("http://upstream.invalid", rate=0.5, seed=1)
    outcomes = {proxy.decide("POST /api/3/action/x", b"{}") for _ in range(40)}
    assert None in outcomes and len(outcomes) > 1


def test_max_faults_and_only_bound_the_injection() -> None:
    proxy = FaultProxy("http://upstream.invalid", rate=1.0, seed=1, max_faults=3, only="package_create")
    assert proxy.decide("POST /api/3/action/package_show", b"") is None
    kinds = [proxy.decide("POST /api/3/action/package_create", b"%d" % i) for i in range(10)]
    assert sum(k is not None for k in kinds) == 3 and len(proxy.faults) == 3
    assert proxy.requests == 11


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FaultProxy("http://x", kinds=["explode"])
    with pytest.raises(ValueError, match="rate"):
        FaultProxy("http://x", rate=1.5)


def test_forwards_cleanly_at_rate_zero(site: CKANServer) -> None:
    with FaultProxy(site.url, rate=0.0) as proxy, httpx.Client() as http:
        direct = http.post(f"{site.url}/api/3/action/status_show", json={}).json()
        proxied = http.post(f"{proxy.url}/api/3/action/status_show", json={}).json()
        missing = http.get(f"{proxy.url}/api/3/action/no_such_action")
    assert proxied == direct
    assert missing.status_code == 400 and "Action name not known" in missing.json()
    assert proxy.faults == [] and proxy.requests == 2


@pytest.mark.parametrize(
    ("kind", "status"), [("http_502", 502), ("http_503", 503), ("http_504", 504), ("http_429", 429), ("redirect", 307)]
)
def test_status_faults_on_the_wire(site: CKANServer, kind: str, status: int) -> None:
    with FaultProxy(site.url, rate=1.0, seed=0, kinds=[kind], retry_after=3) as proxy, httpx.Client() as http:
        response = http.post(f"{proxy.url}/api/3/action/status_show", json={})
    assert response.status_code == status
    if kind == "http_429":
        assert response.headers["retry-after"] == "3"
    if kind == "redirect":
        assert response.headers["location"] == f"{proxy.url}/api/3/action/status_show"
    assert [(f.kind, f.request) for f in proxy.faults] == [(kind, "POST /api/3/action/status_show")]


@pytest.mark.parametrize("kind", ["reset_before", "reset_after", "truncate"])
def test_connection_faults_on_the_wire(site: CKANServer, kind: str) -> None:
    with (
        FaultProxy(site.url, rate=1.0, seed=0, kinds=[kind]) as proxy,
        httpx.Client() as http,
        pytest.raises(httpx.TransportError),
    ):
        http.post(f"{proxy.url}/api/3/action/status_show", json={})


def test_reset_after_lets_the_write_land_and_reset_before_does_not(site: CKANServer) -> None:
    url = "/api/3/action/package_create"
    headers = {"Authorization": site.token}
    for kind, name in (("reset_before", "proxy-before"), ("reset_after", "proxy-after")):
        with (
            FaultProxy(site.url, rate=1.0, seed=0, kinds=[kind]) as proxy,
            httpx.Client(headers=headers) as http,
            pytest.raises(httpx.TransportError),
        ):
            http.post(proxy.url + url, json={"name": name, "owner_org": "rel-org"})
    assert "proxy-after" in site.client.action.package_list()
    assert "proxy-before" not in site.client.action.package_list()


def test_stall_outlasts_the_read_timeout(site: CKANServer) -> None:
    with FaultProxy(site.url, rate=1.0, seed=0, kinds=["stall"], stall_seconds=3.0) as proxy:
        started = time.monotonic()
        with httpx.Client(timeout=0.3) as http, pytest.raises(httpx.ReadTimeout):
            http.post(f"{proxy.url}/api/3/action/status_show", json={})
        assert time.monotonic() - started < 2.5  # the client gave up long before the stall ended


def test_html_200_is_a_login_page(site: CKANServer) -> None:
    with FaultProxy(site.url, rate=1.0, seed=0, kinds=["html_200"]) as proxy, httpx.Client() as http:
        response = http.post(f"{proxy.url}/api/3/action/status_show", json={})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "<title>Sign in" in response.text


def test_stops_by_itself_after_its_lifetime(site: CKANServer) -> None:
    proxy = FaultProxy(site.url, rate=0.0, lifetime=0.3).start()
    try:
        assert httpx.post(f"{proxy.url}/api/3/action/status_show", json={}).status_code == 200
        time.sleep(0.6)
        with pytest.raises(httpx.ConnectError):
            httpx.post(f"{proxy.url}/api/3/action/status_show", json={}, timeout=1)
    finally:
        proxy.stop()


def test_stops_after_max_requests(site: CKANServer) -> None:
    with FaultProxy(site.url, rate=0.0, max_requests=2) as proxy, httpx.Client() as http:
        for _ in range(2):
            assert http.post(f"{proxy.url}/api/3/action/status_show", json={}).status_code == 200
        with pytest.raises(httpx.TransportError):
            http.post(f"{proxy.url}/api/3/action/status_show", json={})
