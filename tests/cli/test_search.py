"""``ckanx search datasets``: all matches, stable paging, ckanapi's argument syntax."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.bulk.helpers import cli, count_actions, jsonl, make_datasets


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


def test_search_all_matches_by_keyset(runner: CliRunner, ckan_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    make_datasets(ckan_server.client, 14)
    monkeypatch.setattr("ckanx.bulk.actions.SEARCH_ROWS", 4)
    with count_actions(monkeypatch) as calls:
        result = cli(runner, ckan_server, "search", "datasets", "fq=tags:t1", "include_private:true")
    assert result.exit_code == 0, result.stderr
    found = jsonl(result.stdout)
    expected = sorted(f"ds-{i:04d}" for i in range(14) if i % 3 == 1)
    assert sorted(d["name"] for d in found) == expected
    assert [d["id"] for d in found] == sorted(d["id"] for d in found)
    assert calls["package_search"] == 3  # pages of 4 + 1 + the empty page


def test_search_with_sort_and_rows(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    make_datasets(ckan_server.client, 5)
    ordered = cli(runner, ckan_server, "search", "datasets", "sort=name desc")
    assert [d["name"] for d in jsonl(ordered.stdout)] == [f"ds-{i:04d}" for i in reversed(range(5))]
    one_page = cli(runner, ckan_server, "search", "datasets", "rows:2", "sort=name asc")
    assert [d["name"] for d in jsonl(one_page.stdout)] == ["ds-0000", "ds-0001"]
    bad = cli(runner, ckan_server, "search", "datasets", "rows:{")
    assert bad.exit_code == 2 and "invalid JSON" in bad.stderr
