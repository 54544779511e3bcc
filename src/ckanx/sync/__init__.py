"""Source-tracked sync (harvesting): keep an organization's datasets equal to a source.

A *source* is a JSON-lines dump, a directory of JSON/YAML dataset files, a Frictionless Data
Package or another CKAN (:func:`open_source`). Every dataset a sync writes records its origin in
three extras: ``ckanx_sync_source`` (the source's name), ``ckanx_sync_id`` (the record's id in the
source) and ``ckanx_sync_hash`` (sha256 of the normalised source record). A run finds the datasets
the source owns with one search filter, then creates what is new, updates what changed, deletes
(or marks, or keeps) what left the source, and leaves everything else alone::

    import ckanx, ckanx.sync

    with ckanx.Client("https://data.example.org", token) as ck:
        print(ckanx.sync.plan(ck, "envidat.jsonl.gz", into="envidat").summary())
        report = ckanx.sync.run(ck, "envidat.jsonl.gz", into="envidat", concurrency=4)
        print(report.counts)

``run_async``/``plan_async`` take an :class:`~ckanx.AsyncClient`; :func:`build_plan` is the
I/O-free planner. See ``docs/sync.md``.
"""

from __future__ import annotations

from .executor import (
    RecordResult,
    SyncError,
    SyncOptions,
    SyncReport,
    TargetState,
    plan,
    plan_async,
    read_target,
    run,
    run_async,
)
from .planner import Plan, PlannedAction, PlanOptions, build_plan, mark_payload, update_payload
from .records import (
    EXTRA_DELETED,
    EXTRA_HASH,
    EXTRA_ID,
    EXTRA_SOURCE,
    RESOURCE_KEY,
    SourceRecord,
    content_hash,
    desired_dataset,
)
from .sources import CKANSource, DatapackageSource, DirectorySource, JsonLinesSource, Source, open_source

__all__ = [
    "EXTRA_DELETED",
    "EXTRA_HASH",
    "EXTRA_ID",
    "EXTRA_SOURCE",
    "RESOURCE_KEY",
    "CKANSource",
    "DatapackageSource",
    "DirectorySource",
    "JsonLinesSource",
    "Plan",
    "PlanOptions",
    "PlannedAction",
    "RecordResult",
    "Source",
    "SourceRecord",
    "SyncError",
    "SyncOptions",
    "SyncReport",
    "TargetState",
    "build_plan",
    "content_hash",
    "desired_dataset",
    "mark_payload",
    "open_source",
    "plan",
    "plan_async",
    "read_target",
    "run",
    "run_async",
    "update_payload",
]
