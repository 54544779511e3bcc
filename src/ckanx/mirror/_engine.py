"""The mirror job: organizations and groups, then datasets with their files, tables and views, then deletions.

Order and rules (``docs/mirror.md`` has the user's version):

1. **Organizations, then groups**, every run (sites have few): each source object is shown and
   created or updated on the target *by name*, with ``image_url`` and extras; an uploaded image (a
   bare file name on the source) is referenced by the source's absolute image URL. Unchanged ones
   are not written. With ``members``, members are mapped by user name; users missing on the target
   are reported, never created. Without it the target's members are kept as they are.
2. **Datasets**: the source is walked by keyset (``sort=id asc``, 1000 per page); on a re-run only
   datasets with ``metadata_modified`` at or after the state's mark minus ``since_margin`` are asked
   for. Each page is matched against the target in bulk (one ``package_search`` per 100 names), each
   dataset prepared as ``ckanx load`` does (``owner_org`` and groups by name, see
   :mod:`ckanx.bulk.records`) and written only when it differs. Then, per resource: uploaded files
   (``url_type == "upload"``) and DataStore tables (``datastore_active``) are compared and copied
   when they differ, and with ``views`` the resource views.
3. **Deletions**: the source's complete id list (``fl=id,name``, cheap) is compared with the
   state's set of datasets this mirror wrote; target datasets mirrored from the source and gone from
   it are deleted with ``delete_missing`` (``package_delete``), otherwise reported. Datasets made by
   hand on the target are never in that set.

Failures are per object: one dataset, file or table failing is counted and reported, the job goes on.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _exceptions as exc
from ..bulk.actions import check_keyset_page, keyset_fq
from ..bulk.dump import DumpOptions, _list_names
from ..bulk.engine import error_reason, run_ordered
from ..bulk.load import _Lookups
from ..bulk.records import differences, merge_for_update, prepare_for_load
from ._files import SourceMissing, sync_file
from ._state import MirrorState
from ._tables import sync_table

__all__ = ["KINDS", "STATUSES", "MirrorOptions", "MirrorReport", "run_mirror"]

KINDS = ("organizations", "groups", "datasets", "resource_files", "datastore_tables", "members", "views")
STATUSES = ("created", "updated", "unchanged", "deleted", "failed", "missing_on_source")
PAGE_ROWS = 1000
LOOKUP_CHUNK = 100


@dataclass
class MirrorOptions:
    """How to mirror (the ``ckanx mirror`` options)."""

    concurrency: int = 1
    dry_run: bool = False
    include_private: bool = False
    files: bool = True
    datastore: bool = True
    members: bool = False
    views: bool = False
    since_margin: float = 600.0
    delete_missing: bool = False
    full: bool = False
    workdir: Path | None = None


@dataclass
class MirrorReport:
    """Counts per kind and status, failures, and what was found missing on the source."""

    source: str
    target: str
    dry_run: bool = False
    since: str | None = None
    mark: str | None = None
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {k: dict.fromkeys(STATUSES, 0) for k in KINDS}
    )
    failures: list[dict[str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    missing_users: list[str] = field(default_factory=list)
    source_datasets_examined: int = 0
    elapsed: float = 0.0

    def add(self, kind: str, status: str, name: str | None = None, error: str | None = None) -> None:
        """Count one object; a failure is also listed with its reason."""
        self.counts[kind][status] = self.counts[kind].get(status, 0) + 1
        if status == "failed":
            self.failures.append({"kind": kind, "name": name or "", "error": error or ""})

    @property
    def failed(self) -> int:
        """Objects that failed, all kinds together."""
        return sum(c.get("failed", 0) for c in self.counts.values())

    def to_json(self) -> dict[str, Any]:
        """The ``--report`` file's content."""
        return {
            "source": self.source,
            "target": self.target,
            "dry_run": self.dry_run,
            "since": self.since,
            "mark": self.mark,
            "source_datasets_examined": self.source_datasets_examined,
            "counts": self.counts,
            "failures": self.failures,
            "gone_from_source": sorted(self.missing),
            "missing_users": sorted(set(self.missing_users)),
            "elapsed_seconds": round(self.elapsed, 3),
        }

    def text(self) -> str:
        """The summary lines for stderr."""
        lines = []
        for kind in KINDS:
            c = self.counts[kind]
            if not any(c.values()):
                continue
            parts = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in c.items() if n)
            lines.append(f"  {kind.replace('_', ' ')}: {parts}")
        if self.missing:
            lines.append(
                f"  {len(self.missing)} mirrored dataset(s) gone from the source, kept on the target "
                "(--delete-missing deletes them)"
            )
        if self.missing_users:
            lines.append(f"  users missing on the target (not created): {', '.join(sorted(set(self.missing_users)))}")
        head = "mirror (dry run, nothing written)" if self.dry_run else "mirror"
        return "\n".join([f"{head}: {self.source} -> {self.target} in {self.elapsed:.1f}s", *lines])


Note = Callable[[str], None]


def _parse_ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.rstrip("Z").replace(" ", "T"))


def _solr_ts(value: dt.datetime) -> str:
    # whole seconds, rounded down: the margin covers the lost fraction
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _absolute_image(obj: dict[str, Any], source: dict[str, Any]) -> None:
    """An uploaded image is a bare file name on the source: point at the source's copy instead
    (``image_display_url``, the absolute URL the source serves it at), when the source gives one."""
    url = obj.get("image_url")
    display = source.get("image_display_url")
    if url and not str(url).startswith(("http://", "https://")) and str(display or "").startswith(("http", "//")):
        obj["image_url"] = display


class _Mirror:
    def __init__(self, source: Any, target: Any, opts: MirrorOptions, state: MirrorState, note: Note) -> None:
        self.source = source
        self.target = target
        self.opts = opts
        self.state = state
        self.note = note
        self.report = MirrorReport(source.url, target.url, dry_run=opts.dry_run)
        self.users: dict[str, asyncio.Future[bool]] = {}

    # ------------------------------------------------------------ organizations and groups

    async def groups_of(self, kind: str) -> None:
        thing = "organizations" if kind == "organization" else "groups"
        names = await _list_names(self.source, DumpOptions(thing=thing))
        mirrored = self.state.organizations if kind == "organization" else self.state.groups

        async def work(name: str) -> tuple[str, str | None]:
            try:
                return await self.one_group(kind, thing, name)
            except exc.CKANAPIError as err:
                return "failed", error_reason(err)

        def emit(name: str, outcome: Any) -> None:
            if isinstance(outcome, BaseException):
                outcome = ("failed", error_reason(outcome))
            status, reason = outcome
            self.report.add(thing, status, name, reason)
            if status == "failed":
                self.note(f"{kind} {name}: {reason}")
            elif not self.opts.dry_run:
                mirrored.add(name)

        await run_ordered(names, work, emit, concurrency=self.opts.concurrency)
        if self.opts.delete_missing:
            for name in sorted(mirrored - set(names)):
                await self.delete_group(kind, thing, name, mirrored)

    async def one_group(self, kind: str, thing: str, name: str) -> tuple[str, str | None]:
        src = await self.source.call_action(
            f"{kind}_show", {"id": name, "include_datasets": False, "include_users": self.opts.members}
        )
        prepared = prepare_for_load(thing, src)
        _absolute_image(prepared, src)
        for key in ("state", "approval_status", "is_organization", "type"):
            prepared.pop(key, None)  # the target decides these for a new object
        want_members: set[tuple[str, str]] | None = None
        if self.opts.members:
            want_members = set()
            for user in src.get("users") or []:
                uname = user.get("name")
                if not uname:
                    continue
                if await self.user_exists(str(uname)):
                    want_members.add((str(uname), str(user.get("capacity") or "member")))
                else:
                    self.report.missing_users.append(str(uname))
            prepared["users"] = [{"name": n, "capacity": c} for n, c in sorted(want_members)]
        else:
            prepared.pop("users", None)
        try:
            existing = await self.target.call_action(
                f"{kind}_show", {"id": name, "include_datasets": False, "include_users": True}
            )
        except exc.NotFound:
            existing = None
        if existing is not None and existing.get("name") != name:
            existing = None  # found by an id equal to this name: not the same object
        if existing is None:
            if not self.opts.dry_run:
                payload = dict(prepared)
                try:
                    await self.target.call_action(f"{kind}_create", payload)
                except exc.ValidationError as err:
                    if "id" not in err.error_dict or "id" not in payload:
                        raise
                    payload.pop("id")  # the source's id is taken on the target: references go by name
                    await self.target.call_action(f"{kind}_create", payload)
            if self.opts.members:
                self.report.add("members", "created" if want_members else "unchanged")
            return "created", None
        changed = differences(thing, {k: v for k, v in prepared.items() if k != "users"}, existing)
        members_changed = False
        if want_members is not None:
            have = {(str(u.get("name")), str(u.get("capacity") or "member")) for u in existing.get("users") or []}
            members_changed = have != want_members
            self.report.add("members", "updated" if members_changed else "unchanged")
        if not changed and not members_changed and existing.get("state", "active") == "active":
            return "unchanged", None
        merged = merge_for_update(existing, prepared)
        merged["id"] = existing["id"]
        merged.pop("packages", None)
        if existing.get("state") not in (None, "active"):
            merged["state"] = "active"
        merged["users"] = [
            {"name": u.get("name") or u.get("id"), "capacity": u.get("capacity", "member")}
            for u in merged.get("users") or []
            if isinstance(u, dict)
        ]
        if not self.opts.dry_run:
            await self.target.call_action(f"{kind}_update", merged)
        return "updated", None

    async def user_exists(self, name: str) -> bool:
        if name not in self.users:
            future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self.users[name] = future
            try:
                await self.target.call_action("user_show", {"id": name})
                future.set_result(True)
            except exc.NotFound:
                future.set_result(False)
            except BaseException as err:
                future.set_exception(err)
                raise
        return await self.users[name]

    async def delete_group(self, kind: str, thing: str, name: str, mirrored: set[str]) -> None:
        try:
            existing = await self.target.call_action(f"{kind}_show", {"id": name, "include_datasets": False})
        except exc.NotFound:
            mirrored.discard(name)
            return
        if existing.get("state") == "deleted":
            mirrored.discard(name)
            return
        if self.opts.dry_run:
            self.report.add(thing, "deleted", name)
            return
        try:
            await self.target.call_action(f"{kind}_delete", {"id": existing["id"]})
        except exc.CKANAPIError as err:
            self.report.add(thing, "failed", name, error_reason(err))
            self.note(f"{kind} {name}: delete failed: {error_reason(err)}")
            return
        mirrored.discard(name)
        self.report.add(thing, "deleted", name)

    # ------------------------------------------------------------ datasets

    def search_params(self) -> dict[str, Any]:
        return {"q": "*:*", "include_private": self.opts.include_private, "include_drafts": False}

    async def walk(self, fq: str | None, fl: str | None = None, on_count: Callable[[int], Any] | None = None) -> Any:
        """Keyset walk of the source's datasets: yields pages (lists of dicts); ``on_count`` gets the total."""
        last_id: str | None = None
        while True:
            params = {**self.search_params(), "sort": "id asc", "rows": PAGE_ROWS, "start": 0}
            parts = [p for p in (f"+({fq})" if fq else None, keyset_fq(None, last_id)) if p]
            if parts:
                params["fq"] = " ".join(parts)
            if fl:
                params["fl"] = fl
            result = await self.source.call_action("package_search", params)
            page = result.get("results") or []
            if on_count is not None and last_id is None:
                on_count(int(result.get("count") or 0))
            if not page:
                return
            check_keyset_page(page, last_id)
            last_id = page[-1]["id"]
            yield page
            if len(page) < min(PAGE_ROWS, int(result.get("count") or 0)):
                return

    async def datasets(self, progress: Any) -> set[str] | None:
        """Mirror the datasets; returns the source's complete id set when the walk saw all of them."""
        since: str | None = None
        if self.state.mark and not self.opts.full:
            start = _parse_ts(self.state.mark) - dt.timedelta(seconds=self.opts.since_margin)
            since = _solr_ts(start)
            self.report.since = since
        fq = f"metadata_modified:[{since} TO *]" if since else None
        seen_ids: set[str] = set()
        marks: list[str] = []
        failed_marks: list[str] = []
        progress.started = time.monotonic()  # the rate is of datasets, not of the organizations before them
        async for page in self.walk(fq, on_count=progress.set_total):
            self.report.source_datasets_examined += len(page)
            lookup = asyncio.ensure_future(self.find_on_target(page))

            async def work(
                ds: dict[str, Any], lookup: asyncio.Future[dict[str, dict[str, Any]]] = lookup
            ) -> tuple[str, str | None, dict[str, Any] | None]:
                found = await lookup
                return await self.one_dataset(ds, found)

            def emit(ds: dict[str, Any], outcome: Any) -> None:
                if isinstance(outcome, BaseException):
                    outcome = ("failed", error_reason(outcome), None)
                status, reason, result = outcome
                seen_ids.add(ds["id"])
                self.report.add("datasets", status, ds.get("name"), reason)
                progress.advance(errors=int(status == "failed"))
                if ds.get("metadata_modified"):
                    (failed_marks if status == "failed" else marks).append(str(ds["metadata_modified"]))
                if status == "failed":
                    progress.note(f"dataset {ds.get('name')}: {reason}")
                elif result is not None and not self.opts.dry_run:
                    self.state.datasets[ds["id"]] = {"name": str(ds.get("name")), "target_id": str(result["id"])}

            await run_ordered(page, work, emit, concurrency=self.opts.concurrency)
            if not self.opts.dry_run:
                self.state.save()  # what this page wrote is remembered even if the job dies later
        if failed_marks:
            # the next run must see the failed ones again
            self.report.mark = min(failed_marks + ([self.state.mark] if self.state.mark else []))
        elif marks:
            self.report.mark = max(marks + ([self.state.mark] if self.state.mark else []))
        else:
            self.report.mark = self.state.mark
        return seen_ids if since is None else None

    async def find_on_target(self, page: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        lookups = _Lookups(self.target, "datasets")
        chunks = [page[i : i + LOOKUP_CHUNK] for i in range(0, len(page), LOOKUP_CHUNK)]
        results = await asyncio.gather(*(lookups._search(c) for c in chunks))
        for result in results:
            if isinstance(result, BaseException):
                raise result
            found.update(result)
        return found

    async def one_dataset(
        self, src: dict[str, Any], found: dict[str, dict[str, Any]]
    ) -> tuple[str, str | None, dict[str, Any] | None]:
        prepared = prepare_for_load("datasets", src)
        self.local_urls(prepared)
        # the name first: a target dataset with this name is the one to keep in step
        existing = found.get(f"name:{src['name']}") or found.get(f"id:{src['id']}")
        status = "unchanged"
        result = existing
        try:
            if existing is None:
                status = "created"
                if not self.opts.dry_run:
                    try:
                        result = await self.target.call_action("package_create", prepared)
                    except exc.ValidationError as err:
                        text = str(err.error_dict).lower()
                        if "already in use" not in text and "already exists" not in text:
                            raise
                        # a deleted dataset with this id (or name) is not in search: bring it back
                        result = await self.target.call_action("package_show", {"id": src["id"]})
                        existing = result
                        status = "updated"
            if existing is not None:
                changed = differences("datasets", prepared, existing)
                if changed or existing.get("state", "active") != "active":
                    status = "updated"
                    merged = merge_for_update(existing, prepared)
                    if existing.get("state") != "active":
                        merged["state"] = "active"
                    if not self.opts.dry_run:
                        result = await self.target.call_action("package_update", merged)
        except exc.CKANAPIError as err:
            return "failed", error_reason(err), None
        if result is not None:
            await self.resources(src, result, created=status == "created")
        return status, None, result

    def local_urls(self, prepared: dict[str, Any]) -> None:
        """A DataStore resource's URL on the source's own dump endpoint points at the target's copy."""
        prefix = self.source.url + "/datastore/dump/"
        for res in prepared.get("resources") or []:
            url = res.get("url") if isinstance(res, dict) else None
            if isinstance(url, str) and url.startswith(prefix):
                res["url"] = self.target.url + "/datastore/dump/" + url[len(prefix):]

    async def resources(self, src: dict[str, Any], result: dict[str, Any], *, created: bool) -> None:
        targets = [r for r in result.get("resources") or [] if isinstance(r, dict)]
        by_id = {r.get("id"): r for r in targets}
        for index, res in enumerate(src.get("resources") or []):
            if not isinstance(res, dict):
                continue
            tgt = by_id.get(res.get("id")) or (targets[index] if index < len(targets) else None)
            label = f"{src.get('name')}/{res.get('name') or res.get('id')}"
            if tgt is None:
                if self.opts.dry_run:
                    tgt = {"id": None}
                else:
                    continue
            if self.opts.files and res.get("url_type") == "upload" and res.get("url"):
                await self.file(label, res, tgt, created)
            if self.opts.datastore and res.get("datastore_active"):
                await self.guarded("datastore_tables", label, self.copy_table(res, tgt))
            if self.opts.views:
                await self.guarded_views(label, res, tgt)

    async def file(self, label: str, res: dict[str, Any], tgt: dict[str, Any], created: bool) -> None:
        """Copy an uploaded file unless the state says this very source file is already there."""
        fingerprint = "|".join(
            str(res.get(k) or "") for k in ("url", "size", "last_modified", "metadata_modified")
        ) + f"|{tgt.get('id')}"
        known = self.state.files.get(str(res["id"]), "")
        if not self.opts.full and not created and known.partition(":")[2] == fingerprint:
            status = "missing_on_source" if known.startswith("missing:") else "unchanged"
            self.report.add("resource_files", status, label)
            return
        status = await self.guarded("resource_files", label, self.copy_file(res, tgt, created))
        if not self.opts.dry_run and status in ("created", "updated", "unchanged", "missing_on_source"):
            prefix = "missing" if status == "missing_on_source" else "ok"
            self.state.files[str(res["id"])] = f"{prefix}:{fingerprint}"

    async def guarded(self, kind: str, label: str, work: Any) -> str:
        try:
            status = await work
        except SourceMissing:
            # the source's own metadata promises bytes it does not have: nothing to copy, not a failure
            self.report.add(kind, "missing_on_source", label)
            return "missing_on_source"
        except (exc.CKANAPIError, OSError) as err:
            self.report.add(kind, "failed", label, error_reason(err))
            self.note(f"{kind.replace('_', ' ')} {label}: {error_reason(err)}")
            return "failed"
        self.report.add(kind, status, label)
        return str(status)

    async def copy_file(self, res: dict[str, Any], tgt: dict[str, Any], created: bool) -> str:
        if tgt.get("id") is None:
            return "created"  # dry run, dataset not on the target yet
        status = await sync_file(self.source, self.target, res, str(tgt["id"]), workdir=self.opts.workdir,
                                 dry_run=self.opts.dry_run)
        if status == "copied":
            return "created" if created else "updated"
        return status

    async def copy_table(self, res: dict[str, Any], tgt: dict[str, Any]) -> str:
        if tgt.get("id") is None:
            return "created"
        outcome = await sync_table(self.source, self.target, str(res["id"]), str(tgt["id"]),
                                   dry_run=self.opts.dry_run)
        return outcome.status

    async def guarded_views(self, label: str, res: dict[str, Any], tgt: dict[str, Any]) -> None:
        try:
            outcomes = await sync_views(self.source, self.target, str(res["id"]), tgt.get("id"),
                                        dry_run=self.opts.dry_run)
        except exc.CKANAPIError as err:
            self.report.add("views", "failed", label, error_reason(err))
            self.note(f"views {label}: {error_reason(err)}")
            return
        for status in outcomes:
            self.report.add("views", status, label)

    # ------------------------------------------------------------ deletions

    async def source_ids(self) -> set[str]:
        ids: set[str] = set()
        async for page in self.walk(None, fl="id,name"):
            ids.update(str(d["id"]) for d in page)
        return ids

    async def deletions(self, source_ids: set[str]) -> None:
        gone = sorted(set(self.state.datasets) - source_ids)
        if gone and not source_ids:
            # an empty source while this mirror wrote datasets: a wrong URL, token or an outage, far
            # more likely than a portal that deleted everything
            self.report.add("datasets", "failed", "(deletions)",
                            "the source lists no datasets at all: refusing to delete anything on the target")
            return
        for sid in gone:
            entry = self.state.datasets[sid]
            try:
                existing = await self.target.call_action("package_show", {"id": entry["target_id"]})
            except exc.NotFound:
                existing = None
            if existing is None or existing.get("state") == "deleted":
                if not self.opts.dry_run:
                    del self.state.datasets[sid]
                continue
            if not self.opts.delete_missing:
                self.report.missing.append(entry["name"])
                continue
            if not self.opts.dry_run:
                try:
                    await self.target.call_action("package_delete", {"id": existing["id"]})
                except exc.CKANAPIError as err:
                    self.report.add("datasets", "failed", entry["name"], error_reason(err))
                    continue
                del self.state.datasets[sid]
            self.report.add("datasets", "deleted", entry["name"])


_VIEW_SKIP = frozenset({"id", "resource_id", "package_id", "position"})


async def sync_views(source: Any, target: Any, source_id: str, target_id: str | None, *, dry_run: bool) -> list[str]:
    """Make the target resource's views match the source's (matched by ``view_type`` and ``title``).

    Returns one status per view: created, updated, unchanged or deleted (target views the source
    does not have).
    """
    want = await source.call_action("resource_view_list", {"id": source_id})
    have = [] if target_id is None else await target.call_action("resource_view_list", {"id": target_id})
    index = {(v.get("view_type"), v.get("title")): v for v in have}
    out = []
    for view in want:
        payload = {k: v for k, v in view.items() if k not in _VIEW_SKIP}
        match = index.pop((view.get("view_type"), view.get("title")), None)
        if match is None:
            if not dry_run:
                await target.call_action("resource_view_create", {**payload, "resource_id": target_id})
            out.append("created")
        elif any(match.get(k) != v for k, v in payload.items()):
            if not dry_run:
                await target.call_action("resource_view_update", {**payload, "id": match["id"],
                                                                  "resource_id": target_id})
            out.append("updated")
        else:
            out.append("unchanged")
    for extra in index.values():
        if not dry_run:
            await target.call_action("resource_view_delete", {"id": extra["id"]})
        out.append("deleted")
    return out


async def run_mirror(
    source: Any,
    target: Any,
    opts: MirrorOptions,
    state: MirrorState,
    *,
    progress: Any,
    note: Note | None = None,
) -> MirrorReport:
    """Mirror ``source`` into ``target`` (two :class:`~ckanx.AsyncClient`); see the module docstring.

    ``state`` is read for the mark and the mirrored set and updated (saved after each page of
    datasets and at the end) unless ``opts.dry_run``. ``progress`` is a
    :class:`ckanx.bulk.engine.Progress` for the datasets; ``note`` receives one line per failure.
    """
    started = time.monotonic()
    mirror = _Mirror(source, target, opts, state, note or progress.note)
    report = mirror.report
    await source.server_info()
    await target.server_info()
    await mirror.groups_of("organization")
    await mirror.groups_of("group")
    seen = await mirror.datasets(progress)
    source_ids = seen if seen is not None else None
    if state.datasets or opts.delete_missing:
        if source_ids is None:
            source_ids = await mirror.source_ids()
        await mirror.deletions(source_ids)
    if not opts.dry_run:
        state.mark = report.mark
        state.save()
    report.elapsed = time.monotonic() - started
    return report
