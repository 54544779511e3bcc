"""Seeding an embedded site from a ckanapi dump."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from ckanx.server.core import EmbeddedCKAN
from ckanx.server.seed import (
    SeedError,
    collect_groups,
    collect_organizations,
    prepare_dataset,
    read_jsonl,
    seed,
)

ORG_A = {
    "id": "11111111-0000-0000-0000-00000000000a",
    "name": "seed-org-a",
    "title": "Org A",
    "description": "first",
    "image_url": "",
    "is_organization": True,
    "state": "active",
}
ORG_B = {"id": "11111111-0000-0000-0000-00000000000b", "name": "seed-org-b", "title": "Org B"}
GROUP = {
    "id": "22222222-0000-0000-0000-000000000001",
    "name": "seed-group",
    "title": "A group",
    "display_name": "A group",
    "image_display_url": "",
}


def dataset(name: str, org: dict | None = ORG_A, **extra: object) -> dict:
    ds = {
        "id": f"33333333-0000-0000-0000-{abs(hash(name)) % 10**12:012d}",
        "name": name,
        "title": f"Title of {name} 水質",
        "notes": "line one\r\nline two",
        "organization": org,
        "owner_org": org["id"] if org else None,
        "groups": [],
        "tags": [{"name": "water", "id": "x", "display_name": "water", "state": "active", "vocabulary_id": None}],
        "resources": [
            {
                "id": f"44444444-0000-0000-0000-{abs(hash(name + 'r')) % 10**12:012d}",
                "name": "data.csv",
                "url": "http://example.org/data.csv",
                "format": "CSV",
                "package_id": "from-another-site",
                "position": 0,
                "resource_crs": 4326,
            }
        ],
        "num_resources": 1,
        "num_tags": 1,
        "metadata_modified": "2020-01-01T00:00:00",
        "creator_user_id": "someone-elsewhere",
        "private": False,
        "state": "active",
        "type": "dataset",
    }
    ds.update(extra)
    return ds


# -- reading


def test_read_jsonl_plain_and_gzip_are_equal(tmp_path: Path) -> None:
    rows = [dataset("a"), dataset("b", org=None)]
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n"
    (tmp_path / "d.jsonl").write_text(text, encoding="utf-8")
    with gzip.open(tmp_path / "d.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(text)
    # gzip is recognised by content, not by name
    (tmp_path / "gz-without-suffix").write_bytes((tmp_path / "d.jsonl.gz").read_bytes())
    assert read_jsonl(tmp_path / "d.jsonl") == rows
    assert read_jsonl(tmp_path / "d.jsonl.gz") == rows
    assert read_jsonl(tmp_path / "gz-without-suffix") == rows


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"a": 1}\n{"b": \n', r":2: bad JSON: "),
        (b'{"a": 1}\n"just a string"\n', r":2: expected a JSON object per line"),
        (b"\x1f\x8b\x08\x00not really gzip", r"d\.jsonl: "),
        (b'{"a": "\xff"}\n', r"cannot decode"),
    ],
)
def test_read_jsonl_errors_are_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(content)
    with pytest.raises(SeedError, match=message) as info:
        read_jsonl(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_read_jsonl_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="No such file or directory"):
        read_jsonl(tmp_path / "missing.jsonl")


# -- preparing


def test_collect_organizations_and_groups_by_name_first_seen() -> None:
    rows = [
        dataset("a", groups=[GROUP]),
        dataset("b", org=ORG_B, groups=[GROUP, {"name": "g2", "title": "G2"}]),
        dataset("c", org=None),
        dataset("d", org=dict(ORG_A, title="Renamed later")),
    ]
    assert collect_organizations(rows) == [
        {"id": ORG_A["id"], "name": "seed-org-a", "title": "Org A", "description": "first"},
        {"id": ORG_B["id"], "name": "seed-org-b", "title": "Org B"},
    ]
    assert collect_groups(rows) == [
        {"id": GROUP["id"], "name": "seed-group", "title": "A group"},
        {"name": "g2", "title": "G2"},
    ]


def test_prepare_dataset_refers_by_name_and_drops_server_keys() -> None:
    src = dataset(
        "a",
        groups=[GROUP],
        tags=[
            {"name": "water", "vocabulary_id": None},
            {"name": "Taipei", "vocabulary_id": "some-vocab-id"},
        ],
        data_type=["archive"],
    )
    out = prepare_dataset(src)
    assert out is not None
    assert out["owner_org"] == "seed-org-a"
    assert out["groups"] == [{"name": "seed-group"}]
    assert out["tags"] == [{"name": "water"}]
    assert out["id"] == src["id"] and out["name"] == "a"
    assert out["data_type"] == ["archive"]  # custom schema fields are passed on
    for key in ("organization", "num_resources", "num_tags", "metadata_modified", "creator_user_id"):
        assert key not in out
    (res,) = out["resources"]
    assert res == {
        "id": src["resources"][0]["id"],
        "name": "data.csv",
        "url": "http://example.org/data.csv",
        "format": "CSV",
        "resource_crs": 4326,
    }
    assert src["resources"][0]["package_id"] == "from-another-site"  # input untouched


def test_prepare_dataset_without_organization() -> None:
    src = dataset("orphan", org=None)
    assert prepare_dataset(src) is None
    out = prepare_dataset(src, default_owner_org="fallback")
    assert out is not None and out["owner_org"] == "fallback"


# -- seeding a site (through the real action functions)


@pytest.fixture
def site(tmp_path: Path):  # type: ignore[no-untyped-def]
    with EmbeddedCKAN(tmp_path / "site") as s:
        yield s


def _show(site: EmbeddedCKAN, action: str, data: dict) -> dict:
    from ckanx.server.seed import _Caller

    return _Caller(site)(action, data)  # type: ignore[no-any-return]


def test_seed_creates_orgs_groups_datasets_and_reports(site: EmbeddedCKAN) -> None:
    rows = [
        dataset("seed-a", groups=[GROUP]),
        dataset("seed-b", org=ORG_B),
        dataset("seed-orphan", org=None),
    ]
    report = seed(site, rows)
    assert (report.read, report.datasets_created) == (3, 2)
    assert (report.organizations_created, report.groups_created) == (2, 1)
    assert report.skipped_no_org == ["seed-orphan"]
    assert report.failed == []
    assert report.created_ids == [rows[0]["id"], rows[1]["id"]]
    pkg = _show(site, "package_show", {"id": "seed-a"})
    assert pkg["id"] == rows[0]["id"]
    assert pkg["title"] == rows[0]["title"]
    assert pkg["organization"]["name"] == "seed-org-a"
    assert [g["name"] for g in pkg["groups"]] == ["seed-group"]
    assert [t["name"] for t in pkg["tags"]] == ["water"]
    assert [r["id"] for r in pkg["resources"]] == [rows[0]["resources"][0]["id"]]
    assert pkg["resources"][0]["package_id"] == pkg["id"]
    assert _show(site, "organization_show", {"id": "seed-org-b"})["title"] == "Org B"
    assert "skipped without an organization" in report.summary()


def test_seed_default_owner_org_is_created(site: EmbeddedCKAN) -> None:
    report = seed(site, [dataset("seed-orphan", org=None)], default_owner_org="imported")
    assert report.datasets_created == 1 and report.skipped_no_org == []
    assert report.organizations_created == 1
    pkg = _show(site, "package_show", {"id": "seed-orphan"})
    assert pkg["organization"]["name"] == "imported"


def test_seed_twice_reports_existing_and_failures(site: EmbeddedCKAN) -> None:
    rows = [dataset("seed-a", groups=[GROUP])]
    seed(site, rows)
    again = seed(site, rows)
    assert again.organizations_existing == 1 and again.groups_existing == 1
    assert again.organizations_created == 0 and again.datasets_created == 0
    assert [name for name, _ in again.failed] == ["seed-a"]
    # as on CKAN 2.11.6: the kept id is what collides first
    assert again.failed[0][1] == json.dumps({"id": ["Dataset id already exists"]})


def test_seed_from_a_gzip_file(site: EmbeddedCKAN, tmp_path: Path) -> None:
    path = tmp_path / "dump.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for ds in (dataset("seed-x"), dataset("seed-y")):
            f.write(json.dumps(ds) + "\n")
    report = seed(site, path)
    assert report.datasets_created == 2
    names = _show(site, "package_list", {})
    assert sorted(names) == ["seed-x", "seed-y"]
