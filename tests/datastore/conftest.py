"""Shared fixtures for the DataStore tests: the real CSV corpus and a dataset to import into."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
_names = itertools.count()


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
