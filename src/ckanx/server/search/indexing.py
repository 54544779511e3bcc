"""The search index's write side, called by the datasets family after each commit.

Interface (stable; the search family owns the implementation):

- ``index_package(server, pkg_dict)``: (re)index one dataset; ``pkg_dict`` is what ``package_show``
  returns to a sysadmin (any state).
- ``remove_package(server, package_id)``: drop one dataset from the index (purge).
- ``rebuild(server)``: rebuild from the database (on startup).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core import EmbeddedCKAN


def index_package(server: EmbeddedCKAN, pkg_dict: dict[str, Any]) -> None:
    """(Re)index one dataset."""


def remove_package(server: EmbeddedCKAN, package_id: str) -> None:
    """Remove one dataset from the index."""


def rebuild(server: EmbeddedCKAN) -> None:
    """Rebuild the whole index from the database."""
