"""Import then export the real corpus files through the embedded CKAN: the same rows come back."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from ckanx.datastore import DataStore

# file, encoding (from SOURCE.md), rows before the header, data rows (SOURCE.md, blank lines excluded)
CORPUS_FILES = [
    ("hdx/resources/opri_data_zwe.csv", "utf-8", 0, 10690),
    ("hdx/resources/sdg_metadata_zwe.csv", "utf-8", 0, 5563),
    ("data_gov_uk/resources/spend_co_feb_17.csv", "cp850", 6, 202),
    ("data_gov_uk/resources/spend_defra_jan_17.csv", "cp1252", 0, 268),
    ("data_gov_uk/resources/sunderland-bus-stops.csv", "utf-8", 0, 1775),
    ("thedatahub_org/newcastle-payments-over-500-october_2011.csv", "cp1252", 2, 209),
]


def expected_table(path: Path, encoding: str, skip: int) -> tuple[list[str], list[list[str]], list[str] | None]:
    """Header, data rows and HXL row as an independent reading with the stdlib sees them."""
    with open(path, encoding=encoding, newline="") as f:
        rows = list(csv.reader(f))[skip:]
    header, data = rows[0], [r for r in rows[1:] if any(c.strip() for c in r)]
    hxl = None
    if data and all(c.startswith("#") for c in data[0] if c):
        hxl, data = data[0], data[1:]
    width = max(len(r) for r in [header, *data])
    keep = [i for i in range(width) if (i < len(header) and header[i].strip()) or any(
        i < len(r) and r[i].strip() for r in data)]

    def cut(r: list[str]) -> list[str]:
        return [r[i] if i < len(r) else "" for i in keep]

    return cut(header), [cut(r) for r in data], cut(hxl) if hxl else None


@pytest.mark.contract
@pytest.mark.parametrize(("name", "encoding", "skip", "count"), CORPUS_FILES)
def test_corpus_round_trip(site: Any, corpus: Path, tmp_path: Path, name: str, encoding: str, skip: int,
                           count: int) -> None:
    ds = DataStore(site.client)
    report = ds.import_table(site.dataset["id"], corpus / name)
    assert report.rows_committed == count
    assert report.encoding in (encoding, "utf-8-sig")
    header, rows, hxl = expected_table(corpus / name, encoding, skip)
    assert len(rows) == count

    out = tmp_path / "out.csv"
    exported = ds.export(report.resource_id, out, hxl=True)
    assert exported.rows == count
    with open(out, encoding="utf-8", newline="") as f:
        got = list(csv.reader(f))
    # headers come back as CKAN-acceptable field ids, the originals are in info["label"]
    assert [" ".join(h.split()) for h in header] == got[0]
    start = 1
    if hxl:
        assert got[1] == hxl
        start = 2
    assert got[start:] == rows

    # the JSON path gives the same values (typed) in the same order
    first = next(ds.records(report.resource_id))
    assert len(first) == len(rows[0])
    for value, text in zip(first.values(), rows[0], strict=True):
        assert (str(value) if value is not None else "") == text or _same_number(value, text)


def _same_number(value: Any, text: str) -> bool:
    from decimal import Decimal, InvalidOperation

    try:
        return Decimal(str(value)) == Decimal(text)
    except InvalidOperation:
        return False


def test_jsonl_round_trip_and_awkward_values(ckan_server: Any, dataset: dict[str, Any], tmp_path: Path) -> None:
    import datetime as dt
    import decimal

    src = tmp_path / "in.jsonl"
    objs = [
        {"id": 1, "name": "caf\u00e9", "price": 2.5, "when": "2024-01-31T10:00:00", "ok": True, "tags": ["a"]},
        {"id": 2, "name": None, "price": 3, "when": "2024-02-01T00:00:00", "ok": False, "tags": []},
    ]
    src.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    ds = DataStore(ckan_server.client)
    report = ds.import_table(dataset["id"], src, primary_key=["id"])
    types = {f["id"]: f["type"] for f in report.fields}
    assert types == {"id": "int", "name": "text", "price": "numeric", "when": "timestamp", "ok": "bool",
                     "tags": "json"}
    back = list(ds.records(report.resource_id, sort="id"))
    assert [r["id"] for r in back] == [1, 2]
    assert back[0]["name"] == "caf\u00e9" and back[1]["name"] is None
    assert back[0]["tags"] == ["a"] and back[0]["ok"] is True
    assert back[0]["when"].startswith("2024-01-31T10:00:00")

    # Python values JSON cannot carry, from a file object of JSON lines, upserted on the key
    class Frame:  # stands in for nothing: plain dict rows through a JSONL text stream
        pass

    del Frame
    extra = io.StringIO(json.dumps({"id": 3, "name": "x", "price": 1, "when": "2024-03-01", "ok": True,
                                    "tags": []}) + "\n")
    extra.name = "more.jsonl"
    ds.import_table(report.resource_id, extra, primary_key=["id"])
    assert ds.search(report.resource_id, limit=0)["total"] == 3
    from ckanx.datastore._types import convert

    assert convert(decimal.Decimal("1.10"), "numeric")[0] == "1.10"
    assert convert(dt.date(2024, 1, 2), "date")[0] == "2024-01-02"


def test_url_source_is_streamed_with_the_token_on_the_same_site(ckan_server: Any, dataset: dict[str, Any],
                                                                  corpus: Path, tmp_path: Path) -> None:
    """A private dataset's uploaded CSV, imported from its download URL (one-shot stream, sampled types)."""
    from ckanx.files import Files

    ck = ckan_server.client
    ck.action.package_patch(id=dataset["id"], private=True)
    name = "data_gov_uk/resources/spend_defra_jan_17.csv"
    res = Files(ck).upload(corpus / name, package_id=dataset["id"])
    ds = DataStore(ck)
    report = ds.import_table(dataset["id"], res["url"], resource_name="from-url", sample_rows=100)
    assert report.rows_committed == 268 and report.encoding == "cp1252"
    _header, rows, _ = expected_table(corpus / name, "cp1252", 0)
    out = tmp_path / "out.csv"
    ds.export(report.resource_id, out)
    with open(out, encoding="utf-8", newline="") as f:
        assert list(csv.reader(f))[1:] == rows


@pytest.mark.parametrize("name", ["hdx/resources/sdg_data_zwe.csv", "data_gov_uk/resources/spend_co_feb_17.csv"])
def test_round_trip_on_212(corpus: Path, tmp_path: Path, name: str) -> None:
    from ckanx.testing import embedded_ckan

    with embedded_ckan(ckan_version="2.12") as srv:
        srv.client.action.organization_create(name="org-212")
        pkg = srv.client.action.package_create(name="ds-212", owner_org="org-212")
        ds = DataStore(srv.client)
        report = ds.import_table(pkg["id"], corpus / name, chunk_rows=1000)
        encoding = "cp850" if "spend_co" in name else "utf-8"
        _header, rows, hxl = expected_table(corpus / name, encoding, 6 if "spend_co" in name else 0)
        assert report.rows_committed == len(rows)
        ds.export(report.resource_id, tmp_path / "o.csv", hxl=True)
        with open(tmp_path / "o.csv", encoding="utf-8", newline="") as f:
            got = list(csv.reader(f))
        assert got[2 if hxl else 1 :] == rows
        assert len(list(ds.records(report.resource_id, page_rows=500))) == len(rows)


def test_bom_and_semicolons(ckan_server: Any, dataset: dict[str, Any], tmp_path: Path) -> None:
    src = tmp_path / "bom.csv"
    src.write_bytes("\ufeffname;amount;when\nZ\u00fcrich;1,5;2024-01-01\n\u00c9vian;2;2024-01-02\n".encode())
    ds = DataStore(ckan_server.client)
    report = ds.import_table(dataset["id"], src)
    assert report.encoding == "utf-8-sig" and report.delimiter == ";"
    assert [(f["id"], f["type"]) for f in report.fields] == [("name", "text"), ("amount", "text"), ("when", "date")]
    assert list(ds.records(report.resource_id)) == [
        {"name": "Z\u00fcrich", "amount": "1,5", "when": "2024-01-01"},
        {"name": "\u00c9vian", "amount": "2", "when": "2024-01-02"},
    ]


@pytest.mark.anyio
async def test_async_url_source(ckan_server: Any, dataset: dict[str, Any], corpus: Path) -> None:
    from ckanx import AsyncClient
    from ckanx.datastore import AsyncDataStore
    from ckanx.files import Files

    res = Files(ckan_server.client).upload(corpus / "hdx/resources/dem_data_zwe.csv", package_id=dataset["id"])
    async with AsyncClient(ckan_server.url, ckan_server.token) as ack:
        report = await AsyncDataStore(ack).import_table(dataset["id"], res["url"], resource_name="async-url")
    _header, rows, hxl = expected_table(corpus / "hdx/resources/dem_data_zwe.csv", "utf-8", 0)
    assert hxl is not None and report.hxl == hxl
    assert report.rows_committed == len(rows) == 1458
