"""Importing a table into the DataStore, as a generator of requests (see :mod:`._protocol`).

Steps: find the resource (or the dataset to create it in); read the source's sample (encoding,
delimiter, header, HXL row); infer the field types; ``datastore_create`` once; then
``datastore_upsert`` in chunks bounded by rows *and* bytes.

Why a retried chunk can never duplicate rows:

* with a primary key every chunk is sent with ``method=upsert``: repeating it is harmless, and the
  client retries it by itself;
* without one, chunks go with ``method=insert`` and a checkpoint records how many source rows are
  committed. When the outcome of a chunk is unknown (connection lost after sending, 502/504), the
  table's row count decides: ``baseline + committed + len(chunk)`` means it landed, ``baseline +
  committed`` means it did not (so it is resent), anything else stops the import (another writer).
  A resumed import uses the same count to skip exactly the rows already in the table, including a
  chunk that landed after the last checkpoint was written.

Why a resumed import into a dataset never adds a second resource: before the ``datastore_create``
that creates the resource is sent, the checkpoint durably records the intent (dataset, resource
name, the dataset's resources before). A run stopped before the answer was recorded leaves that
intent; ``resume`` settles it like a lost answer (the one new resource of that name is adopted, its
table created if missing), and a fresh run over it refuses instead of creating another.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _exceptions as exc
from ..bulk.checkpoint import Checkpoint, CheckpointError
from ._frames import open_frame
from ._protocol import Call, Fetch, Info, Job, Sleep
from ._source import (
    SAMPLE_BYTES,
    OpenedSource,
    SourceError,
    detect_encoding,
    field_names,
    iter_csv_rows,
    iter_jsonl_rows,
    open_source,
    sniff_layout,
)
from ._types import KNOWN_TYPES, ColumnGuess, ConversionError, convert

__all__ = ["DEFAULT_CHUNK_BYTES", "DEFAULT_CHUNK_ROWS", "ImportFailed", "ImportOptions", "ImportReport"]

DEFAULT_CHUNK_ROWS = 10_000
DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024  # under common proxies' body limits (nginx's is often set to 5-10 MB)
DEFAULT_SAMPLE_ROWS = 20_000
MIN_CHUNK_ROWS = 1
MAX_RESENDS = 3
# after an unknown outcome the server may still be working on the chunk (a read timeout or a 504
# does not stop it): the row count is watched this long before the chunk is taken as lost
SETTLE_SECONDS = 60.0
SETTLE_POLL = 2.0
ENVELOPE_BYTES = 512  # resource_id, method, flags around the records
HXL_MODES = ("info", "data", "drop")

Progress = Callable[[int, "int | None"], None]


class ImportFailed(exc.CKANAPIError):
    """The import stopped; ``report`` says how far it got (rows committed, resource id)."""

    def __init__(self, message: str, report: ImportReport | None = None) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class ImportOptions:
    """What :meth:`DataStore.import_table` was asked to do (see its docstring)."""

    target: str
    source: Any
    primary_key: Sequence[str] | None = None
    indexes: Sequence[str] | None = None
    fields: Mapping[str, str] | None = None
    info: Mapping[str, Mapping[str, Any]] | None = None
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    method: str | None = None
    force: bool = False
    dry_run: bool = False
    progress: Progress | None = None
    encoding: str | None = None
    delimiter: str | None = None
    skip_rows: int | None = None
    hxl: str = "info"
    checkpoint: Path | None = None
    resume: bool = False
    replace: bool = False
    append: bool = False
    resource_name: str | None = None
    sample_rows: int = DEFAULT_SAMPLE_ROWS
    label: str | None = None  # the source's name in checkpoints and the new resource (a URL's, once downloaded)


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do).

    Attributes:
        resource_id: the DataStore table (``None`` in a dry run for a resource still to be created).
        rows: data rows read from the source; ``rows_committed``: rows this run wrote (or skipped on resume).
        fields: the ``fields`` sent to ``datastore_create`` (id, type, info).
        encoding, delimiter: what was detected or given; ``preamble``: lines skipped before the header.
        renamed: ``{field id: original header}`` for headers that CKAN would refuse as written.
        hxl: the HXL tags found under the header (``None`` if none) and ``hxl_mode`` what was done.
        nulls_for_nan: values (NaN, infinity) sent as null because JSON cannot carry them.
        blank_rows: rows with no value at all, skipped (counted in the last pass over the source).
        chunks: chunks sent; ``reconciled``: ambiguous chunks settled by counting rows;
        ``split_chunks``: chunks halved after a 413 (lower ``chunk_bytes`` for that server).
    """

    resource_id: str | None = None
    created_resource: bool = False
    rows: int = 0
    rows_committed: int = 0
    rows_skipped_on_resume: int = 0
    fields: list[dict[str, Any]] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)
    method: str = "insert"
    encoding: str | None = None
    delimiter: str | None = None
    preamble: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)
    dropped_columns: list[int] = field(default_factory=list)
    hxl: list[str] | None = None
    hxl_mode: str = "info"
    nulls_for_nan: int = 0
    blank_rows: int = 0
    chunks: int = 0
    reconciled: int = 0
    split_chunks: int = 0
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    server_version: str = ""

    def summary(self) -> str:
        """One line for humans."""
        verb = "would import" if self.dry_run else "imported"
        parts = [f"{verb} {self.rows_committed if not self.dry_run else self.rows} rows"]
        if self.resource_id:
            parts.append(f"into {self.resource_id}")
        parts.append(f"({len(self.fields)} fields, {self.encoding or 'utf-8'}")
        if self.chunks:
            parts[-1] += f", {self.chunks} chunks"
        parts[-1] += ")"
        if self.rows_skipped_on_resume:
            parts.append(f"resumed after {self.rows_skipped_on_resume} rows")
        return " ".join(parts)


# ---------------------------------------------------------------- rows from sources


@dataclass
class _Table:
    """A source opened for rows: field ids, their source columns, and a row iterator factory."""

    names: list[str]
    rows: Callable[[], Iterator[list[Any]]]  # values in ``names`` order, strings or Python values
    guesses: list[ColumnGuess]
    report_extra: dict[str, Any]
    close: Callable[[], None]


def _open_table(opts: ImportOptions, report: ImportReport) -> _Table:
    src = opts.source
    frame = open_frame(src)
    if frame is not None:
        fixed, renamed = field_names(frame.names, list(range(len(frame.names))))
        report.renamed = renamed
        return _Table(fixed, frame.rows, frame.guesses, {}, lambda: None)
    if opts.hxl not in HXL_MODES:
        raise ValueError(f"hxl must be one of {HXL_MODES}, got {opts.hxl!r}")

    def reopen() -> OpenedSource:
        return open_source(src)

    opened = reopen()
    rewindable = isinstance(src, (str, Path)) and not _is_url(src)
    if opened.kind == "jsonl":
        return _jsonl_table(opened, opts, report)
    layout = sniff_layout(
        opened.sample,
        encoding=opts.encoding,
        complete=opened.complete,
        skip_rows=opts.skip_rows,
        delimiter=opts.delimiter,
    )
    report.encoding, report.delimiter, report.preamble = layout.encoding, layout.delimiter, layout.preamble
    report.hxl = layout.hxl
    report.hxl_mode = opts.hxl if layout.hxl is not None else "info"
    header = layout.header
    # columns with no header and no value in the sample (trailing commas) are dropped; a value
    # appearing in one later stops the import instead of being lost
    sample_rows = _sample_rows(opened, layout)
    width = max([len(header)] + [len(r) for r in sample_rows])
    keep = [i for i in range(width) if (i < len(header) and header[i].strip()) or any(
        i < len(r) and r[i].strip() for r in sample_rows)]
    report.dropped_columns = [i for i in range(width) if i not in keep]
    names, renamed = field_names(header, keep)
    report.renamed = renamed
    hxl_row = layout.hxl if (layout.hxl is not None and opts.hxl == "data") else None
    extra: dict[str, Any] = {}
    if layout.hxl is not None:
        extra["hxl_tags"] = [layout.hxl[i].strip() if i < len(layout.hxl) else "" for i in keep]
    state: dict[str, Any] = {"opened": opened}

    def rows() -> Iterator[list[Any]]:
        current: OpenedSource | None = state["opened"]
        if current is None:
            current = reopen()
            state["opened"] = current
        state["opened"] = None  # the next call reopens
        report.blank_rows = 0
        try:
            if hxl_row is not None:
                yield [hxl_row[i] if i < len(hxl_row) else "" for i in keep]
            for n, row in enumerate(iter_csv_rows(current, layout), 1):
                if not any(c.strip() for c in row):
                    report.blank_rows += 1  # blank lines carry no record (spreadsheets add them at the end)
                    continue
                for i in report.dropped_columns:
                    if i < len(row) and row[i].strip():
                        raise SourceError(
                            f"data row {n} has a value in column {i + 1}, which has no header and was "
                            "empty in the sample: fix the file or pass skip_rows/a header"
                        )
                yield [row[i] if i < len(row) else "" for i in keep]
        finally:
            current.close()

    if rewindable:
        try:
            guesses = _guess(rows(), len(names), None, extra)
        except SourceError:
            # the sample was plain ASCII (so "UTF-8") but the file is not: this full pass found it
            # before anything was written; decide again on the lines that hold non-ASCII bytes
            if opts.encoding is not None or not layout.encoding.startswith("utf-8"):
                raise
            layout.encoding = detect_encoding(_non_ascii_lines(Path(src)), complete=True)
            if layout.encoding.startswith("utf-8"):
                raise
            report.warnings.append(
                f"the first {len(opened.sample)} bytes read as UTF-8 but later bytes do not: read as "
                f"{layout.encoding} (detected from the lines with non-ASCII bytes)"
            )
            report.encoding = layout.encoding
            guesses = _guess(rows(), len(names), None, extra)
    else:
        guesses = _guess(_buffered(state, rows, opts.sample_rows), len(names), opts.sample_rows, extra)
    if not rewindable:
        buffered = state.pop("buffer")
        rest = state.pop("rest")

        def replay() -> Iterator[list[Any]]:
            yield from buffered
            yield from rest

        return _Table(names, replay, guesses, extra, opened.close)

    def close() -> None:
        if state.get("opened") is not None:
            state["opened"].close()

    return _Table(names, rows, guesses, extra, close)


def _non_ascii_lines(path: Path, limit: int = SAMPLE_BYTES) -> bytes:
    """Up to ``limit`` bytes of the file's lines that contain non-ASCII bytes (an encoding sample)."""
    out = bytearray()
    with open(path, "rb") as f:
        for line in f:
            if max(line, default=0) >= 0x80:
                out += line
                if len(out) >= limit:
                    break
    return bytes(out)


def _sample_rows(opened: OpenedSource, layout: Any) -> list[list[str]]:
    """Rows of the sample after the header (for column decisions), without consuming the stream."""
    import csv
    import io

    text = opened.sample.decode(layout.encoding, errors="replace")
    if not opened.complete:
        text = text[: max(text.rfind("\n"), 0)]
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=layout.delimiter))
    start = layout.skip_rows + 1 + (1 if layout.hxl is not None else 0)
    return rows[start:]


def _buffered(state: dict[str, Any], rows: Callable[[], Iterator[list[Any]]], limit: int) -> Iterator[list[Any]]:
    """Rows for inference from a one-shot source: kept in memory to be sent afterwards."""
    it = rows()
    buffer: list[list[Any]] = []
    state["buffer"], state["rest"] = buffer, it
    for row in it:
        buffer.append(row)
        yield row
        if len(buffer) >= limit:
            return


def _guess(rows: Iterator[list[Any]], width: int, limit: int | None,
           extra: dict[str, Any] | None = None) -> list[ColumnGuess]:
    """Type evidence from the rows (up to ``limit``); a full pass also counts them (``extra["rows"]``)."""
    guesses = [ColumnGuess() for _ in range(width)]
    n = 0
    for n, row in enumerate(rows, 1):
        for g, v in zip(guesses, row, strict=False):
            g.add(v)
        if limit is not None and n >= limit:
            break
    if limit is None and extra is not None:
        extra["rows"] = n
    return guesses


def _jsonl_table(opened: OpenedSource, opts: ImportOptions, report: ImportReport) -> _Table:
    """JSON lines: keys and types from the first ``sample_rows`` objects (kept to be sent), then the rest."""
    report.encoding = "utf-8"
    # keys: from the sample objects (first seen order); a later unknown key stops the import
    keys: list[str] = []
    sample_iter = iter_jsonl_rows(opened)
    buffer: list[dict[str, Any]] = []
    for obj in sample_iter:
        buffer.append(obj)
        for k in obj:
            if k not in keys:
                keys.append(k)
        if len(buffer) >= opts.sample_rows:
            break
    names, renamed = field_names(keys, list(range(len(keys))))
    report.renamed = renamed
    index = {k: i for i, k in enumerate(keys)}

    def as_row(n: int, obj: dict[str, Any]) -> list[Any]:
        row: list[Any] = [None] * len(keys)
        for k, v in obj.items():
            i = index.get(k)
            if i is None:
                raise SourceError(f"record {n} has the key {k!r}, absent from the first {len(buffer)} records")
            row[i] = v
        return row

    def rows() -> Iterator[list[Any]]:
        n = 0
        for obj in buffer:
            n += 1
            yield as_row(n, obj)
        for obj in sample_iter:
            n += 1
            yield as_row(n, obj)

    guesses = [ColumnGuess() for _ in keys]
    for obj in buffer:
        for k, v in obj.items():
            guesses[index[k]].add(v)
    return _Table(names, rows, guesses, {}, opened.close)


# ---------------------------------------------------------------- the job


def _version(info: Mapping[str, Any]) -> tuple[int, ...]:
    parts = []
    for piece in str(info.get("ckan_version", "")).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _is_url(src: Any) -> bool:
    return isinstance(src, str) and src.startswith(("http://", "https://"))


def _job_identity(opts: ImportOptions, source_name: str) -> dict[str, Any]:
    src = opts.source
    ident: dict[str, Any] = {"command": "datastore import", "target": opts.target, "source": source_name}
    if isinstance(src, (str, Path)) and not _is_url(src):
        path = Path(src)
        st = path.stat()
        with open(path, "rb") as f:
            head = f.read(65536)
        ident["size"] = st.st_size
        ident["head_sha256"] = hashlib.sha256(head).hexdigest()
    return ident


def _total(result: Mapping[str, Any]) -> int:
    return int(result.get("total") or 0)


def import_job(opts: ImportOptions) -> Job[ImportReport]:
    """The import as a generator of requests; returns the :class:`ImportReport`."""
    if opts.chunk_rows < MIN_CHUNK_ROWS or opts.chunk_bytes < 1024:
        raise ValueError("chunk_rows must be >= 1 and chunk_bytes >= 1024")
    if _is_url(opts.source):
        return (yield from _from_url(opts))
    return (yield from _import(opts))


def _from_url(opts: ImportOptions) -> Job[ImportReport]:
    """Download a URL source to a temporary file, then import that file.

    Why not parse the response as it arrives: the source's connection would sit idle while CKAN
    works through each chunk (servers drop idle downloads), only a sample could be typed, and a
    resumed import could not be checked against it. The download goes through the client's
    ``stream()``: constant memory, the token only to the CKAN site, redirects re-checked.
    """
    url = str(opts.source)
    name = url.rstrip("/").rsplit("/", 1)[-1].split("?")[0].split("#")[0] or "download"
    folder = Path(tempfile.mkdtemp(prefix="ckanx-import-"))
    path = folder / (name.replace("\\", "_").strip(". ") or "download")
    try:
        with open(path, "wb") as f:
            try:
                response = yield Fetch(url, {}, f.write, follow_redirects=True)
            except exc.CKANAPIError:
                raise
            except Exception as err:  # httpx transport errors: one line, no traceback
                raise SourceError(f"cannot download {url}: {type(err).__name__}: {err}") from None
        if response.status_code != 200:
            raise SourceError(f"cannot download {url}: HTTP {response.status_code}")
        local = dataclasses.replace(opts, source=path, label=opts.label or url)
        return (yield from _import(local))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _import(opts: ImportOptions) -> Job[ImportReport]:
    report = ImportReport(dry_run=opts.dry_run)
    info = yield Info()
    version = _version(info)
    report.server_version = str(info.get("ckan_version", ""))

    # -- where to: an existing resource, or a dataset to add one to
    resource_id: str | None = None
    package_id: str | None = None
    before: set[str] = set()  # the dataset's resources before the import (to find one it created)
    try:
        res = yield Call("resource_show", {"id": opts.target})
        resource_id = res["id"]
    except (exc.NotFound, exc.ValidationError):
        try:
            pkg = yield Call("package_show", {"id": opts.target})
        except exc.NotFound:
            raise ImportFailed(f"no resource or dataset {opts.target!r} on this site") from None
        package_id = pkg["id"]
        before = {str(r.get("id")) for r in pkg.get("resources") or []}

    table = _open_table(opts, report)
    try:
        return (yield from _run(opts, report, table, version, resource_id, package_id, before))
    finally:
        table.close()


def _fields_for(opts: ImportOptions, table: _Table, report: ImportReport) -> list[dict[str, Any]]:
    overrides = dict(opts.fields or {})
    unknown = set(overrides) - set(table.names)
    if unknown:
        raise ImportFailed(f"type overrides for unknown fields: {', '.join(sorted(unknown))} (fields: "
                           f"{', '.join(table.names)})")
    for name, ftype in overrides.items():
        if ftype not in KNOWN_TYPES:
            raise ImportFailed(f"unknown DataStore type {ftype!r} for {name!r}")
    fields = []
    for i, name in enumerate(table.names):
        guessed = table.guesses[i].type()
        item: dict[str, Any] = {"id": name, "type": overrides.get(name, guessed)}
        finfo: dict[str, Any] = {}
        if name in report.renamed and report.renamed[name].strip():
            finfo["label"] = report.renamed[name]
        tags = table.report_extra.get("hxl_tags")
        if tags and report.hxl_mode == "info" and tags[i]:
            finfo["hxl"] = tags[i]
        finfo.update((opts.info or {}).get(name, {}))
        if finfo:
            item["info"] = finfo
        fields.append(item)
    for key in list(opts.primary_key or []) + list(opts.indexes or []):
        if key not in table.names:
            raise ImportFailed(f"key field {key!r} is not a column of the source ({', '.join(table.names)})")
    return fields


def _records(table: _Table, fields: list[dict[str, Any]], report: ImportReport) -> Iterator[dict[str, Any]]:
    """Typed records, in source order; a value that does not fit its type stops the import."""
    names = [f["id"] for f in fields]
    types = [f["type"] for f in fields]
    for n, row in enumerate(table.rows(), 1):
        record: dict[str, Any] = {}
        for name, ftype, value in zip(names, types, row, strict=False):
            try:
                converted, was_nan = convert(value, ftype)
            except ConversionError as err:
                raise ImportFailed(
                    f"row {n}, field {name!r}: {err} (type {ftype} was inferred from the sample: "
                    f"override it, e.g. --type {name}=text)",
                    report,
                ) from None
            if was_nan:
                report.nulls_for_nan += 1
            if converted is not None:
                record[name] = converted
        report.rows = n
        yield record


def _chunks(records: Iterator[dict[str, Any]], rows: int, max_bytes: int,
            skip: int) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """Chunks bounded by rows and by the bytes of the request body (one oversized record is a chunk
    of its own). Sizes are measured as the client encodes them (``json.dumps`` defaults)."""
    chunk: list[dict[str, Any]] = []
    size = ENVELOPE_BYTES
    for n, record in enumerate(records):
        if n < skip:
            continue
        # records are JSON-ready already (convert() made them so)
        encoded = len(json.dumps(record)) + 2  # ", " between records
        if chunk and (len(chunk) >= rows or size + encoded > max_bytes):
            yield chunk, size
            chunk, size = [], ENVELOPE_BYTES
        chunk.append(record)
        size += encoded
    if chunk:
        yield chunk, size


def _run(opts: ImportOptions, report: ImportReport, table: _Table, version: tuple[int, ...],
         resource_id: str | None, package_id: str | None, before: set[str]) -> Job[ImportReport]:
    fields = _fields_for(opts, table, report)
    report.fields = fields
    report.primary_key = list(opts.primary_key or [])
    method = opts.method or ("upsert" if opts.primary_key else "insert")
    if method not in ("insert", "upsert", "update"):
        raise ValueError(f"method must be insert, upsert or update, got {method!r}")
    if method != "insert" and not opts.primary_key:
        raise ImportFailed(f"method={method} needs a primary key")
    report.method = method
    report.resource_id = resource_id

    if opts.dry_run:
        for _ in _records(table, fields, report):
            pass
        report.rows_committed = 0
        # a dry run checks the target too: an existing table without a key would get duplicates
        if resource_id is not None:
            existing = yield from _existing_rows(resource_id)
            if existing and not (opts.primary_key or opts.append or opts.replace or opts.resume):
                raise ImportFailed(_refuse_message(resource_id, existing), report)
        return report

    label = opts.label or str(opts.source)
    checkpoint = Checkpoint(opts.checkpoint, _job_identity(opts, label)) if opts.checkpoint else None
    state: dict[str, Any] = {}
    if opts.resume:
        if checkpoint is None:
            raise ImportFailed("resume needs a checkpoint file")
        state = checkpoint.load()
        intent = state.get("intent")
        if isinstance(intent, dict) and "resource_id" not in state:
            # the run was stopped after recording that it would create the resource, before the
            # answer to that create: settle what landed, as after a lost answer (never a second resource)
            package_id = str(intent["package_id"])
            create = _create_request(opts, fields, None, package_id, str(intent["name"]))
            resource_id = yield from _create_table(create, package_id, set(intent["before"]), report,
                                                   answer_lost=True)
            report.created_resource = True
            state = {"resource_id": resource_id, "baseline": 0, "committed": 0}
            checkpoint.save(state)
        resource_id = state["resource_id"]
        report.resource_id = resource_id
    elif checkpoint is not None and resource_id is None:
        _refuse_over_pending(checkpoint, report)

    if not state:
        if resource_id is not None:
            existing = yield from _existing_rows(resource_id)
            if existing and opts.replace:
                yield Call("datastore_delete", {"resource_id": resource_id, "force": opts.force})
                existing = 0
            if existing and not (opts.primary_key or opts.append):
                raise ImportFailed(_refuse_message(resource_id, existing), report)
        else:
            existing = 0
        name = opts.resource_name or _source_name(opts.label or opts.source)
        create = _create_request(opts, fields, resource_id, package_id, name)
        if resource_id is None and checkpoint is not None:
            # write-ahead intent, durable before the create is sent: a run killed before the answer
            # arrives leaves a checkpoint that --resume settles (the one new resource is adopted)
            checkpoint.save({"intent": {"package_id": package_id, "name": name, "before": sorted(before)},
                             "baseline": 0, "committed": 0})
        resource_id = yield from _create_table(create, package_id, before, report)
        report.resource_id = resource_id
        report.created_resource = package_id is not None
        state = {"resource_id": resource_id, "baseline": existing, "committed": 0}
        if checkpoint is not None:
            checkpoint.save(state)
    assert resource_id is not None

    baseline = int(state["baseline"])
    committed = int(state["committed"])
    if opts.resume:
        if opts.primary_key:
            skip = committed  # upserts: resending is harmless
        else:
            on_server = (yield from _existing_rows(resource_id)) - baseline
            if on_server < committed or on_server > committed + opts.chunk_rows:
                raise ImportFailed(
                    f"cannot resume: the table has {on_server} rows from this import but the checkpoint "
                    f"recorded {committed} (was it changed by someone else?)",
                    report,
                )
            skip = on_server
        report.rows_skipped_on_resume = skip
        committed = skip
    else:
        skip = 0

    send_count = version >= (2, 9)
    records = _records(table, fields, report)
    chunks = _chunks(records, opts.chunk_rows, opts.chunk_bytes, skip)
    pending = next(chunks, None)
    expected_rows = table.report_extra.get("rows")  # known after a full typing pass over a file
    if opts.progress:
        opts.progress(committed, expected_rows)
    while pending is not None:
        chunk, _size = pending
        following = next(chunks, None)
        last = following is None
        data: dict[str, Any] = {"resource_id": resource_id, "records": chunk, "method": method}
        if opts.force:
            data["force"] = True
        if send_count and not last:
            data["calculate_record_count"] = False
        elif send_count and version < (2, 12):
            data["calculate_record_count"] = True  # 2.12 counts in the background by default
        yield from _send_chunk(data, chunk, method, resource_id, baseline, committed, report)
        committed += len(chunk)
        report.chunks += 1
        if checkpoint is not None:
            state["committed"] = committed
            checkpoint.save(state)
        if opts.progress:
            opts.progress(committed, expected_rows)
        pending = following
    report.rows_committed = committed
    if checkpoint is not None:
        checkpoint.remove()
    if method == "insert" and report.reconciled:
        # a chunk taken as lost may still have been applied after the settle time: say so
        total = yield from _existing_rows(resource_id)
        if total != baseline + committed:
            report.warnings.append(
                f"the table has {total} rows, {baseline + committed} expected: a chunk whose answer was lost "
                "may have been applied twice (or someone else wrote to the table)"
            )
    return report


def _create_request(opts: ImportOptions, fields: list[dict[str, Any]], resource_id: str | None,
                    package_id: str | None, name: str) -> dict[str, Any]:
    """The ``datastore_create`` body: on ``resource_id``, or creating a resource ``name`` in the dataset."""
    create: dict[str, Any] = {"fields": fields, "force": opts.force}
    if resource_id is not None:
        create["resource_id"] = resource_id
    else:
        create["resource"] = {"package_id": package_id, "name": name}
        if name.lower().endswith((".csv", ".jsonl")):
            create["resource"]["format"] = name.rsplit(".", 1)[1].upper()
    if opts.primary_key:
        create["primary_key"] = list(opts.primary_key)
    if opts.indexes:
        create["indexes"] = list(opts.indexes)
    return create


def _refuse_over_pending(checkpoint: Checkpoint, report: ImportReport) -> None:
    """A fresh import into a dataset would add another resource beside the one an interrupted run
    of the same import made (or may have made): refuse, pointing at ``resume``."""
    try:
        state = checkpoint.load()
    except CheckpointError:
        return  # none, unreadable or another job's: overwritten, as before
    if "resource_id" in state:
        made = f"created the resource {state['resource_id']} ({int(state.get('committed') or 0)} rows committed)"
    elif isinstance(state.get("intent"), dict):
        made = f"was creating the resource {state['intent'].get('name')!r} when it stopped"
    else:
        return
    raise ImportFailed(f"an interrupted run of this import {made}; its checkpoint is {checkpoint.path}: "
                       "resume it (--resume), or delete the checkpoint to start over with another new resource",
                       report)


def _outcome_unknown(err: exc.CKANAPIError) -> bool:
    """A transport failure after sending (the client raises these instead of repeating a write)."""
    return isinstance(err, (exc.OutcomeUnknownError, exc.NetworkError, exc.HTTPStatusError)) and err.status_code != 413


def _create_table(create: dict[str, Any], package_id: str | None, before: set[str],
                  report: ImportReport, answer_lost: bool = False) -> Job[str]:
    """``datastore_create``; after an unknown outcome, look at what landed instead of stopping.

    * the table exists with the import's fields: the create landed, carry on;
    * the import was to create the resource and a new resource of that name appeared in the dataset
      (with or without its table): that one is used — the create is never repeated with
      ``resource=``, so a retry cannot add a second resource;
    * nothing landed (after waiting :data:`SETTLE_SECONDS`, as the server may still be working):
      the create is sent again, up to :data:`MAX_RESENDS` times.

    ``answer_lost``: a resumed run whose checkpoint holds the create's intent (the earlier run may
    or may not have sent it): start by settling, as after a lost answer, instead of sending.
    """
    request = create
    for attempt in range(MAX_RESENDS + 1):
        if not (answer_lost and attempt == 0):
            try:
                created = yield Call("datastore_create", request)
                return str(created["resource_id"])
            except exc.CKANAPIError as err:
                if not _outcome_unknown(err):
                    raise
        report.reconciled += 1
        rid, table_ok = yield from _settled_create(request, package_id, before, report)
        if rid is not None and table_ok:
            return rid
        if rid is not None and "resource" in request:
            # the resource landed without its table. CKAN commits resource_create, then sets
            # url_type "datastore" (which makes the table writable without force), then creates
            # the table: finish its steps on this resource instead of adding another
            yield Call("resource_patch", {"id": rid, "url_type": "datastore"})
            request = {k: v for k, v in request.items() if k != "resource"}
            request["resource_id"] = rid
    raise ImportFailed(f"datastore_create failed {MAX_RESENDS + 1} times with an unknown outcome; "
                       "check the dataset for an empty new resource", report)


def _settled_create(create: dict[str, Any], package_id: str | None, before: set[str],
                    report: ImportReport) -> Job[tuple[str | None, bool]]:
    """``(resource id or None, whether its table has the import's fields)``, once the create has
    landed or had :data:`SETTLE_SECONDS` to."""
    wanted = [f["id"] for f in create.get("fields", [])]
    waited = 0.0
    while True:
        rid = create.get("resource_id")
        if rid is None and package_id is not None:
            name = create["resource"]["name"]
            pkg = yield Call("package_show", {"id": package_id})
            new = [r for r in pkg.get("resources") or [] if str(r.get("id")) not in before and r.get("name") == name]
            if len(new) > 1:
                ids = ", ".join(str(r["id"]) for r in new)
                raise ImportFailed(f"after a lost datastore_create answer, {len(new)} new resources named {name!r} "
                                   f"are in the dataset ({ids}): another writer? stopping", report)
            rid = str(new[0]["id"]) if new else None
        if rid is not None:
            report.resource_id = rid
            try:
                meta = yield Call("datastore_search", {"resource_id": rid, "limit": 0, "include_total": False})
            except exc.NotFound:
                meta = None
            if meta is not None:
                have = {f.get("id") for f in meta.get("fields", [])}
                if all(name in have for name in wanted):
                    return rid, True
        if waited >= SETTLE_SECONDS:
            return rid, False
        yield Sleep(SETTLE_POLL)
        waited += SETTLE_POLL


def _refuse_message(resource_id: str, existing: int) -> str:
    return (f"the DataStore table {resource_id} already has {existing} rows and no primary key was given: "
            "importing would add duplicates; use replace (delete them first), append, or a primary key")


def _source_name(src: Any) -> str:
    if isinstance(src, (str, Path)):
        return str(src).rstrip("/").rsplit("/", 1)[-1].split("?")[0] or "data"
    return Path(str(getattr(src, "name", "") or "data")).name


def _existing_rows(resource_id: str) -> Job[int]:
    """Rows in the table now (0 when there is no table)."""
    try:
        result = yield Call("datastore_search", {"resource_id": resource_id, "limit": 0, "include_total": True})
    except exc.NotFound:
        return 0
    return _total(result)


def _settled_count(resource_id: str, baseline: int, committed: int, size: int) -> Job[int]:
    """Rows from this import once the lost chunk has either landed or had time to."""
    waited = 0.0
    while True:
        on_server = (yield from _existing_rows(resource_id)) - baseline
        if on_server != committed or waited >= SETTLE_SECONDS:
            return on_server
        yield Sleep(SETTLE_POLL)
        waited += SETTLE_POLL


def _send_chunk(data: dict[str, Any], chunk: list[dict[str, Any]], method: str, resource_id: str,
                baseline: int, committed: int, report: ImportReport) -> Job[None]:
    """Send one chunk; settle an unknown outcome of an insert by counting rows; split a chunk the
    server (or a proxy) refuses as too large (413) in halves."""
    for _attempt in range(MAX_RESENDS + 1):
        try:
            yield Call("datastore_upsert", data)
            return
        except exc.CKANAPIError as err:
            if err.status_code == 413:
                if len(chunk) == 1:
                    raise ImportFailed("the server refuses a single record as too large (HTTP 413)", report) from err
                half = len(chunk) // 2
                report.split_chunks += 1
                first = {**data, "records": chunk[:half]}
                if "calculate_record_count" in first:
                    first["calculate_record_count"] = False
                yield from _send_chunk(first, chunk[:half], method, resource_id, baseline, committed, report)
                rest = {**data, "records": chunk[half:]}
                yield from _send_chunk(rest, chunk[half:], method, resource_id, baseline, committed + half, report)
                return
            if not _outcome_unknown(err):
                raise  # an answer (validation, auth, ...): not a transport problem
            if method != "insert":
                raise  # the client already retried this idempotent call
            report.reconciled += 1
            on_server = yield from _settled_count(resource_id, baseline, committed, len(chunk))
            if on_server == committed + len(chunk):
                return  # the chunk landed; only its answer was lost
            if on_server != committed:
                raise ImportFailed(
                    f"after an unknown outcome the table has {on_server} rows from this import, expected "
                    f"{committed} or {committed + len(chunk)}: stopping to avoid duplicates",
                    report,
                ) from err
    raise ImportFailed(f"a chunk failed {MAX_RESENDS + 1} times; resume later", report)
