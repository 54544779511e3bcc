"""``ckanx mirror`` from a small embedded source into the embedded CKAN and, when configured, the real one.

The source (an embedded CKAN, so the run's objects are the only ones it holds): 2 organizations
(extras, an image URL), 1 group, 15 datasets (tags, extras, groups, link resources), an uploaded
file and a DataStore table with a data dictionary and a primary key. Every name carries the run id
(the real site is shared). Checked on the target: organizations and datasets remapped by name, the
file byte for byte, the table row for row with its ``info``; a second run sends no write at all
(the skip-unchanged normalisation against what a real CKAN stores); a dataset deleted on the source
disappears with ``--delete-missing`` and nothing else is touched. Everything made is purged at the end.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from ckanx import AsyncClient
from ckanx.cli import main
from ckanx.testing import embedded_ckan

N_DATASETS = 15


def _writes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every write action any AsyncClient sends from now on (the mirror's source side only reads)."""
    from ckanx._core import is_read_action

    sent: list[str] = []
    original = AsyncClient.call_action

    async def counting(self: AsyncClient, name: str, *args: Any, **kwargs: Any) -> Any:
        if not is_read_action(name):
            sent.append(name)
        return await original(self, name, *args, **kwargs)

    monkeypatch.setattr(AsyncClient, "call_action", counting)
    return sent


def _mirror(source_url: str, target: Any, tmp: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    token_file = tmp / "target-token"
    token_file.write_text(target.token)
    token_file.chmod(0o600)
    report = tmp / "report.json"
    result = CliRunner().invoke(main, [
        "mirror", source_url, target.url, "--token-file", str(token_file), "--state", str(tmp / "state.json"),
        "--report", str(report), "-p", "4", "-q", *args,
    ])
    return result.exit_code, json.loads(report.read_text()) if report.exists() else {}, result.stderr


def test_mirror_into_target(target: Any, run_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKAN_SOURCE_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    orgs = [f"{run_id}-org-a", f"{run_id}-org-b"]
    group = f"{run_id}-grp"
    names = [f"{run_id}-ds-{i:02d}" for i in range(N_DATASETS)]
    content = hashlib.sha256(run_id.encode()).digest() * 2048  # 64 kB
    try:
        with embedded_ckan() as source:
            src = source.client.action
            src.organization_create(name=orgs[0], title="Mirror A", image_url="https://img.example.org/a.png",
                                    extras=[{"key": "origin", "value": "contract"}])
            src.organization_create(name=orgs[1], title="Mirror B", description="second")
            src.group_create(name=group, title="Mirror group")
            for i, name in enumerate(names):
                src.package_create(
                    name=name, owner_org=orgs[i % 2], title=f"Mirrored {i}", notes=f"notes {i}",
                    tags=[{"name": "mirror"}, {"name": f"t{i % 3}x"}], extras=[{"key": "n", "value": str(i)}],
                    groups=[{"name": group}] if i % 3 == 0 else [],
                    resources=[{"url": f"https://example.org/{i}.csv", "name": "link", "format": "CSV"}],
                )
            upload = src.resource_create(package_id=names[0], name="blob", upload=("blob.bin", content))
            fields = [
                {"id": "code", "type": "text", "info": {"label": "Code", "notes": "station"}},
                {"id": "value", "type": "numeric", "info": {"label": "Value"}},
            ]
            records = [{"code": f"k{i:03d}", "value": i * 1.5} for i in range(120)]
            table = src.datastore_create(resource={"package_id": names[1], "name": "table"}, fields=fields,
                                         primary_key=["code"], records=records)

            code, report, stderr = _mirror(source.url, target, tmp_path)
            assert code == 0, (stderr, report.get("failures"))
            c = report["counts"]
            assert (c["organizations"]["created"], c["groups"]["created"], c["datasets"]["created"]) == (2, 1, 15)
            assert (c["resource_files"]["created"], c["datastore_tables"]["created"]) == (1, 1)

            # what the target now holds
            org = target.ok("organization_show", {"id": orgs[0]})
            assert org["image_url"] == "https://img.example.org/a.png"
            assert {e["key"]: e["value"] for e in org.get("extras") or []} == {"origin": "contract"}
            # one search for all of them (the real site is shared and slow under load: few calls)
            org_ids = {name: target.ok("organization_show", {"id": name})["id"] for name in orgs}
            found = target.ok("package_search", {
                "fq": f'organization:("{orgs[0]}" OR "{orgs[1]}")', "rows": 100, "include_private": True,
            })["results"]
            by_name = {d["name"]: d for d in found}
            assert set(by_name) == set(names)
            for i, name in enumerate(names):
                ds = by_name[name]
                assert ds["organization"]["name"] == orgs[i % 2] and ds["owner_org"] == org_ids[orgs[i % 2]]
                assert sorted(t["name"] for t in ds["tags"]) == sorted(["mirror", f"t{i % 3}x"])
                assert [g["name"] for g in ds["groups"]] == ([group] if i % 3 == 0 else [])
                assert {e["key"]: e["value"] for e in ds["extras"]} == {"n": str(i)}
            url = target.ok("resource_show", {"id": upload["id"]})["url"]
            assert url.startswith(target.url)
            got = httpx.get(url, headers={"Authorization": target.token}, follow_redirects=True).content
            assert hashlib.sha256(got).hexdigest() == hashlib.sha256(content).hexdigest()
            copy = target.ok("datastore_search", {"resource_id": table["resource_id"], "limit": 500, "sort": "_id"})
            assert [f.get("info") for f in copy["fields"] if f["id"] != "_id"] == [f["info"] for f in fields]
            assert [(r["code"], float(r["value"])) for r in copy["records"]] == [
                (r["code"], r["value"]) for r in records
            ]

            # a second run writes nothing: the real CKAN's stored objects compare equal to the source
            sent = _writes(monkeypatch)
            code, report, stderr = _mirror(source.url, target, tmp_path)
            assert code == 0, (stderr, report.get("failures"))
            assert sent == []
            assert report["counts"]["datasets"]["unchanged"] == 15
            assert report["counts"]["resource_files"]["unchanged"] == 1
            assert report["counts"]["datastore_tables"]["unchanged"] == 1

            # a dataset deleted on the source goes with --delete-missing, and nothing else is written
            src.package_delete(id=names[-1])
            sent.clear()
            code, report, stderr = _mirror(source.url, target, tmp_path, "--delete-missing")
            assert code == 0, (stderr, report.get("failures"))
            assert sent == ["package_delete"]
            assert target.ok("package_show", {"id": names[-1]})["state"] == "deleted"
            assert target.ok("package_show", {"id": names[-2]})["state"] == "active"
    finally:
        for name in names:
            target.call("dataset_purge", {"id": name})
        target.call("group_purge", {"id": group})
        for name in orgs:
            target.call("organization_purge", {"id": name})
