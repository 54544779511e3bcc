"""Which actions a server is likely to have, for ``dir(ck.action)`` and tab completion.

CKAN has no action that lists actions, so the names come from CKAN's API reference (kept as data in
:mod:`ckanx.server.coverage`), filtered by the server's version and extensions from ``status_show``.
"""

from __future__ import annotations

from typing import Any


def known_actions(server_info: dict[str, Any] | None) -> set[str]:
    """Action names for a server described by ``status_show`` (all known names when unknown)."""
    try:
        from .server.coverage import action_names
    except ImportError:  # pragma: no cover - the data module is part of the package
        return set()
    if not server_info:
        return set(action_names())
    version = str(server_info.get("ckan_version", ""))
    extensions = [str(e) for e in server_info.get("extensions") or []]
    return set(action_names(version=version, extensions=extensions))
