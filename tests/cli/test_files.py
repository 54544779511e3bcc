"""``ckanx files upload|download``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.bulk.helpers import cli


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


def test_upload_then_download(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    ck = ckan_server.client
    ck.action.organization_create(name="cli-files-org")
    ck.action.package_create(name="cli-files", owner_org="cli-files-org")
    src = tmp_path / "data.csv"
    src.write_bytes(b"a,b\n1,2\n" * 1000)

    up = cli(runner, ckan_server, "files", "upload", str(src), "--dataset", "cli-files", "name=Data",
             'schema:{"fields": []}')
    assert up.exit_code == 0, up.stderr
    res = json.loads(up.stdout)
    assert res["name"] == "Data" and res["schema"] == {"fields": []} and int(res["size"]) == 8000
    again = cli(runner, ckan_server, "files", "upload", str(src), "--resource", res["id"], "name=Data",
                'schema:{"fields": []}')
    assert again.exit_code == 0 and "unchanged, not uploaded" in again.stderr

    out = tmp_path / "copy.csv"
    down = cli(runner, ckan_server, "files", "download", res["id"], "-O", str(out))
    assert down.exit_code == 0, down.stderr
    assert out.read_bytes() == src.read_bytes() and "verified size+sha256" in down.stderr
    folder = tmp_path / "all"
    whole = cli(runner, ckan_server, "files", "download", "--dataset", "cli-files", "-O", str(folder))
    assert whole.exit_code == 0 and (folder / "data.csv").read_bytes() == src.read_bytes()

    both = cli(runner, ckan_server, "files", "upload", str(src))
    assert both.exit_code == 2 and "--dataset" in both.stderr
    missing = cli(runner, ckan_server, "files", "download", "nope")
    assert missing.exit_code == 1 and missing.stderr.startswith("ckanx: error: resource_show")
