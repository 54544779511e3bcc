"""Shared fixtures for the embedded server's tests.

- ``server``: a fresh :class:`~ckanx.server.core.EmbeddedCKAN` in a temporary data directory.
  Its CKAN version comes from the ``ckan_version`` fixture ("2.11" by default); override it with
  ``@pytest.mark.parametrize("ckan_version", ["2.11", "2.12"])``.
- ``api``: ``api(action, data=None, *, token=<sysadmin>, method="POST", files=None, headers=None)
  -> (status, body)``: calls the app in-process through ``httpx.ASGITransport``. ``token=None`` is
  anonymous; any string is sent raw as ``Authorization: <token>``, as CKAN expects.
- ``make_user``: ``make_user(name=None, **fields) -> (user_dict, token)``: a new user (created by
  the sysadmin) and an API token for it.
- ``make_org``: ``make_org(name=None, *, users=(), **fields) -> org_dict``: an organization
  created by the sysadmin; ``users`` is a list of ``(user_name, capacity)``.

Tests may be plain (sync) functions; ``api`` runs each request on its own short event loop.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from ckanx.server.core import EmbeddedCKAN

ApiResult = tuple[int, Any]
_DEFAULT = object()  # "use the sysadmin's token"
_counter = itertools.count(1)


@pytest.fixture
def ckan_version() -> str:
    """The CKAN version the ``server`` fixture imitates; parametrize to change it."""
    return "2.11"


@pytest.fixture
def server(tmp_path: Path, ckan_version: str) -> Iterator[EmbeddedCKAN]:
    """A fresh embedded CKAN whose data lives in ``tmp_path / "site"``."""
    site = EmbeddedCKAN(tmp_path / "site", ckan_version=ckan_version)
    try:
        yield site
    finally:
        site.close()


async def _request(
    server: EmbeddedCKAN,
    action: str,
    data: dict[str, Any] | None,
    token: str | None,
    method: str,
    files: dict[str, Any] | None,
    headers: dict[str, str] | None,
) -> ApiResult:
    hdrs = dict(headers or {})
    if token is not None:
        hdrs["Authorization"] = token
    transport = httpx.ASGITransport(app=server.app)
    async with httpx.AsyncClient(transport=transport, base_url=server.site_url) as client:
        url = f"/api/3/action/{action}"
        if method == "GET":
            resp = await client.get(url, params=data or {}, headers=hdrs)
        elif files is not None:
            resp = await client.post(url, data=data or {}, files=files, headers=hdrs)
        else:
            resp = await client.post(url, json=data if data is not None else {}, headers=hdrs)
    return resp.status_code, json.loads(resp.content) if resp.content else None


@pytest.fixture
def api(server: EmbeddedCKAN) -> Callable[..., ApiResult]:
    """Call an action on ``server``: ``status, body = api("package_show", {"id": "x"})``."""

    def call(
        action: str,
        data: dict[str, Any] | None = None,
        *,
        token: Any = _DEFAULT,
        method: str = "POST",
        files: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> ApiResult:
        tok = server.sysadmin_token if token is _DEFAULT else token
        return anyio.run(_request, server, action, data, tok, method, files, headers)

    return call


def unique(prefix: str) -> str:
    """A name no other object in this test session has."""
    return f"{prefix}-{next(_counter)}"


@pytest.fixture
def make_user(api: Callable[..., ApiResult]) -> Callable[..., tuple[dict[str, Any], str]]:
    """Create a user (as the sysadmin) and an API token for it."""

    def make(name: str | None = None, **fields: Any) -> tuple[dict[str, Any], str]:
        name = name or unique("user")
        data = {
            "name": name,
            "email": f"{name}@example.com",
            "password": "Pass-word-1234",
            **fields,
        }
        status, body = api("user_create", data)
        assert status == 200, body
        status, tok = api("api_token_create", {"user": name, "name": "test"})
        assert status == 200, tok
        return body["result"], tok["result"]["token"]

    return make


@pytest.fixture
def make_org(api: Callable[..., ApiResult]) -> Callable[..., dict[str, Any]]:
    """Create an organization (as the sysadmin) with the given ``(user_name, capacity)`` members."""

    def make(
        name: str | None = None,
        *,
        users: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
        **fields: Any,
    ) -> dict[str, Any]:
        name = name or unique("org")
        data = {"name": name, **fields}
        if users:
            data["users"] = [{"name": u, "capacity": c} for u, c in users]
        status, body = api("organization_create", data)
        assert status == 200, body
        return body["result"]

    return make
