"""Serve an :class:`~ckanx.server.core.EmbeddedCKAN` over a real socket, in a background thread.

The socket is bound *before* the site is built, so the site's ``site_url`` (used in ``help`` links
and download URLs) is exactly the URL clients reach it on, even with an OS-chosen free port, and
there is no window in which another process can take the port::

    from ckanx.server.runner import running_server

    with running_server() as srv:
        httpx.post(f"{srv.url}/api/3/action/package_create", json={...},
                   headers={"Authorization": srv.token})

uvicorn runs on its own event loop in a daemon thread; :meth:`RunningServer.stop` asks it to
exit, waits for the thread and (for sites it created) closes the database and removes the
temporary data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .core import EmbeddedCKAN

log = logging.getLogger("ckanx.server")

DEFAULT_HOST = "127.0.0.1"
# How long to wait for uvicorn to start accepting or to finish shutting down.
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0
# Wildcard addresses cannot be connected to; URLs for them name the loopback address instead.
_WILDCARD_URL_HOST = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def _quick_stop_server_class() -> type[Any]:
    """A ``uvicorn.Server`` that stops in milliseconds instead of ~0.2 s.

    Stock uvicorn polls ``should_exit`` every 0.1 s and sleeps another 0.1 s during shutdown to
    let connections drain. A test suite starting one server per test pays that on every test, so
    this subclass wakes its main loop as soon as :meth:`request_exit` is called and skips the
    drain sleep when no connection is open. With open connections, stock shutdown runs.
    """
    import uvicorn

    class QuickStopServer(uvicorn.Server):  # type: ignore[misc]
        _loop: asyncio.AbstractEventLoop | None = None
        _exit_event: asyncio.Event | None = None

        async def main_loop(self) -> None:
            # uvicorn's loop (on_tick every 0.1 s: date header, exit check), but the wait ends
            # early when request_exit() sets the event.
            self._exit_event = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            counter = 0
            while not await self.on_tick(counter):
                counter = (counter + 1) % 864000
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._exit_event.wait(), 0.1)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            servers = getattr(self, "servers", None)
            state = getattr(self, "server_state", None)
            if servers is None or state is None or state.connections or state.tasks:
                await super().shutdown(sockets=sockets)
                return
            for server in servers:
                server.close()
            for server in servers:
                await server.wait_closed()

        def request_exit(self) -> None:
            self.should_exit = True
            loop, event = self._loop, self._exit_event
            if loop is not None and event is not None:
                with contextlib.suppress(RuntimeError):  # loop already closed
                    loop.call_soon_threadsafe(event.set)

    return QuickStopServer


class ServerStartError(RuntimeError):
    """The server could not start (address in use, permission denied, uvicorn failed)."""


def is_loopback(host: str) -> bool:
    """True when ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_for(host: str, port: int) -> str:
    """``http://host:port`` for a bound address (IPv6 in brackets, wildcards as loopback)."""
    host = _WILDCARD_URL_HOST.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def bind_socket(host: str = DEFAULT_HOST, port: int = 0) -> socket.socket:
    """Bind and listen on ``host:port`` (``port=0``: a free port chosen by the OS).

    Raises:
        ServerStartError: the address is in use or cannot be bound, with a one-line reason.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServerStartError(f"cannot resolve host {host!r}: {exc.strerror}") from exc
    family, _, proto, _, addr = infos[0]
    # The protocol must be IPPROTO_TCP (not 0): asyncio only sets TCP_NODELAY on accepted
    # sockets whose proto says TCP, and without it every response waits ~40 ms for the
    # client's delayed ACK (Nagle), which made each request 10x slower.
    sock = socket.socket(family, socket.SOCK_STREAM, proto or socket.IPPROTO_TCP)
    # SO_REUSEADDR lets a restarted server reuse a port in TIME_WAIT; it does not allow two
    # listeners on one port on Linux, so "port in use" is still detected.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise ServerStartError(f"cannot listen on {host}:{port}: {reason}") from exc
    sock.setblocking(False)
    return sock


class RunningServer:
    """An embedded CKAN being served on a socket.

    Attributes:
        server: the :class:`EmbeddedCKAN` (state, ``sysadmin_token``, ``app``).
        url: the base URL, e.g. ``http://127.0.0.1:43127`` (equal to ``server.site_url``).
        host, port: the bound address.
    """

    def __init__(
        self,
        server: EmbeddedCKAN,
        sock: socket.socket,
        *,
        owns_server: bool,
        site_options: dict[str, Any] | None = None,
        log_level: str = "warning",
        access_log: bool = False,
    ) -> None:
        import uvicorn

        self.server = server
        self.host, self.port = sock.getsockname()[:2]
        self.url = server.site_url
        self._sock = sock
        self._owns_server = owns_server
        # how the site was built (EmbeddedCKAN keyword arguments), for reset()
        self._site_options = dict(site_options or {})
        config = uvicorn.Config(
            self._asgi,
            interface="asgi3",
            log_level=log_level,
            access_log=access_log,
            lifespan="off",
            # Idle keep-alive connections would otherwise hold shutdown for their full timeout.
            timeout_graceful_shutdown=2,
        )
        self._uvicorn = _quick_stop_server_class()(config)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"ckanx-server-{self.port}", daemon=True)
        self._stopped = False

    @property
    def token(self) -> str:
        """The sysadmin's API token (``Authorization: <token>``); a new one after :meth:`reset`."""
        return self.server.sysadmin_token

    async def _asgi(self, scope: Any, receive: Any, send: Any) -> None:
        # Look the site up per request, so reset() can swap it under a running socket.
        await self.server.app(scope, receive, send)

    def reset(self) -> None:
        """Replace the site with an empty one (same URL, version and options).

        Only for sites the runner created in a temporary directory: a site given by the caller
        or living in a chosen ``data_dir`` is never wiped. The sysadmin token changes.
        """
        if not self._owns_server or self._site_options.get("data_dir") is not None:
            raise RuntimeError("reset() only replaces a site the runner created in a temporary directory")
        old = self.server
        options = {k: v for k, v in self._site_options.items() if k != "data_dir"}
        self.server = EmbeddedCKAN(None, site_url=self.url, **options)
        old.close()

    def seed(self, source: Any, *, default_owner_org: str | None = None) -> Any:
        """Load datasets (a ckanapi dump path or dicts) in-process, as the sysadmin.

        See :func:`ckanx.server.seed.seed`; returns its :class:`~ckanx.server.seed.SeedReport`.
        """
        from .seed import seed

        return seed(self.server, source, default_owner_org=default_owner_org)

    def _run(self) -> None:
        try:
            self._uvicorn.run(sockets=[self._sock])
        except BaseException as exc:  # SystemExit from uvicorn on startup failure, too
            self._error = exc

    def start(self, timeout: float = START_TIMEOUT) -> RunningServer:
        """Start serving; returns once the socket accepts requests."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._uvicorn.started:
            if not self._thread.is_alive():
                self._close_state()
                raise ServerStartError(f"server thread exited during startup: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(f"server did not start within {timeout:g} s")
            time.sleep(0.005)
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop serving and wait for the thread; idempotent.

        Closes the site (database, temporary directory) when this object created it.
        """
        if self._stopped:
            return
        self._stopped = True
        self._uvicorn.request_exit()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                # Still busy (a long request): force the loop out rather than hang the caller.
                self._uvicorn.force_exit = True
                self._thread.join(timeout)
        with contextlib.suppress(OSError):
            self._sock.close()
        self._close_state()

    def _close_state(self) -> None:
        if self._owns_server:
            self._owns_server = False
            self.server.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RunningServer {self.url} ckan {self.server.ckan_version}>"


def start_server(
    server: EmbeddedCKAN | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = 0,
    data_dir: str | Path | None = None,
    ckan_version: str = "2.11",
    log_level: str = "warning",
    access_log: bool = False,
    running_class: type[RunningServer] = RunningServer,
    **server_kwargs: Any,
) -> RunningServer:
    """Bind ``host:port``, build (or adopt) a site whose ``site_url`` is that URL, and serve it.

    Args:
        server: an existing site to serve; its ``site_url`` is set to the bound URL and it is
            *not* closed by :meth:`RunningServer.stop`. ``None``: a new site is created from
            ``data_dir``, ``ckan_version`` and ``server_kwargs`` and closed on stop.
        host: address to listen on (loopback by default).
        port: ``0`` for a free port chosen by the OS.
        running_class: the :class:`RunningServer` subclass to return.

    Raises:
        ServerStartError: the address cannot be bound or uvicorn failed to start.
    """
    sock = bind_socket(host, port)
    url = url_for(host, sock.getsockname()[1])
    try:
        owns = server is None
        if server is None:
            server = EmbeddedCKAN(data_dir, ckan_version=ckan_version, site_url=url, **server_kwargs)
        else:
            server.site_url = url
    except BaseException:
        sock.close()
        raise
    running = running_class(
        server,
        sock,
        owns_server=owns,
        site_options={"data_dir": data_dir, "ckan_version": ckan_version, **server_kwargs},
        log_level=log_level,
        access_log=access_log,
    )
    return running.start()


@contextlib.contextmanager
def running_server(
    server: EmbeddedCKAN | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = 0,
    data_dir: str | Path | None = None,
    ckan_version: str = "2.11",
    log_level: str = "warning",
    **server_kwargs: Any,
) -> Iterator[RunningServer]:
    """Context manager: an embedded CKAN on a real socket for the duration of the block.

    Example::

        with running_server(ckan_version="2.12") as srv:
            r = httpx.get(f"{srv.url}/api/3/action/status_show")
            assert r.json()["result"]["site_url"] == srv.url

    See :func:`start_server` for the arguments.
    """
    running = start_server(
        server,
        host=host,
        port=port,
        data_dir=data_dir,
        ckan_version=ckan_version,
        log_level=log_level,
        **server_kwargs,
    )
    try:
        yield running
    finally:
        running.stop()
