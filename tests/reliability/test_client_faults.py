"""The client through :class:`FaultProxy`: every fault kind, reads, idempotent writes, creates.

Each test injects exactly one fault (``rate=1.0, max_faults=1``, limited to the action under test by
``only``) and then checks the site itself (not the client's answer) for what really happened.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

import ckanx
from ckanx.testing import CKANServer
from ckanx.testing.faults import ALL_KINDS, FaultProxy

TIMEOUT = httpx.Timeout(1.0, connect=1.0)
STALL = 1.6  # longer than the client's read timeout
RECOVERABLE = tuple(k for k in ALL_KINDS if k != "html_200")
# the request reached the site: a write may have landed
LANDED = ("reset_after", "http_504", "stall", "truncate")
# the proxy answered or dropped it without forwarding: the write did not land
NOT_FORWARDED = ("reset_before", "http_502")
NOT_PROCESSED = ("http_503", "http_429", "redirect")  # the client may safely repeat anything

_names = itertools.count()


def _name(prefix: str) -> str:
    return f"rel-{prefix}-{next(_names):04d}"


def _proxy(site: CKANServer, kind: str, only: str) -> FaultProxy:
    return FaultProxy(site.url, rate=1.0, seed=kind, kinds=[kind], max_faults=1, stall_seconds=STALL, only=only)


def _client(proxy: FaultProxy, site: CKANServer) -> ckanx.Client:
    return ckanx.Client(proxy.url, site.token, timeout=TIMEOUT, retries=3)


def _dataset(site: CKANServer) -> dict[str, Any]:
    result: dict[str, Any] = site.client.action.package_create(name=_name("ds"), owner_org="rel-org")
    return result


@pytest.mark.parametrize("kind", RECOVERABLE)
def test_read_succeeds_through_each_fault(site: CKANServer, kind: str) -> None:
    ds = _dataset(site)
    with _proxy(site, kind, "package_show") as proxy, _client(proxy, site) as ck:
        shown = ck.action.package_show(id=ds["name"])
    assert shown["id"] == ds["id"]
    assert [f.kind for f in proxy.faults] == [kind]


@pytest.mark.parametrize("kind", RECOVERABLE)
def test_async_read_succeeds_through_each_fault(site: CKANServer, kind: str) -> None:
    import asyncio

    ds = _dataset(site)

    async def go(proxy: FaultProxy) -> Any:
        async with ckanx.AsyncClient(proxy.url, site.token, timeout=TIMEOUT, retries=3) as ck:
            return await ck.action.package_show(id=ds["name"])

    with _proxy(site, kind, "package_show") as proxy:
        shown = asyncio.run(go(proxy))
    assert shown["id"] == ds["id"]
    assert [f.kind for f in proxy.faults] == [kind]


@pytest.mark.parametrize("kind", RECOVERABLE)
def test_idempotent_write_applies_once(site: CKANServer, kind: str) -> None:
    ds = _dataset(site)
    with _proxy(site, kind, "package_patch") as proxy, _client(proxy, site) as ck:
        patched = ck.action.package_patch(id=ds["id"], notes=f"patched under {kind}")
    stored = site.client.action.package_show(id=ds["id"])
    assert stored["notes"] == patched["notes"] == f"patched under {kind}"
    assert [f.kind for f in proxy.faults] == [kind]


@pytest.mark.parametrize("kind", RECOVERABLE)
def test_package_create_with_lost_answer_is_reconciled(site: CKANServer, kind: str) -> None:
    name = _name("create")
    with _proxy(site, kind, "package_create") as proxy, _client(proxy, site) as ck:
        created = ck.action.package_create(name=name, owner_org="rel-org", notes=kind)
    assert [f.kind for f in proxy.faults] == [kind]
    stored = site.client.action.package_show(id=name)
    assert created["id"] == stored["id"]
    matching = site.client.action.package_search(q=f'name:"{name}"', include_private=True, include_drafts=True)
    assert matching["count"] == 1


@pytest.mark.parametrize("kind", LANDED + NOT_FORWARDED)
def test_resource_create_with_lost_answer_raises_and_is_not_duplicated(site: CKANServer, kind: str) -> None:
    ds = _dataset(site)
    with (
        _proxy(site, kind, "resource_create") as proxy,
        _client(proxy, site) as ck,
        pytest.raises(ckanx.OutcomeUnknownError) as caught,
    ):
        ck.action.resource_create(package_id=ds["id"], url="http://example.org/x.csv", name="x")
    assert [f.kind for f in proxy.faults] == [kind]
    assert "resource_create" in str(caught.value)
    resources = site.client.action.package_show(id=ds["id"])["resources"]
    assert len(resources) == (1 if kind in LANDED else 0)


@pytest.mark.parametrize("kind", NOT_PROCESSED)
def test_resource_create_not_processed_is_retried_once(site: CKANServer, kind: str) -> None:
    ds = _dataset(site)
    with _proxy(site, kind, "resource_create") as proxy, _client(proxy, site) as ck:
        res = ck.action.resource_create(package_id=ds["id"], url="http://example.org/x.csv", name="x")
    assert [f.kind for f in proxy.faults] == [kind]
    resources = site.client.action.package_show(id=ds["id"])["resources"]
    assert [r["id"] for r in resources] == [res["id"]]


@pytest.mark.parametrize("action", ["package_show", "package_patch", "resource_create"])
def test_html_page_with_status_200_is_server_incompatible(site: CKANServer, action: str) -> None:
    ds = _dataset(site)
    data = {
        "package_show": {"id": ds["id"]},
        "package_patch": {"id": ds["id"], "notes": "must not land"},
        "resource_create": {"package_id": ds["id"], "url": "http://example.org/y.csv"},
    }[action]
    with (
        _proxy(site, "html_200", action) as proxy,
        _client(proxy, site) as ck,
        pytest.raises(ckanx.ServerIncompatibleError) as caught,
    ):
        ck.call_action(action, data)
    message = str(caught.value)
    assert "HTML" in message and "Sign in" in message and action in message
    stored = site.client.action.package_show(id=ds["id"])
    assert stored["notes"] != "must not land" and stored["resources"] == []


def test_mixed_faults_at_high_rate_lose_no_read(site: CKANServer) -> None:
    """40% of all requests faulted (every kind but html_200 and stall): 12 reads return the right datasets."""
    # fixed names: the faults depend on the requests, so the same seed gives the same faults
    made = [site.client.action.package_create(name=f"rel-mixed-{i:02d}", owner_org="rel-org") for i in range(12)]
    kinds = [k for k in RECOVERABLE if k != "stall"]  # stalls are slow; tested one by one above
    with (
        FaultProxy(site.url, rate=0.4, seed=20261122, kinds=kinds) as proxy,
        ckanx.Client(proxy.url, site.token, timeout=TIMEOUT, retries=8) as ck,
    ):
        ids = [ck.action.package_show(id=d["name"])["id"] for d in made]
    assert ids == [d["id"] for d in made]
    assert len(proxy.faults) >= 3  # the seed is fixed: the proxy really injected
    assert len(proxy.counts()) >= 3
