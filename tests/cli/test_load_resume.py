"""SIGKILL in the middle of ``ckanx load`` (a real subprocess), then ``--resume``.

The result must equal an uninterrupted run: every record exactly once, nothing lost.
"""

from __future__ import annotations

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


def comparable(datasets: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            d["name"],
            d["title"],
            d["notes"],
            tuple(sorted(t["name"] for t in d["tags"])),
            tuple((r["name"], r["url"]) for r in d["resources"]),
        )
        for d in datasets
    )


def count_lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_sigkill_mid_load_then_resume_equals_uninterrupted(
    runner: CliRunner, ckan_server_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    interrupted, reference = ckan_server_factory(), ckan_server_factory()
    for srv in (interrupted, reference):
        srv.client.action.organization_create(name="org-r")
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in records(N)))
    slow_action(monkeypatch, "package_create", 0.02)
    log = tmp_path / "log.jsonl"

    proc = ckanx_process(interrupted, tmp_path, "load", "datasets", "-I", str(src), "-p", "3", "-l", str(log), "-q")
    kill_when(proc, lambda: count_lines(log) >= 40)
    assert (tmp_path / "in.jsonl.ckanx-checkpoint").exists()
    created_before = len(interrupted.client.action.package_list())
    assert 40 <= created_before < N

    resumed = cli(runner, interrupted, "load", "datasets", "-I", str(src), "-p", "3", "-l", str(log), "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    assert not (tmp_path / "in.jsonl.ckanx-checkpoint").exists()

    whole = cli(runner, reference, "load", "datasets", "-I", str(src), "-p", "3")
    assert whole.exit_code == 0, whole.stderr

    def dump(srv: Any) -> list[dict[str, Any]]:
        return jsonl(cli(runner, srv, "dump", "datasets", "--all", "-q").stdout)

    got, want = dump(interrupted), dump(reference)
    assert len(got) == N and len({d["name"] for d in got}) == N
    assert comparable(got) == comparable(want)
    # every record has exactly one final outcome per run, and none failed
    entries = jsonl(log.read_text())
    assert {e["status"] for e in entries} <= {"created", "unchanged", "resumed"}
    assert {e["record"] for e in entries} == set(range(1, N + 1))
    assert sum(e["status"] == "created" for e in entries) <= N
