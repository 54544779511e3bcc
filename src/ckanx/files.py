"""Resource files: upload from disk and download to disk, streamed, verified and resumable.

``Files(client)`` (and ``AsyncFiles(async_client)``)::

    files = Files(ck)
    res = files.upload("data.csv", package_id="my-dataset", metadata={"description": "..."})
    files.upload("data.csv", resource_id=res["id"])        # unchanged: nothing is sent
    files.download(res["id"], "copies/")                    # verified against size and hash
    files.download_dataset("my-dataset", "copies/")

Rules:

* Uploads stream the file (never read whole into memory) and record ``size`` and
  ``hash = "sha256:<hex>"`` in the resource; when a resource already has that size and hash and is
  an upload, the upload is skipped. Nested metadata (dicts, lists) cannot ride with a multipart form
  (CKAN would store their JSON text), so it is sent in a second ``resource_patch``.
* Downloads go to ``<name>.part`` and are renamed when complete and verified (``size`` when it is a
  number; ``hash`` when it is ``sha256:``/``md5:``/``sha1:``-prefixed or a bare hex digest of those
  lengths). An existing ``.part`` is continued with an HTTP ``Range`` request when the server
  answers 206, and restarted when it answers 200.
* The API token is sent only to the CKAN site itself (same scheme, host and port), never to a
  third-party resource URL, including after a redirect.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from . import _exceptions as exc
from .datastore._protocol import Call, Fetch, Job, adrive, drive

__all__ = ["AsyncFiles", "DownloadReport", "Files", "VerificationError", "fetch_job", "file_digest", "upload_job"]

CHUNK = 1 << 20
_HEX = re.compile(r"[0-9a-fA-F]+")
_ALGORITHMS = {"sha256": 64, "sha1": 40, "md5": 32}


class VerificationError(exc.CKANAPIError):
    """A downloaded file does not match the size or hash recorded in its resource."""


def file_digest(path: str | os.PathLike[str], algorithm: str = "sha256") -> tuple[int, str]:
    """``(size, hex digest)`` of a file, read in chunks."""
    h = hashlib.new(algorithm)
    size = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def _recorded_hash(value: Any) -> tuple[str, str] | None:
    """``(algorithm, hex)`` from a resource's ``hash`` field, when it says which algorithm."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    algo, sep, digest = text.partition(":")
    if sep and algo.lower() in _ALGORITHMS and _HEX.fullmatch(digest):
        return algo.lower(), digest.lower()
    for name, length in _ALGORITHMS.items():
        if len(text) == length and _HEX.fullmatch(text):
            return name, text.lower()
    return None


def _recorded_size(value: Any) -> int | None:
    try:
        size = int(value)
    except (TypeError, ValueError):
        return None
    return size if size >= 0 else None


def _flat(metadata: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split metadata into what a multipart form can carry (flat) and what it cannot (nested)."""
    flat: dict[str, Any] = {}
    nested: dict[str, Any] = {}
    for key, value in metadata.items():
        (nested if isinstance(value, (dict, list)) else flat)[key] = value
    return flat, nested


@dataclass
class DownloadReport:
    """One downloaded file: where, how many bytes, whether it was resumed and what was verified."""

    resource_id: str
    path: str
    bytes: int = 0
    resumed_from: int = 0
    verified: list[str] = field(default_factory=list)
    skipped: bool = False


# ---------------------------------------------------------------- jobs


def upload_job(path: Path, resource_id: str | None, package_id: str | None, metadata: Mapping[str, Any],
               force: bool) -> Job[dict[str, Any]]:
    """Upload ``path`` to a resource (new in ``package_id`` or existing ``resource_id``)."""
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    if (resource_id is None) == (package_id is None):
        raise ValueError("give resource_id (replace its file) or package_id (new resource), not both")
    size, digest = file_digest(path)
    recorded = f"sha256:{digest}"
    flat, nested = _flat(metadata)
    if resource_id is not None:
        current = yield Call("resource_show", {"id": resource_id})
        if (
            not force
            and current.get("url_type") == "upload"
            and _recorded_size(current.get("size")) == size
            and _recorded_hash(current.get("hash")) == ("sha256", digest)
            and all(current.get(k) == v for k, v in {**flat, **nested}.items())
        ):
            current["_ckanx_skipped"] = True
            return current  # type: ignore[no-any-return]
        data = {"id": resource_id, **flat, "size": size, "hash": recorded}
        result = yield Call("resource_patch", data, {"upload": path})
    else:
        data = {"package_id": package_id, "name": flat.pop("name", path.name), **flat, "size": size,
                "hash": recorded}
        result = yield Call("resource_create", data, {"upload": path})
    if nested:
        # dicts and lists would be stored as their JSON text by a multipart form
        result = yield Call("resource_patch", {"id": result["id"], **nested})
    return result  # type: ignore[no-any-return]


def _file_name(resource: Mapping[str, Any]) -> str:
    url = str(resource.get("url") or "")
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) if url else ""
    name = name or str(resource.get("name") or "") or str(resource["id"])
    # never let a server-chosen name leave the destination folder
    name = name.replace("/", "_").replace("\\", "_").strip(". ") or str(resource["id"])
    return name


def fetch_job(resource: str | Mapping[str, Any], dest: Path, *, resume: bool, verify: bool,
              taken: set[str] | None = None) -> Job[DownloadReport]:
    """Download one resource's file to ``dest`` (a file path, or a folder to put it in).

    The GET goes through the client's ``stream()``: the token only to the site, redirects followed
    with the rule applied again at each hop, the client's timeouts and TLS settings.
    """
    if isinstance(resource, str):
        resource = yield Call("resource_show", {"id": resource})
    assert isinstance(resource, Mapping)
    url = str(resource.get("url") or "")
    if not url or url == "_datastore_only_resource":
        raise ValueError(f"resource {resource['id']} has no file to download")
    if dest.is_dir():
        name = _file_name(resource)
        if taken is not None:
            if name in taken:
                name = f"{resource['id']}-{name}"  # two resources with one file name: keep both
            taken.add(name)
        target = dest / name
    else:
        target = dest
    report = DownloadReport(str(resource["id"]), str(target))
    part = _PartFile(target.with_name(target.name + ".part"), resume)
    try:
        headers = {"Range": f"bytes={part.start}-"} if part.start else {}
        response = yield Fetch(url, headers, part.write, part.begin, follow_redirects=True)
        status = response.status_code
        where = str(response.request.url.copy_with(query=None))
        if not (status in (200, 206) or (status == 416 and part.start)):
            # 416 with a part: it already holds the whole file, verification decides
            raise exc.HTTPStatusError(f"download of {resource['id']} from {where}: HTTP {status}",
                                      status_code=status, url=where)
    finally:
        part.close()
    report.resumed_from = part.resumed_from
    size = part.path.stat().st_size
    report.bytes = size
    if verify:
        _verify(resource, part.path, size, report)
    os.replace(part.path, target)
    return report


def download_job(client_url: str, token_header: str, token: str | None, base_headers: Mapping[str, str],
                 resource: str | Mapping[str, Any], dest: Path, *, resume: bool, verify: bool,
                 taken: set[str] | None = None) -> Job[DownloadReport]:
    """Deprecated form of :func:`fetch_job`, kept for callers of the old signature.

    ``client_url``, ``token_header``, ``token`` and ``base_headers`` are ignored: the client that
    runs the job decides them (its ``stream()`` sends its token only to its own site).
    """
    del client_url, token_header, token, base_headers
    return (yield from fetch_job(resource, dest, resume=resume, verify=verify, taken=taken))


def _verify(resource: Mapping[str, Any], part: Path, size: int, report: DownloadReport) -> None:
    expected_size = _recorded_size(resource.get("size"))
    if expected_size is not None:
        if expected_size != size:
            raise VerificationError(
                f"{report.resource_id}: downloaded {size} bytes, the resource records {expected_size} "
                f"(kept as {part}; run again to resume)"
            )
        report.verified.append("size")
    recorded = _recorded_hash(resource.get("hash"))
    if recorded is not None:
        algo, expected = recorded
        _, got = file_digest(part, algo)
        if got != expected:
            part.unlink()
            raise VerificationError(f"{report.resource_id}: {algo} {got} differs from the recorded {expected}")
        report.verified.append(algo)


class _PartFile:
    """``<name>.part``: appended to after a 206, rewritten after a 200 (the server ignored Range)."""

    def __init__(self, path: Path, resume: bool) -> None:
        self.path = path
        self.start = path.stat().st_size if (resume and path.exists()) else 0
        self.resumed_from = 0
        self.f = open(path, "ab" if self.start else "wb")  # noqa: SIM115 - closed by close()

    def begin(self, status: int) -> None:
        if status == 206:
            self.resumed_from = self.start
        else:
            self.f.seek(0)
            self.f.truncate()
            self.resumed_from = 0

    def write(self, chunk: bytes) -> None:
        self.f.write(chunk)

    def close(self) -> None:
        self.f.close()


# ---------------------------------------------------------------- facades


class _FilesJobs:
    def __init__(self, client: Any) -> None:
        self.client = client

    def _download(self, resource: str | Mapping[str, Any], dest: str | Path, resume: bool, verify: bool,
                  taken: set[str] | None = None) -> Job[DownloadReport]:
        return fetch_job(resource, Path(dest), resume=resume, verify=verify, taken=taken)

    def _dataset(self, dataset: str, dest: str | Path, resume: bool, verify: bool) -> Job[list[DownloadReport]]:
        folder = Path(dest)
        folder.mkdir(parents=True, exist_ok=True)
        pkg = yield Call("package_show", {"id": dataset})
        taken: set[str] = set()
        reports = []
        for res in pkg.get("resources", []):
            if not res.get("url") or res.get("url") == "_datastore_only_resource":
                continue
            reports.append((yield from self._download(res, folder, resume, verify, taken)))
        return reports


class Files(_FilesJobs):
    """Resource files over a synchronous :class:`~ckanx.Client`."""

    def upload(self, path: str | os.PathLike[str], *, resource_id: str | None = None,
               package_id: str | None = None, metadata: Mapping[str, Any] | None = None,
               force: bool = False) -> dict[str, Any]:
        """Upload a file as a new resource of ``package_id`` or as ``resource_id``'s new file.

        Skipped (the resource is returned with ``"_ckanx_skipped": True``) when the resource already
        holds an upload of the same size and sha256 and the same metadata, unless ``force``.
        """
        return drive(self.client, upload_job(Path(path), resource_id, package_id, metadata or {}, force))

    def download(self, resource: str | Mapping[str, Any], dest: str | Path = ".", *, resume: bool = True,
                 verify: bool = True) -> DownloadReport:
        """Download a resource's file to ``dest`` (a file path, or an existing folder)."""
        return drive(self.client, self._download(resource, dest, resume, verify))

    def download_dataset(self, dataset: str, dest: str | Path, *, resume: bool = True,
                         verify: bool = True) -> list[DownloadReport]:
        """Download every resource file of a dataset into the folder ``dest`` (one file each)."""
        return drive(self.client, self._dataset(dataset, dest, resume, verify))


class AsyncFiles(_FilesJobs):
    """The asynchronous twin of :class:`Files` (same methods, awaitable)."""

    async def upload(self, path: str | os.PathLike[str], *, resource_id: str | None = None,
                     package_id: str | None = None, metadata: Mapping[str, Any] | None = None,
                     force: bool = False) -> dict[str, Any]:
        """See :meth:`Files.upload`."""
        return await adrive(self.client, upload_job(Path(path), resource_id, package_id, metadata or {}, force))

    async def download(self, resource: str | Mapping[str, Any], dest: str | Path = ".", *, resume: bool = True,
                       verify: bool = True) -> DownloadReport:
        """See :meth:`Files.download`."""
        return await adrive(self.client, self._download(resource, dest, resume, verify))

    async def download_dataset(self, dataset: str, dest: str | Path, *, resume: bool = True,
                               verify: bool = True) -> list[DownloadReport]:
        """See :meth:`Files.download_dataset`."""
        return await adrive(self.client, self._dataset(dataset, dest, resume, verify))
