"""Property: the keyset pagers return each surviving dataset exactly once while the catalogue changes.

The walks of ``ckanx dump datasets --all`` (:func:`ckanx.bulk.dump.run_dump`) and of ``ckanx search``
without ``sort`` (:func:`ckanx.bulk.actions.search_datasets`) page ``package_search`` by ``id``
(``sort=id asc``, ``fq=id:{"<last id>" TO *]``). Here they page through an embedded CKAN whose rows
cap is lowered to 4, and before each page request a hypothesis-drawn schedule creates datasets
(ids anywhere relative to the cursor), renames datasets (a new ``name``, the same ``id``) and deletes
datasets. The schedule runs inside the client's ``call_action``, so it is interleaved with the page
requests deterministically (no threads, no timing).

Property: every dataset that existed for the whole walk (renamed or not) is returned exactly once;
no id is returned twice; a dataset deleted or created during the walk is returned at most once.
``dump`` ends with a count check against the site: it may fail only when datasets were created or
deleted, and when it does not fail the number written equals the site's count.
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckanx import AsyncClient
from ckanx.bulk.actions import search_datasets
from ckanx.bulk.dump import DumpCountMismatch, DumpOptions, run_dump
from ckanx.bulk.engine import Progress, RecordLog
from ckanx.bulk.jsonl import DurableOutput
from ckanx.testing import CKANServer, start_ckan_server

ROWS = 4  # the site's rows cap: 12-20 datasets take 3-6 pages
ORG = "pp-org"

# (before which page request, what, a number choosing the dataset or the new id)
Mutation = tuple[int, str, int]
schedules = st.lists(
    st.tuples(st.integers(0, 6), st.sampled_from(["create", "rename", "delete"]), st.integers(0, 2**32)),
    max_size=10,
)


@pytest.fixture(scope="module")
def site() -> Iterator[CKANServer]:
    from ckanx.server.search import actions

    srv = start_ckan_server()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(actions, "ROWS_MAX", ROWS)
        try:
            yield srv
        finally:
            srv.stop()


def _id(n: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"pager-{n}"))


class Catalogue:
    """The site's datasets, reset and seeded per example, and the drawn mutations, applied in order."""

    def __init__(self, srv: CKANServer, initial: int, schedule: list[Mutation]) -> None:
        self.srv = srv
        srv.reset()
        srv.seed([{"id": _id(i), "name": f"pp-{i:03d}", "title": f"Pager {i}", "organization": {"name": ORG}}
                  for i in range(initial)])
        self.initial = {_id(i) for i in range(initial)}
        self.alive = set(self.initial)
        self.deleted: set[str] = set()
        self.created: set[str] = set()
        self.renamed: set[str] = set()
        self.pending = sorted(schedule, key=lambda m: m[0])  # stable: same-page mutations keep their order
        self.page = 0

    def before_page(self) -> None:
        """Run the mutations scheduled before this page request (and any left from earlier pages)."""
        ck = self.srv.client
        while self.pending and self.pending[0][0] <= self.page:
            _, what, n = self.pending.pop(0)
            if what == "create":
                new = str(uuid.UUID(int=(n * 0x9E3779B97F4A7C15) % 2**128))  # spread over the id space
                if new in self.alive or new in self.deleted:
                    continue
                ck.action.package_create(id=new, name=f"pp-new-{n}", owner_org=ORG)
                self.alive.add(new)
                self.created.add(new)
            elif self.alive:
                target = sorted(self.alive)[n % len(self.alive)]
                if what == "rename":
                    ck.action.package_patch(id=target, name=f"pp-renamed-{n}-{len(self.renamed)}")
                    self.renamed.add(target)
                else:
                    ck.action.package_delete(id=target)
                    self.alive.discard(target)
                    self.deleted.add(target)
        self.page += 1

    def check(self, returned: list[str]) -> None:
        twice = [i for i, c in Counter(returned).items() if c > 1]
        assert not twice, f"returned twice: {twice}"
        survivors = self.initial - self.deleted
        missing = survivors - set(returned)
        assert not missing, f"{len(missing)} datasets that existed for the whole walk were not returned"
        unknown = set(returned) - self.initial - self.created
        assert not unknown, f"ids that never existed: {unknown}"


class Interleaving:
    """An async client that runs the catalogue's scheduled mutations before each page request."""

    def __init__(self, inner: AsyncClient, catalogue: Catalogue) -> None:
        self.inner = inner
        self.catalogue = catalogue
        self.pages = 0

    async def call_action(self, name: str, data: Any = None, files: Any = None, **kw: Any) -> Any:
        if name == "package_search" and (data or {}).get("rows") != 0:
            self.catalogue.before_page()
            self.pages += 1
        return await self.inner.call_action(name, data, files, **kw)


def _walk_dump(srv: CKANServer, catalogue: Catalogue, out_path: Path) -> tuple[list[str], bool, int]:
    """Run the dump's keyset walk; returns (ids written, whether the count check failed, pages)."""

    async def go() -> tuple[bool, int]:
        async with AsyncClient(srv.url, srv.token) as ck:
            client = Interleaving(ck, catalogue)
            out = DurableOutput(out_path, gzip_output=False)
            try:
                await run_dump(client, DumpOptions(thing="datasets"), out,
                               progress=Progress("dump", quiet=True, stream=io.StringIO()), log=RecordLog(None))
            except DumpCountMismatch:
                return True, client.pages
            finally:
                out.close()
            return False, client.pages

    mismatch, pages = asyncio.run(go())
    ids = [json.loads(line)["id"] for line in out_path.read_text(encoding="utf-8").splitlines() if line]
    return ids, mismatch, pages


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(initial=st.integers(6, 20), schedule=schedules)
def test_dump_keyset_walk_returns_each_survivor_once(
    site: CKANServer, tmp_path: Path, initial: int, schedule: list[Mutation]
) -> None:
    catalogue = Catalogue(site, initial, schedule)
    out = tmp_path / f"dump-{uuid.uuid4().hex}.jsonl"
    ids, mismatch, pages = _walk_dump(site, catalogue, out)
    catalogue.check(ids)
    survivors = len(catalogue.initial - catalogue.deleted)
    assert pages >= (2 if survivors > ROWS else 1)  # it really paged
    if not (catalogue.created or catalogue.deleted):
        assert not mismatch, "the count check failed although no dataset was created or deleted"
    if not mismatch:
        assert len(ids) == site.client.action.package_search(rows=0)["count"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(initial=st.integers(6, 20), schedule=schedules)
def test_search_keyset_walk_returns_each_survivor_once(
    site: CKANServer, tmp_path: Path, initial: int, schedule: list[Mutation]
) -> None:
    catalogue = Catalogue(site, initial, schedule)
    out_path = tmp_path / f"search-{uuid.uuid4().hex}.jsonl"

    async def go() -> int:
        async with AsyncClient(site.url, site.token) as ck:
            out = DurableOutput(out_path, gzip_output=False)
            try:
                return await search_datasets(Interleaving(ck, catalogue), {"q": "*:*"}, out,
                                             progress=Progress("search", quiet=True, stream=io.StringIO()))
            finally:
                out.close()

    written = asyncio.run(go())
    ids = [json.loads(line)["id"] for line in out_path.read_text(encoding="utf-8").splitlines() if line]
    assert written == len(ids)
    catalogue.check(ids)


def test_the_property_detects_a_pager_that_repeats_a_page(site: CKANServer, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The check is not vacuous: an offset pager (start += rows) with a delete mid-walk is caught."""
    catalogue = Catalogue(site, 12, [(1, "delete", 0)])
    seen: list[str] = []

    async def offset_walk() -> None:
        async with AsyncClient(site.url, site.token) as ck:
            client = Interleaving(ck, catalogue)
            start = 0
            while True:
                page = await client.call_action("package_search", {"q": "*:*", "sort": "id asc", "rows": ROWS,
                                                                   "start": start})
                if not page["results"]:
                    return
                seen.extend(r["id"] for r in page["results"])
                start += ROWS

    asyncio.run(offset_walk())
    with pytest.raises(AssertionError, match="not returned"):
        catalogue.check(seen)  # the first page's first id was deleted: offsets shift, one survivor is skipped


@pytest.mark.xfail(strict=True, reason="known gap: with a caller's sort, `search` pages by offset")
def test_search_with_a_sort_returns_each_survivor_once(site: CKANServer, tmp_path: Path) -> None:
    """``ckanx search datasets sort=...`` honours the caller's order with offset pages, dropping
    repeats. A rename during the walk moves a dataset that was already written from the first page
    to the end, every later one shifts back by one, and a dataset that existed throughout is never
    written. Found by hypothesis (``initial=6, schedule=[(1, "rename", 2)], sort="name asc"``);
    strict xfail: it fails — and must be unmarked — once the sorted walk no longer skips."""
    catalogue = Catalogue(site, 6, [(1, "rename", 2)])
    out_path = tmp_path / "sorted.jsonl"

    async def go() -> int:
        async with AsyncClient(site.url, site.token) as ck:
            out = DurableOutput(out_path, gzip_output=False)
            try:
                return await search_datasets(Interleaving(ck, catalogue), {"q": "*:*", "sort": "name asc"}, out,
                                             progress=Progress("search", quiet=True, stream=io.StringIO()))
            finally:
                out.close()

    asyncio.run(go())
    catalogue.check([json.loads(line)["id"] for line in out_path.read_text(encoding="utf-8").splitlines() if line])
