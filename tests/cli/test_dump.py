"""``ckanx dump`` through CliRunner against the embedded server."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.bulk.helpers import cli, count_actions, jsonl, make_datasets, read_log


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


def test_dump_all_pages_by_keyset_and_checks_the_count(
    runner: CliRunner, ckan_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = make_datasets(ckan_server.client, 23, private_every=4)
    # a server that caps rows at 5: the walk must detect it and still get everything
    monkeypatch.setattr("ckanx.server.search.actions.ROWS_MAX", 5)
    with count_actions(monkeypatch) as calls:
        result = cli(runner, ckan_server, "dump", "datasets", "--all", "--include-private")
    assert result.exit_code == 0, result.stderr
    records = jsonl(result.stdout)
    assert sorted(r["name"] for r in records) == sorted(names)
    ids = [r["id"] for r in records]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # 23 datasets in pages of 5: 5 pages + the final count, no package_show per dataset
    assert calls["package_search"] == 6
    assert calls["package_show"] == 0
    # keys sorted, full dataset dicts
    line = result.stdout.splitlines()[0]
    assert list(json.loads(line)) == sorted(json.loads(line))
    assert records[0]["resources"][0]["url"].startswith("http://example.org/")


def test_dump_all_without_include_private_skips_private(runner: CliRunner, ckan_server: Any) -> None:
    make_datasets(ckan_server.client, 8, private_every=4)  # 0 and 4 are private
    result = cli(runner, ckan_server, "dump", "datasets", "--all")
    assert result.exit_code == 0, result.stderr
    assert sorted(r["name"] for r in jsonl(result.stdout)) == [f"ds-{i:04d}" for i in (1, 2, 3, 5, 6, 7)]


def test_dump_count_mismatch_fails_loudly(runner: CliRunner, ckan_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    make_datasets(ckan_server.client, 6)
    from ckanx.bulk import dump as dump_module

    real = dump_module._keyset_walk

    async def walk_then_add(client: Any, *args: Any) -> None:
        # a dataset created while the walk runs makes the final count disagree
        original_call = client.call_action

        async def call(name: str, data: Any = None, *a: Any, **kw: Any) -> Any:
            if name == "package_search" and data and data.get("rows") == 0:
                await original_call("package_create", {"name": "late-comer", "owner_org": "org-a"})
            return await original_call(name, data, *a, **kw)

        client.call_action = call
        await real(client, *args)

    monkeypatch.setattr(dump_module, "_keyset_walk", walk_then_add)
    result = cli(runner, ckan_server, "dump", "datasets", "--all")
    assert result.exit_code == 1
    assert "wrote 6 datasets but the site now counts 7" in result.stderr
    assert "Traceback" not in result.stderr


def test_dump_named_in_order_with_p8_and_missing_logged(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    names = make_datasets(ckan_server.client, 30)
    wanted = list(reversed(names))
    wanted.insert(5, "no-such-dataset")
    log = tmp_path / "log.jsonl"
    result = cli(runner, ckan_server, "dump", "datasets", *wanted, "-p", "8", "-l", str(log))
    assert result.exit_code == 3  # one record failed for good
    assert [r["name"] for r in jsonl(result.stdout)] == [n for n in wanted if n != "no-such-dataset"]
    entries = read_log(log)
    assert [e["record"] for e in entries] == list(range(1, 32))
    bad = [e for e in entries if e["status"] == "error"]
    assert len(bad) == 1 and bad[0]["name"] == "no-such-dataset" and "Not found" in bad[0]["error"]


def test_dump_gzip_output_file(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    make_datasets(ckan_server.client, 4)
    out = tmp_path / "d.jsonl.gz"
    result = cli(runner, ckan_server, "dump", "datasets", "--all", "-O", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    with gzip.open(out, "rt", encoding="utf-8") as f:
        assert len(jsonl(f.read())) == 4
    assert not (tmp_path / "d.jsonl.gz.ckanx-checkpoint").exists()  # removed after success


def test_dump_organizations_past_page_and_with_users(
    runner: CliRunner, ckan_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ck = ckan_server.client
    for i in range(7):
        ck.action.organization_create(name=f"org-{i}", title=f"Org {i}")
    monkeypatch.setattr("ckanx.bulk.dump.LIST_PAGE", 3)  # page the list as if the cap were 3
    result = cli(runner, ckan_server, "dump", "organizations", "--all", "-U", "-p", "4")
    assert result.exit_code == 0, result.stderr
    orgs = jsonl(result.stdout)
    assert [o["name"] for o in orgs] == [f"org-{i}" for i in range(7)]
    assert all(any(u["name"] == "ckan_admin" for u in o["users"]) for o in orgs)


def test_dump_groups_and_users(runner: CliRunner, ckan_server: Any) -> None:
    ck = ckan_server.client
    ck.action.group_create(name="grp-1")
    ck.action.user_create(name="someone", email="s@example.org", password="a-long-password-1")
    groups = jsonl(cli(runner, ckan_server, "dump", "groups", "--all").stdout)
    assert [g["name"] for g in groups] == ["grp-1"]
    users = jsonl(cli(runner, ckan_server, "dump", "users", "--all").stdout)
    assert "someone" in {u["name"] for u in users}


def test_dump_usage_errors(runner: CliRunner, ckan_server: Any) -> None:
    both = cli(runner, ckan_server, "dump", "datasets", "x", "--all")
    assert both.exit_code == 2 and "not both" in both.stderr
    resume = cli(runner, ckan_server, "dump", "datasets", "--all", "--resume")
    assert resume.exit_code == 2 and "--resume needs -O FILE" in resume.stderr


def test_parallel_limit_env_is_checked(runner: CliRunner, ckan_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CKANAPI_PARALLEL_LIMIT", "three")
    result = cli(runner, ckan_server, "dump", "datasets", "--all")
    assert result.exit_code == 2
    assert "CKANAPI_PARALLEL_LIMIT must be a whole number, got 'three'" in result.stderr


def test_token_never_printed(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    make_datasets(ckan_server.client, 2)
    log = tmp_path / "log.jsonl"
    result = cli(runner, ckan_server, "dump", "datasets", "--all", "nope", "-l", str(log))
    result2 = cli(runner, ckan_server, "dump", "datasets", "nope", "-l", str(log))
    for text in (result.stdout, result.stderr, result2.stdout, result2.stderr, log.read_text()):
        assert ckan_server.token not in text


def test_dump_datastore_fields_and_resource_views(runner: CliRunner, ckan_server: Any) -> None:
    ck = ckan_server.client
    make_datasets(ck, 1)
    res = ck.action.package_show(id="ds-0000")["resources"][0]
    ck.action.datastore_create(
        resource_id=res["id"], fields=[{"id": "a", "type": "int"}], records=[{"a": 1}], force=True
    )
    result = cli(runner, ckan_server, "dump", "datasets", "ds-0000", "-d", "-R")
    assert result.exit_code == 0, result.stderr
    dumped = jsonl(result.stdout)[0]["resources"][0]
    assert [f["id"] for f in dumped["datastore_fields"]] == ["_id", "a"]
    plain = jsonl(cli(runner, ckan_server, "dump", "datasets", "ds-0000").stdout)[0]["resources"][0]
    assert "datastore_fields" not in plain


@pytest.mark.parametrize("command", [["dump", "datasets", "--all"], ["load", "datasets", "-I", "-"]])
def test_config_file_without_ckan_is_one_line_error(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    # `-c CONFIG` runs CKAN in-process (LocalCKAN); outside CKAN's virtualenv that must be one
    # clear line and a non-zero exit, not a traceback
    import sys

    from ckanx.cli import main

    for name in [n for n in sys.modules if n == "ckan" or n.startswith("ckan.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ckan", None)  # import ckan -> ModuleNotFoundError
    ini = tmp_path / "ckan.ini"
    ini.write_text("[app:main]\n")
    result = runner.invoke(main, [*command, "-c", str(ini)], input="")
    assert result.exit_code == 1
    assert result.stderr == (
        f"ckanx: error: cannot use the local CKAN at {ini}: LocalCKAN needs the ckan package: "
        "run this inside the CKAN virtualenv (pip install ckanx there)\n"
    )
    missing = runner.invoke(main, [*command, "-c", str(tmp_path / "nope.ini")], input="")
    assert missing.exit_code == 2
    assert missing.stderr == f"ckanx: error: no CKAN config file at {tmp_path / 'nope.ini'}\n"


def test_dump_starts_without_importing_other_commands(tmp_path: Path) -> None:
    # start-up time is most of a small dump: `ckanx dump` must not import the DataStore, sync or
    # mirror commands (cli/__init__ loads a command's module when it is used)
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from ckanx.cli import main\n"
        "try:\n"
        "    main(['dump', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('ckanx.cli.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path)
    loaded = json.loads(out.stdout.strip().splitlines()[-1].replace("'", '"'))
    assert "ckanx.cli.dump" in loaded
    assert not {"ckanx.cli.datastore", "ckanx.cli.mirror", "ckanx.cli.sync", "ckanx.cli.serve"} & set(loaded)
    listed = subprocess.run(
        [sys.executable, "-c", "from ckanx.cli import main; main(['--help'])"], capture_output=True, text=True
    ).stdout
    for command in ("dump", "load", "search", "delete", "batch", "datastore", "serve", "tokens"):
        assert f"\n  {command} " in listed
