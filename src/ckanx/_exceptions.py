"""Exceptions raised by ckanx.

The tree::

    CKANAPIError                    every error ckanx raises about a CKAN call
    ├── ActionError                 the server answered with CKAN's error envelope
    │   ├── NotFound                404 "Not Found Error"
    │   ├── NotAuthorized           403 "Authorization Error"
    │   ├── ValidationError         409 "Validation Error" (.error_dict holds the field errors)
    │   │   └── ConflictError       an object changed on the server since it was loaded (save refused)
    │   ├── SearchQueryError        400 "Search Query Error" (e.g. a bad sort)
    │   ├── SearchError             409 "Search Error" (e.g. bad q syntax)
    │   ├── SearchIndexError        500 "Search Index Error"
    │   └── ServerError             500 "Internal Server Error", "Integrity Error", ...
    ├── BadRequest                  400 with a bare-string body (bad JSON, GET on a write action)
    │   └── UnknownAction           400 "Action name not known" (plugin not installed, typo)
    ├── HTTPStatusError             a status with no CKAN envelope (502 after retries, 405, ...)
    ├── ServerIncompatibleError     HTML or other non-JSON where CKAN's JSON was expected
    ├── RedirectError               a 301/302/303 on POST that cannot be followed safely
    ├── OutcomeUnknownError         a write whose outcome is unknown and that is unsafe to repeat
    ├── WrongObjectError            a *_show answered with another object than the one asked for
    └── NetworkError                the request could not be completed (after retries)
        └── RequestTimeout          connect or read timeout (after retries)

The names ckanapi users catch (``CKANAPIError``, ``NotFound``, ``NotAuthorized``,
``ValidationError``, ``SearchQueryError``, ``SearchError``, ``SearchIndexError``,
``ServerIncompatibleError``) are importable from :mod:`ckanx` with the same meaning.
Lower-level ``httpx`` errors are wrapped at one boundary and kept as ``__cause__``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ActionError",
    "BadRequest",
    "CKANAPIError",
    "ConflictError",
    "HTTPStatusError",
    "NetworkError",
    "NotAuthorized",
    "NotFound",
    "OutcomeUnknownError",
    "RedirectError",
    "RequestTimeout",
    "SearchError",
    "SearchIndexError",
    "SearchQueryError",
    "ServerError",
    "ServerIncompatibleError",
    "UnknownAction",
    "ValidationError",
    "WrongObjectError",
]

BODY_EXCERPT_CHARS = 300


def excerpt(body: str | bytes, limit: int = BODY_EXCERPT_CHARS) -> str:
    """Return a one-line excerpt of a response body for error messages."""
    if isinstance(body, bytes):
        body = body[: limit * 4].decode("utf-8", errors="replace")
    text = " ".join(body.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class CKANAPIError(Exception):
    """Base class of every error raised about a CKAN API call.

    Attributes:
        action: the action name (``"package_show"``), or ``None``.
        status_code: the HTTP status, or ``None`` when no response was received.
        url: the URL requested (never contains the API token).
        body: an excerpt of the response body, or ``None``.
    """

    def __init__(
        self,
        message: str,
        *,
        action: str | None = None,
        status_code: int | None = None,
        url: str | None = None,
        body: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.action = action
        self.status_code = status_code
        self.url = url
        self.body = body

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, action={self.action!r}, status_code={self.status_code!r})"


class ActionError(CKANAPIError):
    """The server answered with CKAN's error envelope (``"success": false``).

    ``error`` is the envelope's ``error`` object as sent by the server.
    """

    def __init__(self, message: str, *, error: dict[str, Any] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.error: dict[str, Any] = dict(error or {})


class NotFound(ActionError):
    """404: the object does not exist (or is deleted and you may not see it)."""


class NotAuthorized(ActionError):
    """403: the user (anonymous if the token is missing, invalid or revoked) may not do this."""


class ValidationError(ActionError):
    """409: the data was rejected. ``error_dict`` maps field names to lists of messages."""

    def __init__(self, message: str, *, error: dict[str, Any] | None = None, **kw: Any) -> None:
        super().__init__(message, error=error, **kw)
        self.error_dict: dict[str, Any] = {k: v for k, v in (error or {}).items() if k != "__type"}


class SearchQueryError(ActionError):
    """400 "Search Query Error": the search parameters are invalid (e.g. a bad ``sort``)."""


class SearchError(ActionError):
    """409 "Search Error": the search backend rejected the query (e.g. bad ``q`` syntax)."""


class SearchIndexError(ActionError):
    """500 "Search Index Error": the dataset could not be (re)indexed; nothing was written."""


class ServerError(ActionError):
    """500 with a CKAN envelope: "Internal Server Error", "Integrity Error", "Search Connection Error"."""


class BadRequest(CKANAPIError):
    """400 whose body is a bare JSON string (CKAN's answer to malformed requests)."""


class UnknownAction(BadRequest):
    """400 "Action name not known": the action does not exist on this server (plugin missing?)."""


class HTTPStatusError(CKANAPIError):
    """The server answered a status without CKAN's JSON envelope."""


class ServerIncompatibleError(CKANAPIError):
    """The response is not CKAN's JSON: a firewall page, a login page, a wrong base URL."""


class RedirectError(CKANAPIError):
    """A POST was redirected (301/302/303), which drops its body. ``location`` names the target."""

    def __init__(self, message: str, *, location: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.location = location


class OutcomeUnknownError(CKANAPIError):
    """A write may or may not have been applied (the connection failed after sending it),
    and repeating it is not known to be safe. Check the server before retrying."""


class NetworkError(CKANAPIError):
    """The request could not be completed: DNS, connection refused or reset, TLS failure."""


class RequestTimeout(NetworkError):
    """The server did not connect or answer within the timeout (after retries)."""


class ConflictError(ValidationError):
    """The object changed on the server since it was loaded; nothing was written.

    Reload it (``obj.reload()``), re-apply your edit and save again. It is a
    :class:`ValidationError` (CKAN answers 409 ``{"match": [...]}``), so code catching that still works.
    """


class WrongObjectError(CKANAPIError):
    """The site answered a ``*_show`` with another object than the one asked for."""
