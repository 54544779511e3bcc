"""Import behaviour: chunk bounds, record counts, lost answers, dry runs, keys, resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ckanx import Client
from ckanx.datastore import DataStore, ImportFailed, SourceError
from ckanx.datastore import _import as import_module
from ckanx.testing import embedded_ckan


class Recorder(httpx.HTTPTransport):
    """Records datastore_upsert bodies; can lose the answer of chosen upserts (after or before they land)."""

    def __init__(self, lose: set[int] | None = None, land: bool = True, max_body: int | None = None) -> None:
        super().__init__()
        self.max_body = max_body
        self.lose = lose or set()
        self.land = land
        self.upserts: list[dict[str, Any]] = []
        self.sizes: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/datastore_upsert"):
            request.read()
            self.upserts.append(json.loads(request.content))
            self.sizes.append(len(request.content))
            if self.max_body is not None and len(request.content) > self.max_body:
                # what nginx answers for client_max_body_size
                return httpx.Response(413, html="<html><title>413 Request Entity Too Large</title></html>")
            if len(self.upserts) in self.lose:
                if self.land:
                    response = super().handle_request(request)
                    response.read()
                    response.close()
                raise httpx.ReadError("connection reset by peer", request=request)
        return super().handle_request(request)


def write_csv(path: Path, rows: int) -> Path:
    lines = ["id,name,amount"] + [f"{i},name {i} {'x' * (i % 50)},{i}.25" for i in range(1, rows + 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def client_for(srv: Any, transport: httpx.BaseTransport) -> Client:
    """A client of the embedded server or of a ``site`` (both have ``url`` and ``token``)."""
    return Client(srv.url, srv.token, transport=transport, retries=1)


def table_ids(ds: DataStore, rid: str) -> list[int]:
    return [r["id"] for r in ds.records(rid, fields=["id"], page_rows=700)]


@pytest.mark.contract
def test_chunks_bounded_by_rows_and_bytes(site: Any, tmp_path: Path) -> None:
    dataset = site.dataset
    src = write_csv(tmp_path / "t.csv", 2000)
    rec = Recorder()
    with client_for(site, rec) as ck:
        ds = DataStore(ck)
        report = ds.import_table(dataset["id"], src, chunk_rows=500, chunk_bytes=20_000)
        assert report.rows_committed == 2000
        assert len(rec.upserts) == report.chunks > 4  # bytes, not rows, bound these chunks
        assert all(len(u["records"]) <= 500 for u in rec.upserts)
        # every request body stays within the byte bound
        assert max(rec.sizes) <= 20_000 and max(rec.sizes) > 15_000
        # record counting only on the last chunk: 2.11 gets calculate_record_count=true there, 2.12
        # counts in the background by default, so the parameter is left out
        last = None if ck.server_version() >= (2, 12) else True
        assert [u.get("calculate_record_count") for u in rec.upserts] == [False] * (len(rec.upserts) - 1) + [last]
        assert table_ids(ds, report.resource_id) == list(range(1, 2001))
        rec.upserts.clear()
        rows = DataStore(ck).import_table(dataset["id"], src, chunk_rows=2000, chunk_bytes=10**7)
        assert rows.chunks == 1 and rec.upserts[0].get("calculate_record_count") is last


def test_record_count_left_to_212_default(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "t.csv", 30)
    rec = Recorder()
    with embedded_ckan(ckan_version="2.12") as srv:
        srv.client.action.organization_create(name="org-212")
        pkg = srv.client.action.package_create(name="pkg-212", owner_org="org-212")
        with client_for(srv, rec) as ck:
            DataStore(ck).import_table(pkg["id"], src, chunk_rows=10)
    assert [u.get("calculate_record_count", "absent") for u in rec.upserts] == [False, False, "absent"]


@pytest.mark.contract
@pytest.mark.parametrize("land", [True, False])
def test_lost_answer_never_duplicates_rows(site: Any, tmp_path: Path, land: bool,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    dataset = site.dataset
    monkeypatch.setattr(import_module, "SETTLE_SECONDS", 0.3)
    monkeypatch.setattr(import_module, "SETTLE_POLL", 0.1)
    src = write_csv(tmp_path / "t.csv", 1000)
    rec = Recorder(lose={2, 4}, land=land)
    with client_for(site, rec) as ck:
        ds = DataStore(ck)
        report = ds.import_table(dataset["id"], src, chunk_rows=200)
        assert report.reconciled == 2
        assert table_ids(ds, report.resource_id) == list(range(1, 1001))
        # resent only when the chunk had not landed
        assert len(rec.upserts) == (5 if land else 7)
        assert report.warnings == []


def test_a_chunk_still_running_after_a_timeout_is_waited_for(ckan_server: Any, dataset: dict[str, Any],
                                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The answer times out but the server commits the chunk later: it must not be sent again."""
    import threading

    monkeypatch.setattr(import_module, "SETTLE_POLL", 0.1)
    src = write_csv(tmp_path / "t.csv", 600)
    late: list[threading.Thread] = []

    class SlowCommit(Recorder):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/datastore_upsert") and not late:
                request.read()
                self.upserts.append(json.loads(request.content))
                forward = httpx.Request(request.method, request.url, headers=request.headers,
                                        content=request.content)

                def commit_later() -> None:
                    import time

                    time.sleep(0.6)
                    with httpx.HTTPTransport() as t:
                        t.handle_request(forward).read()

                late.append(threading.Thread(target=commit_later))
                late[0].start()
                raise httpx.ReadTimeout("timed out", request=request)
            return super().handle_request(request)

    rec = SlowCommit()
    with client_for(ckan_server, rec) as ck:
        ds = DataStore(ck)
        report = ds.import_table(dataset["id"], src, chunk_rows=200)
        late[0].join()
        assert report.reconciled == 1 and report.warnings == []
        assert table_ids(ds, report.resource_id) == list(range(1, 601))
        assert len(rec.upserts) == 3  # the first chunk was never sent twice


def test_too_large_chunks_are_halved(ckan_server: Any, dataset: dict[str, Any], tmp_path: Path) -> None:
    src = write_csv(tmp_path / "t.csv", 1000)
    rec = Recorder(max_body=12_000)
    with client_for(ckan_server, rec) as ck:
        ds = DataStore(ck)
        report = ds.import_table(dataset["id"], src, chunk_rows=1000)
        assert report.split_chunks >= 3 and report.rows_committed == 1000
        accepted = [u for u, size in zip(rec.upserts, rec.sizes, strict=True) if size <= 12_000]
        assert sum(len(u["records"]) for u in accepted) == 1000
        assert [u.get("calculate_record_count") for u in accepted][-1] is True
        assert not any(u.get("calculate_record_count") for u in accepted[:-1])
        assert table_ids(ds, report.resource_id) == list(range(1, 1001))


def test_lost_answer_with_a_key_is_simply_retried(ckan_server: Any, dataset: dict[str, Any],
                                                  tmp_path: Path) -> None:
    src = write_csv(tmp_path / "t.csv", 600)
    rec = Recorder(lose={2})
    with client_for(ckan_server, rec) as ck:
        ds = DataStore(ck)
        report = ds.import_table(dataset["id"], src, chunk_rows=200, primary_key=["id"])
        assert report.method == "upsert" and report.reconciled == 0
        assert all(u["method"] == "upsert" for u in rec.upserts)
        assert table_ids(ds, report.resource_id) == list(range(1, 601))


def test_dry_run_writes_nothing_and_finds_bad_values(ckan_server: Any, dataset: dict[str, Any],
                                                     tmp_path: Path) -> None:
    ck = ckan_server.client
    ds = DataStore(ck)
    src = write_csv(tmp_path / "t.csv", 50)
    report = ds.import_table(dataset["id"], src, dry_run=True)
    assert report.dry_run and report.rows == 50 and report.resource_id is None
    assert ck.action.package_show(id=dataset["id"])["resources"] == []
    with pytest.raises(ImportFailed, match=r"row 1, field 'name'.*not an integer"):
        ds.import_table(dataset["id"], src, fields={"name": "int"}, dry_run=True)
    with pytest.raises(ImportFailed, match="unknown fields: nope"):
        ds.import_table(dataset["id"], src, fields={"nope": "int"}, dry_run=True)
    with pytest.raises(ImportFailed, match="key field 'missing'"):
        ds.import_table(dataset["id"], src, primary_key=["missing"], dry_run=True)


def test_existing_rows_need_a_key_replace_or_append(ckan_server: Any, dataset: dict[str, Any],
                                                    tmp_path: Path) -> None:
    ds = DataStore(ckan_server.client)
    src = write_csv(tmp_path / "t.csv", 20)
    rid = ds.import_table(dataset["id"], src).resource_id
    assert rid is not None
    with pytest.raises(ImportFailed, match="already has 20 rows"):
        ds.import_table(rid, src)
    with pytest.raises(ImportFailed, match="already has 20 rows"):
        ds.import_table(rid, src, dry_run=True)
    ds.import_table(rid, src, replace=True)
    assert table_ids(ds, rid) == list(range(1, 21))
    ds.import_table(rid, src, append=True)
    assert len(table_ids(ds, rid)) == 40


def test_type_overrides_and_data_dictionary(ckan_server: Any, dataset: dict[str, Any], corpus: Path) -> None:
    ds = DataStore(ckan_server.client)
    report = ds.import_table(dataset["id"], corpus / "hdx/resources/opri_data_zwe.csv",
                             fields={"value": "numeric"}, info={"year": {"notes": "calendar year"}})
    info = ds.info(report.resource_id)
    fields = {f["id"]: f for f in info["fields"]}
    assert fields["value"]["type"] == "numeric"
    assert fields["year"]["type"] in ("int", "int4")
    assert fields["year"]["info"] == {"hxl": "#date+year", "notes": "calendar year"}
    hit = ds.search(report.resource_id, filters={"indicator_id": "GER.1.GPI", "year": 1970})["records"][0]
    assert float(hit["value"]) == pytest.approx(0.8219299912452698)


def test_progress_and_dropped_hxl_row(ckan_server: Any, dataset: dict[str, Any], corpus: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    ds = DataStore(ckan_server.client)
    report = ds.import_table(dataset["id"], corpus / "hdx/resources/dem_data_zwe.csv", hxl="drop",
                             chunk_rows=500, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 1458), (500, 1458), (1000, 1458), (1458, 1458)]
    assert report.hxl_mode == "drop" and all("info" not in f for f in report.fields)
    assert report.rows_committed == 1458


def test_hxl_row_kept_as_data(ckan_server: Any, dataset: dict[str, Any], corpus: Path) -> None:
    ds = DataStore(ckan_server.client)
    report = ds.import_table(dataset["id"], corpus / "hdx/resources/dem_data_zwe.csv", hxl="data")
    assert report.hxl_mode == "data"
    assert all(f["type"] == "text" for f in report.fields)  # the tags are text
    first = next(ds.records(report.resource_id))
    assert next(iter(first.values())).startswith("#")


def test_resume_from_a_checkpoint_skips_what_landed(ckan_server: Any, dataset: dict[str, Any],
                                                    tmp_path: Path) -> None:
    src = write_csv(tmp_path / "t.csv", 1000)
    ckpt = tmp_path / "import.ckpt"

    class Crash(Exception):
        pass

    def crash_after_400(done: int, _total: int | None) -> None:
        if done >= 400:
            raise Crash

    ds = DataStore(ckan_server.client)
    with pytest.raises(Crash):
        ds.import_table(dataset["id"], src, chunk_rows=200, checkpoint=ckpt, progress=crash_after_400)
    assert ckpt.exists()
    report = ds.import_table(dataset["id"], src, chunk_rows=200, checkpoint=ckpt, resume=True)
    assert report.rows_skipped_on_resume == 400
    assert table_ids(ds, report.resource_id) == list(range(1, 1001))
    assert not ckpt.exists()


def test_non_utf8_bytes_after_an_ascii_sample(ckan_server: Any, dataset: dict[str, Any], tmp_path: Path) -> None:
    """The sample says UTF-8 (all ASCII); the full typing pass meets cp1252 before anything is written."""
    from ckanx.datastore._source import SAMPLE_BYTES

    ascii_rows = "".join(f"{i},plain text row {i}\n" for i in range(SAMPLE_BYTES // 20 + 100))
    src = tmp_path / "late.csv"
    src.write_bytes(("n,label\n" + ascii_rows + "99999,caf\u00e9 \u00a3500 \u2019quoted\u2019\n").encode("cp1252"))
    rec = Recorder()
    with client_for(ckan_server, rec) as ck:
        ds = DataStore(ck)
        report = ds.import_table(dataset["id"], src)
        assert report.encoding == "cp1252" and "read as cp1252" in report.warnings[0]
        last = ds.search(report.resource_id, filters={"n": 99999})["records"][0]
        assert last["label"] == "caf\u00e9 \u00a3500 \u2019quoted\u2019"
    # a URL or stream cannot be re-read: there the error stops the import, naming the offset
    with open(src, "rb") as f, pytest.raises(SourceError, match=r"byte 0xe9 near offset .* not valid utf-8"):
        DataStore(ckan_server.client).import_table(dataset["id"], f, append=True)
