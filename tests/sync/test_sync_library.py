"""The library API (sync and async) and the re-run guarantees: lost answers and kill -9 leave nothing
duplicated, and the next run finishes the work."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import ckanx
import ckanx.sync
from ckanx.sync.records import EXTRA_HASH, EXTRA_ID
from ckanx.testing.faults import FaultProxy
from tests.bulk.helpers import ckanx_process, kill_when, slow_action

from .helpers import extras, org_datasets, write_jsonl


def _records(n: int, *, title: str = "T") -> list[dict[str, Any]]:
    return [
        {
            "id": f"src-{i:03d}",
            "name": f"lib-{i:03d}",
            "title": f"{title} {i}",
            "tags": [{"name": f"t{i % 3}"}],
            "resources": [{"id": f"r{i}", "url": f"http://example.org/{i}.csv", "name": f"data {i}"}],
        }
        for i in range(n)
    ]


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    from ckanx import _core

    monkeypatch.setattr(_core, "INITIAL_RETRY_DELAY", 0.01)
    monkeypatch.setattr(_core, "MAX_RETRY_DELAY", 0.05)


def _one_each(client: Any, org: str, n: int) -> None:
    """Exactly one dataset per source record: no duplicate, none missing."""
    datasets = org_datasets(client, org)
    keys = Counter(extras(d)[EXTRA_ID] for d in datasets)
    assert keys == Counter({f"src-{i:03d}": 1 for i in range(n)})


def test_sync_and_async_api(ckan_server: Any, tmp_path: Path) -> None:
    ck = ckan_server.client
    ck.action.organization_create(name="lib")
    src = write_jsonl(tmp_path / "lib.jsonl", _records(12))
    plan = ckanx.sync.plan(ck, src, into="lib")
    assert plan.summary() == "12 to create, 0 to update, 0 to delete, 0 unchanged, 0 failed"
    assert ck.action.package_search(rows=0)["count"] == 0  # planning writes nothing
    report = ckanx.sync.run(ck, src, into="lib", concurrency=4)
    assert report.counts["created"] == 12 and report.failed == 0
    assert report.to_dict()["records"][0] == {
        "name": "lib-000", "action": "created", "reason": None, "source_id": "src-000",
        "id": ck.action.package_show(id="lib-000")["id"], "origin": "lib.jsonl line 1",
    }  # fmt: skip
    _one_each(ck, "lib", 12)

    write_jsonl(src, _records(10, title="New"))

    async def go() -> ckanx.sync.SyncReport:
        async with ckanx.AsyncClient(ckan_server.url, ckan_server.token) as ack:
            options = ckanx.sync.SyncOptions(into="lib", on_missing="mark", concurrency=3)
            return await ckanx.sync.run_async(ack, ckanx.sync.open_source(src), options)

    report = asyncio.run(go())
    assert {k: v for k, v in report.counts.items() if v} == {"updated": 10, "marked": 2}
    assert ck.action.package_show(id="lib-011")["private"] is True
    assert ck.action.package_show(id="lib-003")["title"] == "New 3"


def test_lost_answers_do_not_duplicate(ckan_server: Any, tmp_path: Path) -> None:
    """Every create, revise and delete answer lost once (the write landed): still one dataset each."""
    ck = ckan_server.client
    ck.action.organization_create(name="lost")
    n = 15
    src = write_jsonl(tmp_path / "lost.jsonl", _records(n))
    only = "package_create"
    with FaultProxy(ckan_server.url, rate=1.0, kinds=("reset_after", "http_504"), only=only, max_faults=n) as proxy:
        ack = ckanx.Client(proxy.url, ckan_server.token, timeout=5)
        report = ckanx.sync.run(ack, src, into="lost", concurrency=3)
        ack.close()
    assert len(proxy.faults) == n  # every first create attempt landed and its answer was lost
    assert report.counts["created"] == n and report.failed == 0
    _one_each(ck, "lost", n)

    records = _records(n, title="Changed")
    write_jsonl(src, records[:-3])
    seen: Counter[str] = Counter()

    def first_attempts(line: str) -> bool:
        # the first request of each write lands and loses its answer; repeats go through (-p 3, so the
        # first 3 deletions are three different datasets; revises are never repeated by the client)
        action = line.split()[1].rsplit("/", 1)[-1]
        seen[action] += 1
        return (action == "package_revise" and seen[action] <= n - 3) or (
            action == "package_delete" and seen[action] <= 3
        )

    with FaultProxy(ckan_server.url, rate=1.0, kinds=("reset_after",), only=first_attempts) as proxy:
        ack = ckanx.Client(proxy.url, ckan_server.token, timeout=5)
        report = ckanx.sync.run(ack, src, into="lost", concurrency=3)
        ack.close()
    faults = Counter(f.request.split()[1].rsplit("/", 1)[-1] for f in proxy.faults)
    assert faults == {"package_revise": n - 3, "package_delete": 3}
    assert {k: v for k, v in report.counts.items() if v} == {"updated": n - 3, "deleted": 3}
    for ds in org_datasets(ck, "lost"):
        assert ds["title"].startswith("Changed")
        assert (
            extras(ds)[EXTRA_HASH] == next(r for r in report.plan.actions if r.name == ds["name"]).digest
        )  # the hash the update wrote
    again = ckanx.sync.plan(ck, src, into="lost")
    assert again.writes == []


def test_kill_9_then_rerun_finishes_without_duplicates(
    ckan_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ck = ckan_server.client
    ck.action.organization_create(name="killed")
    n = 40
    src = write_jsonl(tmp_path / "kill.jsonl", _records(n))
    slow_action(monkeypatch, "package_create", 0.05)
    proc = ckanx_process(ckan_server, tmp_path, "sync", str(src), "--into", "killed", "-p", "2", "-q")
    kill_when(proc, lambda: ck.action.package_search(rows=0, include_private=True)["count"] >= 12)
    time.sleep(0.5)  # creates the server had already received finish (they take 0.05 s) before counting
    done = ck.action.package_search(rows=0, include_private=True)["count"]
    assert 12 <= done < n
    proc = ckanx_process(ckan_server, tmp_path, "sync", str(src), "--into", "killed", "-p", "2", "--report",
                         str(tmp_path / "r.json"))  # fmt: skip
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    report = json.loads((tmp_path / "r.json").read_text())
    # what landed before the kill is recognised by its hash; only the rest is created
    assert (report["created"], report["unchanged"], report["failed"]) == (n - done, done, 0)
    _one_each(ck, "killed", n)
