"""pandas DataFrames and pyarrow Tables as import sources, and DataStore fields as Arrow/pandas types.

Neither library is imported to *recognise* a source (the object's type says what it is), so ckanx
works without them; they are imported only to build a DataFrame or write Parquet, with a one-line
error naming the extra to install when they are missing.

Import: a column's type comes from its dtype (``int64`` -> ``int8``, ``float64``/``decimal`` ->
``numeric``, ``bool``, ``datetime64``/``timestamp`` -> ``timestamp``, ``date32`` -> ``date``); an
``object`` column is typed from its values (``Decimal`` -> ``numeric``, ``datetime.date`` -> ``date``,
dicts/lists -> ``json``), and any string in it makes it ``text``: a DataFrame's strings are data,
not numbers written as text. Values become plain Python values (numpy scalars unwrapped; ``NaT``,
``pd.NA``, ``None`` and a DataFrame's NaN -> null; NaN in an Arrow float column -> null, counted as
``nulls_for_nan``). Time-zone-aware
timestamps are converted to UTC and sent without an offset, because a DataStore ``timestamp`` is
PostgreSQL's ``timestamp without time zone``, which would silently drop the offset.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._types import ColumnGuess

__all__ = ["FrameBuilder", "FrameSource", "arrow_schema", "arrow_table", "missing_extra", "open_frame"]

ROWS_PER_SLICE = 10_000  # DataFrame rows turned into Python values at a time (bounded extra memory)


def missing_extra(what: str, module: str, extra: str) -> str:
    """The one line shown when an optional library is not installed."""
    return f"{what} needs {module}, which is not installed: pip install 'ckanx[{extra}]'"


class _Known(ColumnGuess):
    """A column whose type is given by its dtype: no guessing."""

    def __init__(self, ftype: str) -> None:
        super().__init__()
        self.ftype = ftype

    def type(self) -> str:
        return self.ftype


@dataclass
class FrameSource:
    """Field names, a row iterator factory (plain Python values) and each column's type evidence."""

    names: list[str]
    rows: Callable[[], Iterator[list[Any]]]
    guesses: list[ColumnGuess]


def _is_pandas(src: Any) -> bool:
    return type(src).__module__.startswith("pandas") and hasattr(src, "itertuples") and hasattr(src, "dtypes")


def _is_arrow(src: Any) -> bool:
    return type(src).__module__.startswith("pyarrow") and hasattr(src, "to_batches") and hasattr(src, "schema")


def native(value: Any) -> Any:
    """A plain Python value for a pandas/numpy/pyarrow one (``None`` for every missing marker)."""
    if value is None:
        return None
    kind = type(value).__name__
    if kind in ("NAType", "NaTType"):
        return None
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        if kind.startswith("datetime64"):
            import pandas as pd  # a numpy datetime64 only comes from pandas here

            value = pd.Timestamp(value)
            if value is pd.NaT:
                return None
        else:
            value = value.item()
    if isinstance(value, dt.datetime):
        if hasattr(value, "to_pydatetime"):  # pandas.Timestamp: nanoseconds go (PostgreSQL keeps microseconds)
            value = value.to_pydatetime(warn=False)
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def _pandas_native(value: Any) -> Any:
    """:func:`native`, with NaN read as pandas means it: a missing value (not counted as a NaN sent as null)."""
    if isinstance(value, float) and value != value:
        return None
    return native(value)


def _guess_objects(values: list[Any]) -> ColumnGuess:
    guess = ColumnGuess()
    for value in values:
        if isinstance(value, str):
            if value != "":
                guess.seen += 1
                guess.can = set()  # a string in a DataFrame is text, whatever it looks like
        else:
            guess.add(value)
    return guess


def _pandas_type(dtype: Any) -> str | None:
    kind = getattr(dtype, "kind", "O")
    if kind == "i":
        return "int8"
    if kind == "u":
        return "numeric" if getattr(dtype, "itemsize", 8) >= 8 else "int8"
    if kind == "f":
        return "numeric"
    if kind == "b":
        return "bool"
    if kind == "M":
        return "timestamp"
    if str(dtype) in ("string", "str") or str(dtype).startswith("string["):
        return "text"
    return None  # object, category, ...: from the values


def _arrow_type(t: Any) -> str | None:
    import pyarrow as pa

    types = pa.types
    if types.is_integer(t):
        return "numeric" if types.is_uint64(t) else "int8"
    if types.is_floating(t) or types.is_decimal(t):
        return "numeric"
    if types.is_boolean(t):
        return "bool"
    if types.is_timestamp(t):
        return "timestamp"
    if types.is_date(t):
        return "date"
    if types.is_time(t):
        return "time"
    if types.is_string(t) or types.is_large_string(t):
        return "text"
    if types.is_list(t) or types.is_large_list(t) or types.is_struct(t) or types.is_map(t):
        return "json"
    return None


def open_frame(src: Any) -> FrameSource | None:
    """A DataFrame or an Arrow Table as an import source (``None`` for anything else)."""
    if _is_pandas(src):
        return _pandas_source(src)
    if _is_arrow(src):
        return _arrow_source(src)
    return None


def _pandas_source(df: Any) -> FrameSource:
    names = [str(c) for c in df.columns]
    width = len(names)

    def slices() -> Iterator[list[list[Any]]]:
        for start in range(0, len(df), ROWS_PER_SLICE):
            part = df.iloc[start : start + ROWS_PER_SLICE]
            # by position: duplicate column names would make part[name] a DataFrame
            yield [[_pandas_native(v) for v in part.iloc[:, j].tolist()] for j in range(width)]

    def rows() -> Iterator[list[Any]]:
        for cols in slices():
            yield from (list(r) for r in zip(*cols, strict=True))

    guesses: list[ColumnGuess] = []
    for j in range(width):
        known = _pandas_type(df.dtypes.iloc[j])
        if known is not None:
            guesses.append(_Known(known))
        else:
            guesses.append(_guess_objects([_pandas_native(v) for v in df.iloc[:, j].tolist()]))
    return FrameSource(names, rows, guesses)


def _arrow_source(table: Any) -> FrameSource:
    names = [str(c) for c in table.column_names]

    def rows() -> Iterator[list[Any]]:
        for batch in table.to_batches(max_chunksize=ROWS_PER_SLICE):
            cols = [[native(v) for v in c.to_pylist()] for c in batch.columns]
            yield from (list(r) for r in zip(*cols, strict=True))

    guesses: list[ColumnGuess] = []
    for j, f in enumerate(table.schema):
        known = _arrow_type(f.type)
        guesses.append(_Known(known) if known else _guess_objects([native(v) for v in table.column(j).to_pylist()]))
    return FrameSource(names, rows, guesses)


# ---------------------------------------------------------------- DataStore -> Arrow / pandas


def _parse_ts(value: Any) -> Any:
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else value


def _parse_date(value: Any) -> Any:
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value).date() if "T" in value else dt.date.fromisoformat(value)
    return value


def _parse_time(value: Any) -> Any:
    return dt.time.fromisoformat(value) if isinstance(value, str) else value


def _number(value: Any) -> Any:
    if isinstance(value, str):  # some servers send numeric as text
        return float(decimal.Decimal(value))
    return None if value is None else float(value)


def _json_text(value: Any) -> Any:
    return value if value is None or isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _text(value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    return _json_text(value) if isinstance(value, (dict, list)) else str(value)


_INT = ("int", "int2", "int4", "int8", "integer", "bigint", "smallint")
_FLOAT = ("numeric", "float8", "float4", "float", "double precision", "real")


def _bool(value: Any) -> Any:
    return value if value is None or isinstance(value, bool) else str(value).lower() in ("t", "true")


def _columns(fields: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, Callable[[Any], Any]]]:
    """``(name, kind, value converter)`` for each DataStore field; ``kind`` picks the Arrow/pandas type."""
    out: list[tuple[str, str, Callable[[Any], Any]]] = []
    for f in fields:
        ftype = str(f.get("type") or "text")
        conv: Callable[[Any], Any]
        if ftype in _INT:
            kind, conv = "int", (lambda v: None if v is None else int(v))
        elif ftype in _FLOAT:
            kind, conv = "float", _number
        elif ftype in ("bool", "boolean"):
            kind, conv = "bool", _bool
        elif ftype.startswith("timestamp"):
            kind, conv = "timestamp", _parse_ts
        elif ftype == "date":
            kind, conv = "date", _parse_date
        elif ftype == "time":
            kind, conv = "time", _parse_time
        elif ftype in ("json", "jsonb"):
            kind, conv = "text", _json_text
        elif ftype == "_text":
            kind, conv = "list_text", (lambda v: v)
        elif ftype in ("_int", "_int4", "_int8"):
            kind, conv = "list_int", (lambda v: v)
        elif ftype in ("_numeric", "_float8"):
            kind, conv = "list_float", (lambda v: None if v is None else [_number(x) for x in v])
        else:
            kind, conv = "text", _text
        out.append((str(f["id"]), kind, conv))
    return out


def _arrow_types() -> dict[str, Any]:
    import pyarrow as pa

    return {"int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "timestamp": pa.timestamp("us"),
            "date": pa.date32(), "time": pa.time64("us"), "text": pa.string(), "list_text": pa.list_(pa.string()),
            "list_int": pa.list_(pa.int64()), "list_float": pa.list_(pa.float64())}


def arrow_schema(fields: Sequence[Mapping[str, Any]]) -> Any:
    """The Arrow schema for DataStore fields (each field's ``type`` decides; text for unknown ones)."""
    import pyarrow as pa

    types = _arrow_types()
    return pa.schema([(name, types[kind]) for name, kind, _ in _columns(fields)])


def arrow_table(records: list[dict[str, Any]], fields: Sequence[Mapping[str, Any]]) -> Any:
    """One page of DataStore records as an Arrow table with :func:`arrow_schema`'s types."""
    import pyarrow as pa

    types = _arrow_types()
    columns = _columns(fields)
    arrays = [pa.array([conv(r.get(name)) for r in records], type=types[kind]) for name, kind, conv in columns]
    return pa.Table.from_arrays(arrays, schema=pa.schema([(name, types[kind]) for name, kind, _ in columns]))


class FrameBuilder:
    """Collects DataStore pages column by column and builds a pandas DataFrame (pandas only, no pyarrow).

    Integers and booleans with nulls stay integers and booleans (pandas' nullable ``Int64`` and
    ``boolean``), timestamps become ``datetime64``, numerics ``float64``.
    """

    def __init__(self) -> None:
        self.fields: Sequence[Mapping[str, Any]] = []
        self.columns: list[tuple[str, str, Callable[[Any], Any]]] = []
        self.values: list[list[Any]] = []

    def set_fields(self, fields: Sequence[Mapping[str, Any]]) -> None:
        """The table's fields (in order); pages may come before them, as plain records."""
        self.fields = list(fields)
        self.columns = _columns(self.fields)
        self.values = [[] for _ in self.columns]

    def add(self, records: list[dict[str, Any]]) -> None:
        """One page."""
        for (name, _kind, conv), column in zip(self.columns, self.values, strict=True):
            column.extend(conv(r.get(name)) for r in records)

    def build(self) -> Any:
        """The DataFrame."""
        import pandas as pd

        dtypes = {"int": "Int64", "float": "float64", "bool": "boolean", "text": "object"}
        data = {}
        for (name, kind, _conv), column in zip(self.columns, self.values, strict=True):
            if kind == "timestamp":
                data[name] = pd.Series(pd.to_datetime(column), name=name).astype("datetime64[us]")
            else:
                data[name] = pd.Series(column, dtype=dtypes.get(kind, "object"), name=name)
        return pd.DataFrame(data, columns=[name for name, _, _ in self.columns])
