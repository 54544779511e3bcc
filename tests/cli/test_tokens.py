"""``ckanx tokens list|revoke``: selection rules, dry run, the confirmation prompt, the own token."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from click.testing import CliRunner

from ckanx.admin import token_jti
from ckanx.cli import main
from tests.bulk.helpers import cli, jsonl


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


def _ago(days: float) -> str:
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).replace(tzinfo=None).isoformat()


@pytest.fixture
def alice(ckan_server: Any) -> dict[str, str]:
    """alice's tokens: name -> jti, with backdated creation and last use."""
    ck = ckan_server.client
    ck.action.user_create(name="alice", email="a@example.org", password="a-long-password-1")
    ages = {  # name: (created days ago, last used days ago or None)
        "fresh": (1, None),
        "ci-old": (200, 2),
        "ci-new": (10, 1),
        "stale": (120, 60),
        "never": (45, None),
    }
    jtis = {}
    for name, (created, used) in ages.items():
        jtis[name] = token_jti(ck.action.api_token_create(user="alice", name=name)["token"])
        with ckan_server.server.db.transaction() as conn:
            conn.execute(
                "UPDATE api_token SET created_at = ?, last_access = ? WHERE id = ?",
                (_ago(created), None if used is None else _ago(used), jtis[name]),
            )
    return jtis


def _names(ckan_server: Any) -> list[str]:
    return sorted(t["name"] for t in ckan_server.client.action.api_token_list(user_id="alice"))


def test_list(runner: CliRunner, ckan_server: Any, alice: dict[str, str]) -> None:
    result = cli(runner, ckan_server, "tokens", "list", "alice")
    assert result.exit_code == 0, result.stderr
    rows = jsonl(result.stdout)
    assert {r["name"]: r["id"] for r in rows} == alice
    assert all("token" not in r for r in rows)


@pytest.mark.parametrize(
    ("args", "revoked"),
    [
        (["--name", "ci-old", "--name", "ci-new"], {"ci-old", "ci-new"}),
        (["--older-than", "90d"], {"ci-old", "stale"}),
        (["--unused-for", "30d"], {"stale", "never"}),
        (["--older-than", "30d", "--unused-for", "30d"], {"stale", "never"}),
        (["--name", "ci-old", "--unused-for", "30d"], set()),
    ],
)
def test_revoke_selection(
    runner: CliRunner, ckan_server: Any, alice: dict[str, str], args: list[str], revoked: set[str]
) -> None:
    dry = cli(runner, ckan_server, "tokens", "revoke", "alice", *args, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert {r["name"] for r in jsonl(dry.stdout)} == revoked
    assert all(r["status"] == "would-revoke" for r in jsonl(dry.stdout))
    assert _names(ckan_server) == sorted(alice)  # dry run changed nothing
    result = cli(runner, ckan_server, "tokens", "revoke", "alice", *args, "-p", "4")
    assert result.exit_code == 0, result.stderr
    assert {r["name"] for r in jsonl(result.stdout) if r["status"] == "revoked"} == revoked
    assert _names(ckan_server) == sorted(set(alice) - revoked)
    if revoked:
        assert f"{len(revoked)} tokens: {len(revoked)} revoked" in result.stderr


def test_revoke_all_asks_first(runner: CliRunner, ckan_server: Any, alice: dict[str, str]) -> None:
    refused = cli(runner, ckan_server, "tokens", "revoke", "alice", "--all", input="n\n")
    assert refused.exit_code == 1
    assert "Revoke all 5 API tokens of alice?" in refused.stderr
    assert _names(ckan_server) == sorted(alice)
    accepted = cli(runner, ckan_server, "tokens", "revoke", "alice", "--all", input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    assert _names(ckan_server) == []


def test_revoke_all_with_yes_does_not_ask(runner: CliRunner, ckan_server: Any, alice: dict[str, str]) -> None:
    result = cli(runner, ckan_server, "tokens", "revoke", "alice", "--all", "--yes", "-p", "3")
    assert result.exit_code == 0, result.stderr
    assert "Revoke all" not in result.stderr
    assert _names(ckan_server) == []


def test_criteria_that_select_every_token_also_ask(runner: CliRunner, ckan_server: Any, alice: dict[str, str]) -> None:
    result = cli(runner, ckan_server, "tokens", "revoke", "alice", "--older-than", "0d", input="n\n")
    assert result.exit_code == 1 and "Revoke all 5" in result.stderr
    assert _names(ckan_server) == sorted(alice)


def test_revoke_needs_a_rule_and_valid_ages(runner: CliRunner, ckan_server: Any, alice: dict[str, str]) -> None:
    assert cli(runner, ckan_server, "tokens", "revoke", "alice").exit_code == 2
    assert cli(runner, ckan_server, "tokens", "revoke", "alice", "--all", "--name", "x").exit_code == 2
    bad = cli(runner, ckan_server, "tokens", "revoke", "alice", "--older-than", "3 years")
    assert bad.exit_code == 2 and "invalid duration" in bad.stderr
    assert _names(ckan_server) == sorted(alice)


def test_the_token_in_use_is_kept(runner: CliRunner, ckan_server: Any, alice: dict[str, str], tmp_path: Any) -> None:
    own = ckan_server.client.action.api_token_create(user="alice", name="own")["token"]
    token_file = tmp_path / "token"
    token_file.write_text(own)
    result = runner.invoke(
        main,
        ["tokens", "revoke", "alice", "--all", "--yes", "-r", ckan_server.url, "--token-file", str(token_file)],
    )
    assert result.exit_code == 0, result.stderr
    assert "keeping the token this command uses" in result.stderr
    assert _names(ckan_server) == ["own"]
    assert json.loads(result.stdout.split("\n")[0])["status"] == "revoked"
