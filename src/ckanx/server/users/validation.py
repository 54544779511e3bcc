"""Field validation shared by the users and organizations families, with CKAN's messages.

CKAN validates a whole dict and reports every failing field at once; :class:`Errors` collects
messages per field and :meth:`Errors.raise_if_any` raises one
:class:`~ckanx.server.errors.ValidationError` whose keys are sorted, as CKAN's are.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from .. import errors

MISSING = "Missing value"
NAME_MAX_LENGTH = 100
_NAME_RE = re.compile(r"[a-z0-9_\-]*$")
# CKAN's email_pattern (RFC-ish, no leading/trailing/double dots).
_EMAIL_RE = re.compile(
    r"^(?!\.)(?!.*\.$)(?!.*?\.\.)"
    r"[a-zA-Z0-9.!#$%&'*+\/=?^_`{|}~-]+@[a-zA-Z0-9]"
    r"(?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9]"
    r"(?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)
_TRUE_STRINGS = ("true", "yes", "t", "y", "1")


class Errors:
    """Field -> list of messages, raised together like CKAN's validation."""

    def __init__(self) -> None:
        self.fields: dict[str, list[Any]] = {}

    def add(self, field: str, message: Any) -> None:
        """Record one message for ``field``."""
        self.fields.setdefault(field, []).append(message)

    def __contains__(self, field: str) -> bool:
        return field in self.fields

    def raise_if_any(self) -> None:
        """Raise a ValidationError (keys sorted) when anything was recorded."""
        if self.fields:
            raise errors.ValidationError({k: self.fields[k] for k in sorted(self.fields)})


def get_or_bust(data: dict[str, Any], *keys: str) -> list[Any]:
    """CKAN's ``_get_or_bust``: the values of ``keys`` or a ValidationError naming each absent key."""
    errs = Errors()
    for key in keys:
        if key not in data:
            errs.add(key, MISSING)
    errs.raise_if_any()
    return [data[k] for k in keys]


def is_empty(value: Any) -> bool:
    """CKAN's ``not_empty`` failure: absent, None or an empty string/collection."""
    return value is None or value == "" or value == [] or value == {}


def name_error(value: Any) -> str | None:
    """CKAN's ``name_validator`` message for a user/group/dataset name, or None if valid."""
    if not isinstance(value, str):
        return "Names must be strings"
    if value in ("new", "edit", "search"):
        return "That name cannot be used"
    if len(value) < 2:
        return "Must be at least 2 characters long"
    if len(value) > NAME_MAX_LENGTH:
        return f"Name must be a maximum of {NAME_MAX_LENGTH} characters long"
    if not _NAME_RE.match(value):
        return "Must be purely lowercase alphanumeric (ascii) characters and these symbols: -_"
    return None


def email_error(value: str) -> str | None:
    """CKAN's ``email_validator`` message, or None (empty strings are left to ``not_empty``)."""
    if value and not _EMAIL_RE.match(value):
        return f"Email {value} is not a valid format"
    return None


def is_uuid(value: Any) -> bool:
    """CKAN's ``uuid_validator`` (any UUID text form accepted by :class:`uuid.UUID`)."""
    try:
        uuid.UUID(str(value), version=4)
    except ValueError:
        return False
    return isinstance(value, str)


def as_bool(value: Any) -> bool:
    """CKAN's ``boolean_validator`` / ``asbool`` for request values."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    return str(value).strip().lower() in _TRUE_STRINGS


def as_int(value: Any, field: str, errs: Errors, *, minimum: int | None = 0) -> int | None:
    """CKAN's ``natural_number_validator``-style integer parsing; records errors in ``errs``."""
    if value is None or value == "":
        return None
    try:
        number = int(value)
        if isinstance(value, float) and value != number:
            raise ValueError
    except (TypeError, ValueError):
        errs.add(field, "Invalid integer")
        return None
    if minimum is not None and number < minimum:
        errs.add(field, "Must be a natural number")
        return None
    return number
