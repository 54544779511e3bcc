"""Resource actions, file uploads and the download route.

As on CKAN, every resource write is a write of its dataset (same validation, a new
``metadata_modified``, a "changed package" activity, a re-index). Uploaded files are streamed in
chunks to ``<storage_dir>/resources/<id[:3]>/<id[3:6]>/<id[6:]>``: the path is built from the
resource id only, so no client-supplied file name can reach the file system.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from .. import app as app_module
from .. import errors
from ..context import Context, now_iso
from ..registry import action
from . import models
from . import validation as v
from .actions import (
    can_edit,
    can_read,
    load_package,
    not_authorized,
    write_package,
)

if TYPE_CHECKING:
    from ..core import EmbeddedCKAN

CHUNK = 1 << 20
DEFAULT_MAX_RESOURCE_SIZE_MB = 10


def stored_path(server: EmbeddedCKAN, resource_id: str) -> Path:
    """Where an uploaded resource's bytes live (derived from the id alone)."""
    rid = str(uuid.UUID(resource_id))  # refuses anything that is not a UUID
    return Path(server.storage_dir) / "resources" / rid[:3] / rid[3:6] / rid[6:]


def delete_stored_file(server: EmbeddedCKAN, resource_id: str) -> None:
    """Remove an uploaded file (purge); a missing file or a non-UUID id is not an error."""
    with contextlib.suppress(ValueError):
        stored_path(server, resource_id).unlink(missing_ok=True)


class _PendingUpload:
    """An upload streamed to a temporary file; moved into place only when the action commits."""

    def __init__(self, server: EmbeddedCKAN, upload: UploadFile) -> None:
        self.server = server
        self.filename = v.munge_filename(upload.filename or "upload")
        tmp_dir = Path(server.storage_dir) / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        self.tmp = tmp_dir / f"upload-{uuid.uuid4()}"
        limit = getattr(server, "max_resource_size_mb", DEFAULT_MAX_RESOURCE_SIZE_MB) << 20
        size = 0
        try:
            with open(self.tmp, "wb") as out:
                upload.file.seek(0)
                while chunk := upload.file.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise errors.ValidationError({"upload": ["File upload too large"]})
                    out.write(chunk)
        except BaseException:
            self.discard()
            raise
        self.size = size

    def commit_to(self, resource_id: str) -> None:
        target = stored_path(self.server, resource_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.tmp, target)

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


def _take_upload(ctx: Context, data: dict[str, Any]) -> _PendingUpload | None:
    """Pop ``upload`` from the payload; stream it to a temporary file if it is a file.

    A file part without a file name (a form posted with no file chosen) is no upload, as for
    CKAN, whose werkzeug FileStorage is then falsy.
    """
    upload = data.pop("upload", None)
    if isinstance(upload, UploadFile) and upload.filename:
        return _PendingUpload(ctx.server, upload)
    return None


def _apply_upload(data: dict[str, Any], pending: _PendingUpload, now: str) -> None:
    data["url"] = pending.filename
    data["url_type"] = "upload"
    data["size"] = pending.size
    data["last_modified"] = now
    if v.is_missing_or_empty(data.get("mimetype")):
        data["mimetype"] = v.guess_mimetype(pending.filename)


def _with_upload(ctx: Context, pending: _PendingUpload | None, resource_id_of: Any, work: Any) -> dict[str, Any]:
    """Run ``work()``; on success move the upload into place at commit, else drop it."""
    try:
        result: dict[str, Any] = work()
    except BaseException:
        if pending is not None:
            pending.discard()
        raise
    if pending is not None:
        rid = resource_id_of(result)
        ctx.after_commit(lambda: pending.commit_to(rid))
    return result


def write_with_uploads(ctx: Context, payload: dict[str, Any], existing: dict[str, Any]) -> dict[str, Any]:
    """Write a dataset whose resources may carry files in ``upload`` (package_revise multipart:
    ``update__resources__-1__upload=<file>``); each file is stored for its resource on commit."""
    pending: list[tuple[int, _PendingUpload]] = []
    now = now_iso()
    resources = payload.get("resources")
    try:
        if isinstance(resources, list):
            for index, res in enumerate(resources):
                if isinstance(res, dict) and isinstance(res.get("upload"), UploadFile) and res["upload"].filename:
                    res = dict(res)
                    upload = _PendingUpload(ctx.server, res.pop("upload"))
                    _apply_upload(res, upload, now)
                    resources[index] = res
                    pending.append((index, upload))
        pkg = write_package(ctx, payload, existing)
    except BaseException:
        for _, upload in pending:
            upload.discard()
        raise
    for index, upload in pending:
        rid = pkg["resources"][index]["id"]
        ctx.after_commit(lambda upload=upload, rid=rid: upload.commit_to(rid))
    return pkg


def _find_resource(ctx: Context, resource_id: Any) -> Any:
    return models.resource_row(ctx.conn, resource_id) if isinstance(resource_id, str) else None


def _resource_errors(exc: errors.ValidationError, index: int) -> errors.ValidationError:
    """CKAN reports a resource's own errors at the top level of the error dict."""
    res_errs = exc.error_dict.get("resources")
    if isinstance(res_errs, list) and index < len(res_errs) and res_errs[index]:
        return errors.ValidationError(v.sort_error_dict(res_errs[index]))
    return exc


def _raw_resources(pkg: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(r) for r in pkg["resources"]]


@action("resource_show", read=True)
def resource_show(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """One resource of a dataset the caller may read."""
    rid = data.get("id")
    if v.is_missing_or_empty(rid):
        raise errors.ValidationError({"id": [v.MISSING_VALUE]})
    row = _find_resource(ctx, rid)
    if row is None:
        raise errors.NotFound("Not found")
    pkg = load_package(ctx, row["package_id"])
    if not can_read(ctx, pkg):
        raise not_authorized(ctx, f"read resource {row['id']}")
    for res in pkg["resources"]:
        if res["id"] == row["id"]:
            return res
    raise errors.NotFound("Not found: Resource was not found.")


@action("resource_create")
def resource_create(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Add a resource (a link, or a file in the multipart field ``upload``) to a dataset."""
    data = dict(data)
    package_ref = data.get("package_id")
    if v.is_missing_or_empty(package_ref):
        raise errors.ValidationError({"package_id": [v.MISSING_VALUE]})
    pkg = load_package(ctx, str(package_ref))
    if not can_edit(ctx, pkg):
        raise not_authorized(ctx, f"create resources on dataset {package_ref}")
    pending = _take_upload(ctx, data)
    now = now_iso()
    if pending is not None:
        _apply_upload(data, pending, now)
    if v.is_missing_or_empty(data.get("url")):
        data["url"] = ""
    if "mimetype" not in data:
        data["mimetype"] = v.guess_mimetype(str(data["url"])) if data["url"] else None
    data.pop("package_id", None)
    resources = _raw_resources(pkg)
    index = len(resources)
    resources.append(data)

    def work() -> dict[str, Any]:
        try:
            updated = write_package(ctx, {**pkg, "resources": resources}, pkg)
        except errors.ValidationError as exc:
            raise _resource_errors(exc, index) from exc
        return dict(updated["resources"][index])

    return _with_upload(ctx, pending, lambda r: r["id"], work)


def _update(ctx: Context, data: dict[str, Any], patch: bool) -> dict[str, Any]:
    data = dict(data)
    rid = data.get("id")
    if v.is_missing_or_empty(rid):
        raise errors.ValidationError({"id": [v.MISSING_VALUE]})
    row = _find_resource(ctx, rid)
    if row is None:
        raise errors.NotFound("Not found" if patch else "Not found: Resource was not found.")
    pkg = load_package(ctx, row["package_id"])
    if not can_edit(ctx, pkg):
        raise not_authorized(ctx, f"edit resource {row['id']}")
    resources = _raw_resources(pkg)
    index = next((i for i, r in enumerate(resources) if r["id"] == row["id"]), None)
    if index is None:
        raise errors.NotFound("Not found: Resource was not found.")
    old = resources[index]
    if patch:
        data = {**old, **data}
    pending = _take_upload(ctx, data)
    now = now_iso()
    if pending is not None:
        _apply_upload(data, pending, now)
    if v.is_missing_or_empty(data.get("url")):
        data["url"] = ""
    if "mimetype" not in data:
        data["mimetype"] = v.guess_mimetype(str(data["url"])) if data["url"] else None
    if "datastore_active" not in data:
        data["datastore_active"] = old.get("datastore_active", False)
    data["id"] = row["id"]
    data.pop("package_id", None)
    resources[index] = data

    def work() -> dict[str, Any]:
        try:
            updated = write_package(ctx, {**pkg, "resources": resources}, pkg)
        except errors.ValidationError as exc:
            raise _resource_errors(exc, index) from exc
        return dict(updated["resources"][index])

    return _with_upload(ctx, pending, lambda r: r["id"], work)


@action("resource_update")
def resource_update(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Replace a resource (fields left out are dropped, as on CKAN)."""
    return _update(ctx, data, patch=False)


@action("resource_patch")
def resource_patch(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Update only the given fields of a resource."""
    return _update(ctx, data, patch=True)


@action("resource_delete")
def resource_delete(ctx: Context, data: dict[str, Any]) -> None:
    """Remove a resource from its dataset (state=deleted; the uploaded file stays, as on CKAN)."""
    rid = data.get("id")
    if v.is_missing_or_empty(rid):
        raise errors.ValidationError({"id": [v.MISSING_VALUE]})
    row = _find_resource(ctx, rid)
    if row is None:
        raise errors.NotFound("Not found")
    pkg = load_package(ctx, row["package_id"])
    if not can_edit(ctx, pkg):
        raise not_authorized(ctx, f"delete resource {row['id']}")
    resources = [r for r in _raw_resources(pkg) if r["id"] != row["id"]]
    write_package(ctx, {**pkg, "resources": resources}, pkg)
    if json.loads(row["data"]).get("datastore_active") is True:
        # the DataStore plugin drops the table of a deleted resource and clears the flag
        models.mark_resource_field(ctx.conn, row["id"], "datastore_active", False)
        server, rid = ctx.server, row["id"]
        ctx.after_commit(lambda: _drop_datastore_table(server, rid))
    return None


def _drop_datastore_table(server: EmbeddedCKAN, resource_id: str) -> None:
    """Drop a deleted resource's DataStore table through the datastore family's model."""
    try:
        from ..datastore import models as ds_models
    except ImportError:  # no DataStore in this build
        return
    store = ds_models.get_store(server)
    if store.table(resource_id) is not None:
        store.drop(resource_id)


@action("package_resource_reorder")
def package_resource_reorder(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Put the listed resources first, in that order; the others follow in their old order."""
    ref = data.get("id")
    order = data.get("order")
    errs: dict[str, Any] = {}
    if v.is_missing_or_empty(ref):
        errs["id"] = [v.MISSING_VALUE]
    if "order" not in data or order is None:
        errs["order"] = [v.MISSING_VALUE]
    if errs:
        raise errors.ValidationError(errs)
    if not isinstance(order, list):
        raise errors.ValidationError({"order": "Must be a list of resource"})
    pkg = load_package(ctx, str(ref))
    if not can_edit(ctx, pkg):
        raise not_authorized(ctx, f"edit package {pkg['id']}")
    resources = _raw_resources(pkg)
    by_id = {r["id"]: r for r in resources}
    if len(set(order)) != len(order):
        raise errors.ValidationError({"order": "Must supply unique resource_ids"})
    for rid in order:
        if rid not in by_id:
            raise errors.ValidationError({"order": f"resource_id {rid} can not be found"})
    reordered = [by_id[rid] for rid in order] + [r for r in resources if r["id"] not in order]
    write_package(ctx, {**pkg, "resources": reordered}, pkg)
    return {"id": ref, "order": [r["id"] for r in reordered]}


# ---------------------------------------------------------------- download route

_PLAIN_FILENAME = re.compile(r"[A-Za-z0-9_.\-]+")
_FORBIDDEN_HTML = (
    "<!DOCTYPE html>\n<html><head><title>Forbidden</title></head>"
    "<body><h1>403 Forbidden</h1><p>Not authorized to download resource</p></body></html>"
)


def _download_target(server: EmbeddedCKAN, token: str | None, package_ref: str, resource_id: str) -> tuple[str, Any]:
    """("file", (path, resource)), ("redirect", url), ("forbidden", None) or ("missing", None)."""
    user = app_module.authenticate(server, token)
    with server.db.transaction() as conn:
        ctx = Context(server, conn, user)
        row = models.resource_row(conn, resource_id)
        pkg_row = models.find_package_row(conn, package_ref)
        if row is None or row["state"] == "deleted" or pkg_row is None:
            return "missing", None
        pkg = models.package_dict(conn, row["package_id"])
        if pkg is None:
            return "missing", None
        if not can_read(ctx, pkg):
            return "forbidden", None
        res = next((r for r in pkg["resources"] if r["id"] == row["id"]), None)
        if res is None:
            return "missing", None
        if res.get("url_type") == "upload":
            path = stored_path(server, row["id"])
            if not path.is_file():
                return "missing", None
            return "file", (path, res)
        if not res.get("url"):
            return "missing", None
        return "redirect", res["url"]


async def download(server: EmbeddedCKAN, request: Request) -> Response:
    """``GET /dataset/<id>/resource/<resource_id>/download[/<filename>]``."""
    params = request.path_params
    kind, target = await run_in_threadpool(
        _download_target,
        server,
        request.headers.get("Authorization"),
        params["id"],
        params["resource_id"],
    )
    if kind == "missing":
        return await app_module.not_found(request)
    if kind == "forbidden":
        return HTMLResponse(_FORBIDDEN_HTML, status_code=403)
    if kind == "redirect":
        # CKAN (Flask/Werkzeug) answers with a small HTML page along with the Location header
        link = html.escape(target, quote=True)
        body = (
            "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
            "<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the target "
            f'URL: <a href="{link}">{link}</a>. If not, click the link.\n'
        )
        return HTMLResponse(body, status_code=302, headers={"Location": target})
    path, res = target
    filename = params.get("filename") or str(res["url"]).rsplit("/", 1)[-1]
    media_type = res.get("mimetype") or v.guess_mimetype(filename) or "application/octet-stream"
    if _PLAIN_FILENAME.fullmatch(filename):
        # Flask's send_file writes a plain name unquoted: "inline; filename=data.csv"
        return FileResponse(
            path, media_type=media_type, headers={"Content-Disposition": f"inline; filename={filename}"}
        )
    return FileResponse(path, media_type=media_type, filename=filename, content_disposition_type="inline")


app_module.EXTRA_ROUTES.extend(
    [
        ("/dataset/{id}/resource/{resource_id}/download/{filename}", download, ["GET"]),
        ("/dataset/{id}/resource/{resource_id}/download", download, ["GET"]),
    ]
)
