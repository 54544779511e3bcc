"""Helpers for hermetic client tests: a scripted mock CKAN behind ``httpx.MockTransport``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import ckanx
from ckanx import _core

TOKEN = "tok-SECRET-0123456789abcdef"
SITE = "https://ckan.example.org"


def ok(result: Any, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"help": "h", "success": True, "result": result})


def fail(status: int, error: dict[str, Any]) -> httpx.Response:
    return httpx.Response(status, json={"help": "h", "success": False, "error": error})


class Recorder:
    """A mock transport that answers from a list of responses (or a function) and records requests."""

    def __init__(self, *responses: httpx.Response | Exception | Callable[[httpx.Request], Any]) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.bodies.append(request.read())
        item = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if callable(item) and not isinstance(item, httpx.Response):
            item = item(request)
        if isinstance(item, Exception):
            raise item
        return item

    def json(self, i: int = -1) -> Any:
        return json.loads(self.bodies[i])


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record retry delays instead of sleeping."""
    slept: list[float] = []
    monkeypatch.setattr("ckanx._client.time.sleep", slept.append)

    async def fake_async_sleep(delay: float) -> None:
        slept.append(delay)

    monkeypatch.setattr("ckanx._client.asyncio.sleep", fake_async_sleep)
    return slept


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for var in ("CKAN_URL", "CKAN_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CKANX_CONFIG", str(tmp_path / "config.toml"))


def make_client(recorder: Recorder, **kw: Any) -> ckanx.Client:
    kw.setdefault("token", TOKEN)
    return ckanx.Client(SITE, transport=httpx.MockTransport(recorder), **kw)


def make_async_client(recorder: Recorder, **kw: Any) -> ckanx.AsyncClient:
    kw.setdefault("token", TOKEN)
    return ckanx.AsyncClient(SITE, transport=httpx.MockTransport(recorder), **kw)


__all__ = ["SITE", "TOKEN", "Recorder", "_core", "fail", "make_async_client", "make_client", "ok"]
