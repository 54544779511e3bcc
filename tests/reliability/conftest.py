"""Shared fixtures of the reliability tests: one embedded CKAN per module, a fault proxy per test."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from ckanx.testing import CKANServer, start_ckan_server


@pytest.fixture(scope="module")
def site() -> Iterator[CKANServer]:
    """An embedded CKAN shared by a module's tests (each test uses its own object names)."""
    srv = start_ckan_server()
    try:
        srv.client.action.organization_create(name="rel-org")
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No site or token from the environment of whoever runs the tests."""
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES", "CKANX_CONFIG"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry backoff in milliseconds instead of 0.5-8 s: the same retry decisions, a fast suite.

    The command line has no ``--retries``/backoff option, so the library's constants are lowered here.
    """
    from ckanx import _core

    monkeypatch.setattr(_core, "INITIAL_RETRY_DELAY", 0.01)
    monkeypatch.setattr(_core, "MAX_RETRY_DELAY", 0.08)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """With ``CKANX_RELIABILITY_FIGURES=1``: the figures of docs/reliability.md, from the modules that ran."""
    if not os.environ.get("CKANX_RELIABILITY_FIGURES"):
        return
    write = terminalreporter.write_line
    write("reliability figures:")
    bulk = sys.modules.get("tests.reliability.test_bulk_faults")
    if bulk is not None:
        write(f"  bulk jobs under faults: {dict(bulk.MEASURED)}")
    leaks = sys.modules.get("tests.reliability.test_token_leaks")
    if leaks is not None:
        write(f"  token: {len(leaks.LEAKS_CHECKED)} checks, {sum(leaks.LEAKS_CHECKED)} texts searched")
    trials = sys.modules.get("tests.reliability.test_kill_trials")
    if trials is not None:
        for job, counts in trials.MEASURED.items():
            write(f"  kill trials, {job}: {dict(counts)}")
        for job, points in trials.KILL_POINTS.items():
            write(f"  kill points, {job}: {'; '.join(points)}")
