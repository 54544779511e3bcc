"""Datasets, resources, tags, vocabularies and activities: tables and the SQL behind each operation.

Storage layout (SQLite, in ``catalog.db``):

- ``package``: one row per dataset (any state); indexed columns (name, state, private, owner_org,
  type, timestamps) plus ``core``, a JSON object with the free-text fields, extras, the embedded
  organization and groups and the tag list, so that rendering a dataset is one row read plus its
  resources.
- ``resource``: one row per resource (``data`` JSON holds everything but the indexed columns).
- ``tag`` / ``package_tag`` / ``vocabulary``: tags shared between datasets (stable tag ids, for
  tag_list / tag_show) and tag vocabularies.
- ``activity``: the activity stream entries of datasets ("new package", "changed package",
  "deleted package").

:func:`package_dicts` and :func:`iter_package_dicts` are the public read side used by search.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlparse

from .. import hooks
from ..db import register_schema
from ..organizations import schema as _org_schema  # noqa: F401  ("group"/"member", read here)

register_schema(
    """
CREATE TABLE IF NOT EXISTS package (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT 'dataset',
    state TEXT NOT NULL DEFAULT 'active',
    private INTEGER NOT NULL DEFAULT 0,
    owner_org TEXT,
    creator_user_id TEXT,
    metadata_created TEXT NOT NULL,
    metadata_modified TEXT NOT NULL,
    core TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS package_name_idx ON package(name);
CREATE INDEX IF NOT EXISTS package_owner_org_idx ON package(owner_org);
CREATE TABLE IF NOT EXISTS resource (
    id TEXT PRIMARY KEY,
    package_id TEXT NOT NULL REFERENCES package(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT 'active',
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS resource_package_idx ON resource(package_id, position);
CREATE TABLE IF NOT EXISTS vocabulary (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS tag (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    vocabulary_id TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS tag_name_vocab_idx ON tag(name, vocabulary_id);
CREATE TABLE IF NOT EXISTS package_tag (
    package_id TEXT NOT NULL REFERENCES package(id) ON DELETE CASCADE,
    tag_id TEXT NOT NULL REFERENCES tag(id),
    PRIMARY KEY (package_id, tag_id)
);
CREATE INDEX IF NOT EXISTS package_tag_tag_idx ON package_tag(tag_id);
CREATE TABLE IF NOT EXISTS package_activity (
    id TEXT PRIMARY KEY,
    timestamp TEXT NOT NULL,
    user_id TEXT,
    object_id TEXT NOT NULL,
    activity_type TEXT NOT NULL,
    data TEXT NOT NULL,
    permission_labels TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS package_activity_object_idx ON package_activity(object_id, timestamp);
"""
)

# CKAN's default license list: id -> (title, url, is open).
LICENSES: dict[str, tuple[str, str, bool]] = {
    "notspecified": ("License not specified", "", False),
    "odc-pddl": (
        "Open Data Commons Public Domain Dedication and License (PDDL)",
        "http://www.opendefinition.org/licenses/odc-pddl",
        True,
    ),
    "odc-odbl": (
        "Open Data Commons Open Database License (ODbL)",
        "http://www.opendefinition.org/licenses/odc-odbl",
        True,
    ),
    "odc-by": (
        "Open Data Commons Attribution License",
        "http://www.opendefinition.org/licenses/odc-by",
        True,
    ),
    "cc-zero": ("Creative Commons CCZero", "http://www.opendefinition.org/licenses/cc-zero", True),
    "cc-by": ("Creative Commons Attribution", "http://www.opendefinition.org/licenses/cc-by", True),
    "cc-by-sa": (
        "Creative Commons Attribution Share-Alike",
        "http://www.opendefinition.org/licenses/cc-by-sa",
        True,
    ),
    "gfdl": ("GNU Free Documentation License", "http://www.opendefinition.org/licenses/gfdl", True),
    "other-open": ("Other (Open)", "", True),
    "other-pd": ("Other (Public Domain)", "", True),
    "other-at": ("Other (Attribution)", "", True),
    "uk-ogl": (
        "UK Open Government Licence (OGL)",
        "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/",
        True,
    ),
    "cc-nc": (
        "Creative Commons Non-Commercial (Any)",
        "http://creativecommons.org/licenses/by-nc/2.0/",
        False,
    ),
    "other-nc": ("Other (Non-Commercial)", "", False),
    "other-closed": ("Other (Not Open)", "", False),
}

# Order in which CKAN appends the list fields that are empty (they come after the non-empty
# lists, which are sorted by name with the scalar fields before them); it changed in 2.12.
_EMPTY_LIST_ORDER = {
    "2.11": ("resources", "tags", "extras", "groups"),
    "2.12": ("extras", "resources", "tags", "groups"),
}
# Which CKAN version each open catalog connection imitates (filled by a startup hook), so that
# package_dicts(conn, ids) can render the right key order without being told.
_CONN_VERSION: dict[int, str] = {}


def _extras_order_key(version: str) -> Any:
    """2.11 sorts extras by key; 2.12 keeps them in a PostgreSQL JSONB object, which orders keys
    by their length in bytes, then bytewise."""
    if version == "2.11":
        return lambda e: e["key"]
    return lambda e: (len(e["key"].encode()), e["key"].encode())


def _remember_version(server: Any) -> None:
    _CONN_VERSION[id(server.db.conn)] = server.ckan_version


hooks.STARTUP.append(_remember_version)


def new_id() -> str:
    """A fresh UUID4 string (CKAN's ids)."""
    return str(uuid.uuid4())


# ---------------------------------------------------------------- lookups


def find_package_row(conn: sqlite3.Connection, name_or_id: str) -> sqlite3.Row | None:
    """The package row with this id, else with this name (a live one before deleted ones)."""
    if not isinstance(name_or_id, str):
        return None
    row = conn.execute("SELECT * FROM package WHERE id = ?", (name_or_id,)).fetchone()
    if row is not None:
        return row
    return conn.execute(
        "SELECT * FROM package WHERE name = ? ORDER BY state = 'deleted', metadata_created DESC",
        (name_or_id,),
    ).fetchone()


def name_in_use(conn: sqlite3.Connection, name: str, exclude_id: str | None) -> bool:
    """Whether a non-deleted dataset other than ``exclude_id`` has this name."""
    row = conn.execute(
        "SELECT 1 FROM package WHERE name = ? AND state != 'deleted' AND id != ?",
        (name, exclude_id or ""),
    ).fetchone()
    return row is not None


def rename_deleted_holders(conn: sqlite3.Connection, name: str, exclude_id: str) -> list[str]:
    """Rename deleted datasets called ``name`` to their ids (what CKAN does when a live dataset
    takes a deleted one's name); returns their ids. Their ``metadata_modified`` is left alone."""
    ids = [
        r["id"]
        for r in conn.execute(
            "SELECT id FROM package WHERE name = ? AND state = 'deleted' AND id != ?", (name, exclude_id)
        )
    ]
    for package_id in ids:
        conn.execute("UPDATE package SET name = id WHERE id = ?", (package_id,))
    return ids


def package_exists(conn: sqlite3.Connection, package_id: str) -> bool:
    """Whether a dataset (any state) has this id."""
    return conn.execute("SELECT 1 FROM package WHERE id = ?", (package_id,)).fetchone() is not None


def resource_row(conn: sqlite3.Connection, resource_id: str) -> sqlite3.Row | None:
    """The stored row of a resource (any state), or None."""
    if not isinstance(resource_id, str):
        return None
    return conn.execute("SELECT * FROM resource WHERE id = ?", (resource_id,)).fetchone()


def resource_id_taken(conn: sqlite3.Connection, resource_id: str, package_id: str | None) -> bool:
    """CKAN's ``resource_id_does_not_exist``: a live resource with this id in another dataset."""
    row = conn.execute("SELECT package_id FROM resource WHERE id = ? AND state != 'deleted'", (resource_id,)).fetchone()
    return row is not None and row["package_id"] != package_id


# ---------------------------------------------------------------- rendering


# Stored resource keys starting with this are bookkeeping, never shown.
HIDDEN_PREFIX = "__"
# True once a resource's stored dict holds datastore_active (see ``packages._resources``).
DS_FLAG_STORED = "__datastore_active_stored"


def stored_resource_flags(conn: sqlite3.Connection, package_id: str) -> dict[str, bool]:
    """``{resource id: DS_FLAG_STORED}`` for a dataset's resources."""
    return {
        r["id"]: bool(json.loads(r["data"]).get(DS_FLAG_STORED))
        for r in conn.execute("SELECT id, data FROM resource WHERE package_id = ?", (package_id,))
    }


def render_resource(row: sqlite3.Row | dict[str, Any]) -> dict[str, Any]:
    """A resource row as CKAN shows it: every key, sorted by name (extras included)."""
    data = {k: v for k, v in json.loads(row["data"]).items() if not k.startswith(HIDDEN_PREFIX)}
    data["id"] = row["id"]
    data["package_id"] = row["package_id"]
    data["position"] = row["position"]
    data["state"] = row["state"]
    url = data.get("url")
    if url and data.get("url_type") != "upload" and not urlparse(str(url)).scheme:
        # CKAN shows a link without a scheme as http://<link>
        data["url"] = "http://" + str(url).lstrip("/")
    return {k: data[k] for k in sorted(data)}


def _license_fields(license_id: str | None) -> dict[str, Any]:
    if license_id is not None and license_id in LICENSES:
        title, url, is_open = LICENSES[license_id]
        out: dict[str, Any] = {"isopen": is_open, "license_title": title}
        if url:
            out["license_url"] = url
        return out
    return {"isopen": False, "license_title": license_id}


def render(
    row: sqlite3.Row,
    resources: list[dict[str, Any]],
    organization: dict[str, Any] | None,
    groups: list[dict[str, Any]],
    version: str = "2.11",
) -> dict[str, Any]:
    """One dataset as ``package_show`` returns it to a sysadmin, in CKAN's key order."""
    core = json.loads(row["core"])
    tags = core.get("tags") or []
    extras = [{"key": e["key"], "value": e["value"]} for e in core.get("extras") or []]
    scalars: dict[str, Any] = {
        "author": core.get("author"),
        "author_email": core.get("author_email"),
        "creator_user_id": row["creator_user_id"],
        "id": row["id"],
        "license_id": core.get("license_id"),
        "maintainer": core.get("maintainer"),
        "maintainer_email": core.get("maintainer_email"),
        "metadata_created": row["metadata_created"],
        "metadata_modified": row["metadata_modified"],
        "name": row["name"],
        "notes": core.get("notes"),
        "num_resources": len(resources),
        "num_tags": len(tags),
        "organization": organization,
        "owner_org": row["owner_org"],
        "private": bool(row["private"]),
        "state": row["state"],
        "title": core.get("title"),
        "type": row["type"],
        "url": core.get("url"),
        "version": core.get("version"),
    }
    scalars.update(_license_fields(core.get("license_id")))
    out = {k: scalars[k] for k in sorted(scalars)}
    lists = {
        "extras": sorted(extras, key=_extras_order_key(version)),
        "groups": groups,  # in the order the memberships were made, as CKAN lists them
        "resources": resources,
        "tags": sorted(
            (
                {
                    "display_name": t["name"],
                    "id": t["id"],
                    "name": t["name"],
                    "state": "active",
                    "vocabulary_id": t.get("vocabulary_id"),
                }
                for t in tags
            ),
            key=lambda t: t["name"],
        ),
    }
    for key in sorted(lists):
        if lists[key]:
            out[key] = lists[key]
    for key in _EMPTY_LIST_ORDER.get(version, _EMPTY_LIST_ORDER["2.11"]):
        if not lists[key]:
            out[key] = []
    out["relationships_as_subject"] = []
    out["relationships_as_object"] = []
    return out


def _chunks(items: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def org_embeds(conn: sqlite3.Connection, org_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Organizations as CKAN embeds them in a dataset (read live from the organizations table)."""
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(list(dict.fromkeys(i for i in org_ids if i))):
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(
            "SELECT id, name, title, type, description, image_url, created, is_organization, "
            f'approval_status, state FROM "group" WHERE id IN ({marks})',
            chunk,
        ):
            out[r["id"]] = {
                "id": r["id"],
                "name": r["name"],
                "title": r["title"] if r["title"] is not None else "",
                "type": r["type"],
                "description": r["description"] if r["description"] is not None else "",
                "image_url": r["image_url"] if r["image_url"] is not None else "",
                "created": r["created"],
                "is_organization": bool(r["is_organization"]),
                "approval_status": r["approval_status"],
                "state": r["state"],
            }
    return out


def group_embed_from_row(r: sqlite3.Row) -> dict[str, Any]:
    """A group as listed in a dataset's ``groups``."""
    title = r["title"] if r["title"] is not None else ""
    return {
        "description": r["description"] if r["description"] is not None else "",
        "display_name": title or r["name"],
        "id": r["id"],
        "image_display_url": r["image_url"] if r["image_url"] is not None else "",
        "name": r["name"],
        "title": title,
    }


def package_groups(conn: sqlite3.Connection, package_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The active groups (not organizations) each dataset is a member of."""
    out: dict[str, list[dict[str, Any]]] = {pid: [] for pid in package_ids}
    for chunk in _chunks(package_ids):
        marks = ",".join("?" * len(chunk))
        for r in conn.execute(
            "SELECT m.table_id AS package_id, g.id, g.name, g.title, g.description, g.image_url "
            'FROM member m JOIN "group" g ON g.id = m.group_id '
            "WHERE m.table_name = 'package' AND m.state = 'active' AND g.is_organization = 0 "
            f"AND g.state = 'active' AND m.table_id IN ({marks}) ORDER BY m.rowid",
            chunk,
        ):
            out[r["package_id"]].append(group_embed_from_row(r))
    return out


def group_ids_of_package(conn: sqlite3.Connection, package_id: str) -> list[str]:
    """Ids of the groups (not organizations) a dataset is an active member of."""
    return [
        r["group_id"]
        for r in conn.execute(
            'SELECT m.group_id FROM member m JOIN "group" g ON g.id = m.group_id '
            "WHERE m.table_name = 'package' AND m.state = 'active' AND g.is_organization = 0 "
            "AND m.table_id = ?",
            (package_id,),
        )
    ]


def drop_package_memberships(conn: sqlite3.Connection, package_id: str, group_ids: list[str]) -> None:
    """Mark a dataset's memberships of these groups deleted (as the member_delete action does)."""
    marks = ",".join("?" * len(group_ids))
    conn.execute(
        "UPDATE member SET state = 'deleted' WHERE table_name = 'package' AND table_id = ? "
        f"AND state = 'active' AND group_id IN ({marks})",
        (package_id, *group_ids),
    )


def find_group(conn: sqlite3.Connection, name_or_id: str) -> sqlite3.Row | None:
    """An active group (not an organization) by id or name."""
    return conn.execute(
        'SELECT id, name, title, description, image_url FROM "group" '
        "WHERE (id = ? OR name = ?) AND is_organization = 0 AND state = 'active' "
        "ORDER BY id = ? DESC LIMIT 1",
        (name_or_id, name_or_id, name_or_id),
    ).fetchone()


def find_org(conn: sqlite3.Connection, name_or_id: str) -> dict[str, Any] | None:
    """An active organization's embedded dict, by id or name."""
    row = conn.execute(
        'SELECT id FROM "group" WHERE (id = ? OR name = ?) AND is_organization = 1 '
        "AND state = 'active' ORDER BY id = ? DESC LIMIT 1",
        (name_or_id, name_or_id, name_or_id),
    ).fetchone()
    if row is None:
        return None
    return org_embeds(conn, [row["id"]]).get(row["id"])


def _resources_by_package(conn: sqlite3.Connection, package_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {pid: [] for pid in package_ids}
    for start in range(0, len(package_ids), 500):
        chunk = package_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(
            f"SELECT * FROM resource WHERE package_id IN ({marks}) AND state = 'active' ORDER BY package_id, position",
            chunk,
        ):
            out[row["package_id"]].append(render_resource(row))
    return out


def _render_rows(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
    ids = [r["id"] for r in rows]
    resources = _resources_by_package(conn, ids)
    orgs = org_embeds(conn, [r["owner_org"] for r in rows if r["owner_org"]])
    groups = package_groups(conn, ids)
    version = _CONN_VERSION.get(id(conn), "2.11")
    return [
        render(row, resources[row["id"]], orgs.get(row["owner_org"] or ""), groups[row["id"]], version) for row in rows
    ]


def package_dicts(conn: sqlite3.Connection, ids: list[str]) -> list[dict[str, Any]]:
    """What ``package_show`` returns to a sysadmin for each id, in the order of ``ids``.

    Missing ids are skipped. Used by search to build results, so it reads in batches.
    """
    rows: dict[str, sqlite3.Row] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for row in conn.execute(f"SELECT * FROM package WHERE id IN ({marks})", chunk):
            rows[row["id"]] = row
    rendered = {d["id"]: d for d in _render_rows(conn, list(rows.values()))}
    return [rendered[i] for i in ids if i in rendered]


def iter_package_dicts(conn: sqlite3.Connection, batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every dataset (any state) as ``package_show`` shows it to a sysadmin, in batches."""
    last = ""
    while True:
        rows = conn.execute("SELECT * FROM package WHERE id > ? ORDER BY id LIMIT ?", (last, batch)).fetchall()
        if not rows:
            return
        yield from _render_rows(conn, rows)
        last = rows[-1]["id"]


def package_dict(conn: sqlite3.Connection, package_id: str) -> dict[str, Any] | None:
    """One dataset's full dict (any state), or None."""
    found = package_dicts(conn, [package_id])
    return found[0] if found else None


# ---------------------------------------------------------------- writes


def tag_id_for(conn: sqlite3.Connection, name: str, vocabulary_id: str | None) -> str:
    """The id of the tag ``name`` in ``vocabulary_id`` (free tags: None), created if new."""
    vocab = vocabulary_id or ""
    row = conn.execute("SELECT id FROM tag WHERE name = ? AND vocabulary_id = ?", (name, vocab)).fetchone()
    if row is not None:
        return str(row["id"])
    tag_id = new_id()
    conn.execute("INSERT INTO tag (id, name, vocabulary_id) VALUES (?, ?, ?)", (tag_id, name, vocab))
    return tag_id


def save_package(
    conn: sqlite3.Connection,
    *,
    row: dict[str, Any],
    core: dict[str, Any],
    resources: list[dict[str, Any]],
    tags: list[dict[str, Any]],
    insert: bool,
) -> None:
    """Write a whole dataset: its row, its resources (replacing the live list) and its tags.

    ``row`` holds the indexed columns; ``resources`` are full resource dicts with ``id``;
    resources of the dataset that are not in the list are marked deleted, as CKAN does.
    """
    tag_entries = []
    seen: set[tuple[str, str]] = set()
    for tag in tags:
        key = (tag["name"], tag.get("vocabulary_id") or "")
        if key in seen:
            continue
        seen.add(key)
        tag_entries.append(
            {
                "id": tag_id_for(conn, tag["name"], tag.get("vocabulary_id")),
                "name": tag["name"],
                "vocabulary_id": tag.get("vocabulary_id"),
            }
        )
    core = {**core, "tags": tag_entries}
    values = (
        row["name"],
        row["type"],
        row["state"],
        1 if row["private"] else 0,
        row["owner_org"],
        row["creator_user_id"],
        row["metadata_created"],
        row["metadata_modified"],
        json.dumps(core),
        row["id"],
    )
    if insert:
        conn.execute(
            "INSERT INTO package (name, type, state, private, owner_org, creator_user_id, "
            "metadata_created, metadata_modified, core, id) VALUES (?,?,?,?,?,?,?,?,?,?)",
            values,
        )
    else:
        conn.execute(
            "UPDATE package SET name=?, type=?, state=?, private=?, owner_org=?, "
            "creator_user_id=?, metadata_created=?, metadata_modified=?, core=? WHERE id=?",
            values,
        )
    conn.execute("DELETE FROM package_tag WHERE package_id = ?", (row["id"],))
    conn.executemany(
        "INSERT INTO package_tag (package_id, tag_id) VALUES (?, ?)",
        [(row["id"], t["id"]) for t in tag_entries],
    )
    keep = [r["id"] for r in resources]
    marks = ",".join("?" * len(keep))
    conn.execute(
        "UPDATE resource SET state = 'deleted' WHERE package_id = ? AND state != 'deleted'"
        + (f" AND id NOT IN ({marks})" if keep else ""),
        (row["id"], *keep),
    )
    for position, res in enumerate(resources):
        data = {k: v for k, v in res.items() if k not in ("id", "package_id", "position", "state")}
        conn.execute(
            "INSERT INTO resource (id, package_id, position, state, data) "
            "VALUES (?, ?, ?, 'active', ?) ON CONFLICT(id) DO UPDATE SET "
            "package_id = excluded.package_id, position = excluded.position, "
            "state = 'active', data = excluded.data",
            (res["id"], row["id"], position, json.dumps(data)),
        )


def set_package_state(conn: sqlite3.Connection, package_id: str, state: str, modified: str) -> None:
    """Change a dataset's state (``metadata_modified`` is written as given)."""
    conn.execute(
        "UPDATE package SET state = ?, metadata_modified = ? WHERE id = ?",
        (state, modified, package_id),
    )


def set_package_private(conn: sqlite3.Connection, package_id: str, private: bool, modified: str) -> None:
    """Change a dataset's visibility (``metadata_modified`` is written as given)."""
    conn.execute(
        "UPDATE package SET private = ?, metadata_modified = ? WHERE id = ?",
        (1 if private else 0, modified, package_id),
    )


def purge_package(conn: sqlite3.Connection, package_id: str) -> list[dict[str, Any]]:
    """Remove a dataset and its resources for good; returns the removed resources' dicts."""
    removed = [render_resource(r) for r in conn.execute("SELECT * FROM resource WHERE package_id = ?", (package_id,))]
    conn.execute("DELETE FROM package_tag WHERE package_id = ?", (package_id,))
    conn.execute("DELETE FROM resource WHERE package_id = ?", (package_id,))
    conn.execute("DELETE FROM package WHERE id = ?", (package_id,))
    return removed


def mark_resource_field(conn: sqlite3.Connection, resource_id: str, key: str, value: Any) -> None:
    """Set one field of a resource's stored data (e.g. ``datastore_active``) without a revision."""
    row = resource_row(conn, resource_id)
    if row is None:
        return
    data = json.loads(row["data"])
    data[key] = value
    conn.execute("UPDATE resource SET data = ? WHERE id = ?", (json.dumps(data), resource_id))


# ---------------------------------------------------------------- listings


def active_public_names(conn: sqlite3.Connection, limit: int | None, offset: int) -> list[str]:
    """``package_list``: names of public, active datasets, by name."""
    sql = "SELECT name FROM package WHERE state = 'active' AND private = 0 ORDER BY name"
    params: list[Any] = []
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params = [limit, offset]
    elif offset:
        sql += " LIMIT -1 OFFSET ?"
        params = [offset]
    return [r["name"] for r in conn.execute(sql, params)]


def active_ids_by_modified(
    conn: sqlite3.Connection, limit: int | None, offset: int, include_private: bool = False
) -> list[str]:
    """Ids of active datasets (public ones unless ``include_private``), newest first."""
    sql = (
        "SELECT id FROM package WHERE state = 'active'"
        + ("" if include_private else " AND private = 0")
        + " ORDER BY metadata_modified DESC"
    )
    params: list[Any] = []
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params = [limit, offset]
    elif offset:
        sql += " LIMIT -1 OFFSET ?"
        params = [offset]
    return [r["id"] for r in conn.execute(sql, params)]


def vocabulary_row(conn: sqlite3.Connection, name_or_id: str) -> sqlite3.Row | None:
    """A vocabulary by id or name, or None."""
    if not isinstance(name_or_id, str):
        return None
    return conn.execute(
        "SELECT * FROM vocabulary WHERE id = ? OR name = ? ORDER BY id = ? DESC",
        (name_or_id, name_or_id, name_or_id),
    ).fetchone()


def tag_rows(conn: sqlite3.Connection, vocabulary_id: str | None, query: str | None) -> list[sqlite3.Row]:
    """Tags of one vocabulary (free tags: None) in use by a live dataset, by name."""
    sql = (
        "SELECT DISTINCT tag.id, tag.name, tag.vocabulary_id FROM tag "
        "JOIN package_tag pt ON pt.tag_id = tag.id "
        "JOIN package p ON p.id = pt.package_id AND p.state = 'active' "
        "WHERE tag.vocabulary_id = ?"
    )
    params: list[Any] = [vocabulary_id or ""]
    if query:
        sql += " AND tag.name LIKE ? ESCAPE '\\'"
        escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params.append(f"%{escaped}%")
    sql += " ORDER BY tag.name"
    return conn.execute(sql, params).fetchall()


def find_tag(conn: sqlite3.Connection, name_or_id: str, vocabulary_id: str | None) -> sqlite3.Row | None:
    """A tag by id, else by name within a vocabulary (free tags: None)."""
    row = conn.execute("SELECT * FROM tag WHERE id = ?", (name_or_id,)).fetchone()
    if row is not None:
        return row
    return conn.execute(
        "SELECT * FROM tag WHERE name = ? AND vocabulary_id = ?", (name_or_id, vocabulary_id or "")
    ).fetchone()


def delete_tag(conn: sqlite3.Connection, tag_id: str) -> None:
    """Remove a tag and take it off every dataset (the datasets' stored tag lists included)."""
    for row in conn.execute(
        "SELECT p.id, p.core FROM package p JOIN package_tag pt ON pt.package_id = p.id WHERE pt.tag_id = ?",
        (tag_id,),
    ).fetchall():
        core = json.loads(row["core"])
        core["tags"] = [t for t in core.get("tags") or [] if t.get("id") != tag_id]
        conn.execute("UPDATE package SET core = ? WHERE id = ?", (json.dumps(core), row["id"]))
    conn.execute("DELETE FROM package_tag WHERE tag_id = ?", (tag_id,))
    conn.execute("DELETE FROM tag WHERE id = ?", (tag_id,))


def set_owner_org(conn: sqlite3.Connection, package_id: str, org_id: str | None) -> None:
    """Move a dataset to another organization (or none)."""
    conn.execute("UPDATE package SET owner_org = ? WHERE id = ?", (org_id, package_id))


def package_ids_with_tag(conn: sqlite3.Connection, tag_id: str, any_state: bool = False) -> list[str]:
    """Ids of the datasets carrying a tag (active ones unless ``any_state``), by name."""
    return [
        r["package_id"]
        for r in conn.execute(
            "SELECT pt.package_id FROM package_tag pt JOIN package p ON p.id = pt.package_id "
            "WHERE pt.tag_id = ?" + ("" if any_state else " AND p.state = 'active'") + " ORDER BY p.name",
            (tag_id,),
        )
    ]


# ---------------------------------------------------------------- activity


def dataset_labels(package: dict[str, Any]) -> list[str]:
    """CKAN's default permission labels of a dataset: who may see it (and its activities)."""
    if package.get("state") == "active" and not package.get("private"):
        return ["public"]
    if package.get("owner_org"):
        return [f"member-{package['owner_org']}"]
    return [f"creator-{package.get('creator_user_id')}"]


def add_activity(
    conn: sqlite3.Connection,
    *,
    timestamp: str,
    user_id: str | None,
    actor: str | None,
    package: dict[str, Any],
    activity_type: str,
) -> None:
    """Record one activity of a dataset (the activity plugin's ``data``: the package dict and the
    acting user's name; ``permission_labels`` decide who may list it)."""
    conn.execute(
        "INSERT INTO package_activity (id, timestamp, user_id, object_id, activity_type, data, "
        "permission_labels) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            new_id(),
            timestamp,
            user_id,
            package["id"],
            activity_type,
            json.dumps({"package": package, "actor": actor}),
            json.dumps(dataset_labels(package)),
        ),
    )


def _upgrade_activity_table(server: Any) -> None:
    """Catalogs written before activities had permission labels get the column."""
    conn = server.db.conn
    columns = {r[1] for r in conn.execute("PRAGMA table_info(package_activity)")}
    if "permission_labels" not in columns:
        conn.execute("ALTER TABLE package_activity ADD COLUMN permission_labels TEXT NOT NULL DEFAULT '[]'")


hooks.STARTUP.append(_upgrade_activity_table)


def activities(
    conn: sqlite3.Connection,
    package_id: str,
    limit: int,
    offset: int,
    exclude_types: Iterable[str] = (),
    labels: list[str] | None = None,
    *,
    only_types: list[str] | None = None,
    after: str | None = None,
    before: str | None = None,
) -> list[sqlite3.Row]:
    """A dataset's activities, newest first; with ``labels``, only those the viewer may see;
    ``only_types``/``exclude_types`` filter on the type, ``after``/``before`` on the time."""
    excluded = list(exclude_types)
    sql = "SELECT * FROM package_activity WHERE object_id = ?"
    params: list[Any] = [package_id]
    if only_types is not None:
        sql += f" AND activity_type IN ({','.join('?' * len(only_types))})"
        params.extend(only_types)
    if after is not None:
        sql += " AND timestamp > ?"
        params.append(after)
    if before is not None:
        sql += " AND timestamp < ?"
        params.append(before)
    if labels is not None:
        marks = ",".join("?" * len(labels))
        sql += f" AND EXISTS (SELECT 1 FROM json_each(permission_labels) WHERE value IN ({marks}))"
        params.extend(labels)
    if excluded:
        sql += f" AND activity_type NOT IN ({','.join('?' * len(excluded))})"
        params.extend(excluded)
    sql += " ORDER BY timestamp DESC LIMIT ? OFFSET ?"
    params.extend([limit, offset])
    return conn.execute(sql, params).fetchall()
