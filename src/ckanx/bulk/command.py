"""What the bulk commands' CLI shells share: options, the async client, running a job, exit codes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from ..cli._target import CLIError, ExitCode, ResolvedTarget, make_client
from .checkpoint import CheckpointError
from .engine import Progress, RecordLog, Summary, effective_concurrency
from .jsonl import InputError, InputLine

__all__ = [
    "THING_CHOICE",
    "AsyncAdapter",
    "common_options",
    "concurrency_for",
    "exit_for",
    "open_async_client",
    "run_job",
    "run_records_job",
    "window",
    "windowed",
]

F = TypeVar("F", bound=Callable[..., Any])
THING_CHOICE = click.Choice(["datasets", "groups", "organizations", "users"])


def common_options(*, processes: bool = True, log: bool = True, gzip_flag: bool = True) -> Callable[[F], F]:
    """``-p N``, ``-q``, ``-l FILE`` and ``-z``, spelled as in ckanapi."""

    def decorate(func: F) -> F:
        if gzip_flag:
            func = click.option(
                "-z", "--gzip", "gzip_flag", is_flag=True, help="Read/write gzip (also chosen by a .gz file name)."
            )(func)
        if log:
            func = click.option(
                "-l",
                "--log",
                "log_file",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Append one JSON line per record (status, name, id, CKAN's reason) to FILE.",
            )(func)
        func = click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr.")(func)
        if processes:
            func = click.option(
                "-p",
                "--processes",
                type=click.IntRange(min=1),
                default=1,
                show_default=True,
                metavar="N",
                help="Concurrent requests (capped at CKANAPI_PARALLEL_LIMIT, default 3, for hosts not in "
                "CKANAPI_MY_SITES; localhost is never capped).",
            )(func)
        return func

    return decorate


def window(func: F) -> F:
    """``-s START`` and ``-m MAX``: the 1-based record window, as in ckanapi."""
    func = click.option(
        "-m", "--max-records", type=click.IntRange(min=0), metavar="MAX", help="Process at most MAX records."
    )(func)
    func = click.option(
        "-s",
        "--start-record",
        type=click.IntRange(min=1),
        default=1,
        metavar="START",
        help="Start at record START (the first record is 1).",
    )(func)
    return func


def windowed(lines: Iterable[InputLine], start: int, max_records: int | None) -> Iterator[InputLine]:
    """The lines in the ``-s/-m`` window; reading stops after it (the rest of the file is not read)."""
    for line in lines:
        if max_records is not None and line.number >= start + max_records:
            return
        if line.number >= start:
            yield line


def concurrency_for(requested: int, resolved: ResolvedTarget) -> int:
    """``-p`` after the politeness limit; a bad ``CKANAPI_PARALLEL_LIMIT`` is a usage error."""
    try:
        return effective_concurrency(requested, resolved.url)
    except ValueError as err:
        raise CLIError(str(err), ExitCode.USAGE) from None


class AsyncAdapter:
    """Gives a synchronous client (LocalCKAN for ``-c``) the async ``call_action`` the engine awaits."""

    def __init__(self, sync_client: Any) -> None:
        self._sync = sync_client
        self.url = getattr(sync_client, "url", "")

    async def call_action(self, name: str, data: Any = None, files: Any = None, **kw: Any) -> Any:
        # LocalCKAN runs CKAN in this process and is not thread-safe: call it inline
        return self._sync.call_action(name, data, files=files)

    async def close(self) -> None:
        close = getattr(self._sync, "close", None)
        if close:
            close()


def open_async_client(resolved: ResolvedTarget) -> Any:
    """An :class:`~ckanx.AsyncClient` for the target (or an adapter around a local CKAN)."""
    if resolved.local_config is not None:
        return AsyncAdapter(make_client(resolved))
    return make_client(resolved, asynchronous=True)


T = TypeVar("T")


def run_job(job: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a job on a fresh event loop; input and checkpoint problems become exit code 2."""
    try:
        return asyncio.run(job())
    except (InputError, CheckpointError) as err:
        raise CLIError(str(err), ExitCode.USAGE) from None


async def closing(client: Any, body: Awaitable[T]) -> T:
    """Await ``body``, then close the client."""
    try:
        return await body
    finally:
        await client.close()


def run_records_job(
    resolved: ResolvedTarget,
    label: str,
    body: Callable[[Any, Progress, RecordLog], Awaitable[Summary]],
    *,
    quiet: bool,
    log_file: Path | None,
    close: Iterable[Any] = (),
    on_success: Callable[[], Any] | None = None,
) -> Summary:
    """Run one bulk command's job: open its record log, progress and client, run
    ``body(client, progress, log)`` on a fresh event loop, and always close what was opened (and
    ``close``: input streams, outputs). ``on_success`` runs only when the job returned. Prints the
    summary line and returns the summary (pass it to :func:`exit_for`)."""
    log = RecordLog(log_file)
    progress = Progress(label, quiet=quiet)
    client = open_async_client(resolved)
    try:
        summary = run_job(lambda: closing(client, body(client, progress, log)))
        if on_success is not None:
            on_success()
    finally:
        for item in close:
            if item is not None:
                item.close()
        log.close()
        progress.stop()
    progress.finish(summary.text())
    return summary


def exit_for(summary: Summary) -> None:
    """Exit 3 when some records failed for good (the log says which and why)."""
    if summary.errors:
        raise click.exceptions.Exit(int(ExitCode.PARTIAL))
