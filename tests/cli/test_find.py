"""``ckanx find datasets --title``."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from tests.bulk.helpers import cli, jsonl


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


@pytest.fixture
def site(ckan_server: Any) -> Any:
    ck = ckan_server.client
    ck.action.organization_create(name="org-a")
    ck.action.organization_create(name="org-b")
    ck.action.package_create(name="budget-2024", title="Budget 2024", owner_org="org-a")
    ck.action.package_create(name="budget", title="budget", owner_org="org-a", private=True)
    ck.action.package_create(name="budget-b", title="Budget", owner_org="org-b")
    return ckan_server


def test_best_match_first(runner: CliRunner, site: Any) -> None:
    result = cli(runner, site, "find", "datasets", "--title", "Budget", "-n", "3")
    assert result.exit_code == 0, result.stderr
    rows = jsonl(result.stdout)
    assert [r["name"] for r in rows] == ["budget-b", "budget", "budget-2024"]
    assert [r["exact"] for r in rows] == [True, True, False]
    assert rows[2]["score"] < 1


def test_filters_and_full(runner: CliRunner, site: Any) -> None:
    result = cli(runner, site, "find", "datasets", "--title", "budget 2024", "organization=org-a", "--full")
    assert result.exit_code == 0, result.stderr
    (row,) = jsonl(result.stdout)
    assert row["name"] == "budget-2024" and row["organization"]["name"] == "org-a"


def test_nothing_found(runner: CliRunner, site: Any) -> None:
    result = cli(runner, site, "find", "datasets", "--title", "Budget 2025", "--exact")
    assert result.exit_code == 1
    assert "no dataset titled 'Budget 2025' (exactly)" in result.stderr
    assert cli(runner, site, "find", "datasets", "--title", "zebra").exit_code == 1
