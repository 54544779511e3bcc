"""Where a sync reads its datasets: JSON lines, a directory of dataset files, a Frictionless Data
Package, or another CKAN.

:func:`open_source` picks the kind from the SOURCE argument:

* ``ckan+https://host[/path][?q=...&fq=...&include_private=true]`` (or ``ckan+http://``): another
  CKAN, walked with ``package_search`` by keyset (``sort=id asc``, ``fq=id:{last TO *]``), as
  ``ckanx dump`` does. The record key is the dataset's ``id`` there.
* a file named ``datapackage.json``, or a directory holding one: a Data Package (its metadata
  becomes the dataset, its resources the dataset's resources);
* another directory: every ``*.json``, ``*.yaml`` and ``*.yml`` file in it (one dataset, or a list
  of datasets, per file) and every ``*/datapackage.json`` one level down (so the output of
  ``ckanx dump datasets -D DIR`` is a source too), in name order;
* any other file: JSON lines, one dataset per line (a ckanapi/ckanx dump; ``.gz`` read as gzip).

Each source has a :attr:`~Source.default_id` (the ``ckanx_sync_source`` value unless
``--source-id`` is given): the file name without ``.gz``/``.jsonl``/``.json``/``.ndjson``, the
directory's name, the Data Package's ``name``, or the CKAN's ``host[/path]`` (plus its query).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .._core import normalize_base_url
from ..bulk.actions import check_keyset_page, keyset_fq
from ..bulk.jsonl import InputError, iter_lines, open_input
from .records import SourceRecord, record_key

__all__ = [
    "CKANSource",
    "DatapackageSource",
    "DirectorySource",
    "JsonLinesSource",
    "Source",
    "datapackage_to_dataset",
    "open_source",
    "search_all",
    "walk_ckan",
]

SEARCH_ROWS = 1000
_URL = re.compile(r"^https?://", re.IGNORECASE)


class Source:
    """A sync source: :meth:`read` returns its records (async: a CKAN source makes HTTP calls)."""

    kind = "source"
    default_id = ""
    location = ""

    async def read(self) -> list[SourceRecord]:
        """Every record of the source, in source order."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"


def _strip_suffixes(name: str) -> str:
    for suffix in (".gz", ".jsonl", ".ndjson", ".json"):
        name = name.removesuffix(suffix)
    return name or "source"


def _record(value: Any, origin: str) -> SourceRecord:
    if not isinstance(value, dict):
        return SourceRecord({}, None, origin, error=f"expected a JSON object, got {type(value).__name__}")
    return SourceRecord(value, record_key(value), origin)


class JsonLinesSource(Source):
    """One dataset dict per line (ckanapi/ckanx dump format); gzip detected."""

    kind = "jsonl"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        self.default_id = _strip_suffixes(path.name)

    async def read(self) -> list[SourceRecord]:
        stream = open_input(self.path)
        try:
            # a malformed line raises InputError: a sync never plans from half a source
            return [
                _record(line.value, f"{self.path.name} line {line.number}")
                for line in iter_lines(stream, str(self.path))
            ]
        finally:
            stream.close()


def _load_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read {path}: {err}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise InputError(f"{path}: reading YAML needs PyYAML (pip install 'ckanx[yaml]')") from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise InputError(f"{path}: invalid YAML: {' '.join(str(err).split())}") from None
    try:
        return json.loads(text)
    except ValueError as err:
        raise InputError(f"{path}: invalid JSON: {err}") from None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")


def _is_datapackage(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("resources"), list)
        and any(isinstance(r, dict) and ("path" in r or "data" in r) for r in value["resources"])
    )


class DirectorySource(Source):
    """Every ``*.json``/``*.yaml``/``*.yml`` file of a directory, and ``*/datapackage.json`` below it."""

    kind = "directory"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        self.default_id = path.resolve().name or "source"

    async def read(self) -> list[SourceRecord]:
        out: list[SourceRecord] = []
        files = sorted(p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in (".json", ".yaml", ".yml"))
        files += sorted(p / "datapackage.json" for p in self.path.iterdir() if (p / "datapackage.json").is_file())
        for path in sorted(files, key=lambda p: str(p.relative_to(self.path))):
            rel = str(path.relative_to(self.path))
            value = _load_file(path)
            if path.name == "datapackage.json" or _is_datapackage(value):
                if not isinstance(value, dict):
                    out.append(_record(value, rel))
                    continue
                dataset, key, warnings = datapackage_to_dataset(value, fallback_name=_slug(path.parent.name))
                out.append(SourceRecord(dataset, key, rel, warnings=warnings))
                continue
            items = value if isinstance(value, list) else [value]
            for index, item in enumerate(items):
                origin = rel if len(items) == 1 else f"{rel} item {index + 1}"
                rec = _record(item, origin)
                if rec.error is None and not rec.dataset.get("name") and len(items) == 1:
                    # a file per dataset may leave the name to the file name
                    rec.dataset = {**rec.dataset, "name": _slug(path.stem)}
                    rec.key = record_key(rec.dataset)
                out.append(rec)
        return out


class DatapackageSource(Source):
    """One Frictionless Data Package (``datapackage.json``) as one dataset."""

    kind = "datapackage"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        value = _load_file(path)
        if not isinstance(value, dict):
            raise InputError(f"{path}: a Data Package must be a JSON object")
        self.value = value
        self.default_id = str(value.get("name") or path.resolve().parent.name or "datapackage")

    async def read(self) -> list[SourceRecord]:
        dataset, key, warnings = datapackage_to_dataset(
            self.value, fallback_name=_slug(self.path.resolve().parent.name)
        )
        return [SourceRecord(dataset, key, self.path.name, warnings=warnings)]


def _contributor(contributors: Any, role: str) -> dict[str, Any] | None:
    if not isinstance(contributors, list):
        return None
    for person in contributors:
        if not isinstance(person, dict):
            continue
        roles = person.get("roles") or [person.get("role") or "contributor"]
        if role in roles:
            return person
    return None


def datapackage_to_dataset(
    package: dict[str, Any], *, fallback_name: str = ""
) -> tuple[dict[str, Any], str | None, list[str]]:
    """A Data Package descriptor as a CKAN dataset dict: ``(dataset, key, warnings)``.

    ``name``, ``title``, ``description`` -> ``notes``, ``homepage`` -> ``url``, ``version``,
    ``keywords`` -> tags, the first license's ``name`` -> ``license_id``, the contributors with the
    ``author``/``maintainer`` role -> ``author``/``maintainer`` (and e-mails). Each resource: ``title``
    (or ``name``), ``description``, ``format``, ``mediatype`` -> ``mimetype``, ``bytes`` -> ``size``,
    ``hash``, and its URL: ``path`` when it is an http(s) URL, else the ``url`` ``ckanx dump -D``
    records. Local files are not uploaded (a warning says so); inline ``data`` is skipped.
    """
    warnings: list[str] = []
    dataset: dict[str, Any] = {"name": package.get("name") or fallback_name}
    for src, dst in (("title", "title"), ("description", "notes"), ("homepage", "url"), ("version", "version")):
        if package.get(src) not in (None, ""):
            dataset[dst] = package[src]
    keywords = package.get("keywords")
    if isinstance(keywords, list):
        dataset["tags"] = [{"name": str(k)} for k in keywords if k not in (None, "")]
    licenses = package.get("licenses")
    if isinstance(licenses, list) and licenses and isinstance(licenses[0], dict) and licenses[0].get("name"):
        dataset["license_id"] = licenses[0]["name"]
    for role in ("author", "maintainer"):
        person = _contributor(package.get("contributors"), role)
        if person:
            dataset[role] = person.get("title") or person.get("name") or ""
            if person.get("email"):
                dataset[f"{role}_email"] = person["email"]
    resources = []
    for index, res in enumerate(package.get("resources") or []):
        if not isinstance(res, dict):
            continue
        label = res.get("title") or res.get("name") or f"resource {index + 1}"
        path = res.get("path")
        if isinstance(path, list):
            path = path[0] if path else None
        url = ""
        if isinstance(path, str) and _URL.match(path):
            url = path
        elif isinstance(res.get("url"), str) and _URL.match(res["url"]):
            url = res["url"]
        elif path:
            warnings.append(f"resource {label!r}: local file {path} is not uploaded (sync links resources)")
        elif "data" in res:
            warnings.append(f"resource {label!r}: inline data is not synced")
            continue
        entry: dict[str, Any] = {"name": label, "url": url}
        for src, dst in (
            ("description", "description"),
            ("format", "format"),
            ("mediatype", "mimetype"),
            ("bytes", "size"),
            ("hash", "hash"),
        ):
            if res.get(src) not in (None, ""):
                entry[dst] = res[src]
        if res.get("ckan_id") or res.get("name"):
            entry["id"] = str(res.get("ckan_id") or res.get("name"))  # the resource's identity in the source
        resources.append(entry)
    dataset["resources"] = resources
    key = str(package.get("id") or dataset.get("name") or "") or None
    return dataset, key, warnings


@dataclass
class CKANSource(Source):
    """Another CKAN's datasets matching ``params`` (``q``, ``fq``, ``include_private``, ``include_drafts``)."""

    url: str
    params: dict[str, Any] = field(default_factory=dict)
    token: str | None = field(default=None, repr=False)
    verify: bool | str = True
    timeout: float | None = None
    kind = "ckan"

    def __post_init__(self) -> None:
        self.location = self.url
        parts = urlsplit(self.url)
        query = {k: v for k, v in sorted(self.params.items()) if k in ("q", "fq")}
        self.default_id = (parts.netloc + parts.path.rstrip("/")) + (f"?{urlencode(query)}" if query else "")

    async def read(self) -> list[SourceRecord]:
        from .._client import AsyncClient

        kwargs: dict[str, Any] = {"verify": self.verify}
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        async with AsyncClient(self.url, self.token, **kwargs) as client:
            return await walk_ckan(client, self.params, self.url)


async def search_all(client: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every dataset matching ``params`` (``q``, ``fq``, ``include_private``, ``include_drafts``),
    walked by keyset on ``id`` (stable while the site changes; one call per 1000 datasets)."""
    out: list[dict[str, Any]] = []
    last_id: str | None = None
    rows = SEARCH_ROWS
    first = True
    while True:
        query: dict[str, Any] = {
            "q": params.get("q") or "*:*",
            "sort": "id asc",
            "rows": rows,
            "start": 0,
            "include_private": _flag(params.get("include_private")),
            "include_drafts": _flag(params.get("include_drafts")),
        }
        fq = keyset_fq(params.get("fq") or None, last_id)
        if fq:
            query["fq"] = fq
        result = await client.call_action("package_search", query)
        page = result.get("results") or []
        if first:
            first = False
            if page and len(page) < min(rows, int(result.get("count", 0))):
                rows = len(page)  # the site caps rows below 1000: page by its cap
        if not page:
            return out
        check_keyset_page(page, last_id)
        out.extend(page)
        last_id = page[-1]["id"]
        if len(page) < rows:
            return out


async def walk_ckan(client: Any, params: dict[str, Any], label: str = "") -> list[SourceRecord]:
    """A CKAN's datasets matching ``params`` as source records (key: the dataset's id there)."""
    host = urlsplit(label).netloc or label
    return [SourceRecord(ds, str(ds["id"]), f"{host} {ds.get('name')}") for ds in await search_all(client, params)]


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes", "on") if value is not None else False


def open_source(
    spec: str | Path,
    *,
    query: str | None = None,
    token: str | None = None,
    verify: bool | str = True,
    timeout: float | None = None,
) -> Source:
    """The :class:`Source` for a SOURCE argument (see the module docstring).

    ``query`` adds a ``q`` to a CKAN source (``--source-query``); ``token`` is sent to that CKAN
    only. Raises :class:`~ckanx.bulk.jsonl.InputError` (one line) for a missing or unusable source.
    """
    text = str(spec)
    lowered = text.lower()
    if lowered.startswith(("http://", "https://")):
        raise InputError(f"source {text}: write a CKAN source as ckan+{text} (or use --source-url)")
    if lowered.startswith(("ckan+http://", "ckan+https://")):
        raw = text[5:]
        parts = urlsplit(raw)
        params = dict(parse_qsl(parts.query))
        unknown = set(params) - {"q", "fq", "include_private", "include_drafts"}
        if unknown:
            raise InputError(
                f"source {text}: unknown query parameter(s) {', '.join(sorted(unknown))} "
                "(use q, fq, include_private, include_drafts)"
            )
        if query:
            params["q"] = query
        try:
            base = normalize_base_url(parts._replace(query="", fragment="").geturl())
        except ValueError as err:
            raise InputError(f"source {text}: {err}") from None
        return CKANSource(base, params, token, verify, timeout)
    if query:
        raise InputError("--source-query applies to a CKAN source (ckan+https://...)")
    path = Path(text).expanduser()
    if path.is_dir():
        if (path / "datapackage.json").is_file():
            return DatapackageSource(path / "datapackage.json")
        return DirectorySource(path)
    if not path.exists():
        raise InputError(f"source {text}: no such file or directory")
    if path.name == "datapackage.json":
        return DatapackageSource(path)
    return JsonLinesSource(path)
