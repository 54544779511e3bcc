"""The bulk engine: ordered concurrency on one event loop, politeness limits, progress and the record log.

Every bulk command is "for each input record, make a few async calls, report the outcome in input
order". :func:`run_ordered` does that with at most ``concurrency`` records in flight (no processes,
no pipes); outcomes are handed to ``emit`` strictly in input order however the calls finish.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Generic, TypeVar
from urllib.parse import urlsplit

from .jsonl import compact_json

__all__ = [
    "DEFAULT_PARALLEL_LIMIT",
    "Outcome",
    "Progress",
    "RecordLog",
    "Summary",
    "effective_concurrency",
    "error_reason",
    "run_ordered",
]

T = TypeVar("T")
DEFAULT_PARALLEL_LIMIT = 3
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def effective_concurrency(requested: int, url: str | None, environ: dict[str, str] | None = None) -> int:
    """``-p N`` capped by the politeness limit for hosts that are not yours.

    The limit is ``CKANAPI_PARALLEL_LIMIT`` (an integer, default 3). Loopback hosts and the hosts
    listed in ``CKANAPI_MY_SITES`` (whitespace-separated host names, optionally ``host:port``) are
    not limited. Host names are compared case-insensitively, without brackets or port.
    """
    env = os.environ if environ is None else environ
    if requested < 1:
        raise ValueError("-p/--processes must be at least 1")
    raw = env.get("CKANAPI_PARALLEL_LIMIT", "").strip()
    try:
        limit = int(raw) if raw else DEFAULT_PARALLEL_LIMIT
    except ValueError:
        raise ValueError(f"CKANAPI_PARALLEL_LIMIT must be a whole number, got {raw!r}") from None
    if limit < 1:
        raise ValueError(f"CKANAPI_PARALLEL_LIMIT must be at least 1, got {limit}")
    if url is None:
        return requested  # a local CKAN in-process: no network politeness to keep
    host = (urlsplit(url).hostname or "").lower()
    mine = set(_LOCAL_HOSTS)
    for entry in env.get("CKANAPI_MY_SITES", "").split():
        mine.add(_host_of(entry))
    if host in mine or host.endswith(".localhost"):
        return requested
    return min(requested, limit)


def _host_of(entry: str) -> str:
    """``https://Data.Example.org:8443/x``, ``data.example.org:8443`` and ``[::1]`` -> bare lower host."""
    text = entry.strip()
    if "://" not in text:
        text = "//" + text
    return (urlsplit(text).hostname or entry).lower()


def error_reason(err: BaseException) -> str:
    """CKAN's own reason for a failure, on one line (``owner_org: An organization must be provided``)."""
    from .._exceptions import ValidationError

    if isinstance(err, ValidationError) and err.error_dict:
        parts = []
        for key, value in err.error_dict.items():
            parts.append(f"{key}: {_flatten_messages(value)}")
        return "; ".join(parts)
    text = str(err) or type(err).__name__
    return " ".join(text.split())


def _flatten_messages(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_flatten_messages(v) for v in value if v not in ({}, [], None, ""))
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_flatten_messages(v)}" for k, v in value.items() if v)
    return str(value)


@dataclass
class Outcome:
    """What happened to one record: ``status`` is the action taken or ``"error"``."""

    status: str
    name: str | None = None
    id: str | None = None
    reason: str | None = None
    result: Any = None

    @property
    def failed(self) -> bool:
        """Whether the record failed for good."""
        return self.status == "error"


@dataclass
class Summary:
    """Counts per outcome status, in first-seen order."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, status: str, n: int = 1) -> None:
        """Count ``n`` records with ``status``."""
        self.counts[status] = self.counts.get(status, 0) + n

    @property
    def total(self) -> int:
        """All records counted."""
        return sum(self.counts.values())

    @property
    def errors(self) -> int:
        """Records that failed."""
        return self.counts.get("error", 0)

    def text(self) -> str:
        """``12 records: 10 created, 1 unchanged, 1 error``."""
        details = ", ".join(f"{n} {k}" for k, n in self.counts.items())
        return f"{self.total} records" + (f": {details}" if details else "")


class RecordLog:
    """The per-record log (``-l FILE``): one JSON line per record, appended, flushed per record."""

    def __init__(self, path: Path | None) -> None:
        self._file: IO[str] | None = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115

    @property
    def enabled(self) -> bool:
        """Whether records are logged (``-l FILE`` given); lets callers skip building entries."""
        return self._file is not None

    def write(self, number: int, outcome: Outcome, action: str | None = None) -> None:
        """Log one record's outcome (never the token: records hold no credentials)."""
        if self._file is None:
            return
        entry: dict[str, Any] = {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "record": number,
            "status": outcome.status,
        }
        if action:
            entry["action"] = action
        if outcome.name is not None:
            entry["name"] = outcome.name
        if outcome.id is not None:
            entry["id"] = outcome.id
        if outcome.reason is not None:
            entry["error"] = outcome.reason
        self._file.write(compact_json(entry, sort_keys=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the log file."""
        if self._file is not None:
            self._file.close()


class Progress:
    """Progress on stderr: a rich bar on a terminal, plain lines otherwise, nothing with ``quiet``.

    Shows records done, rate, ETA (when the total is known) and errors; :meth:`finish` prints the
    final summary (also when quiet, unless ``quiet`` is ``2``).
    """

    PLAIN_EVERY = 5.0  # seconds between plain progress lines

    def __init__(self, label: str, *, quiet: bool, total: int | None = None, stream: IO[str] | None = None) -> None:
        self.label = label
        self.quiet = quiet
        self.total = total
        self.done = 0
        self.errors = 0
        self.started = time.monotonic()
        self._stream = stream or sys.stderr
        self._last_plain = self.started
        self._rich: Any = None
        self._task: Any = None
        if not quiet and self._stream.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._rich = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}/s"),
                TextColumn("errors: {task.fields[errors]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self._stream),
                transient=True,
            )
            self._rich.start()
            self._task = self._rich.add_task(label, total=total, rate="0.0", errors=0)

    def set_total(self, total: int | None) -> None:
        """The number of records expected (enables the ETA)."""
        self.total = total
        if self._rich is not None:
            self._rich.update(self._task, total=total)

    def advance(self, n: int = 1, *, errors: int = 0) -> None:
        """Count finished records."""
        self.done += n
        self.errors += errors
        now = time.monotonic()
        rate = self.done / max(now - self.started, 1e-6)
        if self._rich is not None:
            self._rich.update(self._task, completed=self.done, rate=f"{rate:.1f}", errors=self.errors)
        elif not self.quiet and now - self._last_plain >= self.PLAIN_EVERY:
            self._last_plain = now
            eta = ""
            if self.total and rate > 0:
                eta = f", ETA {max(self.total - self.done, 0) / rate:.0f}s"
            of = f"/{self.total}" if self.total is not None else ""
            self._stream.write(f"{self.label}: {self.done}{of} records, {rate:.1f}/s{eta}, {self.errors} errors\n")
            self._stream.flush()

    def note(self, text: str) -> None:
        """A message that must be seen (a failed record), kept above the bar."""
        if self.quiet:
            return
        if self._rich is not None:
            self._rich.console.print(text, markup=False, highlight=False)
        else:
            self._stream.write(text + "\n")
            self._stream.flush()

    def stop(self) -> None:
        """Remove the bar (before an error message or the summary)."""
        if self._rich is not None:
            self._rich.stop()
            self._rich = None

    def finish(self, summary: str) -> None:
        """Stop the bar and print the final summary line."""
        self.stop()
        if not self.quiet:
            elapsed = time.monotonic() - self.started
            self._stream.write(f"{self.label}: {summary} in {elapsed:.1f}s\n")
            self._stream.flush()


@dataclass
class _Pending(Generic[T]):
    item: T
    task: asyncio.Task[Any]


async def run_ordered(
    items: Iterable[T],
    work: Callable[[T], Awaitable[Any]],
    emit: Callable[[T, Any], Awaitable[None] | None],
    *,
    concurrency: int,
) -> None:
    """Run ``work(item)`` for every item with at most ``concurrency`` in flight; ``emit`` results in order.

    ``work`` should turn expected failures into values; an unexpected exception is passed to ``emit``
    as the result. If reading ``items`` raises (malformed input), the records already started are
    finished and emitted first, then the error propagates: nothing already done is lost.
    """
    sem = asyncio.Semaphore(concurrency)
    window = max(concurrency * 4, 8)  # results waiting behind a slow head record
    pending: deque[_Pending[T]] = deque()

    async def guarded(item: T) -> Any:
        async with sem:
            try:
                return await work(item)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                return err

    async def emit_head() -> None:
        head = pending.popleft()
        result = await head.task
        maybe = emit(head.item, result)
        if maybe is not None:
            await maybe

    try:
        try:
            for item in items:
                pending.append(_Pending(item, asyncio.ensure_future(guarded(item))))
                while pending and (pending[0].task.done() or len(pending) >= window):
                    await emit_head()
                # let started calls progress while the reader is fast
                await asyncio.sleep(0)
        finally:
            # finish what was started even when the input failed half-way
            while pending:
                await emit_head()
    except BaseException:
        for p in pending:
            p.task.cancel()
        raise
