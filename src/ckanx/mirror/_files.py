"""Copying an uploaded resource file from the source to the target, streamed through a temporary file.

The download is :func:`ckanx.files.download_job` run with the *source* client (the source's token is
sent only to the source's own scheme, host and port, also after redirects), verified against the
size and hash the source records. The upload is :func:`ckanx.files.upload_job` run with the
*target* client (its token goes only to the target), which records ``size`` and
``hash = "sha256:<hex>"`` on the target resource and skips the upload when the target already
holds a file of that size and sha256. So an unchanged file costs one download and no upload.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from .. import _exceptions as exc
from ..datastore._protocol import adrive
from ..files import download_job, file_digest, upload_job

__all__ = ["SourceMissing", "sync_file"]


class SourceMissing(exc.CKANAPIError):
    """The source itself has nothing to copy (its file answers 404, its table does not exist)."""


async def sync_file(
    source: Any, target: Any, source_resource: dict[str, Any], target_id: str, *, workdir: Path | None, dry_run: bool
) -> str:
    """Copy one uploaded file; returns ``copied`` or ``unchanged`` (the target already had these bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="ckanx-mirror-", dir=workdir))
    try:
        job = download_job(
            source.url,
            source.token_header,
            getattr(source, "_token", None),
            source.headers,
            source_resource,
            folder,
            resume=False,
            verify=True,
        )
        try:
            report = await adrive(source, job)
        except exc.HTTPStatusError as err:
            if err.status_code in (404, 410):
                raise SourceMissing(f"the source has no file for this resource (HTTP {err.status_code})") from err
            raise
        if dry_run:
            current = await target.call_action("resource_show", {"id": target_id})
            size, digest = file_digest(report.path)
            same = current.get("hash") == f"sha256:{digest}" and str(current.get("size")) == str(size)
            return "unchanged" if same else "copied"
        result = await adrive(target, upload_job(Path(report.path), target_id, None, {}, False))
        return "unchanged" if result.get("_ckanx_skipped") else "copied"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
