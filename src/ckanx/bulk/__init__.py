"""Bulk jobs over CKAN's Action API: dump, load, search, delete and batch.

The engine runs on one asyncio event loop with :class:`ckanx.AsyncClient` (no worker processes):
``-p N`` requests in flight, outcomes in input order (:func:`~ckanx.bulk.engine.run_ordered`),
JSON lines in and out with gzip (:mod:`~ckanx.bulk.jsonl`), checkpoints for ``--resume``
(:mod:`~ckanx.bulk.checkpoint`), progress on stderr and a per-record log
(:mod:`~ckanx.bulk.engine`). The ``ckanx`` commands are thin shells over these functions.
"""

from __future__ import annotations

from .actions import extract_ids_or_names, run_batch, run_delete, search_datasets
from .checkpoint import Checkpoint, CheckpointError
from .dump import DumpCountMismatch, DumpOptions, run_dump
from .engine import Outcome, Progress, RecordLog, Summary, effective_concurrency, run_ordered
from .jsonl import DurableOutput, InputError, InputLine, iter_lines, open_input
from .load import LoadOptions, run_load
from .records import differences, merge_for_update, prepare_for_load

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "DumpCountMismatch",
    "DumpOptions",
    "DurableOutput",
    "InputError",
    "InputLine",
    "LoadOptions",
    "Outcome",
    "Progress",
    "RecordLog",
    "Summary",
    "differences",
    "effective_concurrency",
    "extract_ids_or_names",
    "iter_lines",
    "merge_for_update",
    "open_input",
    "prepare_for_load",
    "run_batch",
    "run_delete",
    "run_dump",
    "run_load",
    "run_ordered",
    "search_datasets",
]
