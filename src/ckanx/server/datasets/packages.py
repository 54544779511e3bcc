"""Turning a client's dataset dict into a validated, storable dataset (create and update).

:func:`prepare` reproduces what CKAN's package schema does to a ``package_create`` /
``package_update`` payload: it converts values, fills defaults, resolves the organization and
groups, checks every rule and collects CKAN's exact messages. The actions module then stores the
result with :func:`ckanx.server.datasets.models.save_package`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from starlette.datastructures import UploadFile

from . import models
from . import validation as v

if TYPE_CHECKING:
    from ..context import Context


@dataclass
class Prepared:
    """A validated dataset, split the way :func:`models.save_package` stores it."""

    row: dict[str, Any]
    core: dict[str, Any]
    resources: list[dict[str, Any]]
    tags: list[dict[str, Any]]
    group_ids: list[str]
    errors: dict[str, Any] = field(default_factory=dict)


def authz_module() -> Any:
    """The accounts family's ``authz`` module (imported late: it may load after this one)."""
    from .. import authz

    return authz


def org_embed(ctx: Context, name_or_id: str) -> dict[str, Any] | None:
    """The active organization as CKAN embeds it in a dataset, or None."""
    return models.find_org(ctx.conn, name_or_id)


def _owner_org(
    ctx: Context, data: dict[str, Any], existing: dict[str, Any] | None, errs: dict[str, Any]
) -> tuple[str | None, dict[str, Any] | None]:
    """``owner_org_validator``: (org id, embedded org) or an error in ``errs``."""
    if existing is not None and data.get("owner_org") is None:  # ignore_missing: null = left out
        return existing["owner_org"], None
    value = data.get("owner_org")
    if value is None or value == "":
        errs["owner_org"] = ["An organization must be provided"]
        return None, None
    org = org_embed(ctx, str(value))
    if org is None:
        errs["owner_org"] = ["Organization does not exist"]
        return None, None
    changing = existing is None or existing.get("owner_org") != org["id"]
    may_add = ctx.ignore_auth or ctx.is_sysadmin or authz_module().has_permission(ctx, org["id"], "create_dataset")
    if changing and not may_add:
        errs["owner_org"] = ["You cannot add a dataset to this organization"]
        return None, None
    return org["id"], org


def _extras(data: dict[str, Any], errs: dict[str, Any]) -> list[dict[str, Any]]:
    raw = data.get("extras") or []
    out: list[dict[str, Any]] = []
    item_errors: list[dict[str, Any]] = []
    live_keys: list[str] = []
    for extra in raw:
        e: dict[str, Any] = {}
        key = extra.get("key")
        if v.is_missing_or_empty(key):
            e["key"] = [v.MISSING_VALUE]
        elif str(key) in v.ROOT_SCHEMA_KEYS:
            e["key"] = ["There is a schema field with the same name"]
        if "value" not in extra:
            e["value"] = [v.MISSING_VALUE]
        item_errors.append(e)
        if extra.get("deleted"):
            continue
        if key is not None:
            live_keys.append(str(key))
        if not e and extra["value"] is not None:  # CKAN drops an extra whose value is null
            out.append({"key": str(key), "value": v.as_text(extra["value"])})
    if any(item_errors):
        errs["extras"] = item_errors
    duplicates = [k for k in dict.fromkeys(live_keys) if live_keys.count(k) > 1]
    if duplicates:
        errs["extras_validation"] = [f'Duplicate key "{duplicates[0]}"']
    return out


def _tags(ctx: Context, data: dict[str, Any], errs: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    name_errs: list[str] = []
    vocab_errs: list[dict[str, Any]] = []
    for tag in data.get("tags") or []:
        name = tag.get("name")
        entry_err: dict[str, Any] = {}
        if v.is_missing_or_empty(name):
            name_errs.append(v.MISSING_VALUE)
            vocab_errs.append({})
            continue
        name = str(name)
        this_tag = v.tag_errors(name)
        if this_tag:
            # CKAN reports one string per tag, its broken rules joined by ", "
            name_errs.append(", ".join(this_tag))
        vocab = tag.get("vocabulary_id")
        if vocab not in (None, ""):
            row = ctx.conn.execute("SELECT id FROM vocabulary WHERE id = ?", (str(vocab),)).fetchone()
            if row is None:
                entry_err["vocabulary_id"] = ["Tag vocabulary was not found."]
        else:
            vocab = None
        vocab_errs.append(entry_err)
        out.append({"name": name, "vocabulary_id": vocab})
    if any(vocab_errs):
        errs["tags"] = vocab_errs
    elif name_errs:
        errs["tags"] = name_errs
    tag_string = data.get("tag_string")
    if tag_string not in (None, ""):
        if isinstance(tag_string, str):
            names = [t.strip() for t in tag_string.split(",") if t.strip()]
        else:
            names = [str(t) for t in tag_string]
        ts_errs = [m for n in names for m in v.tag_errors(n)]
        if ts_errs:
            errs["tag_string"] = ts_errs[:1]
        out.extend({"name": n, "vocabulary_id": None} for n in names)
    return out


def _groups(ctx: Context, data: dict[str, Any]) -> list[str]:
    """Ids of the requested groups; CKAN silently skips groups that do not exist."""
    out: list[str] = []
    for grp in data.get("groups") or []:
        ref = grp.get("id") or grp.get("name")
        if not ref:
            continue
        row = models.find_group(ctx.conn, str(ref))
        if row is not None and row["id"] not in out:
            out.append(row["id"])
    return out


def normalize_resource(
    ctx: Context,
    raw: dict[str, Any],
    old: dict[str, Any] | None,
    package_id: str,
    now: str,
    guess_format: bool = True,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One resource of a dataset being written: (stored dict, errors).

    ``guess_format``: CKAN guesses an empty format from the URL only for resources the client
    sent without an id.

    ``old`` is the resource's current dict when ``raw`` names an existing resource of this
    dataset. CKAN then replaces the resource but, as its model saves only the columns present,
    keeps the stored value of most columns the new dict leaves out or sends as null; only
    ``description``, ``mimetype``, ``mimetype_inner``, ``resource_type`` and the free-form extras
    are dropped (checked on CKAN 2.11.6).
    """
    errs: dict[str, Any] = {}
    res: dict[str, Any] = {}
    if old is not None:
        res.update({k: old.get(k) for k in v.RESOURCE_CORE_KEYS if k not in _RESET_ON_REPLACE})
        res.update({k: None for k in _RESET_ON_REPLACE})
    else:
        res.update({k: None for k in v.RESOURCE_CORE_KEYS})
        res["created"] = now
        res["datastore_active"] = False
        res["hash"] = ""
        res["url"] = ""
    for key, value in raw.items():
        if key in ("id", "package_id", "position", "state", "metadata_modified", "upload", "clear_upload"):
            continue
        if old is not None and value is None and key in v.RESOURCE_CORE_KEYS and key not in _RESET_ON_REPLACE:
            continue  # ignore_missing: a null leaves the stored column alone
        if key == "size":
            num, err = v.int_or_error(value)
            if err:
                errs["size"] = [err]
            res["size"] = num
        elif key in v.RESOURCE_DATE_KEYS:
            if key == "created" and old is not None and value in (None, ""):
                continue
            date, err = v.iso_date(value)
            if err:
                errs[key] = [err]
            res[key] = date if (date or key != "created") else now
        elif key == "datastore_active":
            res[key] = value  # CKAN's schema only ignores it when missing: kept as sent
        elif key == "format":
            res[key] = value
        elif key == "url":
            res[key] = v.as_text(value).strip() if value is not None else None
        elif key in v.RESOURCE_TEXT_KEYS:
            res[key] = v.as_text(value)
        else:
            res[key] = value  # a resource extra, kept as given
    if res.get("url") is None:
        res["url"] = ""
    if res.get("hash") is None:
        res["hash"] = ""
    fmt = raw["format"] if raw.get("format") is not None else old.get("format") if old is not None else None
    if v.is_missing_or_empty(fmt) and old is None and guess_format:
        fmt = v.guess_format(str(res.get("url") or ""))
    res["format"] = v.clean_format(str(fmt)) if fmt else ""
    return res, errs


# Resource columns CKAN clears when a replacing resource dict leaves them out (see above).
_RESET_ON_REPLACE = ("description", "mimetype", "mimetype_inner", "resource_type", "metadata_modified")


def download_url(site_url: str, package_id: str, resource_id: str, filename: str) -> str:
    """Where CKAN serves an uploaded file."""
    return f"{site_url}/dataset/{package_id}/resource/{resource_id}/download/{filename}"


def _resources(
    ctx: Context,
    data: dict[str, Any],
    existing: dict[str, Any] | None,
    package_id: str,
    now: str,
    errs: dict[str, Any],
) -> list[dict[str, Any]]:
    if existing is not None and "resources" not in data and ctx.version == "2.12":
        # 2.12's package_update keeps the resources when the key is left out (2.11 drops them)
        return [dict(r) for r in existing["resources"]]
    old_by_id = {r["id"]: r for r in (existing or {}).get("resources", [])}
    flags = models.stored_resource_flags(ctx.conn, package_id) if existing is not None else {}
    out: list[dict[str, Any]] = []
    res_errors: list[dict[str, Any]] = []
    for raw in data.get("resources") or []:
        if existing is not None:
            raw = _update_time_resource(raw)
        rid = raw.get("id")
        e: dict[str, Any] = {}
        if rid in (None, ""):
            rid = models.new_id()
        else:
            rid = str(rid)
            if not v.is_uuid(rid):
                e["id"] = ["Invalid id provided"]
            elif models.resource_id_taken(ctx.conn, rid, package_id):
                e["id"] = ["Resource id already exists."]
        old = old_by_id.get(rid)
        given_id = raw.get("id") not in (None, "")
        res, res_errs = normalize_resource(ctx, {**raw, "id": rid}, old, package_id, now, guess_format=not given_id)
        e.update(res_errs)
        res["id"] = rid
        if res.get("url_type") == "upload":
            # CKAN serves the munged last path segment of whatever the url says
            filename = v.munge_filename(str(res["url"]).rsplit("/", 1)[-1])
            res["url"] = download_url(ctx.site_url, package_id, rid, filename)
        # CKAN bumps a resource's metadata_modified when a saved column or extra changes. A
        # resource created without datastore_active gets that extra (false) from package_show,
        # so the first later write of its dataset counts as a change too.
        if old is None:
            res["metadata_modified"] = now
            res[models.DS_FLAG_STORED] = "datastore_active" in raw
        else:
            changed = _differs(old, res) or not flags.get(rid, True)
            res["metadata_modified"] = now if changed else old.get("metadata_modified") or now
            res[models.DS_FLAG_STORED] = True
        out.append(res)
        res_errors.append(e)
    if any(res_errors):
        errs["resources"] = res_errors
    return out


def _update_time_resource(raw: dict[str, Any]) -> dict[str, Any]:
    """What CKAN's package_update does to each resource before validating it: a resource sent
    without a ``mimetype`` key gets one guessed from its URL's extension (or null), and
    ``clear_upload`` turns an upload back into a link."""
    out = dict(raw)
    if "mimetype" not in out:
        url = out.get("url")
        out["mimetype"] = v.guess_mimetype(str(url)) if isinstance(url, str) and url and urlparse(url).path else None
    if out.pop("clear_upload", None) and not isinstance(out.get("upload"), UploadFile):
        out["url_type"] = ""
    return out


def _differs(old: dict[str, Any], new: dict[str, Any]) -> bool:
    ignore = {"metadata_modified", "position", "state", "package_id"}
    keys = {k for k in set(old) | set(new) if not k.startswith(models.HIDDEN_PREFIX)} - ignore
    return any(old.get(k) != new.get(k) for k in keys)


def prepare(
    ctx: Context,
    data: dict[str, Any],
    existing: dict[str, Any] | None,
    now: str,
) -> Prepared:
    """Validate a ``package_create`` (``existing`` None) or ``package_update`` payload."""
    for key in ("tags", "extras", "resources", "groups"):
        v.check_sublist(data, key)
    errs: dict[str, Any] = {}
    creating = existing is None

    # id
    if creating:
        given = data.get("id")
        if given not in (None, ""):
            if not (ctx.is_sysadmin or ctx.ignore_auth):
                errs["id"] = ["The input field id was not expected."]
                package_id = models.new_id()
            elif not v.is_uuid(given):
                errs["id"] = ["Invalid id provided"]
                package_id = models.new_id()
            elif models.package_exists(ctx.conn, str(given)):
                errs["id"] = ["Dataset id already exists"]
                package_id = str(given)
            else:
                package_id = str(given)
        else:
            package_id = models.new_id()
    else:
        assert existing is not None
        package_id = existing["id"]

    # name
    name = data.get("name")
    if creating or "name" in data:
        if v.is_missing_or_empty(name):
            if creating:
                errs["name"] = [v.MISSING_VALUE]
            name = existing["name"] if existing else ""
        else:
            if not isinstance(name, (str, int, float)):
                name_errs = ["Names must be strings"]
                name = str(name)
            else:
                name = str(name)
                name_errs = v.name_errors(name)
            if models.name_in_use(ctx.conn, name, package_id):
                name_errs.append("That URL is already in use.")
            name_errs.extend(v.package_name_length_errors(name))
            if name_errs:
                errs["name"] = name_errs
    else:
        assert existing is not None
        name = existing["name"]

    core: dict[str, Any] = {}
    title = data.get("title")
    blank = v.is_missing_or_empty(title) or (isinstance(title, str) and not title.strip())
    core["title"] = name if blank else v.as_text(title)
    for key in v.PACKAGE_TEXT_FIELDS:
        value = v.as_text(data.get(key))
        if key in ("author_email", "maintainer_email") and isinstance(value, str):
            value = value.strip()
            key_errs = v.email_errors(value)
            if key_errs:
                errs[key] = key_errs
        if key == "version" and isinstance(value, str) and len(value) > v.VERSION_MAX:
            errs[key] = [f"Version must be a maximum of {v.VERSION_MAX} characters long"]
        core[key] = value

    owner_org, _organization = _owner_org(ctx, data, existing, errs)

    if existing is not None and data.get("private") is None:  # ignore_missing: null = left out
        private = bool(existing["private"])
    else:
        private = v.boolean(data.get("private"))

    state = existing["state"] if existing else "active"
    if data.get("state") not in (None, ""):
        may_set = ctx.is_sysadmin or ctx.ignore_auth
        if existing is not None and not may_set:
            may_set = bool(authz_module().can_edit_package(ctx, existing))
        if may_set:
            state = str(data["state"])

    ptype = data.get("type")
    if existing is not None:
        ptype = existing["type"]  # immutable on package_update
    elif v.is_missing_or_empty(ptype):
        ptype = "dataset"

    core["extras"] = _extras(data, errs)
    tags = _tags(ctx, data, errs)
    if existing is not None and "groups" not in data and ctx.version == "2.12":
        # 2.12's package_update keeps the groups when the key is left out (2.11 drops them)
        group_ids = [g["id"] for g in existing.get("groups") or []]
    else:
        group_ids = _groups(ctx, data)
    resources = _resources(ctx, data, existing, package_id, now, errs)

    row = {
        "id": package_id,
        "name": name,
        "type": str(ptype),
        "state": state,
        "private": private,
        "owner_org": owner_org,
        "creator_user_id": existing["creator_user_id"] if existing else ctx.user_id,
        "metadata_created": existing["metadata_created"] if existing else now,
        "metadata_modified": now,
    }
    return Prepared(row, core, resources, tags, group_ids, v.sort_error_dict(errs))
