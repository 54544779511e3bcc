"""DataStore state: one SQLite database (``datastore.db``), one real table per resource.

Each resource's table is named by the resource id and has ``_id INTEGER PRIMARY KEY`` (rowid,
so ids grow like PostgreSQL's serial and are never reused while rows exist), ``_full_text``
(stemmed words for ``q``) and one column per field (see :mod:`.types` for storage). The data
dictionary (field order, CKAN types, ``info``), primary key and indexes live in ``_ds_meta``;
aliases are SQL views (so ``datastore_search_sql`` can read them) listed in ``_ds_alias``.

All writes go through :meth:`DataStore.write` (one ``BEGIN IMMEDIATE`` transaction, rolled back
on any exception). Readers that stream (``/datastore/dump``) open their own read-only connection:
WAL mode gives them a stable snapshot without blocking writers.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ValidationError
from . import fulltext, types

if TYPE_CHECKING:
    from ..core import EmbeddedCKAN

META_DDL = """
CREATE TABLE IF NOT EXISTS _ds_meta (
    resource_id TEXT PRIMARY KEY,
    fields TEXT NOT NULL,
    primary_key TEXT NOT NULL DEFAULT '[]',
    indexes TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS _ds_alias (
    name TEXT PRIMARY KEY,
    resource_id TEXT NOT NULL
);
-- CKAN's listing of DataStore tables and aliases (readable with datastore_search)
CREATE VIEW IF NOT EXISTS _table_metadata AS
    SELECT substr(ds_md5(resource_id), 1, 16) AS _id, resource_id AS name,
           CAST(16384 + rowid AS TEXT) AS oid, NULL AS alias_of
    FROM _ds_meta
    UNION ALL
    SELECT substr(ds_md5(name || resource_id), 1, 16), name, CAST(1048576 + rowid AS TEXT), resource_id
    FROM _ds_alias;
"""
TABLE_METADATA = "_table_metadata"
# spaces exactly as CKAN's message has them (a line break inside its source string)
KEY_MISSING = 'fields "{0}" are missing\n                            but needed as key'


def quote(name: str) -> str:
    """SQLite identifier quoting."""
    return '"' + name.replace('"', '""') + '"'


def index_name(resource_id: str, columns: list[str], kind: str) -> str:
    """A stable, CKAN-looking (sha1 hex) index name."""
    return hashlib.sha1(f"{resource_id}|{kind}|{','.join(columns)}".encode()).hexdigest()


@dataclass
class Table:
    """The data dictionary of one DataStore table."""

    resource_id: str
    fields: list[dict[str, Any]]  # {"id", "type", optional "info"} in column order, no _id
    primary_key: list[str] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)

    @property
    def types(self) -> dict[str, str]:
        """Column name -> CKAN type, ``_id`` included."""
        out = {"_id": "int"}
        out.update({f["id"]: f["type"] for f in self.fields})
        return out

    def field_dicts(self) -> list[dict[str, Any]]:
        """``fields`` as ``datastore_search`` returns them (``_id`` first, ``info`` last)."""
        out: list[dict[str, Any]] = [{"id": "_id", "type": "int"}]
        for f in self.fields:
            item = {"id": f["id"], "type": f["type"]}
            if "info" in f:
                item["info"] = f["info"]
            out.append(item)
        return out


@functools.lru_cache(maxsize=256)
def _parsed_query(query_json: str) -> list[list[tuple[str, bool]]]:
    # called once per row by SQLite: parse each distinct query once
    return [[(w, bool(p)) for w, p in group] for group in json.loads(query_json)]


def _sqlite_rank(doc: str | None, query_json: str) -> float | None:
    return fulltext.rank(doc, _parsed_query(query_json))


def _sqlite_value_rank(value: Any, query_json: str) -> float | None:
    if value is None:
        return None
    return fulltext.rank(fulltext.document([value]), _parsed_query(query_json))


def _now() -> str:
    stamp = dt.datetime.now(dt.timezone.utc)
    return stamp.isoformat(timespec="microseconds")


def setup_connection(conn: sqlite3.Connection) -> None:
    """Register what DataStore tables need on any connection that reads them."""
    conn.create_collation("ds_numeric", types.numeric_collation)
    conn.create_function("ds_rank", 2, _sqlite_rank, deterministic=True)
    conn.create_function("ds_value_rank", 2, _sqlite_value_rank, deterministic=True)
    # PostgreSQL's now() (a timestamptz), common in datastore_search_sql queries
    conn.create_function("now", 0, _now)
    conn.create_function("ds_md5", 1, _md5, deterministic=True)


def _md5(text: str | None) -> str | None:
    return None if text is None else hashlib.md5(text.encode()).hexdigest()  # an id, not security


class DataStore:
    """The ``datastore.db`` of one embedded site."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        setup_connection(self.conn)
        self.conn.executescript(META_DDL)

    def close(self) -> None:
        self.conn.close()

    def reader(self) -> sqlite3.Connection:
        """A new read-only connection (its own snapshot; for streaming and ``search_sql``)."""
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None)
        setup_connection(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested use joins it."""
        with self.lock:
            if self.conn.in_transaction:
                yield self.conn
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    # -- metadata -------------------------------------------------------------------------

    def table(self, resource_id: str, conn: sqlite3.Connection | None = None) -> Table | None:
        """The table of a resource id (not an alias), or ``None``."""
        if resource_id == TABLE_METADATA:
            return Table(
                TABLE_METADATA,
                [{"id": "name", "type": "name"}, {"id": "oid", "type": "oid"}, {"id": "alias_of", "type": "name"}],
            )
        row = (
            (conn or self.conn)
            .execute(
                "SELECT fields, primary_key, indexes FROM _ds_meta WHERE resource_id = ?",
                (resource_id,),
            )
            .fetchone()
        )
        if row is None:
            return None
        return Table(resource_id, json.loads(row[0]), json.loads(row[1]), json.loads(row[2]))

    def resolve(self, name: str, conn: sqlite3.Connection | None = None) -> str | None:
        """A resource id or alias -> the resource id of an existing table."""
        c = conn or self.conn
        if c.execute("SELECT 1 FROM _ds_meta WHERE resource_id = ?", (name,)).fetchone():
            return name
        row = c.execute("SELECT resource_id FROM _ds_alias WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def aliases(self, resource_id: str) -> list[str]:
        return [
            r[0]
            for r in self.conn.execute("SELECT name FROM _ds_alias WHERE resource_id = ? ORDER BY name", (resource_id,))
        ]

    def table_names(self) -> set[str]:
        """Every name ``datastore_search_sql`` may read: resource ids and aliases."""
        names = {r[0] for r in self.conn.execute("SELECT resource_id FROM _ds_meta")}
        names.update(r[0] for r in self.conn.execute("SELECT name FROM _ds_alias"))
        return names

    def _save_meta(self, conn: sqlite3.Connection, table: Table) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO _ds_meta (resource_id, fields, primary_key, indexes) VALUES (?, ?, ?, ?)",
            (
                table.resource_id,
                json.dumps(table.fields),
                json.dumps(table.primary_key),
                json.dumps(table.indexes),
            ),
        )

    # -- create ---------------------------------------------------------------------------

    def create(
        self,
        resource_id: str,
        fields: list[dict[str, Any]],
        records: list[Any] | None,
        primary_key: list[str] | None,
        indexes: list[str] | None,
        aliases: list[str],
        delete_fields: bool,
        return_rows: bool = False,
    ) -> list[dict[str, Any]]:
        """Create or alter a table, then insert ``records`` (returned as stored rows when
        ``return_rows``).

        Raises CKAN's ValidationErrors.
        """
        with self.write() as conn:
            existing = self.table(resource_id, conn)
            old_types = existing.types if existing else {}
            new_fields: list[dict[str, Any]] = []
            for f in fields:
                fid = f["id"]
                if not valid_field_name(fid):
                    raise ValidationError({"fields": [f'"{fid}" is not a valid field name']})
                if fid in old_types and fid != "_id":
                    # CKAN leaves an existing column's type alone
                    ctype = old_types[fid]
                    if "type" in f and types.canonical_type(f["type"]) is None:
                        raise ValidationError({"fields": [f'"{f["type"]}" is not a valid field type']})
                elif "type" in f and f["type"] is not None:
                    canonical = types.canonical_type(f["type"])
                    if canonical is None:
                        raise ValidationError({"fields": [f'"{f["type"]}" is not a valid field type']})
                    ctype = canonical
                else:
                    guessed = None
                    if records and isinstance(records[0], dict) and fid in records[0]:
                        guessed = types.guess_type(records[0][fid])
                    if guessed is None:
                        raise ValidationError({"fields": [f'"{fid}" type not guessable']})
                    ctype = "json" if guessed == "nested" else types.canonical_type(guessed) or "text"
                item: dict[str, Any] = {"id": fid, "type": ctype}
                if "info" in f:
                    item["info"] = f["info"]
                new_fields.append(item)
            if not fields and not existing and records:
                first = records[0]
                if not isinstance(first, dict):
                    raise ValidationError({"records": ["The first row is not a json object"]})
                for key, value in first.items():
                    if not valid_field_name(key):
                        raise ValidationError({"fields": [f'"{key}" is not a valid field name']})
                    guessed = types.guess_type(value)
                    new_fields.append(
                        {"id": key, "type": "json" if guessed == "nested" else types.canonical_type(guessed) or "text"}
                    )
            ids = [f["id"] for f in new_fields]
            if records and isinstance(records[0], dict) and (fields or existing):
                # keys of the first record that are not columns yet become columns (guessed)
                known = set(ids) | set(old_types)
                for key, value in records[0].items():
                    if key not in known and valid_field_name(key):
                        guessed = types.guess_type(value)
                        new_fields.append(
                            {
                                "id": key,
                                "type": "json" if guessed == "nested" else types.canonical_type(guessed) or "text",
                            }
                        )
                        known.add(key)
            if len(set(ids)) != len(ids):
                raise ValidationError({"field": ["Duplicate column names are not supported"]})

            # merge with the existing dictionary: order kept, info kept unless replaced
            if existing:
                merged: list[dict[str, Any]] = []
                given = {f["id"]: f for f in new_fields}
                for old in existing.fields:
                    if old["id"] in given:
                        upd = dict(given.pop(old["id"]))
                        if "info" not in upd and "info" in old:
                            upd["info"] = old["info"]
                        merged.append(upd)
                    elif not delete_fields:
                        merged.append(old)
                merged.extend(f for f in new_fields if f["id"] in given)
                all_fields = merged
            else:
                all_fields = new_fields
            all_ids = [f["id"] for f in all_fields]
            pk = primary_key if primary_key is not None else (existing.primary_key if existing else [])
            for col in pk:
                if col not in all_ids:
                    raise ValidationError({"index": [f'The field "{list(pk)}" is not a valid column name.']})
            idx = list(existing.indexes) if existing else []
            for col in indexes or []:
                if col not in all_ids and col != "_id":
                    raise ValidationError({"index": [f'The field "{col}" is not a valid column name.']})
                if col not in idx:
                    idx.append(col)
            table = Table(resource_id, all_fields, list(pk), idx)
            if existing is None:
                self._create_sql(conn, table)
            else:
                self._alter_sql(conn, existing, table)
            self._save_meta(conn, table)
            for alias in aliases:
                owner = conn.execute("SELECT resource_id FROM _ds_alias WHERE name = ?", (alias,)).fetchone()
                if owner and owner[0] != resource_id:
                    raise ValidationError({"alias": [f'"{alias}" is not a valid alias name']})
                if owner is None:
                    conn.execute(f"CREATE VIEW {quote(alias)} AS SELECT * FROM {quote(resource_id)}")
                    conn.execute("INSERT INTO _ds_alias (name, resource_id) VALUES (?, ?)", (alias, resource_id))
            if records:
                ids = self._write_records(conn, table, records, "insert")
                return self.rows_by_id(table, ids) if return_rows else []
            return []

    def _column_defs(self, table: Table) -> str:
        cols = ["_id INTEGER PRIMARY KEY AUTOINCREMENT", "_full_text TEXT"]
        cols.extend(f"{quote(f['id'])} {types.sqlite_decl(f['type'])}" for f in table.fields)
        return ", ".join(cols)

    def _create_sql(self, conn: sqlite3.Connection, table: Table) -> None:
        conn.execute(f"CREATE TABLE {quote(table.resource_id)} ({self._column_defs(table)})")
        self._create_indexes(conn, table)

    def _create_indexes(self, conn: sqlite3.Connection, table: Table) -> None:
        rid = table.resource_id
        if table.primary_key:
            name = index_name(rid, table.primary_key, "pk")
            cols = ", ".join(quote(c) for c in table.primary_key)
            conn.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {quote(name)} ON {quote(rid)} ({cols})")
        for col in table.indexes:
            name = index_name(rid, [col], "idx")
            conn.execute(f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(rid)} ({quote(col)})")

    def _alter_sql(self, conn: sqlite3.Connection, old: Table, new: Table) -> None:
        old_types = old.types
        new_ids = {f["id"] for f in new.fields}
        retyped = any(f["id"] in old_types and old_types[f["id"]] != f["type"] for f in new.fields)
        dropped = any(f["id"] not in new_ids for f in old.fields)
        if not retyped and not dropped and old.primary_key == new.primary_key:
            for f in new.fields:
                if f["id"] not in old_types:
                    conn.execute(
                        f"ALTER TABLE {quote(new.resource_id)} ADD COLUMN {quote(f['id'])} "
                        f"{types.sqlite_decl(f['type'])}"
                    )
            self._create_indexes(conn, new)
            return
        # SQLite cannot change a column's type: rebuild the table, converting values
        # the way PostgreSQL's ALTER COLUMN ... TYPE ... USING col::text::newtype would
        rid = new.resource_id
        tmp = rid + "__rebuild"
        conn.execute(f"CREATE TABLE {quote(tmp)} ({self._column_defs(new)})")
        keep = [f for f in new.fields if f["id"] in old_types]
        cur = conn.execute(
            "SELECT _id, " + ", ".join(quote(f["id"]) for f in keep) + f" FROM {quote(rid)}"
            if keep
            else f"SELECT _id FROM {quote(rid)}"
        )
        for row in cur.fetchall():
            values: dict[str, Any] = {}
            for f, stored in zip(keep, row[1:], strict=False):
                old_t = old_types[f["id"]]
                if old_t == f["type"] or stored is None:
                    values[f["id"]] = stored
                    continue
                as_json = types.decode(stored, old_t)
                if not f["type"].startswith("_") and f["type"] != "json" and isinstance(as_json, (dict, list)):
                    as_json = json.dumps(as_json)
                try:
                    values[f["id"]] = types.coerce(as_json, f["type"], f["id"])
                except types.CoercionError as exc:
                    raise ValidationError({"fields": [str(exc)]}) from None
            cols = ["_id", "_full_text", *values]
            doc = fulltext.document(types.decode(v, new.types[k]) for k, v in values.items())
            conn.execute(
                f"INSERT INTO {quote(tmp)} ({', '.join(quote(c) for c in cols)}) "
                f"VALUES ({', '.join('?' for _ in cols)})",
                [row[0], doc, *values.values()],
            )
        for alias in self.aliases(rid):
            conn.execute(f"DROP VIEW IF EXISTS {quote(alias)}")
        conn.execute(f"DROP TABLE {quote(rid)}")
        conn.execute(f"ALTER TABLE {quote(tmp)} RENAME TO {quote(rid)}")
        for alias in self.aliases(rid):
            conn.execute(f"CREATE VIEW {quote(alias)} AS SELECT * FROM {quote(rid)}")
        try:
            self._create_indexes(conn, new)
        except sqlite3.IntegrityError:
            raise ValidationError(
                {"records": [f'could not create unique index "{index_name(rid, new.primary_key, "pk")}"']}
            ) from None

    # -- upsert ---------------------------------------------------------------------------

    def upsert(
        self, resource_id: str, records: Any, method: str, dry_run: bool, return_rows: bool = False
    ) -> list[dict[str, Any]]:
        """Write ``records`` with CKAN's insert / update / upsert rules; the written rows."""
        with self.lock:
            outer = self.conn.in_transaction
            if not outer:
                self.conn.execute("BEGIN IMMEDIATE")
            try:
                table = self.table(resource_id)
                assert table is not None
                ids = self._write_records(self.conn, table, records, method)
                rows = self.rows_by_id(table, ids) if return_rows else []
            except BaseException:
                if not outer:
                    self.conn.execute("ROLLBACK")
                raise
            if not outer:
                self.conn.execute("ROLLBACK" if dry_run else "COMMIT")
            return rows

    def rows_by_id(self, table: Table, ids: list[int]) -> list[dict[str, Any]]:
        """Full rows (``_id`` first, JSON values) for ``ids``, in that order."""
        cols = ["_id", *(f["id"] for f in table.fields)]
        ftypes = table.types
        out = []
        for rowid in ids:
            row = self.conn.execute(
                f"SELECT {', '.join(quote(c) for c in cols)} FROM {quote(table.resource_id)} WHERE _id = ?",
                (rowid,),
            ).fetchone()
            if row is not None:
                out.append({c: types.decode(v, ftypes[c]) for c, v in zip(cols, row, strict=False)})
        return out

    def _write_records(self, conn: sqlite3.Connection, table: Table, records: Any, method: str) -> list[int]:
        """Write records; the ``_id`` of each written row, in order."""
        written: list[int] = []
        ftypes = {f["id"]: f["type"] for f in table.fields}
        order = [f["id"] for f in table.fields]
        rid = quote(table.resource_id)
        if not isinstance(records, list):
            records = [records]
        if method == "insert":
            # CKAN checks every row's keys first, then sends all rows in one executemany, so
            # a database-level error reports the last row's index as records_row
            for num, record in enumerate(records):
                if not isinstance(record, dict):
                    raise ValidationError({"records": ["The first row is not a json object"]})
                extra = [k for k in record if k not in ftypes]
                if extra:
                    raise ValidationError({"records": [f'row "{num + 1}" has extra keys "{", ".join(extra)}"']})
            last = len(records) - 1
            for record in records:
                row = self._coerce_record(table, ftypes, record, last, allow_id=False)
                cols = [c for c in order if c in row]
                doc = fulltext.document(types.decode(row[c], ftypes[c]) for c in order if c in row)
                try:
                    cur = conn.execute(
                        f"INSERT INTO {rid} (_full_text{''.join(', ' + quote(c) for c in cols)}) "
                        f"VALUES (?{', ?' * len(cols)})",
                        [doc, *(row[c] for c in cols)],
                    )
                    written.append(int(cur.lastrowid or 0))
                except sqlite3.IntegrityError:
                    raise ValidationError(
                        {
                            "records": [
                                "duplicate key value violates unique constraint "
                                f'"{index_name(table.resource_id, table.primary_key, "pk")}"'
                            ],
                            "records_row": last,
                        }
                    ) from None
            return written
        # update / upsert: the key is _id when given, else the primary key
        for num, record in enumerate(records):
            if not isinstance(record, dict):
                record = {}
            if "_id" in record:
                key_cols = ["_id"]
            elif table.primary_key:
                key_cols = list(table.primary_key)
            else:
                raise ValidationError({"table": ["unique key must be passed for update/upsert"]})
            missing = [c for c in key_cols if c not in record]
            if missing:
                raise ValidationError({"key": [KEY_MISSING.format(", ".join(missing))]})
            unknown = [k for k in record if k not in ftypes and k != "_id"]
            if unknown:
                raise ValidationError({"fields": [f'fields "{", ".join(unknown)}" do not exist']})
            row = self._coerce_record(table, ftypes, record, num, allow_id=True)
            key_vals = [row.pop("_id")] if key_cols == ["_id"] else [row[c] for c in key_cols]
            where = " AND ".join(f"{quote(c)} IS ?" for c in key_cols)
            found = conn.execute(f"SELECT _id FROM {rid} WHERE {where}", key_vals).fetchone()
            if found is None:
                if method == "update" or key_cols == ["_id"]:
                    used = [c for c in order if c in row]
                    named = {f"val_{len(used) + i}": v for i, v in enumerate(key_vals)}
                    raise ValidationError({"key": [f'key "{named}" not found']})
                cols = [c for c in order if c in row]
                doc = fulltext.document(types.decode(row[c], ftypes[c]) for c in order if c in row)
                cur = conn.execute(
                    f"INSERT INTO {rid} (_full_text{''.join(', ' + quote(c) for c in cols)}) "
                    f"VALUES (?{', ?' * len(cols)})",
                    [doc, *(row[c] for c in cols)],
                )
                written.append(int(cur.lastrowid or 0))
                continue
            sets = [c for c in order if c in row and c not in key_cols]
            if sets:
                conn.execute(
                    f"UPDATE {rid} SET {', '.join(quote(c) + ' = ?' for c in sets)} WHERE _id = ?",
                    [*(row[c] for c in sets), found[0]],
                )
            full = (
                conn.execute(
                    f"SELECT {', '.join(quote(c) for c in order)} FROM {rid} WHERE _id = ?", (found[0],)
                ).fetchone()
                if order
                else ()
            )
            doc = fulltext.document(types.decode(v, ftypes[c]) for c, v in zip(order, full, strict=False))
            conn.execute(f"UPDATE {rid} SET _full_text = ? WHERE _id = ?", (doc, found[0]))
            written.append(int(found[0]))
        return written

    def _coerce_record(
        self, table: Table, ftypes: dict[str, str], record: dict[str, Any], num: int, allow_id: bool
    ) -> dict[str, Any]:
        extra = [k for k in record if k not in ftypes and not (allow_id and k == "_id")]
        if extra:
            raise ValidationError({"records": [f'row "{num + 1}" has extra keys "{", ".join(extra)}"']})
        row: dict[str, Any] = {}
        for key, value in record.items():
            ctype = "int4" if key == "_id" else ftypes[key]
            try:
                row[key] = types.coerce(value, ctype, key)
            except types.CoercionError as exc:
                raise ValidationError({"records": [str(exc)], "records_row": num}) from None
        return row

    # -- delete ---------------------------------------------------------------------------

    def drop(self, resource_id: str) -> None:
        """Drop a table with its aliases and dictionary."""
        with self.write() as conn:
            for alias in self.aliases(resource_id):
                conn.execute(f"DROP VIEW IF EXISTS {quote(alias)}")
            conn.execute("DELETE FROM _ds_alias WHERE resource_id = ?", (resource_id,))
            conn.execute("DELETE FROM _ds_meta WHERE resource_id = ?", (resource_id,))
            conn.execute(f"DROP TABLE IF EXISTS {quote(resource_id)}")

    def delete_rows(self, table: Table, where: str, args: list[Any], returning: bool = False) -> list[dict[str, Any]]:
        """Delete the rows matching a WHERE clause built by :mod:`.query`.

        ``returning``: also return the deleted rows (2.12's ``include_deleted_records``).
        """
        with self.write() as conn:
            deleted: list[dict[str, Any]] = []
            if returning:
                ids = [
                    r[0]
                    for r in conn.execute(
                        f"SELECT _id FROM {quote(table.resource_id)} WHERE {where} ORDER BY _id", args
                    )
                ]
                deleted = self.rows_by_id(table, ids)
            conn.execute(f"DELETE FROM {quote(table.resource_id)} WHERE {where}", args)
            return deleted

    def count(self, resource_id: str) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {quote(resource_id)}").fetchone()[0])


def valid_field_name(name: Any) -> bool:
    """CKAN's rule: a non-empty string, no leading underscore, no double quote, <= 63 chars."""
    return (
        isinstance(name, str)
        and bool(name.strip())
        and not name.startswith("_")
        and '"' not in name
        and len(name) <= 63
    )


def get_store(server: EmbeddedCKAN) -> DataStore:
    """The site's DataStore (``datastore.db`` next to ``catalog.db``), opened on first use."""
    store = server.state.get("datastore")
    if isinstance(store, DataStore):
        return store
    with _OPEN_LOCK:  # two first requests at once must not open two connections
        store = server.state.get("datastore")
        if not isinstance(store, DataStore):
            store = DataStore(Path(server.data_dir) / "datastore.db")
            server.state["datastore"] = store
            # EmbeddedCKAN.close() knows nothing of this connection: close it with the server
            weakref.finalize(server, store.close)
        return store


_OPEN_LOCK = threading.Lock()
