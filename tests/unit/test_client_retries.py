"""Retries, backoff, Retry-After, timeouts, safe writes, redirects."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import random

import httpx
import pytest

import ckanx
from ckanx import _core

from .conftest import SITE, TOKEN, Recorder, fail, make_async_client, make_client, ok


def test_connection_errors_retried_with_growing_backoff(no_sleep: list[float]) -> None:
    err = httpx.ConnectError("refused")
    rec = Recorder(err, err, err, ok("done"))
    with make_client(rec) as ck:
        assert ck.action.package_show(id="x") == "done"
    assert len(rec.requests) == 4
    assert len(no_sleep) == 3
    # full jitter within [ceiling/2, ceiling]: 0.5, 1, 2
    for delay, ceiling in zip(no_sleep, [0.5, 1.0, 2.0], strict=True):
        assert ceiling / 2 <= delay <= ceiling


def test_backoff_caps_at_max_delay() -> None:
    rng = random.Random(1)
    assert all(_core.backoff_delay(n, rng) <= _core.MAX_RETRY_DELAY for n in range(1, 30))
    assert _core.backoff_delay(20, rng) >= _core.MAX_RETRY_DELAY / 2


def test_gives_up_after_retries_with_network_error(no_sleep: list[float]) -> None:
    rec = Recorder(httpx.ConnectError("refused"))
    with make_client(rec, retries=3) as ck, pytest.raises(ckanx.NetworkError) as info:
        ck.action.package_show(id="x")
    assert len(rec.requests) == 4
    assert "after 4 attempts" in str(info.value)
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_retries_zero_means_one_attempt() -> None:
    rec = Recorder(httpx.Response(503))
    with make_client(rec, retries=0) as ck, pytest.raises(ckanx.HTTPStatusError):
        ck.action.package_show(id="x")
    assert len(rec.requests) == 1


def test_read_timeout_of_read_action_retried_then_timeout_error(no_sleep: list[float]) -> None:
    rec = Recorder(httpx.ReadTimeout("slow"))
    with make_client(rec, retries=2) as ck, pytest.raises(ckanx.RequestTimeout):
        ck.action.package_search(q="x")
    assert len(rec.requests) == 3


def test_429_honours_retry_after_seconds(no_sleep: list[float]) -> None:
    rec = Recorder(httpx.Response(429, headers={"Retry-After": "7"}), ok(1))
    with make_client(rec) as ck:
        assert ck.action.package_create(name="x", owner_org="o") == 1
    assert no_sleep == [7.0]


def test_retry_after_is_capped_and_accepts_dates() -> None:
    assert _core.retry_after_seconds(httpx.Headers({"Retry-After": "100000"})) == _core.MAX_RETRY_AFTER
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    when = email.utils.format_datetime(now + dt.timedelta(seconds=12), usegmt=True)
    assert _core.retry_after_seconds(httpx.Headers({"Retry-After": when}), now=now) == 12.0
    assert _core.retry_after_seconds(httpx.Headers({"Retry-After": "soon"})) is None


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_retried_for_reads(status: int) -> None:
    rec = Recorder(httpx.Response(status), ok("x"))
    with make_client(rec) as ck:
        assert ck.action.package_show(id="x") == "x"
    assert len(rec.requests) == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (409, {"__type": "Validation Error", "name": ["x"]}),
        (403, {"__type": "Authorization Error", "message": "no"}),
        (404, {"__type": "Not Found Error", "message": "Not found"}),
    ],
)
def test_answers_never_retried(status: int, error: dict[str, object]) -> None:
    rec = Recorder(fail(status, error))
    with make_client(rec) as ck, pytest.raises(ckanx.ActionError):
        ck.action.package_update(id="x")
    assert len(rec.requests) == 1


def test_bare_400_never_retried() -> None:
    rec = Recorder(httpx.Response(400, json="Bad request - JSON Error"))
    with make_client(rec) as ck, pytest.raises(ckanx.BadRequest):
        ck.action.package_update(id="x")
    assert len(rec.requests) == 1


def test_unsafe_write_with_unknown_outcome_is_not_repeated() -> None:
    rec = Recorder(httpx.ReadTimeout("lost answer"), ok("should not be sent"))
    with make_client(rec) as ck, pytest.raises(ckanx.OutcomeUnknownError) as info:
        ck.action.resource_create(package_id="p", url="http://x")
    assert len(rec.requests) == 1
    assert "may or may not have been applied" in str(info.value)


def test_unsafe_write_retried_when_certainly_not_sent() -> None:
    rec = Recorder(httpx.ConnectError("refused"), httpx.Response(503), ok({"id": "r"}))
    with make_client(rec) as ck:
        assert ck.action.resource_create(package_id="p") == {"id": "r"}
    assert len(rec.requests) == 3


def test_idempotent_write_retried_after_unknown_outcome() -> None:
    rec = Recorder(httpx.RemoteProtocolError("reset"), httpx.Response(502), ok({"id": "x"}))
    with make_client(rec) as ck:
        assert ck.action.package_patch(id="x", title="t") == {"id": "x"}
    assert len(rec.requests) == 3


def test_create_with_name_verifies_before_repeating_found() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("package_create"):
            raise httpx.ReadTimeout("answer lost")
        return ok({"id": "1", "name": "ds", "state": "active"})

    rec = Recorder(answer)
    with make_client(rec) as ck:
        assert ck.action.package_create(name="ds", owner_org="o") == {"id": "1", "name": "ds", "state": "active"}
    paths = [r.url.path.rsplit("/", 1)[1] for r in rec.requests]
    assert paths == ["package_create", "package_show"]
    assert rec.json(1) == {"id": "ds"}


def test_create_with_name_verifies_before_repeating_not_found() -> None:
    rec = Recorder(
        httpx.Response(504),
        fail(404, {"__type": "Not Found Error", "message": "Not found"}),
        ok({"id": "2", "name": "org"}),
    )
    with make_client(rec) as ck:
        assert ck.action.organization_create(name="org") == {"id": "2", "name": "org"}
    paths = [r.url.path.rsplit("/", 1)[1] for r in rec.requests]
    assert paths == ["organization_create", "organization_show", "organization_create"]


def test_purge_not_found_after_lost_answer_counts_as_done() -> None:
    rec = Recorder(httpx.ReadTimeout("lost"), fail(404, {"__type": "Not Found Error", "message": "Not found"}))
    with make_client(rec) as ck:
        assert ck.action.dataset_purge(id="x") is None
    assert len(rec.requests) == 2


def test_purge_not_found_first_time_is_not_found() -> None:
    rec = Recorder(fail(404, {"__type": "Not Found Error", "message": "Not found"}))
    with make_client(rec) as ck, pytest.raises(ckanx.NotFound):
        ck.action.dataset_purge(id="x")


def test_datastore_upsert_insert_is_not_repeated_but_upsert_is() -> None:
    rec = Recorder(httpx.ReadTimeout("lost"), ok({}))
    with make_client(rec) as ck:
        with pytest.raises(ckanx.OutcomeUnknownError):
            ck.action.datastore_upsert(resource_id="r", method="insert", records=[{"a": 1}])
        assert ck.action.datastore_upsert(resource_id="r", method="upsert", records=[{"a": 1}]) == {}


def test_each_retry_logged_at_debug_without_token(caplog: pytest.LogCaptureFixture) -> None:
    rec = Recorder(httpx.Response(503), ok(1))
    with caplog.at_level(logging.DEBUG, logger="ckanx"), make_client(rec) as ck:
        ck.action.package_show(id="x")
    messages = [r.getMessage() for r in caplog.records if r.name == "ckanx"]
    assert any("HTTP 503; retry 1/4" in m for m in messages)
    assert all(TOKEN not in m for m in caplog.text.splitlines())


def test_default_timeouts_are_set() -> None:
    ck = ckanx.Client(SITE)
    assert ck.timeout is not None and ck.timeout.connect == 10.0 and ck.timeout.read == 60.0
    ck.close()


def test_per_call_timeout_reaches_the_request() -> None:
    rec = Recorder(ok(1))
    with make_client(rec) as ck:
        ck.call_action("package_show", {"id": "x"}, timeout=3.5)
    assert rec.requests[0].extensions["timeout"]["read"] == 3.5


# ---------------------------------------------------------------- redirects


def test_307_followed_with_body_and_token_same_host() -> None:
    rec = Recorder(httpx.Response(307, headers={"Location": f"{SITE}/api/3/action/package_create2"}), ok(1))
    with make_client(rec) as ck:
        ck.action.package_create(name="x", owner_org="o")
    assert rec.requests[1].method == "POST"
    assert rec.json(1) == {"name": "x", "owner_org": "o"}
    assert rec.requests[1].headers["Authorization"] == TOKEN


def test_redirect_to_other_host_drops_token() -> None:
    elsewhere = "https://evil.example.net/api/3/action/package_show"
    rec = Recorder(httpx.Response(308, headers={"Location": elsewhere}), ok(1))
    with make_client(rec) as ck:
        ck.action.package_show(id="x")
    assert "Authorization" not in rec.requests[1].headers


def test_302_on_post_elsewhere_is_clear_error() -> None:
    rec = Recorder(httpx.Response(302, headers={"Location": "https://new.example.org/api/3/action/package_show"}))
    with make_client(rec) as ck, pytest.raises(ckanx.RedirectError) as info:
        ck.action.package_show(id="x")
    assert info.value.location == "https://new.example.org/api/3/action/package_show"
    assert "https://new.example.org" in str(info.value)


def test_301_http_to_https_upgrade_reposts_safely_and_remembers() -> None:
    http_site = "http://ckan.example.org"

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            return httpx.Response(301, headers={"Location": str(request.url).replace("http://", "https://")})
        return ok({"ok": True})

    rec = Recorder(answer)
    with ckanx.Client(http_site, TOKEN, transport=httpx.MockTransport(rec)) as ck:
        assert ck.action.package_create(name="x", owner_org="o") == {"ok": True}
        assert ck.url == SITE
        ck.action.package_show(id="x")
    assert [r.url.scheme for r in rec.requests] == ["http", "https", "https"]
    assert rec.json(1) == {"name": "x", "owner_org": "o"}
    assert rec.requests[1].headers["Authorization"] == TOKEN


def test_redirect_loop_stops() -> None:
    rec = Recorder(lambda r: httpx.Response(307, headers={"Location": str(r.url)}))
    with make_client(rec) as ck, pytest.raises(ckanx.RedirectError, match="too many redirects"):
        ck.action.package_show(id="x")


# ---------------------------------------------------------------- async twin


@pytest.mark.anyio
async def test_async_retries_the_same_way(no_sleep: list[float]) -> None:
    rec = Recorder(httpx.ConnectError("x"), httpx.Response(429, headers={"Retry-After": "2"}), ok(5))
    async with make_async_client(rec) as ck:
        assert await ck.action.package_show(id="x") == 5
    assert len(rec.requests) == 3 and no_sleep[-1] == 2.0


@pytest.mark.anyio
async def test_async_verify_create() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("group_create"):
            raise httpx.ReadError("lost")
        return ok({"name": "g"})

    rec = Recorder(answer)
    async with make_async_client(rec) as ck:
        assert await ck.action.group_create(name="g") == {"name": "g"}
    assert rec.requests[1].url.path.endswith("group_show")


def test_read_actions_follow_ckans_own_list_then_names() -> None:
    # CKAN's side-effect-free list decides for its own actions, even when the name does not say "show"
    assert _core.is_read_action("current_package_list_with_resources")
    assert _core.is_read_action("group_list_authz")
    assert not _core.is_read_action("package_create")
    assert not _core.is_read_action("follow_user")
    # plugin actions CKAN does not know are judged by their names
    assert _core.is_read_action("harvest_source_list")
    assert not _core.is_read_action("harvest_job_create")


def test_read_timeout_of_current_package_list_is_retried() -> None:
    rec = Recorder(httpx.ReadTimeout("slow"), ok([]))
    with make_client(rec) as ck:
        assert ck.action.current_package_list_with_resources(limit=10) == []
    assert len(rec.requests) == 2
