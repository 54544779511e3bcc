"""Sources: JSON lines (plain and gzip), directories of JSON/YAML files, Data Packages, another CKAN."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from ckanx.bulk.jsonl import InputError
from ckanx.sync.records import content_hash
from ckanx.sync.sources import (
    CKANSource,
    DatapackageSource,
    DirectorySource,
    JsonLinesSource,
    datapackage_to_dataset,
    open_source,
)


def _read(source: Any) -> list[Any]:
    return asyncio.run(source.read())


def test_json_lines_plain_and_gzip(tmp_path: Path) -> None:
    rows = [{"id": "a1", "name": "a"}, {"name": "b"}, [1, 2]]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    plain = tmp_path / "datasets.jsonl"
    plain.write_text(text + "\n")
    packed = tmp_path / "datasets.jsonl.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    for path in (plain, packed):
        src = open_source(path)
        assert isinstance(src, JsonLinesSource) and src.default_id == "datasets"
        recs = _read(src)
        assert [(r.key, r.error) for r in recs] == [
            ("a1", None),
            ("b", None),
            (None, "expected a JSON object, got list"),
        ]
        assert recs[1].origin == "datasets.jsonl line 2" or recs[1].origin == "datasets.jsonl.gz line 2"


def test_malformed_json_line_is_one_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"name": "a"}\n{"name": \n')
    with pytest.raises(InputError, match="line 2: invalid JSON"):
        _read(open_source(bad))


def test_directory_of_json_yaml_and_datapackages(tmp_path: Path) -> None:
    (tmp_path / "b-lake.yaml").write_text("title: Lake\ntags:\n  - name: water\n")
    (tmp_path / "a-two.json").write_text(json.dumps([{"name": "x", "id": "X"}, {"name": "y"}]))
    (tmp_path / "notes.txt").write_text("ignored")
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "datapackage.json").write_text(
        json.dumps({"name": "pkg-data", "resources": [{"path": "https://e.org/d.csv"}]})
    )
    src = open_source(tmp_path)
    assert isinstance(src, DirectorySource) and src.default_id == tmp_path.name
    recs = _read(src)
    assert [(r.dataset.get("name"), r.key, r.origin) for r in recs] == [
        ("x", "X", "a-two.json item 1"),
        ("y", "y", "a-two.json item 2"),
        ("b-lake", "b-lake", "b-lake.yaml"),  # no name: the file's name
        ("pkg-data", "pkg-data", "pkg/datapackage.json"),
    ]
    assert recs[2].dataset["tags"] == [{"name": "water"}]


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("title: [unclosed\n")
    with pytest.raises(InputError, match=r"x\.yaml: invalid YAML"):
        _read(open_source(tmp_path))


def test_datapackage_mapping() -> None:
    package = {
        "name": "air-quality",
        "id": "urn:aq",
        "title": "Air quality",
        "description": "Hourly NO2.",
        "homepage": "https://aq.example.org",
        "version": "1.2",
        "keywords": ["air", "no2"],
        "licenses": [{"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/"}],
        "contributors": [
            {"title": "Ana", "email": "ana@example.org", "role": "author"},
            {"title": "Ops", "roles": ["maintainer"]},
        ],
        "resources": [
            {"name": "no2", "path": "https://aq.example.org/no2.csv", "format": "csv", "mediatype": "text/csv",
             "bytes": 120, "hash": "sha256:ab"},
            {"name": "local", "path": "data/local.csv"},
            {"name": "inline", "data": [[1, 2]]},
            {"name": "dumped", "path": "data/x.csv", "url": "https://ckan.example.org/x.csv", "ckan_id": "r-1"},
        ],
    }  # fmt: skip
    dataset, key, warnings = datapackage_to_dataset(package)
    assert key == "urn:aq"
    assert {k: dataset[k] for k in ("name", "title", "notes", "url", "version", "license_id", "author")} == {
        "name": "air-quality",
        "title": "Air quality",
        "notes": "Hourly NO2.",
        "url": "https://aq.example.org",
        "version": "1.2",
        "license_id": "CC-BY-4.0",
        "author": "Ana",
    }
    assert dataset["author_email"] == "ana@example.org" and dataset["maintainer"] == "Ops"
    assert dataset["tags"] == [{"name": "air"}, {"name": "no2"}]
    assert dataset["resources"] == [
        {"name": "no2", "url": "https://aq.example.org/no2.csv", "format": "csv", "mimetype": "text/csv",
         "size": 120, "hash": "sha256:ab", "id": "no2"},
        {"name": "local", "url": "", "id": "local"},
        {"name": "dumped", "url": "https://ckan.example.org/x.csv", "id": "r-1"},
    ]  # fmt: skip
    assert warnings == [
        "resource 'local': local file data/local.csv is not uploaded (sync links resources)",
        "resource 'inline': inline data is not synced",
    ]


def test_datapackage_file_or_directory(tmp_path: Path) -> None:
    (tmp_path / "datapackage.json").write_text(json.dumps({"name": "p", "resources": []}))
    for spec in (tmp_path, tmp_path / "datapackage.json"):
        src = open_source(spec)
        assert isinstance(src, DatapackageSource) and src.default_id == "p"
        (rec,) = _read(src)
        assert rec.key == "p" and rec.dataset["name"] == "p"


def test_open_source_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        open_source(tmp_path / "missing.jsonl")
    with pytest.raises(InputError, match=r"ckan\+https://x\.org"):
        open_source("https://x.org")
    with pytest.raises(InputError, match="unknown query parameter"):
        open_source("ckan+https://x.org?rows=5")
    with pytest.raises(InputError, match="--source-query applies to a CKAN source"):
        open_source(tmp_path, query="water")


def test_ckan_source_walks_every_dataset_by_keyset(ckan_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from ckanx.server.search import actions

    monkeypatch.setattr(actions, "ROWS_MAX", 7)  # a site with a small rows cap: several pages
    ck = ckan_server.client
    ck.action.organization_create(name="src-org")
    for i in range(23):
        ck.action.package_create(
            name=f"src-{i:02d}", owner_org="src-org", tags=[{"name": "even" if i % 2 == 0 else "odd"}]
        )
    ck.action.package_create(name="src-private", owner_org="src-org", private=True)
    url = "ckan+" + ckan_server.url
    src = open_source(url)
    assert isinstance(src, CKANSource) and src.default_id == ckan_server.url.split("://")[1]
    recs = _read(src)
    assert sorted(r.dataset["name"] for r in recs) == [f"src-{i:02d}" for i in range(23)]  # anonymous: public only
    assert all(r.key == r.dataset["id"] for r in recs)
    odd = _read(open_source(url + "?fq=tags:odd"))
    assert len(odd) == 11
    assert open_source(url + "?fq=tags:odd").default_id.endswith("?fq=tags%3Aodd")
    private = _read(open_source(url + "?include_private=true", token=ckan_server.token))
    assert len(private) == 24
    # the same dataset hashes the same whether it comes from the site or from a dump of it
    dumped = json.loads(json.dumps(ck.action.package_show(id="src-03")))
    assert content_hash(next(r.dataset for r in recs if r.dataset["name"] == "src-03")) == content_hash(dumped)
