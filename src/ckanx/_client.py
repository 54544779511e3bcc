"""``Client`` and ``AsyncClient``: the same API, one synchronous and one asynchronous send loop.

Everything that is not I/O — building requests, parsing answers, deciding retries — lives in
:mod:`ckanx._core`; the two classes below repeat only their short send loops.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import urljoin

import httpx

from . import _core
from . import _exceptions as exc
from ._config import ConfigError, env_target, env_token_for, profile_target
from ._core import CallOptions, CallState, FileSpec, Raise, Retry, Return, Verify

if TYPE_CHECKING:
    from .datastore import AsyncDataStore, DataStore
    from .files import AsyncFiles, Files
    from .objects import ObjectManager

__all__ = ["AsyncClient", "Client"]

H = TypeVar("H", httpx.Client, httpx.AsyncClient)


class _BaseClient(Generic[H]):
    """What both clients share: configuration, redaction, the action namespace, server info."""

    _http: H

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = _core.DEFAULT_TIMEOUT,
        retries: int = _core.DEFAULT_RETRIES,
        user_agent: str | None = None,
        verify: bool | str = True,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        token_header: str = "Authorization",
        prefer_get: bool = False,
    ) -> None:
        if url is None:
            target = env_target()
            if target is None:
                raise ConfigError("no CKAN site URL: pass one or set CKAN_URL")
            url, token = target.url, token or target.token
        elif token is None:
            token = env_token_for(url)
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.url = _core.normalize_base_url(url)
        self._token = token.strip() if token else None
        self.retries = retries
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) or timeout is None else httpx.Timeout(timeout)
        self.verify = verify
        self.prefer_get = prefer_get
        self.token_header = token_header
        self.headers = {"User-Agent": user_agent or _core.DEFAULT_USER_AGENT, **dict(headers or {})}
        self._transport = transport
        self._server_info: dict[str, Any] | None = None
        self.action = ActionNamespace(self)

    # -- construction helpers

    @classmethod
    def from_profile(cls, name: str | None = None, **kwargs: Any) -> Any:
        """A client for a named profile in the ckanx config file (see :mod:`ckanx._config`)."""
        target = profile_target(name)
        kwargs.setdefault("verify", target.verify)
        return cls(target.url, target.token, **kwargs)

    @classmethod
    def from_env(cls, **kwargs: Any) -> Any:
        """A client for ``CKAN_URL`` with ``CKAN_API_TOKEN``."""
        return cls(None, **kwargs)

    # -- shared internals

    @property
    def has_token(self) -> bool:
        """Whether an API token is configured (the token itself is never exposed)."""
        return self._token is not None

    def __repr__(self) -> str:
        token = "***" if self._token else None
        return f"{type(self).__name__}(url={self.url!r}, token={token})"

    def _options(self) -> CallOptions:
        return CallOptions(
            base_url=self.url,
            token=self._token,
            token_header=self.token_header,
            headers=self.headers,
            retries=self.retries,
            prefer_get=self.prefer_get,
        )

    def _start(
        self,
        name: str,
        data: Mapping[str, Any] | None,
        files: Mapping[str, FileSpec] | None,
        method: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> CallState:
        opts = self._options()
        if timeout is not None:
            opts.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        if headers:
            opts.headers = {**opts.headers, **headers}
        return CallState(opts, name, data, files, method=method)

    def _learn(self, call: CallState) -> None:
        """Keep what a call discovered about the server for the next calls."""
        if call.moved_to_https:
            self.url = call.moved_to_https
        if call.method_switched_to:
            self.prefer_get = call.method_switched_to == "GET"

    def _stream_request(
        self,
        method: str,
        url_or_path: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        timeout: float | httpx.Timeout | None,
    ) -> httpx.Request:
        """The request for :meth:`Client.stream`: the URL resolved against the site, the client's
        headers, and the token only when the URL is on the site (:func:`ckanx._core.same_site`)."""
        url = _core.resolve_url(self.url, url_or_path)
        extensions = None
        if timeout is not None:
            limits = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
            extensions = {"timeout": limits.as_dict()}
        return self._http.build_request(
            method.upper(),
            url,
            params=dict(params) if params else None,
            headers=_core.stream_headers(self._options(), url, headers),
            extensions=extensions,
        )

    def _next_hop(
        self,
        request: httpx.Request,
        response: httpx.Response,
        headers: Mapping[str, str] | None,
        timeout: float | httpx.Timeout | None,
        hops: int,
    ) -> httpx.Request | None:
        """The request a redirect leads to (``None`` when ``response`` is not one); the token rule is
        applied again for the new URL, so it never follows a redirect to another host."""
        location = response.headers.get("location")
        if response.status_code not in (301, 302, 303, 307, 308) or not location:
            return None
        target = urljoin(str(request.url), location)
        if hops >= _core.MAX_REDIRECTS:
            raise exc.RedirectError(
                f"GET {request.url.copy_with(query=None)}: too many redirects (last to {target})",
                location=target,
                status_code=response.status_code,
                url=str(request.url.copy_with(query=None)),
            )
        method = request.method if response.status_code in (307, 308) else "GET"
        return self._stream_request(method, target, None, headers, timeout)

    def _http_kwargs(self) -> dict[str, Any]:
        return {
            "timeout": self.timeout,
            "verify": self.verify,
            "follow_redirects": False,
            "headers": {},
            **({"transport": self._transport} if self._transport is not None else {}),
        }

    def _objects(self, kind: str) -> ObjectManager:
        from . import objects

        cls = getattr(objects, ("Async" if isinstance(self, AsyncClient) else "") + kind)
        return objects.ObjectManager(self, cls)

    @functools.cached_property
    def datasets(self) -> ObjectManager:
        """``ck.datasets.get(name)``: a :class:`~ckanx.objects.Dataset` whose ``save()`` sends only the change."""
        return self._objects("Dataset")

    @functools.cached_property
    def resources(self) -> ObjectManager:
        """``ck.resources.get(id)``: a :class:`~ckanx.objects.Resource` with change tracking."""
        return self._objects("Resource")

    @functools.cached_property
    def organizations(self) -> ObjectManager:
        """``ck.organizations.get(name)``: an :class:`~ckanx.objects.Organization` with change tracking."""
        return self._objects("Organization")

    @functools.cached_property
    def groups(self) -> ObjectManager:
        """``ck.groups.get(name)``: a :class:`~ckanx.objects.Group` with change tracking."""
        return self._objects("Group")

    def server_version(self) -> tuple[int, ...]:
        """The CKAN version from the cached ``status_show`` (e.g. ``(2, 11, 6)``)."""
        info = self._server_info or {}
        return _parse_version(str(info.get("ckan_version", "")))


def _parse_version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


class Client(_BaseClient[httpx.Client]):
    """A synchronous CKAN client.

    Example::

        with ckanx.Client("https://demo.ckan.org") as ck:
            ds = ck.action.package_show(id="my-dataset")

    Args:
        url: the site root (``https://data.example.org``); ``CKAN_URL`` when omitted.
        token: an API token, sent raw in ``Authorization``; ``CKAN_API_TOKEN`` is used when it
            belongs to the same site. Never shown in reprs, logs or errors.
        timeout: seconds or an ``httpx.Timeout`` (default: 10 s connect, 60 s read).
        retries: how many times to retry transient failures (see :mod:`ckanx._core`).
        user_agent: the User-Agent header.
        verify: TLS verification: ``True``, ``False`` or a CA bundle path.
        headers: extra headers for every request.
        transport: an httpx transport (tests, the embedded server in-process, proxies).
        token_header: the header carrying the token (CKAN's ``apitoken_header_name``).
        prefer_get: send read actions by GET (falls back to POST when refused, and vice versa).
    """

    def __init__(self, url: str | None = None, token: str | None = None, **kwargs: Any) -> None:
        super().__init__(url, token, **kwargs)
        self._http = httpx.Client(**self._http_kwargs())

    def call_action(
        self,
        name: str,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, FileSpec] | None = None,
        *,
        method: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Call any action (core or plugin) and return its ``result``; raise a ckanx error otherwise.

        ``method`` forces ``"GET"`` or ``"POST"``; ``timeout`` and ``headers`` apply to this call only.
        """
        call = self._start(name, data, files, method, timeout, headers)
        try:
            while True:
                request = call.build_request(self._http)
                try:
                    response = self._http.send(request)
                except httpx.HTTPError as error:
                    step = call.on_error(error)
                else:
                    step = call.on_response(response)
                if isinstance(step, Verify):
                    try:
                        outcome: Any = self.call_action(step.action, step.data)
                    except Exception as error:
                        outcome = error
                    step = call.on_verify(outcome)
                if isinstance(step, Return):
                    self._learn(call)
                    return step.result
                if isinstance(step, Raise):
                    raise step.error
                assert isinstance(step, Retry)
                time.sleep(step.delay)
        finally:
            call.close()

    def server_info(self, *, refresh: bool = False) -> dict[str, Any]:
        """``status_show``, fetched once per client: CKAN version, extensions, site URL."""
        if self._server_info is None or refresh:
            self._server_info = self.call_action("status_show")
        return self._server_info

    @contextlib.contextmanager
    def stream(
        self,
        method: str,
        url_or_path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        follow_redirects: bool = False,
    ) -> Iterator[httpx.Response]:
        """A raw streamed request (resource downloads, ``/datastore/dump/<id>``), as a context manager.

        Example::

            with ck.stream("GET", f"/datastore/dump/{rid}", params={"format": "csv"}) as response:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    ...

        ``url_or_path`` is an absolute ``http(s)`` URL or a path on the site. The API token is sent
        only when the URL has the site's scheme, host and port (also after each redirect, which are
        followed by hand when ``follow_redirects``). The client's timeouts, TLS settings, transport
        and headers apply; ``timeout`` and ``headers`` add to them for this request. The response is
        httpx's streamed response (not checked: a 404 is a response, not an exception); transport
        failures raise httpx's exceptions. Nothing is retried.
        """
        request = self._stream_request(method, url_or_path, params, headers, timeout)
        hops = 0
        while True:
            response = self._http.send(request, stream=True)
            try:
                following = self._next_hop(request, response, headers, timeout, hops) if follow_redirects else None
            except BaseException:
                response.close()
                raise
            if following is None:
                break
            response.close()
            request, hops = following, hops + 1
        try:
            yield response
        finally:
            response.close()

    @functools.cached_property
    def datastore(self) -> DataStore:
        """DataStore tables: streamed, chunked, resumable import and export (see ``docs/datastore.md``)."""
        from .datastore import DataStore

        return DataStore(self)

    @functools.cached_property
    def files(self) -> Files:
        """Resource files: hashed, skip-if-unchanged uploads and resumable, verified downloads."""
        from .files import Files

        return Files(self)

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient(_BaseClient[httpx.AsyncClient]):
    """The asynchronous twin of :class:`Client`: the same arguments and methods, awaitable.

    Example::

        async with ckanx.AsyncClient("https://demo.ckan.org") as ck:
            ds = await ck.action.package_show(id="my-dataset")
    """

    def __init__(self, url: str | None = None, token: str | None = None, **kwargs: Any) -> None:
        super().__init__(url, token, **kwargs)
        self._http = httpx.AsyncClient(**self._http_kwargs())

    async def call_action(
        self,
        name: str,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, FileSpec] | None = None,
        *,
        method: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Call any action (core or plugin) and return its ``result``; raise a ckanx error otherwise.

        ``method`` forces ``"GET"`` or ``"POST"``; ``timeout`` and ``headers`` apply to this call only.
        """
        call = self._start(name, data, files, method, timeout, headers)
        try:
            while True:
                request = call.build_request(self._http)
                try:
                    response = await self._http.send(request)
                except httpx.HTTPError as error:
                    step = call.on_error(error)
                else:
                    step = call.on_response(response)
                if isinstance(step, Verify):
                    try:
                        outcome: Any = await self.call_action(step.action, step.data)
                    except Exception as error:
                        outcome = error
                    step = call.on_verify(outcome)
                if isinstance(step, Return):
                    self._learn(call)
                    return step.result
                if isinstance(step, Raise):
                    raise step.error
                assert isinstance(step, Retry)
                await asyncio.sleep(step.delay)
        finally:
            call.close()

    async def server_info(self, *, refresh: bool = False) -> dict[str, Any]:
        """``status_show``, fetched once per client: CKAN version, extensions, site URL."""
        if self._server_info is None or refresh:
            self._server_info = await self.call_action("status_show")
        return self._server_info

    @contextlib.asynccontextmanager
    async def stream(
        self,
        method: str,
        url_or_path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        follow_redirects: bool = False,
    ) -> AsyncIterator[httpx.Response]:
        """See :meth:`Client.stream` (``async with ck.stream(...) as response``)."""
        request = self._stream_request(method, url_or_path, params, headers, timeout)
        hops = 0
        while True:
            response = await self._http.send(request, stream=True)
            try:
                following = self._next_hop(request, response, headers, timeout, hops) if follow_redirects else None
            except BaseException:
                await response.aclose()
                raise
            if following is None:
                break
            await response.aclose()
            request, hops = following, hops + 1
        try:
            yield response
        finally:
            await response.aclose()

    @functools.cached_property
    def datastore(self) -> AsyncDataStore:
        """DataStore tables: streamed, chunked, resumable import and export (see ``docs/datastore.md``)."""
        from .datastore import AsyncDataStore

        return AsyncDataStore(self)

    @functools.cached_property
    def files(self) -> AsyncFiles:
        """Resource files: hashed, skip-if-unchanged uploads and resumable, verified downloads."""
        from .files import AsyncFiles

        return AsyncFiles(self)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class ActionNamespace:
    """``ck.action.<name>(**data)`` calls any action; file arguments become an upload.

    A keyword argument whose value is a file object, ``bytes`` wrapped as ``(filename, data)`` or a
    :class:`pathlib.Path` is sent as a multipart file; everything else is data. ``dir(ck.action)``
    lists the actions this server is known to have (for tab completion), and
    ``help(ck.action.package_show)`` shows the server's own documentation (``help_show``).
    """

    def __init__(self, client: _BaseClient[Any]) -> None:
        self._client = client

    def __getattr__(self, name: str) -> BoundAction:
        if name.startswith("__"):
            raise AttributeError(name)
        return BoundAction(self._client, name)

    def __dir__(self) -> list[str]:
        from ._actions import known_actions

        info = self._client._server_info
        return sorted(known_actions(info))


class BoundAction:
    """One action of one client: call it with keyword arguments."""

    def __init__(self, client: _BaseClient[Any], name: str) -> None:
        self._client = client
        self.__name__ = name

    def __call__(self, **kwargs: Any) -> Any:
        data, files = split_files(kwargs)
        return self._client.call_action(self.__name__, data, files or None)  # type: ignore[attr-defined]

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        client = self._client
        if not isinstance(client, Client):
            return f"Call the {self.__name__} action (await it)."
        try:
            text = client.call_action("help_show", {"name": self.__name__})
        except Exception:
            return f"Call the {self.__name__} action."
        return str(text) if text else None

    def __repr__(self) -> str:
        return f"<action {self.__name__} of {self._client.url}>"


def split_files(kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate file-like keyword arguments (uploads) from data, as ckanapi's shortcut does."""
    from pathlib import PurePath

    data: dict[str, Any] = {}
    files: dict[str, Any] = {}
    for key, value in kwargs.items():
        if (
            hasattr(value, "read")
            or isinstance(value, PurePath)
            or (
                isinstance(value, tuple)
                and len(value) >= 2
                and (hasattr(value[1], "read") or isinstance(value[1], bytes))
            )
        ):
            files[key] = value
        else:
            data[key] = value
    return data, files
