"""Dump datasets, groups, organizations or users as JSON lines (``ckanx dump``).

* ``datasets --all`` walks ``package_search`` by keyset: ``sort=id asc``, ``fq=id:{"<last id>" TO *]``,
  ``start=0``, 1000 rows a page (or the server's smaller cap, detected on the first page). Full
  dataset dicts come with each page, so N datasets cost about N/1000 + 1 calls, not N + 1. At the end
  the number of datasets written is checked against a fresh ``count``; a mismatch is an error.
* ``groups``/``organizations --all`` page the name list with ``limit``/``offset`` (past CKAN's 1000
  cap), then ``*_show`` each concurrently; ``users --all`` uses ``user_list``.
* Named objects (``ID_OR_NAME ...``) are fetched with ``*_show``, concurrently, output in input order.

Resume: output records are synced before the checkpoint names their offset. On ``--resume`` the
records found after the checkpoint offset are kept and counted, a torn last line is cut off, and the
walk continues after the last record on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import _exceptions as exc
from .actions import check_keyset_page, keyset_fq
from .checkpoint import Checkpoint
from .datapackage import DatapackageWriter
from .engine import Outcome, Progress, RecordLog, Summary, error_reason, run_ordered
from .jsonl import DurableOutput, read_tail_records
from .records import THINGS, record_key

__all__ = ["DumpCountMismatch", "DumpOptions", "resume_state", "run_dump"]

SEARCH_ROWS = 1000  # CKAN's default ckan.search.rows_max
LIST_PAGE = 1000  # CKAN's default group/organization list cap
FLUSH_RECORDS = 200
FLUSH_SECONDS = 1.0


class DumpCountMismatch(exc.CKANAPIError):
    """The keyset walk wrote a different number of datasets than the site counts."""


@dataclass
class DumpOptions:
    """What to dump and how (the ``ckanx dump`` options)."""

    thing: str
    names: list[str] | None = None  # None: --all
    include_private: bool = False
    include_drafts: bool = False
    datastore_fields: bool = False
    resource_views: bool = False
    include_users: bool = False
    concurrency: int = 1
    datapackages: Path | None = None


class _Writer:
    """Buffers records in order, writes and syncs them in batches, then saves the checkpoint."""

    def __init__(self, out: DurableOutput | None, checkpoint: Checkpoint | None, state: dict[str, Any]) -> None:
        self.out = out
        self.checkpoint = checkpoint
        self.state = state
        self.buffer: list[dict[str, Any]] = []
        self.last_flush = time.monotonic()
        self._syncing: asyncio.Future[None] | None = None

    def add(self, record: dict[str, Any]) -> None:
        self.buffer.append(record)
        if len(self.buffer) >= FLUSH_RECORDS or time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush()

    def add_page(self, records: list[dict[str, Any]]) -> None:
        """Buffer a whole page; the caller flushes at the page's end (one write and sync per page)."""
        self.buffer.extend(records)

    def flush(self) -> None:
        """Write the buffer, make it durable, then save the checkpoint (all on this thread)."""
        if not self._write_buffer():
            return
        if self.out is not None:
            self.state["offset"] = self.out.sync()  # output durable first ...
        if self.checkpoint is not None:
            self.checkpoint.save(self._saved_state())  # ... then the checkpoint that points at it

    async def flush_page(self) -> None:
        """:meth:`flush` with the two ``fsync`` calls on a worker thread, so the event loop keeps
        reading the next page meanwhile (on a busy disk they were a tenth of a dump's time).

        The previous page's sync is awaited first, so checkpoints are saved in order and each one
        names only output that an ``fsync`` has already made durable.
        """
        await self.wait_synced()
        if not self._write_buffer():
            return
        if self.out is not None:
            self.state["offset"] = self.out.flush()  # to the OS now; fsync on the worker thread
        saved = self._saved_state() if self.checkpoint is not None else None
        self._syncing = asyncio.ensure_future(asyncio.to_thread(self._make_durable, saved))

    async def wait_synced(self) -> None:
        """Wait for the last :meth:`flush_page`'s sync (its error, e.g. a full disk, is raised here)."""
        syncing, self._syncing = self._syncing, None
        if syncing is not None:
            await syncing

    def _make_durable(self, saved: dict[str, Any] | None) -> None:
        if self.out is not None:
            self.out.fsync()
        if self.checkpoint is not None and saved is not None:
            self.checkpoint.save(saved)

    def _write_buffer(self) -> bool:
        """Write the buffered records and update the state; whether there were any."""
        self.last_flush = time.monotonic()
        if not self.buffer:
            return False
        if self.out is not None:
            self.out.write_records(self.buffer)
        self.state["records"] = self.state.get("records", 0) + len(self.buffer)
        if self.state.get("mode") == "keyset":
            self.state["last_id"] = self.buffer[-1]["id"]
        else:
            self.state.setdefault("done", []).extend(k for r in self.buffer if (k := _key(r)))
        self.buffer = []
        return True

    def _saved_state(self) -> dict[str, Any]:
        # names already done are found again in the output file on resume; do not bloat the checkpoint
        return {k: v for k, v in self.state.items() if k != "done"}


def _key(record: dict[str, Any]) -> str | None:
    return record.get("name") or record.get("id")


def resume_state(output: Path, checkpoint: Checkpoint, *, gzip_output: bool, keyset: bool) -> dict[str, Any]:
    """Reconcile the output file with the checkpoint after a crash; return the state to continue from.

    Records written after the checkpoint are kept; a torn last write is cut off the file.
    """
    state = checkpoint.load()
    offset = int(state.get("offset", 0))
    size = output.stat().st_size if output.exists() else -1
    if size < offset:
        raise ValueError(
            f"--resume: {output} is shorter than the checkpoint says ({size} < {offset} bytes); "
            "it was changed since the dump stopped"
        )
    tail, end = read_tail_records(output, 0 if not keyset else offset, gzip_output=gzip_output)
    if end < size:
        with open(output, "r+b") as f:
            f.truncate(end)  # only a torn, incomplete record lies beyond `end`
    state["offset"] = end
    if keyset:
        state["records"] = int(state.get("records", 0)) + len(tail)
        if tail:
            state["last_id"] = tail[-1]["id"]
    else:
        state["records"] = len(tail)
        state["done"] = [k for r in tail if isinstance(r, dict) and (k := _key(r))]
    checkpoint.save({k: v for k, v in state.items() if k != "done"})
    return state


async def run_dump(
    client: Any,
    opts: DumpOptions,
    out: DurableOutput | None,
    *,
    progress: Progress,
    log: RecordLog,
    checkpoint: Checkpoint | None = None,
    state: dict[str, Any] | None = None,
    token_for_downloads: str | None = None,
) -> Summary:
    """Run a dump; returns the summary (``dumped``, ``error`` counts). See the module docstring."""
    spec = THINGS[opts.thing]
    keyset = opts.thing == "datasets" and opts.names is None
    state = dict(state or {"offset": out.offset if out else 0, "records": 0})
    state["mode"] = "keyset" if keyset else "names"
    writer = _Writer(out, checkpoint, state)
    # a fresh job's first checkpoint is written with its first records: until then an earlier job's
    # checkpoint and output stay as they were (see DurableOutput.create)
    summary = Summary()
    already = int(state.get("records", 0))
    if already:
        summary.add("resumed", already)
        progress.advance(already)
    packages = DatapackageWriter(opts.datapackages, client, token_for_downloads) if opts.datapackages else None

    async def enrich(record: dict[str, Any]) -> Outcome:
        if opts.thing == "datasets":
            await _enrich_dataset(client, record, opts)
            if packages is not None:
                problems = await packages.write(record)
                if problems:
                    return Outcome("error", record_key(record), record.get("id"), "; ".join(problems), record)
        return Outcome("dumped", record_key(record), record.get("id"), result=record)

    def emit_outcome(number: int, outcome: Outcome) -> None:
        if outcome.result is not None:
            writer.add(outcome.result)
        summary.add(outcome.status)
        progress.advance(errors=int(outcome.failed))
        log.write(number, outcome, spec.show)
        if outcome.failed:
            progress.note(f"{outcome.name or number}: {outcome.reason}")

    def emit_page(number: int, page: list[dict[str, Any]]) -> None:
        # nothing to add to each dataset: the page is written as it came, one outcome per record
        writer.add_page(page)
        summary.add("dumped", len(page))
        progress.advance(len(page))
        if log.enabled:
            for i, record in enumerate(page, number + 1):
                log.write(i, Outcome("dumped", record_key(record), record.get("id")), spec.show)

    plain = opts.thing == "datasets" and not (opts.datastore_fields or opts.resource_views or packages)
    try:
        if keyset:
            if plain:
                await _keyset_walk(client, opts, writer, None, emit_outcome, progress, emit_page)
            else:
                await _keyset_walk(client, opts, writer, enrich, emit_outcome, progress)
        else:
            await _names_walk(client, opts, writer, enrich, emit_outcome, progress)
    finally:
        # a page's fsync may still run on the worker thread: the output must not close under it
        await writer.wait_synced()
        writer.flush()
        if packages is not None:
            await packages.close()
    return summary


def _search_params(opts: DumpOptions) -> dict[str, Any]:
    return {
        "q": "*:*",
        "include_private": opts.include_private,
        "include_drafts": opts.include_drafts,
    }


async def _keyset_walk(
    client: Any,
    opts: DumpOptions,
    writer: _Writer,
    enrich: Callable[[dict[str, Any]], Any] | None,
    emit_outcome: Callable[[int, Outcome], None],
    progress: Progress,
    emit_page: Callable[[int, list[dict[str, Any]]], None] | None = None,
) -> None:
    """Walk ``package_search`` by id; with ``emit_page`` (no per-dataset calls) pages are written whole.

    On that fast path the next page is requested as soon as the current page's last id is known, so
    the site prepares page k+1 while this process encodes and syncs page k; and the final ``count``
    is requested as soon as the last page has arrived. Per-dataset enrichment (``-d``/``-R``/``-D``)
    goes through :func:`run_ordered` page by page, without that overlap (so ``-p N`` stays exact).
    """
    rows = SEARCH_ROWS
    number = int(writer.state.get("records", 0))
    last_id: str | None = writer.state.get("last_id")
    prefetch = emit_page is not None
    fetch: asyncio.Future[Any] | None = asyncio.ensure_future(_search_page(client, opts, rows, last_id))
    counting: asyncio.Future[Any] | None = None
    first = True
    try:
        while fetch is not None:
            result = await fetch
            fetch = None
            page = result.get("results") or []
            if first:
                first = False
                progress.set_total(int(result.get("count", 0)) + number)
                if page and len(page) < min(rows, int(result.get("count", 0))):
                    rows = len(page)  # the server caps rows lower than 1000: page by its cap
            if not page:
                break
            check_keyset_page(page, last_id)
            last_id = str(page[-1]["id"])
            more = len(page) >= rows
            if prefetch:
                if more:
                    fetch = asyncio.ensure_future(_search_page(client, opts, rows, last_id))
                else:
                    counting = asyncio.ensure_future(_count(client, opts))
            if emit_page is not None:
                emit_page(number, page)
                number += len(page)
            else:
                assert enrich is not None
                number = await _enrich_page(page, number, enrich, emit_outcome, opts.concurrency)
            # each page ends durable: the next fq starts after its last id
            if prefetch:
                await writer.flush_page()
            else:
                writer.flush()
            if more and not prefetch:
                fetch = asyncio.ensure_future(_search_page(client, opts, rows, last_id))
        await writer.wait_synced()
        expected = await (counting if counting is not None else _count(client, opts))
        counting = None
    finally:
        for pending in (fetch, counting):
            if isinstance(pending, asyncio.Future) and not pending.done():
                pending.cancel()
                with contextlib.suppress(BaseException):
                    await pending
    written = int(writer.state.get("records", 0))
    if written != expected:
        raise DumpCountMismatch(
            f"dump incomplete: wrote {written} datasets but the site now counts {expected} "
            "(the catalogue changed during the dump, or the search index is inconsistent); "
            "the output is valid but not a snapshot: run the dump again"
        )


async def _search_page(client: Any, opts: DumpOptions, rows: int, last_id: str | None) -> Any:
    params = {**_search_params(opts), "sort": "id asc", "rows": rows, "start": 0}
    if last_id:
        params["fq"] = keyset_fq(None, last_id)
    return await client.call_action("package_search", params)


async def _count(client: Any, opts: DumpOptions) -> int:
    final = await client.call_action("package_search", {**_search_params(opts), "rows": 0})
    return int(final.get("count", 0))


async def _enrich_page(
    page: list[dict[str, Any]],
    number: int,
    enrich: Callable[[dict[str, Any]], Any],
    emit_outcome: Callable[[int, Outcome], None],
    concurrency: int,
) -> int:
    numbered = [(number + i + 1, rec) for i, rec in enumerate(page)]

    async def work(item: tuple[int, dict[str, Any]]) -> Outcome:
        outcome: Outcome = await enrich(item[1])
        return outcome

    def emit(item: tuple[int, dict[str, Any]], outcome: Any) -> None:
        if isinstance(outcome, BaseException):
            outcome = Outcome("error", record_key(item[1]), item[1].get("id"), error_reason(outcome), item[1])
        emit_outcome(item[0], outcome)

    await run_ordered(numbered, work, emit, concurrency=concurrency)
    return number + len(page)


async def _list_names(client: Any, opts: DumpOptions) -> list[str]:
    spec = THINGS[opts.thing]
    if opts.thing == "users":
        users = await client.call_action("user_list", {"all_fields": False})
        return [u if isinstance(u, str) else u.get("name") for u in users]
    if opts.thing == "datasets":
        raise AssertionError("datasets --all uses the keyset walk")
    names: list[str] = []
    offset = 0
    while True:
        page = await client.call_action(
            spec.list, {"limit": LIST_PAGE, "offset": offset, "sort": "name asc", "all_fields": False}
        )
        names.extend(p if isinstance(p, str) else p.get("name") for p in page)
        if len(page) < LIST_PAGE or not page:
            break
        offset += len(page)
    return names


async def _names_walk(
    client: Any,
    opts: DumpOptions,
    writer: _Writer,
    enrich: Callable[[dict[str, Any]], Any],
    emit_outcome: Callable[[int, Outcome], None],
    progress: Progress,
) -> None:
    spec = THINGS[opts.thing]
    names = list(opts.names) if opts.names is not None else await _list_names(client, opts)
    done = set(writer.state.get("done", []))
    todo = [(i, n) for i, n in enumerate(names, 1) if n not in done]
    progress.set_total(len(todo) + int(writer.state.get("records", 0)))
    params: dict[str, Any] = {}
    if opts.thing in ("groups", "organizations"):
        params = {"include_datasets": False, "include_users": opts.include_users}
    elif opts.thing == "users":
        params = {"include_password_hash": True}

    async def work(item: tuple[int, str]) -> Outcome:
        try:
            record = await client.call_action(spec.show, {"id": item[1], **params})
        except (exc.NotFound, exc.NotAuthorized) as err:
            return Outcome("error", item[1], None, error_reason(err))
        if record.get("id") in done or record.get("name") in done:
            return Outcome("resumed", record_key(record), record.get("id"))
        outcome: Outcome = await enrich(record)
        return outcome

    def emit(item: tuple[int, str], outcome: Any) -> None:
        if isinstance(outcome, BaseException):
            outcome = Outcome("error", item[1], None, error_reason(outcome))
        emit_outcome(item[0], outcome)

    await run_ordered(todo, work, emit, concurrency=opts.concurrency)


async def _enrich_dataset(client: Any, record: dict[str, Any], opts: DumpOptions) -> None:
    """``-d`` datastore fields and ``-R`` resource views, added to each resource (as ckanapi does)."""
    if not (opts.datastore_fields or opts.resource_views or opts.datapackages):
        return
    calls = []
    for res in record.get("resources") or []:
        if (opts.datastore_fields or opts.datapackages) and res.get("datastore_active"):
            calls.append(_add_datastore_fields(client, res))
        if opts.resource_views:
            calls.append(_add_views(client, res))
    if calls:
        await asyncio.gather(*calls)


async def _add_datastore_fields(client: Any, res: dict[str, Any]) -> None:
    try:
        found = await client.call_action("datastore_search", {"resource_id": res["id"], "limit": 0})
    except exc.CKANAPIError:
        return  # no table (or no DataStore): nothing to add, as ckanapi
    res["datastore_fields"] = found.get("fields", [])


async def _add_views(client: Any, res: dict[str, Any]) -> None:
    try:
        views = await client.call_action("resource_view_list", {"id": res["id"]})
    except exc.CKANAPIError:
        return
    if views:
        res["resource_views"] = views
