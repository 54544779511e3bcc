"""Dataset actions: package_* , dataset_purge, package_list, bulk updates, activity, tags, vocabularies.

Each action: parameters -> authorization -> validation (:mod:`.packages`) -> storage
(:mod:`.models`) -> the dict CKAN returns; the whole action is one transaction. Resource actions
and uploads live in :mod:`.resources`.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

from .. import errors
from ..context import Context, now_iso
from ..registry import action
from . import models, revise
from . import validation as v
from .packages import authz_module, prepare

# ---------------------------------------------------------------- helpers shared with resources


def not_authorized(ctx: Context, what: str) -> errors.NotAuthorized:
    """CKAN's "Access denied: User <name> not authorized to <what>" (anonymous: empty name)."""
    return errors.NotAuthorized(f"Access denied: User {ctx.user_name} not authorized to {what}")


def require_id(data: dict[str, Any], key: str = "id") -> str:
    """CKAN's ``_get_or_bust``: the parameter as text, or ``{key: ["Missing value"]}`` (409)."""
    value = data.get(key)
    if v.is_missing_or_empty(value):
        raise errors.ValidationError({key: [v.MISSING_VALUE]})
    return str(value)


def load_package(ctx: Context, name_or_id: Any, message: str = "Not found") -> dict[str, Any]:
    """The full dict of a dataset by id or name, or NotFound."""
    row = models.find_package_row(ctx.conn, name_or_id) if isinstance(name_or_id, str) else None
    if row is None:
        raise errors.NotFound(message)
    pkg = models.package_dict(ctx.conn, row["id"])
    assert pkg is not None
    return pkg


def can_read(ctx: Context, pkg: dict[str, Any]) -> bool:
    """May the caller see this dataset (``package_show`` auth)?"""
    if ctx.ignore_auth or ctx.is_sysadmin:
        return True
    return bool(authz_module().can_read_package(ctx, pkg))


def can_edit(ctx: Context, pkg: dict[str, Any]) -> bool:
    """May the caller change this dataset or its resources (``package_update`` auth)?"""
    if ctx.ignore_auth or ctx.is_sysadmin:
        return True
    return bool(authz_module().can_edit_package(ctx, pkg))


def check_read(ctx: Context, pkg: dict[str, Any]) -> None:
    """Raise CKAN's "not authorized to read package" unless :func:`can_read`."""
    if not can_read(ctx, pkg):
        raise not_authorized(ctx, f"read package {pkg['id']}")


def check_edit(ctx: Context, pkg: dict[str, Any], data: dict[str, Any] | None = None) -> None:
    """CKAN's package_update auth, including the rights on any group being added."""
    if ctx.ignore_auth or ctx.is_sysadmin:
        return
    current = [g["id"] for g in pkg.get("groups") or []]
    authz_module().check_edit_package(ctx, pkg, data, current)


def int_param(data: dict[str, Any], key: str, default: int | None) -> int | None:
    """An integer parameter (``int_validator`` + ``natural_number``-like messages)."""
    if key not in data or data[key] in (None, ""):
        return default
    num, err = v.int_or_error(data[key])
    if err or num is None:
        raise errors.ValidationError({key: ["Invalid integer"]})
    return num


def reindex(ctx: Context, pkg: dict[str, Any]) -> None:
    """Update the search index with ``pkg`` once the transaction commits."""
    from ..search import indexing

    server = ctx.server
    snapshot = copy.deepcopy(pkg)
    ctx.after_commit(lambda: indexing.index_package(server, snapshot))


def unindex(ctx: Context, package_id: str) -> None:
    """Drop a purged dataset from the search index once the transaction commits."""
    from ..search import indexing

    server = ctx.server
    ctx.after_commit(lambda: indexing.remove_package(server, package_id))


def record_activity(ctx: Context, pkg: dict[str, Any], activity_type: str) -> None:
    """The activity plugin's entry for a dataset write (any write to a deleted dataset is a
    "deleted package" activity, as CKAN 2.11 records it)."""
    if pkg.get("state") == "deleted":
        activity_type = "deleted package"
    models.add_activity(
        ctx.conn,
        timestamp=now_iso(),
        user_id=ctx.user_id,
        actor=ctx.user["name"] if ctx.user else None,
        package=pkg,
        activity_type=activity_type,
    )


def viewer_labels(ctx: Context) -> list[str] | None:
    """CKAN's permission labels of the caller (None: sees everything, i.e. sysadmins)."""
    if ctx.ignore_auth or ctx.is_sysadmin:
        return None
    if ctx.user is None:
        return ["public"]
    labels = ["public", f"creator-{ctx.user_id}"]
    labels.extend(f"member-{org_id}" for org_id in authz_module().user_org_ids(ctx, "read"))
    return labels


def write_package(ctx: Context, data: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
    """Validate and store a whole dataset (create or full update); returns the stored dict."""
    now = now_iso()
    prepared = prepare(ctx, data, existing, now)
    if prepared.errors:
        raise errors.ValidationError(prepared.errors)
    for res in prepared.resources:
        res.pop("position", None)
    renamed = models.rename_deleted_holders(ctx.conn, prepared.row["name"], prepared.row["id"])
    models.save_package(
        ctx.conn,
        row=prepared.row,
        core=prepared.core,
        resources=prepared.resources,
        tags=prepared.tags,
        insert=existing is None,
    )
    sync_groups(ctx, prepared.row["id"], prepared.group_ids)
    pkg = models.package_dict(ctx.conn, prepared.row["id"])
    assert pkg is not None
    if existing is None and ctx.version == "2.12":
        # 2.12's package_create answers before a reload: extras in the order they were given
        pkg["extras"] = [{"key": e["key"], "value": e["value"]} for e in prepared.core["extras"]]
    record_activity(ctx, pkg, "new package" if existing is None else "changed package")
    reindex(ctx, pkg)
    for other in models.package_dicts(ctx.conn, renamed):
        reindex(ctx, other)
    return pkg


def sync_groups(ctx: Context, package_id: str, wanted: list[str]) -> None:
    """Make the dataset's group memberships exactly ``wanted``.

    Memberships live in the organizations family's ``member`` table. Its ``member_create`` for a
    dataset delegates back to ``package_patch``, so going through that action here would recurse;
    instead this uses its model function ``upsert_member`` to add, and marks removed memberships
    deleted (what its ``member_delete`` does).
    """
    from ..organizations import models as org_models

    current = models.group_ids_of_package(ctx.conn, package_id)
    removed = [gid for gid in current if gid not in wanted]
    if removed:
        models.drop_package_memberships(ctx.conn, package_id, removed)
    for gid in wanted:
        if gid not in current:
            org_models.upsert_member(ctx.conn, gid, "package", package_id, "public")


# ---------------------------------------------------------------- package actions


@action("package_show", read=True)
def package_show(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Show a dataset (any state to those who may edit it; active ones to readers)."""
    name_or_id = data.get("id") or data.get("name_or_id")
    if v.is_missing_or_empty(name_or_id):
        raise errors.ValidationError({"name_or_id": [v.MISSING_VALUE]})
    pkg = load_package(ctx, str(name_or_id))
    check_read(ctx, pkg)
    return pkg


@action("package_create")
def package_create(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Create a dataset; ``owner_org`` is required (stock CKAN configuration)."""
    if not (ctx.ignore_auth or ctx.is_sysadmin):
        authz_module().check_create_package(ctx, data)
    return write_package(ctx, data, None)


@action("package_update")
def package_update(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Replace a dataset: fields, resources, extras, tags and groups left out are dropped."""
    ref = data.get("id") or data.get("name")
    if v.is_missing_or_empty(ref):
        raise errors.ValidationError({"id": v.MISSING_VALUE})
    existing = load_package(ctx, str(ref), "Not found: Package was not found.")
    check_edit(ctx, existing, data)
    payload = dict(data)
    if data.get("id") and data["id"] != existing["id"] and data["id"] != existing["name"]:
        raise errors.ValidationError(
            {"id": [f"Cannot change value of key from {existing['id']} to {data['id']}. This key is read-only"]}
        )
    payload.pop("id", None)
    payload.setdefault("name", existing["name"])
    pkg = write_package(ctx, payload, existing)
    if ctx.version == "2.12" and ctx.extra.get("action_name") == "package_update":
        # 2.12 adds this to the envelope of a package_update call (not of patch/revise)
        ctx.extra["changed_entities"] = {"packages": [pkg["id"]]}
    return pkg


@action("package_patch")
def package_patch(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Update only the fields given (lists given replace the whole list)."""
    ref = data.get("id") or data.get("name")
    if v.is_missing_or_empty(ref):
        raise errors.ValidationError({"id": [v.MISSING_VALUE]})
    existing = load_package(ctx, str(ref))
    check_edit(ctx, existing, data)
    merged = {**existing, **{k: val for k, val in data.items() if k != "id"}}
    return write_package(ctx, merged, existing)


@action("package_revise")
def package_revise(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """CKAN's package_revise: ``match`` / ``filter`` / ``update`` / flattened keys / ``include``."""
    params = revise.parse(data)
    match, match_flat = params["match"], params["match__"]
    ref = match_flat.get("id") or match.get("id") or match_flat.get("name") or match.get("name")
    if ref is None:
        raise errors.ValidationError({"match__id": v.MISSING_VALUE})
    orig = load_package(ctx, str(ref))
    check_read(ctx, orig)
    unmatched: list[tuple[Any, ...]] = []
    if "match" in data:
        unmatched.extend(revise.check_dict(orig, match))
    for key, value in sorted(match_flat.items()):
        try:
            unmatched.extend(revise.check_string_key(orig, key, value))
        except revise.DataError as exc:
            raise errors.ValidationError({f"match__{key}": [str(exc)]}) from exc
    if unmatched:
        raise errors.ValidationError({"match": ["__".join(str(p) for p in path) for path in unmatched]})
    if params["filter"] is not None:
        keep_id = orig["id"]
        revise.filter_glob_match(orig, params["filter"])
        orig["id"] = keep_id
    if params["update"] is not None:
        try:
            revise.update_merge_dict(orig, params["update"])
        except revise.DataError as exc:
            raise errors.ValidationError({"update": [str(exc)]}) from exc
    # extend first, so that later keys can address the resources just added
    for key, value in sorted(
        params["update__"].items(), key=lambda kv: kv[0][-6] if kv[0].endswith("extend") else kv[0]
    ):
        try:
            revise.update_merge_string_key(orig, key, value)
        except revise.DataError as exc:
            raise errors.ValidationError({key: [str(exc)]}) from exc
    current = load_package(ctx, orig["id"])
    check_edit(ctx, current, orig)
    payload = dict(orig)
    payload.pop("id", None)
    from .resources import write_with_uploads

    result: dict[str, Any] = {"package": write_with_uploads(ctx, payload, current)}
    if params["include"] is not None:
        revise.filter_glob_match(result, params["include"])
    return result


@action("package_delete")
def package_delete(ctx: Context, data: dict[str, Any]) -> None:
    """Mark a dataset deleted (its name becomes free again, as on CKAN 2.11)."""
    ref = require_id(data)
    pkg = load_package(ctx, ref)
    check_edit(ctx, pkg)
    # CKAN leaves metadata_modified as it was when a dataset is deleted, and takes it out of
    # its groups
    models.set_package_state(ctx.conn, pkg["id"], "deleted", pkg["metadata_modified"])
    group_ids = [g["id"] for g in pkg["groups"]]
    if group_ids:
        models.drop_package_memberships(ctx.conn, pkg["id"], group_ids)
    fresh = models.package_dict(ctx.conn, pkg["id"])
    assert fresh is not None
    record_activity(ctx, fresh, "deleted package")
    reindex(ctx, fresh)
    return None


@action("dataset_purge")
def dataset_purge(ctx: Context, data: dict[str, Any]) -> None:
    """Remove a dataset, its resources and uploaded files for good (sysadmins only)."""
    ref = require_id(data)
    if not (ctx.ignore_auth or ctx.is_sysadmin):
        if models.find_package_row(ctx.conn, ref) is None:
            raise errors.NotFound("Not found: Dataset was not found")
        raise errors.NotAuthorized("Access denied")
    row = models.find_package_row(ctx.conn, ref)
    if row is None:
        raise errors.NotFound("Not found: Dataset was not found")
    removed = models.purge_package(ctx.conn, row["id"])
    ctx.conn.execute("DELETE FROM package_activity WHERE object_id = ?", (row["id"],))
    from .resources import delete_stored_file

    server = ctx.server
    for res in removed:
        if res.get("url_type") == "upload":
            rid = res["id"]
            ctx.after_commit(lambda rid=rid: delete_stored_file(server, rid))
    unindex(ctx, row["id"])
    return None


@action("package_list", read=True)
def package_list(ctx: Context, data: dict[str, Any]) -> list[str]:
    """Names of public, active datasets, by name; ``limit``/``offset`` page through them."""
    limit = int_param(data, "limit", None)
    offset = int_param(data, "offset", 0) or 0
    if limit is not None and limit < 0:
        raise errors.ValidationError({"limit": ["Must be a natural number"]})
    if offset < 0:
        raise errors.ValidationError({"offset": ["Must be a natural number"]})
    # CKAN applies limit/offset only when truthy: limit=0 means "all"
    return models.active_public_names(ctx.conn, limit or None, offset)


@action("current_package_list_with_resources", read=True)
def current_package_list_with_resources(ctx: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Active datasets with their resources, most recently modified first.

    Public ones only, except for sysadmins, who (as on CKAN) also get private ones.
    """
    # CKAN runs a package_search: 10 rows by default, at most 1000
    limit = int_param(data, "limit", 10)
    offset = int_param(data, "offset", 0) or 0
    if limit is not None and limit < 0:
        raise errors.ValidationError({"limit": ["Must be a natural number"]})
    limit = min(limit if limit is not None else 10, 1000)
    ids = models.active_ids_by_modified(ctx.conn, limit, offset, include_private=ctx.is_sysadmin)
    return models.package_dicts(ctx.conn, ids)


def _bulk(ctx: Context, data: dict[str, Any], apply: str) -> None:
    """CKAN's bulk_update_*: organization admins (and sysadmins) change many datasets at once.

    As on CKAN, missing parameters make it a no-op, and the datasets' ``metadata_modified`` is
    left alone (CKAN updates the rows directly).
    """
    datasets = data.get("datasets")
    org_ref = data.get("org_id")
    if isinstance(datasets, str):
        datasets = [datasets]
    allowed = ctx.ignore_auth or ctx.is_sysadmin
    if not allowed and org_ref not in (None, ""):
        allowed = authz_module().org_capacity(ctx, str(org_ref)) == "admin"
    if not allowed:
        raise errors.NotAuthorized("Access denied")
    if v.is_missing_or_empty(datasets) or v.is_missing_or_empty(org_ref):
        return
    from .packages import org_embed

    org = org_embed(ctx, str(org_ref))
    if org is None:
        raise errors.NotFound("Not found: package")
    for ref in datasets if isinstance(datasets, list) else [datasets]:
        row = models.find_package_row(ctx.conn, str(ref))
        if row is None or row["owner_org"] != org["id"]:
            continue
        if apply == "delete":
            models.set_package_state(ctx.conn, row["id"], "deleted", row["metadata_modified"])
        else:
            models.set_package_private(ctx.conn, row["id"], apply == "private", row["metadata_modified"])
        pkg = models.package_dict(ctx.conn, row["id"])
        assert pkg is not None
        reindex(ctx, pkg)


@action("bulk_update_private")
def bulk_update_private(ctx: Context, data: dict[str, Any]) -> None:
    """Make the given datasets of an organization private (organization admins)."""
    _bulk(ctx, data, "private")


@action("bulk_update_public")
def bulk_update_public(ctx: Context, data: dict[str, Any]) -> None:
    """Make the given datasets of an organization public (organization admins)."""
    _bulk(ctx, data, "public")


@action("bulk_update_delete")
def bulk_update_delete(ctx: Context, data: dict[str, Any]) -> None:
    """Delete the given datasets of an organization (organization admins)."""
    _bulk(ctx, data, "delete")


# ---------------------------------------------------------------- activity


@action("package_activity_list", read=True)
def package_activity_list(ctx: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """A dataset's activity stream, newest first (activity plugin)."""
    ref = require_id(data)
    pkg = load_package(ctx, ref)
    check_read(ctx, pkg)
    errs: dict[str, Any] = {}
    limit_raw, offset_raw = data.get("limit"), data.get("offset")
    limit, err = v.int_or_error(limit_raw)
    if err:
        errs["limit"] = ["Invalid integer", "Please enter an integer value"]
    offset, err = v.int_or_error(offset_raw)
    if err:
        errs["offset"] = ["Invalid integer", "Please enter an integer value"]
    if errs:
        raise errors.ValidationError(errs)
    limit = 31 if limit is None else min(limit, 100)
    offset = offset or 0
    include = data.get("activity_types")
    exclude = data.get("exclude_activity_types")
    if include is not None and exclude is not None:
        raise errors.ValidationError({"activity_types": ["Cannot be used together with `exclude_activity_types"]})
    bounds = {}
    for key in ("after", "before"):
        if data.get(key) not in (None, ""):
            try:
                stamp = float(data[key])
            except (TypeError, ValueError):
                raise errors.ValidationError({key: ["Invalid number"]}) from None
            moment = dt.datetime.fromtimestamp(stamp, dt.timezone.utc).replace(tzinfo=None)
            bounds[key] = moment.isoformat(timespec="microseconds")
    rows = models.activities(
        ctx.conn,
        pkg["id"],
        limit,
        offset,
        _as_list(exclude),
        viewer_labels(ctx),
        only_types=_as_list(include) if include is not None else None,
        after=bounds.get("after"),
        before=bounds.get("before"),
    )
    return [_activity_dict(r) for r in rows]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(x) for x in value]


# ---------------------------------------------------------------- tags and vocabularies


def _vocabulary_or_404(ctx: Context, ref: Any, message: str) -> Any:
    row = models.vocabulary_row(ctx.conn, str(ref)) if ref not in (None, "") else None
    if row is None:
        raise errors.NotFound(message)
    return row


def _tag_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "vocabulary_id": row["vocabulary_id"] or None,
        "display_name": row["name"],
    }


@action("tag_list", read=True)
def tag_list(ctx: Context, data: dict[str, Any]) -> list[Any]:
    """Free tags in use (or all tags of ``vocabulary_id``), optionally filtered by ``query``."""
    vocab_ref = data.get("vocabulary_id")
    vocab_id = None
    if vocab_ref not in (None, ""):
        vocab_id = _vocabulary_or_404(ctx, vocab_ref, f"Not found: could not find vocabulary '{vocab_ref}'")["id"]
    query = data.get("query") or data.get("q")
    if vocab_id is None:
        rows = models.tag_rows(ctx.conn, None, query)
    else:
        rows = [
            r
            for r in ctx.conn.execute("SELECT * FROM tag WHERE vocabulary_id = ? ORDER BY rowid", (vocab_id,))
            if not query or str(query).lower() in r["name"].lower()
        ]
    if v.boolean(data.get("all_fields")):
        return [_tag_dict(r) for r in rows]
    return [r["name"] for r in rows]


@action("tag_show", read=True)
def tag_show(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """One tag; ``include_datasets`` adds the datasets using it that the caller may read."""
    ref = require_id(data)
    vocab_ref = data.get("vocabulary_id")
    vocab_id = None
    if vocab_ref not in (None, ""):
        vocab_id = _vocabulary_or_404(ctx, vocab_ref, "Not found")["id"]
    row = models.find_tag(ctx.conn, ref, vocab_id)
    if row is None:
        raise errors.NotFound("Not found")
    out = _tag_dict(row)
    if v.boolean(data.get("include_datasets")):
        # CKAN asks its search index for "+capacity:public" datasets (at most 1000), whoever asks
        pkgs = models.package_dicts(ctx.conn, models.package_ids_with_tag(ctx.conn, row["id"]))
        out["packages"] = [p for p in pkgs if not p["private"]][:1000]
    return out


def _vocab_dict(ctx: Context, row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "tags": [
            {"id": t["id"], "name": t["name"], "vocabulary_id": row["id"], "display_name": t["name"]}
            for t in ctx.conn.execute("SELECT id, name FROM tag WHERE vocabulary_id = ? ORDER BY rowid", (row["id"],))
        ],
    }


def _require_sysadmin(ctx: Context) -> None:
    if not (ctx.ignore_auth or ctx.is_sysadmin):
        raise errors.NotAuthorized("Access denied")


def _vocab_tags(ctx: Context, vocab_id: str, tags: Any) -> None:
    if tags is None:
        return
    if not isinstance(tags, list) or not all(isinstance(t, dict) for t in tags):
        raise errors.ValidationError({"tags": ["Not a list"]})
    tag_errs: list[str] = []
    for tag in tags:
        name = tag.get("name")
        if v.is_missing_or_empty(name):
            tag_errs.append(v.MISSING_VALUE)
        else:
            tag_errs.extend(v.tag_errors(str(name)))
    if tag_errs:
        raise errors.ValidationError({"tags": tag_errs})
    wanted = [str(t["name"]) for t in tags]
    existing = {
        r["name"]: r["id"] for r in ctx.conn.execute("SELECT id, name FROM tag WHERE vocabulary_id = ?", (vocab_id,))
    }
    for name, tag_id in existing.items():
        if name not in wanted:
            _drop_tag(ctx, tag_id)
    for name in wanted:
        if name not in existing:
            models.tag_id_for(ctx.conn, name, vocab_id)


def _drop_tag(ctx: Context, tag_id: str) -> None:
    """Delete a tag everywhere and re-index the datasets that had it."""
    affected = models.package_ids_with_tag(ctx.conn, tag_id, any_state=True)
    models.delete_tag(ctx.conn, tag_id)
    for pkg in models.package_dicts(ctx.conn, affected):
        reindex(ctx, pkg)


def _vocab_name_errors(ctx: Context, name: Any, exclude_id: str | None) -> list[str]:
    if v.is_missing_or_empty(name):
        return [v.MISSING_VALUE]
    name = str(name)
    if len(name) < v.VOCAB_NAME_MIN:
        return [f"Name must be at least {v.VOCAB_NAME_MIN} characters long"]
    if len(name) > v.VOCAB_NAME_MAX:
        return [f"Name must be a maximum of {v.VOCAB_NAME_MAX} characters long"]
    row = ctx.conn.execute("SELECT id FROM vocabulary WHERE name = ? AND id != ?", (name, exclude_id or "")).fetchone()
    if row is not None:
        return ["That vocabulary name is already in use."]
    return []


@action("vocabulary_list", read=True)
def vocabulary_list(ctx: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """All tag vocabularies with their tags."""
    return [_vocab_dict(ctx, r) for r in ctx.conn.execute("SELECT * FROM vocabulary ORDER BY rowid")]


@action("vocabulary_show", read=True)
def vocabulary_show(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """One vocabulary by id or name."""
    ref = require_id(data)
    row = _vocabulary_or_404(ctx, ref, f'Not found: Could not find vocabulary "{ref}"')
    return _vocab_dict(ctx, row)


@action("vocabulary_create")
def vocabulary_create(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Create a vocabulary (sysadmins), optionally with ``tags``."""
    _require_sysadmin(ctx)
    name_errs = _vocab_name_errors(ctx, data.get("name"), None)
    if name_errs:
        raise errors.ValidationError({"name": name_errs})
    vocab_id = models.new_id()
    ctx.conn.execute("INSERT INTO vocabulary (id, name) VALUES (?, ?)", (vocab_id, str(data["name"])))
    _vocab_tags(ctx, vocab_id, data.get("tags"))
    return vocabulary_show(ctx, {"id": vocab_id})


@action("vocabulary_update")
def vocabulary_update(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Rename a vocabulary and/or replace its tags (sysadmins)."""
    _require_sysadmin(ctx)
    if "id" not in data:
        raise errors.ValidationError({"id": "id not in data"})
    ref = str(data["id"])
    row = _vocabulary_or_404(ctx, ref, f'Not found: Could not find vocabulary "{ref}"')
    if "name" in data:
        name_errs = _vocab_name_errors(ctx, data.get("name"), row["id"])
        if name_errs:
            raise errors.ValidationError({"name": name_errs})
        ctx.conn.execute("UPDATE vocabulary SET name = ? WHERE id = ?", (data["name"], row["id"]))
        if data["name"] != row["name"]:
            # the search index files vocabulary tags under the vocabulary's name
            affected = ctx.conn.execute(
                "SELECT DISTINCT pt.package_id FROM package_tag pt JOIN tag t ON t.id = pt.tag_id "
                "WHERE t.vocabulary_id = ?",
                (row["id"],),
            ).fetchall()
            for pkg in models.package_dicts(ctx.conn, [r["package_id"] for r in affected]):
                reindex(ctx, pkg)
    _vocab_tags(ctx, row["id"], data.get("tags"))
    return vocabulary_show(ctx, {"id": row["id"]})


@action("vocabulary_delete")
def vocabulary_delete(ctx: Context, data: dict[str, Any]) -> None:
    """Delete a vocabulary and its tags (sysadmins)."""
    _require_sysadmin(ctx)
    if "id" not in data:
        raise errors.ValidationError({"id": "id not in data"})
    ref = str(data["id"])
    row = _vocabulary_or_404(ctx, ref, f'Not found: Could not find vocabulary "{ref}"')
    tag_ids = [r["id"] for r in ctx.conn.execute("SELECT id FROM tag WHERE vocabulary_id = ?", (row["id"],))]
    for tag_id in tag_ids:
        _drop_tag(ctx, tag_id)
    ctx.conn.execute("DELETE FROM vocabulary WHERE id = ?", (row["id"],))
    return None


# ---------------------------------------------------------------- more tags, formats, activity


def _tag_search_rows(ctx: Context, data: dict[str, Any]) -> tuple[int, list[Any]]:
    """CKAN's ``_tag_search``: tags in use whose name contains every term (case-insensitive)."""
    terms = data.get("query", data.get("q"))
    if terms in (None, "", []):
        return 0, []
    if isinstance(terms, str):
        terms = [terms]
    vocab_ref = data.get("vocabulary_id")
    vocab_id = ""
    if vocab_ref not in (None, ""):
        vocab_id = _vocabulary_or_404(ctx, vocab_ref, f"Not found: could not find vocabulary '{vocab_ref}'")["id"]
    sql = (
        "SELECT DISTINCT tag.id, tag.name, tag.vocabulary_id FROM tag "
        "JOIN package_tag pt ON pt.tag_id = tag.id WHERE tag.vocabulary_id = ?"
    )
    params: list[Any] = [vocab_id]
    for term in terms:
        escaped = str(term).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        sql += " AND tag.name LIKE ? ESCAPE '\\'"  # SQLite's LIKE ignores ASCII case, as ILIKE
        params.append(f"%{escaped}%")
    rows = ctx.conn.execute(sql + " ORDER BY tag.rowid", params).fetchall()
    limit = int_param(data, "limit", 10)
    offset = int_param(data, "offset", 0) or 0
    page = rows[offset : offset + limit] if limit is not None else rows[offset:]
    return len(rows), page


@action("tag_search", read=True)
def tag_search(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Tags whose names contain the ``query`` term(s): ``{"count", "results"}``."""
    count, rows = _tag_search_rows(ctx, data)
    return {
        "count": count,
        "results": [{"id": r["id"], "name": r["name"], "vocabulary_id": r["vocabulary_id"] or None} for r in rows],
    }


@action("tag_autocomplete", read=True)
def tag_autocomplete(ctx: Context, data: dict[str, Any]) -> list[str]:
    """Names of the tags containing ``q`` (an empty list without ``q``)."""
    _count, rows = _tag_search_rows(ctx, {**data, "query": data.get("q")})
    return [r["name"] for r in rows]


@action("format_autocomplete", read=True)
def format_autocomplete(ctx: Context, data: dict[str, Any]) -> list[str]:
    """Resource formats containing ``q``, most used first, lower-cased (default ``limit`` 5)."""
    query = data.get("q")
    if v.is_missing_or_empty(query):
        raise errors.ValidationError({"q": [v.MISSING_VALUE]})
    limit = int_param(data, "limit", 5) or 5
    escaped = str(query).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = ctx.conn.execute(
        "SELECT json_extract(data, '$.format') AS fmt, COUNT(*) AS total FROM resource "
        "WHERE state = 'active' AND json_extract(data, '$.format') LIKE ? ESCAPE '\\' "
        "GROUP BY fmt ORDER BY total DESC, MIN(rowid) LIMIT ?",
        (f"%{escaped}%", limit),
    ).fetchall()
    return [str(r["fmt"]).lower() for r in rows]


@action("tag_create")
def tag_create(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Add a tag to a vocabulary (sysadmins); free tags are made through datasets."""
    _require_sysadmin(ctx)
    errs: dict[str, Any] = {}
    name = data.get("name")
    if v.is_missing_or_empty(name):
        errs["name"] = [v.MISSING_VALUE]
    else:
        name_errs = v.tag_errors(str(name))
        if name_errs:
            errs["name"] = [", ".join(name_errs)]
    vocab_ref = data.get("vocabulary_id")
    vocab = None
    if v.is_missing_or_empty(vocab_ref):
        errs["vocabulary_id"] = [v.MISSING_VALUE]
    else:
        vocab = ctx.conn.execute("SELECT id FROM vocabulary WHERE id = ?", (str(vocab_ref),)).fetchone()
        if vocab is None:
            errs["vocabulary_id"] = ["Tag vocabulary was not found."]
    if errs:
        raise errors.ValidationError(v.sort_error_dict(errs))
    assert vocab is not None
    existing = models.find_tag(ctx.conn, str(name), vocab["id"])
    if existing is not None and existing["vocabulary_id"] == vocab["id"]:
        raise errors.ValidationError({"name": [f"Tag {name} already belongs to vocabulary {vocab_ref}"]})
    tag_id = models.tag_id_for(ctx.conn, str(name), vocab["id"])
    return {**_tag_dict(models.find_tag(ctx.conn, tag_id, vocab["id"])), "packages": []}


@action("tag_delete")
def tag_delete(ctx: Context, data: dict[str, Any]) -> None:
    """Delete a tag (by id, or by name within ``vocabulary_id``) from every dataset (sysadmins)."""
    _require_sysadmin(ctx)
    ref = require_id(data)
    vocab_ref = data.get("vocabulary_id")
    vocab_id = None
    if vocab_ref not in (None, ""):
        vocab_id = _vocabulary_or_404(ctx, vocab_ref, "Not found")["id"]
    row = models.find_tag(ctx.conn, ref, vocab_id)
    if row is None:
        raise errors.NotFound(f'Not found: Could not find tag "{ref}"')
    _drop_tag(ctx, row["id"])


@action("package_owner_org_update")
def package_owner_org_update(ctx: Context, data: dict[str, Any]) -> None:
    """Move a dataset to another organization (sysadmins only; no activity, as on CKAN)."""
    if not (ctx.ignore_auth or ctx.is_sysadmin):
        raise errors.NotAuthorized("Access denied")
    pkg = load_package(ctx, data.get("id"), "Not found: Package was not found.")
    org_ref = data.get("organization_id")
    org_id = None
    if org_ref not in (None, ""):
        from .packages import org_embed

        org = org_embed(ctx, str(org_ref))
        if org is None:
            raise errors.NotFound("Not found: Organization was not found.")
        org_id = org["id"]
    models.set_owner_org(ctx.conn, pkg["id"], org_id)
    fresh = models.package_dict(ctx.conn, pkg["id"])
    assert fresh is not None
    reindex(ctx, fresh)


def _activity_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "timestamp": row["timestamp"],
        "user_id": row["user_id"],
        "object_id": row["object_id"],
        "activity_type": row["activity_type"],
        "data": json.loads(row["data"]),
        "permission_labels": json.loads(row["permission_labels"]),
    }


def _readable_activity(ctx: Context, data: dict[str, Any]) -> Any:
    ref = require_id(data)
    row = ctx.conn.execute("SELECT * FROM package_activity WHERE id = ?", (ref,)).fetchone()
    if row is None:
        raise errors.NotFound("Not found")
    pkg = models.package_dict(ctx.conn, row["object_id"])
    if pkg is not None and not can_read(ctx, pkg):
        raise not_authorized(ctx, f"read package {pkg['id']}")
    return row


@action("activity_show", read=True)
def activity_show(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """One dataset activity."""
    return _activity_dict(_readable_activity(ctx, data))


@action("activity_data_show", read=True)
def activity_data_show(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """The ``data`` of one dataset activity (``object_type`` picks one object out of it)."""
    body: dict[str, Any] = json.loads(_readable_activity(ctx, data)["data"])
    object_type = data.get("object_type")
    if object_type:
        if object_type not in body:
            raise errors.NotFound(f"Not found: Could not find object in the activity data: {object_type}")
        return body[object_type]  # type: ignore[no-any-return]
    return body


@action("recently_changed_packages_activity_list", read=True)
def recently_changed_packages_activity_list(ctx: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Activities of public, active datasets, newest first (default ``limit`` 31, at most 100)."""
    limit = int_param(data, "limit", 31)
    offset = int_param(data, "offset", 0) or 0
    limit = min(limit if limit is not None else 31, 100)
    rows = ctx.conn.execute(
        "SELECT a.* FROM package_activity a JOIN package p ON p.id = a.object_id "
        "WHERE p.private = 0 AND p.state = 'active' ORDER BY a.timestamp DESC LIMIT ? OFFSET ?",
        (limit, offset),
    ).fetchall()
    return [_activity_dict(r) for r in rows]


from . import resources as _resources  # noqa: E402,F401  (registers the resource actions)
