"""DataStore tables: import files into them, read and export them, in constant memory.

``DataStore(client)`` (and its twin ``AsyncDataStore(async_client)``) wraps a ckanx client::

    from ckanx import Client
    from ckanx.datastore import DataStore

    with Client("https://data.example.org", token) as ck:
        ds = DataStore(ck)
        report = ds.import_table("my-dataset", "payments.csv", primary_key=["id"])
        for record in ds.records(report.resource_id, filters={"year": 2024}):
            ...
        ds.export(report.resource_id, "copy.csv")

Every job is written once, as a generator of requests (:mod:`ckanx.datastore._protocol`); the two
classes below only choose the send loop. See ``docs/datastore.md`` for the rules (encodings, type
inference, HXL rows, chunking, retries and resuming).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from ._export import DEFAULT_PAGE_ROWS, ExportReport, SearchOptions, dataframe_job, export_job, pages_job
from ._import import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_CHUNK_ROWS,
    ImportFailed,
    ImportOptions,
    ImportReport,
    Progress,
    import_job,
)
from ._protocol import Call, Job, adrive, aiterate, drive, iterate
from ._source import SourceError, detect_encoding

__all__ = [
    "AsyncDataStore",
    "DataStore",
    "ExportReport",
    "ImportFailed",
    "ImportReport",
    "SourceError",
    "detect_encoding",
]


class _DataStoreJobs:
    """What both twins share: turning arguments into jobs."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def _import_job(self, target: str, source: Any, kwargs: dict[str, Any]) -> Job[ImportReport]:
        opts = ImportOptions(target=target, source=source, **kwargs)
        if opts.checkpoint is not None:
            opts.checkpoint = Path(opts.checkpoint)
        return import_job(opts)

    @staticmethod
    def _search(resource_id: str, filters: Mapping[str, Any] | None, fields: Sequence[str] | None,
                sort: str | None, q: str | Mapping[str, Any] | None, page_rows: int) -> SearchOptions:
        return SearchOptions(resource_id, filters, fields, sort, q, page_rows)

    @staticmethod
    def _export_job(opts: SearchOptions, dest: str | Path | IO[bytes], fmt: str, checkpoint: str | Path | None,
                    resume: bool, hxl: bool, progress: Any) -> Job[ExportReport]:
        target = Path(dest) if isinstance(dest, (str, Path)) else dest
        return export_job(opts, target, fmt, checkpoint=Path(checkpoint) if checkpoint else None,
                          resume=resume, hxl=hxl, progress=progress)


class DataStore(_DataStoreJobs):
    """DataStore operations over a synchronous :class:`~ckanx.Client`."""

    def import_table(
        self,
        resource_or_dataset: str,
        source: Any,
        *,
        primary_key: Sequence[str] | None = None,
        indexes: Sequence[str] | None = None,
        fields: Mapping[str, str] | None = None,
        info: Mapping[str, Mapping[str, Any]] | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        method: str | None = None,
        force: bool = False,
        dry_run: bool = False,
        progress: Progress | None = None,
        **options: Any,
    ) -> ImportReport:
        """Load a table from a CSV or JSON-lines file (path, file object or URL), a pandas
        DataFrame or a pyarrow Table into a resource's DataStore table.

        Args:
            resource_or_dataset: a resource id, or a dataset id/name to add a new resource to.
            source: the data.
            primary_key: key fields; chunks are then upserted (idempotent, safe to retry).
            indexes: fields to index.
            fields: type overrides, ``{"field": "text"}``.
            info: data-dictionary entries per field (merged over ``label``/``hxl`` found in the file).
            chunk_rows, chunk_bytes: upper bounds for each ``datastore_upsert`` call.
            method: ``insert`` (default without a key), ``upsert`` (default with one) or ``update``.
            force: write to tables owned by xloader/datapusher.
            dry_run: read and check everything (encoding, types, keys, target) without writing.
            progress: called with ``(rows_committed, rows_expected)`` after each chunk (the second is
                ``None`` when unknown, e.g. for streams and URLs).
            options: ``encoding``, ``delimiter``, ``skip_rows`` (rows before the header),
                ``hxl`` (``"info"``: HXL tags go to the fields' ``info["hxl"]`` (default); ``"data"``:
                the tag row is the first data row; ``"drop"``), ``checkpoint`` (a path; needed for
                ``resume``), ``resume``, ``replace`` (empty the table first), ``append`` (add to a
                table that has rows, without a key), ``resource_name``, ``sample_rows``.

        Raises :class:`ImportFailed` (with ``.report``) or :class:`SourceError`.
        """
        kwargs = dict(primary_key=primary_key, indexes=indexes, fields=fields, info=info, chunk_rows=chunk_rows,
                      chunk_bytes=chunk_bytes, method=method, force=force, dry_run=dry_run, progress=progress,
                      **options)
        return drive(self.client, self._import_job(resource_or_dataset, source, kwargs))

    def records(
        self,
        resource_id: str,
        *,
        filters: Mapping[str, Any] | None = None,
        fields: Sequence[str] | None = None,
        sort: str | None = None,
        q: str | Mapping[str, Any] | None = None,
        page_rows: int = DEFAULT_PAGE_ROWS,
    ) -> Iterator[dict[str, Any]]:
        """Every matching record, page by page (``_id`` is left out unless named in ``fields``)."""
        opts = self._search(resource_id, filters, fields, sort, q, page_rows)
        for page in iterate(self.client, pages_job(opts, {})):
            yield from page

    def export(
        self,
        resource_id: str,
        dest: str | Path | IO[bytes],
        format: str = "csv",
        *,
        filters: Mapping[str, Any] | None = None,
        fields: Sequence[str] | None = None,
        sort: str | None = None,
        q: str | Mapping[str, Any] | None = None,
        page_rows: int = DEFAULT_PAGE_ROWS,
        checkpoint: str | Path | None = None,
        resume: bool = False,
        hxl: bool = False,
        progress: Any = None,
    ) -> ExportReport:
        """Write a table to ``dest`` (a path or a binary stream) as ``csv`` (the server's dump),
        ``jsonl`` or ``parquet``.

        With ``checkpoint``, progress is recorded after each page so that ``resume=True`` continues
        an interrupted export. ``hxl=True`` writes the fields' ``info["hxl"]`` tags as a second CSV row.
        """
        opts = self._search(resource_id, filters, fields, sort, q, page_rows)
        return drive(self.client, self._export_job(opts, dest, format, checkpoint, resume, hxl, progress))

    def to_dataframe(
        self,
        resource_id: str,
        *,
        filters: Mapping[str, Any] | None = None,
        fields: Sequence[str] | None = None,
        sort: str | None = None,
        q: str | Mapping[str, Any] | None = None,
        page_rows: int = DEFAULT_PAGE_ROWS,
    ) -> Any:
        """The records as a pandas DataFrame, with columns typed from the table's fields (integers
        and booleans as pandas' nullable ``Int64``/``boolean``, timestamps as ``datetime64``,
        numerics as ``float64``); the columns are the table's even when it has no rows.

        Needs pandas (``pip install 'ckanx[pandas]'``; ``ImportError`` with that line otherwise).
        """
        opts = self._search(resource_id, filters, fields, sort, q, page_rows)
        return drive(self.client, dataframe_job(opts))

    def info(self, resource_id: str) -> dict[str, Any]:
        """``datastore_info``: the table's fields (with their data dictionary) and size."""
        return drive(self.client, _one(Call("datastore_info", {"id": resource_id})))

    def search(self, resource_id: str, **params: Any) -> dict[str, Any]:
        """``datastore_search`` with CKAN's parameters, one page."""
        return drive(self.client, _one(Call("datastore_search", {"resource_id": resource_id, **params})))

    def delete(self, resource_id: str, *, filters: Mapping[str, Any] | None = None, force: bool = False) -> Any:
        """``datastore_delete``: the whole table, or the rows matching ``filters``."""
        return drive(self.client, _one(_delete_call(resource_id, filters, force)))


class AsyncDataStore(_DataStoreJobs):
    """The asynchronous twin of :class:`DataStore` over an :class:`~ckanx.AsyncClient`.

    Same methods and arguments, awaitable; :meth:`records` is an async iterator. Reading the
    source file (and a URL source) happens on the event loop's thread.
    """

    async def import_table(self, resource_or_dataset: str, source: Any, **kwargs: Any) -> ImportReport:
        """See :meth:`DataStore.import_table`."""
        return await adrive(self.client, self._import_job(resource_or_dataset, source, kwargs))

    async def records(
        self,
        resource_id: str,
        *,
        filters: Mapping[str, Any] | None = None,
        fields: Sequence[str] | None = None,
        sort: str | None = None,
        q: str | Mapping[str, Any] | None = None,
        page_rows: int = DEFAULT_PAGE_ROWS,
    ) -> AsyncIterator[dict[str, Any]]:
        """See :meth:`DataStore.records`."""
        opts = self._search(resource_id, filters, fields, sort, q, page_rows)
        async for page in aiterate(self.client, pages_job(opts, {})):
            for record in page:
                yield record

    async def export(self, resource_id: str, dest: str | Path | IO[bytes], format: str = "csv", *,
                     checkpoint: str | Path | None = None, resume: bool = False, hxl: bool = False,
                     progress: Any = None, **search: Any) -> ExportReport:
        """See :meth:`DataStore.export` (``search`` takes filters, fields, sort, q, page_rows)."""
        opts = self._search(resource_id, search.get("filters"), search.get("fields"), search.get("sort"),
                            search.get("q"), search.get("page_rows", DEFAULT_PAGE_ROWS))
        return await adrive(self.client, self._export_job(opts, dest, format, checkpoint, resume, hxl, progress))

    async def to_dataframe(self, resource_id: str, **search: Any) -> Any:
        """See :meth:`DataStore.to_dataframe` (``search`` takes filters, fields, sort, q, page_rows)."""
        opts = self._search(resource_id, search.get("filters"), search.get("fields"), search.get("sort"),
                            search.get("q"), search.get("page_rows", DEFAULT_PAGE_ROWS))
        return await adrive(self.client, dataframe_job(opts))

    async def info(self, resource_id: str) -> dict[str, Any]:
        """See :meth:`DataStore.info`."""
        return await adrive(self.client, _one(Call("datastore_info", {"id": resource_id})))

    async def search(self, resource_id: str, **params: Any) -> dict[str, Any]:
        """See :meth:`DataStore.search`."""
        return await adrive(self.client, _one(Call("datastore_search", {"resource_id": resource_id, **params})))

    async def delete(self, resource_id: str, *, filters: Mapping[str, Any] | None = None,
                     force: bool = False) -> Any:
        """See :meth:`DataStore.delete`."""
        return await adrive(self.client, _one(_delete_call(resource_id, filters, force)))


def _delete_call(resource_id: str, filters: Mapping[str, Any] | None, force: bool) -> Call:
    data: dict[str, Any] = {"resource_id": resource_id}
    if filters is not None:
        data["filters"] = dict(filters)
    if force:
        data["force"] = True
    return Call("datastore_delete", data)


def _one(call: Call) -> Job[Any]:
    result = yield call
    return result
