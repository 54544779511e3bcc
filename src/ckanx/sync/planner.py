"""The sync planner: source records + the target's current state -> the writes to make (no I/O).

Inputs are plain data: the source records, the datasets this sync owns on the target (found by
the caller with a search on the ``ckanx_sync_source`` extra, restricted to the ``--into``
organization), the names on the target held by datasets it does *not* own, and the target's group
names. The output is a :class:`Plan`: one :class:`PlannedAction` per source record and per owned
dataset that left the source.

Rules:

* a source record is matched to an owned dataset by its key (``ckanx_sync_id``), never by name;
* matched and the stored ``ckanx_sync_hash`` equals the record's hash, the name is the wanted one,
  the dataset is active and not marked deleted: **unchanged**, no write;
* matched otherwise: **update** (a ``package_revise`` built from the difference, keeping what
  the source does not manage: extras of other keys, hand-added resources, other fields);
* not matched: **create**;
* the wanted name held by a dataset this sync does not own, or by another dataset of this source
  that keeps it: **failed** (conflict), nothing is overwritten. A name freed in the same run is
  fine: deletions run first, and an update that takes a name another update renames away runs a
  wave later (:attr:`PlannedAction.wave`); a swap of names fails;
* an owned dataset whose key is not in the source: **delete**, **mark** (``private`` plus the
  ``ckanx_sync_deleted`` extra) or **keep**, as asked. Two owned datasets with one key: the older
  one is kept, the other is deleted (or marked) as a duplicate.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..objects import revise_payload
from .records import (
    EXTRA_DELETED,
    EXTRA_HASH,
    EXTRA_ID,
    RESOURCE_KEY,
    SourceRecord,
    content_hash,
    desired_dataset,
    extras_of,
)

__all__ = [
    "OnMissing",
    "Plan",
    "PlanOptions",
    "PlannedAction",
    "build_plan",
    "mark_payload",
    "names_to_check",
    "update_payload",
]

OnMissing = Literal["delete", "mark", "keep"]
ActionKind = Literal["create", "update", "delete", "mark", "unchanged", "keep", "fail"]
WRITE_KINDS = frozenset({"create", "update", "delete", "mark"})
_SERVER_FIELDS = frozenset(
    {
        "metadata_created",
        "metadata_modified",
        "revision_id",
        "num_resources",
        "num_tags",
        "organization",
        "relationships_as_object",
        "relationships_as_subject",
        "tracking_summary",
        "changed_entities",
    }
)


@dataclass(frozen=True)
class PlanOptions:
    """What the planner needs to know about the run.

    Attributes:
        source_id: the source's name (``ckanx_sync_source``).
        owner_org: the target organization's id (``--into``).
        on_missing: what happens to owned datasets that left the source.
        name_prefix: prepended to every source name.
        force: update every matched dataset, even when its hash is unchanged.
        unknown_as_extras: move top-level fields outside CKAN's default schema into extras.
    """

    source_id: str
    owner_org: str
    on_missing: OnMissing = "delete"
    name_prefix: str = ""
    force: bool = False
    unknown_as_extras: bool = False


@dataclass
class PlannedAction:
    """One planned step.

    Attributes:
        kind: ``create``, ``update``, ``delete``, ``mark`` (writes) or ``unchanged``, ``keep``,
            ``fail`` (no write).
        name: the dataset's name on the target (the wanted name for creates and updates).
        key: the source record's key (``ckanx_sync_id``), if known.
        target: the owned dataset this acts on (``None`` for creates and some failures).
        desired: the dataset to create (creates) or the full dataset wanted (updates).
        digest: the source record's content hash.
        reason: why (failures, deletions, updates of unchanged content).
        warnings: things the run dropped or could not do (missing groups).
        changes: what differs, one short line per field (``-v`` and dry runs).
        origin: where the source record came from.
        wave: updates run in waves: one that takes a name another update frees runs a wave later.
    """

    kind: ActionKind
    name: str | None
    key: str | None = None
    target: dict[str, Any] | None = None
    desired: dict[str, Any] | None = None
    digest: str | None = None
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    origin: str = ""
    wave: int = 0

    @property
    def writes(self) -> bool:
        """Whether this step writes to the target."""
        return self.kind in WRITE_KINDS


@dataclass
class Plan:
    """The planned steps: source records in source order, then the datasets that left the source."""

    actions: list[PlannedAction]
    options: PlanOptions

    def counts(self) -> dict[str, int]:
        """How many steps of each kind (every kind present, zero or not)."""
        out = dict.fromkeys(("create", "update", "delete", "mark", "unchanged", "keep", "fail"), 0)
        for act in self.actions:
            out[act.kind] += 1
        return out

    @property
    def writes(self) -> list[PlannedAction]:
        """The steps that write."""
        return [a for a in self.actions if a.writes]

    def summary(self) -> str:
        """``3 to create, 1 to update, 0 to delete, 350 unchanged, 0 failed`` (marks and keeps when any)."""
        c = self.counts()
        parts = [f"{c['create']} to create", f"{c['update']} to update", f"{c['delete']} to delete"]
        if c["mark"]:
            parts.append(f"{c['mark']} to mark deleted")
        parts.append(f"{c['unchanged']} unchanged")
        if c["keep"]:
            parts.append(f"{c['keep']} kept")
        parts.append(f"{c['fail']} failed")
        return ", ".join(parts)


def wanted_name(record: SourceRecord, prefix: str) -> str | None:
    """The record's name on the target (``--name-prefix`` + its name), ``None`` if it has none."""
    name = record.dataset.get("name")
    if not isinstance(name, str) or not name.strip():
        return None
    return prefix + name.strip()


def _owner_key(dataset: dict[str, Any]) -> str | None:
    value = extras_of(dataset).get(EXTRA_ID)
    return str(value) if value not in (None, "") else None


def names_to_check(records: Iterable[SourceRecord], owned: Iterable[dict[str, Any]], prefix: str = "") -> list[str]:
    """The wanted names no owned dataset holds: the caller looks them up on the target (conflicts)."""
    held = {str(d.get("name")) for d in owned}
    out = {n for r in records if r.error is None and (n := wanted_name(r, prefix)) and n not in held}
    return sorted(out)


def _reuse_by_name(items: list[Any], existing: Any) -> list[Any]:
    """Tags/groups: keep the target's own dicts for names it already has (so revise sees no change)."""
    have = {}
    if isinstance(existing, list):
        have = {i.get("name"): i for i in existing if isinstance(i, dict) and i.get("name")}
    out = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        old = have.get(name)
        same_vocab = old is not None and (old.get("vocabulary_id") or None) == (item.get("vocabulary_id") or None)
        out.append(copy.deepcopy(old) if same_vocab else item)
    return out


def _merged(target: dict[str, Any], desired: dict[str, Any], *, restore: bool) -> dict[str, Any]:
    """The full dataset wanted after an update: the target with the source's fields laid over it."""
    after = {k: copy.deepcopy(v) for k, v in target.items() if k not in _SERVER_FIELDS}
    for key, value in desired.items():
        if key == "extras":
            wanted = {e["key"]: e for e in value}
            kept = [
                e
                for e in target.get("extras") or []
                if isinstance(e, dict) and e.get("key") not in wanted and e.get("key") != EXTRA_DELETED
            ]
            after["extras"] = kept + copy.deepcopy(value)
        elif key == "resources" and isinstance(value, list):
            old = [r for r in target.get("resources") or [] if isinstance(r, dict)]
            by_key = {r[RESOURCE_KEY]: r for r in old if r.get(RESOURCE_KEY)}
            resources = []
            for res in value:
                base = by_key.get(res.get(RESOURCE_KEY))
                if base is not None:
                    merged = {**copy.deepcopy(base), **copy.deepcopy(res)}
                    merged["id"] = base["id"]  # the same resource: its id, URL and DataStore table stay
                    resources.append(merged)
                else:
                    resources.append(copy.deepcopy(res))
            # resources added on the target by hand are not the source's to remove
            resources += [copy.deepcopy(r) for r in old if not r.get(RESOURCE_KEY)]
            after["resources"] = resources
        elif key in ("tags", "groups") and isinstance(value, list):
            after[key] = _reuse_by_name(value, target.get(key))
        else:
            after[key] = copy.deepcopy(value)
    if after.get("state", "active") != "active":
        after["state"] = "active"
    if restore:
        after["private"] = bool(desired.get("private", False))
    return after


def update_payload(target: dict[str, Any], desired: dict[str, Any], *, restore: bool = False) -> dict[str, Any]:
    """The ``package_revise`` arguments (``match`` included) that make ``target`` what ``desired`` says."""
    after = _merged(target, desired, restore=restore)
    payload = revise_payload(_comparable(target), after)
    old_order = [r.get("id") for r in target.get("resources") or [] if isinstance(r, dict)]
    new_order = [r.get("id") for r in after.get("resources") or []]
    kept = [i for i in new_order if i]
    # what revise's item edits give: kept resources in their old order, then the added ones
    if [i for i in old_order if i in kept] + [None] * (len(new_order) - len(kept)) != new_order:
        # revise's item-by-item edits cannot reorder: send the whole list (resources keep their ids)
        payload = {k: v for k, v in payload.items() if not k.startswith("update__resources__")}
        payload["filter"] = [f for f in payload.get("filter", []) if not f.startswith("-resources")] + ["-resources"]
        payload.setdefault("update", {})["resources"] = after["resources"]
    payload["match"] = {"id": target["id"], "metadata_modified": target.get("metadata_modified")}
    return payload


def mark_payload(target: dict[str, Any], when: str) -> dict[str, Any]:
    """The ``package_revise`` arguments that mark ``target`` deleted: private, ``ckanx_sync_deleted``."""
    after = _comparable(target)
    after["private"] = True
    extras = [e for e in after.get("extras") or [] if isinstance(e, dict) and e.get("key") != EXTRA_DELETED]
    after["extras"] = [*extras, {"key": EXTRA_DELETED, "value": when}]
    payload = revise_payload(_comparable(target), after)
    payload["match"] = {"id": target["id"], "metadata_modified": target.get("metadata_modified")}
    return payload


def _comparable(dataset: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in dataset.items() if k not in _SERVER_FIELDS}


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _created(desired: dict[str, Any]) -> list[str]:
    """The ``-v`` line of a create: what the new dataset holds, in short."""
    counts = [f"{len(desired.get(k) or [])} {k}" for k in ("resources", "tags", "groups", "extras")]
    return [f"new dataset: title {_short(desired.get('title'))}, " + ", ".join(counts)]


def _changes(target: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """One line per field that differs (for ``-v``): ``title: 'Old' -> 'New'``."""
    before = _comparable(target)
    out = []
    # a site returns every field its schema stores: others (another site's custom fields) are dropped
    unstored = sorted(k for k in after if k not in before)
    if unstored:
        out.append("not stored by the target (not in its schema): " + ", ".join(unstored))
    for key in sorted(set(before) | set(after)):
        if key in ("id", "extras", "resources", "tags", "groups") or key in unstored:
            continue
        old, new = before.get(key), after.get(key)
        if old != new and not (old in (None, "") and new in (None, "")):
            out.append(f"{key}: {_short(old)} -> {_short(new)}")
    for key in ("tags", "groups"):
        old_names = {i.get("name") for i in before.get(key) or [] if isinstance(i, dict)}
        new_names = {i.get("name") for i in after.get(key) or [] if isinstance(i, dict)}
        if old_names != new_names:
            added = ", ".join(f"+{n}" for n in sorted(new_names - old_names, key=str))
            removed = ", ".join(f"-{n}" for n in sorted(old_names - new_names, key=str))
            out.append(f"{key}: " + ", ".join(p for p in (added, removed) if p))
    old_extras, new_extras = extras_of(before), extras_of(after)
    for key in sorted(set(old_extras) | set(new_extras)):
        if old_extras.get(key) != new_extras.get(key):
            out.append(f"extras.{key}: {_short(old_extras.get(key))} -> {_short(new_extras.get(key))}")
    old_res = [r for r in before.get("resources") or [] if isinstance(r, dict)]
    new_res = [r for r in after.get("resources") or [] if isinstance(r, dict)]
    old_ids = {r.get("id") for r in old_res}
    added_res = [r for r in new_res if not r.get("id") or r.get("id") not in old_ids]
    kept_ids = {r.get("id") for r in new_res if r.get("id")}
    removed_res = [r for r in old_res if r.get("id") not in kept_ids]
    for res in added_res:
        out.append(f"resources: + {res.get('name') or res.get('url') or '(unnamed)'}")
    for res in removed_res:
        out.append(f"resources: - {res.get('name') or res.get('url') or '(unnamed)'}")
    by_id = {r.get("id"): r for r in old_res}
    for res in new_res:
        base = by_id.get(res.get("id")) if res.get("id") else None
        if base is None:
            continue
        for key in sorted(set(base) | set(res)):
            if base.get(key) != res.get(key) and not (base.get(key) in (None, "") and res.get(key) in (None, "")):
                label = res.get("name") or res.get("id")
                out.append(f"resources[{label}].{key}: {_short(base.get(key))} -> {_short(res.get(key))}")
    return out


def _settle_renames(actions: list[PlannedAction], waiting: dict[int, dict[str, Any]]) -> None:
    """Records whose name an owned dataset holds: fine when that dataset's update renames it away
    (the update runs a wave earlier; creates run after all updates), a conflict otherwise. A
    failure makes its dependants fail too; names swapped in a cycle fail (no temporary names)."""
    by_target = {id(a.target): i for i, a in enumerate(actions) if a.target is not None}

    def frees(holder: dict[str, Any]) -> int | None:
        index = by_target.get(id(holder))
        if index is None:
            return None
        act = actions[index]
        return index if act.kind == "update" and act.name != holder.get("name") else None

    def fail(index: int, reason: str) -> None:
        act = actions[index]
        act.kind, act.reason, act.desired, act.changes = "fail", reason, None, []
        waiting.pop(index, None)

    changed = True
    while changed:
        changed = False
        for index, holder in list(waiting.items()):
            if frees(holder) is None:
                fail(index, f"name {actions[index].name!r} is held by another dataset of this source "
                            f"(sync id {_owner_key(holder)!r})")  # fmt: skip
                changed = True
        if changed:
            continue
        # waves; a cycle (a name swap) cannot be ordered
        waves: dict[int, int] = {}
        for start in list(waiting):
            chain, index = [], start
            while index in waiting and index not in waves and index not in chain:
                chain.append(index)
                nxt = frees(waiting[index])
                assert nxt is not None
                index = nxt
            if index in chain:
                for member in chain[chain.index(index) :]:
                    fail(member, f"name {actions[member].name!r} is part of a name swap within the source: "
                                 "rename through a free name first")  # fmt: skip
                changed = True
                break
            base = waves.get(index, 0)
            for member in reversed(chain):
                base += 1
                waves[member] = base
        if not changed:
            for index, wave in waves.items():
                if actions[index].kind == "update":  # creates run after every update anyway
                    actions[index].wave = wave


def build_plan(
    records: Iterable[SourceRecord],
    owned: Iterable[dict[str, Any]],
    options: PlanOptions,
    *,
    taken: Mapping[str, str] | None = None,
    known_groups: Iterable[str] | None = None,
) -> Plan:
    """Plan a sync (see the module docstring for the rules).

    Args:
        records: the source's records, in source order.
        owned: the target datasets this sync owns (full dicts as ``package_search`` returns them).
        options: see :class:`PlanOptions`.
        taken: wanted names held by datasets the sync does not own -> a description of the holder.
        known_groups: the target's group names (``None``: do not check; every group is kept).
    """
    records = list(records)
    taken = dict(taken or {})
    groups = frozenset(known_groups) if known_groups is not None else None
    # owned datasets by key; the oldest wins when one key has several (a duplicate is removed)
    owned_list = sorted(owned, key=lambda d: (str(d.get("metadata_created") or ""), str(d.get("id"))))
    by_key: dict[str, dict[str, Any]] = {}
    extra_ids: set[int] = set()  # duplicates and datasets without a key: never matched
    for ds in owned_list:
        key = _owner_key(ds)
        if key is None or key in by_key:
            extra_ids.add(id(ds))
        else:
            by_key[key] = ds
    by_name = {str(d.get("name")): d for d in owned_list}
    # every key the source names protects its dataset, even when the record itself fails
    claimed = {r.key for r in records if r.key}
    leaving: set[int] = set()
    if options.on_missing == "delete":
        leaving = {id(d) for d in owned_list if id(d) in extra_ids or _owner_key(d) not in claimed}

    actions: list[PlannedAction] = []
    waiting: dict[int, dict[str, Any]] = {}  # action index -> the owned dataset holding its name
    seen_keys: set[str] = set()
    seen_names: set[str] = set()
    for rec in records:
        name = wanted_name(rec, options.name_prefix)
        if rec.error is not None:
            actions.append(PlannedAction("fail", name, rec.key, reason=rec.error, origin=rec.origin))
            continue
        if name is None or not rec.key:
            actions.append(PlannedAction("fail", name, rec.key, reason="the record has no name", origin=rec.origin))
            continue
        if rec.key in seen_keys:
            actions.append(
                PlannedAction("fail", name, rec.key, reason=f"duplicate source id {rec.key!r}", origin=rec.origin)
            )
            continue
        seen_keys.add(rec.key)
        if name in seen_names:
            actions.append(
                PlannedAction("fail", name, rec.key, reason=f"duplicate name {name!r} in the source", origin=rec.origin)
            )
            continue
        seen_names.add(name)
        target = by_key.get(rec.key)
        digest = content_hash(rec.dataset)
        desired, warnings = desired_dataset(
            rec,
            name=name,
            owner_org=options.owner_org,
            source_id=options.source_id,
            digest=digest,
            known_groups=groups,
            unknown_as_extras=options.unknown_as_extras,
        )
        warnings = [*rec.warnings, *warnings]
        holder = by_name.get(name)
        conflict = None
        if holder is not None and holder is not target and id(holder) not in leaving:
            # possible only if that dataset is renamed away first: settled after this loop
            waiting[len(actions)] = holder
        elif holder is None and name in taken:
            conflict = f"name {name!r} is taken by a dataset this sync does not own ({taken[name]})"
        if conflict:
            actions.append(
                PlannedAction(
                    "fail", name, rec.key, target=target, digest=digest, reason=conflict, warnings=warnings,
                    origin=rec.origin,
                )
            )  # fmt: skip
            continue
        if target is None:
            actions.append(
                PlannedAction(
                    "create", name, rec.key, desired=desired, digest=digest, warnings=warnings,
                    changes=_created(desired), origin=rec.origin,
                )
            )  # fmt: skip
            continue
        extras = extras_of(target)
        marked = EXTRA_DELETED in extras
        reasons = []
        if extras.get(EXTRA_HASH) != digest:
            reasons.append("changed in the source")
        if target.get("name") != name:
            reasons.append(f"renamed from {target.get('name')!r}")
        if target.get("state", "active") != "active":
            reasons.append(f"state was {target.get('state')!r}")
        if marked:
            reasons.append("back in the source (was marked deleted)")
        if options.force and not reasons:
            reasons.append("--force")
        if not reasons:
            actions.append(
                PlannedAction("unchanged", name, rec.key, target=target, digest=digest, warnings=warnings,
                              origin=rec.origin)
            )  # fmt: skip
            continue
        after = _merged(target, desired, restore=marked)
        actions.append(
            PlannedAction(
                "update", name, rec.key, target=target, desired=desired, digest=digest, reason="; ".join(reasons),
                warnings=warnings, changes=_changes(target, after), origin=rec.origin,
            )
        )  # fmt: skip

    _settle_renames(actions, waiting)

    for ds in owned_list:
        key = _owner_key(ds)
        if id(ds) not in extra_ids and key in claimed:
            continue
        if key is not None and id(ds) in extra_ids:
            reason = f"duplicate of another dataset with sync id {key!r}"
        elif key is None:
            reason = "has no sync id"
        else:
            reason = "no longer in the source"
        name = str(ds.get("name"))
        if options.on_missing == "delete":
            actions.append(PlannedAction("delete", name, key, target=ds, reason=reason))
        elif options.on_missing == "keep":
            actions.append(PlannedAction("keep", name, key, target=ds, reason=reason))
        elif EXTRA_DELETED in extras_of(ds):
            actions.append(PlannedAction("unchanged", name, key, target=ds, reason="already marked deleted"))
        else:
            actions.append(PlannedAction("mark", name, key, target=ds, reason=reason))
    return Plan(actions, options)
