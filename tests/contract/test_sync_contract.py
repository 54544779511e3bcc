"""``ckanx sync`` of the EnviDat corpus against the embedded CKAN and, when configured, the real CKAN.

The issue's acceptance test on a real CKAN 2.11.6 (its search runs on fake_solr, see
``shared/real-ckan/README.md``): the corpus into a fresh organization (``-p 4``), three changed and
two deleted source records give exactly 3 updates and 2 deletions, and an unchanged run sends no
write. The embedded target syncs all 354 datasets; the real one the first 60 (a deterministic
slice holding the changed and deleted records), or all 354 with ``CKANX_SYNC_CONTRACT_FULL=1``
(measured 2026-11-22 on the shared site: 354 creates in 299 s, the updates in 4.9 s, the unchanged
run in 1.5 s with 3 reads, then about 400 s of cleanup). Writes are counted at the wire by a pass-through
:class:`FaultProxy`. Names get a per-run prefix (the real site is shared); at the end the run's
datasets are deleted with one ``bulk_update_delete``.

It also checks what the design relies on: the ``extras_ckanx_sync_source`` filter is a phrase match
on a text field, so a longer source name that contains this one is found too and must be dropped
by the exact check (a dataset of such a source in the same organization is never touched).
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import ckanx
from ckanx._core import is_read_action
from ckanx.cli import main
from ckanx.testing.faults import FaultProxy

ENVIDAT = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "envidat_ch" / "packages.jsonl"
# the real site is shared and writes about 1-3 datasets/s (its fake Solr rewrites its index file on
# every write): a deterministic slice there, all 354 with CKANX_SYNC_CONTRACT_FULL=1 (~5 min + cleanup)
FIRST_N_ON_REAL = 60


class Recorder:
    """Injects nothing; records the action of every request the proxy forwards."""

    def __init__(self) -> None:
        self.actions: list[str] = []

    def __call__(self, request_line: str) -> bool:
        path = request_line.split()[1] if len(request_line.split()) > 1 else ""
        if "/action/" in path:
            self.actions.append(path.split("/action/", 1)[1].split("?", 1)[0])
        return False

    def writes(self) -> Counter[str]:
        return Counter(a for a in self.actions if not is_read_action(a))


def _sync(url: str, token: str, tmp: Path, *args: str) -> Any:
    token_file = tmp / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    return CliRunner().invoke(main, ["sync", *args, "-r", url, "--token-file", str(token_file)])


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _counts(report_file: Path) -> tuple[int, ...]:
    report = json.loads(report_file.read_text())
    return tuple(report[k] for k in ("created", "updated", "deleted", "unchanged", "failed"))


def _extras(ds: dict[str, Any]) -> dict[str, Any]:
    return {e["key"]: e["value"] for e in ds.get("extras") or []}


def test_envidat_sync_three_updates_two_deletions_then_no_write(target: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES", "CKANX_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    source = [json.loads(line) for line in ENVIDAT.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(source) == 354
    if target.name == "real" and not os.environ.get("CKANX_SYNC_CONTRACT_FULL"):
        source = source[:FIRST_N_ON_REAL]
    n = len(source)
    uid = secrets.token_hex(4)
    org_name, prefix, source_id = f"sync-{uid}", f"s{uid}-", f"envidat-{uid}"
    tmp = Path(tempfile.mkdtemp(prefix="ckanx-sync-contract-"))
    ck = ckanx.Client(target.url, target.token)
    org = ck.action.organization_create(name=org_name)
    try:
        # bystanders in the same organization: a hand-made dataset, and one of a source whose name
        # contains this source's name (the phrase filter finds it; the exact check must drop it)
        ck.action.package_create(name=f"{prefix}hand-made", owner_org=org_name, title="By hand")
        ck.action.package_create(
            name=f"{prefix}other-source", owner_org=org_name,
            extras=[{"key": "ckanx_sync_source", "value": f"{source_id} other"},
                    {"key": "ckanx_sync_id", "value": source[40]["id"]},
                    {"key": "ckanx_sync_hash", "value": "v1:x"}],
        )  # fmt: skip
        found = ck.action.package_search(
            fq=f'+extras_ckanx_sync_source:"{source_id}" +owner_org:"{org["id"]}"', include_private=True, rows=10
        )
        assert [d["name"] for d in found["results"]] == [f"{prefix}other-source"]  # the superset the design expects
        bystanders = {
            name: ck.action.package_show(id=name)["metadata_modified"]
            for name in (f"{prefix}hand-made", f"{prefix}other-source")
        }

        common = ["--into", org_name, "--source-id", source_id, "--name-prefix", prefix, "-p", "4", "-q"]
        recorder = Recorder()
        with FaultProxy(target.url, rate=0.0, only=recorder, lifetime=900, upstream_timeout=120) as proxy:
            started = time.monotonic()
            first = _sync(proxy.url, target.token, tmp, str(_write(tmp / "v1.jsonl", source)), *common,
                          "--report", str(tmp / "r1.json"))  # fmt: skip
            assert first.exit_code == 0, first.output
            assert _counts(tmp / "r1.json") == (n, 0, 0, 0, 0)
            assert recorder.writes() == {"package_create": n}
            print(f"\n{target.name}: first sync, {n} creates (-p 4): {time.monotonic() - started:.1f}s")

            changed = copy.deepcopy(source)
            changed[10]["title"] = "A new title"
            changed[20]["resources"].append({"url": "https://example.org/extra.csv", "name": "extra.csv"})
            changed[30]["tags"] = changed[30]["tags"][:1]
            gone = {changed[40]["name"], changed[50]["name"]}
            changed = [r for r in changed if r["name"] not in gone]
            recorder.actions.clear()
            started = time.monotonic()
            second = _sync(proxy.url, target.token, tmp, str(_write(tmp / "v2.jsonl", changed)), *common,
                           "--report", str(tmp / "r2.json"))  # fmt: skip
            assert second.exit_code == 0, second.output
            assert _counts(tmp / "r2.json") == (0, 3, 2, n - 5, 0)
            assert recorder.writes() == {"package_revise": 3, "package_delete": 2}
            print(f"{target.name}: second sync, 3 updates + 2 deletions: {time.monotonic() - started:.1f}s")

            recorder.actions.clear()
            started = time.monotonic()
            third = _sync(
                proxy.url, target.token, tmp, str(tmp / "v2.jsonl"), *common, "--report", str(tmp / "r3.json")
            )
            assert third.exit_code == 0, third.output
            assert _counts(tmp / "r3.json") == (0, 0, 0, n - 2, 0)
            assert recorder.writes() == Counter()
            assert recorder.actions  # it did read the site
            print(
                f"{target.name}: unchanged sync, 0 writes, {len(recorder.actions)} reads: "
                f"{time.monotonic() - started:.1f}s"
            )

        assert ck.action.package_show(id=prefix + changed[10]["name"])["title"] == "A new title"
        res = ck.action.package_show(id=prefix + changed[20]["name"])["resources"]
        assert res[-1]["url"] == "https://example.org/extra.csv" and len(res) == len(source[20]["resources"]) + 1
        assert len(ck.action.package_show(id=prefix + changed[30]["name"])["tags"]) == 1
        for name in gone:
            assert ck.action.package_show(id=prefix + name)["state"] == "deleted"
        for name, modified in bystanders.items():
            assert ck.action.package_show(id=name)["metadata_modified"] == modified
        synced = ck.action.package_show(id=prefix + source[0]["name"])
        assert _extras(synced)["ckanx_sync_source"] == source_id
        assert _extras(synced)["ckanx_sync_id"] == source[0]["id"]
        assert synced["author"] == source[0]["author"]  # a JSON-encoded string stays text
    finally:
        # one bulk call for the cleanup; CKAN reindexes each dataset in it, which takes minutes on the
        # real site's fake Solr: one attempt with a long timeout, and a slow cleanup never fails the test
        ids = [d["id"] for d in ck.action.package_search(fq=f'owner_org:"{org["id"]}"', include_private=True,
                                                           rows=1000)["results"]]  # fmt: skip
        if ids:
            with ckanx.Client(target.url, target.token, retries=0, timeout=900) as cleaner:
                try:
                    cleaner.action.bulk_update_delete(datasets=ids, org_id=org["id"])
                except ckanx.CKANAPIError as err:
                    warnings.warn(f"cleanup of {org_name} failed: {err}", stacklevel=1)
        ck.close()
