"""``dump -D DIR``: each dataset as a Data Package directory with its resources' own bytes.

``DIR/<dataset name>/datapackage.json`` plus ``DIR/<dataset name>/data/<file>`` per resource. Each
resource is downloaded to its own file (ckanapi wrote the last resource's bytes under every name);
files are written to ``*.part`` and renamed, so a re-run into an existing directory replaces them
cleanly. The API token goes only to the CKAN site's own host (uploaded files); resources on other
hosts are fetched without ``Authorization`` (httpx also drops it on redirects to another origin).
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

__all__ = ["DatapackageWriter", "resource_filename", "same_origin"]

SKIP_FORMATS = frozenset({"api"})  # an API endpoint is not a file to download (as ckanapi)
CHUNK = 256 * 1024


def _slug(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = re.sub(r"[^\w.-]+", "-", text, flags=re.UNICODE).strip("-.")
    return text[:100]


def resource_filename(resource: dict[str, Any], taken: set[str]) -> str:
    """A file name for a resource, unique within its dataset (``taken`` is updated)."""
    url_name = urlsplit(str(resource.get("url") or "")).path.rsplit("/", 1)[-1]
    base = _slug(str(resource.get("name") or "")) or _slug(url_name) or str(resource.get("id") or "resource")
    fmt = _slug(str(resource.get("format") or ""))
    if fmt and not base.endswith("." + fmt):
        base = f"{base}.{fmt}"
    name, n = base, 1
    while name in taken:
        stem, dot, ext = base.rpartition(".")
        name = f"{stem}-{n}.{ext}" if dot and stem else f"{base}-{n}"
        n += 1
    taken.add(name)
    return name


def same_origin(url: str, site: str) -> bool:
    """Whether ``url`` is on the CKAN site's own scheme, host and port (where the token may go)."""
    a, b = urlsplit(url), urlsplit(site)
    default = {"http": 80, "https": 443}
    return (
        a.scheme == b.scheme
        and (a.hostname or "").lower() == (b.hostname or "").lower()
        and (a.port or default.get(a.scheme)) == (b.port or default.get(b.scheme))
    )


class DatapackageWriter:
    """Writes one Data Package directory per dataset under ``base``."""

    def __init__(self, base: Path, client: Any, token: str | None) -> None:
        self.base = base
        self.site = str(client.url)
        self._token = token
        self._token_header = getattr(client, "token_header", "Authorization")
        self._http = httpx.AsyncClient(
            follow_redirects=True, timeout=httpx.Timeout(120.0, connect=10.0), verify=getattr(client, "verify", True)
        )
        base.mkdir(parents=True, exist_ok=True)

    async def write(self, dataset: dict[str, Any]) -> list[str]:
        """Write the dataset's directory; return the problems (failed downloads), if any."""
        name = _slug(str(dataset.get("name") or dataset.get("id")))
        folder = self.base / name
        (folder / "data").mkdir(parents=True, exist_ok=True)
        problems: list[str] = []
        taken: set[str] = set()
        resources = []
        for res in dataset.get("resources") or []:
            entry: dict[str, Any] = {
                "name": _slug(str(res.get("name") or "")) or str(res.get("id")),
                "title": res.get("name") or "",
                "format": res.get("format") or "",
                "description": res.get("description") or "",
                "ckan_id": res.get("id"),
                "url": res.get("url"),
            }
            if res.get("datastore_fields"):
                entry["schema"] = {
                    "fields": [
                        {"name": f["id"], "type": f.get("type")} for f in res["datastore_fields"] if f["id"] != "_id"
                    ]
                }
            url = str(res.get("url") or "")
            if url and str(res.get("format") or "").lower() not in SKIP_FORMATS:
                filename = resource_filename(res, taken)
                try:
                    await self._download(url, folder / "data" / filename)
                    entry["path"] = f"data/{filename}"
                except (httpx.HTTPError, OSError) as err:
                    problems.append(f"resource {res.get('id')}: download failed: {type(err).__name__}: {err}")
            resources.append(entry)
        package = {
            "name": dataset.get("name"),
            "title": dataset.get("title") or "",
            "description": dataset.get("notes") or "",
            "version": dataset.get("version") or "",
            "keywords": [t.get("name") for t in dataset.get("tags") or [] if isinstance(t, dict)],
            "licenses": [{"name": dataset.get("license_id"), "title": dataset.get("license_title")}]
            if dataset.get("license_id")
            else [],
            "resources": resources,
        }
        tmp = folder / "datapackage.json.part"
        tmp.write_text(json.dumps(package, indent=2, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, folder / "datapackage.json")
        return problems

    async def _download(self, url: str, target: Path) -> None:
        headers = {}
        if self._token and same_origin(url, self.site):
            headers[self._token_header] = self._token
        part = target.with_name(target.name + ".part")
        async with self._http.stream("GET", url, headers=headers) as response:
            response.raise_for_status()
            with open(part, "wb") as f:
                async for chunk in response.aiter_bytes(CHUNK):
                    f.write(chunk)
        os.replace(part, target)

    async def close(self) -> None:
        """Close the download connections."""
        await self._http.aclose()
