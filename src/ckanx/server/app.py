"""The HTTP face of the embedded CKAN (Starlette): routing, request parsing, auth, the envelope.

Everything about *what* an action does lives in the family modules; this module only turns HTTP
into ``(action name, data_dict, user)`` and results or errors back into CKAN's exact responses.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from . import errors, hooks, registry
from .context import Context

if TYPE_CHECKING:
    from .core import EmbeddedCKAN

log = logging.getLogger("ckanx.server")

JSON_TYPE = "application/json;charset=utf-8"
NOT_FOUND_HTML = (
    "<!DOCTYPE html>\n<html><head><title>Not found</title></head>"
    "<body><h1>404 Not Found</h1><p>The requested URL was not found on the server.</p></body></html>"
)
# extra routes families add: (path, endpoint, methods); endpoint(server, request) -> Response
EXTRA_ROUTES: list[tuple[str, Any, list[str]]] = []


def json_response(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type=JSON_TYPE)


def bad_request(server: EmbeddedCKAN, detail: str) -> Response:
    prefix = "Bad request: " if server.ckan_version == "2.12" else "Bad request - "
    return json_response(prefix + detail, 400)


METHOD_NOT_ALLOWED_HTML = (
    "<!DOCTYPE html>\n<html><head><title>Method Not Allowed</title></head>"
    "<body><h1>405 Method Not Allowed</h1><p>The method is not allowed for the requested URL.</p></body></html>"
)


async def not_found(request: Request, exc: Exception | None = None) -> Response:
    return HTMLResponse(NOT_FOUND_HTML, status_code=404)


async def method_not_allowed(request: Request, exc: Exception | None = None) -> Response:
    return HTMLResponse(METHOD_NOT_ALLOWED_HTML, status_code=405)


async def api_version(request: Request) -> Response:
    """``GET /api/3``: CKAN answers with the API version."""
    return Response(json.dumps({"version": 3}), media_type="application/json")


async def trailing_slash(request: Request) -> Response:
    """CKAN routes ``/api/3/action/<name>/`` for GET only: an HTML 404 for GET, 405 otherwise."""
    if request.method == "GET":
        return await not_found(request)
    return await method_not_allowed(request)


async def parse_data(request: Request) -> dict[str, Any]:
    """CKAN's rules: GET query string (repeated key -> list); POST JSON, form or multipart."""
    if request.method == "GET":
        data: dict[str, Any] = {}
        for key, value in request.query_params.multi_items():
            if key in data:
                old = data[key]
                data[key] = [*old, value] if isinstance(old, list) else [old, value]
            else:
                data[key] = value
        return data
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form(max_files=100, max_fields=10000, max_part_size=1 << 30)
        out: dict[str, Any] = {}
        for key, value in form.multi_items():
            out[key] = value  # UploadFile for files, str otherwise
        return out
    raw = await request.body()
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        # CKAN reports what it extracted before failing, which is always an empty dict
        raise errors.BadRequest(
            "JSON Error: Error decoding JSON data. Error: <BadRequest '400: Bad Request'> "
            "JSON data extracted from the request: {}"
        ) from exc
    if not isinstance(parsed, dict):
        raise errors.BadRequest(
            f"JSON Error: Request data JSON decoded to {parsed!r} but it needs to be a dictionary."
        )
    return parsed


def authenticate(server: EmbeddedCKAN, token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    with server.db.transaction() as conn:
        for auth in hooks.AUTHENTICATE:
            user = auth(server, conn, token)
            if user is not None:
                return user
    return None


def run_action(
    server: EmbeddedCKAN,
    spec: registry.ActionSpec,
    data: dict[str, Any],
    token: str | None,
    query_params: list[tuple[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> Any:
    user = authenticate(server, token)
    with server.db.transaction() as conn:
        # ctx.extra carries the raw query string (datastore_search builds 2.11's _links from it)
        # and the top-level action's name; an action may leave "changed_entities" in it for the
        # envelope (2.12's package_update). ``extra`` lets the caller read it back.
        shared = extra if extra is not None else {}
        shared["query_params"] = query_params or []
        shared["action_name"] = spec.name
        ctx = Context(server, conn, user, extra=shared)
        return spec.func(ctx, data)


def build_app(server: EmbeddedCKAN) -> Starlette:
    token_header = "Authorization"

    async def action_endpoint(request: Request) -> Response:
        name = request.path_params["name"]
        spec = registry.lookup(name, server.ckan_version)
        help_url = f"{server.site_url}/api/3/action/help_show?name={name}"
        try:
            if spec is None:
                raise errors.BadRequest(f"Action name not known: {name}")
            if request.method == "GET" and not spec.read:
                raise errors.BadRequest(
                    "JSON Error: Invalid request. Please use POST method for your request"
                )
            data = await parse_data(request)
            if request.method == "GET" and "callback" in data:
                data.pop("callback")
                data.pop("_", None)
            extra: dict[str, Any] = {}
            result = await run_in_threadpool(
                run_action,
                server,
                spec,
                data,
                request.headers.get(token_header),
                list(request.query_params.multi_items()),
                extra,
            )
        except errors.BadRequest as exc:
            return bad_request(server, exc.detail)
        except errors.ActionError as exc:
            return json_response(
                {"help": help_url, "error": exc.error_body(), "success": False}, exc.status
            )
        except Exception:
            log.exception("action %s failed", name)
            body = {"__type": "Internal Server Error", "message": "Internal Server Error"}
            return json_response({"help": help_url, "error": body, "success": False}, 500)
        finally:
            if request.method != "GET":
                for value in (locals().get("data") or {}).values():
                    if isinstance(value, UploadFile):
                        await value.close()
        body = {"help": help_url, "success": True, "result": result}
        if extra.get("changed_entities") is not None:
            body["changed_entities"] = extra["changed_entities"]
        callback = request.query_params.get("callback") if request.method == "GET" else None
        if callback:  # JSONP, as CKAN still serves it for GET
            return Response(f"{callback}({json.dumps(body)});", media_type="application/javascript")
        return json_response(body)

    routes = [
        Route("/api/3/action/{name}", action_endpoint, methods=["GET", "POST"]),
        Route("/api/action/{name}", action_endpoint, methods=["GET", "POST"]),
        Route("/api/3/action/{name}/", trailing_slash, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        Route("/api/action/{name}/", trailing_slash, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        Route("/api/3", api_version, methods=["GET"]),
    ]
    for path, endpoint, methods in EXTRA_ROUTES:

        def bind(fn: Any) -> Any:
            async def endpoint_bound(request: Request) -> Response:
                return await fn(server, request)

            return endpoint_bound

        routes.append(Route(path, bind(endpoint), methods=methods))
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: method_not_allowed})
    app.router.redirect_slashes = False  # CKAN answers a trailing slash with an HTML 404
    return app
