"""``ckanx sync`` of the EnviDat corpus through a 10% fault rate equals the same sync without faults.

Every transient fault kind (resets before and after the server ran the request, 502/503/504, 429,
stalls longer than the read timeout, truncated answers, redirects; not the HTML login page, which is
not transient) hits about one request in ten: the first sync (354 creates), then a second one with
three changed and two deleted records. Both end with exit 0, the exact report counts, and a target
equal to the fault-free run's: no dataset lost, none duplicated.
"""

from __future__ import annotations

import copy
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ckanx.cli import main
from ckanx.testing import CKANServer, start_ckan_server
from ckanx.testing.faults import ALL_KINDS, FaultProxy

ENVIDAT = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "envidat_ch" / "packages.jsonl"
RATE = 0.1
KINDS = tuple(k for k in ALL_KINDS if k != "html_200")
TIMEOUT = "1"  # seconds: a stall (1.5 s) is a read timeout
SEEDS = [int(s) for s in os.environ.get("CKANX_RELIABILITY_SEEDS", "1301,1302").split(",")]
_SITE_KEYS = frozenset({"id", "metadata_created", "metadata_modified", "created", "last_modified", "revision_id",
                        "creator_user_id", "owner_org", "package_id", "organization"})  # fmt: skip


def _source() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    v1 = [json.loads(line) for line in ENVIDAT.read_text(encoding="utf-8").splitlines() if line.strip()]
    v2 = copy.deepcopy(v1)
    v2[5]["title"] = "Changed title"
    v2[15]["resources"] = v2[15]["resources"][:1]
    v2[25]["notes"] = "Changed notes"
    v2 = [r for i, r in enumerate(v2) if i not in (35, 45)]
    return v1, v2


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        out = {k: _stable(v) for k, v in value.items() if k not in _SITE_KEYS}
        if isinstance(value.get("tags"), list):
            out["tags"] = sorted(t["name"] for t in value["tags"])
        return out
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _state(srv: CKANServer) -> list[Any]:
    """Every dataset of the site (private, drafts), without what the site assigns itself, by name."""
    found = srv.client.action.package_search(rows=1000, include_private=True, include_drafts=True, sort="name asc")
    assert found["count"] < 1000
    return [_stable(d) for d in found["results"]]


def _sync(runner: CliRunner, url: str, token: str, tmp: Path, src: Path, report: Path) -> Result:
    token_file = tmp / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    return runner.invoke(main, ["sync", str(src), "--into", "envidat", "-p", "4", "-q", "--report", str(report),
                                "-r", url, "--token-file", str(token_file), "--timeout", TIMEOUT])  # fmt: skip


def _counts(report: Path) -> tuple[int, ...]:
    data = json.loads(report.read_text())
    return tuple(data[k] for k in ("created", "updated", "deleted", "unchanged", "failed"))


@pytest.fixture(scope="module")
def fault_free(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Any], list[Any]]:
    """The target's state after the first and after the second sync, without faults."""
    tmp = tmp_path_factory.mktemp("sync-clean")
    v1, v2 = _source()
    srv = start_ckan_server()
    try:
        srv.client.action.organization_create(name="envidat")
        runner = CliRunner()
        ok = _sync(runner, srv.url, srv.token, tmp, _write(tmp / "packages.jsonl", v1), tmp / "r1.json")
        assert ok.exit_code == 0, ok.output
        first = _state(srv)
        ok = _sync(runner, srv.url, srv.token, tmp, _write(tmp / "packages.jsonl", v2), tmp / "r2.json")
        assert ok.exit_code == 0, ok.output
        assert _counts(tmp / "r2.json") == (0, 3, 2, 349, 0)
        return first, _state(srv)
    finally:
        srv.stop()


@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed={s}" for s in SEEDS])
def test_sync_under_faults_equals_fault_free_sync(
    clean_env: None, fault_free: tuple[list[Any], list[Any]], tmp_path: Path, seed: int
) -> None:
    v1, v2 = _source()
    want_first, want_second = fault_free
    assert len(want_first) == 354
    srv = start_ckan_server()
    try:
        srv.client.action.organization_create(name="envidat")
        runner = CliRunner()
        src = tmp_path / "packages.jsonl"
        with FaultProxy(srv.url, rate=RATE, seed=seed, kinds=KINDS, stall_seconds=1.5, lifetime=300) as proxy:
            first = _sync(runner, proxy.url, srv.token, tmp_path, _write(src, v1), tmp_path / "r1.json")
            assert first.exit_code == 0, first.output
            assert _counts(tmp_path / "r1.json") == (354, 0, 0, 0, 0)
            faults_first = len(proxy.faults)
            got = _state(srv)
            names = [d["name"] for d in got]
            assert len(names) == len(set(names)) == 354, "a dataset was lost or duplicated"
            assert got == want_first

            second = _sync(runner, proxy.url, srv.token, tmp_path, _write(src, v2), tmp_path / "r2.json")
            assert second.exit_code == 0, second.output
            assert _counts(tmp_path / "r2.json") == (0, 3, 2, 349, 0)
        assert faults_first >= 20  # ~10% of 354 creates and the reads
        print("sync faults", seed, Counter(f.kind for f in proxy.faults), proxy.requests)
        assert _state(srv) == want_second
    finally:
        srv.stop()
