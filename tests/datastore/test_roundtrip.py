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


@pytest.mark.parametrize(("name", "encoding", "skip", "count"), CORPUS_FILES)
def test_corpus_round_trip(ckan_server: Any, dataset: dict[str, Any], corpus: Path, tmp_path: Path,
                           name: str, encoding: str, skip: int, count: int) -> None:
    ds = DataStore(ckan_server.client)
    report = ds.import_table(dataset["id"], corpus / name)
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
