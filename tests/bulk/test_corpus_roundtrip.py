"""Round trip of a real portal's dump (depositar, 1839 datasets) through ``ckanx load`` and ``ckanx dump``.

Load into an empty embedded site over HTTP, dump it back, compare: every dataset present once,
content equal apart from ids and timestamps. Datasets without an organization are refused with
CKAN's own reason, then load with ``--owner-org``; the second run skips everything already there.
The corpus lives in ``<repo>/../shared/corpus`` (see its SOURCE.md).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from click.testing import CliRunner

from tests.bulk.helpers import cli, count_actions, jsonl, read_log, writes

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "depositar_tw" / "datasets.jsonl.gz"
# refused by CKAN 2.11.6 itself (checked on the oracle; see tests/server/test_seed_corpus.py)
REFUSED = {"a13b3"} | {f"taiwanzhixiashiyijixian%28shi%29xingzhengquyujiexian-{n}" for n in (103909, 103749, 102906)}


def _file_name(url: str) -> str:
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1])


def comparable(ds: dict[str, Any], org: str | None = None) -> dict[str, Any]:
    """What must survive a round trip (ids, timestamps and site URLs aside)."""
    return {
        "name": ds["name"],
        "title": ds.get("title") or "",
        "notes": ds.get("notes") or "",
        "private": bool(ds.get("private")),
        "license_id": ds.get("license_id") or "",
        "url": ds.get("url") or "",
        "version": ds.get("version") or "",
        "author": ds.get("author") or "",
        "maintainer": ds.get("maintainer") or "",
        "organization": (ds.get("organization") or {}).get("name") or org,
        "tags": sorted(t["name"] for t in ds.get("tags") or []),
        "groups": sorted(g["name"] for g in ds.get("groups") or []),
        "resources": [
            (
                r.get("name") or "",
                r.get("description") or "",
                # CKAN rewrites formats: "video/mp4" becomes "MP4", "audio/x-wav" "WAV"
                (r.get("format") or "").lower().rsplit("/", 1)[-1].removeprefix("x-"),
                # an upload's name is rewritten by the site (lower case, cleaned, cut): keep the extension
                ("upload", _file_name(r["url"]).rsplit(".", 1)[-1].lower())
                if r.get("url_type") == "upload"
                else (r.get("url") or ""),
            )
            for r in ds.get("resources") or []
        ],
    }


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


def test_depositar_round_trip(
    runner: CliRunner, ckan_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert CORPUS.is_file(), f"corpus not found at {CORPUS}"
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        source = jsonl(f.read())
    assert len(source) == 1839
    orphans = {d["name"] for d in source if not d.get("organization")}
    assert len(orphans) == 227

    # organizations and groups first, from the datasets' own references
    orgs = {d["organization"]["name"]: d["organization"] for d in source if d.get("organization")}
    groups = {g["name"]: g for d in source for g in d.get("groups") or []}
    for thing, objs in (("organizations", orgs), ("groups", groups)):
        path = tmp_path / f"{thing}.jsonl"
        path.write_text("".join(json.dumps(o) + "\n" for o in objs.values()))
        result = cli(runner, ckan_server, "load", thing, "-I", str(path), "-p", "4", "-q")
        assert result.exit_code == 0, result.stderr

    log = tmp_path / "first.jsonl"
    ckpt = tmp_path / "ck"
    first = cli(
        runner, ckan_server, "load", "datasets", "-I", str(CORPUS), "-p", "8", "-l", str(log), "--checkpoint", str(ckpt)
    )
    assert first.exit_code == 3  # some records refused
    entries = read_log(log)
    assert len(entries) == 1839
    failed = {e["name"]: e["error"] for e in entries if e["status"] == "error"}
    assert set(failed) == orphans | REFUSED
    assert all(failed[n] == "owner_org: An organization must be provided" for n in orphans - REFUSED)
    assert 'Tag "犬" length is less than minimum 2' in failed["a13b3"]

    # the orphans load with a default organization; nothing already there is written again
    ckan_server.client.action.organization_create(name="fallback")
    log2 = tmp_path / "second.jsonl"
    with count_actions(monkeypatch) as calls:
        second = cli(
            runner,
            ckan_server,
            "load",
            "datasets",
            "-I",
            str(CORPUS),
            "-p",
            "8",
            "-l",
            str(log2),
            "--owner-org",
            "fallback",
            "--checkpoint",
            str(ckpt),
        )
    assert second.exit_code == 3  # the four CKAN refuses still fail
    statuses = {e["name"]: e["status"] for e in read_log(log2)}
    assert {n for n, s in statuses.items() if s == "created"} == orphans - REFUSED
    assert {n for n, s in statuses.items() if s == "error"} == REFUSED
    assert {n for n, s in statuses.items() if s == "unchanged"} == {d["name"] for d in source} - orphans - REFUSED
    assert writes(calls) == calls["package_create"] == len(orphans - REFUSED) + len(REFUSED)

    dumped = cli(runner, ckan_server, "dump", "datasets", "--all", "--include-private", "--include-drafts", "-q")
    assert dumped.exit_code == 0, dumped.stderr
    back = jsonl(dumped.stdout)
    names = [d["name"] for d in back]
    assert len(names) == len(set(names)) == 1839 - len(REFUSED)
    by_name = {d["name"]: d for d in back}
    mismatched = [
        d["name"]
        for d in source
        if d["name"] not in REFUSED
        and comparable(d, "fallback" if d["name"] in orphans else None) != comparable(by_name[d["name"]])
    ]
    assert mismatched == []
