"""``ckanx load`` through CliRunner against embedded servers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.bulk.helpers import cli, count_actions, jsonl, make_datasets, read_log, writes


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


def _dump(runner: CliRunner, srv: Any) -> str:
    result = cli(runner, srv, "dump", "datasets", "--all", "--include-private", "-q")
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_site_to_site_remaps_owner_org_and_groups_by_name(
    runner: CliRunner, ckan_server_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = ckan_server_factory(), ckan_server_factory()
    a.client.action.group_create(name="grp")
    make_datasets(a.client, 12, private_every=5)
    a.client.action.package_patch(id="ds-0001", groups=[{"name": "grp"}])
    # the same names on B, but different ids: the dump's owner_org/group ids mean nothing on B
    b_org = b.client.action.organization_create(name="org-a")
    b_grp = b.client.action.group_create(name="grp")
    make_datasets(b.client, 30, prefix="other")  # the bulk lookup must find the right ones among these
    assert b_org["id"] != a.client.action.organization_show(id="org-a")["id"]
    dumped = _dump(runner, a)

    with count_actions(monkeypatch) as first:
        result = cli(runner, b, "load", "datasets", "-p", "4", input=dumped)
    assert result.exit_code == 0, result.stderr
    assert first["package_create"] == 12
    assert first["package_show"] == 0  # existing datasets are looked up in bulk
    assert first["package_search"] == 1  # one lookup for the chunk of 12
    loaded = {d["name"]: d for d in jsonl(_dump(runner, b)) if d["name"].startswith("ds-")}
    assert len(loaded) == 12
    assert {d["owner_org"] for d in loaded.values()} == {b_org["id"]}
    assert {d["id"] for d in loaded.values()} == {d["id"] for d in jsonl(dumped)}  # ids kept, as ckanapi
    assert [g["id"] for g in loaded["ds-0001"]["groups"]] == [b_grp["id"]]
    assert loaded["ds-0000"]["private"] is True

    # second run: nothing changed, nothing written
    with count_actions(monkeypatch) as second:
        again = cli(runner, b, "load", "datasets", "-p", "4", input=dumped)
    assert again.exit_code == 0, again.stderr
    assert writes(second) == 0
    assert second["package_show"] == 0 and second["package_search"] == 1
    assert "12 unchanged" in again.stderr


def test_update_keeps_fields_absent_from_input(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    ck = ckan_server.client
    make_datasets(ck, 1)
    before = ck.action.package_show(id="ds-0000")
    log = tmp_path / "log.jsonl"
    result = cli(
        runner, ckan_server, "load", "datasets", "-l", str(log), input='{"name": "ds-0000", "title": "New title"}\n'
    )
    assert result.exit_code == 0, result.stderr
    after = ck.action.package_show(id="ds-0000")
    assert after["title"] == "New title"
    assert after["notes"] == before["notes"]
    assert [t["name"] for t in after["tags"]] == [t["name"] for t in before["tags"]]
    assert [r["id"] for r in after["resources"]] == [r["id"] for r in before["resources"]]
    assert after["owner_org"] == before["owner_org"]
    assert read_log(log)[0]["status"] == "updated"


def test_resource_fields_merge_by_id(runner: CliRunner, ckan_server: Any) -> None:
    ck = ckan_server.client
    make_datasets(ck, 1)
    res = ck.action.package_show(id="ds-0000")["resources"][0]
    line = f'{{"name": "ds-0000", "resources": [{{"id": "{res["id"]}", "description": "described"}}]}}\n'
    result = cli(runner, ckan_server, "load", "datasets", input=line)
    assert result.exit_code == 0, result.stderr
    after = ck.action.package_show(id="ds-0000")["resources"][0]
    assert after["description"] == "described"
    assert after["url"] == res["url"] and after["name"] == res["name"]


def test_refused_record_logged_with_ckans_reason_and_owner_org_default(
    runner: CliRunner, ckan_server: Any, tmp_path: Path
) -> None:
    ckan_server.client.action.organization_create(name="fallback")
    lines = '{"name": "orphan-1", "title": "No org"}\n{"name": "orphan-2", "title": "No org either"}\n'
    log = tmp_path / "log.jsonl"
    result = cli(runner, ckan_server, "load", "datasets", "-l", str(log), input=lines)
    assert result.exit_code == 3
    entries = read_log(log)
    assert [e["status"] for e in entries] == ["error", "error"]
    assert all("An organization must be provided" in e["error"] for e in entries)
    assert "An organization must be provided" in result.stderr

    fixed = cli(runner, ckan_server, "load", "datasets", "--owner-org", "fallback", input=lines)
    assert fixed.exit_code == 0, fixed.stderr
    assert ckan_server.client.action.package_show(id="orphan-2")["organization"]["name"] == "fallback"


def test_malformed_line_stops_with_exit_2_after_earlier_records(
    runner: CliRunner, ckan_server: Any, tmp_path: Path
) -> None:
    ckan_server.client.action.organization_create(name="org-a")
    good = [f'{{"name": "ok-{i}", "owner_org": "org-a"}}' for i in range(3)]
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join([*good, '{"name": "broken", ', '{"name": "after", "owner_org": "org-a"}']) + "\n")
    result = cli(runner, ckan_server, "load", "datasets", "-I", str(src), "-p", "2")
    assert result.exit_code == 2
    assert "in.jsonl line 4: invalid JSON" in result.stderr
    assert "Traceback" not in result.stderr
    names = set(ckan_server.client.action.package_list())
    assert names == {"ok-0", "ok-1", "ok-2"}


def test_window_create_only_update_only(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    ckan_server.client.action.organization_create(name="org-a")
    src = tmp_path / "in.jsonl"
    src.write_text("".join(f'{{"name": "w-{i}", "owner_org": "org-a"}}\n' for i in range(1, 7)))
    result = cli(runner, ckan_server, "load", "datasets", "-I", str(src), "-s", "2", "-m", "3")
    assert result.exit_code == 0, result.stderr
    assert sorted(ckan_server.client.action.package_list()) == ["w-2", "w-3", "w-4"]

    upd = cli(runner, ckan_server, "load", "datasets", "-I", str(src), "-o", "-l", str(tmp_path / "u.jsonl"))
    assert upd.exit_code == 3  # w-1, w-5, w-6 are not there
    statuses = [e["status"] for e in read_log(tmp_path / "u.jsonl")]
    assert statuses == ["error", "unchanged", "unchanged", "unchanged", "error", "error"]

    new = tmp_path / "in2.jsonl"
    new.write_text('{"name": "w-2", "owner_org": "org-a", "title": "changed"}\n{"name": "w-9", "owner_org": "org-a"}\n')
    only = cli(runner, ckan_server, "load", "datasets", "-I", str(new), "-n")
    assert only.exit_code == 0, only.stderr
    assert ckan_server.client.action.package_show(id="w-2")["title"] != "changed"  # -n leaves it alone
    assert "w-9" in ckan_server.client.action.package_list()

    both = cli(runner, ckan_server, "load", "datasets", "-I", str(new), "-n", "-o")
    assert both.exit_code == 2


def test_load_organizations_and_groups_keep_members(runner: CliRunner, ckan_server_factory: Any) -> None:
    a, b = ckan_server_factory(), ckan_server_factory()
    a.client.action.organization_create(name="org-x", title="Org X", description="about x")
    dumped = cli(runner, a, "dump", "organizations", "--all", "-U").stdout
    result = cli(runner, b, "load", "organizations", input=dumped)
    assert result.exit_code == 0, result.stderr
    org = b.client.action.organization_show(id="org-x")
    assert org["title"] == "Org X" and org["description"] == "about x"
    again = cli(runner, b, "load", "organizations", input=dumped)
    assert "1 unchanged" in again.stderr
    changed = cli(runner, b, "load", "organizations", input='{"name": "org-x", "title": "Renamed"}\n')
    assert changed.exit_code == 0, changed.stderr
    org = b.client.action.organization_show(id="org-x", include_users=True)
    assert org["title"] == "Renamed" and org["description"] == "about x"
    assert [u["name"] for u in org["users"]] == ["ckan_admin"]  # members kept


def test_load_users_site_to_site(runner: CliRunner, ckan_server_factory: Any) -> None:
    a, b = ckan_server_factory(), ckan_server_factory()
    a.client.action.user_create(
        name="someone", email="s@example.org", password="a-long-password-1", fullname="Some One"
    )
    dumped = cli(runner, a, "dump", "users", "--all").stdout
    first = cli(runner, b, "load", "users", input=dumped)
    assert first.exit_code == 0, first.stderr
    assert "1 created" in first.stderr and "1 unchanged" in first.stderr  # ckan_admin exists on both
    assert b.client.action.user_show(id="someone")["fullname"] == "Some One"
    again = cli(runner, b, "load", "users", input=dumped)
    assert "2 unchanged" in again.stderr


def test_upload_logo_needs_the_source_of_a_bare_file_name(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    # a bare image_url is a file uploaded on the source; without --source-url or image_display_url
    # ckanx cannot know where to fetch it, and must say so rather than write a dangling name
    path = tmp_path / "orgs.jsonl"
    path.write_text(json.dumps({"name": "org-logo", "image_url": "2026-01-02-030405.123456logo.png"}) + "\n")
    log = tmp_path / "log.jsonl"
    result = cli(runner, ckan_server, "load", "organizations", "-I", str(path), "--upload-logo", "-l", str(log))
    assert result.exit_code == 3
    (entry,) = read_log(log)
    assert entry["status"] == "error" and "give --source-url" in entry["error"]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"image_url": ""}, None),
        ({"image_url": "https://cdn.example.org/logo.png"}, None),  # a link: kept as it is
        (
            {
                "image_url": "2026-01-02-030405.123456logo.png",
                "image_display_url": "https://a.example.org/uploads/group/2026-01-02-030405.123456logo.png",
            },
            ("https://a.example.org/uploads/group/2026-01-02-030405.123456logo.png", "logo.png"),
        ),
        (
            {"image_url": "https://a.example.org/uploads/group/2026-01-02-030405.123456my%20logo.png"},
            ("https://a.example.org/uploads/group/2026-01-02-030405.123456my%20logo.png", "my logo.png"),
        ),
    ],
)
def test_logo_source(record: dict[str, Any], expected: tuple[str, str] | None) -> None:
    from ckanx.bulk.load import _Logo

    logo = _Logo.of(record, "https://other.example.org")
    assert (None if logo is None else (logo.url, logo.filename)) == expected


def test_renamed_record_is_found_by_id_and_updated(
    runner: CliRunner, ckan_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the bulk lookup searches by name; a record renamed since (same id, new name) is found by id
    # after CKAN refuses the create ("Dataset id already exists"), and updated, not duplicated
    ck = ckan_server.client
    make_datasets(ck, 2)
    old = ck.action.package_show(id="ds-0001")
    record = {**old, "name": "ds-renamed", "title": "Renamed"}
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(record) + "\n")
    log = tmp_path / "log.jsonl"
    with count_actions(monkeypatch) as calls:
        result = cli(runner, ckan_server, "load", "datasets", "-I", str(path), "-l", str(log))
    assert result.exit_code == 0, result.stderr
    assert [e["status"] for e in read_log(log)] == ["updated"]
    shown = ck.action.package_show(id=old["id"])
    assert shown["name"] == "ds-renamed" and shown["title"] == "Renamed"
    assert ck.action.package_search(q="*:*", rows=0)["count"] == 2  # no duplicate
    assert calls["package_create"] == 1 and calls["package_update"] == 1
