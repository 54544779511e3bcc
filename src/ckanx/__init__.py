"""ckanx: a fast, safe client, command line and embedded test server for CKAN."""

from ._client import AsyncClient, Client
from ._config import ConfigError
from ._exceptions import (
    ActionError,
    BadRequest,
    CKANAPIError,
    ConflictError,
    HTTPStatusError,
    NetworkError,
    NotAuthorized,
    NotFound,
    OutcomeUnknownError,
    RedirectError,
    RequestTimeout,
    SearchError,
    SearchIndexError,
    SearchQueryError,
    ServerError,
    ServerIncompatibleError,
    UnknownAction,
    ValidationError,
    WrongObjectError,
)
from ._local import CKANNotInstalledError, LocalCKAN, TestAppCKAN
from ._remote import RemoteCKAN
from ._version import __version__

__all__ = [
    "ActionError",
    "AsyncClient",
    "BadRequest",
    "CKANAPIError",
    "CKANNotInstalledError",
    "Client",
    "ConfigError",
    "ConflictError",
    "HTTPStatusError",
    "LocalCKAN",
    "NetworkError",
    "NotAuthorized",
    "NotFound",
    "OutcomeUnknownError",
    "RedirectError",
    "RemoteCKAN",
    "RequestTimeout",
    "SearchError",
    "SearchIndexError",
    "SearchQueryError",
    "ServerError",
    "ServerIncompatibleError",
    "TestAppCKAN",
    "UnknownAction",
    "ValidationError",
    "WrongObjectError",
    "__version__",
]
