"""Running a sync: read the source, read the target's state, plan (:mod:`.planner`), write.

Reading the target costs about one ``package_search`` per 1000 owned datasets (the filter on the
``ckanx_sync_source`` extra and the organization, private and drafts included), one per 100
names that might be taken, and one ``group_list`` page per 1000 groups when records name groups.

Writes go in phases, each with ``concurrency`` calls in flight: deletions and marks first (so a
name they free can be taken), then updates (in waves when one renames a dataset into a name
another frees), then creates. Every write is safe to
repeat after a lost answer or a crash, which is what makes a re-run complete an interrupted sync
with nothing duplicated:

* creates carry the name, so the client checks whether a create whose answer was lost landed
  (``package_show`` by name) before repeating it; a name found taken is checked the same way;
* updates and marks are ``package_revise`` calls matched on ``metadata_modified``: when the match
  fails or the outcome is unknown, the dataset is read again and, if the stored hash already says
  the write landed, it counts as done; otherwise the revise is rebuilt from the fresh dataset;
* deletions are idempotent (a dataset already gone counts as deleted).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _exceptions as exc
from ..bulk.engine import Outcome, Progress, RecordLog, error_reason, run_ordered
from .planner import (
    OnMissing,
    Plan,
    PlannedAction,
    PlanOptions,
    build_plan,
    mark_payload,
    names_to_check,
    update_payload,
)
from .records import EXTRA_DELETED, EXTRA_HASH, EXTRA_ID, EXTRA_SOURCE, SourceRecord, extras_of, group_names
from .sources import Source, open_source, search_all

__all__ = [
    "RecordResult",
    "SyncError",
    "SyncOptions",
    "SyncReport",
    "TargetState",
    "check_source_id",
    "plan",
    "plan_async",
    "read_target",
    "run",
    "run_async",
]

NAME_CHUNK = 100
GROUP_PAGE = 1000
ATTEMPTS = 4
STATUS = {
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "mark": "marked",
    "unchanged": "unchanged",
    "keep": "kept",
    "fail": "failed",
}
_ACTION_OF = {
    "create": "package_create",
    "update": "package_revise",
    "delete": "package_delete",
    "mark": "package_revise",
}


class SyncError(exc.CKANAPIError):
    """The sync cannot run (no such organization, an empty source that would delete everything...)."""


@dataclass(frozen=True)
class SyncOptions:
    """How to sync.

    Attributes:
        into: the target organization (name or id); every synced dataset belongs to it.
        source_id: the source's name on the target (``ckanx_sync_source``); default: the source's
            :attr:`~ckanx.sync.sources.Source.default_id`.
        on_missing: datasets that left the source: ``"delete"`` (default), ``"mark"`` (private +
            ``ckanx_sync_deleted`` extra) or ``"keep"``.
        name_prefix: prepended to every source name on the target.
        force: update every matched dataset even when its source record is unchanged.
        concurrency: writes in flight.
        allow_empty: let a source without records delete (or mark) every dataset it owns.
        unknown_as_extras: move top-level fields outside CKAN's default schema into extras
            (for a target without the source's schema plugin; changing it needs ``force`` once).
    """

    into: str
    source_id: str | None = None
    on_missing: OnMissing = "delete"
    name_prefix: str = ""
    force: bool = False
    concurrency: int = 1
    allow_empty: bool = False
    unknown_as_extras: bool = False


@dataclass
class RecordResult:
    """What happened to one record (or one dataset that left the source)."""

    name: str | None
    action: str
    reason: str | None = None
    key: str | None = None
    id: str | None = None
    origin: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The report entry: ``name``, ``action``, ``reason`` and, when known, ``source_id``, ``id``,
        ``origin`` and ``warnings``."""
        out: dict[str, Any] = {"name": self.name, "action": self.action, "reason": self.reason}
        if self.key is not None:
            out["source_id"] = self.key
        if self.id is not None:
            out["id"] = self.id
        if self.origin:
            out["origin"] = self.origin
        if self.warnings:
            out["warnings"] = list(self.warnings)
        return out


@dataclass
class SyncReport:
    """The outcome of a run (or, with ``dry_run``, of the plan)."""

    source_id: str
    into: str
    dry_run: bool
    plan: Plan
    records: list[RecordResult]

    @property
    def counts(self) -> dict[str, int]:
        """Records per outcome: ``created``, ``updated``, ``deleted``, ``marked``, ``unchanged``,
        ``kept``, ``failed`` (all present)."""
        out = dict.fromkeys(STATUS.values(), 0)
        for rec in self.records:
            out[rec.action] = out.get(rec.action, 0) + 1
        return out

    @property
    def failed(self) -> int:
        """How many records failed."""
        return self.counts["failed"]

    def summary(self) -> str:
        """``3 created, 1 updated, 2 deleted, 350 unchanged, 0 failed`` (marked/kept when any)."""
        c = self.counts
        parts = [f"{c['created']} created", f"{c['updated']} updated", f"{c['deleted']} deleted"]
        if c["marked"]:
            parts.append(f"{c['marked']} marked deleted")
        parts.append(f"{c['unchanged']} unchanged")
        if c["kept"]:
            parts.append(f"{c['kept']} kept")
        parts.append(f"{c['failed']} failed")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The JSON run report (``--report FILE``)."""
        return {
            "source": self.source_id,
            "into": self.into,
            "dry_run": self.dry_run,
            **self.counts,
            "records": [r.to_dict() for r in self.records],
        }


@dataclass
class TargetState:
    """What the planner needs from the target."""

    org_id: str
    org_name: str
    owned: list[dict[str, Any]]
    taken: dict[str, str]
    known_groups: frozenset[str] | None


def _phrase(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_source_id(source_id: str) -> str:
    """A usable source id: non-empty, with a letter or digit (the search filter needs a word)."""
    text = source_id.strip()
    if not re.search(r"[A-Za-z0-9]", text):
        raise ValueError(f"source id {source_id!r} needs at least one letter or digit (--source-id)")
    return text


async def _organization(client: Any, into: str) -> dict[str, Any]:
    try:
        org: dict[str, Any] = await client.call_action(
            "organization_show", {"id": into, "include_datasets": False, "include_users": False}
        )
    except exc.NotFound:
        raise SyncError(f"organization {into!r} not found on the target (create it first)") from None
    return org


async def read_target(
    client: Any, records: list[SourceRecord], source_id: str, into: str, prefix: str = ""
) -> TargetState:
    """The datasets this source owns in the organization, the wanted names others hold, the groups."""
    org = await _organization(client, into)
    org_id = str(org["id"])
    found = await search_all(
        client,
        {
            # the extra is a text field in CKAN's Solr schema: the phrase also matches longer source
            # names that contain it, so every hit is checked exactly below
            "fq": f"+extras_{EXTRA_SOURCE}:{_phrase(source_id)} +owner_org:{_phrase(org_id)}",
            "include_private": True,
            "include_drafts": True,
        },
    )
    owned = [ds for ds in found if extras_of(ds).get(EXTRA_SOURCE) == source_id and ds.get("owner_org") == org_id]
    owned_ids = {ds["id"] for ds in owned}
    taken: dict[str, str] = {}
    names = names_to_check(records, owned, prefix)
    for start in range(0, len(names), NAME_CHUNK):
        chunk = names[start : start + NAME_CHUNK]
        result = await client.call_action(
            "package_search",
            {
                "q": "*:*",
                "fq": "+name:(" + " OR ".join(_phrase(n) for n in chunk) + ")",
                "rows": len(chunk),
                "include_private": True,
                "include_drafts": True,
            },
        )
        for ds in result.get("results") or []:
            if ds.get("name") in chunk and ds.get("id") not in owned_ids:
                taken[str(ds["name"])] = _holder(ds)
    known: frozenset[str] | None = None
    if any(group_names(r.dataset) for r in records):
        known = frozenset(await _group_names(client))
    return TargetState(org_id, str(org.get("name") or into), owned, taken, known)


def _holder(ds: dict[str, Any]) -> str:
    org = ds.get("organization") or {}
    where = f"organization {org.get('name')!r}" if isinstance(org, dict) and org.get("name") else "no organization"
    source = extras_of(ds).get(EXTRA_SOURCE)
    synced = f", synced from {source!r}" if source else ""
    return f"dataset {ds.get('id')} in {where}{synced}"


async def _group_names(client: Any) -> list[str]:
    names: list[str] = []
    offset = 0
    while True:
        page = await client.call_action("group_list", {"limit": GROUP_PAGE, "offset": offset, "all_fields": False})
        names.extend(p if isinstance(p, str) else str(p.get("name")) for p in page)
        if len(page) < GROUP_PAGE:
            return names
        offset += len(page)


async def plan_async(client: Any, source: Source | str | Path, options: SyncOptions) -> tuple[Plan, TargetState]:
    """Read the source and the target, and plan; nothing is written."""
    src = source if isinstance(source, Source) else open_source(source)
    source_id = check_source_id(options.source_id or src.default_id)
    records = await src.read()
    state = await read_target(client, records, source_id, options.into, options.name_prefix)
    the_plan = build_plan(
        records,
        state.owned,
        PlanOptions(
            source_id,
            state.org_id,
            options.on_missing,
            options.name_prefix,
            options.force,
            options.unknown_as_extras,
        ),
        taken=state.taken,
        known_groups=state.known_groups,
    )
    usable = [r for r in records if r.error is None]
    removals = sum(1 for a in the_plan.actions if a.kind in ("delete", "mark"))
    if not usable and removals and not options.allow_empty:
        raise SyncError(
            f"the source has no usable records: refusing to {'delete' if options.on_missing == 'delete' else 'mark'} "
            f"all {removals} datasets it owns (allow it explicitly to do that)"
        )
    return the_plan, state


def _result(act: PlannedAction, action: str, reason: str | None = None, ds_id: str | None = None) -> RecordResult:
    target_id = act.target.get("id") if act.target else None
    return RecordResult(
        act.name, action, reason if reason is not None else act.reason, act.key, ds_id or target_id, act.origin,
        list(act.warnings),
    )  # fmt: skip


async def _show(client: Any, name_or_id: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = await client.call_action("package_show", {"id": name_or_id})
    except exc.NotFound:
        return None
    return None if found.get("state") == "deleted" else found


def _ours(ds: dict[str, Any], plan_options: PlanOptions, key: str | None) -> bool:
    extras = extras_of(ds)
    return (
        extras.get(EXTRA_SOURCE) == plan_options.source_id
        and extras.get(EXTRA_ID) == key
        and ds.get("owner_org") == plan_options.owner_org
    )


def _landed(ds: dict[str, Any], act: PlannedAction) -> bool:
    extras = extras_of(ds)
    if act.kind == "mark":
        return EXTRA_DELETED in extras
    return (
        extras.get(EXTRA_HASH) == act.digest
        and ds.get("name") == act.name
        and EXTRA_DELETED not in extras
        and ds.get("state", "active") == "active"
    )


def _in_use(err: exc.ValidationError) -> bool:
    text = str(err.error_dict).lower()
    return "already in use" in text or "already exists" in text


async def _create(client: Any, act: PlannedAction, opts: PlanOptions) -> RecordResult:
    assert act.desired is not None and act.name is not None
    for _ in range(ATTEMPTS):
        try:
            result = await client.call_action("package_create", act.desired)
            if isinstance(result, dict) and not _ours(result, opts, act.key):
                # the client's check after a lost answer found a dataset of that name, but not ours
                return _result(act, "failed", f"name {act.name!r} is taken on the target by {_holder(result)}")
            return _result(act, "created", None, result.get("id") if isinstance(result, dict) else None)
        except exc.ValidationError as err:
            if not _in_use(err):
                return _result(act, "failed", error_reason(err))
            found = await _show(client, act.name)
            if found is not None and _ours(found, opts, act.key):
                return _result(act, "created", None, found.get("id"))  # an earlier attempt landed
            return _result(act, "failed", f"name {act.name!r} is taken on the target: {error_reason(err)}")
        except exc.OutcomeUnknownError:
            found = await _show(client, act.name)
            if found is not None and _ours(found, opts, act.key):
                return _result(act, "created", None, found.get("id"))
            # it did not land: create again
        except exc.CKANAPIError as err:
            return _result(act, "failed", error_reason(err))
    return _result(act, "failed", "package_create: no answer after several attempts")


async def _revise(client: Any, act: PlannedAction, build: Callable[[dict[str, Any]], dict[str, Any]]) -> RecordResult:
    assert act.target is not None
    target = act.target
    done = "marked" if act.kind == "mark" else "updated"
    for _ in range(ATTEMPTS):
        payload = build(target)
        if set(payload) == {"match"}:
            return _result(act, "unchanged", "nothing to change")
        try:
            result = await client.call_action("package_revise", payload)
            package = result.get("package") if isinstance(result, dict) else None
            return _result(act, done, None, (package or {}).get("id"))
        except exc.ValidationError as err:
            if "match" not in (err.error_dict or {}):
                return _result(act, "failed", error_reason(err))
        except exc.OutcomeUnknownError:
            pass
        except exc.CKANAPIError as err:
            return _result(act, "failed", error_reason(err))
        # changed since it was read (perhaps by our own attempt whose answer was lost): read it again
        fresh = await _show(client, str(target["id"]))
        if fresh is None:
            return _result(act, "failed", "the dataset was deleted on the target during the sync")
        if _landed(fresh, act):
            return _result(act, done, None, fresh.get("id"))
        target = fresh
    return _result(act, "failed", "the dataset kept changing on the target during the sync")


async def _delete(client: Any, act: PlannedAction) -> RecordResult:
    assert act.target is not None
    try:
        await client.call_action("package_delete", {"id": act.target["id"]})
    except exc.NotFound:
        pass  # already gone: the goal is reached
    except exc.CKANAPIError as err:
        return _result(act, "failed", error_reason(err))
    return _result(act, "deleted")


async def _execute(
    client: Any,
    the_plan: Plan,
    *,
    concurrency: int,
    progress: Progress,
    log: RecordLog,
    on_result: Callable[[PlannedAction, RecordResult], None] | None,
) -> list[RecordResult]:
    opts = the_plan.options
    results: dict[int, RecordResult] = {}
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")

    async def work(item: tuple[int, PlannedAction]) -> RecordResult:
        act = item[1]
        if act.kind == "create":
            return await _create(client, act, opts)
        if act.kind == "update":
            restore = EXTRA_DELETED in extras_of(act.target or {})
            desired = act.desired or {}
            return await _revise(client, act, lambda t: update_payload(t, desired, restore=restore))
        if act.kind == "mark":
            return await _revise(client, act, lambda t: mark_payload(t, now))
        return await _delete(client, act)

    def emit(item: tuple[int, PlannedAction], result: Any) -> None:
        number, act = item
        if isinstance(result, BaseException):
            result = _result(act, "failed", error_reason(result))
        results[number] = result
        progress.advance(errors=int(result.action == "failed"))
        log.write(
            number,
            Outcome(
                "error" if result.action == "failed" else result.action,
                result.name,
                result.id,
                result.reason if result.action == "failed" else None,
            ),
            _ACTION_OF[act.kind],
        )
        if result.action == "failed":
            progress.note(f"{act.name}: {result.reason}")
        if on_result is not None:
            on_result(act, result)

    numbered = list(enumerate(the_plan.actions, 1))
    waves = sorted({a.wave for _, a in numbered if a.kind == "update"})
    phases: list[list[tuple[int, PlannedAction]]] = [[(n, a) for n, a in numbered if a.kind in ("delete", "mark")]]
    # an update that takes a name another update frees waits for it (see planner.PlannedAction.wave)
    phases += [[(n, a) for n, a in numbered if a.kind == "update" and a.wave == w] for w in waves]
    phases.append([(n, a) for n, a in numbered if a.kind == "create"])
    for todo in phases:
        if todo:
            await run_ordered(todo, work, emit, concurrency=concurrency)
    out = []
    for number, act in numbered:
        if number in results:
            out.append(results[number])
        else:
            out.append(_result(act, STATUS[act.kind]))
    return out


async def run_async(
    client: Any,
    source: Source | str | Path,
    options: SyncOptions,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
    log: RecordLog | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    on_result: Callable[[PlannedAction, RecordResult], None] | None = None,
) -> SyncReport:
    """Sync ``source`` into ``options.into`` on the site of ``client`` (an :class:`~ckanx.AsyncClient`).

    ``dry_run`` plans and returns the report of what *would* happen, writing nothing. ``on_plan``
    sees the plan before any write; ``on_result`` each write's outcome as it finishes.
    """
    the_plan, state = await plan_async(client, source, options)
    if on_plan is not None:
        on_plan(the_plan)
    source_id = the_plan.options.source_id
    if dry_run:
        records = [_result(a, STATUS[a.kind]) for a in the_plan.actions]
        return SyncReport(source_id, state.org_name, True, the_plan, records)
    progress = progress or Progress("sync", quiet=True)
    progress.set_total(len(the_plan.writes))
    log = log or RecordLog(None)
    for number, act in enumerate(the_plan.actions, 1):
        if act.writes:
            continue  # logged when written
        status = "error" if act.kind == "fail" else STATUS[act.kind]
        target_id = act.target.get("id") if act.target else None
        log.write(number, Outcome(status, act.name, target_id, act.reason if act.kind == "fail" else None))
        if act.kind == "fail":
            progress.note(f"{act.name or act.origin}: {act.reason}")
    records = await _execute(
        client, the_plan, concurrency=options.concurrency, progress=progress, log=log, on_result=on_result
    )
    return SyncReport(source_id, state.org_name, False, the_plan, records)


class _Threaded:
    """A synchronous :class:`~ckanx.Client` behind the async interface the executor awaits; each call
    runs in a worker thread, so ``concurrency`` calls can be in flight."""

    def __init__(self, client: Any) -> None:
        self._client = client

    async def call_action(self, name: str, data: Any = None, files: Any = None) -> Any:
        return await asyncio.to_thread(self._client.call_action, name, data, files)


def _options(into: str, kwargs: dict[str, Any]) -> SyncOptions:
    return SyncOptions(into=into, **kwargs)


def plan(client: Any, source: Source | str | Path, *, into: str, **kwargs: Any) -> Plan:
    """Plan a sync with a synchronous :class:`~ckanx.Client` (nothing is written).

    Keyword arguments are those of :class:`SyncOptions`. Example::

        p = ckanx.sync.plan(ck, "datasets.jsonl.gz", into="imported")
        print(p.summary())   # 3 to create, 1 to update, 0 to delete, 350 unchanged, 0 failed
    """
    the_plan, _ = asyncio.run(plan_async(_Threaded(client), source, _options(into, kwargs)))
    return the_plan


def run(client: Any, source: Source | str | Path, *, into: str, dry_run: bool = False, **kwargs: Any) -> SyncReport:
    """Run a sync with a synchronous :class:`~ckanx.Client`; returns the :class:`SyncReport`.

    Keyword arguments are those of :class:`SyncOptions`. Example::

        report = ckanx.sync.run(ck, "datasets.jsonl.gz", into="imported", concurrency=4)
        print(report.counts)  # {'created': 3, 'updated': 1, 'deleted': 0, ..., 'failed': 0}
    """
    return asyncio.run(run_async(_Threaded(client), source, _options(into, kwargs), dry_run=dry_run))
