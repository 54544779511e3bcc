"""One piece of logic, two send loops: DataStore jobs are generators of requests.

An import or an export is written once, as a generator that *yields* what it needs from the server
(:class:`Call` an action, :class:`Info` for ``status_show``, :class:`Stream` a GET on the site into a
sink, :class:`Fetch` any URL; both through the client's ``stream()``, which decides where the token goes)
and receives the answer back (or has the client's exception thrown into it). :func:`drive` runs such
a generator with a :class:`~ckanx.Client`, :func:`adrive` with an :class:`~ckanx.AsyncClient`; they
are the only code that differs between the synchronous and asynchronous APIs. Generators may also
yield :class:`Emit` to hand records to the caller (the ``records()`` iterators).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from .._core import same_site

__all__ = ["Call", "Emit", "Fetch", "Info", "Sleep", "Stream", "adrive", "aiterate", "drive", "iterate", "same_site"]

T = TypeVar("T")


@dataclass
class Call:
    """Call an action; the generator receives its result (or the exception is thrown into it)."""

    action: str
    data: dict[str, Any]
    files: dict[str, Any] | None = None  # multipart uploads (see ckanx.Client.call_action)


@dataclass
class Info:
    """The server's ``status_show`` (cached by the client)."""


@dataclass
class Stream:
    """GET ``path`` (relative to the site) and feed the body to ``sink`` chunk by chunk.

    The generator receives the HTTP status; 4xx/5xx bodies are not fed to the sink.
    """

    path: str
    params: dict[str, str] = field(default_factory=dict)
    sink: Callable[[bytes], None] = lambda b: None


@dataclass
class Fetch:
    """GET ``url`` (absolute, or a path on the site) with the client's :meth:`~ckanx.Client.stream`:
    the token goes only to the site; ``headers`` are added (e.g. ``Range``).

    The generator receives the ``httpx.Response`` (body already consumed): for 200 and 206 the body
    went to ``sink`` chunk by chunk, otherwise it was read into the response. Redirects are returned
    as they are unless ``follow_redirects`` (then followed by the client, the token rule re-applied
    to each hop).
    """

    url: str
    headers: dict[str, str]
    sink: Callable[[bytes], object]  # e.g. a file's write
    on_status: Callable[[int], None] | None = None  # called before a 200/206 body is fed to ``sink``
    follow_redirects: bool = False


@dataclass
class Sleep:
    """Wait ``seconds`` (``time.sleep`` or ``asyncio.sleep``); the generator receives ``None``."""

    seconds: float


@dataclass
class Emit:
    """Records for the caller of an iterator; the generator receives ``None``."""

    records: list[dict[str, Any]]


Job = Generator[Any, Any, T]


def _stream_sync(client: Any, step: Stream) -> int:
    with client.stream("GET", step.path, params=step.params) as response:
        if response.status_code >= 400:
            response.read()
            return int(response.status_code)
        for chunk in response.iter_bytes():
            step.sink(chunk)
        return int(response.status_code)


async def _stream_async(client: Any, step: Stream) -> int:
    async with client.stream("GET", step.path, params=step.params) as response:
        if response.status_code >= 400:
            await response.aread()
            return int(response.status_code)
        async for chunk in response.aiter_bytes():
            step.sink(chunk)
        return int(response.status_code)


def _fetch_sync(client: Any, step: Fetch) -> httpx.Response:
    with client.stream("GET", step.url, headers=step.headers, follow_redirects=step.follow_redirects) as response:
        if response.status_code in (200, 206):
            if step.on_status is not None:
                step.on_status(response.status_code)
            for chunk in response.iter_bytes():
                step.sink(chunk)
        else:
            response.read()
        return response  # type: ignore[no-any-return]


async def _fetch_async(client: Any, step: Fetch) -> httpx.Response:
    async with client.stream("GET", step.url, headers=step.headers,
                             follow_redirects=step.follow_redirects) as response:
        if response.status_code in (200, 206):
            if step.on_status is not None:
                step.on_status(response.status_code)
            async for chunk in response.aiter_bytes():
                step.sink(chunk)
        else:
            await response.aread()
        return response  # type: ignore[no-any-return]


def _step_sync(client: Any, step: Any) -> Any:
    if isinstance(step, Call):
        return client.call_action(step.action, step.data, step.files)
    if isinstance(step, Info):
        return client.server_info()
    if isinstance(step, Stream):
        return _stream_sync(client, step)
    if isinstance(step, Fetch):
        return _fetch_sync(client, step)
    if isinstance(step, Sleep):
        time.sleep(step.seconds)
        return None
    raise TypeError(f"unknown step {step!r}")


async def _step_async(client: Any, step: Any) -> Any:
    if isinstance(step, Call):
        return await client.call_action(step.action, step.data, step.files)
    if isinstance(step, Info):
        return await client.server_info()
    if isinstance(step, Stream):
        return await _stream_async(client, step)
    if isinstance(step, Fetch):
        return await _fetch_async(client, step)
    if isinstance(step, Sleep):
        await asyncio.sleep(step.seconds)
        return None
    raise TypeError(f"unknown step {step!r}")


def iterate(client: Any, job: Job[Any]) -> Iterator[Any]:
    """Run ``job`` with a synchronous client, yielding what it emits; returns its return value."""
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = job.throw(error) if error is not None else job.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        reply, error = None, None
        if isinstance(step, Emit):
            yield step.records
            continue
        try:
            reply = _step_sync(client, step)
        except (Exception, httpx.HTTPError) as err:  # handed to the job, which decides
            error = err


def drive(client: Any, job: Job[T]) -> T:
    """Run ``job`` to the end with a synchronous client and return its result."""
    it = iterate(client, job)
    while True:
        try:
            next(it)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


async def aiterate(client: Any, job: Job[Any], out: list[Any] | None = None) -> AsyncIterator[Any]:
    """The asynchronous twin of :func:`iterate`; the job's return value is appended to ``out``."""
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = job.throw(error) if error is not None else job.send(reply)
        except StopIteration as stop:
            if out is not None:
                out.append(stop.value)
            return
        reply, error = None, None
        if isinstance(step, Emit):
            yield step.records
            continue
        try:
            reply = await _step_async(client, step)
        except Exception as err:
            error = err


async def adrive(client: Any, job: Job[T]) -> T:
    """Run ``job`` to the end with an asynchronous client and return its result."""
    out: list[Any] = []
    async for _ in aiterate(client, job, out):
        pass
    return out[0]  # type: ignore[no-any-return]
