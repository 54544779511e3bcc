"""``ckanx dump`` / ``ckanx load`` with ``-c CONFIG`` (LocalCKAN, in-process) against a real CKAN.

Run inside CKAN's virtualenv (.ci/localckan.sh). The commands go through click's CliRunner in this
process, as a user would run them on the CKAN host; results are checked through LocalCKAN.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

pytestmark = pytest.mark.localckan


def _ckanx(ckan_ini: str, *args: str) -> Any:
    from ckanx.cli import main

    return CliRunner().invoke(main, [*args, "-c", ckan_ini], catch_exceptions=False)


def test_dump_and_load_with_a_config_file(
    site: Any, org: dict[str, Any], dataset_name: str, ckan_ini: str, tmp_path: Path
) -> None:
    source = site.action.package_create(
        name=dataset_name,
        title="LocalCKAN bulk",
        notes="dumped with -c",
        owner_org=org["id"],
        tags=[{"name": "lcx"}],
        resources=[{"url": "http://example.org/lcx.csv", "name": "lcx data"}],
    )
    dump = tmp_path / "dump.jsonl"
    result = _ckanx(ckan_ini, "dump", "datasets", dataset_name, "-O", str(dump), "-q")
    assert result.exit_code == 0, result.output
    (dumped,) = [json.loads(line) for line in dump.read_text().splitlines()]
    assert dumped["id"] == source["id"] and dumped["notes"] == "dumped with -c"

    copy_name = dataset_name + "-copy"
    record = {k: v for k, v in dumped.items() if k != "id"}
    record["name"] = copy_name
    record["resources"] = [{"url": r["url"], "name": r["name"]} for r in dumped["resources"]]
    load_in = tmp_path / "load.jsonl"
    load_in.write_text(json.dumps(record) + "\n")
    log = tmp_path / "load.log"
    result = _ckanx(ckan_ini, "load", "datasets", "-I", str(load_in), "-l", str(log), "-q")
    assert result.exit_code == 0, result.output
    copied = site.action.package_show(id=copy_name)
    assert copied["owner_org"] == org["id"] and copied["notes"] == "dumped with -c"
    assert [r["url"] for r in copied["resources"]] == ["http://example.org/lcx.csv"]

    result = _ckanx(ckan_ini, "load", "datasets", "-I", str(load_in), "-l", str(log), "-q")
    assert result.exit_code == 0, result.output
    statuses = [json.loads(line)["status"] for line in log.read_text().splitlines()]
    assert statuses == ["created", "unchanged"]
    assert site.action.package_show(id=copy_name)["metadata_modified"] == copied["metadata_modified"]
