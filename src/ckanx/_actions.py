"""Which actions a server is likely to have, for ``dir(ck.action)`` and tab completion.

CKAN has no action that lists actions, so the names come from CKAN's API reference (kept as data in
:mod:`ckanx._ckan_actions`), filtered by the server's version and extensions from ``status_show``.
"""

from __future__ import annotations

from typing import Any

# actions that exist only when the named extension is loaded
_EXTENSION_FAMILIES = {"datastore": "datastore", "activity": "activity"}


def known_actions(server_info: dict[str, Any] | None) -> set[str]:
    """Action names for a server described by ``status_show`` (all known names when unknown)."""
    from ._ckan_actions import ADDED_IN_212, CKAN_ACTIONS

    names = {name for family in CKAN_ACTIONS.values() for name in family}
    if not server_info:
        return names
    version = ".".join(str(server_info.get("ckan_version", "")).split(".")[:2])
    extensions = {str(e) for e in server_info.get("extensions") or []}
    for family, extension in _EXTENSION_FAMILIES.items():
        if extension not in extensions:
            names -= set(CKAN_ACTIONS.get(family, ()))
    if version == "2.11":
        names -= ADDED_IN_212
    return names
