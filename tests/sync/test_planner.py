"""The I/O-free planner: rules case by case, then a Hypothesis property over random sources and targets.

The property applies a plan to an in-memory model of the target (creates add the planned dataset,
updates lay the source over the target as the planner says, deletions remove, marks set private and
the mark extra) and checks: the target then holds the source, a second plan writes nothing, and
datasets the source does not own are never touched.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckanx.sync.planner import Plan, PlanOptions, _merged, build_plan, names_to_check, update_payload
from ckanx.sync.records import (
    EXTRA_DELETED,
    EXTRA_HASH,
    EXTRA_ID,
    EXTRA_SOURCE,
    RESOURCE_KEY,
    SourceRecord,
    content_hash,
    desired_dataset,
    extras_of,
)

ORG = "org-id"
OPTS = PlanOptions("src", ORG)
_ids = itertools.count()


def rec(key: str, name: str | None = None, **fields: Any) -> SourceRecord:
    data = {"id": key, "name": name or key, "title": f"Title {key}", **fields}
    return SourceRecord(data, key, f"line {key}")


def synced(record: SourceRecord, opts: PlanOptions = OPTS, **changes: Any) -> dict[str, Any]:
    """A target dataset as an earlier sync of ``record`` left it."""
    out, _ = desired_dataset(
        record, name=opts.name_prefix + record.dataset["name"], owner_org=opts.owner_org, source_id=opts.source_id,
        digest=content_hash(record.dataset), known_groups=None,
    )  # fmt: skip
    for key in ("notes", "url", "version", "author", "maintainer", "license_id"):
        out.setdefault(key, None)  # a site returns every field of its schema
    out.setdefault("private", False)
    out["id"] = f"target-{next(_ids)}"
    out["metadata_modified"] = "2026-01-01T00:00:00"
    out["metadata_created"] = f"2026-01-01T00:00:{next(_ids) % 60:02d}"
    out["state"] = "active"
    out["resources"] = [{**r, "id": f"res-{next(_ids)}"} for r in out.get("resources", [])]
    out.update(changes)
    return out


def kinds(plan: Plan) -> dict[str | None, str]:
    return {a.name: a.kind for a in plan.actions}


def test_create_update_unchanged_delete() -> None:
    a, b, c = rec("a"), rec("b"), rec("c")
    ta, tb, tgone = synced(a), synced(b), synced(rec("gone"))
    b2 = rec("b", notes="new notes")
    plan = build_plan([a, b2, c], [ta, tb, tgone], OPTS)
    assert kinds(plan) == {"a": "unchanged", "b": "update", "c": "create", "gone": "delete"}
    assert plan.counts()["fail"] == 0
    assert [x.name for x in plan.writes] == ["b", "c", "gone"]
    update = next(x for x in plan.actions if x.kind == "update")
    assert update.reason == "changed in the source"
    assert "notes: None -> 'new notes'" in update.changes


def test_mark_and_keep_modes() -> None:
    gone = synced(rec("gone"))
    marked = synced(rec("old"))
    marked["extras"].append({"key": EXTRA_DELETED, "value": "2026-01-01T00:00:00+00:00"})
    plan = build_plan([], [gone, marked], PlanOptions("src", ORG, on_missing="mark"))
    assert kinds(plan) == {"gone": "mark", "old": "unchanged"}  # already marked: no second write
    plan = build_plan([], [gone, marked], PlanOptions("src", ORG, on_missing="keep"))
    assert kinds(plan) == {"gone": "keep", "old": "keep"}
    # a marked dataset back in the source is restored, even with an unchanged hash
    plan = build_plan([rec("old")], [marked], OPTS)
    (act,) = plan.actions
    assert act.kind == "update" and "back in the source" in (act.reason or "")
    after = _merged(marked, act.desired or {}, restore=True)
    assert after["private"] is False and EXTRA_DELETED not in extras_of(after)


def test_name_conflicts_fail_instead_of_overwriting() -> None:
    plan = build_plan([rec("a"), rec("b")], [], OPTS, taken={"a": "dataset x in organization 'hand'"})
    assert kinds(plan) == {"a": "fail", "b": "create"}
    assert (
        plan.actions[0].reason
        == "name 'a' is taken by a dataset this sync does not own (dataset x in organization 'hand')"
    )
    # a name held by another record of this source that stays is a conflict too
    keeper = synced(rec("k1", "shared"))
    plan = build_plan([rec("k1", "shared"), rec("k2", "shared")], [keeper], OPTS)
    assert [a.kind for a in plan.actions] == ["unchanged", "fail"]
    assert plan.actions[1].reason == "duplicate name 'shared' in the source"
    plan = build_plan([rec("k1", "shared", title="new"), rec("k2", "shared2")], [keeper], OPTS)
    assert [a.kind for a in plan.actions] == ["update", "create"]
    # k1 stays "shared" (an update without a rename): k2 cannot have the name
    plan = build_plan([rec("k1", "shared", title="new"), rec("k2", "shared")], [keeper], OPTS)
    assert [a.kind for a in plan.actions] == ["update", "fail"]
    # an inconsistent source (one name twice): both fail, the dataset that has the name stays
    plan = build_plan([rec("k2", "shared"), rec("k1", "shared")], [keeper], OPTS)
    assert [a.kind for a in plan.actions] == ["fail", "fail"]
    # ... unless it is being deleted: deletions run first and free the name
    plan = build_plan([rec("k2", "shared")], [keeper], OPTS)
    assert [a.kind for a in plan.actions] == ["create", "delete"]


def test_failed_records_protect_their_dataset_and_duplicates_are_cleaned() -> None:
    keep = synced(rec("a"))
    bad = SourceRecord({"id": "a"}, "a", "line 1")  # no name: fails, but still claims key "a"
    plan = build_plan([bad], [keep], OPTS)
    assert [(x.kind, x.reason) for x in plan.actions] == [("fail", "the record has no name")]
    first, second = synced(rec("d")), synced(rec("d"), name="d-copy")
    second["metadata_created"] = "2027-01-01T00:00:00"
    plan = build_plan([rec("d")], [second, first], OPTS)
    assert [(a.kind, a.name) for a in plan.actions] == [("unchanged", "d"), ("delete", "d-copy")]
    assert "duplicate" in (plan.actions[1].reason or "")
    plan = build_plan([rec("x"), rec("x", "y")], [], OPTS)
    assert [a.kind for a in plan.actions] == ["create", "fail"]


def test_prefix_rename_force_and_state() -> None:
    a = rec("a")
    opts = PlanOptions("src", ORG, name_prefix="p-")
    plan = build_plan([a], [synced(a)], opts)  # synced without the prefix: renamed
    assert plan.actions[0].kind == "update" and plan.actions[0].name == "p-a"
    assert "renamed from 'a'" in (plan.actions[0].reason or "")
    assert build_plan([a], [synced(a, opts)], opts).actions[0].kind == "unchanged"
    assert build_plan([a], [synced(a)], PlanOptions("src", ORG, force=True)).actions[0].kind == "update"
    assert build_plan([a], [synced(a, state="draft")], OPTS).actions[0].kind == "update"


def test_update_keeps_what_the_source_does_not_manage() -> None:
    a = rec("a", resources=[{"id": "s1", "name": "one", "url": "http://x/1"}], extras=[{"key": "k", "value": "1"}])
    target = synced(a)
    target["extras"].append({"key": "curator-note", "value": "checked"})
    target["resources"].append({"id": "hand-made", "name": "added by hand", "url": "http://y/"})
    target["resources"][0]["datastore_active"] = True
    target["maintainer"] = "local team"
    a2 = rec(
        "a",
        resources=[
            {"id": "s1", "name": "one (v2)", "url": "http://x/1"},
            {"id": "s2", "name": "two", "url": "http://x/2"},
        ],
        extras=[{"key": "k", "value": "2"}],
    )
    (act,) = build_plan([a2], [target], OPTS).actions
    after = _merged(target, act.desired or {}, restore=False)
    assert after["maintainer"] == "local team"
    assert extras_of(after)["curator-note"] == "checked" and extras_of(after)["k"] == "2"
    names = [(r.get("id"), r["name"]) for r in after["resources"]]
    assert names == [(target["resources"][0]["id"], "one (v2)"), (None, "two"), ("hand-made", "added by hand")]
    assert after["resources"][0]["datastore_active"] is True
    payload = update_payload(target, act.desired or {})
    assert payload["match"] == {"id": target["id"], "metadata_modified": "2026-01-01T00:00:00"}
    assert "maintainer" not in payload.get("update", {})


def test_names_to_check_skips_names_this_source_holds() -> None:
    assert names_to_check([rec("a"), rec("b"), rec("c")], [synced(rec("a"))]) == ["b", "c"]
    assert names_to_check([rec("a")], [], prefix="p-") == ["p-a"]


# ---------------------------------------------------------------- the property

KEYS = [f"k{i}" for i in range(6)]
NAMES = [f"n{i}" for i in range(8)]


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[SourceRecord], list[dict[str, Any]], list[dict[str, Any]], PlanOptions]:
    keys = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=6))
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, min_size=len(keys), max_size=len(keys)))
    records = []
    for key, name in zip(keys, names, strict=True):
        records.append(
            rec(
                key,
                name,
                title=draw(st.sampled_from(["A", "B"])),
                tags=[{"name": t} for t in draw(st.lists(st.sampled_from(["x", "y", "z"]), unique=True))],
                resources=[
                    {"id": r, "url": f"http://e/{r}"}
                    for r in draw(st.lists(st.sampled_from(["r1", "r2"]), unique=True))
                ],
            )
        )
    on_missing = draw(st.sampled_from(["delete", "mark", "keep"]))
    opts = PlanOptions("src", ORG, on_missing=on_missing)
    # the target: datasets an earlier sync wrote (stale, renamed, marked, drafts), and others
    owned = []
    used_names: set[str] = set()
    for key in draw(st.lists(st.sampled_from(KEYS), unique=True)):
        name = draw(st.sampled_from(NAMES).filter(lambda n: n not in used_names))
        used_names.add(name)
        old = rec(key, name, title=draw(st.sampled_from(["A", "B", "old"])))
        ds = synced(old)
        if draw(st.booleans()):
            ds["extras"].append({"key": EXTRA_DELETED, "value": "t"})
            ds["private"] = True
        if draw(st.booleans()):
            ds["state"] = "draft"
        owned.append(ds)
    foreign = []
    for name in draw(st.lists(st.sampled_from([n for n in NAMES if n not in used_names]), unique=True, max_size=3)):
        kind = draw(st.sampled_from(["hand", "other-source", "other-org"]))
        ds = {
            "id": f"foreign-{name}",
            "name": name,
            "title": "not mine",
            "owner_org": ORG,
            "extras": [],
            "state": "active",
        }
        if kind == "other-source":
            ds["extras"] = [{"key": EXTRA_SOURCE, "value": "src2"}, {"key": EXTRA_ID, "value": "k0"}]
        elif kind == "other-org":
            ds["owner_org"] = "other-org"
            ds["extras"] = [{"key": EXTRA_SOURCE, "value": "src"}, {"key": EXTRA_ID, "value": "k1"}]
        foreign.append(ds)
    return records, owned, foreign, opts


def _taken(
    records: list[SourceRecord], owned: list[dict[str, Any]], foreign: list[dict[str, Any]], opts: PlanOptions
) -> dict[str, str]:
    wanted = set(names_to_check(records, owned, opts.name_prefix))
    return {d["name"]: d["id"] for d in foreign if d["name"] in wanted}


def _apply(plan: Plan, owned: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The model of the target: what each planned write leaves behind."""
    state = {d["id"]: copy.deepcopy(d) for d in owned}
    for act in plan.actions:
        if act.kind == "create":
            new = copy.deepcopy(act.desired or {})
            new.update(id=f"new-{next(_ids)}", state="active", metadata_created="2027", metadata_modified="2027")
            state[new["id"]] = new
        elif act.kind == "update":
            assert act.target is not None
            marked = EXTRA_DELETED in extras_of(act.target)
            state[act.target["id"]] = _merged(state[act.target["id"]], act.desired or {}, restore=marked)
        elif act.kind == "delete":
            assert act.target is not None
            del state[act.target["id"]]
        elif act.kind == "mark":
            assert act.target is not None
            ds = state[act.target["id"]]
            ds["private"] = True
            ds["extras"] = [*ds["extras"], {"key": EXTRA_DELETED, "value": "t"}]
    return list(state.values())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(scenario())
def test_plan_then_apply_reaches_the_source_and_a_second_plan_is_empty(
    case: tuple[list[SourceRecord], list[dict[str, Any]], list[dict[str, Any]], PlanOptions],
) -> None:
    records, owned, foreign, opts = case
    foreign_before = copy.deepcopy(foreign)
    plan = build_plan(records, owned, opts, taken=_taken(records, owned, foreign, opts))
    # datasets the source does not own are never the subject of a step
    for act in plan.actions:
        assert act.target is None or act.target["id"] not in {d["id"] for d in foreign}
    after = _apply(plan, owned)
    assert foreign == foreign_before

    failed = {a.key for a in plan.actions if a.kind == "fail"}
    by_key: dict[str, list[dict[str, Any]]] = {}
    for ds in after:
        by_key.setdefault(extras_of(ds)[EXTRA_ID], []).append(ds)
    reasons = {a.key: a.reason or "" for a in plan.actions if a.kind == "fail"}
    for record in records:
        if record.key in failed:
            # only a name held by a dataset the sync does not own, or a name swap, may stop a record
            held = record.dataset["name"] in {d["name"] for d in foreign}
            assert held or "name swap" in reasons[record.key] or "held by another dataset" in reasons[record.key]
            continue
        (ds,) = by_key[record.key or ""]
        assert ds["name"] == record.dataset["name"]
        assert ds["title"] == record.dataset["title"]
        assert extras_of(ds)[EXTRA_HASH] == content_hash(record.dataset)
        assert EXTRA_DELETED not in extras_of(ds) and ds["state"] == "active"
        assert sorted(t["name"] for t in ds.get("tags") or []) == sorted(t["name"] for t in record.dataset["tags"])
        assert [r[RESOURCE_KEY] for r in ds["resources"]] == [r["id"] for r in record.dataset["resources"]]
    source_keys = {r.key for r in records}
    gone = [d for d in after if extras_of(d)[EXTRA_ID] not in source_keys]
    if opts.on_missing == "delete":
        assert gone == []
    elif opts.on_missing == "mark":
        assert all(EXTRA_DELETED in extras_of(d) and d["private"] for d in gone)
    names = [d["name"] for d in after + foreign]
    assert len(names) == len(set(names)), "two datasets with one name"

    again = build_plan(records, after, opts, taken=_taken(records, after, foreign, opts))
    assert again.writes == []
    assert {a.key for a in again.actions if a.kind == "fail"} == failed


def test_rename_chains_run_in_waves_and_swaps_fail() -> None:
    one, two = synced(rec("k1", "n1")), synced(rec("k2", "n2"))
    # k1 moves to n0, k2 takes n1 (freed by k1), k3 is created as n2 (freed by k2)
    plan = build_plan([rec("k1", "n0"), rec("k2", "n1"), rec("k3", "n2")], [one, two], OPTS)
    assert [(a.kind, a.name, a.wave) for a in plan.actions] == [
        ("update", "n0", 0),
        ("update", "n1", 1),
        ("create", "n2", 0),
    ]
    plan = build_plan([rec("k1", "n2"), rec("k2", "n1")], [one, two], OPTS)
    assert [a.kind for a in plan.actions] == ["fail", "fail"]
    assert all("name swap" in (a.reason or "") for a in plan.actions)


def test_reordered_resources_replace_the_list_keeping_ids() -> None:
    a = rec("a", resources=[{"id": "s1", "url": "http://x/1"}, {"id": "s2", "url": "http://x/2"}])
    target = synced(a)
    ids = [r["id"] for r in target["resources"]]
    (act,) = build_plan([rec("a", resources=[{"id": "s2", "url": "http://x/2"}, {"id": "s1", "url": "http://x/1"}])],
                        [target], OPTS).actions  # fmt: skip
    payload = update_payload(target, act.desired or {})
    assert "-resources" in payload["filter"]
    assert [r["id"] for r in payload["update"]["resources"]] == [ids[1], ids[0]]
    assert not [k for k in payload if k.startswith("update__resources__")]

    # a new resource before a kept one is an order change too
    (act,) = build_plan([rec("a", resources=[{"id": "s3", "url": "http://x/3"}, {"id": "s1", "url": "http://x/1"}])],
                        [target], OPTS).actions  # fmt: skip
    payload = update_payload(target, act.desired or {})
    assert [r.get("id") for r in payload["update"]["resources"]] == [None, ids[0]]
    # appended at the end: item edits suffice
    (act,) = build_plan([rec("a", resources=[{"id": "s1", "url": "http://x/1"}, {"id": "s3", "url": "http://x/3"}])],
                        [target], OPTS).actions  # fmt: skip
    payload = update_payload(target, act.desired or {})
    assert "-resources" not in payload.get("filter", []) and "update__resources__extend" in payload
