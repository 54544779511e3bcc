"""Reading tables back: keyset pages on 2.12, offset pages on 2.11, dump segments, resume, async twin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ckanx import AsyncClient, Client
from ckanx.datastore import AsyncDataStore, DataStore
from ckanx.datastore import _export as export_module
from ckanx.testing import embedded_ckan


class Searches(httpx.HTTPTransport):
    """Records the datastore_search bodies and dump query strings."""

    def __init__(self) -> None:
        super().__init__()
        self.searches: list[dict[str, Any]] = []
        self.dumps: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/datastore_search"):
            request.read()
            self.searches.append(json.loads(request.content))
        if "/datastore/dump/" in request.url.path:
            self.dumps.append(str(request.url.query, "ascii"))
        return super().handle_request(request)


def load(ck: Client, rows: int = 250) -> str:
    ck.action.organization_create(name="exp-org")
    pkg = ck.action.package_create(name="exp-ds", owner_org="exp-org")
    records = [{"n": i, "even": i % 2 == 0, "label": f"row {i}"} for i in range(1, rows + 1)]
    created = ck.action.datastore_create(
        resource={"package_id": pkg["id"]},
        fields=[{"id": "n", "type": "int"}, {"id": "even", "type": "bool"}, {"id": "label", "type": "text"}],
        records=records,
    )
    return str(created["resource_id"])


@pytest.mark.parametrize("version", ["2.11", "2.12"])
def test_records_pages(version: str) -> None:
    rec = Searches()
    with embedded_ckan(ckan_version=version) as srv:
        rid = load(srv.client)
        with Client(srv.url, srv.token, transport=rec) as ck:
            ds = DataStore(ck)
            got = list(ds.records(rid, page_rows=40))
            assert [r["n"] for r in got] == list(range(1, 251))
            assert "_id" not in got[0]
            evens = list(ds.records(rid, filters={"even": True}, fields=["n"], page_rows=30))
            assert evens == [{"n": i} for i in range(2, 251, 2)]
            by_label = list(ds.records(rid, sort="n desc", page_rows=100))
            assert [r["n"] for r in by_label] == list(range(250, 0, -1))
    assert all(s["include_total"] is False for s in rec.searches)
    first_walk = rec.searches[:7]  # 250 rows in pages of 40
    if version == "2.12":
        assert all("offset" not in s for s in first_walk)
        assert first_walk[1]["filters"] == {"_id": {"gt": 40}}
    else:
        assert [s.get("offset") for s in first_walk] == [None, 40, 80, 120, 160, 200, 240]
        assert all("filters" not in s or "_id" not in s["filters"] for s in rec.searches)


def test_csv_export_uses_dump_segments_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export_module, "DUMP_SEGMENT_ROWS", 60)
    rec = Searches()
    with embedded_ckan() as srv:
        rid = load(srv.client)
        with Client(srv.url, srv.token, transport=rec) as ck:
            ds = DataStore(ck)
            whole = tmp_path / "whole.csv"
            report = ds.export(rid, whole)
            assert report.rows == 250 and report.method == "/datastore/dump"
            assert len(rec.dumps) == 5
            text = whole.read_text(encoding="utf-8")
            assert text.splitlines()[0] == "n,even,label"
            assert len(text.splitlines()) == 251

            class Crash(Exception):
                pass

            def crash(done: int, _total: int | None) -> None:
                if done >= 120:
                    raise Crash

            part, ckpt = tmp_path / "part.csv", tmp_path / "part.ckpt"
            with pytest.raises(Crash):
                ds.export(rid, part, checkpoint=ckpt, progress=crash)
            with part.open("ab") as f:
                f.write(b"garbage from a write the checkpoint never recorded\n")
            resumed = ds.export(rid, part, checkpoint=ckpt, resume=True)
            assert resumed.resumed_at_rows == 120
            assert part.read_bytes() == whole.read_bytes()
            assert not ckpt.exists()


def test_jsonl_export_resumes(tmp_path: Path) -> None:
    with embedded_ckan(ckan_version="2.12") as srv:
        rid = load(srv.client)
        ds = DataStore(srv.client)
        whole = tmp_path / "whole.jsonl"
        ds.export(rid, whole, "jsonl", page_rows=50)
        lines = [json.loads(x) for x in whole.read_text().splitlines()]
        assert [x["n"] for x in lines] == list(range(1, 251)) and lines[1]["even"] is True

        def crash(done: int, _total: int | None) -> None:
            if done >= 100:
                raise KeyboardInterrupt

        part, ckpt = tmp_path / "part.jsonl", tmp_path / "part.ckpt"
        with pytest.raises(KeyboardInterrupt):
            ds.export(rid, part, "jsonl", page_rows=50, checkpoint=ckpt, progress=crash)
        ds.export(rid, part, "jsonl", page_rows=50, checkpoint=ckpt, resume=True)
        assert part.read_bytes() == whole.read_bytes()


def test_parquet_needs_pyarrow(ckan_server: Any, tmp_path: Path) -> None:
    rid = load(ckan_server.client, rows=3)
    try:
        import pyarrow  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        with pytest.raises(ValueError, match="pyarrow"):
            DataStore(ckan_server.client).export(rid, tmp_path / "x.parquet", "parquet")
    else:  # pragma: no cover - pyarrow is optional
        report = DataStore(ckan_server.client).export(rid, tmp_path / "x.parquet", "parquet")
        assert report.rows == 3


@pytest.mark.anyio
async def test_async_twin(ckan_server: Any, dataset: dict[str, Any], corpus: Path, tmp_path: Path) -> None:
    async with AsyncClient(ckan_server.url, ckan_server.token) as ack:
        ds = AsyncDataStore(ack)
        src = corpus / "thedatahub_org/newcastle-payments-over-500-october_2011.csv"
        report = await ds.import_table(dataset["id"], src, chunk_rows=50)
        assert report.rows_committed == 209 and report.chunks == 5
        seen = [r async for r in ds.records(report.resource_id, page_rows=64)]
        assert len(seen) == 209 and seen[0]["Directorate"] == "Adult and Culture"
        out = await ds.export(report.resource_id, tmp_path / "n.csv")
        assert out.rows == 209
        sync_out = DataStore(ckan_server.client).export(report.resource_id, tmp_path / "s.csv")
        assert (tmp_path / "n.csv").read_bytes() == (tmp_path / "s.csv").read_bytes() and sync_out.rows == 209


@pytest.mark.contract
def test_paging_follows_the_server_version(site: Any, tmp_path: Path) -> None:
    """On the site itself: keyset pages on ``_id`` for CKAN 2.12, offset pages for 2.11; same rows."""
    records = [{"n": i, "even": i % 2 == 0} for i in range(1, 96)]
    rid = site.client.action.datastore_create(
        resource={"package_id": site.dataset["id"], "name": "pages"},
        fields=[{"id": "n", "type": "int"}, {"id": "even", "type": "bool"}], records=records,
    )["resource_id"]
    rec = Searches()
    with Client(site.url, site.token, transport=rec) as ck:
        version = ck.server_info()["ckan_version"]
        ds = DataStore(ck)
        assert list(ds.records(rid, page_rows=40)) == records
        out = tmp_path / "t.jsonl"
        ds.export(rid, out, "jsonl", filters={"even": True}, page_rows=20)
        assert [json.loads(line) for line in out.read_text().splitlines()] == [r for r in records if r["even"]]
    walk, filtered = rec.searches[:3], rec.searches[3:]
    if version.startswith("2.12"):
        assert [s.get("filters") for s in walk] == [None, {"_id": {"gt": 40}}, {"_id": {"gt": 80}}]
        assert all("offset" not in s for s in rec.searches)
        assert filtered[-1]["filters"] == {"even": True, "_id": {"gt": 80}}
    else:
        assert [s.get("offset") for s in walk] == [None, 40, 80]
        assert all("_id" not in (s.get("filters") or {}) for s in rec.searches)
