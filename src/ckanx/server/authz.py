"""Who may do what: CKAN 2.11's authorization rules as plain functions.

Every family calls these; none of them looks at HTTP. Two kinds of function:

- ``can_*`` / ``has_permission`` / ``org_capacity`` / ``user_org_ids`` / ``*_labels`` answer a
  question (``ctx.ignore_auth`` makes every ``can_*`` answer ``True``, as CKAN's ``ignore_auth``);
  only :func:`can_manage_groups` raises, ``NotFound`` for an unknown group, as CKAN does.
- ``check_*`` raise :class:`~ckanx.server.errors.NotAuthorized` (and
  :func:`deny` builds one) with CKAN's exact message, already prefixed with ``"Access denied: "``
  as the API shows it.

The rules follow CKAN with this site's (default) configuration, which the real oracle also uses:
``anon_create_dataset=false``, ``create_unowned_dataset=false``,
``create_dataset_if_not_in_organization=true``, ``user_create_groups/organizations=true``,
``user_delete_groups/organizations=true``, ``create_user_via_api=false``,
``public_user_details=true``, ``allow_dataset_collaborators=false``. Group hierarchies are not
supported, so ``roles_that_cascade_to_sub_groups`` never applies.

Messages use the caller's *name* (``""`` for anonymous, hence CKAN's "User  not authorized" with
two spaces); CKAN's group/organization create rules use the user's *id* and print ``None`` for
anonymous — see :func:`check_create_group`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import errors
from .organizations import schema as _org_schema  # noqa: F401  (tables used below)
from .users import schema as _user_schema  # noqa: F401

if TYPE_CHECKING:
    from .context import Context

# CKAN's ROLE_PERMISSIONS: the "admin" permission grants everything for that group.
ROLE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "admin": ("admin", "membership"),
    "editor": ("read", "delete_dataset", "create_dataset", "update_dataset", "manage_group"),
    "member": ("read", "manage_group"),
}
CAPACITIES = tuple(ROLE_PERMISSIONS)


def roles_with_permission(permission: str) -> list[str]:
    """Capacities that grant ``permission`` (admin always does)."""
    return [role for role, perms in ROLE_PERMISSIONS.items() if "admin" in perms or permission in perms]


def _capacity_grants(capacity: str, permission: str) -> bool:
    perms = ROLE_PERMISSIONS.get(capacity, ())
    return "admin" in perms or permission in perms


# --------------------------------------------------------------------------- messages


def deny(message: str = "") -> errors.NotAuthorized:
    """The error CKAN's API reports for a refused auth check (``"Access denied[: msg]"``).

    Returned, not raised, so callers write ``raise authz.deny(...)`` and type checkers see the
    raise.
    """
    return errors.NotAuthorized(f"Access denied: {message}" if message else "Access denied")


def _active_user(ctx: Context) -> dict[str, Any] | None:
    user = ctx.user
    # CKAN: "deleted users are always unauthorized" (authentication already drops them, but a
    # context built by hand must not slip through).
    if user is None or user.get("state") == "deleted":
        return None
    return user


def is_sysadmin(ctx: Context) -> bool:
    """True for an active sysadmin caller."""
    user = _active_user(ctx)
    return bool(user and user.get("sysadmin"))


def _bypass(ctx: Context) -> bool:
    """CKAN skips the auth function for ``ignore_auth`` and for sysadmins."""
    return ctx.ignore_auth or is_sysadmin(ctx)


# --------------------------------------------------------------------------- lookups


def resolve_group_id(conn: sqlite3.Connection, id_or_name: str | None) -> str | None:
    """The id of the group/organization with this id or name (any state), or ``None``."""
    if not id_or_name or not isinstance(id_or_name, str):
        return None
    row = conn.execute(
        'SELECT id FROM "group" WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1',
        (id_or_name, id_or_name, id_or_name),
    ).fetchone()
    return row[0] if row else None


def capacity_of(conn: sqlite3.Connection, group_id: str, user_id: str) -> str | None:
    """The capacity of an active user membership in a group (no sysadmin logic)."""
    row = conn.execute(
        "SELECT capacity FROM member WHERE group_id = ? AND table_name = 'user' "
        "AND table_id = ? AND state = 'active' LIMIT 1",
        (group_id, user_id),
    ).fetchone()
    return row[0] if row else None


def org_capacity(ctx: Context, org_id: str | None, user_id: str | None = None) -> str | None:
    """The capacity ("admin", "editor", "member") a user holds in an organization or group.

    ``org_id`` may be an id or a name; ``user_id`` defaults to the caller. Sysadmins have no
    implicit capacity here (use :func:`has_permission` for decisions). ``None`` when not a member.
    """
    uid = user_id if user_id is not None else ctx.user_id
    gid = resolve_group_id(ctx.conn, org_id)
    if not uid or not gid:
        return None
    return capacity_of(ctx.conn, gid, uid)


def has_permission(ctx: Context, group_id: str | None, permission: str, user_id: str | None = None) -> bool:
    """CKAN's ``has_user_permission_for_group_or_org``.

    False when the group does not exist; True for sysadmins; otherwise the caller's (or
    ``user_id``'s) capacity in the group must grant ``permission`` ("read", "create_dataset",
    "update_dataset", "delete_dataset", "manage_group", "membership", or anything for admins).
    """
    gid = resolve_group_id(ctx.conn, group_id)
    if gid is None:
        return False
    if user_id is None:
        if is_sysadmin(ctx):
            return True
        user = _active_user(ctx)
        if user is None:
            return False
        user_id = user["id"]
    else:
        row = ctx.conn.execute('SELECT sysadmin, state FROM "user" WHERE id = ?', (user_id,)).fetchone()
        if row is None or row["state"] == "deleted":
            return False
        if row["sysadmin"]:
            return True
    capacity = capacity_of(ctx.conn, gid, user_id)
    return capacity is not None and _capacity_grants(capacity, permission)


def has_permission_for_some_org(ctx: Context, permission: str) -> bool:
    """CKAN's ``has_user_permission_for_some_org`` (active organizations only)."""
    if is_sysadmin(ctx):
        return True
    user = _active_user(ctx)
    if user is None:
        return False
    roles = roles_with_permission(permission)
    marks = ",".join("?" * len(roles))
    row = ctx.conn.execute(
        f'SELECT 1 FROM member m JOIN "group" g ON g.id = m.group_id '
        f"WHERE m.table_name = 'user' AND m.state = 'active' AND m.table_id = ? "
        f"AND m.capacity IN ({marks}) AND g.is_organization = 1 AND g.state = 'active' LIMIT 1",
        (user["id"], *roles),
    ).fetchone()
    return row is not None


def user_org_ids(ctx: Context, permission: str = "read") -> list[str]:
    """Ids of the active organizations in which the caller has ``permission``.

    What CKAN's ``organization_list_for_user`` yields: every active organization for a sysadmin,
    none for anonymous callers. Search uses it to decide which private datasets a user sees.
    """
    if is_sysadmin(ctx):
        rows = ctx.conn.execute(
            "SELECT id FROM \"group\" WHERE is_organization = 1 AND state = 'active' ORDER BY name"
        ).fetchall()
        return [r[0] for r in rows]
    user = _active_user(ctx)
    if user is None:
        return []
    roles = roles_with_permission(permission)
    marks = ",".join("?" * len(roles))
    rows = ctx.conn.execute(
        f'SELECT DISTINCT g.id, g.name FROM member m JOIN "group" g ON g.id = m.group_id '
        f"WHERE m.table_name = 'user' AND m.state = 'active' AND m.table_id = ? "
        f"AND m.capacity IN ({marks}) AND g.is_organization = 1 AND g.state = 'active' "
        f"ORDER BY g.name",
        (user["id"], *roles),
    ).fetchall()
    return [r[0] for r in rows]


# --------------------------------------------------------------------------- datasets


def _pkg(pkg: Mapping[str, Any], key: str, default: Any = None) -> Any:
    value = pkg.get(key, default)
    return default if value is None else value


def dataset_labels(pkg: Mapping[str, Any]) -> list[str]:
    """CKAN's default permission labels of a dataset (``DefaultPermissionLabels``).

    ``["public"]`` for an active public dataset; otherwise ``["member-<owner org id>"]``, or
    ``["creator-<creator user id>"]`` for a dataset without an organization.
    """
    if _pkg(pkg, "state", "active") == "active" and not pkg.get("private"):
        return ["public"]
    owner_org = pkg.get("owner_org")
    if owner_org:
        return [f"member-{owner_org}"]
    return [f"creator-{pkg.get('creator_user_id')}"]


def user_dataset_labels(ctx: Context) -> list[str]:
    """The labels the caller may read: ``public``, ``creator-<own id>`` and ``member-<org id>``
    for each active organization they belong to (any capacity; every one for sysadmins).

    Search can filter on these exactly as CKAN's ``package_search`` does.
    """
    labels = ["public"]
    user = _active_user(ctx)
    if user is None:
        return labels
    labels.append(f"creator-{user['id']}")
    labels.extend(f"member-{org_id}" for org_id in user_org_ids(ctx, "read"))
    return labels


def can_read_package(ctx: Context, pkg: Mapping[str, Any]) -> bool:
    """CKAN's ``package_show`` auth (permission labels).

    ``pkg`` needs ``state``, ``private``, ``owner_org`` and ``creator_user_id`` (a package dict or
    a row as a dict). Active public datasets: everyone. Anything else (private, draft, deleted):
    members of the owner organization in any capacity, or the creator when there is no
    organization; sysadmins always.
    """
    if _bypass(ctx):
        return True
    labels = dataset_labels(pkg)
    if labels == ["public"]:
        return True
    return bool(set(labels) & set(user_dataset_labels(ctx)))


def can_edit_package(ctx: Context, pkg: Mapping[str, Any]) -> bool:
    """CKAN's ``package_update`` auth (also ``package_delete``, resources' create/update/delete).

    With an owner organization: its editors and admins (and sysadmins). Without one (legacy
    unowned datasets): any user who may create datasets in some organization, as CKAN does with
    ``create_unowned_dataset=false``. Anonymous callers: never.
    """
    if _bypass(ctx):
        return True
    owner_org = pkg.get("owner_org")
    if owner_org:
        return has_permission(ctx, owner_org, "update_dataset")
    if _active_user(ctx) is None:
        return False
    return has_permission_for_some_org(ctx, "create_dataset")


def can_create_package(ctx: Context, owner_org_id: str | None) -> bool:
    """CKAN's ``package_create`` auth, minus the groups check (see :func:`check_create_package`).

    The caller must be an editor/admin of some organization, and of ``owner_org_id`` (id or name)
    when one is given. Anonymous callers: never.
    """
    if _bypass(ctx):
        return True
    if not has_permission_for_some_org(ctx, "create_dataset"):
        return False
    if owner_org_id:
        return has_permission(ctx, owner_org_id, "create_dataset")
    return True


def _group_ref(blob: Any) -> str | None:
    if isinstance(blob, Mapping):
        return blob.get("id") or blob.get("name") or None
    return blob if isinstance(blob, str) and blob else None


def can_manage_groups(ctx: Context, groups: Iterable[Any] | None, current_group_ids: Iterable[str] = ()) -> bool:
    """CKAN's ``_check_group_auth``: may the caller put a dataset in each of these groups?

    ``groups`` is a dataset's ``groups`` list (dicts with ``id``/``name`` or strings); groups the
    dataset is already in (``current_group_ids``) are not checked. A group that does not exist
    raises ``NotFound("Group was not found.")`` as in CKAN.
    """
    if not groups:
        return True
    current = set(current_group_ids)
    wanted: set[str] = set()
    for blob in groups:
        ref = _group_ref(blob)
        if ref is None:
            continue
        gid = resolve_group_id(ctx.conn, ref)
        if gid is None:
            raise errors.NotFound("Not found: Group was not found.")
        wanted.add(gid)
    if _bypass(ctx):
        return True
    return all(has_permission(ctx, gid, "manage_group") for gid in wanted - current)


def check_read_package(ctx: Context, pkg: Mapping[str, Any]) -> None:
    """Raise CKAN's ``package_show`` denial unless :func:`can_read_package`."""
    if not can_read_package(ctx, pkg):
        raise deny(f"User {ctx.user_name} not authorized to read package {pkg.get('id')}")


def check_edit_package(
    ctx: Context,
    pkg: Mapping[str, Any],
    data: Mapping[str, Any] | None = None,
    current_group_ids: Iterable[str] = (),
) -> None:
    """Raise CKAN's ``package_update``/``package_delete`` denial.

    ``data`` is the request (its ``groups`` are checked like CKAN's ``_check_group_auth``).
    """
    if not can_edit_package(ctx, pkg):
        raise deny(f"User {ctx.user_name} not authorized to edit package {pkg.get('id')}")
    if data is not None and not can_manage_groups(ctx, data.get("groups"), current_group_ids):
        raise deny(f"User {ctx.user_name} not authorized to edit these groups")


def check_create_package(ctx: Context, data: Mapping[str, Any]) -> None:
    """Raise CKAN's ``package_create`` denials, in CKAN's order: creating at all, the groups,
    then the owner organization."""
    if _bypass(ctx):
        return
    if not has_permission_for_some_org(ctx, "create_dataset"):
        raise deny(f"User {ctx.user_name} not authorized to create packages")
    if not can_manage_groups(ctx, data.get("groups")):
        raise deny(f"User {ctx.user_name} not authorized to edit these groups")
    owner_org = data.get("owner_org")
    if owner_org and not has_permission(ctx, owner_org, "create_dataset"):
        raise deny(f"User {ctx.user_name} not authorized to add dataset to this organization")


def check_resource(ctx: Context, pkg: Mapping[str, Any], verb: str, resource_id: str) -> None:
    """Resource denials: ``verb`` is "read" (resource_show), "edit" (resource_update),
    "delete" (resource_delete) or "create" (resource_create; ``resource_id`` is then the
    dataset's id as CKAN prints it)."""
    allowed = can_read_package(ctx, pkg) if verb == "read" else can_edit_package(ctx, pkg)
    if allowed:
        return
    if verb == "create":
        raise deny(f"User {ctx.user_name} not authorized to create resources on dataset {resource_id}")
    raise deny(f"User {ctx.user_name} not authorized to {verb} resource {resource_id}")


def check_sysadmin(ctx: Context) -> None:
    """Sysadmin-only actions (dataset_purge, user_delete, ...): CKAN says just "Access denied".

    (Over the API CKAN never says "Action X requires an authenticated user": its anonymous
    requests carry an anonymous user object, so the auth function itself decides.)
    """
    if not _bypass(ctx):
        raise deny()


# --------------------------------------------------------------------------- groups


def check_create_group(ctx: Context, is_org: bool) -> None:
    """``group_create``/``organization_create``: any logged-in user (the config allows it).

    CKAN formats this message with the user's *id*, so anonymous callers see "User None".
    """
    if ctx.ignore_auth or _active_user(ctx) is not None:
        return
    kind = "organizations" if is_org else "groups"
    raise deny(f"User None not authorized to create {kind}")


def check_update_group(ctx: Context, group: Mapping[str, Any]) -> None:
    """``group_update``/``organization_update``: admins of the group (and sysadmins)."""
    if ctx.ignore_auth or has_permission(ctx, group["id"], "update"):
        return
    kind = "organization" if group.get("is_organization") else "group"
    raise deny(f"User {ctx.user_name} not authorized to edit {kind} {group['id']}")


def check_delete_group(ctx: Context, group: Mapping[str, Any]) -> None:
    """``group_delete``/``organization_delete``: admins of the group (and sysadmins)."""
    if ctx.ignore_auth or has_permission(ctx, group["id"], "delete"):
        return
    kind = "organization" if group.get("is_organization") else "group"
    raise deny(f"User {ctx.user_name} not authorized to delete {kind} {group['id']}")


def check_read_group(ctx: Context, group: Mapping[str, Any]) -> None:
    """``group_show``/``organization_show``: active groups are public (``public_user_details``);
    deleted ones need read permission."""
    if ctx.ignore_auth or group.get("state") == "active" or has_permission(ctx, group["id"], "read"):
        return
    raise deny(f"User {ctx.user_name} not authorized to read group {group['id']}")


def check_member_create(ctx: Context, group: Mapping[str, Any], object_type: str | None) -> None:
    """``member_create``/``member_delete``: group admins; for datasets in a (non-organization)
    group, any member with ``manage_group``."""
    if ctx.ignore_auth:
        return
    permission = "update"
    if not group.get("is_organization") and object_type == "package":
        permission = "manage_group"
    if not has_permission(ctx, group["id"], permission):
        raise deny(f"User {ctx.user_name} not authorized to edit group {group['id']}")


def check_membership(ctx: Context, group: Mapping[str, Any]) -> None:
    """``organization_member_create``/``group_member_create``: the group's admins (and
    sysadmins, even for a group that does not exist: the action then reports it)."""
    if _bypass(ctx) or has_permission(ctx, group["id"], "membership"):
        return
    raise deny(f"User {ctx.user_name} not authorized to add members")


# --------------------------------------------------------------------------- users


def is_self(ctx: Context, user: Mapping[str, Any]) -> bool:
    """True when the (active) caller is ``user``."""
    me = _active_user(ctx)
    return me is not None and me["id"] == user.get("id")


def check_update_user(ctx: Context, user: Mapping[str, Any]) -> None:
    """``user_update``: the user themself or a sysadmin."""
    if _bypass(ctx) or is_self(ctx, user):
        return
    if _active_user(ctx) is None:
        raise deny("Have to be logged in to edit user")
    raise deny(f"User {ctx.user_name} not authorized to edit user {user['id']}")
