"""Shared fixtures for the DataStore tests: the real CSV corpus, a dataset to import into, and
``site``: the embedded CKAN always, plus a real CKAN when ``CKANX_TEST_URL`` and ``CKANX_TEST_TOKEN``
(or ``CKANX_TEST_TOKEN_FILE``) are set — the same tests then run against both."""

from __future__ import annotations

import contextlib
import itertools
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ckanx import Client

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
_names = itertools.count()


def _real_site() -> tuple[str, str] | None:
    url = os.environ.get("CKANX_TEST_URL", "").rstrip("/")
    token = os.environ.get("CKANX_TEST_TOKEN", "")
    token_file = os.environ.get("CKANX_TEST_TOKEN_FILE", "")
    if not token and token_file:
        token = Path(token_file).read_text().strip()
    return (url, token) if url and token else None


@pytest.fixture
def corpus() -> Path:
    """The shared corpus folder (``<repo>/../shared/corpus``)."""
    assert CORPUS.is_dir(), f"corpus missing at {CORPUS}"
    return CORPUS


@pytest.fixture
def dataset(ckan_server: Any) -> dict[str, Any]:
    """A fresh dataset (in a fresh organization) on the embedded server."""
    n = next(_names)
    ck = ckan_server.client
    ck.action.organization_create(name=f"ds-org-{n}")
    return ck.action.package_create(name=f"ds-table-{n}", owner_org=f"ds-org-{n}")  # type: ignore[no-any-return]


@dataclass
class Site:
    """A CKAN to run a test against: a client (sysadmin) and a fresh dataset on it."""

    name: str
    client: Client
    dataset: dict[str, Any]
    url: str
    token: str


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "site" in metafunc.fixturenames:
        metafunc.parametrize("site", ["embedded"] + (["real"] if _real_site() else []), indirect=True)


@pytest.fixture
def site(request: pytest.FixtureRequest) -> Iterator[Site]:
    """The embedded server, or the real CKAN (unique names, purged afterwards)."""
    if request.param == "embedded":
        srv = request.getfixturevalue("ckan_server")
        yield Site("embedded", srv.client, request.getfixturevalue("dataset"), srv.url, srv.token)
        return
    real = _real_site()
    assert real is not None
    prefix = f"ckanx-dst-{uuid.uuid4().hex[:10]}"
    with Client(*real) as ck:
        org = ck.action.organization_create(name=prefix)
        pkg = ck.action.package_create(name=prefix, owner_org=org["id"])
        try:
            yield Site("real", ck, pkg, *real)
        finally:
            with contextlib.suppress(Exception):
                ck.action.dataset_purge(id=pkg["id"])
            with contextlib.suppress(Exception):
                ck.action.organization_purge(id=org["id"])
