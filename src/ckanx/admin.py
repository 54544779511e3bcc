"""Helpers for site administrators: find a dataset by title, clean up API tokens, and make many
datasets private, public or deleted at once.

* :func:`find_datasets` / :func:`find_dataset` (and ``afind_*``): candidates from ``package_search``
  (any word of the title, in the ``title`` field, plus ``field=value`` filters), ranked here: an exact
  title first (same case before other case), then the closest titles (difflib ratio).
* :func:`list_tokens`, :func:`select_tokens`, :func:`revoke_tokens`: list a user's tokens, pick them by
  name, age or last use, and revoke them concurrently with the bulk engine
  (:func:`ckanx.bulk.engine.run_ordered`).
* :func:`plan_bulk_update` and :func:`run_bulk_update`: every dataset matching a search, grouped by
  owner organization, and one ``bulk_update_private|public|delete`` call per organization (and chunk).

The ``ckanx find``, ``ckanx tokens`` and ``ckanx bulk-update`` commands are thin shells over these.
"""

from __future__ import annotations

import base64
import datetime as dt
import difflib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _exceptions as exc
from .bulk.actions import check_keyset_page, keyset_fq
from .bulk.engine import Outcome, Summary, error_reason, run_ordered
from .objects import Steps, _Call, _run_async, _run_sync

__all__ = [
    "BULK_MODES",
    "BulkUpdatePlan",
    "TitleMatch",
    "afind_dataset",
    "afind_datasets",
    "find_dataset",
    "find_datasets",
    "list_tokens",
    "parse_duration",
    "plan_bulk_update",
    "revoke_tokens",
    "run_bulk_update",
    "select_tokens",
    "token_jti",
]

FIND_CANDIDATES = 100
"""How many search results are ranked by :func:`find_datasets`."""

# ---------------------------------------------------------------- find by title


@dataclass(frozen=True)
class TitleMatch:
    """A dataset found by title: ``score`` is 1.0 for an exact title, else the similarity (0..1)."""

    dataset: dict[str, Any]
    score: float
    exact: bool
    same_case: bool


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def _solr_quote(value: Any) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _title_query(title: str, filters: dict[str, Any]) -> dict[str, Any]:
    words = re.findall(r"\w+", title)
    if not words:
        raise ValueError("the title to find has no words")
    query: dict[str, Any] = {
        "q": "title:(" + " OR ".join(words) + ")",
        "rows": FIND_CANDIDATES,
        "include_private": True,
    }
    fq = " ".join(f"+{key}:{_solr_quote(value)}" for key, value in sorted(filters.items()))
    if fq:
        query["fq"] = fq
    return query


def rank_by_title(title: str, datasets: Iterable[dict[str, Any]]) -> list[TitleMatch]:
    """Rank datasets by how well their title matches: exact (same case first), then most similar."""
    wanted = _normal(title)
    ranked = []
    for ds in datasets:
        have = str(ds.get("title") or "")
        exact = _normal(have) == wanted
        same_case = exact and " ".join(have.split()) == " ".join(title.split())
        score = 1.0 if exact else difflib.SequenceMatcher(None, wanted, _normal(have)).ratio()
        ranked.append(TitleMatch(ds, score, exact, same_case))
    ranked.sort(key=lambda m: (not m.exact, not m.same_case, -m.score, str(m.dataset.get("name"))))
    return ranked


def _find_steps(title: str, filters: dict[str, Any]) -> Steps:
    result = yield _Call("package_search", _title_query(title, filters))
    return rank_by_title(title, result.get("results") or [])


def find_datasets(client: Any, title: str, **field_filters: Any) -> list[TitleMatch]:
    """Datasets whose title shares a word with ``title``, best first (see :func:`rank_by_title`).

    ``field_filters`` narrow the search (``organization="my-org"``, ``type="dataset"``); private
    datasets the caller may see are included.
    """
    result: list[TitleMatch] = _run_sync(client, _find_steps(title, field_filters))
    return result


def find_dataset(client: Any, title: str, *, exact: bool = False, **field_filters: Any) -> dict[str, Any] | None:
    """The dataset with this title (case-insensitive), else the closest title; ``None`` if nothing matches.

    With ``exact=True`` only an exact (case-insensitive) title is returned.
    """
    return _best(find_datasets(client, title, **field_filters), exact)


async def afind_datasets(client: Any, title: str, **field_filters: Any) -> list[TitleMatch]:
    """The async twin of :func:`find_datasets`."""
    result: list[TitleMatch] = await _run_async(client, _find_steps(title, field_filters))
    return result


async def afind_dataset(client: Any, title: str, *, exact: bool = False, **field_filters: Any) -> dict[str, Any] | None:
    """The async twin of :func:`find_dataset`."""
    return _best(await afind_datasets(client, title, **field_filters), exact)


def _best(matches: list[TitleMatch], exact: bool) -> dict[str, Any] | None:
    if not matches or (exact and not matches[0].exact):
        return None
    return matches[0].dataset


# ---------------------------------------------------------------- API tokens

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> dt.timedelta:
    """``90d``, ``12h``, ``2w``, ``30m``, ``45s`` (or a bare number of days) as a timedelta."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text or "")
    if not match:
        raise ValueError(f"invalid duration {text!r}: use e.g. 90d, 12h, 2w")
    return dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2) or "d"])


def _when(value: Any) -> dt.datetime | None:
    """CKAN's token timestamps are naive UTC ISO strings."""
    if not value:
        return None
    when = dt.datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def token_jti(token: str | None) -> str | None:
    """The id (``jti`` claim) of a CKAN API token, read without checking its signature."""
    if not token or token.count(".") != 2:
        return None
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    jti = claims.get("jti") if isinstance(claims, dict) else None
    return jti if isinstance(jti, str) else None


def list_tokens(client: Any, user: str) -> list[dict[str, Any]]:
    """``api_token_list`` for ``user`` (name or id): ``id``, ``name``, ``created_at``, ``last_access``."""
    result: list[dict[str, Any]] = client.call_action("api_token_list", {"user_id": user})
    return result


def select_tokens(
    tokens: Sequence[dict[str, Any]],
    *,
    names: Sequence[str] = (),
    older_than: dt.timedelta | None = None,
    unused_for: dt.timedelta | None = None,
    select_all: bool = False,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The tokens meeting **every** given rule (``select_all`` with no rule: every token).

    * ``names``: the token's name is one of these;
    * ``older_than``: created more than this long ago;
    * ``unused_for``: not used for this long (a never-used token counts from its creation).

    Raises ``ValueError`` when no rule is given and ``select_all`` is false (nothing is selected by
    accident).
    """
    if not (names or older_than is not None or unused_for is not None or select_all):
        raise ValueError("choose tokens by name, age or last use, or select all of them explicitly")
    now = now or dt.datetime.now(dt.timezone.utc)
    chosen = []
    for token in tokens:
        created = _when(token.get("created_at"))
        used = _when(token.get("last_access")) or created
        if names and token.get("name") not in names:
            continue
        if older_than is not None and (created is None or now - created <= older_than):
            continue
        if unused_for is not None and (used is None or now - used <= unused_for):
            continue
        chosen.append(token)
    return chosen


async def revoke_tokens(
    client: Any,
    tokens: Iterable[dict[str, Any]],
    *,
    concurrency: int,
    on_outcome: Callable[[dict[str, Any], Outcome], None] | None = None,
) -> Summary:
    """Revoke tokens (``api_token_revoke`` by ``jti``) with at most ``concurrency`` calls in flight.

    Outcomes (``revoked`` or ``error``) are counted in the summary and given to ``on_outcome`` in
    input order.
    """
    summary = Summary()

    async def work(token: dict[str, Any]) -> Outcome:
        try:
            await client.call_action("api_token_revoke", {"jti": token["id"]})
        except exc.CKANAPIError as err:
            return Outcome("error", token.get("name"), token.get("id"), error_reason(err))
        return Outcome("revoked", token.get("name"), token.get("id"))

    def emit(token: dict[str, Any], outcome: Any) -> None:
        if isinstance(outcome, BaseException):
            outcome = Outcome("error", token.get("name"), token.get("id"), error_reason(outcome))
        summary.add(outcome.status)
        if on_outcome is not None:
            on_outcome(token, outcome)

    await run_ordered(tokens, work, emit, concurrency=concurrency)
    return summary


# ---------------------------------------------------------------- bulk private / public / delete

BULK_MODES = ("private", "public", "delete")
BULK_CHUNK = 500  # dataset ids per bulk_update_* call (keeps request bodies small)
_SEARCH_ROWS = 1000


@dataclass
class BulkUpdatePlan:
    """What a bulk update will do: dataset ids per owner organization id, and what is left alone."""

    mode: str
    by_org: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    unchanged: int = 0  # already private (or public)
    no_org: list[dict[str, Any]] = field(default_factory=list)  # bulk_update_* needs an organization

    @property
    def count(self) -> int:
        """Datasets that will change."""
        return sum(len(v) for v in self.by_org.values())

    def text(self) -> str:
        """``12 datasets in 3 organizations (2 already private, 1 without organization)``."""
        verb = {"private": "make private", "public": "make public", "delete": "delete"}[self.mode]
        extra = []
        if self.unchanged:
            extra.append(f"{self.unchanged} already {self.mode}")
        if self.no_org:
            extra.append(f"{len(self.no_org)} without organization, skipped")
        tail = f" ({', '.join(extra)})" if extra else ""
        orgs = len(self.by_org)
        return f"{verb}: {_plural(self.count, 'dataset')} in {_plural(orgs, 'organization')}{tail}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def plan_bulk_update(mode: str, datasets: Iterable[dict[str, Any]]) -> BulkUpdatePlan:
    """Group the datasets to change by ``owner_org`` (datasets already in the wanted state are left out)."""
    if mode not in BULK_MODES:
        raise ValueError(f"mode must be one of {', '.join(BULK_MODES)}")
    plan = BulkUpdatePlan(mode)
    for ds in datasets:
        if (mode == "private" and ds.get("private")) or (mode == "public" and ds.get("private") is False):
            plan.unchanged += 1
            continue
        org = ds.get("owner_org")
        if not org:
            plan.no_org.append(ds)
            continue
        plan.by_org.setdefault(str(org), []).append(ds)
    return plan


async def matching_datasets(client: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every dataset matching ``package_search`` parameters (private ones included unless said
    otherwise), walked by id so none is missed or repeated while the catalogue changes."""
    base = {"include_private": True, **params}
    user_fq = base.pop("fq", None)
    for key in ("rows", "start", "sort"):
        base.pop(key, None)
    found: list[dict[str, Any]] = []
    last_id: str | None = None
    while True:
        query = {**base, "sort": "id asc", "start": 0, "rows": _SEARCH_ROWS}
        fq = keyset_fq(user_fq, last_id)
        if fq:
            query["fq"] = fq
        result = await client.call_action("package_search", query)
        rows = result.get("results") or []
        if not rows:
            return found
        check_keyset_page(rows, last_id)
        found.extend(rows)
        last_id = rows[-1]["id"]


async def run_bulk_update(
    client: Any,
    plan: BulkUpdatePlan,
    *,
    concurrency: int,
    on_outcome: Callable[[str, list[dict[str, Any]], Outcome], None] | None = None,
) -> Summary:
    """One ``bulk_update_<mode>`` call per organization and chunk of :data:`BULK_CHUNK` datasets.

    The summary counts datasets (``private``/``public``/``deleted`` or ``error``); ``on_outcome``
    gets ``(org_id, datasets, outcome)`` per call, in order.
    """
    action = f"bulk_update_{plan.mode}"
    status = "deleted" if plan.mode == "delete" else plan.mode
    jobs = [
        (org, datasets[i : i + BULK_CHUNK])
        for org, datasets in plan.by_org.items()
        for i in range(0, len(datasets), BULK_CHUNK)
    ]
    summary = Summary()

    async def work(job: tuple[str, list[dict[str, Any]]]) -> Outcome:
        org, chunk = job
        try:
            await client.call_action(action, {"org_id": org, "datasets": [d["id"] for d in chunk]})
        except exc.CKANAPIError as err:
            return Outcome("error", org, None, error_reason(err))
        return Outcome(status, org)

    def emit(job: tuple[str, list[dict[str, Any]]], outcome: Any) -> None:
        if isinstance(outcome, BaseException):
            outcome = Outcome("error", job[0], None, error_reason(outcome))
        summary.add(outcome.status, len(job[1]))
        if on_outcome is not None:
            on_outcome(job[0], job[1], outcome)

    await run_ordered(jobs, work, emit, concurrency=concurrency)
    return summary
