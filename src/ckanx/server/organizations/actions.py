"""Organization, group and membership actions (CKAN 2.11 semantics, 2.12 differences noted)."""

from __future__ import annotations

from typing import Any

from .. import authz, errors
from ..context import Context
from ..registry import action
from ..users import models as user_models
from ..users.validation import MISSING, Errors, as_bool, as_int, get_or_bust, is_empty, is_uuid
from ..users.validation import name_error as _name_error
from . import models

LIST_MAX = 1000  # ckan.group_and_organization_list_max
LIST_ALL_FIELDS_MAX = 25  # ckan.group_and_organization_list_all_fields_max
ROLE_TITLES = {"admin": "Admin", "editor": "Editor", "member": "Member"}
# Keys of CKAN's group schema: an extra may not reuse one of them.
_ROOT_KEYS = frozenset(
    {
        "id", "name", "title", "description", "image_url", "image_display_url", "type",
        "state", "created", "is_organization", "approval_status", "extras", "packages",
        "users", "groups",
    }
)  # fmt: skip


def _kind(is_org: bool) -> str:
    return "organization" if is_org else "group"


# --------------------------------------------------------------------------- validation


def _validate_group(
    ctx: Context, data: dict[str, Any], *, existing: dict[str, Any] | None, is_org: bool
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]] | None, Errors]:
    """CKAN's default_create_group_schema / default_update_group_schema.

    Returns ``(columns to write, extras, users or None when not given, errors)``; the caller
    raises the errors (so it can decide the order of checks as CKAN does).
    """
    errs = Errors()
    fields: dict[str, Any] = {}
    privileged = ctx.ignore_auth or authz.is_sysadmin(ctx)

    if existing is None and not is_empty(data.get("id")):
        if not privileged:
            errs.add("id", "The input field id was not expected.")
        elif not is_uuid(data["id"]):
            errs.add("id", "Invalid id provided")
        elif models.get_group(ctx.conn, data["id"]) is not None:
            errs.add("id", "Id already exists")
        else:
            fields["id"] = data["id"]

    name = data.get("name")
    if existing is None or "name" in data:
        if is_empty(name):
            errs.add("name", MISSING)
        else:
            # CKAN checks the name's form on create only; the update schema lacks it.
            problem = _name_error(name) if existing is None else None
            if problem:
                errs.add("name", problem)
            else:
                other = models.get_group(ctx.conn, name)
                if other is not None and other["name"] == name and (existing is None or other["id"] != existing["id"]):
                    errs.add("name", "Group name already exists in database")
                else:
                    fields["name"] = name

    for key in ("title", "description", "image_url", "approval_status"):
        if key in data and data[key] is not None:
            fields[key] = data[key]
    if "state" in data and data["state"] is not None:
        may_set_state = privileged or (existing is not None and authz.has_permission(ctx, existing["id"], "update"))
        if may_set_state:
            fields["state"] = data["state"]

    extras: list[dict[str, Any]] = []
    raw_extras = data.get("extras")
    if raw_extras is not None:
        if not isinstance(raw_extras, list):
            errs.add("extras", "Not a list")
        else:
            extra_errors: list[dict[str, Any]] = []
            for extra in raw_extras:
                problems: dict[str, list[str]] = {}
                if not isinstance(extra, dict):
                    problems["key"] = [MISSING]
                else:
                    if is_empty(extra.get("key")):
                        problems["key"] = [MISSING]
                    elif extra["key"] in _ROOT_KEYS:
                        problems["key"] = ["There is a schema field with the same name"]
                    if "value" not in extra:
                        problems["value"] = [MISSING]
                extra_errors.append(problems)
                if not problems:
                    extras.append(extra)
            if any(extra_errors):
                errs.fields["extras"] = extra_errors

    users: list[dict[str, Any]] | None = None
    raw_users = data.get("users")
    if raw_users is not None:
        if not isinstance(raw_users, list):
            errs.add("users", "Not a list")
        else:
            user_errors: list[dict[str, Any]] = []
            users = []
            for entry in raw_users:
                entry = entry if isinstance(entry, dict) else {"name": entry}
                if is_empty(entry.get("name")) and is_empty(entry.get("id")):
                    user_errors.append({"name": [MISSING]})
                else:
                    user_errors.append({})
                    users.append(entry)
            if any(user_errors):
                errs.fields["users"] = user_errors
    raw_packages = data.get("packages")
    if isinstance(raw_packages, list):
        package_errors: list[dict[str, Any]] = []
        for entry in raw_packages:
            ref = entry.get("id") if isinstance(entry, dict) else None
            if is_empty(ref):
                package_errors.append({"id": [MISSING]})
            elif _dataset(ctx, ref) is None:
                package_errors.append({"id": ["Not found: Dataset"]})
            else:
                package_errors.append({})
        if any(package_errors):
            errs.fields["packages"] = package_errors
    return fields, extras, users, errs


# --------------------------------------------------------------------------- create


def _create(ctx: Context, data: dict[str, Any], *, is_org: bool) -> dict[str, Any]:
    authz.check_create_group(ctx, is_org)
    data = dict(data)
    group_type = data.get("type") or _kind(is_org)
    fields, extras, users, errs = _validate_group(ctx, data, existing=None, is_org=is_org)
    errs.raise_if_any()
    fields["type"] = group_type
    fields["is_organization"] = is_org
    group = models.insert_group(ctx.conn, fields)
    models.save_extras(ctx.conn, group["id"], extras, ctx.version)
    models.save_user_members(ctx.conn, group["id"], users or [])
    if ctx.user is not None:
        # The creator becomes an admin (CKAN calls member_create with ignore_auth).
        models.upsert_member(ctx.conn, group["id"], "user", ctx.user["id"], "admin")
    if not is_org and data.get("packages"):
        _set_group_datasets(ctx, group, data["packages"])
    return _show(ctx, {"id": group["id"]}, is_org=is_org)


@action("organization_create")
def organization_create(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Create an organization; the caller becomes its admin.

    :param name: the organization's name (2-100 lowercase alphanumeric, ``-``, ``_``)
    :param id: the organization's id (sysadmins only, optional)
    :param title, description, image_url: (optional)
    :param state: (optional)
    :param approval_status: (optional)
    :param extras: list of ``{"key", "value"}`` dicts (optional)
    :param users: list of ``{"name", "capacity"}`` dicts (optional)
    :returns: the new organization
    :rtype: dictionary
    """
    return _create(ctx, data, is_org=True)


@action("group_create")
def group_create(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Create a group; the caller becomes its admin.

    :param name: the group's name (2-100 lowercase alphanumeric, ``-``, ``_``)
    :param id, title, description, image_url, state, approval_status, extras, users: see
        ``organization_create``
    :param packages: list of ``{"id": <dataset id or name>}`` dicts: the datasets in the group
    :returns: the new group
    :rtype: dictionary
    """
    return _create(ctx, data, is_org=False)


# --------------------------------------------------------------------------- show


def _group_for(ctx: Context, ident: Any, *, is_org: bool) -> dict[str, Any]:
    group = models.get_group(ctx.conn, ident)
    if group is None or group["is_organization"] != is_org:
        raise errors.NotFound()
    return group


def _show(ctx: Context, data: dict[str, Any], *, is_org: bool) -> dict[str, Any]:
    (ident,) = get_or_bust(data, "id")
    group = _group_for(ctx, ident, is_org=is_org)
    if group["state"] != "active" or as_bool(data.get("include_users")):
        authz.check_read_group(ctx, group)
    return models.show_dict(
        ctx,
        group,
        include_datasets=as_bool(data.get("include_datasets", False)),
        include_dataset_count=as_bool(data.get("include_dataset_count", True)),
        include_extras=as_bool(data.get("include_extras", True)),
        include_users=as_bool(data.get("include_users", True)),
        include_tags=as_bool(data.get("include_tags", True)),
        include_groups=as_bool(data.get("include_groups", True)),
        include_member_count=as_bool(data.get("include_member_count", False)),
    )


@action("organization_show", read=True)
def organization_show(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Return the details of an organization.

    :param id: the id or name of the organization
    :param include_datasets: include a truncated list of its datasets (optional, default False)
    :param include_dataset_count: include ``package_count`` (optional, default True)
    :param include_extras: include the extras (optional, default True)
    :param include_users: include the members (optional, default True)
    :param include_tags: include tags (optional, default True; dropped on 2.12)
    :param include_groups: include sub-groups (optional, default True)
    :param include_followers: include ``num_followers`` (optional, default True)
    :param include_member_count: include ``member_count`` (optional, default False)
    :rtype: dictionary
    """
    return _show(ctx, data, is_org=True)


@action("group_show", read=True)
def group_show(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Return the details of a group (parameters as ``organization_show``).

    :param id: the id or name of the group
    :rtype: dictionary
    """
    return _show(ctx, data, is_org=False)


# --------------------------------------------------------------------------- list


def _list(ctx: Context, data: dict[str, Any], *, is_org: bool) -> list[Any]:
    errs = Errors()
    limit = as_int(data.get("limit"), "limit", errs) if data.get("limit") else None
    offset = as_int(data.get("offset"), "offset", errs) if data.get("offset") else None
    errs.raise_if_any()
    all_fields = as_bool(data.get("all_fields"))
    cap = LIST_ALL_FIELDS_MAX if all_fields else LIST_MAX
    if limit is None or limit > cap:
        limit = cap
    sort = data.get("sort") or data.get("order_by") or "title"
    if sort.strip() in ("packages", "package_count"):
        sort = "package_count desc"
    parts = [p.strip() for p in sort.split(",")]
    sort_field, direction = "title", "asc"
    for part in parts:
        bits = part.split()
        if not bits:
            continue
        sort_field = bits[0]
        direction = bits[1].lower() if len(bits) > 1 else "asc"
        if sort_field not in ("name", "packages", "package_count", "title"):
            raise errors.ValidationError({"message": f"Cannot sort by field `{sort_field}`"})
        if direction not in ("asc", "desc"):
            raise errors.ValidationError({"message": f"Invalid sort direction `{direction}`"})
    if len(parts) > 1:
        raise errors.ValidationError({"message": "Too many sort criteria provided only 1 allowed"})

    where = ["state = 'active'", "is_organization = ?", "type = ?"]
    params: list[Any] = [int(is_org), data.get("type") or _kind(is_org)]
    names = data.get("groups")
    if names:
        wanted = names if isinstance(names, list) else str(names).split(",")
        wanted = [w.strip() for w in wanted if w and w.strip()]
        where.append(f"name IN ({','.join('?' * len(wanted))})")
        params += wanted
    q = str(data.get("q") or "").strip()
    if q:
        where.append("(name LIKE ? OR title LIKE ? OR description LIKE ?)")
        params += [f"%{q}%"] * 3
    rows = [
        models._row(r)
        for r in ctx.conn.execute(
            f'SELECT * FROM "group" WHERE {" AND ".join(where)} ORDER BY rowid', params
        ).fetchall()
    ]
    # CKAN orders on the one sort field only; ties keep table order (Postgres' physical order,
    # insertion order here).
    reverse = direction == "desc"
    if sort_field in ("packages", "package_count"):
        counts = models.dataset_counts(ctx)
        key = "owner_org" if is_org else "groups"

        def count(g: dict[str, Any]) -> int:
            return int(counts[key].get(g["id"] if is_org else g["name"], 0))

        rows.sort(key=count, reverse=reverse)
    else:
        rows.sort(key=lambda g: g[sort_field] or "", reverse=reverse)
    rows = rows[(offset or 0) :][:limit]
    if not all_fields:
        return [g["name"] for g in rows]
    show = dict(data)
    for flag in ("include_extras", "include_tags", "include_users", "include_groups"):
        show.setdefault(flag, False)
    out = []
    for group in rows:
        show["id"] = group["id"]
        out.append(_show(ctx, show, is_org=is_org))
    return out


@action("organization_list", read=True)
def organization_list(ctx: Context, data: dict[str, Any]) -> list[Any]:
    """Return the names (or, with ``all_fields``, the dicts) of the site's organizations.

    :param sort: ``title`` (default), ``name`` or ``package_count``, plus ``asc``/``desc``
    :param limit: at most 1000 names, or 25 with ``all_fields`` (the default and the cap)
    :param offset: (optional)
    :param q: only organizations whose name, title or description contain this (optional)
    :param organizations: a list (or comma-separated names) to restrict to (optional)
    :param all_fields: return dicts instead of names (optional, default False)
    :param include_extras, include_users, include_tags, include_groups: with ``all_fields``
    :rtype: list of strings or dictionaries
    """
    data = dict(data)
    if "organizations" in data and "groups" not in data:
        data["groups"] = data["organizations"]
    return _list(ctx, data, is_org=True)


@action("group_list", read=True)
def group_list(ctx: Context, data: dict[str, Any]) -> list[Any]:
    """Return the names (or, with ``all_fields``, the dicts) of the site's groups.

    :param sort, limit, offset, q, all_fields, include_*: as ``organization_list``
    :param groups: a list (or comma-separated names) to restrict to (optional)
    :rtype: list of strings or dictionaries
    """
    return _list(ctx, data, is_org=False)


@action("organization_list_for_user", read=True)
def organization_list_for_user(ctx: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the organizations a user has a permission in (all of them for sysadmins).

    :param id: the name or id of the user (optional, default: the caller)
    :param permission: ``manage_group`` (default), ``read``, ``create_dataset``,
        ``update_dataset``, ``delete_dataset``, ``membership`` or ``admin``
    :param include_dataset_count: include ``package_count`` (optional, default False)
    :param include_member_count: include ``member_count`` (optional, default False)
    :rtype: list of dictionaries
    """
    if data.get("id"):
        user = user_models.get_user(ctx.conn, data["id"])
        if user is None:
            raise errors.NotFound()
    else:
        user = ctx.user
    orgs: list[tuple[dict[str, Any], str]] = []
    if user is not None and user.get("sysadmin") and user.get("state") == "active":
        rows = ctx.conn.execute("SELECT * FROM \"group\" WHERE is_organization = 1 AND state = 'active'").fetchall()
        orgs = [(models._row(r), "admin") for r in rows]
    elif user is not None:
        roles = authz.roles_with_permission(str(data.get("permission") or "manage_group"))
        rows = ctx.conn.execute(
            'SELECT g.*, m.capacity AS member_capacity FROM member m JOIN "group" g '
            "ON g.id = m.group_id WHERE m.table_name = 'user' AND m.table_id = ? "
            "AND m.state = 'active' AND g.is_organization = 1 AND g.state = 'active' "
            f"AND m.capacity IN ({','.join('?' * len(roles))})",
            (user["id"], *roles),
        ).fetchall()
        for r in rows:
            row = dict(r)
            capacity = row.pop("member_capacity")
            orgs.append((models._row(row), capacity))  # type: ignore[arg-type]
    with_counts = as_bool(data.get("include_dataset_count"))
    counts = models.dataset_counts(ctx)["owner_org"] if with_counts and orgs else {}
    out = [
        models.list_dict(
            ctx,
            org,
            capacity=capacity,
            package_count=int(counts.get(org["id"], 0)) if with_counts else None,
            with_member_count=as_bool(data.get("include_member_count")),
        )
        for org, capacity in orgs
    ]
    return sorted(out, key=lambda g: g["display_name"])  # CKAN: strxfrm in the C locale


@action("group_list_authz", read=True)
def group_list_authz(ctx: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the groups the caller may add datasets to (all groups for sysadmins).

    :param available_only: leave out the groups the dataset in context is already in (ignored)
    :param am_member: only groups the caller is a member of, even for sysadmins (optional)
    :rtype: list of dictionaries
    """
    user = ctx.user
    if user is None:
        return []
    sysadmin = authz.is_sysadmin(ctx)
    if sysadmin and not as_bool(data.get("am_member")):
        rows = ctx.conn.execute("SELECT * FROM \"group\" WHERE is_organization = 0 AND state = 'active'").fetchall()
    else:
        roles = authz.roles_with_permission("manage_group")
        rows = ctx.conn.execute(
            'SELECT DISTINCT g.* FROM member m JOIN "group" g ON g.id = m.group_id '
            "WHERE m.table_name = 'user' AND m.table_id = ? AND m.state = 'active' "
            "AND g.is_organization = 0 AND g.state = 'active' "
            f"AND m.capacity IN ({','.join('?' * len(roles))})",
            (user["id"], *roles),
        ).fetchall()
    out = [models.list_dict(ctx, models._row(r)) for r in rows]
    return sorted(out, key=lambda g: g["display_name"])  # CKAN: strxfrm in the C locale


# --------------------------------------------------------------------------- update / patch


def _update(ctx: Context, data: dict[str, Any], *, is_org: bool, partial: bool = False) -> dict[str, Any]:
    (ident,) = get_or_bust(data, "id")
    group = models.get_group(ctx.conn, ident)
    if group is None:
        raise errors.NotFound("Not found: Group was not found.")
    if data.get("type") is not None and data["type"] != group["type"]:
        key = "type" if ctx.version == "2.12" else "message"
        raise errors.ValidationError({key: "Type cannot be updated"})
    authz.check_update_group(ctx, group)
    fields, extras, users, errs = _validate_group(ctx, data, existing=group, is_org=is_org)
    errs.raise_if_any()
    fields.pop("id", None)
    models.update_group(ctx.conn, group["id"], fields)
    models.save_extras(ctx.conn, group["id"], extras, ctx.version)
    if users is not None or not (partial or ctx.version == "2.12"):
        # On 2.11 a full update without ``users`` removes every member; 2.12 leaves them.
        models.save_user_members(ctx.conn, group["id"], users or [])
    if not is_org and "packages" in data:
        _set_group_datasets(ctx, group, data.get("packages") or [])
    updated = models.get_group(ctx.conn, group["id"]) or group
    return models.update_dict(ctx, updated)


@action("organization_update")
def organization_update(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Update an organization (admins of it and sysadmins).

    Fields not given keep their value, except ``users``: without it every member is removed
    (CKAN 2.11; 2.12 keeps them); use ``organization_patch`` to change single fields.

    :param id: the id or name of the organization
    :rtype: dictionary
    """
    return _update(ctx, data, is_org=True)


@action("group_update")
def group_update(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Update a group (admins of it and sysadmins); see ``organization_update``.

    ``packages``, when given, becomes the complete list of the group's datasets.

    :param id: the id or name of the group
    :rtype: dictionary
    """
    return _update(ctx, data, is_org=False)


def _patch(ctx: Context, data: dict[str, Any], *, is_org: bool) -> dict[str, Any]:
    (ident,) = get_or_bust(data, "id")
    current = ctx.call(f"{_kind(is_org)}_show", {"id": ident})
    current.pop("display_name", None)
    current.update(data)
    return _update(ctx, current, is_org=is_org, partial=True)


@action("organization_patch")
def organization_patch(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Update only the given fields of an organization (members are kept unless given).

    :param id: the id or name of the organization
    :rtype: dictionary
    """
    return _patch(ctx, data, is_org=True)


@action("group_patch")
def group_patch(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Update only the given fields of a group (members are kept unless given).

    :param id: the id or name of the group
    :rtype: dictionary
    """
    return _patch(ctx, data, is_org=False)


# --------------------------------------------------------------------------- delete / purge


def _delete(ctx: Context, data: dict[str, Any], *, is_org: bool) -> None:
    (ident,) = get_or_bust(data, "id")
    group = models.get_group(ctx.conn, ident)
    if group is None:
        raise errors.NotFound("Not found: Group was not found.")
    authz.check_delete_group(ctx, group)
    if is_org and models.live_dataset_count(ctx.conn, group["id"]):
        raise errors.ValidationError({"message": "Organization cannot be deleted while it still has datasets"})
    # CKAN matches memberships against the ``id`` exactly as given: deleting by name leaves
    # them in place (so former admins can still read the deleted group), by id removes them.
    ctx.conn.execute(
        "UPDATE member SET state = 'deleted' WHERE (group_id = ? OR table_id = ?) AND state = 'active'",
        (ident, ident),
    )
    models.update_group(ctx.conn, group["id"], {"state": "deleted"})


@action("organization_delete")
def organization_delete(ctx: Context, data: dict[str, Any]) -> None:
    """Delete an organization (state ``deleted``); refused while it still has datasets.

    :param id: the id or name of the organization
    """
    _delete(ctx, data, is_org=True)


@action("group_delete")
def group_delete(ctx: Context, data: dict[str, Any]) -> None:
    """Delete a group (state ``deleted``).

    :param id: the id or name of the group
    """
    _delete(ctx, data, is_org=False)


def _purge(ctx: Context, data: dict[str, Any], *, is_org: bool) -> None:
    (ident,) = get_or_bust(data, "id")
    group = models.get_group(ctx.conn, ident)
    if group is None:
        kind = "Organization" if is_org else "Group"
        raise errors.NotFound(f"Not found: {kind} was not found")
    authz.check_sysadmin(ctx)
    if is_org and models.live_dataset_count(ctx.conn, group["id"]):
        raise errors.ValidationError({"message": "Organization cannot be purged while it still has datasets"})
    ctx.conn.execute("DELETE FROM member WHERE group_id = ? OR table_id = ?", (group["id"], group["id"]))
    ctx.conn.execute("DELETE FROM group_extra WHERE group_id = ?", (group["id"],))
    ctx.conn.execute('DELETE FROM "group" WHERE id = ?', (group["id"],))


@action("organization_purge")
def organization_purge(ctx: Context, data: dict[str, Any]) -> None:
    """Remove an organization from the database for good (sysadmins only).

    :param id: the id or name of the organization
    """
    _purge(ctx, data, is_org=True)


@action("group_purge")
def group_purge(ctx: Context, data: dict[str, Any]) -> None:
    """Remove a group from the database for good (sysadmins only).

    :param id: the id or name of the group
    """
    _purge(ctx, data, is_org=False)


# --------------------------------------------------------------------------- members


def _dataset(ctx: Context, ref: Any) -> dict[str, Any] | None:
    try:
        pkg = ctx.call("package_show", {"id": ref}, ignore_auth=True)
    except (errors.NotFound, errors.InternalError):
        return None
    return pkg  # type: ignore[no-any-return]


def _set_dataset_group(ctx: Context, pkg: dict[str, Any], group: dict[str, Any], add: bool) -> None:
    """Add or remove one dataset's membership of a group, through the datasets family."""
    groups = [{"id": g["id"]} for g in pkg.get("groups") or [] if g["id"] != group["id"]]
    if add:
        groups.append({"id": group["id"]})
    if len(groups) == len(pkg.get("groups") or []) and not add:
        return
    ctx.call("package_patch", {"id": pkg["id"], "groups": groups}, ignore_auth=True)


def _set_group_datasets(ctx: Context, group: dict[str, Any], packages: list[Any]) -> None:
    """Make ``packages`` (validated dicts with an ``id``, which may be a name) the group's
    datasets."""
    wanted: dict[str, dict[str, Any]] = {}
    for entry in packages:
        ref = entry.get("id") if isinstance(entry, dict) else None
        pkg = _dataset(ctx, ref) if ref else None
        if pkg is not None:
            wanted[pkg["id"]] = pkg
    current_ids = models.group_package_ids(ctx.conn, group["id"])
    for pkg_id in current_ids:
        if pkg_id not in wanted:
            full = _dataset(ctx, pkg_id)
            if full is not None:
                _set_dataset_group(ctx, full, group, add=False)
    for pkg_id, pkg in wanted.items():
        if pkg_id not in current_ids:
            _set_dataset_group(ctx, pkg, group, add=True)


def _member_object(ctx: Context, obj_type: Any, ref: Any) -> dict[str, Any]:
    """The user, dataset or group a membership is about (CKAN looks the type up as a model
    class: an unknown one is a validation error)."""
    if obj_type == "user":
        obj = user_models.get_user(ctx.conn, ref)
    elif obj_type == "package":
        obj = _dataset(ctx, ref)
    elif obj_type == "group":
        obj = models.get_group(ctx.conn, ref)
    else:
        raise errors.ValidationError({"message": f"{str(obj_type).title()} isn't a valid model"})
    if obj is None:
        raise errors.NotFound(f"Not found: {str(obj_type).title()} was not found.")
    return obj


@action("member_create")
def member_create(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Make an object (a user or a dataset) a member of a group or organization.

    :param id: the id or name of the group
    :param object: the id or name of the object
    :param object_type: ``user`` or ``package``
    :param capacity: the membership's capacity (``admin``/``editor``/``member`` for users,
        ``public`` for datasets)
    :returns: the membership
    :rtype: dictionary
    """
    group_ref, obj_ref, obj_type, capacity = get_or_bust(data, "id", "object", "object_type", "capacity")
    group = models.get_group(ctx.conn, group_ref)
    if group is None:
        raise errors.NotFound("Not found: Group was not found.")
    obj = _member_object(ctx, obj_type, obj_ref)
    authz.check_member_create(ctx, group, obj_type)
    existing = models.find_member(ctx.conn, group["id"], obj_type, obj["id"])
    if (
        existing is not None
        and obj_type == "user"
        and ctx.user is not None
        and existing["table_id"] == ctx.user["id"]
        and existing["capacity"] == "admin"
        and capacity != "admin"
    ):
        raise authz.deny("Administrators cannot revoke their own admin status")
    if obj_type == "package" and not group["is_organization"]:
        _set_dataset_group(ctx, obj, group, add=True)
    return models.upsert_member(ctx.conn, group["id"], obj_type, obj["id"], str(capacity))


@action("member_delete")
def member_delete(ctx: Context, data: dict[str, Any]) -> None:
    """Remove an object (a user or a dataset) from a group or organization.

    :param id: the id or name of the group
    :param object: the id or name of the object
    :param object_type: ``user`` or ``package``
    """
    group_ref, obj_ref, obj_type = get_or_bust(data, "id", "object", "object_type")
    group = models.get_group(ctx.conn, group_ref)
    if group is None:
        raise errors.NotFound("Not found: Group was not found.")
    obj = _member_object(ctx, obj_type, obj_ref)
    authz.check_member_create(ctx, group, obj_type)
    if obj_type == "package" and not group["is_organization"]:
        _set_dataset_group(ctx, obj, group, add=False)
    ctx.conn.execute(
        "UPDATE member SET state = 'deleted' WHERE group_id = ? AND table_name = ? AND table_id = ?",
        (group["id"], obj_type, obj["id"]),
    )


@action("member_list", read=True)
def member_list(ctx: Context, data: dict[str, Any]) -> list[list[str]]:
    """Return the members of a group or organization as ``[id, type, capacity]`` triples.

    :param id: the id or name of the group
    :param object_type: ``user`` or ``package`` (optional, default: both)
    :param capacity: only members with this capacity (optional)
    :rtype: list of lists
    """
    (ident,) = get_or_bust(data, "id")
    group = models.get_group(ctx.conn, ident)
    if group is None:
        raise errors.NotFound()
    authz.check_read_group(ctx, group)
    obj_type = data.get("object_type")
    capacity = data.get("capacity")
    out: list[list[str]] = []
    if obj_type in (None, "", "user"):
        sql = "SELECT table_id, capacity FROM member WHERE group_id = ? AND table_name = 'user' AND state = 'active'"
        params: list[Any] = [group["id"]]
        if capacity:
            sql += " AND capacity = ?"
            params.append(capacity)
        for row in ctx.conn.execute(sql + " ORDER BY rowid", params):
            out.append([row[0], "user", ROLE_TITLES.get(row[1], row[1])])
    if obj_type in (None, "", "package"):
        if group["is_organization"]:
            # CKAN keeps an "organization" member row per owned dataset; here ownership is the
            # dataset's owner_org, so ask search (unfiltered, as the site user) for them.
            if not capacity or capacity == "organization":
                out.extend([pid, "package", "organization"] for pid in models.owned_dataset_ids(ctx, group))
        else:
            sql = (
                "SELECT table_id, capacity FROM member WHERE group_id = ? "
                "AND table_name = 'package' AND state = 'active'"
            )
            params = [group["id"]]
            if capacity:
                sql += " AND capacity = ?"
                params.append(capacity)
            out.extend([r[0], "package", r[1]] for r in ctx.conn.execute(sql + " ORDER BY rowid", params))
    return out


def _member_create_via(ctx: Context, data: dict[str, Any], *, is_org: bool) -> dict[str, Any]:
    # CKAN checks this action's own auth first ("membership": the group's admins), before any
    # validation; an unknown group simply fails the check for non-sysadmins.
    authz.check_membership(ctx, {"id": data.get("id")})
    errs = Errors()
    for key in ("id", "username", "role"):
        if key not in data:
            errs.add(key, MISSING)
    if "id" in data and models.get_group(ctx.conn, data["id"]) is None:
        errs.add("id", "That group name or ID does not exist.")
    if "username" in data and user_models.get_user(ctx.conn, data["username"]) is None:
        errs.add("username", "User not found" if ctx.version == "2.12" else "Not found: User")
    if "role" in data and data["role"] not in authz.ROLE_PERMISSIONS:
        errs.add("role", "role does not exist.")
    errs.raise_if_any()
    group = models.get_group(ctx.conn, data["id"])
    if group is None:  # pragma: no cover - validated above
        raise errors.NotFound("Not found: " + ("Organization" if is_org else "Group") + " not found")
    user = user_models.get_user(ctx.conn, data["username"])
    assert user is not None
    membership: dict[str, Any] = member_create(
        ctx,
        {"id": group["id"], "object": user["id"], "object_type": "user", "capacity": data["role"]},
    )
    return membership


@action("organization_member_create")
def organization_member_create(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Make a user a member of an organization (its admins and sysadmins).

    :param id: the id or name of the organization
    :param username: the name or id of the user
    :param role: ``member``, ``editor`` or ``admin``
    :returns: the membership
    :rtype: dictionary
    """
    return _member_create_via(ctx, data, is_org=True)


@action("group_member_create")
def group_member_create(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Make a user a member of a group (its admins and sysadmins).

    :param id: the id or name of the group
    :param username: the name or id of the user
    :param role: ``member``, ``editor`` or ``admin``
    :returns: the membership
    :rtype: dictionary
    """
    return _member_create_via(ctx, data, is_org=False)


def _member_delete_via(ctx: Context, data: dict[str, Any], *, is_org: bool) -> None:
    group = models.get_group(ctx.conn, data.get("id"))
    if group is None:
        # CKAN fails an assertion here (HTTP 500); a 404 says the same thing more usefully.
        raise errors.NotFound("Not found: " + ("Organization" if is_org else "Group") + " not found")
    username = data.get("username")
    if username is None:
        username = data.get("user_id")
    member_delete(ctx, {"id": group["id"], "object": username, "object_type": "user"})


@action("organization_member_delete")
def organization_member_delete(ctx: Context, data: dict[str, Any]) -> None:
    """Remove a user from an organization.

    :param id: the id or name of the organization
    :param username: the name or id of the user
    """
    _member_delete_via(ctx, data, is_org=True)


@action("group_member_delete")
def group_member_delete(ctx: Context, data: dict[str, Any]) -> None:
    """Remove a user from a group.

    :param id: the id or name of the group
    :param username: the name or id of the user
    """
    _member_delete_via(ctx, data, is_org=False)


def _autocomplete(ctx: Context, data: dict[str, Any], *, is_org: bool) -> list[dict[str, Any]]:
    if "q" not in data:
        # CKAN reads data_dict["q"] without validation: a missing q is a KeyError, answered with a 500
        raise errors.InternalError()
    (q,) = get_or_bust(data, "q")
    errs = Errors()
    limit = as_int(data.get("limit", 20), "limit", errs)
    errs.raise_if_any()
    text = str(q).strip().lower()
    kind = "type = 'organization'" if is_org else "type != 'organization'"
    # CKAN means to order by title but never applies it: rows come in table order.
    rows = ctx.conn.execute(
        f'SELECT id, name, title FROM "group" WHERE (instr(name, ?) > 0 OR title LIKE ?) '
        f"AND {kind} AND state = 'active' ORDER BY rowid LIMIT ?",
        (text, f"%{text}%", 20 if limit is None else limit),
    )
    return [{"id": r["id"], "name": r["name"], "title": r["title"]} for r in rows]


@action("organization_autocomplete", read=True)
def organization_autocomplete(ctx: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Return organizations whose name or title contain a string.

    :param q: the string to search for
    :param limit: the maximum number of organizations to return (optional, default 20)
    :rtype: list of ``{"id", "name", "title"}`` dictionaries
    """
    return _autocomplete(ctx, data, is_org=True)


@action("group_autocomplete", read=True)
def group_autocomplete(ctx: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Return groups whose name or title contain a string.

    :param q: the string to search for
    :param limit: the maximum number of groups to return (optional, default 20)
    :rtype: list of ``{"id", "name", "title"}`` dictionaries
    """
    return _autocomplete(ctx, data, is_org=False)


@action("member_roles_list", read=True)
def member_roles_list(ctx: Context, data: dict[str, Any]) -> list[dict[str, str]]:
    """Return the roles members of groups and organizations can have.

    :param group_type: ``organization`` (default) or ``group`` (groups have no editors)
    :rtype: list of ``{"text", "value"}`` dictionaries
    """
    roles = [{"text": ROLE_TITLES[r], "value": r} for r in authz.CAPACITIES]
    if data.get("group_type", "organization") == "group":
        roles = [r for r in roles if r["value"] != "editor"]
    return roles
