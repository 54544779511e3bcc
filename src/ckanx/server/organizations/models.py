"""Groups and organizations: rows, extras, memberships, and CKAN's group dicts.

Datasets' membership of groups and organizations is owned by the datasets family (a dataset's
``owner_org`` and ``groups``); this module only reads it through ``package_search``, as CKAN's
``group_dictize`` does, so counts and dataset lists here match what search shows.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import TYPE_CHECKING, Any

from .. import errors
from ..context import now_iso
from ..users import models as user_models
from . import schema as _schema  # noqa: F401  (registers the tables)

if TYPE_CHECKING:
    from ..context import Context

# The group table's columns in CKAN's order (table_dictize / group_list_dictize).
GROUP_COLUMNS = (
    "id",
    "name",
    "title",
    "type",
    "description",
    "image_url",
    "created",
    "is_organization",
    "approval_status",
    "state",
)
_EMPTY_LIST_ORDER = ("extras", "packages", "tags", "groups", "users")
MEMBER_COLUMNS = ("id", "table_name", "table_id", "capacity", "group_id", "state")


def get_group(conn: sqlite3.Connection, id_or_name: Any) -> dict[str, Any] | None:
    """The group/organization row (any state) with this id or name, or None."""
    if not isinstance(id_or_name, str) or not id_or_name:
        return None
    row = conn.execute(
        'SELECT * FROM "group" WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1',
        (id_or_name, id_or_name, id_or_name),
    ).fetchone()
    return _row(row) if row else None


def _row(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    out["is_organization"] = bool(out["is_organization"])
    return out


def insert_group(conn: sqlite3.Connection, fields: dict[str, Any]) -> dict[str, Any]:
    """Insert a group; missing text fields default to "" as CKAN's form schema leaves them."""
    row = {
        "id": fields.get("id") or str(uuid.uuid4()),
        "name": fields["name"],
        "title": fields.get("title") or "",
        "type": fields["type"],
        "description": fields.get("description") or "",
        "image_url": fields.get("image_url") or "",
        "created": now_iso(),
        "is_organization": int(bool(fields.get("is_organization"))),
        "approval_status": fields.get("approval_status") or "approved",
        "state": fields.get("state") or "active",
    }
    cols = ", ".join(row)
    conn.execute(f'INSERT INTO "group" ({cols}) VALUES ({", ".join("?" * len(row))})', tuple(row.values()))
    return get_group(conn, row["id"]) or row


def update_group(conn: sqlite3.Connection, group_id: str, fields: dict[str, Any]) -> None:
    """Set the given columns only."""
    if not fields:
        return
    sets = ", ".join(f"{k} = ?" for k in fields)
    conn.execute(f'UPDATE "group" SET {sets} WHERE id = ?', (*fields.values(), group_id))


# --------------------------------------------------------------------------- extras


def extras_list(conn: sqlite3.Connection, group_id: str, version: str = "2.11") -> list[dict[str, Any]]:
    """Active extras as CKAN shows them.

    2.11: full rows (``group_id``, ``id``, ``key``, ``state``, ``value``) sorted by key.
    2.12 keeps extras as a JSON object: ``{"key", "value"}`` pairs in the order they were given.
    """
    if version == "2.12":
        rows = conn.execute(
            "SELECT key, value FROM group_extra WHERE group_id = ? AND state = 'active' ORDER BY rowid",
            (group_id,),
        ).fetchall()
        return [{"key": r["key"], "value": r["value"]} for r in rows]
    rows = conn.execute(
        "SELECT * FROM group_extra WHERE group_id = ? AND state = 'active' ORDER BY key",
        (group_id,),
    ).fetchall()
    return [
        {
            "group_id": r["group_id"],
            "id": r["id"],
            "key": r["key"],
            "state": r["state"],
            "value": r["value"],
        }
        for r in rows
    ]


def save_extras(
    conn: sqlite3.Connection,
    group_id: str,
    extras: list[dict[str, Any]] | None,
    version: str = "2.11",
) -> None:
    """Write a group's extras as CKAN's ``group_dict_save`` does.

    2.11: ``None`` or an empty list changes nothing; otherwise keys not listed are removed,
    entries flagged ``deleted`` removed, the rest set. 2.12: the given list (``None`` meaning
    empty) replaces the extras outright.
    """
    if version == "2.12":
        conn.execute("DELETE FROM group_extra WHERE group_id = ?", (group_id,))
        for extra in extras or []:
            _put_extra(conn, group_id, extra["key"], extra.get("value"))
        return
    if not extras:
        return
    keep = {e["key"] for e in extras if "deleted" not in e}
    old = {r["key"] for r in conn.execute("SELECT key FROM group_extra WHERE group_id = ?", (group_id,))}
    for key in old - keep:
        conn.execute("DELETE FROM group_extra WHERE group_id = ? AND key = ?", (group_id, key))
    for extra in extras:
        if "deleted" not in extra:
            _put_extra(conn, group_id, extra["key"], extra.get("value"))


def _put_extra(conn: sqlite3.Connection, group_id: str, key: str, value: Any) -> None:
    conn.execute(
        "INSERT INTO group_extra (id, group_id, key, value, state) VALUES (?, ?, ?, ?, 'active') "
        "ON CONFLICT (group_id, key) DO UPDATE SET value = excluded.value, state = 'active'",
        (str(uuid.uuid4()), group_id, key, None if value is None else str(value)),
    )


# --------------------------------------------------------------------------- members


def member_dict(row: sqlite3.Row | dict[str, Any]) -> dict[str, Any]:
    """CKAN's ``member_dictize``."""
    return {col: row[col] for col in MEMBER_COLUMNS}


def find_member(conn: sqlite3.Connection, group_id: str, table_name: str, table_id: str) -> dict[str, Any] | None:
    """The membership row of an object in a group (active rows first), or None."""
    row = conn.execute(
        "SELECT * FROM member WHERE group_id = ? AND table_name = ? AND table_id = ? "
        "ORDER BY state = 'active' DESC LIMIT 1",
        (group_id, table_name, table_id),
    ).fetchone()
    return dict(row) if row else None


def upsert_member(
    conn: sqlite3.Connection, group_id: str, table_name: str, table_id: str, capacity: str
) -> dict[str, Any]:
    """Create or reactivate a membership with ``capacity``; returns the member dict."""
    existing = find_member(conn, group_id, table_name, table_id)
    if existing is None:
        member_id = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO member (id, group_id, table_id, table_name, capacity, state) VALUES (?, ?, ?, ?, ?, 'active')",
            (member_id, group_id, table_id, table_name, capacity),
        )
    else:
        member_id = existing["id"]
        conn.execute("UPDATE member SET capacity = ?, state = 'active' WHERE id = ?", (capacity, member_id))
    row = conn.execute("SELECT * FROM member WHERE id = ?", (member_id,)).fetchone()
    return member_dict(row)


def save_user_members(conn: sqlite3.Connection, group_id: str, users: list[dict[str, Any]]) -> None:
    """CKAN's ``group_member_save`` for users: the list is the complete membership.

    Unknown users are skipped; an entry without ``capacity`` gets CKAN's default "public".
    Memberships not in the list are marked deleted.
    """
    wanted: dict[str, str] = {}
    for entry in users:
        ref = entry.get("id") or entry.get("name")
        user = user_models.get_user(conn, ref)
        if user is not None and user["id"] not in wanted:
            wanted[user["id"]] = entry.get("capacity") or "public"
    rows = conn.execute("SELECT * FROM member WHERE group_id = ? AND table_name = 'user'", (group_id,)).fetchall()
    for row in rows:
        if wanted.get(row["table_id"]) != row["capacity"]:
            conn.execute("UPDATE member SET state = 'deleted' WHERE id = ?", (row["id"],))
    for user_id, capacity in wanted.items():
        upsert_member(conn, group_id, "user", user_id, capacity)


def user_members(ctx: Context, group_id: str, *, sort_keys: bool = True) -> list[dict[str, Any]]:
    """The group's active users as CKAN's ``user_list_dictize`` with capacity shows them: no
    email or apikey, users sorted by name.

    ``sort_keys``: the show actions run their result through a schema, which sorts the keys;
    the update actions return the raw dicts (columns, ``capacity``, then the computed keys).
    """
    rows = ctx.conn.execute(
        'SELECT u.*, m.capacity AS member_capacity FROM member m JOIN "user" u '
        "ON u.id = m.table_id WHERE m.group_id = ? AND m.table_name = 'user' "
        "AND m.state = 'active' ORDER BY u.name",
        (group_id,),
    ).fetchall()
    out = []
    for row in rows:
        user = dict(row)
        capacity = user.pop("member_capacity")
        shown = user_models.user_dict(_anonymous_view(ctx), user)
        for key in ("email", "apikey"):
            shown.pop(key, None)
        if sort_keys:
            shown["capacity"] = capacity
            out.append({k: shown[k] for k in sorted(shown)})
            continue
        raw: dict[str, Any] = {}
        for key, value in shown.items():
            if key == "display_name":
                raw["capacity"] = capacity
            raw[key] = value
        out.append(raw)
    return out


def _anonymous_view(ctx: Context) -> Context:
    """A context that sees users as the public does (public dataset counts, no email)."""
    from ..context import Context as Ctx

    return Ctx(ctx.server, ctx.conn, None, ctx.ignore_auth, ctx.extra)


def member_count(conn: sqlite3.Connection, group_id: str) -> int:
    """Number of active user members."""
    row = conn.execute(
        "SELECT count(*) FROM member WHERE group_id = ? AND table_name = 'user' AND state = 'active'",
        (group_id,),
    ).fetchone()
    return int(row[0])


# --------------------------------------------------------------------------- datasets


def _search(ctx: Context, query: dict[str, Any]) -> dict[str, Any] | None:
    """package_search as the caller, or None when this server has no search family."""
    try:
        return ctx.call("package_search", query)  # type: ignore[no-any-return]
    except errors.InternalError:
        return None


def dataset_fq(group: dict[str, Any]) -> str:
    """The filter CKAN uses for a group's datasets."""
    if group["is_organization"]:
        return f'+owner_org:"{group["id"]}"'
    return f'+groups:"{group["name"]}"'


def group_datasets(ctx: Context, group: dict[str, Any], *, rows: int | None = 0) -> tuple[int, list[dict[str, Any]]]:
    """``(package_count, datasets)`` as CKAN's ``group_dictize`` gets them from search.

    Organizations: a search on ``owner_org`` (members and sysadmins also count private ones).
    Groups: their active public datasets, read from the member table rather than the index,
    because ``group_create``/``group_update`` change memberships in the same transaction and
    CKAN reindexes those datasets before answering. ``rows=None`` means search's default (10).
    """
    from .. import authz

    if not group["is_organization"]:
        return _group_member_datasets(ctx, group, 10 if rows is None else rows)
    query: dict[str, Any] = {"fq": dataset_fq(group), "facet": "false"}
    if rows is not None:
        query["rows"] = rows
    if authz.has_permission(ctx, group["id"], "read"):
        query["include_private"] = True
    result = _search(ctx, query)
    if result is None:
        return 0, []
    return int(result.get("count", 0)), list(result.get("results", []))


def _group_member_datasets(ctx: Context, group: dict[str, Any], rows: int) -> tuple[int, list[dict[str, Any]]]:
    if not user_models._table_exists(ctx.conn, "package"):
        return 0, []
    ids = [
        r[0]
        for r in ctx.conn.execute(
            "SELECT p.id FROM member m JOIN package p ON p.id = m.table_id "
            "WHERE m.group_id = ? AND m.table_name = 'package' AND m.state = 'active' "
            "AND p.state = 'active' AND p.private = 0 ORDER BY p.metadata_modified DESC",
            (group["id"],),
        )
    ]
    datasets = []
    for pkg_id in ids[:rows]:
        try:
            datasets.append(ctx.call("package_show", {"id": pkg_id}, ignore_auth=True))
        except (errors.NotFound, errors.InternalError):
            continue
    return len(ids), datasets


def group_package_ids(conn: sqlite3.Connection, group_id: str) -> list[str]:
    """Ids of the datasets that are active members of a group (the member table, which the
    datasets family writes when a dataset's ``groups`` change)."""
    rows = conn.execute(
        "SELECT table_id FROM member WHERE group_id = ? AND table_name = 'package' AND state = 'active' ORDER BY rowid",
        (group_id,),
    ).fetchall()
    return [r[0] for r in rows]


def owned_dataset_ids(ctx: Context, org: dict[str, Any]) -> list[str]:
    """Ids of the datasets an organization owns, private ones included (searched as the site
    user, since CKAN's member rows for them ignore who is asking)."""
    result = _search(
        _site_view(ctx),
        {"fq": dataset_fq(org), "rows": 1000, "include_private": True, "fl": "id"},
    )
    return [r["id"] for r in (result or {}).get("results", [])]


def live_dataset_count(conn: sqlite3.Connection, org_id: str) -> int:
    """Datasets (any state but deleted) owned by an organization: CKAN refuses to delete or
    purge an organization that still has some."""
    if not user_models._table_exists(conn, "package"):
        return 0
    row = conn.execute("SELECT count(*) FROM package WHERE owner_org = ? AND state != 'deleted'", (org_id,)).fetchone()
    return int(row[0])


# --------------------------------------------------------------------------- dicts


def image_display_url(ctx: Context, image_url: str | None) -> str | None:
    """CKAN's ``image_display_url``: uploads are served from ``/uploads/group/``."""
    if image_url and not image_url.startswith("http"):
        return f"{ctx.site_url}/uploads/group/{image_url}"
    return image_url


def base_dict(ctx: Context, group: dict[str, Any]) -> dict[str, Any]:
    """The group's columns plus ``display_name`` (CKAN's table_dictize order)."""
    out = {col: group[col] for col in GROUP_COLUMNS}
    out["is_organization"] = bool(out["is_organization"])
    out["display_name"] = group["title"] or group["name"]
    return out


def show_dict(
    ctx: Context,
    group: dict[str, Any],
    *,
    include_datasets: bool = False,
    include_dataset_count: bool = True,
    include_extras: bool = True,
    include_users: bool = True,
    include_tags: bool = True,
    include_groups: bool = True,
    include_member_count: bool = False,
) -> dict[str, Any]:
    """What ``group_show``/``organization_show`` (and their create) return."""
    scalars = base_dict(ctx, group)
    scalars["image_display_url"] = image_display_url(ctx, group["image_url"])
    scalars["num_followers"] = 0  # following is not implemented
    packages: list[dict[str, Any]] | None = None
    if include_datasets:
        count, packages = group_datasets(ctx, group, rows=None)
        scalars["package_count"] = count
    elif include_dataset_count:
        scalars["package_count"] = group_datasets(ctx, group)[0]
    if include_member_count:
        scalars["member_count"] = member_count(ctx.conn, group["id"])
    lists: dict[str, list[Any]] = {}
    if include_extras:
        lists["extras"] = extras_list(ctx.conn, group["id"], ctx.version)
    if include_users:
        lists["users"] = user_members(ctx, group["id"])
    if packages is not None:
        lists["packages"] = packages
    # CKAN 2.12 dropped group tags (always empty) from groups and organizations alike.
    if include_tags and ctx.version != "2.12":
        lists["tags"] = []
    if include_groups:
        lists["groups"] = []  # group hierarchies are not supported
    # CKAN's show schema emits the scalars sorted, then the non-empty lists sorted, then the
    # empty ones in this order (observed on 2.11.6 and 2.12.0).
    out: dict[str, Any] = {k: scalars[k] for k in sorted(scalars)}
    out.update((k, lists[k]) for k in sorted(lists) if lists[k])
    out.update((k, lists[k]) for k in _EMPTY_LIST_ORDER if k in lists and not lists[k])
    return out


def update_dict(ctx: Context, group: dict[str, Any]) -> dict[str, Any]:
    """What ``group_update``/``organization_update`` return (CKAN's raw ``group_dictize``)."""
    out = base_dict(ctx, group)
    if ctx.version == "2.12":
        # extras is a column of the group table there; CKAN lists it with the columns
        display_name = out.pop("display_name")
        out["extras"] = extras_list(ctx.conn, group["id"], ctx.version)
        out["display_name"] = display_name
    else:
        out["extras"] = extras_list(ctx.conn, group["id"])
    count, packages = group_datasets(ctx, group, rows=None)
    out["packages"] = packages
    out["package_count"] = count
    if ctx.version != "2.12":
        out["tags"] = []
    out["groups"] = []
    out["users"] = user_members(ctx, group["id"], sort_keys=False)
    out["image_display_url"] = image_display_url(ctx, group["image_url"])
    return out


def list_dict(
    ctx: Context,
    group: dict[str, Any],
    *,
    capacity: str | None = None,
    package_count: int | None = None,
    with_member_count: bool = False,
) -> dict[str, Any]:
    """CKAN's ``group_list_dictize`` entry (organization_list_for_user, group_list_authz)."""
    out = {col: group[col] for col in GROUP_COLUMNS}
    out["is_organization"] = bool(out["is_organization"])
    if capacity is not None:
        out["capacity"] = capacity
    out["display_name"] = group["title"] or group["name"]
    if package_count is not None:
        out["package_count"] = package_count
    if with_member_count:
        out["member_count"] = member_count(ctx.conn, group["id"])
    out["image_display_url"] = image_display_url(ctx, group["image_url"])
    return out


def _site_view(ctx: Context) -> Context:
    """A context acting as CKAN's site user (a sysadmin), for counts CKAN takes unfiltered."""
    from ..context import Context as Ctx

    site_user = user_models.get_user(ctx.conn, user_models.SITE_USER_NAME)
    return Ctx(ctx.server, ctx.conn, site_user, ctx.ignore_auth, ctx.extra)


def dataset_counts(ctx: Context) -> dict[str, dict[str, int]]:
    """CKAN's ``get_group_dataset_counts``: active dataset counts (private ones included, as
    CKAN's facet query applies no permission filter) per ``owner_org`` id and per group name."""
    result = _search(
        _site_view(ctx),
        {
            "rows": 0,
            "include_private": True,
            "facet.field": ["groups", "owner_org"],
            "facet.limit": -1,
        },
    )
    facets = (result or {}).get("facets") or {}
    return {
        "groups": dict(facets.get("groups") or {}),
        "owner_org": dict(facets.get("owner_org") or {}),
    }
