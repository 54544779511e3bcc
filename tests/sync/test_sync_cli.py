"""``ckanx sync`` end to end against the embedded CKAN, writes counted at the wire.

The acceptance test of the issue: the EnviDat corpus (354 datasets) into an empty organization;
three source records changed and two deleted give exactly 3 updates and 2 deletions; an unchanged
run makes no write at all (counted by a pass-through :class:`FaultProxy`, not taken from the report).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ckanx.sync.records import EXTRA_DELETED, EXTRA_HASH, EXTRA_ID, EXTRA_SOURCE
from ckanx.testing.faults import FaultProxy

from .helpers import ActionRecorder, envidat, extras, org_datasets, sync_cli, write_jsonl


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES", "CKANX_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


def test_envidat_acceptance_create_then_3_updates_2_deletions_then_no_write(
    runner: CliRunner, ckan_server: Any, tmp_path: Path
) -> None:
    ck = ckan_server.client
    ck.action.organization_create(name="envidat")
    source = envidat()
    assert len(source) == 354
    v1 = write_jsonl(tmp_path / "v1" / "packages.jsonl", source)
    recorder = ActionRecorder()
    with FaultProxy(ckan_server.url, rate=0.0, only=recorder, lifetime=300) as proxy:
        report_file = tmp_path / "report1.json"
        first = sync_cli(runner, proxy.url, ckan_server.token, str(v1), "--into", "envidat", "-p", "4",
                         "--report", str(report_file))  # fmt: skip
        assert first.exit_code == 0, first.output
        report = json.loads(report_file.read_text())
        assert {k: report[k] for k in ("created", "updated", "deleted", "unchanged", "failed")} == {
            "created": 354, "updated": 0, "deleted": 0, "unchanged": 0, "failed": 0,
        }  # fmt: skip
        assert report["source"] == "packages" and report["into"] == "envidat"
        assert recorder.writes() == ["package_create"] * 354
        datasets = org_datasets(ck, "envidat")
        assert sorted(d["name"] for d in datasets) == sorted(r["name"] for r in source)
        for ds in datasets:
            assert extras(ds)[EXTRA_SOURCE] == "packages"
            assert extras(ds)[EXTRA_HASH].startswith("v1:")
        by_name = {d["name"]: d for d in datasets}
        one = source[0]
        assert extras(by_name[one["name"]])[EXTRA_ID] == one["id"]
        assert by_name[one["name"]]["author"] == one["author"]  # the JSON-encoded string is kept as text
        # the other organizations of the corpus are not used: everything went into --into
        assert {d["organization"]["name"] for d in datasets} == {"envidat"}

        # a hand-made dataset and another source's datasets share the organization
        ck.action.package_create(name="hand-made", owner_org="envidat", title="Curated by hand")
        other = write_jsonl(tmp_path / "other.jsonl", [{"id": "o1", "name": "other-source-ds", "title": "Other"}])
        assert sync_cli(runner, proxy.url, ckan_server.token, str(other), "--into", "envidat", "-q").exit_code == 0
        bystanders = {n: ck.action.package_show(id=n)["metadata_modified"] for n in ("hand-made", "other-source-ds")}

        # three records change, two leave the source
        changed = copy.deepcopy(source)
        changed[10]["title"] = "A new title"
        changed[20]["resources"].append({"url": "https://example.org/extra.csv", "name": "extra.csv", "format": "CSV"})
        changed[30]["tags"] = []
        gone = {changed[40]["name"], changed[50]["name"]}
        changed = [r for r in changed if r["name"] not in gone]
        v2 = write_jsonl(tmp_path / "v2" / "packages.jsonl", changed)
        recorder.clear()
        report_file = tmp_path / "report2.json"
        second = sync_cli(runner, proxy.url, ckan_server.token, str(v2), "--into", "envidat", "-p", "4",
                          "--report", str(report_file))  # fmt: skip
        assert second.exit_code == 0, second.output
        report = json.loads(report_file.read_text())
        assert {k: report[k] for k in ("created", "updated", "deleted", "unchanged", "failed")} == {
            "created": 0, "updated": 3, "deleted": 2, "unchanged": 349, "failed": 0,
        }  # fmt: skip
        assert sorted(recorder.writes()) == ["package_delete"] * 2 + ["package_revise"] * 3
        entries = {e["name"]: e for e in report["records"]}
        assert {n for n, e in entries.items() if e["action"] == "deleted"} == gone
        assert entries[changed[10]["name"]] == {**entries[changed[10]["name"]], "action": "updated",
                                                "reason": "changed in the source"}  # fmt: skip
        assert ck.action.package_show(id=changed[10]["name"])["title"] == "A new title"
        extra = ck.action.package_show(id=changed[20]["name"])["resources"]
        assert [r["name"] for r in extra][-1] == "extra.csv" and len(extra) == len(source[20]["resources"]) + 1
        assert ck.action.package_show(id=changed[30]["name"])["tags"] == []
        remaining = {d["name"] for d in org_datasets(ck, "envidat")}
        assert not gone & remaining
        assert len(remaining) == 352 + 2
        for name, modified in bystanders.items():
            assert ck.action.package_show(id=name)["metadata_modified"] == modified  # never touched

        # nothing changed: no write reaches the server
        recorder.clear()
        report_file = tmp_path / "report3.json"
        third = sync_cli(runner, proxy.url, ckan_server.token, str(v2), "--into", "envidat", "-p", "4",
                         "--report", str(report_file))  # fmt: skip
        assert third.exit_code == 0, third.output
        assert recorder.writes() == []
        assert recorder.actions  # the run did reach the server (reads)
        report = json.loads(report_file.read_text())
        assert (report["created"], report["updated"], report["deleted"], report["unchanged"]) == (0, 0, 0, 352)


def test_dry_run_prints_the_plan_and_writes_nothing(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    ck = ckan_server.client
    ck.action.organization_create(name="org")
    records = [{"id": f"k{i}", "name": f"dry-{i}", "title": f"T{i}", "notes": "n"} for i in range(3)]
    src = write_jsonl(tmp_path / "src.jsonl", records)
    assert sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "-q").exit_code == 0
    records[0]["title"] = "New"
    del records[2]
    records.append({"id": "k9", "name": "dry-9", "title": "T9"})
    write_jsonl(src, records)
    recorder = ActionRecorder()
    with FaultProxy(ckan_server.url, rate=0.0, only=recorder) as proxy:
        report_file = tmp_path / "dry.json"
        result = sync_cli(runner, proxy.url, ckan_server.token, str(src), "--into", "org", "--dry-run", "-v",
                          "--report", str(report_file))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert recorder.writes() == []
    lines = result.output.splitlines()
    assert lines[0] == "plan for 'src' into 'org': 1 to create, 1 to update, 1 to delete, 1 unchanged, 0 failed"
    assert "update       dry-0  (changed in the source)" in lines
    assert "    title: 'T0' -> 'New'" in lines
    assert "delete       dry-2  (no longer in the source)" in lines
    assert "create       dry-9" in lines
    report = json.loads(report_file.read_text())
    assert report["dry_run"] is True and (report["created"], report["updated"], report["deleted"]) == (1, 1, 1)
    assert ck.action.package_show(id="dry-0")["title"] == "T0"


def test_conflicting_name_fails_the_record_and_leaves_the_other_dataset(
    runner: CliRunner, ckan_server: Any, tmp_path: Path
) -> None:
    ck = ckan_server.client
    ck.action.organization_create(name="org")
    ck.action.organization_create(name="elsewhere")
    ck.action.package_create(name="taken", owner_org="elsewhere", title="Not yours", private=True)
    src = write_jsonl(tmp_path / "s.jsonl", [{"name": "taken", "title": "Mine"}, {"name": "free", "title": "Free"}])
    report_file = tmp_path / "r.json"
    result = sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "--report",
                      str(report_file))  # fmt: skip
    assert result.exit_code == 3, result.output
    report = json.loads(report_file.read_text())
    assert (report["created"], report["failed"]) == (1, 1)
    (failed,) = [e for e in report["records"] if e["action"] == "failed"]
    assert failed["name"] == "taken"
    assert failed["reason"].startswith("name 'taken' is taken by a dataset this sync does not own (dataset ")
    assert "organization 'elsewhere'" in failed["reason"]
    assert ck.action.package_show(id="taken")["title"] == "Not yours"
    # --name-prefix avoids the clash
    result = sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "--name-prefix", "mirror-",
                      "--source-id", "prefixed", "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert ck.action.package_show(id="mirror-taken")["title"] == "Mine"


def test_mark_deleted_keep_and_restore(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    ck = ckan_server.client
    ck.action.organization_create(name="org")
    recs = [{"name": f"m-{i}", "title": f"M{i}"} for i in range(3)]
    src = write_jsonl(tmp_path / "m.jsonl", recs)
    assert sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "-q").exit_code == 0
    write_jsonl(src, recs[:1])
    report_file = tmp_path / "keep.json"
    keep = sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "--keep", "--report",
                    str(report_file))  # fmt: skip
    assert keep.exit_code == 0, keep.output
    report = json.loads(report_file.read_text())
    assert (report["kept"], report["unchanged"], report["deleted"]) == (2, 1, 0)
    assert ck.action.package_show(id="m-1")["state"] == "active"
    mark = sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "--mark-deleted", "-v")
    assert mark.exit_code == 0, mark.output
    assert "marked     m-1  (no longer in the source)" in mark.output
    for name in ("m-1", "m-2"):
        ds = ck.action.package_show(id=name)
        assert ds["private"] is True and ds["state"] == "active" and EXTRA_DELETED in extras(ds)
    again = sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "--mark-deleted", "-v")
    assert again.exit_code == 0 and "marked" not in again.output  # already marked: no second write
    write_jsonl(src, recs[:2])
    back = sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "--mark-deleted", "-v")
    assert back.exit_code == 0, back.output
    ds = ck.action.package_show(id="m-1")
    assert ds["private"] is False and EXTRA_DELETED not in extras(ds)
    assert ck.action.package_show(id="m-2")["private"] is True


def test_update_keeps_what_the_site_added(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    ck = ckan_server.client
    ck.action.organization_create(name="org")
    rec = {"id": "k", "name": "kept", "title": "T", "extras": [{"key": "a", "value": "1"}],
           "resources": [{"id": "s1", "url": "http://x/1.csv", "name": "one"}]}  # fmt: skip
    src = write_jsonl(tmp_path / "k.jsonl", [rec])
    assert sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "-q").exit_code == 0
    before = ck.action.package_show(id="kept")
    res_id = before["resources"][0]["id"]
    ck.action.package_patch(id="kept", maintainer="site team",
                            extras=[*before["extras"], {"key": "curator", "value": "ok"}])  # fmt: skip
    ck.action.resource_create(package_id="kept", url="http://site/local.pdf", name="added on the site")
    rec["title"] = "T2"
    rec["resources"][0]["description"] = "now described"
    write_jsonl(src, [rec])
    result = sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "-q")
    assert result.exit_code == 0, result.output
    after = ck.action.package_show(id="kept")
    assert after["title"] == "T2" and after["maintainer"] == "site team"
    assert extras(after)["curator"] == "ok" and extras(after)["a"] == "1"
    assert [(r["name"], r.get("description") or "") for r in after["resources"]] == [
        ("one", "now described"),
        ("added on the site", ""),
    ]
    assert after["resources"][0]["id"] == res_id  # the same resource, updated in place


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--into", "no-such-org"], 1, "organization 'no-such-org' not found on the target"),
        (["--into", "org", "--source-id", "--!"], 2, "needs at least one letter or digit"),
        (["--into", "org", "--source-url", "http://x"], 2, "give SOURCE or --source-url, not both"),
    ],
)
def test_bad_usage_is_one_line(
    runner: CliRunner, ckan_server: Any, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    ckan_server.client.action.organization_create(name="org")
    src = write_jsonl(tmp_path / "s.jsonl", [{"name": "x"}])
    result = sync_cli(runner, ckan_server.url, ckan_server.token, str(src), *args)
    assert result.exit_code == code, result.output
    assert result.output.count("\n") == 1 and message in result.output and "Traceback" not in result.output
    assert ckan_server.token not in result.output


def test_bad_sources(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    ck = ckan_server.client
    ck.action.organization_create(name="org")
    src = write_jsonl(tmp_path / "s.jsonl", [{"name": "sa"}, {"name": "sb"}])
    assert sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "-q").exit_code == 0
    first_id = ck.action.package_show(id="sa")["id"]  # a deleted dataset is renamed to its id
    missing = sync_cli(runner, ckan_server.url, ckan_server.token, str(tmp_path / "nope.jsonl"), "--into", "org")
    assert missing.exit_code == 2 and "no such file or directory" in missing.output
    src.write_text('{"name": "sa"}\n{"name": oops}\n')
    broken = sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org")
    assert broken.exit_code == 2 and "line 2: invalid JSON" in broken.output
    assert ck.action.package_show(id="sb")["state"] == "active"  # half a source never deletes
    src.write_text("")
    empty = sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org")
    assert empty.exit_code == 1 and "refusing to delete all 2 datasets" in empty.output
    assert ck.action.package_show(id="sa")["state"] == "active"
    allowed = sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "--allow-empty", "-q")
    assert allowed.exit_code == 0
    assert ck.action.package_show(id=first_id)["state"] == "deleted"


def test_datapackage_and_directory_sources(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    ck = ckan_server.client
    ck.action.organization_create(name="org")
    ck.action.group_create(name="air")
    pkg = tmp_path / "aq"
    pkg.mkdir()
    (pkg / "datapackage.json").write_text(json.dumps({
        "name": "air-quality", "title": "Air quality", "keywords": ["air"], "licenses": [{"name": "cc-by"}],
        "resources": [{"name": "no2", "path": "https://aq.example.org/no2.csv", "format": "CSV"}],
    }))  # fmt: skip
    result = sync_cli(runner, ckan_server.url, ckan_server.token, str(pkg), "--into", "org", "-q")
    assert result.exit_code == 0, result.output
    ds = ck.action.package_show(id="air-quality")
    assert (ds["title"], ds["license_id"], [t["name"] for t in ds["tags"]]) == ("Air quality", "cc-by", ["air"])
    assert [(r["name"], r["url"]) for r in ds["resources"]] == [("no2", "https://aq.example.org/no2.csv")]
    assert extras(ds)[EXTRA_SOURCE] == "air-quality"

    folder = tmp_path / "catalogue"
    folder.mkdir()
    (folder / "lake.yaml").write_text("title: Lake\ngroups:\n  - name: air\n  - name: missing-group\n")
    (folder / "river.json").write_text(json.dumps({"name": "river", "title": "River"}))
    report_file = tmp_path / "r.json"
    result = sync_cli(runner, ckan_server.url, ckan_server.token, str(folder), "--into", "org", "--report",
                      str(report_file), "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    lake = ck.action.package_show(id="lake")
    assert [g["name"] for g in lake["groups"]] == ["air"]
    entry = next(e for e in json.loads(report_file.read_text())["records"] if e["name"] == "lake")
    assert entry["warnings"] == ["group 'missing-group' does not exist on the target: not added"]
    assert extras(ck.action.package_show(id="river"))[EXTRA_SOURCE] == "catalogue"


def test_ckan_to_ckan(runner: CliRunner, ckan_server_factory: Any, tmp_path: Path) -> None:
    source, target = ckan_server_factory(), ckan_server_factory()
    source.client.action.organization_create(name="up")
    for i in range(5):
        source.client.action.package_create(
            name=f"up-{i}", owner_org="up", tags=[{"name": "snow" if i < 3 else "rain"}]
        )
    target.client.action.organization_create(name="down")
    url = f"ckan+{source.url}?fq=tags:snow"
    result = sync_cli(runner, target.url, target.token, url, "--into", "down", "--source-id", "up-snow", "-q")
    assert result.exit_code == 0, result.output
    names = sorted(d["name"] for d in org_datasets(target.client, "down"))
    assert names == ["up-0", "up-1", "up-2"]
    assert (
        extras(target.client.action.package_show(id="up-0"))[EXTRA_ID]
        == source.client.action.package_show(id="up-0")["id"]
    )
    source.client.action.package_patch(id="up-1", title="changed upstream")
    source.client.action.package_delete(id="up-2")
    report_file = tmp_path / "r.json"
    result = sync_cli(runner, target.url, target.token, "--source-url", source.url, "--source-query", "tags:snow",
                      "--into", "down", "--source-id", "up-snow", "--report", str(report_file), "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(report_file.read_text())
    assert (report["updated"], report["deleted"], report["unchanged"]) == (1, 1, 1)
    assert target.client.action.package_show(id="up-1")["title"] == "changed upstream"


def test_record_log_resume_flag_and_source_token_file(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    ck = ckan_server.client
    ck.action.organization_create(name="org")
    src = write_jsonl(tmp_path / "s.jsonl", [{"name": "log-a"}, {"name": "log-b"}, {"name": "x"}])
    log = tmp_path / "log.jsonl"
    result = sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "-q", "-l", str(log))
    assert result.exit_code == 3  # "x" is too short for a CKAN name
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted((e["name"], e["status"]) for e in entries) == [
        ("log-a", "created"),
        ("log-b", "created"),
        ("x", "error"),
    ]
    assert "name" in next(e["error"] for e in entries if e["name"] == "x")
    write_jsonl(src, [{"name": "log-a"}, {"name": "log-b"}])
    again = sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "--resume", "--report",
                     str(tmp_path / "r.json"))  # fmt: skip
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "r.json").read_text())["unchanged"] == 2
    token_file = tmp_path / "source-token"
    token_file.write_text("not-used")
    usage = sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "--source-token-file",
                     str(token_file))  # fmt: skip
    assert usage.exit_code == 2 and "--source-token-file applies to a CKAN source" in usage.output


def test_unknown_fields_as_extras(runner: CliRunner, ckan_server: Any, tmp_path: Path) -> None:
    ck = ckan_server.client
    ck.action.organization_create(name="org")
    records = envidat()[:5]
    src = write_jsonl(tmp_path / "custom.jsonl", records)
    result = sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "--unknown-as-extras",
                      "-q")  # fmt: skip
    assert result.exit_code == 0, result.output
    ds = ck.action.package_show(id=records[0]["name"])
    got = extras(ds)
    for key in ("doi", "date", "funding", "language", "publication", "spatial", "resource_type"):
        value = records[0][key]
        assert got[key] == (value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)), key
    assert ds["author"] == records[0]["author"]  # a core field stays where it is
    assert got["dora_link"] == ""  # the record's own extras are kept
    again = sync_cli(runner, ckan_server.url, ckan_server.token, str(src), "--into", "org", "--unknown-as-extras",
                     "--report", str(tmp_path / "r.json"), "-q")  # fmt: skip
    assert again.exit_code == 0 and json.loads((tmp_path / "r.json").read_text())["unchanged"] == 5
