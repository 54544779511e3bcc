"""``ckanx delete``: every input shape ckanapi accepts, purge, logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ckanx.bulk.actions import extract_ids_or_names
from ckanx.bulk.jsonl import InputLine
from tests.bulk.helpers import cli, make_datasets, read_log


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


def _line(text: str) -> InputLine:
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    return InputLine(1, text, value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"id": "i1", "name": "n1"}', ["i1"]),
        ('{"name": "n1"}', ["n1"]),
        ('{"count": 2, "results": [{"id": "a"}, {"id": "b"}]}', ["a", "b"]),
        ('"quoted-name"', ["quoted-name"]),
        ('["x", "y"]', ["x", "y"]),
        ("plain-name", ["plain-name"]),
        ("true", ["true"]),
    ],
)
def test_extract_ids_or_names(text: str, expected: list[str]) -> None:
    assert extract_ids_or_names(_line(text)) == expected


def test_delete_accepts_every_input_shape(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    ck = ckan_server.client
    names = make_datasets(ck, 8)
    shown = ck.action.package_show(id=names[0])
    search = ck.action.package_search(fq=f'name:("{names[1]}" OR "{names[2]}")')
    assert search["count"] == 2
    lines = [
        json.dumps(shown),  # package_show output
        json.dumps(search),  # package_search result
        json.dumps(names[3]),  # JSON string
        json.dumps([names[4], names[5]]),  # package_list output
        names[6],  # plain line
    ]
    src = tmp_path / "del.txt"
    src.write_text("\n".join(lines) + "\n")
    log = tmp_path / "log.jsonl"
    result = cli(runner, ckan_server, "delete", "datasets", "-I", str(src), "-l", str(log), "-p", "3")
    assert result.exit_code == 0, result.stderr
    assert ck.action.package_list() == [names[7]]
    entries = read_log(log)
    assert [e["record"] for e in entries] == list(range(1, 8))
    assert {e["status"] for e in entries} == {"deleted"}


def test_delete_args_missing_and_purge(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    ck = ckan_server.client
    make_datasets(ck, 2)
    log = tmp_path / "log.jsonl"
    result = cli(runner, ckan_server, "delete", "datasets", "ds-0000", "not-there", "-l", str(log))
    assert result.exit_code == 3
    assert [e["status"] for e in read_log(log)] == ["deleted", "error"]
    # a deleted dataset keeps its name; purge frees it
    assert ck.action.package_show(id="ds-0000")["state"] == "deleted"
    purged = cli(runner, ckan_server, "delete", "datasets", "ds-0000", "--purge")
    assert purged.exit_code == 0, purged.stderr
    ck.action.package_create(name="ds-0000", owner_org="org-a")
    users = cli(runner, ckan_server, "delete", "users", "x", "--purge")
    assert users.exit_code == 2 and "cannot purge users" in users.stderr


def test_delete_from_stdin_with_window(runner: CliRunner, ckan_server: Any) -> None:
    ck = ckan_server.client
    names = make_datasets(ck, 5)
    result = cli(runner, ckan_server, "delete", "datasets", "-s", "2", "-m", "2", input=json.dumps(names) + "\n")
    assert result.exit_code == 0, result.stderr
    assert ck.action.package_list() == [names[0], names[3], names[4]]
