"""Content hash and the dataset a sync sends: stable across runs and formats, sensitive to content."""

from __future__ import annotations

import copy
from typing import Any

from ckanx.sync.records import (
    EXTRA_HASH,
    EXTRA_ID,
    EXTRA_SOURCE,
    RESOURCE_KEY,
    SourceRecord,
    content_hash,
    desired_dataset,
)


def _record() -> dict[str, Any]:
    return {
        "id": "11111111-aaaa-4bbb-8ccc-000000000001",
        "name": "lake-temperatures",
        "title": "Lake temperatures",
        "notes": "Hourly.",
        "author": '[{"name": "Sutter", "given_name": "Flurin"}]',  # a JSON-encoded string stays a string
        "private": False,
        "metadata_created": "2020-01-01T00:00:00",
        "metadata_modified": "2021-01-01T00:00:00",
        "organization": {"name": "wsl", "id": "org-1"},
        "owner_org": "org-1",
        "num_tags": 2,
        "tags": [{"name": "WATER", "id": "t1", "display_name": "WATER"}, {"name": "lake", "id": "t2"}],
        "groups": [{"name": "hydrology", "id": "g1", "title": "Hydrology"}],
        "extras": [{"key": "doi", "value": "10.1/x"}, {"key": "ckanx_sync_hash", "value": "v1:upstream"}],
        "resources": [
            {
                "id": "r1",
                "package_id": "11111111-aaaa-4bbb-8ccc-000000000001",
                "position": 0,
                "created": "2020-01-01T00:00:00",
                "name": "data.csv",
                "url": "https://source.example.org/dataset/x/resource/r1/download/data.csv",
                "url_type": "upload",
                "format": "CSV",
            }
        ],
    }


def test_hash_ignores_ids_timestamps_order_and_upstream_sync_extras() -> None:
    a = _record()
    b = copy.deepcopy(a)
    b["id"] = "another-site-id"
    b["metadata_modified"] = "2026-11-22T08:00:00.123456"
    b["owner_org"] = "org-2"
    b["organization"] = {"name": "elsewhere"}
    b["tags"] = list(reversed(b["tags"]))
    b["resources"][0].update(id="r9", package_id="p9", created="2026-01-01", position=3)
    b["extras"] = [{"key": "doi", "value": "10.1/x"}]  # the upstream sync's own extras are not content
    b["notes"] = "Hourly."
    b["version"] = None  # empty values are no content either
    assert content_hash(a) == content_hash(b)
    assert content_hash(a).startswith("v1:") and len(content_hash(a)) == 3 + 64


def test_hash_sees_every_content_change() -> None:
    base = content_hash(_record())
    changes = [
        ("title", "Lake temperatures (hourly)"),
        ("author", '[{"name": "Waldner"}]'),
        ("private", True),
        ("tags", [{"name": "WATER"}]),
        ("groups", []),
        ("extras", [{"key": "doi", "value": "10.1/y"}]),
    ]
    seen = {base}
    for key, value in changes:
        rec = _record()
        rec[key] = value
        digest = content_hash(rec)
        assert digest not in seen, key
        seen.add(digest)
    rec = _record()
    rec["resources"][0]["url"] = "https://source.example.org/other.csv"
    assert content_hash(rec) not in seen


def test_desired_dataset_owner_extras_groups_and_resources() -> None:
    rec = SourceRecord(_record(), "11111111-aaaa-4bbb-8ccc-000000000001", "f line 1")
    out, warnings = desired_dataset(
        rec, name="p-lake-temperatures", owner_org="org-target", source_id="src", digest="v1:abc",
        known_groups=frozenset({"other"}),
    )  # fmt: skip
    assert out["name"] == "p-lake-temperatures"
    assert out["owner_org"] == "org-target"
    assert "id" not in out and "organization" not in out and "metadata_modified" not in out
    assert out["author"] == '[{"name": "Sutter", "given_name": "Flurin"}]'
    assert out["groups"] == []
    assert warnings == ["group 'hydrology' does not exist on the target: not added"]
    assert out["tags"] == [{"name": "WATER"}, {"name": "lake"}]
    extras = {e["key"]: e["value"] for e in out["extras"]}
    assert extras == {
        "doi": "10.1/x",
        EXTRA_SOURCE: "src",
        EXTRA_ID: "11111111-aaaa-4bbb-8ccc-000000000001",
        EXTRA_HASH: "v1:abc",
    }
    (res,) = out["resources"]
    assert res[RESOURCE_KEY] == "r1"
    assert "id" not in res and "package_id" not in res and "position" not in res
    assert "url_type" not in res  # an upload on the source becomes a link to it
    assert res["url"].startswith("https://source.example.org/")


def test_groups_kept_when_known_and_resource_keys_unique() -> None:
    data = _record()
    data["resources"] = [{"name": "a", "url": "http://x/1"}, {"name": "a", "url": "http://x/2"}, {"url": ""}]
    out, warnings = desired_dataset(
        SourceRecord(data, "k"),
        name="n",
        owner_org="o",
        source_id="s",
        digest="d",
        known_groups=frozenset({"hydrology"}),
    )
    assert warnings == []
    assert out["groups"] == [{"name": "hydrology"}]
    assert [r[RESOURCE_KEY] for r in out["resources"]] == ["a", "a#1", "#2"]
