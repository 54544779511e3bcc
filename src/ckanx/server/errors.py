"""CKAN's error envelope, produced in one place.

Actions raise these; :mod:`ckanx.server.app` turns them into the exact bodies and status codes a real
CKAN sends (see ``../shared/real-ckan/README.md``).
"""

from __future__ import annotations

from typing import Any


class ActionError(Exception):
    """An error CKAN reports inside its JSON envelope."""

    status = 500
    type_name = "Internal Server Error"

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def error_body(self) -> dict[str, Any]:
        return {"__type": self.type_name, "message": self.message}


class ValidationError(ActionError):
    """409: ``error_dict`` maps field names to lists of messages (nested lists hold sub-dicts)."""

    status = 409
    type_name = "Validation Error"

    def __init__(self, error_dict: dict[str, Any]) -> None:
        super().__init__("Validation Error")
        self.error_dict = error_dict

    def error_body(self) -> dict[str, Any]:
        return {**self.error_dict, "__type": self.type_name}


class NotFound(ActionError):
    status = 404
    type_name = "Not Found Error"

    def __init__(self, message: str = "Not found") -> None:
        super().__init__(message)


class NotAuthorized(ActionError):
    """403. Pass the full message, e.g. ``"Access denied: User  not authorized to create packages"``."""

    status = 403
    type_name = "Authorization Error"


class SearchQueryError(ActionError):
    status = 400
    type_name = "Search Query Error"


class SearchError(ActionError):
    status = 409
    type_name = "Search Error"


class SearchIndexError(ActionError):
    status = 500
    type_name = "Search Index Error"


class InternalError(ActionError):
    status = 500
    type_name = "Internal Server Error"

    def __init__(self, message: str = "Internal Server Error") -> None:
        super().__init__(message)


class BadRequest(Exception):
    """400 with a bare JSON string body. ``detail`` is the text after CKAN's prefix
    (``"Bad request - "`` on 2.11, ``"Bad request: "`` on 2.12)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
