"""SQLite storage for the embedded server.

One database file (``catalog.db``) in the data directory, WAL mode. Every action runs inside one
transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception), so a crash or an
error never leaves half a dataset. Family modules register their DDL with :func:`register_schema`
at import time; :class:`Database` applies all of it on open (``CREATE TABLE IF NOT EXISTS``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMAS: list[str] = []


def register_schema(ddl: str) -> None:
    """Add DDL (``CREATE TABLE IF NOT EXISTS ...;`` statements) applied when a database opens."""
    SCHEMAS.append(ddl)


class Database:
    """A SQLite connection used by one action at a time (actions are serialised by ``lock``)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        for ddl in SCHEMAS:
            self.conn.executescript(ddl)
        self._depth = 0
        self._after_commit: list[Callable[[], None]] = []

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block in one transaction; nested use joins the outer transaction.

        Callbacks given to :meth:`after_commit` run once the outermost transaction commits
        (and are dropped if it rolls back).
        """
        with self.lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self._depth = 0
                self._after_commit.clear()
                self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self.conn.execute("COMMIT")
            callbacks, self._after_commit = self._after_commit, []
            for callback in callbacks:
                callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` after the current transaction commits (e.g. update the search index)."""
        if not self._depth:
            callback()
        else:
            self._after_commit.append(callback)

    def close(self) -> None:
        self.conn.close()
