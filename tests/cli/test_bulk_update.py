"""``ckanx bulk-update private|public|delete``: dry run, confirmation, per-organization calls."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from tests.bulk.helpers import cli, count_actions, jsonl


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


@pytest.fixture
def site(ckan_server: Any) -> Any:
    ck = ckan_server.client
    for org in ("org-a", "org-b"):
        ck.action.organization_create(name=org)
    for i in range(3):
        ck.action.package_create(name=f"a-{i}", owner_org="org-a", tags=[{"name": "target"}])
    ck.action.package_create(name="b-0", owner_org="org-b", tags=[{"name": "target"}])
    ck.action.package_create(name="b-private", owner_org="org-b", tags=[{"name": "target"}], private=True)
    ck.action.package_create(name="b-other", owner_org="org-b")
    return ckan_server


def _private(site: Any) -> dict[str, bool]:
    result = site.client.action.package_search(include_private=True, rows=100)
    return {d["name"]: d["private"] for d in result["results"]}


def test_dry_run_changes_nothing(runner: CliRunner, site: Any) -> None:
    before = _private(site)
    result = cli(runner, site, "bulk-update", "private", "fq=tags:target", "--dry-run")
    assert result.exit_code == 0, result.stderr
    rows = jsonl(result.stdout)
    assert sorted(r["name"] for r in rows) == ["a-0", "a-1", "a-2", "b-0"]
    assert {r["status"] for r in rows} == {"would-private"}
    assert "4 datasets in 2 organizations (1 already private)" in result.stderr
    assert _private(site) == before


def test_private_then_public_one_call_per_org(runner: CliRunner, site: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with count_actions(monkeypatch) as calls:
        result = cli(runner, site, "bulk-update", "private", "fq=tags:target", "--yes", "-p", "2")
    assert result.exit_code == 0, result.stderr
    assert calls["bulk_update_private"] == 2
    state = _private(site)
    assert all(state[n] for n in ("a-0", "a-1", "a-2", "b-0", "b-private")) and not state["b-other"]
    result = cli(runner, site, "bulk-update", "public", "q=name:a-*", "--yes")
    assert result.exit_code == 0, result.stderr
    state = _private(site)
    assert not any(state[f"a-{i}"] for i in range(3)) and state["b-0"]


def test_confirmation_and_delete(runner: CliRunner, site: Any) -> None:
    refused = cli(runner, site, "bulk-update", "delete", "fq=organization:org-a", input="n\n")
    assert refused.exit_code == 1
    assert "delete: 3 datasets in 1 organization. Go ahead?" in refused.stderr
    assert len(_private(site)) == 6
    accepted = cli(runner, site, "bulk-update", "delete", "fq=organization:org-a", input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert sorted(_private(site)) == ["b-0", "b-other", "b-private"]
    assert site.client.action.package_show(id="a-0")["state"] == "deleted"


def test_empty_search_needs_yes(runner: CliRunner, site: Any) -> None:
    result = cli(runner, site, "bulk-update", "private", "--dry-run")
    assert result.exit_code == 2 and "every dataset" in result.stderr
