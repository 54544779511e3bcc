"""The context every action receives: who is calling, in which transaction, on which server."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import errors, registry

if TYPE_CHECKING:
    from .core import EmbeddedCKAN


def now_iso() -> str:
    """CKAN's timestamp format: naive UTC ISO 8601 with microseconds, no ``Z``."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")


@dataclass
class Context:
    """Passed to every action as ``ctx``.

    ``user`` is the authenticated user's row as a dict (keys of the ``user`` table) or ``None`` for
    anonymous. ``ignore_auth`` is set for internal calls made with ``ctx.call(..., ignore_auth=True)``.
    """

    server: EmbeddedCKAN
    conn: sqlite3.Connection
    user: dict[str, Any] | None
    ignore_auth: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """``"2.11"`` or ``"2.12"``: which CKAN this server imitates."""
        return self.server.ckan_version

    @property
    def site_url(self) -> str:
        return self.server.site_url

    @property
    def user_name(self) -> str:
        """The name CKAN puts in "User X not authorized" messages ("" for anonymous)."""
        return self.user["name"] if self.user else ""

    @property
    def user_id(self) -> str | None:
        return self.user["id"] if self.user else None

    @property
    def is_sysadmin(self) -> bool:
        return bool(self.user and self.user.get("sysadmin"))

    def call(self, name: str, data: dict[str, Any], *, ignore_auth: bool | None = None) -> Any:
        """Call another action in the same transaction (CKAN's ``get_action(name)(context, data)``)."""
        spec = registry.lookup(name, self.version)
        if spec is None:
            raise errors.InternalError(f"unknown internal action {name}")
        sub = Context(
            self.server,
            self.conn,
            self.user,
            self.ignore_auth if ignore_auth is None else ignore_auth,
            self.extra,
        )
        return spec.func(sub, dict(data))

    def after_commit(self, callback: Any) -> None:
        self.server.db.after_commit(callback)
