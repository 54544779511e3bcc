"""The mirror's acceptance test: a real portal's catalogue (depositar, 1839 datasets) from one
embedded CKAN into an empty one, then an incremental re-run that writes only what changed.

The source is seeded from the corpus as ``tests/bulk/test_corpus_roundtrip.py`` loads it: the 227
datasets without an organization get ``fallback``, the 4 that CKAN 2.11.6 refuses are not there.
The corpus' uploads have no bytes on the seeded site (their downloads answer 404): the mirror
reports them as ``missing_on_source``. A handful of real uploads and a DataStore table with a data
dictionary are added to the source, and must arrive byte for byte and row for row.

The dumps must be equal apart from ids, timestamps, each site's own URL, an upload's ``hash`` (the
mirror records the sha256 it verified) and organization images uploaded to the source (referenced
by the source's absolute URL on the target, see :func:`image_back`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.bulk.helpers import cli, count_actions, jsonl, writes
from tests.bulk.test_corpus_roundtrip import CORPUS, REFUSED

# keys each site sets for itself on every write: never part of the comparison
_TIMESTAMPS = frozenset({"metadata_created", "metadata_modified", "created", "last_modified"})


def normalised(value: Any, site: str) -> Any:
    """A dump record with ids, timestamps and the site's own URL taken out.

    Also left out: ``creator_user_id`` (each site's own sysadmin) and an upload's ``hash`` (the
    mirror records the sha256 it verified; the bytes are compared separately).
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in _TIMESTAMPS or key == "id" or key.endswith("_id") or key == "owner_org":
                continue
            if key == "hash" and value.get("url_type") == "upload":
                continue
            out[key] = normalised(item, site)
        return out
    if isinstance(value, list):
        return [normalised(v, site) for v in value]
    if isinstance(value, str):
        return value.replace(site, "<site>")
    return value


def image_back(ds: dict[str, Any], source_url: str) -> dict[str, Any]:
    """The one deliberate difference: an organization image uploaded to the source (a bare file
    name there) is referenced on the target by the source's absolute URL for it."""
    org = ds.get("organization") or {}
    prefix = source_url + "/uploads/group/"
    if str(org.get("image_url") or "").startswith(prefix):
        ds = {**ds, "organization": {**org, "image_url": org["image_url"][len(prefix):]}}
    return ds


def dump(runner: CliRunner, srv: Any) -> dict[str, dict[str, Any]]:
    result = cli(runner, srv, "dump", "datasets", "--all", "--include-private", "-q", "-p", "4")
    assert result.exit_code == 0, result.stderr
    return {d["name"]: d for d in jsonl(result.stdout)}


def mirror(runner: CliRunner, source: Any, target: Any, tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    report = tmp_path / "report.json"
    result = cli(
        runner, target, "mirror", source.url, "--state", str(tmp_path / "state.json"), "--report", str(report),
        "-p", "8", "-q", *args,
    )
    assert result.exit_code in (0, 3), result.stderr
    return result.exit_code, json.loads(report.read_text())


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKAN_SOURCE_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


def test_depositar_mirror_then_incremental(
    runner: CliRunner, ckan_server_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = ckan_server_factory(seed=CORPUS, default_owner_org="fallback")
    target = ckan_server_factory()
    src = source.client

    # what the source holds: the corpus minus the 4 refused, plus real files and a table
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f]
    assert len(corpus) == 1839
    expected_names = {d["name"] for d in corpus} - REFUSED
    phantom_uploads = sum(
        1 for d in corpus if d["name"] not in REFUSED for r in d.get("resources") or [] if r.get("url_type") == "upload"
    )
    phantom_tables = sum(
        1 for d in corpus if d["name"] not in REFUSED for r in d.get("resources") or [] if r.get("datastore_active")
    )
    hosts = sorted(expected_names)[:5]
    files: dict[str, str] = {}
    for i, name in enumerate(hosts):
        content = hashlib.sha256(str(i).encode()).digest() * (1000 + 997 * i)  # distinct, 32-190 kB
        res = src.action.resource_create(package_id=name, name=f"file-{i}", upload=(f"data-{i}.bin", content))
        files[res["id"]] = hashlib.sha256(content).hexdigest()
    fields = [
        {"id": "code", "type": "text", "info": {"label": "Station code", "notes": "WMO id"}},
        {"id": "temp", "type": "numeric", "info": {"label": "Temperature", "unit": "°C"}},
        {"id": "day", "type": "date"},
    ]
    rows = [{"code": f"s{i:03d}", "temp": i / 4, "day": f"2024-01-{i % 28 + 1:02d}"} for i in range(250)]
    table = src.action.datastore_create(
        resource={"package_id": hosts[0], "name": "stations"}, fields=fields, primary_key=["code"], records=rows
    )

    # -- the first run: everything is created
    started = time.monotonic()
    code, report = mirror(runner, source, target, tmp_path)
    first_run = time.monotonic() - started
    assert code == 0, report["failures"][:5]
    counts = report["counts"]
    first_mark = report["mark"]
    assert counts["datasets"]["created"] == len(expected_names) == 1835
    assert counts["datasets"]["failed"] == 0
    corpus_orgs = {d["organization"]["name"] for d in corpus if d.get("organization")}
    assert counts["organizations"]["created"] == len(corpus_orgs | {"fallback"})
    assert counts["resource_files"] == {**counts["resource_files"], "created": 5, "failed": 0,
                                        "missing_on_source": phantom_uploads}
    assert counts["datastore_tables"] == {**counts["datastore_tables"], "created": 1, "failed": 0,
                                          "missing_on_source": phantom_tables}
    print(f"first mirror of {len(expected_names)} datasets: {first_run:.1f}s")  # reported with -s

    # the target's dump equals the source's, ids and timestamps aside
    before = dump(runner, source)
    after = dump(runner, target)
    assert set(before) == set(after) == expected_names
    differing = [
        n
        for n in before
        if normalised(before[n], source.url) != normalised(image_back(after[n], source.url), target.url)
    ]
    assert differing == []

    # the files, byte for byte; the table, row for row, with its data dictionary
    with httpx.Client() as http:
        for rid, digest in files.items():
            res = target.client.action.resource_show(id=rid)
            body = http.get(res["url"]).content
            assert hashlib.sha256(body).hexdigest() == digest
    copy = target.client.action.datastore_search(resource_id=table["resource_id"], limit=1000, sort="_id")
    original = src.action.datastore_search(resource_id=table["resource_id"], limit=1000, sort="_id")
    assert [f for f in copy["fields"]] == [f for f in original["fields"]]
    assert [f.get("info") for f in copy["fields"][1:]] == [f.get("info") for f in fields]
    assert copy["records"] == original["records"] and len(copy["records"]) == 250

    # -- change the source: 3 edited, 1 deleted, 1 added; a hand-made dataset on the target
    names = sorted(expected_names)
    edited, deleted = names[100:103], names[200]
    for n in edited:
        src.action.package_patch(id=n, notes="edited on the source")
    src.action.package_delete(id=deleted)
    src.action.package_create(name="added-on-source", owner_org="fallback", title="New")
    target.client.action.package_create(name="hand-made-on-target", owner_org="fallback")

    with count_actions(monkeypatch) as calls:
        code, report = mirror(runner, source, target, tmp_path, "--since-margin", "0s")
    assert code == 0, report["failures"][:5]
    ds = report["counts"]["datasets"]
    assert (ds["created"], ds["updated"], ds["deleted"]) == (1, 3, 0)
    assert report["gone_from_source"] == [deleted]  # reported, not deleted without --delete-missing
    assert writes(calls) == calls["package_update"] + calls["package_create"] == 4
    # only what changed since the mark is read: the mark's whole second (margin 0s), then the changes
    window = {n for n, d in before.items() if d["metadata_modified"][:19] >= first_mark[:19]}
    assert report["source_datasets_examined"] == len(window | set(edited) | {"added-on-source"}) < 1835 // 2
    assert target.client.action.package_show(id=edited[0])["notes"] == "edited on the source"

    with count_actions(monkeypatch) as calls:
        code, report = mirror(runner, source, target, tmp_path, "--since-margin", "0s", "--delete-missing")
    assert code == 0
    assert report["counts"]["datasets"]["deleted"] == 1
    assert writes(calls) == calls["package_delete"] == 1
    assert target.client.action.package_show(id=deleted)["state"] == "deleted"
    assert target.client.action.package_show(id="hand-made-on-target")["state"] == "active"
    after = dump(runner, target)
    assert set(after) == (expected_names - {deleted}) | {"added-on-source", "hand-made-on-target"}
