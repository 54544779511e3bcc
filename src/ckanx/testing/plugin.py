"""pytest plugin (entry point ``ckanx``): the ``ckan_server`` and ``ckan_server_factory`` fixtures.

Installed with ckanx; nothing to add to ``conftest.py``::

    def test_upload(ckan_server):
        ck = ckan_server.client
        ck.action.organization_create(name="org")
        ck.action.package_create(name="ds", owner_org="org")

    def test_against_212(ckan_server_factory):
        seed = [{"name": "a", "organization": {"name": "o"}}]
        srv = ckan_server_factory(ckan_version="2.12", seed=seed)
        assert srv.client.action.package_show(id="a")["name"] == "a"

    @pytest.mark.ckan_server(ckan_version="2.12", seed="tests/data/dump.jsonl.gz")
    def test_marked(ckan_server):  # the marker configures the ckan_server fixture
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ckanx.testing import CKANServer, start_ckan_server


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "ckan_server(**options): options for the ckan_server fixture "
        "(ckan_version, seed, default_owner_org; see ckanx.testing.start_ckan_server)",
    )


@pytest.fixture
def ckan_server_factory() -> Iterator[Callable[..., CKANServer]]:
    """Start embedded CKAN servers with options; all are stopped after the test.

    Call it with the arguments of :func:`ckanx.testing.start_ckan_server` (``ckan_version``,
    ``seed``, ``default_owner_org``, ``data_dir``, ``port``...)::

        def test_x(ckan_server_factory):
            old, new = ckan_server_factory(), ckan_server_factory(ckan_version="2.12")
    """
    started: list[CKANServer] = []

    def factory(**options: Any) -> CKANServer:
        srv = start_ckan_server(**options)
        started.append(srv)
        return srv

    try:
        yield factory
    finally:
        for srv in reversed(started):
            srv.stop()


@pytest.fixture
def ckan_server(ckan_server_factory: Callable[..., CKANServer], request: pytest.FixtureRequest) -> CKANServer:
    """A fresh, empty embedded CKAN (2.11 unless marked) on ``127.0.0.1`` for this test.

    ``.url``, ``.token`` (sysadmin), ``.client`` (a :class:`ckanx.Client`), ``.reset()``,
    ``.seed(path_or_dicts)``. A ``@pytest.mark.ckan_server(...)`` marker passes options::

        @pytest.mark.ckan_server(ckan_version="2.12")
        def test_search(ckan_server):
            ckan_server.seed("tests/data/datasets.jsonl.gz")
            assert ckan_server.client.action.package_search(q="water")["count"] > 0
    """
    marker = request.node.get_closest_marker("ckan_server")
    if marker is not None and marker.args:
        raise pytest.UsageError("@pytest.mark.ckan_server takes keyword arguments only")
    return ckan_server_factory(**(marker.kwargs if marker is not None else {}))
