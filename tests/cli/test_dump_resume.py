"""SIGKILL in the middle of ``ckanx dump --all -O FILE`` (a real subprocess), then ``--resume``."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.bulk.helpers import ckanx_process, cli, jsonl, kill_when, records, slow_action

N = 150


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


def checkpointed(checkpoint: Path) -> int:
    """Records the dump's checkpoint says are on disk (0 before the first one)."""
    try:
        return int(json.loads(checkpoint.read_text())["state"].get("records", 0))
    except FileNotFoundError:
        return 0


def test_sigkill_mid_dump_then_resume_equals_uninterrupted(
    runner: CliRunner, ckan_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ck = ckan_server.client
    ck.action.organization_create(name="org-r")
    for rec in records(N):
        ck.action.package_create(**rec)
    monkeypatch.setattr("ckanx.server.search.actions.ROWS_MAX", 10)  # 15 pages
    slow_action(monkeypatch, "package_search", 0.1)

    for name, out in (("plain", tmp_path / "d.jsonl"), ("gzip", tmp_path / "d.jsonl.gz")):
        proc = ckanx_process(ckan_server, tmp_path, "dump", "datasets", "--all", "-O", str(out), "-q")
        checkpoint = out.with_name(out.name + ".ckanx-checkpoint")
        kill_when(proc, lambda checkpoint=checkpoint: checkpointed(checkpoint) >= 30)
        size_before = out.stat().st_size
        resumed = cli(runner, ckan_server, "dump", "datasets", "--all", "-O", str(out), "--resume")
        assert resumed.exit_code == 0, (name, resumed.stderr)
        assert out.stat().st_size >= size_before  # appended, never truncated below what was there
        if name == "gzip":
            with gzip.open(out, "rt", encoding="utf-8") as f:
                text = f.read()
        else:
            text = out.read_text()
        got = jsonl(text)
        whole = jsonl(cli(runner, ckan_server, "dump", "datasets", "--all", "-q").stdout)
        assert [d["id"] for d in got] == [d["id"] for d in whole], name  # none lost, none twice, same order
        assert got == whole
