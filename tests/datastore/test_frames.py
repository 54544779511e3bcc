"""pandas and pyarrow: import from a DataFrame / an Arrow table (types from dtypes), ``to_dataframe``,
``export --format parquet``; on the embedded server and, with ``CKANX_TEST_URL``, a real CKAN; and a
one-line error when the optional library is missing."""

from __future__ import annotations

import datetime as dt
import decimal
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ckanx import AsyncClient
from ckanx.datastore import AsyncDataStore, DataStore
from tests.bulk.helpers import cli


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "n": pd.Series([1, 2, 3], dtype="int64"),
            "big": pd.Series([2**40, 0, -7], dtype="int64"),
            "maybe_n": pd.Series([10, None, 30], dtype="Int64"),
            "x": [1.5, float("nan"), -2.25],
            "flag": [True, False, True],
            "maybe_flag": pd.Series([None, True, False], dtype="boolean"),
            "at": pd.to_datetime(["2024-01-01T10:00:00", None, "2024-03-01T23:59:59"]),
            # 10:00 in Paris in winter is 09:00 UTC, 12:00 in summer is 10:00 UTC
            "at_paris": pd.to_datetime(["2024-01-01T10:00:00", "2024-06-01T12:00:00", None]).tz_localize(
                "Europe/Paris"
            ),
            "price": [decimal.Decimal("1.25"), None, decimal.Decimal("-3.5")],
            "label": ["a", None, "0042"],  # a string stays text even when it looks like a number
            "day": [dt.date(2024, 1, 2), None, dt.date(2024, 2, 29)],
        }
    )


EXPECTED_TYPES = {
    "n": "int8",
    "big": "int8",
    "maybe_n": "int8",
    "x": "numeric",
    "flag": "bool",
    "maybe_flag": "bool",
    "at": "timestamp",
    "at_paris": "timestamp",
    "price": "numeric",
    "label": "text",
    "day": "date",
}
EXPECTED_ROWS = [
    {"n": 1, "big": 2**40, "maybe_n": 10, "x": 1.5, "flag": True, "maybe_flag": None, "at": "2024-01-01T10:00:00",
     "at_paris": "2024-01-01T09:00:00", "price": 1.25, "label": "a", "day": "2024-01-02"},
    {"n": 2, "big": 0, "maybe_n": None, "x": None, "flag": False, "maybe_flag": True, "at": None,
     "at_paris": "2024-06-01T10:00:00", "price": None, "label": None, "day": None},
    {"n": 3, "big": -7, "maybe_n": 30, "x": -2.25, "flag": True, "maybe_flag": False, "at": "2024-03-01T23:59:59",
     "at_paris": None, "price": -3.5, "label": "0042", "day": "2024-02-29"},
]


def stored(site: Any, rid: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    found = site.client.action.datastore_search(resource_id=rid, sort="_id")
    types = {f["id"]: f["type"] for f in found["fields"] if f["id"] != "_id"}

    def value(field: str, v: Any) -> Any:
        # CKAN 2.12 writes timestamps with milliseconds ("...T10:00:00.000"), 2.11 without
        if types.get(field) == "timestamp" and isinstance(v, str):
            return dt.datetime.fromisoformat(v).isoformat()
        return v

    return types, [{k: value(k, v) for k, v in r.items() if k != "_id"} for r in found["records"]]


@pytest.mark.contract
@pytest.mark.parametrize("kind", ["pandas", "arrow"])
def test_import_from_a_frame_types_and_values(site: Any, kind: str) -> None:
    df = frame()
    source = df if kind == "pandas" else pa.Table.from_pandas(df, preserve_index=False)
    report = DataStore(site.client).import_table(site.dataset["id"], source)
    types, rows = stored(site, report.resource_id)
    assert types == EXPECTED_TYPES
    assert rows == EXPECTED_ROWS
    # pandas' NaN is its missing value, and Arrow's from_pandas makes it null: nothing counted as NaN
    assert report.rows_committed == 3 and report.nulls_for_nan == 0


@pytest.mark.contract
def test_to_dataframe_is_typed_from_the_fields(site: Any) -> None:
    ds = DataStore(site.client)
    report = ds.import_table(site.dataset["id"], frame())
    back = ds.to_dataframe(report.resource_id)
    assert list(back.columns) == list(EXPECTED_TYPES)
    assert {c: str(t) for c, t in back.dtypes.items()} == {
        "n": "Int64", "big": "Int64", "maybe_n": "Int64", "x": "float64", "flag": "boolean",
        "maybe_flag": "boolean", "at": "datetime64[us]", "at_paris": "datetime64[us]", "price": "float64",
        "label": "object", "day": "object",
    }
    assert back["maybe_n"].tolist() == [10, pd.NA, 30]
    assert back["at_paris"].tolist()[:2] == [pd.Timestamp("2024-01-01 09:00"), pd.Timestamp("2024-06-01 10:00")]
    assert back["day"].tolist() == [dt.date(2024, 1, 2), None, dt.date(2024, 2, 29)]
    # filters and fields pass through; the columns stay when nothing matches
    some = ds.to_dataframe(report.resource_id, fields=["label", "n"], filters={"n": 3})
    assert some.to_dict("records") == [{"label": "0042", "n": 3}]
    none = ds.to_dataframe(report.resource_id, fields=["n", "at"], filters={"n": 99})
    assert list(none.columns) == ["n", "at"] and len(none) == 0 and str(none["at"].dtype) == "datetime64[us]"


@pytest.mark.contract
def test_export_parquet_reads_back_equal(site: Any, tmp_path: Path) -> None:
    report = DataStore(site.client).import_table(site.dataset["id"], frame())
    out = tmp_path / "t.parquet"
    result = cli(CliRunner(), site, "datastore", "export", report.resource_id, "-O", str(out), "-q")
    assert result.exit_code == 0, result.stderr
    table = pq.read_table(out)
    assert {f.name: str(f.type) for f in table.schema} == {
        "n": "int64", "big": "int64", "maybe_n": "int64", "x": "double", "flag": "bool", "maybe_flag": "bool",
        "at": "timestamp[us]", "at_paris": "timestamp[us]", "price": "double", "label": "string", "day": "date32[day]",
    }
    rows = table.to_pylist()
    assert [r["at"] for r in rows] == [dt.datetime(2024, 1, 1, 10), None, dt.datetime(2024, 3, 1, 23, 59, 59)]
    assert [r["day"] for r in rows] == [dt.date(2024, 1, 2), None, dt.date(2024, 2, 29)]
    def as_text(v: Any) -> Any:
        return v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v

    assert [{k: as_text(v) for k, v in r.items()} for r in rows] == EXPECTED_ROWS


def test_parquet_of_an_empty_table_has_the_schema(ckan_server: Any, dataset: dict[str, Any], tmp_path: Path) -> None:
    ck = ckan_server.client
    created = ck.action.datastore_create(
        resource={"package_id": dataset["id"], "name": "empty"},
        fields=[{"id": "a", "type": "int"}, {"id": "when", "type": "timestamp"}, {"id": "s", "type": "text"}],
    )
    out = tmp_path / "empty.parquet"
    report = DataStore(ck).export(created["resource_id"], out, "parquet")
    table = pq.read_table(out)
    assert report.rows == 0 and table.num_rows == 0
    assert [(f.name, str(f.type)) for f in table.schema] == [("a", "int64"), ("when", "timestamp[us]"),
                                                            ("s", "string")]


def test_parquet_keeps_types_when_the_first_page_is_all_null(ckan_server: Any, dataset: dict[str, Any],
                                                            tmp_path: Path) -> None:
    ck = ckan_server.client
    records = [{"k": i, "v": None} for i in range(5)] + [{"k": 5, "v": 2.5}]
    created = ck.action.datastore_create(
        resource={"package_id": dataset["id"], "name": "late"},
        fields=[{"id": "k", "type": "int"}, {"id": "v", "type": "numeric"}], records=records,
    )
    out = tmp_path / "late.parquet"
    DataStore(ck).export(created["resource_id"], out, "parquet", page_rows=2)
    assert pq.read_table(out).to_pylist() == records


@pytest.mark.anyio
async def test_async_to_dataframe(ckan_server: Any, dataset: dict[str, Any]) -> None:
    DataStore(ckan_server.client).import_table(dataset["id"], frame()[["n", "label"]], resource_name="small")
    rid = ckan_server.client.action.package_show(id=dataset["id"])["resources"][0]["id"]
    async with AsyncClient(ckan_server.url, ckan_server.token) as ck:
        back = await AsyncDataStore(ck).to_dataframe(rid, sort="n desc")
    assert back.to_dict("list") == {"n": [3, 2, 1], "label": ["0042", None, "a"]}


# ---------------------------------------------------------------- without the optional libraries


def test_to_dataframe_without_pandas_is_one_clear_line(ckan_server: Any, dataset: dict[str, Any],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # what "not installed" looks like to import
    with pytest.raises(ImportError) as info:
        DataStore(ckan_server.client).to_dataframe("any-resource")
    assert str(info.value) == "to_dataframe needs pandas, which is not installed: pip install 'ckanx[pandas]'"


def test_export_parquet_without_pyarrow_is_one_line_and_writes_nothing(
    ckan_server: Any, dataset: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rid = ckan_server.client.action.datastore_create(
        resource={"package_id": dataset["id"], "name": "t"}, fields=[{"id": "a", "type": "int"}], records=[{"a": 1}]
    )["resource_id"]
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    out = tmp_path / "t.parquet"
    result = cli(CliRunner(), ckan_server, "datastore", "export", rid, "-O", str(out))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "ckanx: error: Parquet export needs pyarrow, which is not installed: pip install 'ckanx[arrow]'"
    ]
    assert "Traceback" not in result.output and not out.exists()


def test_nan_in_an_arrow_float_column_is_sent_as_null_and_counted(ckan_server: Any, dataset: dict[str, Any]) -> None:
    table = pa.table({"v": pa.array([1.5, float("nan"), None], type=pa.float64())})
    report = DataStore(ckan_server.client).import_table(dataset["id"], table, resource_name="nan")
    found = ckan_server.client.action.datastore_search(resource_id=report.resource_id, sort="_id")
    assert [r["v"] for r in found["records"]] == [1.5, None, None]
    assert report.nulls_for_nan == 1
