"""The datastore_* actions: CKAN's parameters, validation, auth and result shapes per version.

Resources, datasets and permissions belong to other families and are reached through actions
(``resource_show``, ``package_show``, ``resource_create``, ``resource_patch``) and
:mod:`ckanx.server.authz`. Table data lives in :mod:`.models` (a separate ``datastore.db``); its
writes commit at the end of each action, after the catalog-side work of the same action
succeeded, and roll back with it when the action fails.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from typing import Any
from urllib.parse import urlencode

from .. import errors
from ..context import Context, now_iso
from ..errors import NotAuthorized, NotFound, ValidationError
from ..registry import action
from . import formats, fulltext, query, sqldialect, types
from .models import TABLE_METADATA, DataStore, Table, get_store, index_name, valid_field_name

ROWS_DEFAULT = 100
SQL_TIMEOUT = 60.0  # seconds, like a PostgreSQL statement_timeout
ROWS_MAX = 32000
SQL_ROWS_MAX = 32000
RW_URL_TYPES = ("datastore",)
READ_ONLY_MESSAGE = (
    "Cannot edit read-only resource because changes made may be lost. Use a resource created for "
    'editing e.g. with datastore_create or use "force=True" to ignore this warning.'
)
TRUE_STRINGS = {"true", "yes", "t", "y", "1", "on"}
_ALIAS_RE = re.compile(r"^[^\"%]{1,63}$")
MISSING = "Missing value"


class IntegrityError(errors.ActionError):
    """CKAN's 400 ``Integrity Error`` (a nested schema given a non-list), with ``data``."""

    status = 400
    type_name = "Integrity Error"

    def __init__(self, message: str, data: dict[str, Any]) -> None:
        super().__init__(message)
        self.data = data

    def error_body(self) -> dict[str, Any]:
        return {"__type": self.type_name, "message": self.message, "data": self.data}


# -- small validators (CKAN's navl ones, with their messages) -------------------------------


def to_bool(value: Any) -> bool:
    """CKAN's ``boolean_validator``: anything not recognisably true is False."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    return str(value).strip().lower() in TRUE_STRINGS


def to_int(value: Any) -> int | None:
    """CKAN's ``int_validator`` (``None`` = invalid)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def json_param(value: Any, key: str) -> Any:
    """CKAN's ``json_validator``: dicts and lists as they are, strings parsed."""
    if isinstance(value, (dict, list)):
        return value
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        raise ValidationError({key: ["Cannot parse JSON"]}) from None


def unicode_or_json(value: Any) -> Any:
    """CKAN's ``unicode_or_json_validator`` (for ``q``): a JSON object, else the string."""
    if value is None or isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return str(value)
    return parsed if isinstance(parsed, dict) else str(value)


def list_of_strings_or_string(value: Any, key: str) -> Any:
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise ValidationError({key: ["Not a list"]})
    for item in value:
        if not isinstance(item, (str, list)):
            raise ValidationError({key: [f"Neither a string nor a list: {item}"]})
    return value


def record_count_param(ctx: Context, data: dict[str, Any], out: dict[str, Any]) -> None:
    """``calculate_record_count``: 2.11 boolean (echoed only when given); 2.12 also "background"."""
    if ctx.version == "2.12":
        value = data.get("calculate_record_count", "background")
        if value == "background":
            out["calculate_record_count"] = "background"
        else:
            out["calculate_record_count"] = to_bool(value)
    elif "calculate_record_count" in data:
        out["calculate_record_count"] = to_bool(data["calculate_record_count"])


def extras(data: dict[str, Any], known: set[str]) -> dict[str, Any]:
    """Parameters outside the schema (CKAN's ``__extras``).

    A parameter literally named ``__junk`` makes CKAN's validation crash (500); so here too.
    """
    if "__junk" in data:
        raise errors.InternalError()
    return {k: v for k, v in data.items() if k not in known}


def sorted_echo(values: dict[str, Any]) -> dict[str, Any]:
    """Validated parameters in navl's (sorted) key order."""
    return {k: values[k] for k in sorted(values)}


# -- resources and permissions (other families, through actions) ------------------------------


def store(ctx: Context) -> DataStore:
    return get_store(ctx.server)


def resource_or_none(ctx: Context, resource_id: str) -> dict[str, Any] | None:
    try:
        return ctx.call("resource_show", {"id": resource_id}, ignore_auth=True)  # type: ignore[no-any-return]
    except (NotFound, ValidationError):
        return None


def package_of(ctx: Context, resource: dict[str, Any]) -> dict[str, Any]:
    return ctx.call("package_show", {"id": resource["package_id"]}, ignore_auth=True)  # type: ignore[no-any-return]


def _bypass(ctx: Context) -> bool:
    return ctx.ignore_auth or ctx.is_sysadmin


def can_read(ctx: Context, pkg: dict[str, Any]) -> bool:
    if _bypass(ctx):
        return True
    from .. import authz

    return bool(authz.can_read_package(ctx, pkg))


def can_edit(ctx: Context, pkg: dict[str, Any]) -> bool:
    if _bypass(ctx):
        return True
    from .. import authz

    return bool(authz.can_edit_package(ctx, pkg))


def denied(ctx: Context, verb: str, obj: str, ident: str) -> NotAuthorized:
    """CKAN's message for a refused datastore auth check, per version.

    ``verb``: "read" or "edit"; ``obj``: "resource" or "package".
    """
    if ctx.version == "2.12":
        auth = {"read": "resource_show", "edit": "resource_update"}[verb]
        if obj == "package":
            auth = "package_update"
        return NotAuthorized(
            f"Access denied: User {ctx.user_name} not authorized to perform {auth} on resource {ident}"
        )
    return NotAuthorized(f"Access denied: User {ctx.user_name} not authorized to {verb} {obj} {ident}")


def check_read(ctx: Context, resource_id: str) -> dict[str, Any]:
    """resource_show's permission; the resource dict."""
    res = resource_or_none(ctx, resource_id)
    if res is None:
        raise NotFound(f'Not found: Resource "{resource_id}" was not found.')
    if not can_read(ctx, package_of(ctx, res)):
        raise denied(ctx, "read", "resource", resource_id)
    return res


def check_edit(ctx: Context, resource_id: str) -> dict[str, Any]:
    """resource_update's permission (404 "Not found" for an unknown resource, as CKAN)."""
    res = resource_or_none(ctx, resource_id)
    if res is None:
        raise NotFound("Not found")
    if not can_edit(ctx, package_of(ctx, res)):
        raise denied(ctx, "edit", "resource", resource_id)
    return res


def check_read_only(res: dict[str, Any]) -> None:
    if res.get("url_type") not in RW_URL_TYPES:
        raise ValidationError({"read-only": [READ_ONLY_MESSAGE]})


def set_active(ctx: Context, resource_id: str, flag: bool) -> None:
    """Keep the resource's ``datastore_active`` in step with the table."""
    res = resource_or_none(ctx, resource_id)
    if res is None or bool(res.get("datastore_active")) == flag:
        return
    patch: dict[str, Any] = {"id": resource_id, "datastore_active": flag}
    if ctx.version == "2.12" and res.get("url_type") in RW_URL_TYPES:
        patch["last_modified"] = now_iso()
    if res.get("url") in ("_datastore_only_resource", "http://_datastore_only_resource"):
        # CKAN shows a DataStore-only resource's url as its dump link
        patch["url"] = f"{ctx.site_url}/datastore/dump/{resource_id}"
    ctx.call("resource_patch", patch, ignore_auth=True)


# -- datastore_create ---------------------------------------------------------------------------

CREATE_KEYS = {
    "resource_id",
    "id",
    "force",
    "aliases",
    "fields",
    "delete_fields",
    "primary_key",
    "indexes",
    "triggers",
    "calculate_record_count",
    "records",
    "resource",
    "include_records",
}


@action("datastore_create")
def datastore_create(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Create or alter a DataStore table (optionally creating its resource) and insert records."""
    data = dict(data)
    records = data.pop("records", None)
    resource = data.pop("resource", None)
    if "id" in data and "resource_id" not in data:
        data["resource_id"] = data.pop("id")
    else:
        data.pop("id", None)
    known = CREATE_KEYS if ctx.version == "2.12" else CREATE_KEYS - {"include_records"}
    scalars: dict[str, Any] = {}
    junk = extras(data, known)
    if junk:
        scalars["__extras"] = junk
    field_errors: dict[str, Any] = {}
    rid = data.get("resource_id")
    if rid is not None:
        rid = str(rid)
        scalars["resource_id"] = rid
        if resource_or_none(ctx, rid) is None:
            msg = f"Resource not found: {rid}" if ctx.version == "2.12" else "Not found: Resource"
            field_errors["resource_id"] = [msg]
    force = to_bool(data.get("force")) if "force" in data else False
    for key in ("aliases", "primary_key", "indexes"):
        if key in data:
            try:
                scalars[key] = list_of_strings_or_string(data[key], key)
            except ValidationError as exc:
                field_errors.update(exc.error_dict)
    scalars["delete_fields"] = to_bool(data.get("delete_fields", False))
    record_count_param(ctx, data, scalars)
    include_records = ctx.version == "2.12" and to_bool(data.get("include_records", False))
    fields_in = data.get("fields", [])
    if fields_in is None:
        fields_in = []
    if not isinstance(fields_in, list) or not all(isinstance(f, dict) for f in fields_in):
        bad = fields_in if not isinstance(fields_in, list) else next(f for f in fields_in if not isinstance(f, dict))
        raise IntegrityError(
            f"Only lists of dicts can be placed against subschema ('fields',), not {type(bad)}",
            {"fields": fields_in},
        )
    fields_echo = []
    field_list_errors: list[dict[str, Any]] = []
    for f in fields_in:
        item: dict[str, Any] = {}
        ferr: dict[str, Any] = {}
        fid = f.get("id")
        if fid is None or fid == "" or fid == []:
            ferr["id"] = [MISSING]
        else:
            item["id"] = str(fid) if not isinstance(fid, str) else fid
            if ctx.version == "2.12" and not valid_field_name(item["id"]):
                # 2.12 checks names in the schema (datastore_field_name validator)
                ferr["id"] = [f'"{item["id"]}" is not a valid field name']
        if "info" in f:
            item["info"] = f["info"]
        if "type" in f:
            item["type"] = f["type"]
        fields_echo.append(dict(sorted(item.items())))
        field_list_errors.append(ferr)
    if any(field_list_errors):
        field_errors["fields"] = field_list_errors
    if field_errors:
        raise ValidationError(field_errors)

    # auth (CKAN checks it before looking at resource / resource_id)
    if resource is not None and isinstance(resource, dict) and resource.get("package_id"):
        try:
            pkg = ctx.call("package_show", {"id": resource["package_id"]}, ignore_auth=True)
        except (NotFound, ValidationError):
            raise NotFound("Not found") from None
        if not can_edit(ctx, pkg):
            raise denied(ctx, "edit", "package", str(resource["package_id"]))
    elif rid is not None:
        check_edit(ctx, rid)
    elif not _bypass(ctx):
        raise NotFound("Not found")
    if resource is not None and rid is not None:
        raise ValidationError({"resource": ["resource cannot be used with resource_id"]})
    if resource is None and rid is None:
        raise ValidationError({"resource_id": ["resource_id or resource required"]})

    resource_echo = None
    if resource is not None:
        if not isinstance(resource, dict):
            raise ValidationError({"resource": ["Not a dict"]})
        resource_echo = dict(resource)
        has_url = "url" in resource_echo
        resource_echo.setdefault("url", "_datastore_only_resource")
        if ctx.version == "2.11":
            resource_echo.setdefault("mimetype", None)
        create_data = dict(resource)
        create_data.setdefault("url", "_datastore_only_resource")
        if not has_url:
            create_data["url_type"] = "datastore"
        created = ctx.call("resource_create", create_data, ignore_auth=True)
        if has_url:
            raise ValidationError({"resource": ["The datapusher has to be enabled."]})
        rid = created["id"]
    else:
        assert rid is not None
        res = resource_or_none(ctx, rid)
        assert res is not None
        if not force:
            check_read_only(res)

    aliases = query.get_list(scalars.get("aliases"))
    for alias in aliases:
        if not _ALIAS_RE.match(alias) or alias.startswith("_"):
            raise ValidationError({"alias": [f'"{alias}" is not a valid alias name']})
    if records is not None and not isinstance(records, list):
        raise ValidationError({"records": ["The first row is not a json object"]})
    if records and not isinstance(records[0], dict):
        raise ValidationError({"records": ["The first row is not a json object"]})

    ds = store(ctx)
    pk_raw = scalars.get("primary_key")
    idx_raw = scalars.get("indexes")
    with ds.write():
        inserted = ds.create(
            rid,
            fields_echo,
            records,
            query.get_list(pk_raw) if "primary_key" in scalars else None,
            query.get_list(idx_raw),
            aliases,
            scalars["delete_fields"],
            return_rows=include_records,
        )
        set_active(ctx, rid, True)

    out = sorted_echo(scalars)
    out.pop("resource_id", None)
    if resource_echo is None:
        out["resource_id"] = rid
    if fields_in or "fields" in data:
        out["fields"] = fields_echo
    if include_records and records:
        out["records"] = inserted
    if resource_echo is not None:
        out["resource"] = resource_echo
        out["resource_id"] = rid
    else:
        # CKAN: resource_id sits among the sorted scalars, then fields
        out = _resource_id_first(out)
    out["method"] = "insert"
    return out


def _resource_id_first(out: dict[str, Any]) -> dict[str, Any]:
    fields = out.pop("fields", None)
    rid = out.pop("resource_id")
    ordered = sorted_echo({**out, "resource_id": rid})
    if fields is not None:
        ordered["fields"] = fields
    return ordered


# -- datastore_upsert ---------------------------------------------------------------------------

UPSERT_KEYS = {
    "resource_id",
    "id",
    "force",
    "method",
    "calculate_record_count",
    "dry_run",
    "records",
    "include_records",
}


def _resource_id_param(data: dict[str, Any]) -> str:
    rid = data.get("resource_id", data.get("id"))
    if rid is None or rid == "" or rid == []:
        raise ValidationError({"resource_id": [MISSING]})
    return str(rid)


@action("datastore_upsert")
def datastore_upsert(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Insert, update or upsert records of an existing table."""
    data = dict(data)
    records = data.pop("records", None)
    rid = _resource_id_param(data)
    known = UPSERT_KEYS if ctx.version == "2.12" else UPSERT_KEYS - {"include_records"}
    echo: dict[str, Any] = {"resource_id": rid}
    junk = extras(data, known)
    if junk:
        echo["__extras"] = junk
    if "method" in data:
        method = data["method"]
        if method not in ("upsert", "insert", "update"):
            raise ValidationError({"method": ["Value must be one of ['upsert', 'insert', 'update']"]})
        echo["method"] = method
    else:
        method = "upsert"
    record_count_param(ctx, data, echo)
    if "dry_run" in data:
        echo["dry_run"] = to_bool(data["dry_run"])
    force = to_bool(data.get("force")) if "force" in data else False
    include_records = ctx.version == "2.12" and to_bool(data.get("include_records", False))

    res = check_edit(ctx, rid)
    if not force:
        check_read_only(res)
    ds = store(ctx)
    if ds.table(rid) is None:
        raise NotFound(f'Not found: Resource "{rid}" was not found.')
    if isinstance(records, dict):
        raise errors.InternalError()  # CKAN iterates the dict's keys and fails the same way
    written = ds.upsert(
        rid, records if records is not None else [], method, bool(echo.get("dry_run")), return_rows=include_records
    )
    out = sorted_echo(echo)
    if ctx.version == "2.11":
        if records:
            out["records"] = records
    elif include_records:
        # 2.12: the rows as stored (with _id and every column)
        out["records"] = written
    return out


# -- datastore_delete / datastore_records_delete ------------------------------------------------

DELETE_KEYS = {"resource_id", "id", "force", "calculate_record_count", "filters", "include_deleted_records"}


def _filterops_echo(filters: Any, table: Table) -> Any:
    """2.12's ``filterops`` echo: the parsed filter tree as ``{"op", "field", "value"}`` dicts."""

    def leaf(name: str, value: Any) -> dict[str, Any] | list[Any]:
        if isinstance(value, dict):
            items = [{"op": op, "field": name, "value": v} for op, v in value.items()]
            return items[0] if len(items) == 1 else {"op": "$and", "field": None, "value": items}
        if isinstance(value, list):
            if all(not isinstance(v, dict) for v in value):
                return {"op": "in", "field": name, "value": value}
            parts: list[Any] = [leaf(name, v) for v in value if isinstance(v, dict)]
            plain = [v for v in value if not isinstance(v, dict)]
            if plain:
                parts.append({"op": "in", "field": name, "value": plain})
            return {"op": "$or", "field": None, "value": parts}
        return {"op": "eq", "field": name, "value": value}

    def combine(value: dict[str, Any]) -> Any:
        parts: list[Any] = []
        for key, item in value.items():
            if key in ("$or", "$and"):
                sub = [combine(i) for i in item]
                if key == "$and":
                    parts.extend(sub)
                else:
                    parts.append({"op": "$or", "field": None, "value": sub})
            else:
                parts.append(leaf(key[1:] if key.startswith("$$") else key, item))
        return parts[0] if len(parts) == 1 else {"op": "$and", "field": None, "value": parts}

    if isinstance(filters, list):
        return {"op": "$or", "field": None, "value": [combine(f) for f in filters]}
    return combine(filters)


@action("datastore_delete")
def datastore_delete(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Drop a table, or delete the rows matching ``filters``."""
    data = dict(data)
    has_filters = "filters" in data
    filters = data.pop("filters", None)
    rid = _resource_id_param(data)
    if filters is not None and not isinstance(filters, dict):
        raise ValidationError({"filters": ["filters must be either a dict or null."]})
    known = DELETE_KEYS if ctx.version == "2.12" else DELETE_KEYS - {"include_deleted_records"}
    echo: dict[str, Any] = {"resource_id": rid}
    junk = extras(data, known)
    if junk:
        echo["__extras"] = junk
    if ctx.version == "2.11" and "calculate_record_count" in data:
        echo["calculate_record_count"] = to_bool(data["calculate_record_count"])
    force = to_bool(data.get("force")) if "force" in data else False
    res = check_edit(ctx, rid)
    if not force:
        check_read_only(res)
    ds = store(ctx)
    table = ds.table(rid)
    if table is None:
        raise NotFound(f'Not found: Resource "{rid}" was not found.')
    out = sorted_echo(echo)
    if filters is None:
        with ds.write():
            ds.drop(rid)
            set_active(ctx, rid, False)
        if has_filters:
            out["filters"] = None
        return out
    where, args = query.delete_where(table, filters, ctx.version)
    returning = ctx.version == "2.12" and to_bool(data.get("include_deleted_records", False))
    deleted = ds.delete_rows(table, where, args, returning)
    out["filters"] = filters
    if ctx.version == "2.12" and filters:
        out["filterops"] = _filterops_echo(filters, table)
    if returning:
        out["deleted_records"] = deleted
    return out


@action("datastore_records_delete")
def datastore_records_delete(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Delete the rows matching ``filters`` (required; ``{}`` deletes all) and keep the table."""
    if "filters" not in data:
        raise ValidationError({"filters": [MISSING]})
    if not isinstance(data["filters"], dict):
        raise ValidationError({"filters": ["Not a dict"]})
    return datastore_delete(ctx, data)


# -- datastore_info -----------------------------------------------------------------------------


@action("datastore_info", read=True)
def datastore_info(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Table metadata (size, count, aliases) and the data dictionary with each column's schema."""
    rid = data.get("resource_id", data.get("id"))
    if rid is None or rid == "":
        raise ValidationError({"resource_id": [MISSING]})
    rid = str(rid)
    ds = store(ctx)
    real = ds.resolve(rid)
    if real is None:
        raise NotFound(f'Not found: Resource/Alias "{rid}" was not found.')
    check_read(ctx, real)
    table = ds.table(real)
    assert table is not None
    include_meta = ctx.version == "2.11" or to_bool(data.get("include_meta", True))
    include_schema = ctx.version == "2.11" or to_bool(data.get("include_fields_schema", True))
    indexed: dict[str, str] = {}
    if table.primary_key:
        for col in table.primary_key:
            indexed.setdefault(col, index_name(real, table.primary_key, "pk"))
    for col in table.indexes:
        indexed.setdefault(col, index_name(real, [col], "idx"))
    fields = []
    for f in table.fields:
        item: dict[str, Any] = {"id": f["id"], "type": "nested" if f["type"] == "json" else f["type"]}
        if "info" in f:
            item["info"] = f["info"]
        if include_schema:
            item["schema"] = {
                "native_type": types.native_type(f["type"]),
                "notnull": False,
                "index_name": indexed.get(f["id"]),
                "is_index": f["id"] in indexed,
                "uniquekey": False,
            }
        fields.append(item)
    meta = {
        "id": real,
        "count": ds.count(real),
        "table_type": "BASE TABLE",
        "size": _table_size(ds, real),
        "db_size": _db_size(ds),
        "idx_size": 16384 * (1 + len(indexed)),
        "aliases": ds.aliases(real),
    }
    if ctx.version == "2.12":
        out: dict[str, Any] = {"fields": fields}
        if include_meta:
            out["meta"] = meta
        return out
    return {"meta": meta, "fields": fields}


def _table_size(ds: DataStore, rid: str) -> int:
    try:
        row = ds.conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name = ?", (rid,)).fetchone()
        return int(row[0] or 8192)
    except sqlite3.Error:  # dbstat not compiled in
        return 8192


def _db_size(ds: DataStore) -> int:
    page_size = ds.conn.execute("PRAGMA page_size").fetchone()[0]
    pages = ds.conn.execute("PRAGMA page_count").fetchone()[0]
    return int(page_size * pages)


# -- datastore_search ---------------------------------------------------------------------------

SEARCH_KEYS = {
    "resource_id",
    "id",
    "q",
    "plain",
    "filters",
    "language",
    "limit",
    "offset",
    "fields",
    "sort",
    "distinct",
    "include_total",
    "total_estimation_threshold",
    "records_format",
    "full_text",
}


def validate_search(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """The navl part of datastore_search: returns the validated, sorted parameters."""
    data = dict(data)
    if "id" in data and "resource_id" not in data:
        data["resource_id"] = data.pop("id")
    else:
        data.pop("id", None)
    known = SEARCH_KEYS | ({"include_next_page"} if ctx.version == "2.12" else set())
    out: dict[str, Any] = {}
    errs: dict[str, list[str]] = {}
    rid = data.get("resource_id")
    if rid is None or rid == "" or rid == []:
        errs["resource_id"] = [MISSING]
    else:
        out["resource_id"] = str(rid)
    if "q" in data and data["q"] not in (None, ""):
        out["q"] = unicode_or_json(data["q"])
    elif "q" in data:
        out["q"] = data["q"]
    for key in ("plain", "distinct"):
        if key in data:
            out[key] = to_bool(data[key])
    if "filters" in data:
        try:
            out["filters"] = json_param(data["filters"], "filters")
        except ValidationError as exc:
            errs.update(exc.error_dict)
    for key in ("language", "full_text"):
        if key in data:
            out[key] = str(data[key])
    limit = data.get("limit", ROWS_DEFAULT)
    ilimit = to_int(limit)
    if ilimit is None:
        errs["limit"] = ["Invalid integer", "Please enter an integer value"]
    elif ilimit < 0:
        errs["limit"] = ["Must be a natural number"]
    else:
        out["limit"] = min(ilimit, ROWS_MAX)
    if "offset" in data:
        offset = to_int(data["offset"])
        if offset is None:
            errs["offset"] = ["Invalid integer"]
        else:
            out["offset"] = offset
    for key in ("fields", "sort"):
        if key in data:
            try:
                out[key] = list_of_strings_or_string(data[key], key)
            except ValidationError as exc:
                errs.update(exc.error_dict)
    out["include_total"] = to_bool(data.get("include_total", True))
    if ctx.version == "2.11":
        tet = data.get("total_estimation_threshold")
        if tet is None:
            out["total_estimation_threshold"] = None
        else:
            value = to_int(tet)
            if value is None:
                errs["total_estimation_threshold"] = ["Invalid integer"]
            else:
                out["total_estimation_threshold"] = value
    else:
        out["include_next_page"] = to_bool(data.get("include_next_page", False))
    records_format = data.get("records_format", "objects")
    if records_format not in ("objects", "lists", "csv", "tsv"):
        errs["records_format"] = ["Value must be one of ['objects', 'lists', 'csv', 'tsv']"]
    else:
        out["records_format"] = records_format
    if errs:
        raise ValidationError(errs)
    junk = extras(data, known)
    if junk:
        out["__extras"] = junk
    return sorted_echo(out)


def run_search(ctx: Context, params: dict[str, Any], table: Table) -> tuple[query.Select, list[str] | None]:
    """Leftover-parameter checks (in CKAN's order) and the query."""
    junk = params.get("__extras")
    if junk:
        raise query.invalid("__extras", next(iter(junk)))
    if params.get("offset", 0) < 0:
        raise query.invalid("offset", params["offset"])
    return query.build(table, params, ctx.version)


def _links(ctx: Context, params: dict[str, Any]) -> dict[str, str]:
    """2.11's ``_links``: start and next page URLs from the request's query string."""
    base = "/api/3/action/datastore_search"
    pairs: list[tuple[str, str]] = list(ctx.extra.get("query_params", []))
    offset = params.get("offset", 0)
    start = [(k, v) for k, v in pairs if k != "offset"]
    nxt: list[tuple[str, str]] = []
    placed = False
    for k, v in pairs:
        if k == "offset":
            if not placed:
                nxt.append(("offset", str(offset + params["limit"])))
                placed = True
        else:
            nxt.append((k, v))
    if not placed:
        nxt.append(("offset", str(offset + params["limit"])))
    return {
        "start": base + ("?" + urlencode(start) if start else ""),
        "next": base + "?" + urlencode(nxt),
    }


def _result_fields(table: Table, columns: list[query.Column]) -> list[dict[str, Any]]:
    by_id = {f["id"]: f for f in table.field_dicts()}
    out = []
    for c in columns:
        if c.name in by_id:
            out.append(by_id[c.name])
        else:
            out.append({"id": c.name, "type": c.ctype})
    return out


@action("datastore_search", read=True)
def datastore_search(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Search a table: filters, full text, sort, paging, record formats."""
    params = validate_search(ctx, data)
    rid = params["resource_id"]
    ds = store(ctx)
    if rid == TABLE_METADATA:
        # whitelisted by CKAN: anyone may list the tables
        real: str | None = rid
    else:
        real = ds.resolve(rid)
        if real is None:
            raise NotFound(f'Not found: Resource "{rid}" was not found.')
        params["resource_id"] = real
        check_read(ctx, real)
    assert real is not None
    table = ds.table(real)
    assert table is not None
    select, _requested = run_search(ctx, params, table)
    limit = params["limit"]
    offset = params.get("offset", 0) or 0
    after: tuple[str, int] | None = None
    sql, args = select.sql(real, limit, offset, after)
    try:
        rows = ds.conn.execute(sql, args).fetchall()
    except sqlite3.Error as exc:
        raise ValidationError({"query": ["Invalid query"], "info": {"orig": [str(exc)]}}) from None
    records = formats.render(select.columns, rows, params["records_format"], millis=ctx.version == "2.12")
    out = {k: v for k, v in params.items() if k != "__extras"}
    if ctx.version == "2.12" and params.get("filters"):
        out["filterops"] = _filterops_echo(params["filters"], table)
    out["records"] = records
    out["fields"] = _result_fields(table, select.columns)
    if ctx.version == "2.11":
        out["_links"] = _links(ctx, params)
    if params["include_total"]:
        csql, cargs = select.count_sql(real)
        out["total"] = int(ds.conn.execute(csql, cargs).fetchone()[0])
        if ctx.version == "2.11":
            # CKAN estimates (from table statistics) only for unfiltered, non-distinct searches
            # whose estimate reaches the threshold; the count here is always exact
            threshold = params.get("total_estimation_threshold")
            out["total_was_estimated"] = bool(
                threshold is not None and not select.where and not select.distinct and out["total"] >= threshold
            )
    if ctx.version == "2.12" and params.get("include_next_page") and rows and select.keyset:
        # keyset paging on _id: the filter that continues after this page
        ids = [r[0] for r in ds.conn.execute(select.ids_sql(real, limit, offset), args[len(select.select_args) :])]
        if ids:
            op = "lt" if select.keyset == "desc" else "gt"
            out["next_page"] = {"_id": {op: min(ids) if op == "lt" else max(ids)}}
    return out


# -- datastore_search_sql -----------------------------------------------------------------------

# the (table, column) reads of the _table_metadata view
METADATA_VIEW_READS = {
    ("_ds_meta", "resource_id"),
    ("_ds_meta", "rowid"),
    ("_ds_alias", "name"),
    ("_ds_alias", "resource_id"),
    ("_ds_alias", "rowid"),
}
ALLOWED_FUNCTIONS = {
    "now",
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "total",
    "group_concat",
    "string_agg",
    "abs",
    "round",
    "lower",
    "upper",
    "length",
    "substr",
    "substring",
    "trim",
    "ltrim",
    "rtrim",
    "replace",
    "coalesce",
    "ifnull",
    "nullif",
    "instr",
    "like",
    "glob",
    "printf",
    "format",
    "typeof",
    "date",
    "time",
    "datetime",
    "julianday",
    "strftime",
    "unixepoch",
    "cast",
    "json_extract",
    "json_array_length",
    "json_each",
    "json_type",
    "json",
    "iif",
    "sign",
    "floor",
    "ceil",
    "ceiling",
    "sqrt",
    "power",
    "pow",
    "exp",
    "ln",
    "log",
    "log10",
    "mod",
    "random",
    "hex",
    "quote",
    "char",
    "unicode",
    "likely",
    "unlikely",
    "row_number",
    "rank",
    "dense_rank",
    "lag",
    "lead",
    "first_value",
    "last_value",
    "ntile",
    "percent_rank",
    "cume_dist",
    "nth_value",
    "concat",
    "concat_ws",
}


def _single_statement(sql: str) -> tuple[bool, str]:
    """(is one statement, the statement without a trailing semicolon)."""
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`[":
            close = "]" if ch == "[" else ch
            j = i + 1
            while j < n:
                if sql[j] == close:
                    if j + 1 < n and sql[j + 1] == close and close != "]":
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
            continue
        if sql.startswith("--", i):
            j = sql.find("\n", i)
            i = n if j < 0 else j
            continue
        if sql.startswith("/*", i):
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if ch == ";":
            rest = sql[i + 1 :].strip()
            return (not rest), sql[:i]
        i += 1
    return True, sql


@action("datastore_search_sql", read=True)
def datastore_search_sql(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """A read-only SELECT over DataStore tables (SQLite dialect), truncated at rows_max."""
    sql = data.get("sql")
    if sql is None or sql == "":
        if ctx.version == "2.12":
            raise errors.InternalError()  # 2.12.0 fails with a KeyError here
        raise ValidationError({"sql": [MISSING]})
    sql = str(sql)
    single, body = _single_statement(sql)
    if not single:
        if ctx.version == "2.12":
            raise _message_error("Query is not a single statement")
        raise ValidationError({"query": ["Query is not a single statement."]})
    ds = store(ctx)
    system = {
        "_ds_meta",
        "_ds_alias",
        "sqlite_master",
        "sqlite_schema",
        "sqlite_sequence",
        "sqlite_temp_master",
        "sqlite_stat1",
        "dbstat",
    }
    refused: list[errors.ActionError] = []
    read_tables: dict[str, set[str]] = {}

    def authorizer(code: int, arg1: str | None, arg2: str | None, db: str | None, src: str | None) -> int:
        if code == sqlite3.SQLITE_SELECT:
            return sqlite3.SQLITE_OK
        if src == TABLE_METADATA and ctx.version == "2.12":
            # inside the listing view, which 2.12 lets anyone read; only what the view itself
            # uses is allowed (a CTE can carry the same name, so nothing else passes here)
            if code == sqlite3.SQLITE_READ and (arg1, (arg2 or "").lower()) in METADATA_VIEW_READS:
                return sqlite3.SQLITE_OK
            if code == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in ("ds_md5", "substr"):
                return sqlite3.SQLITE_OK
        if code == sqlite3.SQLITE_READ:
            table_name = arg1 or ""
            if table_name in system or table_name.startswith("sqlite_") or table_name.endswith("__rebuild"):
                refused.append(NotAuthorized("Access denied: Not authorized to access system tables"))
                return sqlite3.SQLITE_DENY
            read_tables.setdefault(table_name, set()).add(arg2 or "")
            return sqlite3.SQLITE_OK
        if code == sqlite3.SQLITE_FUNCTION:
            fname = (arg2 or "").lower()
            if fname in ALLOWED_FUNCTIONS:
                return sqlite3.SQLITE_OK
            refused.append(NotAuthorized(f"Access denied: Not authorized to call function {arg2}"))
            return sqlite3.SQLITE_DENY
        if code == sqlite3.SQLITE_RECURSIVE:
            return sqlite3.SQLITE_OK
        kind = {
            sqlite3.SQLITE_INSERT: "InsertStmt",
            sqlite3.SQLITE_UPDATE: "UpdateStmt",
            sqlite3.SQLITE_DELETE: "DeleteStmt",
        }.get(code, "Statement")
        refused.append(
            _message_error(f"Invalid query AST element: {kind}")
            if ctx.version == "2.12"
            else ValidationError({"query": [f"not authorized: {kind}"]})
        )
        return sqlite3.SQLITE_DENY

    # CKAN wraps the query as SELECT * FROM (<sql>) AS blah LIMIT n; here the authorizer keeps
    # it read-only and the cursor stops at rows_max + 1, so column names stay as written
    wrapped = f"SELECT * FROM ({body}) AS blah LIMIT {SQL_ROWS_MAX + 1} ;"
    if body != sql and ctx.version == "2.11":
        raise ValidationError(
            {
                "query": [f'syntax error at or near ";"\n[SQL: {wrapped}]'],
                "info": {"statement": [wrapped], "params": [{}], "orig": ['syntax error at or near ";"']},
            }
        )
    system_names = r"(?i)(\bpg_\w+|\binformation_schema\b" + (
        r"|\b_table_metadata\b)" if ctx.version == "2.11" else ")"
    )
    if re.search(system_names, body) and not re.search(r"(?i)\bpg_\w+\s*\(", body):
        raise NotAuthorized("Access denied: Not authorized to access system tables")
    conn = ds.reader()
    deadline = time.monotonic() + SQL_TIMEOUT
    try:
        conn.set_authorizer(authorizer)
        # CKAN runs these with a statement timeout; a runaway query must not hold a worker
        conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 10000)
        try:
            cur = conn.execute(sqldialect.rewrite_casts(body))
            rows = cur.fetchmany(SQL_ROWS_MAX + 1)
        except sqlite3.OperationalError as exc:
            if str(exc) == "interrupted":
                raise ValidationError({"query": ["Query took too long"]}) from None
            raise _sql_error(ctx, exc, refused, wrapped) from None
        except sqlite3.Error as exc:
            raise _sql_error(ctx, exc, refused, wrapped) from None
        description = cur.description or ()
    finally:
        conn.close()
    # permission to read every table the query touched
    for table_name in read_tables:
        real = ds.resolve(table_name)
        if real is None:
            continue
        res = resource_or_none(ctx, real)
        if res is None or not can_read(ctx, package_of(ctx, res)):
            if ctx.version == "2.12":
                raise NotAuthorized("Access denied: Not authorized to read resource.")
            raise NotAuthorized(f"Access denied: User {ctx.user_name} not authorized to read resource {real}")
    column_types = _sql_column_types(ds, read_tables)
    names_out = [_pg_column_name(d[0], body) for d in description]
    ctypes = []
    for i, name in enumerate(names_out):
        ctype = column_types.get(name)
        if ctype is None:
            sample = next((r[i] for r in rows if r[i] is not None), None)
            if isinstance(sample, int):
                # count() and sum() of integers are bigint in PostgreSQL, also under an alias
                alias = re.escape(name)
                fn = re.match(r"(?i)\s*(count|sum)\s*\(", description[i][0]) or re.search(
                    rf'(?i)\b(count|sum)\s*\([^)]*\)\s+(as\s+)?"?{alias}"?(\s|,|$)', body
                )
                ctype = "int8" if fn else "int4"
            else:
                ctype = "float8" if isinstance(sample, float) else "text"
        ctypes.append(ctype)
    truncated = len(rows) > SQL_ROWS_MAX
    rows = rows[:SQL_ROWS_MAX]
    records = [
        {
            n: (fulltext.tsvector_text(v) if t == "tsvector" else types.decode(v, t))
            for n, t, v in zip(names_out, ctypes, r, strict=False)
        }
        for r in rows
    ]
    out = dict(data)
    out["records"] = records
    out["fields"] = [{"id": n, "type": "int4" if t == "int" else t} for n, t in zip(names_out, ctypes, strict=False)]
    if truncated:
        out["records_truncated"] = True
    return out


def _sql_error(ctx: Context, exc: sqlite3.Error, refused: list[errors.ActionError], wrapped: str) -> errors.ActionError:
    """The error CKAN would answer for a failed datastore_search_sql query."""
    if refused:
        return refused[0]
    missing_fn = re.match(r"no such function: (\S+)", str(exc))
    if missing_fn:
        return NotAuthorized(f"Access denied: Not authorized to call function {missing_fn.group(1)}")
    kind, message = _pg_error(str(exc))
    if ctx.version == "2.11" and message == "syntax error at end of input":
        # 2.11 runs the query inside SELECT * FROM (<sql>) AS blah: PostgreSQL meets the ")" first
        message = 'syntax error at or near ")"'
    if ctx.version == "2.12" and kind == "SyntaxError":
        return _message_error(f"Invalid SQL: {message}")
    return ValidationError(
        {
            "query": [f"(psycopg2.errors.{kind}) {message}\n\n[SQL: {wrapped}]"],
            "info": {"statement": [wrapped], "params": [{}], "orig": [message + "\n"]},
        }
    )


def _pg_error(message: str) -> tuple[str, str]:
    """An SQLite error -> (psycopg2 error class, PostgreSQL's wording) as CKAN reports them."""
    m = re.match(r'near "(.*)": syntax error', message)
    if m:
        return "SyntaxError", f'syntax error at or near "{m.group(1)}"'
    if message == "incomplete input":
        return "SyntaxError", "syntax error at end of input"
    m = re.match(r"no such table: (.*)", message)
    if m:
        return "UndefinedTable", f'relation "{m.group(1)}" does not exist'
    m = re.match(r"no such column: (.*)", message)
    if m:
        return "UndefinedColumn", f'column "{m.group(1)}" does not exist'
    return "ProgrammingError", message


def _pg_column_name(name: str, sql: str) -> str:
    """PostgreSQL's name for an unnamed result column: the function name, else ``?column?``."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return name
    if re.search(r'(?i)\bAS\s+"' + re.escape(name.replace('"', '""')) + '"', sql):
        return name
    fn = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(", name)
    if fn:
        return fn.group(1).lower()
    return "?column?"


def _message_error(message: str) -> ValidationError:
    """2.12's search_sql errors: a Validation Error carrying only ``message``."""
    return ValidationError({"message": message})


def _sql_column_types(ds: DataStore, read_tables: dict[str, set[str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for table_name, cols in read_tables.items():
        real = ds.resolve(table_name)
        if real is None:
            continue
        table = ds.table(real)
        if table is None:
            continue
        ftypes = table.types
        for col in cols:
            if col == "_full_text":
                out.setdefault(col, "tsvector")
            elif col in ftypes:
                out.setdefault(col, ftypes[col])
    return out


# -- datastore_function_create / delete (PL/pgSQL triggers have no SQLite equivalent) ----------


@action("datastore_function_create")
def datastore_function_create(ctx: Context, data: dict[str, Any]) -> None:
    """Sysadmins only; PL/pgSQL trigger functions cannot exist here, so always a ValidationError."""
    if not _bypass(ctx):
        raise NotAuthorized("Access denied")
    raise ValidationError({"definition": ["trigger functions are not supported by the embedded DataStore"]})


@action("datastore_function_delete")
def datastore_function_delete(ctx: Context, data: dict[str, Any]) -> None:
    """Sysadmins only; no function ever exists, so CKAN's "does not exist" (or null with ``if_exists``)."""
    if not _bypass(ctx):
        raise NotAuthorized("Access denied")
    if to_bool(data.get("if_exists", False)):
        return None
    raise ValidationError({"name": [f"function {data.get('name')}() does not exist"]})


def _register_dump_route() -> None:
    # at the bottom: the dump module imports this one
    from . import dump

    dump.register()


_register_dump_route()
