"""``RemoteCKAN``: ckanapi's class, on ckanx's client.

Switch by changing one import line::

    from ckanx import RemoteCKAN   # was: from ckanapi import RemoteCKAN

Differences that are fixes, not incompatibilities: requests time out (ckanapi's default was none for
some calls), transient failures are retried, ``requests_kwargs`` such as ``timeout`` or ``headers``
really apply to the HTTP request (ckanapi's ``.action`` shortcut sent them inside the JSON body),
uploads work next to list or dict fields, and the token is sent only to the CKAN host.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import httpx

from . import _core
from ._client import Client, split_files
from ._core import FileSpec
from ._exceptions import CKANAPIError

_SUPPORTED_REQUESTS_KWARGS = frozenset({"timeout", "headers", "verify"})


class RemoteCKAN:
    """ckanapi-compatible access to a remote CKAN site.

    Args:
        address: the site root, e.g. ``"https://demo.ckan.org"``.
        apikey: an API token (sent as ``Authorization``).
        user_agent: the User-Agent header.
        get_only: send every action by GET (for read-only mirrors and picky firewalls).
        session: a ``requests.Session`` from ckanapi-era code: its ``headers`` and ``verify`` are
            honoured; the connection pool is ckanx's own.
    """

    def __init__(
        self,
        address: str,
        apikey: str | None = None,
        user_agent: str | None = None,
        get_only: bool = False,
        session: Any = None,
        **client_kwargs: Any,
    ) -> None:
        self.address = address
        self.get_only = get_only
        self.user_agent = user_agent or _core.DEFAULT_USER_AGENT
        headers = dict(getattr(session, "headers", None) or {})
        headers.pop("User-Agent", None)
        verify = getattr(session, "verify", True) if session is not None else True
        self._client = Client(
            address,
            apikey,
            user_agent=self.user_agent,
            headers=headers,
            verify=verify,
            prefer_get=get_only,
            **client_kwargs,
        )
        self.apikey = apikey
        self.action = _RemoteActionShortcut(self)

    @property
    def apikey(self) -> str | None:
        """The token, as ckanapi exposes it (never shown in the repr)."""
        return self._apikey

    @apikey.setter
    def apikey(self, value: str | None) -> None:
        self._apikey = value
        self._client._token = value.strip() if value else None

    def __repr__(self) -> str:
        return f"RemoteCKAN({self.address!r}, apikey={'***' if self._apikey else None})"

    def call_action(
        self,
        action: str,
        data_dict: Mapping[str, Any] | None = None,
        context: Any = None,
        apikey: str | None = None,
        files: Mapping[str, FileSpec] | None = None,
        requests_kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        """Call an action; ckanapi's signature. ``context`` is not supported remotely (as in ckanapi)."""
        if context:
            raise CKANAPIError("RemoteCKAN.call_action does not support the context parameter; use apikey instead")
        if files and self.get_only:
            raise CKANAPIError("RemoteCKAN: files may not be sent when get_only is True")
        client = self._client
        overrides = dict(requests_kwargs or {})
        unknown = set(overrides) - _SUPPORTED_REQUESTS_KWARGS
        if unknown:
            warnings.warn(
                f"requests_kwargs {sorted(unknown)} are not supported by ckanx and are ignored",
                stacklevel=2,
            )
        if apikey is not None or ("verify" in overrides and overrides["verify"] != client.verify):
            # a different token or TLS setting needs its own connection pool
            client = Client(
                client.url,
                apikey if apikey is not None else client._token,
                timeout=client.timeout,
                retries=client.retries,
                headers=client.headers,
                verify=overrides.get("verify", client.verify),
                prefer_get=client.prefer_get,
                transport=client._transport,
                token_header=client.token_header,
            )
        timeout = overrides.get("timeout")
        if isinstance(timeout, tuple):  # requests' (connect, read)
            timeout = httpx.Timeout(timeout[1], connect=timeout[0])
        try:
            return client.call_action(
                action,
                data_dict,
                files,
                method="GET" if self.get_only and not files else None,
                timeout=timeout,
                headers=overrides.get("headers"),
            )
        finally:
            if client is not self._client:
                client.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> RemoteCKAN:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _RemoteActionShortcut:
    """ckanapi's ``.action``: keyword arguments are data, file objects are uploads, and
    ``requests_kwargs=`` is taken out of the data and applied to the HTTP request."""

    def __init__(self, ckan: RemoteCKAN) -> None:
        self._ckan = ckan

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def action(**kwargs: Any) -> Any:
            requests_kwargs = kwargs.pop("requests_kwargs", None)
            data, files = split_files(kwargs)
            return self._ckan.call_action(name, data_dict=data, files=files or None, requests_kwargs=requests_kwargs)

        action.__name__ = name
        return action

    def __dir__(self) -> list[str]:
        return dir(self._ckan._client.action)
