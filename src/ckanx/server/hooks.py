"""Extension points that families fill in at import time.

- ``STARTUP``: ``fn(server)`` run when an :class:`~ckanx.server.core.EmbeddedCKAN` opens (after the
  schema is applied), e.g. create the sysadmin and its token, rebuild the search index.
- ``AUTHENTICATE``: ``fn(ctx_server, conn, token) -> user dict | None``; the users family sets it.
  Unknown, revoked or malformed tokens give ``None`` (anonymous), as on CKAN.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import EmbeddedCKAN

STARTUP: list[Callable[[EmbeddedCKAN], None]] = []
AUTHENTICATE: list[Callable[[EmbeddedCKAN, sqlite3.Connection, str], dict[str, Any] | None]] = []
