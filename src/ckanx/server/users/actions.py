"""User and API-token actions (CKAN 2.11 semantics; 2.12 differences noted where they exist)."""

from __future__ import annotations

from typing import Any

from .. import authz, errors, hooks
from ..context import Context
from ..registry import action
from . import models
from .validation import MISSING, Errors, as_bool, as_int, email_error, get_or_bust, is_empty, is_uuid
from .validation import name_error as _name_error

PASSWORD_MIN_LENGTH = 8
_SPAM_MESSAGE = "Edit not allowed as it looks like spam. Please avoid links in your description."
_ORDER_COLUMNS = (
    "id",
    "name",
    "fullname",
    "created",
    "about",
    "email",
    "sysadmin",
    "state",
    "last_active",
    "image_url",
    "activity_streams_email_notifications",
)
_NAME_TAKEN = {
    "2.11": "That login name is not available.",
    "2.12": "The username is already associated with another account. Please use a different username.",
}
_DISPLAY_NAME_SQL = "CASE WHEN fullname IS NULL OR fullname = '' THEN name ELSE fullname END"

hooks.AUTHENTICATE.append(models.authenticate)
hooks.STARTUP.append(models.bootstrap)


def _validate_user(ctx: Context, data: dict[str, Any], *, existing: dict[str, Any] | None) -> dict[str, Any]:
    """CKAN's default_user_schema (create) / default_update_user_schema (``existing`` given).

    Returns the columns to write. Fields only sysadmins may set are silently dropped for others,
    as CKAN's ``ignore_not_sysadmin`` does.
    """
    errs = Errors()
    out: dict[str, Any] = {}
    privileged = ctx.ignore_auth or authz.is_sysadmin(ctx)

    # id: only a sysadmin creating a user may choose it.
    if existing is None and "id" in data:
        if not is_uuid(data["id"]):
            errs.add("id", "Invalid id provided")
        else:
            out["id"] = data["id"]

    name = data.get("name")
    if existing is None and is_empty(name):
        errs.add("name", MISSING)
    elif name is not None and not (existing is not None and name == ""):
        problem = _name_error(name)
        if problem:
            errs.add("name", problem)
        else:
            other = models.get_user(ctx.conn, name)
            if other is not None and (existing is None or other["id"] != existing["id"]):
                errs.add("name", _NAME_TAKEN[ctx.version])
            elif existing is not None and name != existing["name"] and not privileged:
                if existing["state"] != "pending":
                    errs.add("name", "That login name can not be modified.")
                else:
                    out["name"] = name
            else:
                out["name"] = name

    has_hash = privileged and not is_empty(data.get("password_hash"))
    password = data.get("password")
    if "password" in data and password is not None:
        if not isinstance(password, str):
            errs.add("password", "Passwords must be strings")
        elif password and len(password) < PASSWORD_MIN_LENGTH:
            errs.add("password", "Your password must be 8 characters or longer")
        elif password:
            out["password_hash"] = models.hash_password(password)
    if existing is None and not has_hash and not password:
        errs.add("password", MISSING)
    if has_hash:
        out["password_hash"] = str(data["password_hash"])

    email = data.get("email")
    if is_empty(email):
        errs.add("email", MISSING)
    else:
        email = str(email).strip()
        problem = email_error(email)
        if problem:
            errs.add("email", problem)
        else:
            who = {"name": data.get("name"), "id": data.get("id")}
            if existing is not None:
                who = {"name": data.get("name") or existing["name"], "id": existing["id"]}
            if models.email_taken(ctx.conn, email, who):
                shown = email.lower() if ctx.version == "2.12" else email
                errs.add("email", f"The email address '{shown}' belongs to a registered user.")
            else:
                out["email"] = email

    about = data.get("about")
    if about is not None:
        if isinstance(about, str) and ("http://" in about or "https://" in about):
            errs.add("about", _SPAM_MESSAGE)
        else:
            out["about"] = about
    for key in ("fullname", "image_url"):
        if key in data:
            out[key] = data[key]
    if "activity_streams_email_notifications" in data:
        out["activity_streams_email_notifications"] = as_bool(data["activity_streams_email_notifications"])
    if privileged:
        if "sysadmin" in data:
            if ctx.version == "2.12" and existing is not None:
                _limit_sysadmin_update(ctx, data["sysadmin"], existing, errs)
            out["sysadmin"] = as_bool(data["sysadmin"])
        if data.get("state") is not None:
            out["state"] = data["state"]
        if "plugin_extras" in data:
            extras = data["plugin_extras"]
            if extras is not None and not isinstance(extras, dict):
                errs.add("plugin_extras", "Unsupported value")
            else:
                out["plugin_extras"] = extras
    errs.raise_if_any()
    return out


def _limit_sysadmin_update(ctx: Context, value: Any, user: dict[str, Any], errs: Errors) -> None:
    """CKAN 2.12's ``limit_sysadmin_update``: nobody changes their own sysadmin flag or the site
    user's (the raw value is compared, as CKAN does before converting it)."""
    if value is None or ctx.user is None or ctx.user_name == models.SITE_USER_NAME:
        return
    if value == bool(user["sysadmin"]):
        return
    if user["name"] == ctx.user_name:
        errs.add("sysadmin", "Cannot modify your own sysadmin privileges")
    if user["name"] == models.SITE_USER_NAME:
        errs.add("sysadmin", "Cannot modify sysadmin privileges for system user")


@action("user_create")
def user_create(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Create a new user (sysadmins only on this site: ``ckan.auth.create_user_via_api=false``).

    :param name: the new user's name (2-100 characters, lowercase alphanumeric, ``-`` and ``_``)
    :param email: the new user's email address
    :param password: the new user's password (at least 8 characters)
    :param id: the new user's id (sysadmins only, a UUID; optional)
    :param fullname: the user's full name (optional)
    :param about: a description of the user, without links (optional)
    :param image_url: the URL of the user's picture (optional)
    :param sysadmin, state, plugin_extras, password_hash: sysadmins only (optional)
    :returns: the new user, including ``email`` and ``apikey``
    :rtype: dictionary
    """
    if not (ctx.ignore_auth or authz.is_sysadmin(ctx)):
        raise authz.deny(f"User {ctx.user_name} not authorized to create users via the API")
    data = dict(data)
    if data.get("id") and (not (ctx.ignore_auth or authz.is_sysadmin(ctx)) or models.get_user(ctx.conn, data["id"])):
        data.pop("id")  # CKAN silently ignores an id it will not honour
    fields = _validate_user(ctx, data, existing=None)
    row = models.insert_user(ctx.conn, fields)
    row = models.get_user(ctx.conn, row["id"]) or row
    return models.user_dict(
        ctx,
        row,
        keep_email=True,
        include_plugin_extras=authz.is_sysadmin(ctx) and "plugin_extras" in fields,
    )


@action("user_show", read=True)
def user_show(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Return a user account.

    Either ``id`` should be passed or the caller should be logged in.

    :param id: the id or name of the user (optional)
    :param include_datasets: include up to 50 datasets the user created (optional, default False)
    :param include_num_followers: include the number of followers (optional, default False)
    :param include_password_hash: include the stored password hash (sysadmins only)
    :param include_plugin_extras: include the plugin extras object (sysadmins only)
    :returns: the user; ``email`` and ``apikey`` only for the user themself and sysadmins
    :rtype: dictionary
    """
    ident = data.get("id") if "id" in data else ctx.user_name
    row = models.get_user(ctx.conn, ident) if ident else None
    if row is None:
        raise errors.NotFound()
    sysadmin = authz.is_sysadmin(ctx)
    out = models.user_dict(
        ctx,
        row,
        include_password_hash=sysadmin and as_bool(data.get("include_password_hash")),
        include_plugin_extras=sysadmin and as_bool(data.get("include_plugin_extras")),
    )
    if as_bool(data.get("include_datasets")):
        own = sysadmin or authz.is_self(ctx, row)
        query: dict[str, Any] = {"fq": f"+creator_user_id:{row['id']}", "rows": 50}
        if own:
            query.update(include_private=True, include_drafts=True)
        try:
            out["datasets"] = ctx.call("package_search", query)["results"]
        except errors.InternalError:  # no search family on this server
            out["datasets"] = []
    if as_bool(data.get("include_num_followers")):
        out["num_followers"] = 0  # following is not implemented; nobody follows anyone
    return out


@action("user_list", read=True)
def user_list(ctx: Context, data: dict[str, Any]) -> list[Any]:
    """Return the site's user accounts (deleted ones excluded).

    :param q: only users whose name or full name (or email, for sysadmins) contains this
    :param email: only users with this email (sysadmins only)
    :param order_by: ``display_name`` (default), ``id``, ``name``, ``fullname``, ``created``,
        ``about``, ``sysadmin`` or ``number_created_packages``
    :param all_fields: full user dictionaries instead of names (optional, default True)
    :param include_site_user: include the site user (optional, default False)
    :rtype: list of dictionaries or strings
    """
    if data.get("email") and not (ctx.ignore_auth or authz.is_sysadmin(ctx)):
        raise authz.deny()
    order_by = data.get("order_by") or "display_name"
    if order_by == "edits":
        raise errors.ValidationError({"message": "order_by=edits is no longer supported"})
    where = ["state != 'deleted'"]
    params: list[Any] = []
    if not as_bool(data.get("include_site_user")):
        where.append("name != ?")
        params.append(models.SITE_USER_NAME)
    q = data.get("q")
    if q:
        like = f"%{q}%"
        terms = ["name LIKE ?", "fullname LIKE ?"]  # SQLite LIKE is ASCII case-insensitive
        params += [like, like]
        if authz.is_sysadmin(ctx):
            terms.append("email LIKE ?")
            params.append(like)
        where.append("(" + " OR ".join(terms) + ")")
    if data.get("email"):
        where.append("email = ?")
        params.append(data["email"])
    count_sql = (
        '(SELECT count(*) FROM package p WHERE p.creator_user_id = "user".id '
        "AND p.state = 'active' AND p.private = 0)"
        if models._table_exists(ctx.conn, "package")
        else "0"
    )
    # CKAN's Postgres sorts bytewise (C collation) with NULLs last. Its tie-break on name only
    # applies to number_created_packages: for fullname/about/sysadmin it compares a column with
    # a string, which is never true, so those sort on the column alone.
    if order_by == "number_created_packages":
        order = f"{count_sql}, name"
    elif order_by in _ORDER_COLUMNS and order_by != "display_name":
        order = f"{order_by} IS NULL, {order_by}, rowid"
    else:
        order = _DISPLAY_NAME_SQL
    rows = ctx.conn.execute(f'SELECT * FROM "user" WHERE {" AND ".join(where)} ORDER BY {order}', params).fetchall()
    if not as_bool(data.get("all_fields", True)):
        return [r["name"] for r in rows]
    return [models.user_dict(ctx, dict(r)) for r in rows]


def _user_or_404(ctx: Context, ident: Any) -> dict[str, Any]:
    row = models.get_user(ctx.conn, ident)
    if row is None:
        raise errors.NotFound("Not found: User was not found.")
    return row


@action("user_update")
def user_update(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Update a user account.

    Users may update their own account; sysadmins any account and user names. Fields not given
    keep their value, but ``email`` is required (use ``user_patch`` to change one field).

    :param id: the id or name of the user to update
    :param email: the user's email address
    :returns: the updated user
    :rtype: dictionary
    """
    (ident,) = get_or_bust(data, "id")
    row = _user_or_404(ctx, ident)
    authz.check_update_user(ctx, row)
    fields = _validate_user(ctx, data, existing=row)
    fields.pop("id", None)
    models.update_user(ctx.conn, row["id"], fields)
    updated = models.get_user(ctx.conn, row["id"]) or row
    return models.user_dict(
        ctx,
        updated,
        include_plugin_extras=authz.is_sysadmin(ctx) and "plugin_extras" in fields,
    )


@action("user_patch")
def user_patch(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Update only the given fields of a user account (see ``user_update``).

    :param id: the id or name of the user to patch
    :returns: the updated user
    :rtype: dictionary
    """
    (ident,) = get_or_bust(data, "id")
    current = ctx.call("user_show", {"id": ident})
    current.pop("display_name", None)
    # user_show's computed keys are not fields; the rest is resubmitted as CKAN does.
    for key in ("email_hash", "number_created_packages", "image_display_url", "apikey"):
        current.pop(key, None)
    current.update(data)
    updated: dict[str, Any] = user_update(ctx, current)
    return updated


@action("user_delete")
def user_delete(ctx: Context, data: dict[str, Any]) -> None:
    """Delete a user (sysadmins only). The account's state becomes ``deleted``; its name stays
    taken and its memberships are removed.

    :param id: the id or name of the user to delete
    """
    authz.check_sysadmin(ctx)
    (ident,) = get_or_bust(data, "id")
    row = models.get_user(ctx.conn, ident)
    if row is None:
        raise errors.NotFound(f'Not found: User "{ident}" was not found.')
    models.update_user(ctx.conn, row["id"], {"state": "deleted"})
    ctx.conn.execute(
        "UPDATE member SET state = 'deleted' WHERE table_name = 'user' AND table_id = ?",
        (row["id"],),
    )


# --------------------------------------------------------------------------- API tokens


@action("api_token_create")
def api_token_create(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Create an API token for a user (yourself, or anyone for sysadmins).

    :param user: the name or id of the user who owns the new token
    :param name: a name for the token
    :returns: ``{"token": ...}`` (CKAN 2.12 also returns the token's ``id``)
    :rtype: dictionary
    """
    user_ref, _name = get_or_bust(data, "user", "name")
    owner = models.get_user(ctx.conn, user_ref)
    if owner is None:
        raise errors.NotFound("Not found: User not found")
    if not (ctx.ignore_auth or authz.is_sysadmin(ctx) or authz.is_self(ctx, owner)):
        raise authz.deny()
    errs = Errors()
    for key in ("name", "user"):
        if is_empty(data.get(key)):
            errs.add(key, MISSING)
    errs.raise_if_any()
    token, jti = models.create_token(ctx.conn, owner["id"], str(data["name"]))
    if ctx.version == "2.12":
        return {"token": token, "id": jti}
    return {"token": token}


@action("api_token_list", read=True)
def api_token_list(ctx: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Return a user's API tokens (yours, or anyone's for sysadmins).

    :param user_id: the name or id of the user (``user`` is accepted too)
    :rtype: list of dictionaries
    """
    ref = data.get("user_id", data.get("user"))
    if not ref:
        raise errors.ValidationError({"user_id": [MISSING]})
    owner = models.get_user(ctx.conn, ref)
    if not (ctx.ignore_auth or authz.is_sysadmin(ctx) or (owner is not None and authz.is_self(ctx, owner))):
        raise authz.deny()
    if owner is None:
        raise errors.NotFound("Not found: User not found")
    rows = ctx.conn.execute(
        "SELECT * FROM api_token WHERE user_id = ? ORDER BY created_at, rowid", (owner["id"],)
    ).fetchall()
    return [models.token_dict(r) for r in rows]


@action("api_token_revoke")
def api_token_revoke(ctx: Context, data: dict[str, Any]) -> None:
    """Revoke an API token, given by its ``jti`` (id) or the ``token`` itself.

    :param jti: the id of the token (optional if ``token`` is given)
    :param token: the token (optional if ``jti`` is given)
    """
    jti = data.get("jti")
    if not jti:
        (token,) = get_or_bust(data, "token")
        jti = models.token_jti(token)
    row = ctx.conn.execute("SELECT * FROM api_token WHERE id = ?", (jti,)).fetchone() if isinstance(jti, str) else None
    owned = ctx.user is not None and row is not None and row["user_id"] == ctx.user_id
    if not (ctx.ignore_auth or authz.is_sysadmin(ctx) or owned):
        raise authz.deny()
    if row is not None:
        ctx.conn.execute("DELETE FROM api_token WHERE id = ?", (jti,))


@action("user_autocomplete", read=True)
def user_autocomplete(ctx: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Return users whose name or full name (or email, for sysadmins) contain a string.

    :param q: the string to search for
    :param limit: the maximum number of users to return (optional, default 20)
    :param ignore_self: leave the caller out (optional, default False)
    :rtype: list of ``{"id", "name", "fullname"}`` dictionaries
    """
    (q,) = get_or_bust(data, "q")
    errs = Errors()
    limit = as_int(data.get("limit", 20), "limit", errs)
    errs.raise_if_any()
    like = f"%{q}%"
    terms = ["name LIKE ?", "fullname LIKE ?"]
    params: list[Any] = [like, like]
    if authz.is_sysadmin(ctx):
        terms.append("email LIKE ?")
        params.append(like)
    sql = f"SELECT id, name, fullname FROM \"user\" WHERE ({' OR '.join(terms)}) AND state != 'deleted'"
    if as_bool(data.get("ignore_self")) and ctx.user is not None:
        sql += " AND name != ?"
        params.append(ctx.user_name)
    rows = ctx.conn.execute(sql + " ORDER BY rowid LIMIT ?", (*params, 20 if limit is None else limit))
    return [{"id": r["id"], "name": r["name"], "fullname": r["fullname"]} for r in rows]


@action("get_site_user", read=True)
def get_site_user(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Return the site user's name and API key (internal: sysadmins only over the API).

    :rtype: dictionary
    """
    if not (ctx.ignore_auth or authz.is_sysadmin(ctx)):
        raise authz.deny("Only internal services allowed to use this action")
    row = models.get_user(ctx.conn, models.SITE_USER_NAME)
    if row is None:  # created at startup; only a hand-edited database lacks it
        raise errors.NotFound()
    return {"name": row["name"], "apikey": row["apikey"]}
