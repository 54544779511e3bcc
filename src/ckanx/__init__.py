"""ckanx: a fast, safe client, command line and embedded test server for CKAN."""

from ._exceptions import (
    ActionError,
    BadRequest,
    CKANAPIError,
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
)
from ._version import __version__

__all__ = [
    "ActionError",
    "BadRequest",
    "CKANAPIError",
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
    "__version__",
]
