"""``GET /datastore/dump/<resource_id>``: a whole table (or a filtered part) as CSV, TSV, JSON or XML.

Streamed: rows come from a server-side SQLite cursor on a read-only connection of their own (a
WAL snapshot, so writers are not blocked) and leave in batches, so memory stays flat whatever the
table size. Errors before the first byte are CKAN's HTML error pages (404 for a missing or
unreadable table, 400 for bad parameters, 500 for unknown fields/sort columns as on CKAN).
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse

from ..context import Context
from ..errors import ActionError, ValidationError
from . import actions, formats, query
from .models import get_store

if TYPE_CHECKING:
    from ..core import EmbeddedCKAN

DUMP_FORMATS = ("csv", "tsv", "json", "xml")
FETCH_ROWS = 1000


def _html(status: int, title: str, detail: str) -> HTMLResponse:
    body = (
        "<!DOCTYPE html>\n<html><head><title>" + html.escape(title) + " - CKAN</title></head>"
        "<body><h1>" + html.escape(title) + "</h1><p>" + html.escape(detail) + "</p></body></html>"
    )
    return HTMLResponse(body, status_code=status)


def _validate(params: dict[str, str], version: str) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """CKAN's dump schema."""
    out: dict[str, Any] = {}
    errs: dict[str, list[str]] = {}
    offset = actions.to_int(params.get("offset", 0))
    if offset is None:
        errs["offset"] = ["Invalid integer"]
    else:
        out["offset"] = offset
    if "limit" in params:
        limit = actions.to_int(params["limit"])
        if limit is None:
            errs["limit"] = ["Invalid integer"]
        else:
            out["limit"] = limit
    fmt = params.get("format", "csv")
    if fmt not in DUMP_FORMATS:
        errs["format"] = ["Value must be one of ['csv', 'tsv', 'json', 'xml']"]
    out["format"] = fmt
    out["bom"] = actions.to_bool(params.get("bom", False))
    if "filters" in params:
        try:
            out["filters"] = actions.json_param(params["filters"], "filters")
        except ValidationError as exc:
            errs.update(exc.error_dict)
    if "q" in params:
        out["q"] = actions.unicode_or_json(params["q"])
    for key in ("distinct", "plain"):
        if key in params:
            out[key] = actions.to_bool(params[key])
    if "language" in params:
        out["language"] = params["language"]
    if "fields" in params:
        out["fields"] = params["fields"]
    out["sort"] = params.get("sort", "_id")
    return out, errs


def _prepare(server: EmbeddedCKAN, request: Request, resource_id: str) -> Any:
    """Auth, validation and the query; a Response on error, else (select, table, params)."""
    from ..app import authenticate

    user = authenticate(server, request.headers.get("Authorization"))
    store = get_store(server)
    params, errs = _validate(dict(request.query_params), server.ckan_version)

    def invalid() -> HTMLResponse:
        if "format" in errs and server.ckan_version == "2.12":
            return _html(500, "Error [500]", "Internal Server Error")
        detail = "\n".join(f"{k}: {' '.join(v)}" for k, v in errs.items())
        return _html(400, "Error 400", detail)

    # 2.12 validates the parameters before looking the table up, 2.11 after
    if errs and server.ckan_version == "2.12":
        return invalid()
    # the catalog transaction also serialises this against actions using the DataStore connection
    with server.db.transaction() as conn:
        ctx = Context(server, conn, user)
        real = store.resolve(resource_id)
        if real is None:
            return _html(404, "Error 404", "DataStore resource not found")
        try:
            actions.check_read(ctx, real)
        except ActionError:
            return _html(404, "Error 404", "DataStore resource not found")
        table = store.table(real)
    if table is None:
        return _html(404, "Error 404", "DataStore resource not found")
    if errs:
        return invalid()
    try:
        select, _requested = query.build(table, params, server.ckan_version)
    except (ValidationError, TypeError):
        return _html(500, "Error [500]", "Internal Server Error")
    return select, table, params, real


def _rows(server: EmbeddedCKAN, sql: str, args: list[Any]) -> Iterator[Any]:
    conn = get_store(server).reader()
    try:
        cur = conn.execute(sql, args)
        while True:
            batch = cur.fetchmany(FETCH_ROWS)
            if not batch:
                break
            yield from batch
    finally:
        conn.close()


async def dump_endpoint(server: EmbeddedCKAN, request: Request) -> Response:
    """The route handler (registered in ``app.EXTRA_ROUTES``)."""
    resource_id = request.path_params["resource_id"]
    prepared = await run_in_threadpool(_prepare, server, request, resource_id)
    if isinstance(prepared, Response):
        return prepared
    select, table, params, real = prepared
    fmt = params["format"]
    sql, args = select.sql(real, params.get("limit"), params["offset"])
    fields_json = actions._result_fields(table, select.columns)
    body = formats.dump_chunks(
        select.columns,
        fields_json,
        None if params.get("limit") == 0 else _rows(server, sql, args),
        fmt,
        params["bom"],
        millis=server.ckan_version == "2.12",
    )
    # 2.11 names the file after the id or alias in the URL, 2.12 after the resource
    name = real if server.ckan_version == "2.12" else resource_id
    headers = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    return StreamingResponse(body, media_type="application/octet-stream", headers=headers)


def register() -> None:
    """Add the dump route to the app (once)."""
    from .. import app

    route = "/datastore/dump/{resource_id}"
    if not any(path == route for path, _fn, _m in app.EXTRA_ROUTES):
        app.EXTRA_ROUTES.append((route, dump_endpoint, ["GET"]))
