"""httpx transports that drive an embedded CKAN's ASGI app in-process, with no socket.

::

    site = EmbeddedCKAN()
    with httpx.Client(transport=EmbeddedTransport(site), base_url=site.site_url) as http:
        http.post("/api/3/action/status_show", json={})

:class:`EmbeddedTransport` (sync) runs the app on a private event loop in a daemon thread;
:class:`AsyncEmbeddedTransport` runs it on the caller's loop. Both stream: the response is
returned as soon as the app sends its status line, and the body is handed over chunk by chunk
through a small bounded queue, so a large ``/datastore/dump`` is not held in memory and
``client.stream(...)`` sees chunks as the app produces them. Closing a response early tells the
app the client disconnected.

httpx's own ``ASGITransport`` is async-only and buffers the whole body, hence this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httpx

if TYPE_CHECKING:
    from .core import EmbeddedCKAN

log = logging.getLogger("ckanx.server")

# Body chunks the app may run ahead of the reader before it waits (backpressure).
_QUEUE_CHUNKS = 16
_END = object()
_CLIENT_ADDR = ("127.0.0.1", 50000)


class _Exchange:
    """One request/response between httpx and the ASGI app, on one event loop."""

    def __init__(self, app: Any, request: httpx.Request, body: bytes | None) -> None:
        self.app = app
        self.request = request
        self.body = body  # pre-read (sync transport) or None: read from request.stream
        self.started: asyncio.Future[tuple[int, list[tuple[bytes, bytes]]]] | None = None
        self.chunks: asyncio.Queue[Any] = asyncio.Queue(_QUEUE_CHUNKS)
        self.disconnected = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def scope(self) -> dict[str, Any]:
        url = self.request.url
        port = url.port or (443 if url.scheme == "https" else 80)
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": self.request.method,
            "scheme": url.scheme,
            "path": unquote(url.path),
            "raw_path": url.raw_path.split(b"?")[0],
            "query_string": url.query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in self.request.headers.raw],
            "server": (url.host, port),
            "client": _CLIENT_ADDR,
        }

    async def _request_chunks(self) -> AsyncIterator[bytes]:
        if self.body is not None:
            yield self.body
            return
        stream = self.request.stream
        if isinstance(stream, httpx.AsyncByteStream):
            async for chunk in stream:
                yield chunk
        else:  # a sync stream given to the async transport (e.g. bytes content)
            for chunk in stream:  # type: ignore[union-attr]
                yield chunk

    async def open(self) -> tuple[int, list[tuple[bytes, bytes]]]:
        """Start the app; return status and headers once it sends ``http.response.start``."""
        loop = asyncio.get_running_loop()
        self.started = loop.create_future()
        request_chunks = self._request_chunks()
        body_done = False

        async def receive() -> dict[str, Any]:
            nonlocal body_done
            if not body_done:
                try:
                    chunk = await request_chunks.__anext__()
                    return {"type": "http.request", "body": chunk, "more_body": True}
                except StopAsyncIteration:
                    body_done = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            await self.disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            assert self.started is not None
            if message["type"] == "http.response.start":
                headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
                self.started.set_result((message["status"], headers))
            elif message["type"] == "http.response.body":
                if self.disconnected.is_set():
                    return
                body = message.get("body", b"")
                if body:
                    await self.chunks.put(body)
                if not message.get("more_body", False):
                    await self.chunks.put(_END)

        async def run() -> None:
            assert self.started is not None
            try:
                await self.app(self.scope(), receive, send)
            except BaseException as exc:
                if not self.started.done():
                    self.started.set_exception(exc)
                else:
                    # Headers already went out (Starlette sends its 500 page, then re-raises):
                    # log it as a server would and end the body, as on a socket.
                    log.error("exception in embedded CKAN app", exc_info=exc)
                    with contextlib.suppress(asyncio.QueueFull):
                        self.chunks.put_nowait(_END)
                if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                    raise
                return
            if not self.started.done():
                self.started.set_exception(RuntimeError("ASGI app returned without a response"))
            else:
                # An app that ends without more_body=False still ends the body.
                with contextlib.suppress(asyncio.QueueFull):
                    self.chunks.put_nowait(_END)

        self.task = loop.create_task(run())
        return await self.started

    async def next_chunk(self) -> bytes | None:
        """The next body chunk, or ``None`` at the end."""
        if self.task is not None and self.task.done() and self.chunks.empty():
            return None
        getter = asyncio.ensure_future(self.chunks.get())
        assert self.task is not None
        done, _ = await asyncio.wait({getter, self.task}, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            chunk = getter.result()
            return None if chunk is _END else chunk
        getter.cancel()
        # The app finished; drain whatever it left in the queue.
        if not self.chunks.empty():
            chunk = self.chunks.get_nowait()
            return None if chunk is _END else chunk
        return None

    async def close(self) -> None:
        """The client is done: signal disconnect and let the app finish (or cancel it)."""
        self.disconnected.set()
        # Unblock an app waiting on a full queue.
        while not self.chunks.empty():
            self.chunks.get_nowait()
        if self.task is not None and not self.task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self.task), 0.5)
            except (asyncio.TimeoutError, Exception):
                self.task.cancel()
                with contextlib.suppress(BaseException):
                    await self.task


class _SyncStream(httpx.SyncByteStream):
    def __init__(self, exchange: _Exchange, loop: _LoopThread) -> None:
        self._exchange = exchange
        self._loop = loop
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        while True:
            chunk = self._loop.run(self._exchange.next_chunk())
            if chunk is None:
                return
            yield chunk

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._loop.run(self._exchange.close())


class _AsyncStream(httpx.AsyncByteStream):
    def __init__(self, exchange: _Exchange) -> None:
        self._exchange = exchange
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self._exchange.next_chunk()
            if chunk is None:
                return
            yield chunk

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._exchange.close()


class _LoopThread:
    """An asyncio event loop running in a daemon thread; :meth:`run` blocks for one coroutine."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ckanx-embedded-transport", daemon=True)
        self.thread.start()

    def run(self, coro: Any) -> Any:
        if not self.thread.is_alive():
            coro.close()
            raise RuntimeError("EmbeddedTransport is closed")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()


def _app_of(server_or_app: Any) -> Any:
    # An EmbeddedCKAN (has .app) or any ASGI callable.
    return getattr(server_or_app, "app", server_or_app)


class EmbeddedTransport(httpx.BaseTransport):
    """A sync httpx transport that serves requests from an embedded CKAN in-process.

    Args:
        server: an :class:`~ckanx.server.core.EmbeddedCKAN` (or any ASGI app).

    Example::

        site = EmbeddedCKAN()
        http = httpx.Client(transport=EmbeddedTransport(site), base_url=site.site_url)
        http.get("/api/3/action/status_show").json()["result"]["ckan_version"]
    """

    def __init__(self, server: EmbeddedCKAN | Any) -> None:
        self._app = _app_of(server)
        self._loop: _LoopThread | None = None
        self._lock = threading.Lock()

    def _loop_thread(self) -> _LoopThread:
        with self._lock:
            if self._loop is None:
                self._loop = _LoopThread()
            return self._loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()  # in the caller's thread: the request stream is sync
        loop = self._loop_thread()

        async def start() -> tuple[_Exchange, int, list[tuple[bytes, bytes]]]:
            exchange = _Exchange(self._app, request, body)
            status, headers = await exchange.open()
            return exchange, status, headers

        exchange, status, headers = loop.run(start())
        return httpx.Response(status, headers=headers, stream=_SyncStream(exchange, loop))

    def close(self) -> None:
        with self._lock:
            if self._loop is not None:
                self._loop.stop()
                self._loop = None


class AsyncEmbeddedTransport(httpx.AsyncBaseTransport):
    """An async httpx transport that serves requests from an embedded CKAN on the caller's loop.

    Example::

        async with httpx.AsyncClient(transport=AsyncEmbeddedTransport(site),
                                     base_url=site.site_url) as http:
            await http.post("/api/3/action/package_search", json={"rows": 0})
    """

    def __init__(self, server: EmbeddedCKAN | Any) -> None:
        self._app = _app_of(server)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        exchange = _Exchange(self._app, request, None)
        status, headers = await exchange.open()
        return httpx.Response(status, headers=headers, stream=_AsyncStream(exchange))
