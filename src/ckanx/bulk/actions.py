"""``ckanx delete``, ``ckanx batch`` and ``ckanx search``: the simpler bulk jobs.

* delete: every input shape ckanapi accepts (:func:`extract_ids_or_names`), ``*_delete`` or, with
  ``--purge``, ``dataset_purge``/``group_purge``/``organization_purge``; concurrent, logged in order.
* batch: JSON lines ``{"action", "data", "files"}``; each result is written as a JSON line in input order.
* search: every dataset matching ``package_search`` parameters, paged stably (keyset on ``id``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .. import _exceptions as exc
from .engine import Outcome, Progress, RecordLog, Summary, error_reason, run_ordered
from .jsonl import DurableOutput, InputLine
from .records import THINGS

__all__ = [
    "KeysetError",
    "check_keyset_page",
    "extract_ids_or_names",
    "keyset_fq",
    "numbered_names",
    "run_batch",
    "run_delete",
    "search_datasets",
]

SEARCH_ROWS = 1000


def extract_ids_or_names(line: InputLine) -> list[str]:
    """The ids or names in one input line, as ckanapi reads them.

    A line may be: an object with ``id`` or ``name`` (``package_show`` output); an object with a
    ``results`` list of objects with ``id`` (``package_search`` output); a JSON string; a JSON list of
    strings (``package_list`` output); or a plain name that is not JSON.
    """
    value = line.value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        for key in ("id", "name"):
            if isinstance(value.get(key), str):
                return [value[key]]
        results = value.get("results")
        if isinstance(results, list) and all(isinstance(r, dict) and isinstance(r.get("id"), str) for r in results):
            return [r["id"] for r in results]
    return [line.text]


def numbered_names(lines: Iterable[InputLine]) -> Iterator[tuple[int, str]]:
    """``(record number, id or name)``; record numbers count names, not lines (as ckanapi)."""
    number = 0
    for line in lines:
        for name in extract_ids_or_names(line):
            number += 1
            yield number, name


async def run_delete(
    client: Any,
    thing: str,
    names: Iterable[tuple[int, str]],
    *,
    purge: bool,
    concurrency: int,
    progress: Progress,
    log: RecordLog,
) -> Summary:
    """Delete (or purge) each named object; outcomes ``deleted``/``purged``/``error``."""
    spec = THINGS[thing]
    action = spec.purge if purge else spec.delete
    status = "purged" if purge else "deleted"
    summary = Summary()

    async def work(item: tuple[int, str]) -> Outcome:
        try:
            await client.call_action(action, {"id": item[1]})
        except exc.ActionError as err:
            return Outcome("error", item[1], None, error_reason(err))
        return Outcome(status, item[1])

    def emit(item: tuple[int, str], outcome: Any) -> None:
        if isinstance(outcome, BaseException):
            outcome = Outcome("error", item[1], None, error_reason(outcome))
        summary.add(outcome.status)
        progress.advance(errors=int(outcome.failed))
        log.write(item[0], outcome, action)
        if outcome.failed:
            progress.note(f"{item[1]}: {outcome.reason}")

    await run_ordered(names, work, emit, concurrency=concurrency)
    return summary


async def run_batch(
    client: Any,
    lines: Iterable[InputLine],
    out: DurableOutput,
    *,
    local_files: bool,
    concurrency: int,
    progress: Progress,
    log: RecordLog,
) -> Summary:
    """Run each ``{"action", "data", "files"}`` line; write ``{"action", "result"|"error"}`` lines in order."""
    summary = Summary()

    async def work(line: InputLine) -> tuple[str | None, Outcome, Any]:
        value = line.value
        if not isinstance(value, dict) or not isinstance(value.get("action"), str):
            return None, Outcome("error", None, None, 'expected {"action": NAME, "data": {...}}'), None
        action = value["action"]
        data = value.get("data") or {}
        if not isinstance(data, dict):
            return action, Outcome("error", action, None, '"data" must be a JSON object'), None
        files: dict[str, Any] = {}
        given = value.get("files") or {}
        if given:
            if not local_files:
                return action, Outcome("error", action, None, '"files" needs --local-files'), None
            for key, path in given.items():
                p = Path(str(path)).expanduser()
                if not p.is_file():
                    return action, Outcome("error", action, None, f"file {key}: no such file {path}"), None
                files[key] = p
        try:
            result = await client.call_action(action, data, files or None)
        except exc.CKANAPIError as err:
            error = err.error if isinstance(err, exc.ActionError) else {"message": str(err)}
            return action, Outcome("error", action, None, error_reason(err)), error
        return action, Outcome("done", action, result=result), None

    def emit(line: InputLine, answer: Any) -> None:
        if isinstance(answer, BaseException):
            answer = (None, Outcome("error", None, None, error_reason(answer)), None)
        action, outcome, error = answer
        if outcome.failed:
            record = {"action": action, "line": line.number, "error": error or {"message": outcome.reason}}
        else:
            record = {"action": action, "line": line.number, "result": outcome.result}
        out.write_records([record])
        summary.add(outcome.status)
        progress.advance(errors=int(outcome.failed))
        log.write(line.number, outcome, action)
        if outcome.failed:
            progress.note(f"line {line.number} {action or ''}: {outcome.reason}")

    await run_ordered(lines, work, emit, concurrency=concurrency)
    return summary


def keyset_fq(user_fq: str | None, last_id: str | None) -> str | None:
    """``fq`` for the page after ``last_id`` in an ``id asc`` walk, quoted for Solr.

    A caller's ``fq`` is wrapped in parentheses: CKAN appends its own clauses to ``fq`` as text, so
    a top-level ``a OR b`` would otherwise match every dataset (checked on CKAN 2.11).
    """
    parts = []
    if user_fq:
        parts.append(f"+({user_fq})")
    if last_id:
        parts.append('+id:{"%s" TO *]' % last_id.replace("\\", "\\\\").replace('"', '\\"'))  # noqa: UP031
    return " ".join(parts) or None


class KeysetError(exc.CKANAPIError):
    """The server's ``package_search`` did not honour the ``sort=id asc`` / ``fq`` id range."""


def check_keyset_page(page: list[dict[str, Any]], last_id: str | None) -> None:
    """Ids must rise strictly within and across pages; a server that ignores the range would loop forever."""
    previous = last_id
    for row in page:
        current = row.get("id")
        if not isinstance(current, str) or (previous is not None and current <= previous):
            raise KeysetError(
                "the site's package_search does not page by id (sort=id asc with an fq id range): "
                f"got id {current!r} after {previous!r}; stopping instead of looping"
            )
        previous = current


async def search_datasets(client: Any, params: dict[str, Any], out: DurableOutput, *, progress: Progress) -> int:
    """Write every dataset matching ``params`` as JSON lines; returns how many.

    With ``rows`` given, one page is written (as ckanapi). Otherwise the walk is a keyset walk on
    ``id`` (stable while the catalogue changes); a caller's ``sort`` is honoured with offset paging
    and ``id`` as tie-breaker, dropping any dataset already written.
    """
    if "rows" in params:
        result = await client.call_action("package_search", params)
        rows = result.get("results") or []
        out.write_records(rows)
        progress.advance(len(rows))
        return len(rows)
    written = 0
    user_fq = params.get("fq")
    if params.get("sort"):
        seen: set[str] = set()
        start = int(params.get("start", 0))
        sort = f"{params['sort']}, id asc" if "id " not in str(params["sort"]) else params["sort"]
        while True:
            result = await client.call_action(
                "package_search", {**params, "sort": sort, "start": start, "rows": SEARCH_ROWS}
            )
            if written == 0:
                progress.set_total(int(result.get("count", 0)))
            rows = [r for r in result.get("results") or [] if r.get("id") not in seen]
            seen.update(r.get("id") for r in rows)
            out.write_records(rows)
            written += len(rows)
            progress.advance(len(rows))
            if not result.get("results"):
                return written
            start += len(result["results"])
    last_id: str | None = None
    first = True
    while True:
        query = {**params, "sort": "id asc", "start": 0, "rows": SEARCH_ROWS}
        fq = keyset_fq(user_fq, last_id)
        if fq:
            query["fq"] = fq
        result = await client.call_action("package_search", query)
        rows = result.get("results") or []
        if first:
            progress.set_total(int(result.get("count", 0)))
            first = False
        if not rows:
            return written
        check_keyset_page(rows, last_id)
        out.write_records(rows)
        written += len(rows)
        progress.advance(len(rows))
        last_id = rows[-1]["id"]
