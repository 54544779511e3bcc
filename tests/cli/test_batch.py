"""``ckanx batch``: JSON lines of actions, results in order, errors with CKAN's reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.bulk.helpers import cli, jsonl, read_log


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


def test_batch_runs_actions_in_order(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    csv = tmp_path / "data.csv"
    csv.write_text("a,b\n1,2\n")
    lines = [
        {"action": "organization_create", "data": {"name": "borg"}},
        {"action": "package_create", "data": {"name": "bds", "owner_org": "borg"}},
        {"action": "package_create", "data": {"name": "no-org"}},
        {"action": "resource_create", "data": {"package_id": "bds", "name": "up"}, "files": {"upload": str(csv)}},
        {"action": "package_patch", "data": {"id": "bds", "title": "Patched"}},
    ]
    log = tmp_path / "log.jsonl"
    text = "".join(json.dumps(line) + "\n" for line in lines)
    result = cli(runner, ckan_server, "batch", "--local-files", "-l", str(log), input=text)
    assert result.exit_code == 3, result.stderr  # the dataset without organization fails
    out = jsonl(result.stdout)
    assert [o["line"] for o in out] == [1, 2, 3, 4, 5]
    assert out[2]["error"]["owner_org"] == ["An organization must be provided"]
    assert out[3]["result"]["url_type"] == "upload"
    assert out[4]["result"]["title"] == "Patched"
    assert [e["status"] for e in read_log(log)] == ["done", "done", "error", "done", "done"]
    shown = ckan_server.client.action.package_show(id="bds")
    assert shown["title"] == "Patched" and shown["resources"][0]["name"] == "up"


def test_batch_files_need_local_files_and_bad_json(runner: CliRunner, ckan_server: Any) -> None:
    line = json.dumps({"action": "resource_create", "data": {"package_id": "x"}, "files": {"upload": "/etc/hostname"}})
    refused = cli(runner, ckan_server, "batch", input=line + "\n")
    assert refused.exit_code == 3
    assert "--local-files" in jsonl(refused.stdout)[0]["error"]["message"]
    bad = cli(runner, ckan_server, "batch", input='{"action": "status_show"}\nnot json\n')
    assert bad.exit_code == 2
    assert "stdin line 2: invalid JSON" in bad.stderr
    assert jsonl(bad.stdout)[0]["result"]["ckan_version"]  # line 1 ran and was written
