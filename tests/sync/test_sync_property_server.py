"""Hypothesis against the embedded CKAN: random sources, random prior target states, real writes.

For each example: an organization with datasets made by hand and by another source (some holding
names the source wants), an earlier sync of a random source, then a sync of another random source
with a random mode. Afterwards the owned datasets equal the source (every record not stopped by a
name another dataset holds), the other datasets are untouched, and a new plan writes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ckanx.sync
from ckanx.sync.records import EXTRA_DELETED, EXTRA_ID
from ckanx.sync.sources import Source
from ckanx.testing import CKANServer, start_ckan_server

from .helpers import extras, org_datasets


class ListSource(Source):
    """Records given in memory (what a test source needs)."""

    kind = "list"

    def __init__(self, records: list[dict[str, Any]], source_id: str) -> None:
        self.records = records
        self.default_id = source_id
        self.location = source_id

    async def read(self) -> list[ckanx.sync.SourceRecord]:
        return [ckanx.sync.SourceRecord(dict(r), r["id"], f"item {i}") for i, r in enumerate(self.records)]


@pytest.fixture(scope="module")
def site() -> Iterator[CKANServer]:
    srv = start_ckan_server()
    try:
        yield srv
    finally:
        srv.stop()


def source_strategy(prefix: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    record = st.fixed_dictionaries(
        {
            "title": st.sampled_from(["Alpha", "Beta"]),
            "notes": st.sampled_from(["", "some notes"]),
            "tags": st.lists(st.sampled_from(["snow", "rain", "wind"]), unique=True).map(
                lambda ts: [{"name": t} for t in ts]
            ),
            "resources": st.lists(st.sampled_from(["a", "b", "c"]), unique=True).map(
                lambda rs: [{"id": r, "name": r, "url": f"http://example.org/{r}.csv"} for r in rs]
            ),
        }
    )
    keys = st.lists(st.sampled_from(range(6)), unique=True, max_size=6)
    names = st.permutations(range(8))

    @st.composite
    def build(draw: st.DrawFn) -> list[dict[str, Any]]:
        chosen, order = draw(keys), draw(names)
        return [{"id": f"key-{k}", "name": f"{prefix}-n{order[i]}", **draw(record)} for i, k in enumerate(chosen)]

    return build()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_syncs_reach_the_source_and_touch_nothing_else(site: CKANServer, data: st.DataObject) -> None:
    ck = site.client
    uid = uuid.uuid4().hex[:8]
    org = f"prop-{uid}"
    ck.action.organization_create(name=org)
    # other datasets in the organization, some on names the source may want
    foreign_names = data.draw(st.lists(st.sampled_from(range(8)), unique=True, max_size=2), label="foreign")
    for n in foreign_names:
        ck.action.package_create(name=f"{uid}-n{n}-x", owner_org=org, title="by hand")
        if data.draw(st.booleans(), label="clash"):
            ck.action.package_create(
                name=f"{uid}-n{n}", owner_org=org, title="other source",
                extras=[{"key": "ckanx_sync_source", "value": f"src-{uid}-other"},
                        {"key": "ckanx_sync_id", "value": "key-0"}],
            )  # fmt: skip
    foreign = {d["name"]: d["metadata_modified"] for d in org_datasets(ck, org)}

    before = data.draw(source_strategy(uid), label="before")
    ckanx.sync.run(ck, ListSource(before, f"src-{uid}"), into=org, concurrency=3)
    after = data.draw(source_strategy(uid), label="after")
    mode = data.draw(st.sampled_from(["delete", "mark", "keep"]), label="mode")
    report = ckanx.sync.run(
        ck, ListSource(after, f"src-{uid}"), into=org, on_missing=mode, concurrency=3, allow_empty=True
    )

    for name, modified in foreign.items():
        assert ck.action.package_show(id=name)["metadata_modified"] == modified, f"{name} was touched"
    failed = {r.key for r in report.records if r.action == "failed"}
    for r in report.records:
        if r.action == "failed":
            # only a name held by a dataset the sync does not own, by one of this source that keeps it
            # (--mark-deleted/--keep, or its own record failed), or a name swap
            assert (
                r.name in foreign
                or "held by another dataset of this source" in (r.reason or "")
                or ("name swap" in (r.reason or ""))
            ), r.reason
    owned = [d for d in org_datasets(ck, org) if d["name"] not in foreign]
    by_key: dict[str, list[dict[str, Any]]] = {}
    for ds in owned:
        by_key.setdefault(extras(ds)[EXTRA_ID], []).append(ds)
    for rec in after:
        if rec["id"] in failed:
            by_key.pop(rec["id"], None)  # a failed record protects its dataset
            continue
        (ds,) = by_key.pop(rec["id"])
        assert (ds["name"], ds["title"], ds["notes"] or "") == (rec["name"], rec["title"], rec["notes"])
        assert sorted(t["name"] for t in ds["tags"]) == sorted(t["name"] for t in rec["tags"])
        assert [(r["name"], r["url"]) for r in ds["resources"]] == [(r["name"], r["url"]) for r in rec["resources"]]
        assert EXTRA_DELETED not in extras(ds) and ds["state"] == "active"
    leftovers = [d for ds in by_key.values() for d in ds if d.get("state") == "active"]
    if mode == "delete":
        assert leftovers == []
    elif mode == "mark":
        assert all(d["private"] and EXTRA_DELETED in extras(d) for d in leftovers)
    again = ckanx.sync.plan(ck, ListSource(after, f"src-{uid}"), into=org, on_missing=mode, allow_empty=True)
    assert again.writes == []
    assert {a.key for a in again.actions if a.kind == "fail"} == failed
