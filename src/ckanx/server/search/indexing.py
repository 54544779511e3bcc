"""The search index's write side, called by the datasets family after each commit.

Interface (stable; the search family owns the implementation):

- ``index_package(server, pkg_dict)``: (re)index one dataset; ``pkg_dict`` is what ``package_show``
  returns to a sysadmin (any state).
- ``remove_package(server, package_id)``: drop one dataset from the index (purge).
- ``rebuild(server)``: rebuild from the database (on startup).

The index lives in ``server.state["search"]`` (a :class:`~.engine.SearchIndex`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .documents import solr_document
from .engine import SearchIndex

if TYPE_CHECKING:
    from ..core import EmbeddedCKAN

STATE_KEY = "search"


def get_index(server: EmbeddedCKAN) -> SearchIndex:
    """The site's index (created empty on first use)."""
    index = server.state.get(STATE_KEY)
    if not isinstance(index, SearchIndex):
        index = server.state[STATE_KEY] = SearchIndex()
    return index


def _vocabulary_namer(conn: sqlite3.Connection) -> Any:
    """``vocabulary_id -> name`` through the datasets family's model, cached per call."""
    try:
        from ..datasets import models
    except ImportError:  # datasets family not present
        return None
    cache: dict[str, str | None] = {}

    def name(vocab_id: str) -> str | None:
        if vocab_id not in cache:
            row = models.vocabulary_row(conn, vocab_id)
            cache[vocab_id] = row["name"] if row is not None else None
        return cache[vocab_id]

    return name


def document_for(conn: sqlite3.Connection | None, pkg_dict: dict[str, Any]) -> dict[str, Any]:
    """The Solr document of one package dict (vocabulary names read through ``conn``)."""
    has_vocab = any(t.get("vocabulary_id") for t in pkg_dict.get("tags") or [])
    namer = _vocabulary_namer(conn) if (has_vocab and conn is not None) else None
    return solr_document(pkg_dict, namer)


def _indexable(pkg_dict: dict[str, Any]) -> bool:
    # ckan.search.remove_deleted_packages (default true): deleted datasets leave the index
    return pkg_dict.get("state") not in (None, "deleted")


def index_package(server: EmbeddedCKAN, pkg_dict: dict[str, Any]) -> None:
    """(Re)index one dataset (a deleted one is removed, as CKAN does by default)."""
    index = get_index(server)
    if not _indexable(pkg_dict):
        index.remove(str(pkg_dict.get("id")))
        return
    index.add(document_for(server.db.conn, pkg_dict))
    if index.needs_compaction:
        rebuild(server)


def remove_package(server: EmbeddedCKAN, package_id: str) -> None:
    """Remove one dataset from the index."""
    get_index(server).remove(package_id)


def index_many(server: EmbeddedCKAN, pkg_dicts: Iterable[dict[str, Any]]) -> int:
    """Index many datasets at once (bulk loads, benchmarks); returns how many."""
    return get_index(server).add_many(document_for(server.db.conn, p) for p in pkg_dicts if _indexable(p))


def rebuild(server: EmbeddedCKAN) -> None:
    """Rebuild the whole index from the database."""
    try:
        from ..datasets import models
    except ImportError:  # datasets family not present: nothing to index
        server.state[STATE_KEY] = SearchIndex()
        return
    fresh = SearchIndex()
    with server.db.transaction() as conn:
        namer = _vocabulary_namer(conn)
        fresh.add_many(solr_document(p, namer) for p in models.iter_package_dicts(conn) if _indexable(p))
    server.state[STATE_KEY] = fresh


def fetch_documents(conn: sqlite3.Connection) -> Any:
    """A ``fetch_docs`` callable for :meth:`SearchIndex.search`: ids -> Solr documents."""

    def fetch(ids: list[str]) -> dict[str, dict[str, Any]]:
        from ..datasets import models

        return {p["id"]: document_for(conn, p) for p in models.package_dicts(conn, ids)}

    return fetch
