"""``ckanx mirror`` on two small embedded sites: what is copied, what is not written, tokens, errors."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from ckanx import AsyncClient
from ckanx.bulk.engine import Progress
from ckanx.cli import main
from ckanx.mirror import MirrorOptions, MirrorState, run_mirror, sync_views
from ckanx.server import errors, registry
from tests.bulk.helpers import cli, count_actions, writes


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKAN_SOURCE_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


@pytest.fixture
def sites(ckan_server_factory: Any) -> tuple[Any, Any]:
    return ckan_server_factory(), ckan_server_factory()


def seed_source(srv: Any) -> dict[str, Any]:
    """Two organizations (one with extras and an image), a group, 4 datasets, a file and a table."""
    ck = srv.client
    ck.action.organization_create(
        name="org-a", title="Org A", image_url="https://img.example.org/a.png", extras=[{"key": "k", "value": "v"}]
    )
    ck.action.organization_create(name="org-b", title="Org B", description="second")
    ck.action.group_create(name="grp", title="Group")
    for i in range(4):
        ck.action.package_create(
            name=f"ds-{i}",
            owner_org="org-a" if i % 2 else "org-b",
            title=f"Dataset {i}",
            groups=[{"name": "grp"}] if i < 2 else [],
            tags=[{"name": "water"}],
            extras=[{"key": "origin", "value": str(i)}],
            resources=[{"url": f"http://example.org/{i}.csv", "name": "link", "format": "CSV"}],
        )
    content = bytes(range(256)) * 300
    res = ck.action.resource_create(package_id="ds-0", name="blob", upload=("blob.bin", content))
    table = ck.action.datastore_create(
        resource={"package_id": "ds-1", "name": "table"},
        fields=[
            {"id": "code", "type": "text", "info": {"label": "Code", "notes": "the key"}},
            {"id": "n", "type": "int"},
        ],
        primary_key=["code"],
        records=[{"code": f"c{i}", "n": i} for i in range(30)],
    )
    return {"file": res["id"], "sha256": hashlib.sha256(content).hexdigest(), "table": table["resource_id"]}


def run(runner: CliRunner, source: Any, target: Any, tmp_path: Path, *args: str) -> tuple[Any, dict[str, Any]]:
    report = tmp_path / "report.json"
    result = cli(runner, target, "mirror", source.url, "--state", str(tmp_path / "state.json"),
                 "--report", str(report), *args)
    data = json.loads(report.read_text()) if report.exists() else {}
    report.unlink(missing_ok=True)
    return result, data


def test_first_run_copies_everything_and_a_second_run_writes_nothing(
    runner: CliRunner, sites: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = sites
    made = seed_source(source)
    result, report = run(runner, source, target, tmp_path, "-p", "4")
    assert result.exit_code == 0, result.stderr
    c = report["counts"]
    assert (c["organizations"]["created"], c["groups"]["created"], c["datasets"]["created"]) == (2, 1, 4)
    assert (c["resource_files"]["created"], c["datastore_tables"]["created"]) == (1, 1)
    assert "datasets: 4 created" in result.stderr

    tgt = target.client.action
    org = tgt.organization_show(id="org-a")
    assert org["image_url"] == "https://img.example.org/a.png"
    assert {e["key"]: e["value"] for e in org["extras"]} == {"k": "v"}
    ds = tgt.package_show(id="ds-1")
    assert ds["organization"]["name"] == "org-a" and [g["name"] for g in ds["groups"]] == ["grp"]
    assert ds["organization"]["id"] == org["id"]  # remapped by name to the target's organization
    body = httpx.get(tgt.resource_show(id=made["file"])["url"]).content
    assert hashlib.sha256(body).hexdigest() == made["sha256"]
    copy = tgt.datastore_search(resource_id=made["table"], limit=100, sort="_id")
    assert copy["fields"][1]["info"] == {"label": "Code", "notes": "the key"}
    assert [(r["code"], r["n"]) for r in copy["records"]] == [(f"c{i}", i) for i in range(30)]

    with count_actions(monkeypatch) as calls:
        again, report = run(runner, source, target, tmp_path, "-p", "4", "--full")
    assert again.exit_code == 0, again.stderr
    assert writes(calls) == 0
    assert report["counts"]["datasets"]["unchanged"] == 4
    assert report["counts"]["resource_files"]["unchanged"] == 1
    assert report["counts"]["datastore_tables"]["unchanged"] == 1


def test_changed_table_and_file_are_copied_again_on_a_full_run(
    runner: CliRunner, sites: tuple[Any, Any], tmp_path: Path
) -> None:
    source, target = sites
    made = seed_source(source)
    assert run(runner, source, target, tmp_path)[0].exit_code == 0
    src = source.client.action
    src.datastore_upsert(resource_id=made["table"], records=[{"code": "c1", "n": 100}], method="upsert")
    src.datastore_delete(resource_id=made["table"], filters={"code": "c2"})
    src.resource_patch(id=made["file"], upload=("blob.bin", b"new bytes"))
    result, report = run(runner, source, target, tmp_path, "--full")
    assert result.exit_code == 0, result.stderr
    assert report["counts"]["datastore_tables"]["updated"] == 1
    assert report["counts"]["resource_files"]["updated"] == 1
    rows = target.client.action.datastore_search(resource_id=made["table"], limit=100, sort="_id")["records"]
    assert {r["code"]: r["n"] for r in rows} == {**{f"c{i}": i for i in range(30) if i != 2}, "c1": 100}
    url = target.client.action.resource_show(id=made["file"])["url"]
    assert httpx.get(url).content == b"new bytes"


def test_dry_run_writes_nothing_and_keeps_no_state(
    runner: CliRunner, sites: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = sites
    seed_source(source)
    with count_actions(monkeypatch) as calls:
        result, report = run(runner, source, target, tmp_path, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert writes(calls) == 0
    assert report["dry_run"] is True and report["counts"]["datasets"]["created"] == 4
    assert target.client.action.package_search()["count"] == 0
    assert not (tmp_path / "state.json").exists()


def test_deletions_only_of_mirrored_datasets_and_only_when_asked(
    runner: CliRunner, sites: tuple[Any, Any], tmp_path: Path
) -> None:
    source, target = sites
    seed_source(source)
    assert run(runner, source, target, tmp_path)[0].exit_code == 0
    target.client.action.package_create(name="hand-made", owner_org="org-a")
    source.client.action.package_delete(id="ds-3")

    result, report = run(runner, source, target, tmp_path)
    assert result.exit_code == 0
    assert report["gone_from_source"] == ["ds-3"] and report["counts"]["datasets"]["deleted"] == 0
    assert target.client.action.package_show(id="ds-3")["state"] == "active"
    assert "--delete-missing deletes them" in result.stderr

    result, report = run(runner, source, target, tmp_path, "--delete-missing")
    assert result.exit_code == 0
    assert report["counts"]["datasets"]["deleted"] == 1
    assert target.client.action.package_show(id="ds-3")["state"] == "deleted"
    assert target.client.action.package_show(id="hand-made")["state"] == "active"

    # a source that suddenly lists nothing (wrong site, outage) deletes nothing
    for name in ("ds-0", "ds-1", "ds-2"):
        source.client.action.package_delete(id=name)
    result, report = run(runner, source, target, tmp_path, "--delete-missing")
    assert result.exit_code == 3
    assert "refusing to delete" in report["failures"][0]["error"]
    assert {d["name"] for d in target.client.action.package_search(rows=10)["results"]} == {
        "ds-0", "ds-1", "ds-2", "hand-made"}


def test_members_by_user_name_missing_users_reported_not_created(
    runner: CliRunner, sites: tuple[Any, Any], tmp_path: Path
) -> None:
    source, target = sites
    seed_source(source)
    for name in ("alice-m", "bob-m"):
        source.client.action.user_create(name=name, email=f"{name}@example.org", password="Passw0rd-long-1")
    target.client.action.user_create(name="alice-m", email="alice@example.org", password="Passw0rd-long-1")
    source.client.action.organization_member_create(id="org-a", username="alice-m", role="editor")
    source.client.action.organization_member_create(id="org-a", username="bob-m", role="member")

    result, report = run(runner, source, target, tmp_path, "--members")
    assert result.exit_code == 0, result.stderr
    assert report["missing_users"] == ["bob-m"]
    members = {u["name"]: u["capacity"] for u in target.client.action.organization_show(id="org-a")["users"]}
    assert members["alice-m"] == "editor" and "bob-m" not in members
    with pytest.raises(Exception, match="Not found"):
        target.client.action.user_show(id="bob-m")


def test_a_failing_dataset_is_reported_and_the_job_goes_on(
    runner: CliRunner, sites: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = sites
    seed_source(source)
    spec = registry.ACTIONS["package_create"]

    def refuse_ds2(ctx: Any, data: dict[str, Any]) -> Any:
        if data.get("name") == "ds-2":
            raise errors.ValidationError({"notes": ["refused by this portal's schema"]})
        return spec.func(ctx, data)

    monkeypatch.setitem(registry.ACTIONS, "package_create", registry.ActionSpec(spec.name, refuse_ds2, spec.read,
                                                                               spec.versions))
    result, report = run(runner, source, target, tmp_path)
    assert result.exit_code == 3
    assert report["counts"]["datasets"]["created"] == 3 and report["counts"]["datasets"]["failed"] == 1
    assert report["failures"] == [
        {"kind": "datasets", "name": "ds-2", "error": "notes: refused by this portal's schema"}
    ]
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["mark"] <= source.client.action.package_show(id="ds-2")["metadata_modified"]  # retried next time


class _Recorder(httpx.AsyncBaseTransport):
    """Records (host:port, Authorization) of every request, then sends it."""

    def __init__(self, seen: dict[str, set[str | None]]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.seen = seen

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen[f"{request.url.host}:{request.url.port}"].add(request.headers.get("authorization"))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_each_token_goes_only_to_its_own_site(sites: tuple[Any, Any]) -> None:
    source, target = sites
    seed_source(source)
    source.client.action.package_patch(id="ds-0", private=True)  # needs the source token to be read
    seen: dict[str, set[str | None]] = defaultdict(set)

    async def go() -> Any:
        async with AsyncClient(source.url, source.token, transport=_Recorder(seen)) as src, \
                AsyncClient(target.url, target.token, transport=_Recorder(seen)) as dst:
            return await run_mirror(src, dst, MirrorOptions(include_private=True), MirrorState(src.url, dst.url),
                                    progress=Progress("mirror", quiet=True))

    report = asyncio.run(go())
    assert report.failed == 0 and report.counts["resource_files"]["created"] == 1
    src_host, dst_host = (s.url.split("//")[1] for s in (source, target))
    assert seen[src_host] == {source.token}
    assert seen[dst_host] == {target.token}
    assert target.client.action.package_show(id="ds-0")["private"] is True


class _FakeViews:
    def __init__(self, views: dict[str, list[dict[str, Any]]]) -> None:
        self.views = views
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call_action(self, name: str, data: dict[str, Any]) -> Any:
        self.calls.append((name, data))
        if name == "resource_view_list":
            return self.views[data["id"]]
        return {}


def test_views_are_created_updated_and_extra_ones_deleted() -> None:
    source = _FakeViews({"r1": [
        {"id": "s1", "resource_id": "r1", "view_type": "image_view", "title": "Picture", "image_url": "x.png"},
        {"id": "s2", "resource_id": "r1", "view_type": "datatables_view", "title": "Table"},
        {"id": "s3", "resource_id": "r1", "view_type": "text_view", "title": "Text"},
    ]})
    target = _FakeViews({"t1": [
        {"id": "t-a", "resource_id": "t1", "view_type": "image_view", "title": "Picture", "image_url": "old.png"},
        {"id": "t-b", "resource_id": "t1", "view_type": "datatables_view", "title": "Table"},
        {"id": "t-c", "resource_id": "t1", "view_type": "webpage_view", "title": "Extra"},
    ]})
    statuses = asyncio.run(sync_views(source, target, "r1", "t1", dry_run=False))
    assert statuses == ["updated", "unchanged", "created", "deleted"]
    writes_ = [c for c in target.calls if c[0] != "resource_view_list"]
    assert writes_ == [
        ("resource_view_update", {"view_type": "image_view", "title": "Picture", "image_url": "x.png",
                                  "id": "t-a", "resource_id": "t1"}),
        ("resource_view_create", {"view_type": "text_view", "title": "Text", "resource_id": "t1"}),
        ("resource_view_delete", {"id": "t-c"}),
    ]


def test_usage_errors_are_one_line_with_exit_2(
    runner: CliRunner, sites: tuple[Any, Any], tmp_path: Path
) -> None:
    source, target = sites
    token = tmp_path / "token"
    token.write_text(target.token)
    base = ["mirror", source.url, target.url, "--token-file", str(token), "--state", str(tmp_path / "s.json")]
    cases = {
        "--since-margin": [*base, "--since-margin", "soon"],
        "cannot read --source-token-file": [*base, "--source-token-file", str(tmp_path / "absent")],
        "are the same site": ["mirror", target.url, target.url, "--token-file", str(token)],
        "name different sites": [*base, "-r", "http://127.0.0.1:1"],
    }
    for expected, args in cases.items():
        result = runner.invoke(main, args)
        assert result.exit_code == 2, (args, result.output)
        assert expected in result.stderr and "Traceback" not in result.stderr
    (tmp_path / "s.json").write_text(json.dumps({"version": 1, "source": "http://elsewhere", "target": target.url}))
    result = runner.invoke(main, base)
    assert result.exit_code == 2 and "belongs to the mirror http://elsewhere" in result.stderr


def test_an_unreachable_source_is_exit_1_and_the_token_is_never_shown(
    runner: CliRunner, sites: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, target = sites
    monkeypatch.setenv("CKAN_SOURCE_API_TOKEN", "source-secret-token-123")
    token = tmp_path / "token"
    token.write_text(target.token)
    result = runner.invoke(main, ["mirror", "http://127.0.0.1:9", target.url, "--token-file", str(token),
                                  "--state", str(tmp_path / "s.json"), "--report", str(tmp_path / "r.json")])
    assert result.exit_code == 1
    assert result.stderr.startswith("ckanx: error:") and len(result.stderr.strip().splitlines()) == 1
    assert "source-secret-token-123" not in result.output + result.stderr
    assert target.token not in result.output + result.stderr


def test_unchanged_files_are_not_downloaded_again_but_a_new_upload_is(
    runner: CliRunner, sites: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ckanx.mirror import _engine

    source, target = sites
    made = seed_source(source)
    assert run(runner, source, target, tmp_path)[0].exit_code == 0
    copies: list[str] = []
    original = _engine.sync_file

    async def counting(src: Any, dst: Any, res: dict[str, Any], target_id: str, **kw: Any) -> str:
        copies.append(res["id"])
        return await original(src, dst, res, target_id, **kw)

    monkeypatch.setattr(_engine, "sync_file", counting)
    result, report = run(runner, source, target, tmp_path)  # every dataset is in the 10 min window
    assert result.exit_code == 0 and report["source_datasets_examined"] == 4
    assert copies == [] and report["counts"]["resource_files"]["unchanged"] == 1

    source.client.action.resource_patch(id=made["file"], upload=("blob.bin", b"second version"))
    result, report = run(runner, source, target, tmp_path)
    assert result.exit_code == 0
    assert copies == [made["file"]] and report["counts"]["resource_files"]["updated"] == 1
    assert httpx.get(target.client.action.resource_show(id=made["file"])["url"]).content == b"second version"


def test_a_dataset_deleted_on_the_target_is_brought_back(
    runner: CliRunner, sites: tuple[Any, Any], tmp_path: Path
) -> None:
    source, target = sites
    seed_source(source)
    assert run(runner, source, target, tmp_path)[0].exit_code == 0
    target.client.action.package_delete(id="ds-2")
    result, report = run(runner, source, target, tmp_path, "--full")
    assert result.exit_code == 0, report.get("failures")
    assert report["counts"]["datasets"]["updated"] == 1
    assert target.client.action.package_show(id="ds-2")["state"] == "active"


def test_source_credentials_from_the_environment_or_a_profile(
    runner: CliRunner, sites: tuple[Any, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, target = sites
    seed_source(source)
    source.client.action.package_patch(id="ds-0", private=True)

    # anonymous source: the private dataset is invisible (CKAN_API_TOKEN is the target's, never the source's)
    monkeypatch.setenv("CKAN_API_TOKEN", target.token)
    result, report = run(runner, source, target, tmp_path, "--include-private")
    assert result.exit_code == 0, result.stderr
    assert report["counts"]["datasets"]["created"] == 3

    monkeypatch.setenv("CKAN_SOURCE_API_TOKEN", source.token)
    result, report = run(runner, source, target, tmp_path, "--include-private")
    assert result.exit_code == 0, result.stderr
    assert report["counts"]["datasets"]["created"] == 1  # ds-0, now readable
    assert target.client.action.package_show(id="ds-0")["private"] is True

    monkeypatch.delenv("CKAN_SOURCE_API_TOKEN")
    config = tmp_path / "config.toml"
    config.write_text(f'[profiles.src]\nurl = "{source.url}"\ntoken = "{source.token}"\n'
                      '[profiles.other]\nurl = "https://elsewhere.example.org"\n')
    config.chmod(0o600)
    monkeypatch.setenv("CKANX_CONFIG", str(config))
    result, report = run(runner, source, target, tmp_path, "--include-private", "--source-profile", "src", "--full")
    assert result.exit_code == 0, result.stderr
    assert report["counts"]["datasets"]["unchanged"] == 4
    result, _ = run(runner, source, target, tmp_path, "--source-profile", "other")
    assert result.exit_code == 2 and "is for https://elsewhere.example.org" in result.stderr
