"""``ckanx action`` and ``ckanx profile`` through click's CliRunner against the embedded server."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ckanx.cli import main
from ckanx.cli._args import parse_data_args
from ckanx.cli._target import CLIError


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CKANX_CONFIG", str(tmp_path / "config.toml"))
    return CliRunner()


def run(runner: CliRunner, *args: str, input: str | None = None) -> Any:
    return runner.invoke(main, list(args), input=input, catch_exceptions=False)


def test_parse_data_args_first_separator_wins(tmp_path: Path) -> None:
    f = tmp_path / "up.csv"
    f.write_text("a\n")
    data, files = parse_data_args(["url=http://x.org/a:b", 'extras:[{"key": "a=b"}]', "n:5", f"upload@{f}", "empty="])
    assert data == {"url": "http://x.org/a:b", "extras": [{"key": "a=b"}], "n": 5, "empty": ""}
    assert files == {"upload": f}


@pytest.mark.parametrize(
    ("arg", "words"),
    [
        ("novalue", "not KEY=STRING"),
        ("=x", "not KEY=STRING"),
        ("n:{bad", "invalid JSON"),
        ("f@/no/such/file", "no such file"),
        ("f@/", "is a directory"),
    ],
)
def test_parse_data_args_errors(arg: str, words: str) -> None:
    with pytest.raises(CLIError, match=words) as info:
        parse_data_args([arg])
    assert info.value.exit_code == 2


def test_action_pretty_compact_and_lines(runner: CliRunner, ckan_server: Any) -> None:
    ck = ckan_server.client
    org = ck.action.organization_create(name="org1")
    for name in ("b-ds", "a-ds"):
        ck.action.package_create(name=name, owner_org=org["id"])
    base = ["-r", ckan_server.url]
    pretty = run(runner, "action", "package_list", *base)
    assert pretty.exit_code == 0 and json.loads(pretty.output) == ["a-ds", "b-ds"]
    assert "\n  " in pretty.output
    compact = run(runner, "action", "package_show", "id=a-ds", "-j", *base)
    assert compact.output.count("\n") == 1 and json.loads(compact.output)["name"] == "a-ds"
    lines = run(runner, "action", "package_list", "-J", *base)
    assert lines.output.splitlines() == ['"a-ds"', '"b-ds"']


def test_action_writes_with_token_file_json_args_and_upload(
    runner: CliRunner, ckan_server: Any, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(ckan_server.token)
    base = ["-r", ckan_server.url, "--token-file", str(token_file)]
    assert run(runner, "action", "organization_create", "name=org2", *base).exit_code == 0
    res = run(
        runner,
        "action",
        "package_create",
        "name=ds2",
        "owner_org=org2",
        'tags:[{"name": "xy"}]',
        "private:false",
        *base,
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["tags"][0]["name"] == "xy"
    data = tmp_path / "data.csv"
    data.write_bytes(b"a,b\n1,2\n")
    up = run(runner, "action", "resource_create", "package_id=ds2", "name=data.csv", f"upload@{data}", *base)
    assert up.exit_code == 0, up.output
    assert json.loads(up.output)["url_type"] == "upload"
    assert ckan_server.token not in res.output + up.output


def test_action_input_json_stdin_and_file(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    base = ["-r", ckan_server.url]
    res = run(runner, "action", "status_show", "-i", *base, input="{}")
    assert res.exit_code == 0 and "ckan_version" in res.output
    f = tmp_path / "in.json"
    f.write_text("[1]")
    bad = run(runner, "action", "status_show", "-I", str(f), *base)
    assert bad.exit_code == 2 and "expected a JSON object" in bad.output


def test_action_errors_are_one_line_with_exit_codes(runner: CliRunner, ckan_server: Any) -> None:
    base = ["-r", ckan_server.url]
    nf = run(runner, "action", "package_show", "id=nope", *base)
    assert nf.exit_code == 1 and nf.output == "ckanx: error: package_show: Not found\n"
    denied = run(runner, "action", "organization_create", "name=x", *base)
    assert denied.exit_code == 1 and "not authorized" in denied.output
    unknown = run(runner, "action", "no_such_action", *base)
    assert unknown.exit_code == 1 and "no action 'no_such_action'" in unknown.output
    usage = run(runner, "action", "package_show", "id:{", *base)
    assert usage.exit_code == 2
    for result in (nf, denied, unknown, usage):
        assert "Traceback" not in result.output and result.output.count("\n") == 1


def test_no_site_is_usage_error(runner: CliRunner) -> None:
    res = run(runner, "action", "status_show")
    assert res.exit_code == 2 and "no CKAN site given" in res.output


def test_plain_http_token_guard(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CKAN_API_TOKEN", "secret-token-value")
    res = run(runner, "action", "status_show", "-r", "http://data.example.org")
    assert res.exit_code == 2 and "plain http" in res.output
    assert "secret-token-value" not in res.output


def test_apikey_flag_warns(runner: CliRunner, ckan_server: Any) -> None:
    res = run(runner, "action", "status_show", "-r", ckan_server.url, "-a", ckan_server.token)
    assert res.exit_code == 0
    assert "process list" in res.output
    assert res.output.count(ckan_server.token) == 0


def test_profile_add_list_use_remove(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    add = run(
        runner,
        "profile",
        "add",
        "local",
        "--url",
        ckan_server.url + "/",
        "--token-stdin",
        input=ckan_server.token + "\n",
    )
    assert add.exit_code == 0 and ckan_server.token not in add.output
    path = tmp_path / "config.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    listed = run(runner, "profile", "list")
    assert listed.output == f"* local\t{ckan_server.url}\ttoken\n"
    made = run(runner, "action", "organization_create", "name=from-profile", "--profile", "local")
    assert made.exit_code == 0, made.output
    default = run(runner, "action", "organization_list")  # the default profile
    assert json.loads(default.output) == ["from-profile"]
    assert run(runner, "profile", "remove", "local").exit_code == 0
    assert run(runner, "profile", "remove", "local").exit_code == 2


def test_every_command_has_help_with_examples(runner: CliRunner) -> None:
    for command in ("action", "profile"):
        res = run(runner, command, "--help")
        assert res.exit_code == 0 and "Examples:" in res.output
