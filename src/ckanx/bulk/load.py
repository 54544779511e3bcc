"""Create or update datasets, groups, organizations or users from JSON lines (``ckanx load``).

For datasets, existing objects are fetched in bulk: every 500 input records cost one
``package_search`` with ``fq=name:(...) OR id:(...)`` (private and draft included), not one
``package_show`` each. Each record is then created, updated (existing fields kept, see
:mod:`ckanx.bulk.records`), or skipped without any write when unchanged. Groups, organizations and
users are looked up with ``*_show`` (sites have few of them).

Resume: the checkpoint holds the line number up to which every record is finished (outcomes are
handled in input order). Records finished after it are processed again on ``--resume``; as they
are unchanged by then, they are skipped without writing.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from .. import _exceptions as exc
from .checkpoint import Checkpoint
from .datapackage import same_origin
from .engine import Outcome, Progress, RecordLog, Summary, error_reason, run_ordered
from .jsonl import InputError, InputLine
from .records import THINGS, differences, merge_for_update, prepare_for_load, record_key

__all__ = ["LoadOptions", "run_load"]

# input records per lookup search: one clause each, well under Solr's default limit of 1024
# boolean clauses; on CKAN 2.11 + its search backend a search costs a lot per call, so fewer,
# larger searches made an unchanged reload of 500 datasets ~2x faster than chunks of 100
LOOKUP_CHUNK = 500
CHECKPOINT_SECONDS = 0.5
# CKAN stores an uploaded group/organization image as "<upload time><original name>"
_UPLOAD_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}-\d{6}\.\d{6}")
_GROUP_UPLOADS = "/uploads/group/"


@dataclass
class LoadOptions:
    """The ``ckanx load`` options."""

    thing: str
    concurrency: int = 1
    create_only: bool = False
    update_only: bool = False
    default_owner_org: str | None = None
    upload_resources: bool = False
    upload_logo: bool = False
    source_url: str | None = None
    source_token: str | None = field(default=None, repr=False)
    verify: bool | str = True


@dataclass
class _Record:
    line: InputLine
    lookup: Any = None  # asyncio future: {"id": {...}, "name": {...}} for this record's chunk


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Lookups:
    """Reads input ahead in chunks and starts one ``package_search`` per chunk for the existing datasets."""

    def __init__(self, client: Any, thing: str) -> None:
        self.client = client
        self.thing = thing

    def records(self, lines: Iterable[InputLine]) -> Iterator[_Record]:
        import asyncio

        it = iter(lines)
        while True:
            chunk: list[_Record] = []
            error: InputError | None = None
            try:
                while len(chunk) < LOOKUP_CHUNK:
                    line = next(it)
                    chunk.append(_Record(line))
            except StopIteration:
                pass
            except InputError as err:
                error = err  # process what was read before the bad line, then stop
            if chunk and self.thing == "datasets":
                future = asyncio.ensure_future(self._search([r.line.value for r in chunk]))
                for rec in chunk:
                    rec.lookup = future
            yield from chunk
            if error is not None:
                raise error
            if len(chunk) < LOOKUP_CHUNK:
                return

    async def _search(self, values: list[Any]) -> dict[str, dict[str, Any]] | BaseException:
        # one clause per record: by name, by id only when there is no name. A record renamed since
        # (its id on the site under another name) is not found here; its create then fails with
        # "already exists" and it is looked up by id (see _load_one): one extra call, no write.
        names = sorted({str(v["name"]) for v in values if isinstance(v, dict) and v.get("name")})
        ids = sorted({str(v["id"]) for v in values if isinstance(v, dict) and v.get("id") and not v.get("name")})
        clauses = []
        if names:
            clauses.append("name:(" + " OR ".join(_quote(n) for n in names) + ")")
        if ids:
            clauses.append("id:(" + " OR ".join(_quote(i) for i in ids) + ")")
        found: dict[str, dict[str, Any]] = {}
        if not clauses:
            return found
        try:
            result = await self.client.call_action(
                "package_search",
                {
                    "q": "*:*",
                    "fq": "(" + " OR ".join(clauses) + ")",  # CKAN appends to fq: keep the OR inside
                    "rows": min(1000, len(names) + len(ids)),
                    "include_private": True,
                    "include_drafts": True,
                },
            )
        except exc.CKANAPIError as err:
            return err  # each record then falls back to package_show
        for ds in result.get("results") or []:
            found["id:" + ds["id"]] = ds
            found["name:" + ds["name"]] = ds
        return found


async def run_load(
    client: Any,
    opts: LoadOptions,
    lines: Iterable[InputLine],
    *,
    progress: Progress,
    log: RecordLog,
    checkpoint: Checkpoint | None = None,
    state: dict[str, Any] | None = None,
) -> Summary:
    """Run a load over numbered input lines; returns the counts per outcome."""
    spec = THINGS[opts.thing]
    state = dict(state or {})
    summary = Summary(dict(state.get("counts") or {}))
    if summary.total:
        progress.advance(summary.total, errors=summary.errors)
    resume_after = int(state.get("next", 0))
    lookups = _Lookups(client, opts.thing)
    downloads = (
        httpx.AsyncClient(follow_redirects=True, timeout=httpx.Timeout(120.0, connect=10.0), verify=opts.verify)
        if opts.upload_resources or (opts.upload_logo and opts.thing in ("groups", "organizations"))
        else None
    )
    last_save = time.monotonic()

    def save(next_line: int, *, force: bool = False) -> None:
        nonlocal last_save
        if checkpoint is None:
            return
        if force or time.monotonic() - last_save >= CHECKPOINT_SECONDS:
            last_save = time.monotonic()
            checkpoint.save({"next": next_line, "counts": summary.counts})

    async def work(rec: _Record) -> Outcome:
        value = rec.line.value
        if not isinstance(value, dict):
            return Outcome("error", None, None, f"expected a JSON object, got {type(value).__name__}")
        return await _load_one(client, opts, spec.plural, value, rec, downloads)

    next_line = resume_after

    def emit(rec: _Record, outcome: Any) -> None:
        nonlocal next_line
        if isinstance(outcome, BaseException):
            value = rec.line.value if isinstance(rec.line.value, dict) else {}
            outcome = Outcome("error", record_key(value), value.get("id"), error_reason(outcome))
        summary.add(outcome.status)
        progress.advance(errors=int(outcome.failed))
        log.write(rec.line.number, outcome, {"created": spec.create, "updated": spec.update}.get(outcome.status))
        if outcome.failed:
            progress.note(f"line {rec.line.number} {outcome.name or ''}: {outcome.reason}")
        next_line = rec.line.number + 1
        save(next_line)

    todo = (line for line in lines if line.number >= resume_after)
    try:
        await run_ordered(lookups.records(todo), work, emit, concurrency=opts.concurrency)
    finally:
        save(next_line, force=True)
        if downloads is not None:
            await downloads.aclose()
    return summary


async def _find_existing(client: Any, thing: str, value: dict[str, Any], rec: _Record) -> dict[str, Any] | None:
    spec = THINGS[thing]
    if rec.lookup is not None:
        found = await rec.lookup
        if isinstance(found, dict):
            for key in ("id", "name"):
                if value.get(key) and f"{key}:{value[key]}" in found:
                    return dict(found[f"{key}:{value[key]}"])
            return None
    return await _show(client, spec.show, value, thing)


async def _show(client: Any, action: str, value: dict[str, Any], thing: str) -> dict[str, Any] | None:
    extra: dict[str, Any] = {}
    if thing in ("groups", "organizations"):
        extra = {"include_datasets": False, "include_users": True}
    for key in ("id", "name"):
        if not value.get(key):
            continue
        try:
            found: dict[str, Any] = await client.call_action(action, {"id": value[key], **extra})
            return found
        except exc.NotFound:
            continue
    return None


def _in_use(err: exc.ValidationError) -> bool:
    text = str(err.error_dict).lower()
    return "already in use" in text or "already exists" in text


async def _load_one(
    client: Any,
    opts: LoadOptions,
    thing: str,
    value: dict[str, Any],
    rec: _Record,
    downloads: httpx.AsyncClient | None,
) -> Outcome:
    spec = THINGS[thing]
    prepared = prepare_for_load(thing, value, default_owner_org=opts.default_owner_org)
    name = record_key(prepared)
    logo: _Logo | None = None
    if opts.upload_logo and downloads is not None and thing in ("groups", "organizations"):
        try:
            logo = _Logo.of(value, opts.source_url)
        except ValueError as err:
            return Outcome("error", name, prepared.get("id"), str(err))
        if logo is not None:
            # the source's file name means nothing on this site: the file itself is uploaded below
            prepared.pop("image_url", None)
    existing = await _find_existing(client, thing, prepared, rec)
    if existing is None:
        if opts.update_only:
            return Outcome("error", name, prepared.get("id"), "not found (--update-only)")
        try:
            result = await client.call_action(spec.create, prepared)
        except exc.ValidationError as err:
            if not _in_use(err):
                return Outcome("error", name, prepared.get("id"), error_reason(err))
            # a deleted dataset keeps its name, and search does not show it: look again by show
            existing = await _show(client, spec.show, prepared, thing)
            if existing is None:
                return Outcome("error", name, prepared.get("id"), error_reason(err))
        except exc.ActionError as err:
            return Outcome("error", name, prepared.get("id"), error_reason(err))
        else:
            problems = await _after_write(client, opts, thing, value, result, downloads)
            if logo is not None and downloads is not None:
                problems += await logo.copy(client, spec.plural, result, downloads, opts.source_token)
            return _done("created", result, problems)
    if opts.create_only:
        return Outcome("exists", name, existing.get("id"))
    changed = differences(thing, prepared, existing)
    same_logo = True
    if logo is not None and downloads is not None:
        same_logo = await logo.same_as(existing, downloads, opts.source_token)
    if not changed and same_logo and existing.get("state", "active") == "active":
        return Outcome("unchanged", name, existing.get("id"))
    if not changed and existing.get("state", "active") == "active":
        assert logo is not None and downloads is not None
        problems = await logo.copy(client, spec.plural, existing, downloads, opts.source_token)
        return _done("updated", existing, problems)
    merged = merge_for_update(existing, prepared)
    if existing.get("state") == "deleted" and "state" not in prepared:
        merged["state"] = "active"  # loading a record means it should exist
    if thing in ("groups", "organizations") and isinstance(merged.get("users"), list):
        merged["users"] = [
            {"name": u.get("name") or u.get("id"), "capacity": u.get("capacity", "member")}
            for u in merged["users"]
            if isinstance(u, dict)
        ]
    try:
        result = await client.call_action(spec.update, merged)
    except exc.ActionError as err:
        return Outcome("error", name, existing.get("id"), error_reason(err))
    problems = await _after_write(client, opts, thing, value, result, downloads)
    if not same_logo and logo is not None and downloads is not None:
        problems += await logo.copy(client, spec.plural, result, downloads, opts.source_token)
    return _done("updated", result, problems)


class _Logo:
    """``--upload-logo``: a group's or organization's image uploaded on the source site.

    CKAN keeps an uploaded image as a bare file name in ``image_url`` and serves it from
    ``<site>/uploads/group/<name>`` (``image_display_url``). Loaded as it is, that name points at
    nothing on the target; so the file is downloaded from the source and uploaded to the target
    with ``<thing>_patch`` and ``image_upload`` (multipart; checked on CKAN 2.11 to keep the other
    fields and the members). An unchanged load compares the two files' bytes, not their names.
    """

    def __init__(self, url: str, source_url: str | None) -> None:
        self.url = url
        self.source_url = source_url
        self._content: bytes | None = None

    @classmethod
    def of(cls, record: dict[str, Any], source_url: str | None) -> _Logo | None:
        """The uploaded image of ``record``, or ``None`` (no image, or a link to an image elsewhere)."""
        image = str(record.get("image_url") or "")
        if not image:
            return None
        if "://" in image:
            return cls(image, source_url) if _GROUP_UPLOADS in urlsplit(image).path else None
        display = str(record.get("image_display_url") or "")
        if _GROUP_UPLOADS in urlsplit(display).path:
            return cls(display, source_url)
        if source_url:
            return cls(f"{source_url.rstrip('/')}{_GROUP_UPLOADS}{quote(image)}", source_url)
        raise ValueError(
            f"--upload-logo: image {image!r} was uploaded on the source site, whose address the record "
            "does not give (no image_display_url): give --source-url"
        )

    @property
    def filename(self) -> str:
        """The original file name, without the source's upload-time prefix."""
        name = unquote(urlsplit(self.url).path.rsplit("/", 1)[-1])
        return _UPLOAD_STAMP.sub("", name) or "logo"

    async def content(self, downloads: httpx.AsyncClient, source_token: str | None) -> bytes:
        """The image's bytes from the source (downloaded once)."""
        if self._content is None:
            headers = {}
            if source_token and self.source_url and same_origin(self.url, self.source_url):
                headers["Authorization"] = source_token  # only to the source CKAN itself
            response = await downloads.get(self.url, headers=headers)
            response.raise_for_status()
            self._content = response.content
        return self._content

    async def same_as(self, existing: dict[str, Any], downloads: httpx.AsyncClient, token: str | None) -> bool:
        """Whether the target already shows the same image bytes (either download failing: no)."""
        current = str(existing.get("image_display_url") or "")
        if _GROUP_UPLOADS not in urlsplit(current).path:
            return False
        try:
            mine = await self.content(downloads, token)
            response = await downloads.get(current)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.content == mine

    async def copy(
        self, client: Any, plural: str, target: Any, downloads: httpx.AsyncClient, source_token: str | None
    ) -> list[str]:
        """Upload the image to ``target``; returns problems (empty when the site took the file)."""
        if not isinstance(target, dict) or not target.get("id"):
            return []
        try:
            content = await self.content(downloads, source_token)
        except httpx.HTTPError as err:
            return [f"logo: download from the source failed: {type(err).__name__}"]
        action = "group_patch" if plural == "groups" else "organization_patch"
        try:
            result = await client.call_action(action, {"id": target["id"]}, {"image_upload": (self.filename, content)})
        except exc.CKANAPIError as err:
            return [f"logo: upload failed: {error_reason(err)}"]
        image = str((result or {}).get("image_url") or "")
        if not image or "://" in image or image == target.get("image_url"):
            return [f"logo: the site did not store the uploaded image (image_url is {image!r} after {action})"]
        return []


def _done(status: str, result: Any, problems: list[str]) -> Outcome:
    result = result if isinstance(result, dict) else {}
    if problems:
        return Outcome("error", record_key(result), result.get("id"), f"{status}, but " + "; ".join(problems))
    return Outcome(status, record_key(result), result.get("id"))


async def _after_write(
    client: Any,
    opts: LoadOptions,
    thing: str,
    source: dict[str, Any],
    result: Any,
    downloads: httpx.AsyncClient | None,
) -> list[str]:
    """``--upload-resources``: copy uploaded files from the source site onto the new resources."""
    if thing != "datasets" or downloads is None or not isinstance(result, dict):
        return []
    problems = []
    targets = {r.get("id"): r for r in result.get("resources") or []}
    for index, res in enumerate(source.get("resources") or []):
        if not isinstance(res, dict) or res.get("url_type") != "upload" or not res.get("url"):
            continue
        target = targets.get(res.get("id"))
        if target is None and index < len(result.get("resources") or []):
            target = result["resources"][index]
        if target is None:
            continue
        url = str(res["url"])
        headers = {}
        if opts.source_token and opts.source_url and same_origin(url, opts.source_url):
            headers["Authorization"] = opts.source_token  # only to the source CKAN itself
        try:
            response = await downloads.get(url, headers=headers)
            response.raise_for_status()
        except httpx.HTTPError as err:
            problems.append(f"resource {res.get('id')}: download from the source failed: {type(err).__name__}")
            continue
        filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or "upload"
        try:
            await client.call_action("resource_patch", {"id": target["id"]}, {"upload": (filename, response.content)})
        except exc.CKANAPIError as err:
            problems.append(f"resource {res.get('id')}: upload failed: {error_reason(err)}")
    return problems
