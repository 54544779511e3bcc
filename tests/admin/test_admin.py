"""Admin helpers against the embedded CKAN: find by title, token selection and revocation, bulk plans."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest

from ckanx import AsyncClient
from ckanx.admin import (
    afind_dataset,
    find_dataset,
    find_datasets,
    list_tokens,
    parse_duration,
    plan_bulk_update,
    rank_by_title,
    revoke_tokens,
    select_tokens,
    token_jti,
)

TITLES = {
    "wq-2020": "Water Quality 2020",
    "wq-lower": "water quality",
    "wq-upper": "Water Quality",
    "river": "River water quality measurements",
    "air": "Air quality",
    "falls": "Waterfall",
}


@pytest.fixture
def catalog(ckan_server: Any) -> Any:
    ck = ckan_server.client
    ck.action.organization_create(name="org-a")
    ck.action.organization_create(name="org-b")
    for name, title in TITLES.items():
        ck.action.package_create(name=name, title=title, owner_org="org-a")
    ck.action.package_create(name="other-org-wq", title="Water Quality", owner_org="org-b")
    return ckan_server


def test_find_exact_same_case_first_then_other_case_then_closest(catalog: Any) -> None:
    ck = catalog.client
    names = [m.dataset["name"] for m in find_datasets(ck, "Water Quality", organization="org-a")]
    assert names[:2] == ["wq-upper", "wq-lower"]  # exact same case, then exact other case
    assert names[2] == "wq-2020"  # closest of the rest
    assert "falls" not in names  # no word in common
    assert find_dataset(ck, "WATER QUALITY", organization="org-a")["name"] in ("wq-upper", "wq-lower")  # type: ignore[index]
    assert find_dataset(ck, "  water   quality ", organization="org-a")["name"] == "wq-lower"  # type: ignore[index]
    assert find_dataset(ck, "Water quality 2020")["name"] == "wq-2020"  # type: ignore[index]
    assert find_dataset(ck, "water quality measurement")["name"] == "river"  # type: ignore[index]
    assert find_dataset(ck, "water quality measurement", exact=True) is None
    assert find_dataset(ck, "nothing like it") is None


def test_find_filters_narrow_by_field(catalog: Any) -> None:
    found = find_datasets(catalog.client, "Water Quality", organization="org-b")
    assert [m.dataset["name"] for m in found] == ["other-org-wq"]


def test_rank_by_title_scores() -> None:
    ranked = rank_by_title("abc", [{"name": "x", "title": "abd"}, {"name": "y", "title": "ABC"}])
    assert [m.dataset["name"] for m in ranked] == ["y", "x"]
    assert ranked[0].exact and not ranked[0].same_case and ranked[0].score == 1.0
    assert 0 < ranked[1].score < 1


@pytest.mark.anyio
async def test_afind_dataset(catalog: Any) -> None:
    async with AsyncClient(catalog.url, catalog.token) as ack:
        found = await afind_dataset(ack, "air quality")
    assert found is not None and found["name"] == "air"


@pytest.mark.parametrize(
    ("text", "seconds"), [("90d", 90 * 86400), ("12h", 43200), ("2w", 1209600), ("30m", 1800), ("5", 5 * 86400)]
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "d", "3y", "-1d", "1 d d"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


NOW = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
TOKENS = [
    {"id": "t1", "name": "ci", "created_at": "2026-01-01T00:00:00", "last_access": "2026-05-31T00:00:00"},
    {"id": "t2", "name": "ci", "created_at": "2026-05-20T00:00:00", "last_access": None},
    {"id": "t3", "name": "laptop", "created_at": "2025-01-01T00:00:00", "last_access": "2026-01-15T00:00:00"},
    {"id": "t4", "name": "old-unused", "created_at": "2025-06-01T00:00:00", "last_access": None},
]


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ({"names": ["ci"]}, ["t1", "t2"]),
        ({"older_than": dt.timedelta(days=90)}, ["t1", "t3", "t4"]),
        ({"unused_for": dt.timedelta(days=30)}, ["t3", "t4"]),  # never used counts from creation
        ({"unused_for": dt.timedelta(days=5)}, ["t2", "t3", "t4"]),
        ({"names": ["ci"], "older_than": dt.timedelta(days=30)}, ["t1"]),  # every rule must hold
        ({"select_all": True}, ["t1", "t2", "t3", "t4"]),
    ],
)
def test_select_tokens(rules: dict[str, Any], expected: list[str]) -> None:
    assert [t["id"] for t in select_tokens(TOKENS, now=NOW, **rules)] == expected


def test_select_tokens_needs_a_rule() -> None:
    with pytest.raises(ValueError, match="choose tokens"):
        select_tokens(TOKENS, now=NOW)


def test_token_jti_reads_the_claim(ckan_server: Any) -> None:
    ck = ckan_server.client
    ck.action.user_create(name="alice", email="a@example.org", password="a-long-password-1")
    token = ck.action.api_token_create(user="alice", name="probe")["token"]
    listed = list_tokens(ck, "alice")
    assert [t["id"] for t in listed] == [token_jti(token)]
    assert token_jti("not-a-token") is None


@pytest.mark.anyio
async def test_revoke_tokens_concurrently_with_bounded_concurrency(ckan_server: Any) -> None:
    ck = ckan_server.client
    ck.action.user_create(name="bob", email="b@example.org", password="a-long-password-1")
    for i in range(12):
        ck.action.api_token_create(user="bob", name=f"t{i}")
    tokens = list_tokens(ck, "bob")
    tokens.append({"id": "no-such-token-id", "name": "ghost"})
    in_flight = peak = 0
    seen: list[str] = []

    async with AsyncClient(ckan_server.url, ckan_server.token) as ack:
        original = ack.call_action

        async def tracking(name: str, data: Any = None, *args: Any, **kw: Any) -> Any:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                await asyncio.sleep(0.01)
                return await original(name, data, *args, **kw)
            finally:
                in_flight -= 1

        ack.call_action = tracking  # type: ignore[method-assign]
        summary = await revoke_tokens(ack, tokens, concurrency=4, on_outcome=lambda t, o: seen.append(t["name"]))
    assert 1 < peak <= 4
    assert seen == [t["name"] for t in tokens]  # outcomes in input order
    # CKAN answers null for an unknown jti (nothing to revoke): counted as revoked, as the server says
    assert summary.counts == {"revoked": 13}
    assert list_tokens(ck, "bob") == []


def test_plan_bulk_update_groups_by_org_and_skips_no_ops() -> None:
    datasets = [
        {"id": "1", "owner_org": "o1", "private": False},
        {"id": "2", "owner_org": "o1", "private": True},
        {"id": "3", "owner_org": "o2", "private": False},
        {"id": "4", "owner_org": None, "private": False},
    ]
    private = plan_bulk_update("private", datasets)
    assert {k: [d["id"] for d in v] for k, v in private.by_org.items()} == {"o1": ["1"], "o2": ["3"]}
    assert (private.count, private.unchanged, [d["id"] for d in private.no_org]) == (2, 1, ["4"])
    public = plan_bulk_update("public", datasets)
    assert {k: [d["id"] for d in v] for k, v in public.by_org.items()} == {"o1": ["2"]}
    assert plan_bulk_update("delete", datasets).count == 3
    with pytest.raises(ValueError):
        plan_bulk_update("purge", datasets)
