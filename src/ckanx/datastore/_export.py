"""Reading tables out of the DataStore in constant memory, as generators of requests.

* Records (``records()``, JSON lines, Parquet) come from ``datastore_search`` pages with
  ``include_total=false``. On CKAN 2.12 (from ``status_show``) the pages are keyset pages on ``_id``
  (a ``{"_id": {"gt": last}}`` range filter, what ``include_next_page`` returns): rows added or
  deleted during the walk neither shift nor repeat others. CKAN 2.11 has no range filters, so pages
  there are ``offset`` pages in ``_id`` order: rows added during the walk come at the end, but a
  row deleted during the walk makes the next page skip one row.
* CSV comes from ``/datastore/dump/<id>``: the server's own text for each value (``2.50`` stays
  ``2.50``), fetched in segments of :data:`DUMP_SEGMENT_ROWS` rows (``offset``/``limit``) so that an
  interrupted export resumes at the last complete segment.

Resuming: after each page or segment the output is flushed and ``fsync``ed, then a checkpoint
records its byte length and where to continue; on resume the file is cut back to that length.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .. import _exceptions as exc
from ..bulk.checkpoint import Checkpoint
from ._frames import FrameBuilder, arrow_schema, arrow_table, missing_extra
from ._import import _version
from ._protocol import Call, Emit, Info, Job, Stream

__all__ = ["DEFAULT_PAGE_ROWS", "DUMP_SEGMENT_ROWS", "ExportReport", "SearchOptions"]

DEFAULT_PAGE_ROWS = 10_000
MAX_PAGE_ROWS = 32_000  # CKAN's datastore_search cap
DUMP_SEGMENT_ROWS = 50_000
FORMATS = ("csv", "jsonl", "parquet")


@dataclass
class SearchOptions:
    """Which records: CKAN's ``datastore_search`` parameters."""

    resource_id: str
    filters: Mapping[str, Any] | None = None
    fields: Sequence[str] | None = None
    sort: str | None = None
    q: str | Mapping[str, Any] | None = None
    page_rows: int = DEFAULT_PAGE_ROWS


@dataclass
class ExportReport:
    """What an export wrote: ``rows``, ``bytes``, the ``fields`` (id, type, info) and how."""

    resource_id: str
    dest: str
    format: str
    rows: int = 0
    bytes: int = 0
    fields: list[dict[str, Any]] = field(default_factory=list)
    method: str = ""
    resumed_at_rows: int = 0


def _keyset_ok(version: tuple[int, ...], opts: SearchOptions) -> bool:
    filters = opts.filters or {}
    return (
        version >= (2, 12)
        and (opts.sort in (None, "", "_id", "_id asc"))
        and "_id" not in filters
        and not any(k.startswith("$") for k in filters)
    )


def pages_job(opts: SearchOptions, state: dict[str, Any],
              on_page: Callable[[list[dict[str, Any]]], None] | None = None) -> Job[list[dict[str, Any]]]:
    """Pages of records, handed to ``on_page`` (or emitted with :class:`Emit` when it is ``None``).

    ``state`` (``last_id``/``offset``) is updated after each page, so a caller may save it and start
    a new job from it. Returns the table's fields."""
    if not 1 <= opts.page_rows <= MAX_PAGE_ROWS:
        raise ValueError(f"page_rows must be between 1 and {MAX_PAGE_ROWS}")
    info = yield Info()
    keyset = _keyset_ok(_version(info), opts)
    want_id = bool(opts.fields) and "_id" in (opts.fields or [])
    base: dict[str, Any] = {"resource_id": opts.resource_id, "limit": opts.page_rows, "include_total": False}
    if opts.q:
        base["q"] = opts.q
    if opts.fields:
        base["fields"] = list(opts.fields) + ([] if want_id else ["_id"])
    if keyset:
        base["sort"] = "_id"
    else:
        sort = opts.sort or ""
        # a unique tie-breaker makes offset pages deterministic
        base["sort"] = f"{sort}, _id" if sort and "_id" not in sort else (sort or "_id")
    fields: list[dict[str, Any]] = []
    while True:
        data = dict(base)
        filters = dict(opts.filters or {})
        if keyset and state.get("last_id") is not None:
            filters["_id"] = {"gt": state["last_id"]}
        elif not keyset and state.get("offset"):
            data["offset"] = state["offset"]
        if filters:
            data["filters"] = filters
        result = yield Call("datastore_search", data)
        if not fields:
            fields = [f for f in result.get("fields", []) if want_id or f.get("id") != "_id"]
        records = result.get("records", [])
        if records:
            state["last_id"] = records[-1].get("_id")
            state["offset"] = int(state.get("offset") or 0) + len(records)
            if not want_id:
                for r in records:
                    r.pop("_id", None)
            if on_page is None:
                yield Emit(records)
            else:
                on_page(records)
        if len(records) < opts.page_rows:
            return fields


# ---------------------------------------------------------------- writing files


class _Output:
    """An output file that can be made durable and cut back to a checkpointed length (or a stream
    such as stdout, which is only flushed)."""

    def __init__(self, path: Path | IO[bytes], resume_bytes: int | None) -> None:
        self.owned = isinstance(path, Path)
        self.f: IO[bytes]
        if not isinstance(path, Path):
            self.f = path
            self.size = 0
            return
        if resume_bytes is not None:
            self.f = open(path, "r+b")  # noqa: SIM115 - closed by close()
            self.f.truncate(resume_bytes)
            self.f.seek(resume_bytes)
        else:
            self.f = open(path, "wb")  # noqa: SIM115
        self.size = resume_bytes or 0

    def write(self, data: bytes) -> None:
        self.f.write(data)
        self.size += len(data)

    def sync(self) -> None:
        self.f.flush()
        if self.owned:
            os.fsync(self.f.fileno())

    def close(self) -> None:
        if self.owned:
            self.f.close()
        else:
            self.f.flush()


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def export_job(opts: SearchOptions, dest: Path | IO[bytes], fmt: str, *, checkpoint: Path | None = None,
               resume: bool = False, hxl: bool = False,
               progress: Any = None) -> Job[ExportReport]:
    """Write the records to ``dest`` as ``csv``, ``jsonl`` or ``parquet``; returns an :class:`ExportReport`."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    report = ExportReport(opts.resource_id, str(getattr(dest, "name", dest)), fmt)
    if not isinstance(dest, Path) and (resume or checkpoint or fmt == "parquet"):
        raise ValueError("resume, checkpoints and Parquet need an output file, not a stream")
    job_id = {"command": "datastore export", "resource_id": opts.resource_id, "format": fmt,
              "filters": dict(opts.filters or {}), "fields": list(opts.fields or []), "sort": opts.sort,
              "q": opts.q, "hxl": hxl}
    ckpt = Checkpoint(checkpoint, job_id) if checkpoint else None
    state: dict[str, Any] = {}
    if resume:
        if ckpt is None:
            raise ValueError("resume needs a checkpoint")
        state = ckpt.load()
        report.resumed_at_rows = int(state.get("rows", 0))
    if fmt == "parquet":
        if resume:
            raise ValueError("a Parquet export cannot be resumed (the format has its footer at the end)")
        _require("Parquet export", "pyarrow", "arrow")  # before anything is asked or written
    # the table's fields (and whether it exists) first: one cheap call
    meta, fields = yield from _table_fields(opts)
    report.fields = fields
    if fmt == "parquet":
        assert isinstance(dest, Path)
        return (yield from _parquet(opts, dest, report))
    out = _Output(dest, state.get("bytes") if resume else None)
    try:
        if fmt == "csv":
            yield from _csv_from_dump(opts, out, report, state, ckpt, int(meta.get("total") or 0), hxl, progress)
        else:
            yield from _jsonl(opts, out, report, state, ckpt, progress)
        out.sync()
    finally:
        out.close()
    report.bytes = out.size
    if ckpt is not None:
        ckpt.remove()
    return report


def _require(what: str, module: str, extra: str) -> None:
    """Fail with one line (a ``ValueError``, shown as such by the CLI) when an optional library is missing."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        raise ValueError(missing_extra(what, module, extra)) from None


def _table_fields(opts: SearchOptions) -> Job[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """``datastore_search`` with ``limit=0``: the total and the fields (``opts.fields`` order, no ``_id``
    unless named)."""
    meta = yield Call("datastore_search", {"resource_id": opts.resource_id, "limit": 0, "include_total": True})
    fields = [f for f in meta.get("fields", []) if f.get("id") != "_id"]
    if opts.fields:
        by_id = {f["id"]: f for f in meta.get("fields", [])}
        fields = [by_id.get(name, {"id": name}) for name in opts.fields]
    return meta, fields


def dataframe_job(opts: SearchOptions) -> Job[Any]:
    """The records as a pandas DataFrame, typed from the table's fields (see :class:`FrameBuilder`)."""
    try:
        import pandas  # noqa: F401 - only checking that it is there
    except ImportError:
        raise ImportError(missing_extra("to_dataframe", "pandas", "pandas")) from None
    _meta, fields = yield from _table_fields(opts)
    builder = FrameBuilder()
    builder.set_fields(fields)

    def on_page(records: list[dict[str, Any]]) -> None:
        builder.add(records)
        release_page_memory()

    yield from pages_job(opts, {}, on_page)
    return builder.build()


def release_page_memory() -> None:
    """Free the previous page's response now instead of at the next full garbage collection.

    Measured (``benchmarks/bench_datastore_memory.py``): without this, a JSON-lines export's peak
    RSS grew with the table (62 MB at 100,000 rows, 183 MB at 1,000,000). Every httpx ``Response``
    is in a reference cycle (its stream points back to it); it is still alive while its 10,000
    records are parsed, which runs the young-generation collections that promote it to the oldest
    generation, so each page's ~1.5 MB body waited for a rare full collection. One full collection
    per page (milliseconds, against a page fetch of ~100 ms) keeps the export's memory flat.
    """
    gc.collect()


def _save(ckpt: Checkpoint | None, out: _Output, state: dict[str, Any]) -> None:
    if ckpt is None:
        return
    out.sync()
    state["bytes"] = out.size
    ckpt.save(state)


def _jsonl(opts: SearchOptions, out: _Output, report: ExportReport, state: dict[str, Any],
           ckpt: Checkpoint | None, progress: Any) -> Job[None]:
    report.method = "datastore_search pages"
    page_state = state.setdefault("pages", {})
    counter = {"rows": int(state.get("rows", 0))}

    def on_page(records: list[dict[str, Any]]) -> None:
        out.write(b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records))
        release_page_memory()
        counter["rows"] += len(records)
        state["rows"] = counter["rows"]
        _save(ckpt, out, state)
        if progress:
            progress(counter["rows"], None)

    yield from pages_job(opts, page_state, on_page)
    rows = counter["rows"]
    report.rows = rows


def _csv_from_dump(opts: SearchOptions, out: _Output, report: ExportReport, state: dict[str, Any],
                   ckpt: Checkpoint | None, total: int, hxl: bool, progress: Any) -> Job[None]:
    report.method = "/datastore/dump"
    rows = int(state.get("rows", 0))
    params: dict[str, str] = {"format": "csv"}
    names = [f["id"] for f in report.fields]
    params["fields"] = ",".join(names)
    if opts.filters:
        params["filters"] = json.dumps(opts.filters)
    if opts.q:
        params["q"] = opts.q if isinstance(opts.q, str) else json.dumps(opts.q)
    if opts.sort:
        params["sort"] = opts.sort
    first = rows == 0 and out.size == 0
    while first or rows < total:
        seg = dict(params, offset=str(rows), limit=str(DUMP_SEGMENT_ROWS))
        sink = _SegmentSink(out, strip_header=not first,
                            hxl_row=_hxl_line(report.fields) if (first and hxl) else None)
        status = yield Stream(f"/datastore/dump/{opts.resource_id}", seg, sink)
        if status >= 400:
            raise exc.HTTPStatusError(f"/datastore/dump/{opts.resource_id}: HTTP {status}", status_code=status)
        sink.finish()
        got = min(DUMP_SEGMENT_ROWS, max(total - rows, 0))
        rows += got
        state["rows"] = rows
        _save(ckpt, out, state)
        if progress:
            progress(rows, total)
        first = False
        if got == 0:
            break
    report.rows = rows


def _hxl_line(fields: list[dict[str, Any]]) -> bytes | None:
    tags = [str((f.get("info") or {}).get("hxl", "")) for f in fields]
    if not any(tags):
        return None
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(tags)
    return buf.getvalue().encode()


class _SegmentSink:
    """Writes a dump segment, dropping its header line (all but the first) or adding the HXL row."""

    def __init__(self, out: _Output, *, strip_header: bool, hxl_row: bytes | None) -> None:
        self.out = out
        self.strip_header = strip_header
        self.hxl_row = hxl_row
        self.head: bytes | None = b"" if (strip_header or hxl_row) else None

    def __call__(self, chunk: bytes) -> None:
        if self.head is None:
            self.out.write(chunk)
            return
        self.head += chunk
        end = self.head.find(b"\n")
        if end < 0:
            return
        header, rest = self.head[: end + 1], self.head[end + 1 :]
        self.head = None
        if not self.strip_header:
            self.out.write(header)
        if self.hxl_row:
            self.out.write(self.hxl_row)
        self.out.write(rest)

    def finish(self) -> None:
        if self.head and not self.strip_header:
            self.out.write(self.head)
        self.head = None


def _parquet(opts: SearchOptions, dest: Path, report: ExportReport) -> Job[ExportReport]:
    """Parquet with the table's types (from its fields, not guessed from a page): an empty table
    gives a valid file with its schema, and a column that is null on the first page keeps its type."""
    import pyarrow.parquet as pq

    report.method = "datastore_search pages"
    schema = arrow_schema(report.fields)
    counter = {"rows": 0}
    with pq.ParquetWriter(str(dest), schema) as writer:

        def on_page(records: list[dict[str, Any]]) -> None:
            writer.write_table(arrow_table(records, report.fields))
            release_page_memory()
            counter["rows"] += len(records)

        yield from pages_job(opts, {}, on_page)
    report.rows = counter["rows"]
    return report
