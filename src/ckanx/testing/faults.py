"""A fault-injecting HTTP/1.1 proxy for reliability tests: put it between a client and a CKAN.

:class:`FaultProxy` listens on ``127.0.0.1`` (a free port), forwards every request to an upstream
site (the embedded CKAN of :mod:`ckanx.testing`, or a real CKAN) and, for a chosen fraction of the
requests, injects one fault instead of a clean answer::

    from ckanx.testing import embedded_ckan
    from ckanx.testing.faults import FaultProxy

    with embedded_ckan() as srv, FaultProxy(srv.url, rate=0.1, seed=7) as proxy:
        ck = ckanx.Client(proxy.url, srv.token, timeout=1.0)
        ck.action.package_list()          # retried through whatever the proxy injects
        print(proxy.faults)               # [InjectedFault(kind='http_503', request='POST /api/...')]

Fault kinds (:data:`ALL_KINDS`):

========================  ===========================================================================
``reset_before``          the request is read, then the connection is reset; upstream never sees it
``reset_after``           upstream processes the request, then the connection is reset: the client
                          cannot know whether a write landed ("outcome unknown")
``http_502`` / ``_503``   an HTML error page with that status, as a gateway gives (not forwarded)
``http_504``              upstream processes the request, then a 504 HTML page (a gateway timeout)
``http_429``              ``429 Too Many Requests`` with ``Retry-After`` (not forwarded)
``stall``                 upstream processes the request; the answer is held for ``stall_seconds``
                          (longer than the client's read timeout), then the connection is closed
``truncate``              upstream's answer with its full ``Content-Length`` but half of its body
``html_200``              a login/captive-portal HTML page with status 200 (not forwarded)
``redirect``              ``307`` to the same URL on ``redirect_base`` (default: the proxy itself)
========================  ===========================================================================

Decisions are deterministic: whether request *k* (the k-th time this exact method, path and body is
seen) gets a fault, and which, is a hash of ``seed``, the request and *k* — not of arrival order,
so concurrent jobs get the same faults on every run, and a retried request gets a fresh draw.

The proxy is bounded: at most ``max_faults`` faults, ``max_requests`` requests and ``lifetime``
seconds, after which it stops listening by itself. Every injected fault is recorded in
:attr:`FaultProxy.faults` for the test to inspect.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["ALL_KINDS", "FaultProxy", "InjectedFault"]

ALL_KINDS: tuple[str, ...] = (
    "reset_before",
    "reset_after",
    "http_502",
    "http_503",
    "http_504",
    "http_429",
    "stall",
    "truncate",
    "html_200",
    "redirect",
)
"""Every fault kind, in a fixed order (the seed maps to kinds through this order)."""

# kinds that let upstream run the request first: a write may have landed
_AFTER_UPSTREAM = frozenset({"reset_after", "http_504", "stall", "truncate"})
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
    }
)
_MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class InjectedFault:
    """One fault the proxy injected: its kind and the request line it hit (``POST /api/3/action/x``)."""

    kind: str
    request: str


def _html(status: int, title: str) -> bytes:
    return (
        f"<!DOCTYPE html><html><head><title>{status} {title}</title></head>"
        f"<body><h1>{title}</h1><p>injected by ckanx FaultProxy</p></body></html>"
    ).encode()


_LOGIN_PAGE = (
    b"<!DOCTYPE html><html><head><title>Sign in - Corporate Gateway</title></head>"
    b"<body><form method='post' action='/login'><input name='user'><input type='password' name='pw'>"
    b"</form></body></html>"
)


class _Reset(Exception):
    """Close the connection abruptly (TCP RST)."""


class FaultProxy:
    """A threaded asyncio HTTP/1.1 proxy that injects faults; use it as a context manager.

    Args:
        upstream_url: the site to forward to (``http://127.0.0.1:5000``); its path is kept as a prefix.
        rate: the probability (0..1) that a request gets a fault.
        seed: makes the faults reproducible (any int or str).
        kinds: the fault kinds to draw from (see :data:`ALL_KINDS`).
        max_faults: inject at most this many faults (``None``: no limit).
        stall_seconds: how long a ``stall`` holds the answer.
        retry_after: the ``Retry-After`` value of ``http_429`` (seconds).
        only: inject faults only into requests whose request line contains this text
            (e.g. ``"package_create"``) or for which this callable returns true.
        redirect_base: where ``redirect`` points (scheme://host:port), default the proxy itself.
        max_requests: stop listening after this many requests.
        lifetime: stop listening after this many seconds.
        upstream_timeout: the timeout for upstream calls.
    """

    def __init__(
        self,
        upstream_url: str,
        *,
        rate: float = 0.1,
        seed: int | str = 0,
        kinds: Iterable[str] = ALL_KINDS,
        max_faults: int | None = None,
        stall_seconds: float = 2.0,
        retry_after: float = 0,
        only: str | Callable[[str], bool] | None = None,
        redirect_base: str | None = None,
        max_requests: int = 100_000,
        lifetime: float = 600.0,
        upstream_timeout: float = 60.0,
    ) -> None:
        self.kinds = tuple(kinds)
        unknown = set(self.kinds) - set(ALL_KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"unknown fault kinds {sorted(unknown)} (choose from {', '.join(ALL_KINDS)})")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        self.upstream_url = upstream_url.rstrip("/")
        self.rate = rate
        self.seed = seed
        self.max_faults = max_faults
        self.stall_seconds = stall_seconds
        self.retry_after = retry_after
        self.only = only
        self.redirect_base = redirect_base.rstrip("/") if redirect_base else None
        self.max_requests = max_requests
        self.lifetime = lifetime
        self.upstream_timeout = upstream_timeout
        self.faults: list[InjectedFault] = []
        """Every fault injected so far, in injection order."""
        self.requests = 0
        """How many requests the proxy has read."""
        self.port = 0
        self._seen: Counter[bytes] = Counter()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._start_error: BaseException | None = None

    # ------------------------------------------------------------ public

    @property
    def url(self) -> str:
        """The proxy's base URL, ``http://127.0.0.1:<port>``: give it to the client as the site URL."""
        return f"http://127.0.0.1:{self.port}"

    def counts(self) -> dict[str, int]:
        """How many faults of each kind were injected."""
        with self._lock:
            return dict(Counter(f.kind for f in self.faults))

    def start(self) -> FaultProxy:
        """Start listening (in a background thread); returns ``self``."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name="ckanx-fault-proxy", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._start_error is not None:
            raise RuntimeError(f"FaultProxy could not start: {self._start_error}") from self._start_error
        return self

    def stop(self) -> None:
        """Stop listening, drop open connections and wait for the thread."""
        loop, stopped = self._loop, self._stopped
        if loop is not None and stopped is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stopped.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"FaultProxy(url={self.url!r}, upstream={self.upstream_url!r}, rate={self.rate}, seed={self.seed!r})"

    # ------------------------------------------------------------ decisions

    def decide(self, request_line: str, body: bytes) -> str | None:
        """The fault for this request (``None`` for a clean pass); records it. Deterministic, see above."""
        with self._lock:
            self.requests += 1
            if self.only is not None:
                wanted = self.only(request_line) if callable(self.only) else self.only in request_line
                if not wanted:
                    return None
            if self.max_faults is not None and len(self.faults) >= self.max_faults:
                return None
            key = hashlib.sha256(request_line.encode() + b"\0" + body).digest()
            self._seen[key] += 1
            draw = hashlib.sha256(f"{self.seed}\0{self._seen[key]}\0".encode() + key).digest()
            chance = int.from_bytes(draw[:8], "big") / 2**64
            if chance >= self.rate:
                return None
            kind = self.kinds[int.from_bytes(draw[8:16], "big") % len(self.kinds)]
            self.faults.append(InjectedFault(kind, request_line))
            return kind

    # ------------------------------------------------------------ the loop

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as err:  # pragma: no cover - reported to start()
            self._start_error = err
            self._ready.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        self._upstream = httpx.AsyncClient(
            timeout=self.upstream_timeout, follow_redirects=False, headers={"Accept-Encoding": "identity"}
        )
        tasks: set[asyncio.Task[Any]] = set()

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            tasks.add(task)
            try:
                await self._connection(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, _Reset):
                _abort(writer)
            except asyncio.CancelledError:
                _abort(writer)
            finally:
                tasks.discard(task)
                with contextlib.suppress(Exception):
                    writer.close()

        try:
            server = await asyncio.start_server(on_connect, "127.0.0.1", 0, limit=_MAX_HEAD)
        except OSError as err:
            self._start_error = err
            self._ready.set()
            return
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.lifetime)  # stops by itself
        finally:
            server.close()
            for task in list(tasks):
                task.cancel()
            if tasks:
                await asyncio.wait(list(tasks), timeout=5)
            await server.wait_closed()
            await self._upstream.aclose()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:  # keep-alive: one request after another on the same connection
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return  # the client closed the connection between requests
            lines = head.decode("latin-1").split("\r\n")
            request_line = lines[0]
            try:
                method, target, _version = request_line.split(" ", 2)
            except ValueError:
                return
            headers: list[tuple[str, str]] = []
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers.append((name.strip(), value.strip()))
            lower = {k.lower(): v for k, v in headers}
            body = await _read_body(reader, lower)
            short = f"{method} {target.split('?')[0]}"
            if self.requests >= self.max_requests:
                if self._stopped is not None:
                    self._stopped.set()  # bounded: stop listening, refuse this request
                raise _Reset
            kind = self.decide(short, body)
            keep_alive = lower.get("connection", "").lower() != "close"
            if kind is None:
                status, resp_headers, content = await self._forward(method, target, headers, body)
                await _respond(writer, status, resp_headers, content, keep_alive)
            else:
                await self._inject(kind, writer, method, target, headers, body)
                if kind in ("reset_before", "reset_after", "stall", "truncate"):
                    return
            if not keep_alive:
                return

    async def _forward(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        out_headers = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP and k.lower() != "accept-encoding"]
        try:
            response = await self._upstream.request(
                method, self.upstream_url + target, headers=out_headers, content=body or None
            )
        except httpx.HTTPError as err:
            return 502, [("Content-Type", "text/html")], _html(502, f"Bad Gateway ({type(err).__name__})")
        kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _HOP_BY_HOP]
        return response.status_code, kept, response.content

    async def _inject(
        self,
        kind: str,
        writer: asyncio.StreamWriter,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> None:
        if kind in _AFTER_UPSTREAM:
            status, resp_headers, content = await self._forward(method, target, headers, body)
        html = [("Content-Type", "text/html; charset=utf-8")]
        if kind == "reset_before" or kind == "reset_after":
            raise _Reset
        if kind == "stall":
            await asyncio.sleep(self.stall_seconds)
            raise _Reset
        if kind == "truncate":
            head = _head(status, resp_headers, len(content), keep_alive=True)
            writer.write(head + content[: len(content) // 2])
            await writer.drain()
            writer.close()  # a clean FIN before the promised Content-Length: the body is cut short
            return
        if kind in ("http_502", "http_503", "http_504"):
            code = int(kind[-3:])
            title = {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}[code]
            await _respond(writer, code, html, _html(code, title), True)
        elif kind == "http_429":
            await _respond(
                writer,
                429,
                [*html, ("Retry-After", f"{self.retry_after:g}")],
                _html(429, "Too Many Requests"),
                True,
            )
        elif kind == "html_200":
            await _respond(writer, 200, html, _LOGIN_PAGE, True)
        elif kind == "redirect":
            base = self.redirect_base or self.url
            await _respond(writer, 307, [("Location", base + target), ("Content-Type", "text/html")], b"", True)


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                # trailers end with an empty line
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = int(headers.get("content-length", "0") or 0)
    return await reader.readexactly(length) if length else b""


_REASONS = {200: "OK", 307: "Temporary Redirect", 429: "Too Many Requests", 502: "Bad Gateway"}


def _head(status: int, headers: list[tuple[str, str]], length: int, *, keep_alive: bool) -> bytes:
    from http import HTTPStatus

    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = _REASONS.get(status, "Unknown")
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append(f"Content-Length: {length}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _respond(
    writer: asyncio.StreamWriter, status: int, headers: list[tuple[str, str]], body: bytes, keep_alive: bool
) -> None:
    writer.write(_head(status, headers, len(body), keep_alive=keep_alive) + body)
    await writer.drain()


def _abort(writer: asyncio.StreamWriter) -> None:
    """Reset the connection (RST, not FIN): what a crashed gateway or a dropped link looks like."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
