"""Copying one DataStore table from the source to the target, streamed, with its data dictionary.

* The table is read with the export's page walk (:func:`ckanx.datastore._export.pages_job`: keyset
  pages on CKAN 2.12, ``_id``-ordered offset pages on 2.11), never whole in memory.
* It is written with the import's chunking and chunk sender (bounded by rows *and* bytes, an insert
  whose answer was lost is settled by counting rows, a chunk refused as too large is halved).
* Values go as the source's ``datastore_search`` gave them: no type inference, no conversion.
* Unchanged tables are not written: same fields (id, type, ``info``), same row count and the same
  digest of every row in ``_id`` order on both sides. When anything differs the target table is
  dropped and written again (``datastore_delete`` then ``datastore_create``), so removed rows and
  retyped columns cannot survive.
* Primary key: CKAN's ``datastore_info`` does not say which index is the key (CKAN 2.11.6 reports
  ``uniquekey: false`` for the key columns too). Fields marked ``uniquekey`` become the key; the
  other indexed fields become ``indexes`` on the target.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .. import _exceptions as exc
from ..datastore._export import SearchOptions, pages_job
from ..datastore._import import DEFAULT_CHUNK_BYTES, DEFAULT_CHUNK_ROWS, ImportReport, _chunks, _send_chunk
from ..datastore._protocol import adrive, aiterate
from ._files import SourceMissing

__all__ = ["TableResult", "sync_table"]

PAGE_ROWS = 10_000


class TableResult:
    """What happened to one table: ``status`` (created, updated, unchanged) and rows copied."""

    def __init__(self, status: str, rows: int = 0) -> None:
        self.status = status
        self.rows = rows


async def _table_meta(client: Any, resource_id: str) -> tuple[list[dict[str, Any]], int] | None:
    """``(fields without _id, row count)``, or ``None`` when the resource has no table."""
    try:
        result = await client.call_action(
            "datastore_search", {"resource_id": resource_id, "limit": 0, "include_total": True}
        )
    except exc.NotFound:
        return None
    fields = [
        {k: f[k] for k in ("id", "type", "info") if k in f}
        for f in result.get("fields") or []
        if f.get("id") != "_id"
    ]
    return fields, int(result.get("total") or 0)


async def _keys(client: Any, resource_id: str) -> tuple[list[str], list[str]]:
    """``(primary key, other indexed fields)`` as far as ``datastore_info`` tells (see module doc)."""
    try:
        info = await client.call_action("datastore_info", {"id": resource_id})
    except exc.CKANAPIError:
        return [], []
    key, indexed = [], []
    for f in info.get("fields") or []:
        schema = f.get("schema") or {}
        if schema.get("uniquekey"):
            key.append(str(f["id"]))
        elif schema.get("is_index"):
            indexed.append(str(f["id"]))
    return key, indexed


async def _digest(client: Any, resource_id: str) -> str:
    """sha256 over every row (canonical JSON, ``_id`` order, ``_id`` itself left out)."""
    h = hashlib.sha256()
    async for page in aiterate(client, pages_job(SearchOptions(resource_id, page_rows=PAGE_ROWS), {})):
        for record in page:
            h.update(json.dumps(record, sort_keys=True, ensure_ascii=False, default=str).encode())
            h.update(b"\n")
    return h.hexdigest()


def _same_fields(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    def norm(fields: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        return [
            (str(f["id"]), str(f.get("type")), json.dumps(f.get("info") or {}, sort_keys=True)) for f in fields
        ]

    return norm(a) == norm(b)


async def sync_table(source: Any, target: Any, source_id: str, target_id: str, *, dry_run: bool) -> TableResult:
    """Make the target resource's table equal to the source resource's (see the module docstring)."""
    src = await _table_meta(source, source_id)
    if src is None:
        raise SourceMissing(f"the source resource {source_id} says datastore_active but has no DataStore table")
    src_fields, src_rows = src
    have = await _table_meta(target, target_id)
    if have is not None:
        tgt_fields, tgt_rows = have
        if (
            _same_fields(src_fields, tgt_fields)
            and src_rows == tgt_rows
            and await _digest(source, source_id) == await _digest(target, target_id)
        ):
            return TableResult("unchanged")
    status = "created" if have is None else "updated"
    if dry_run:
        return TableResult(status, src_rows)
    key, indexed = await _keys(source, source_id)
    if have is not None:
        # drop and rewrite: removed rows and changed column types must not survive
        await target.call_action("datastore_delete", {"resource_id": target_id, "force": True})
    create: dict[str, Any] = {"resource_id": target_id, "fields": src_fields, "force": True}
    if key:
        create["primary_key"] = key
    if indexed:
        create["indexes"] = indexed
    await target.call_action("datastore_create", create)
    committed = 0
    report = ImportReport(resource_id=target_id)
    async for page in aiterate(source, pages_job(SearchOptions(source_id, page_rows=PAGE_ROWS), {})):
        for chunk, _size in _chunks(iter(page), DEFAULT_CHUNK_ROWS, DEFAULT_CHUNK_BYTES, 0):
            data: dict[str, Any] = {
                "resource_id": target_id,
                "records": chunk,
                "method": "insert",
                "force": True,
            }
            await adrive(target, _send_chunk(data, chunk, "insert", target_id, 0, committed, report))
            committed += len(chunk)
    return TableResult(status, committed)
