"""Helpers shared by the bulk engine and bulk command tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ckanx._client import AsyncClient
from ckanx.cli import main
from ckanx.server import registry

WRITE_PREFIXES = ("_create", "_update", "_patch", "_revise", "_delete", "_purge")


def cli(runner: CliRunner, srv: Any, *args: str, input: str | bytes | None = None) -> Result:
    """``ckanx ARGS -r <srv> --token-file`` through CliRunner (exceptions are failures, not swallowed)."""
    token_file = Path(tempfile.gettempdir()) / f"ckanx-test-token-{os.getpid()}-{id(srv)}"
    token_file.write_text(srv.token)
    token_file.chmod(0o600)
    return runner.invoke(main, [*args, "-r", srv.url, "--token-file", str(token_file)], input=input)


def jsonl(text: str) -> list[dict[str, Any]]:
    """Parse JSON lines (split on "\\n" only: str.splitlines would also split on U+2028 inside strings)."""
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def read_log(path: Path) -> list[dict[str, Any]]:
    """The per-record log."""
    return jsonl(path.read_text(encoding="utf-8"))


@contextmanager
def count_actions(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Count the actions every AsyncClient calls (client side: what the job asked the site to do)."""
    calls: Counter[str] = Counter()
    original = AsyncClient.call_action

    async def counting(self: AsyncClient, name: str, *args: Any, **kwargs: Any) -> Any:
        calls[name] += 1
        return await original(self, name, *args, **kwargs)

    monkeypatch.setattr(AsyncClient, "call_action", counting)
    yield calls


def writes(calls: Counter[str]) -> int:
    """How many of the counted calls were writes."""
    return sum(n for name, n in calls.items() if name.endswith(WRITE_PREFIXES))


def make_datasets(client: Any, n: int, *, org: str = "org-a", prefix: str = "ds", private_every: int = 0) -> list[str]:
    """Create an organization and ``n`` datasets with a tag and a resource; return their names."""
    try:
        client.action.organization_show(id=org)
    except Exception:
        client.action.organization_create(name=org)
    names = []
    for i in range(n):
        name = f"{prefix}-{i:04d}"
        client.action.package_create(
            name=name,
            owner_org=org,
            title=f"Dataset {i}",
            notes=f"Notes for {i}",
            tags=[{"name": "alpha"}, {"name": f"t{i % 3}"}],
            resources=[{"url": f"http://example.org/{name}.csv", "name": f"{name} data", "format": "CSV"}],
            private=bool(private_every and i % private_every == 0),
        )
        names.append(name)
    return names


def slow_action(monkeypatch: pytest.MonkeyPatch, name: str, seconds: float) -> None:
    """Make the embedded server's action ``name`` take longer, so a kill lands mid-job."""
    spec = registry.ACTIONS[name]

    def slow(ctx: Any, data: dict[str, Any]) -> Any:
        time.sleep(seconds)
        return spec.func(ctx, data)

    monkeypatch.setitem(registry.ACTIONS, name, registry.ActionSpec(spec.name, slow, spec.read, spec.versions))


def ckanx_process(srv: Any, tmp_path: Path, *args: str) -> subprocess.Popen[bytes]:
    token = tmp_path / "token"
    token.write_text(srv.token)
    env = {k: v for k, v in os.environ.items() if k not in ("CKAN_URL", "CKAN_API_TOKEN")}
    return subprocess.Popen(
        [sys.executable, "-c", "from ckanx.cli import main; main()", *args, "-r", srv.url, "--token-file", str(token)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def kill_when(proc: subprocess.Popen[bytes], ready: Any, timeout: float = 60) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` is true (fails if it ends first)."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the job never got far enough"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def records(n: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"rs-{i:04d}",
            "title": f"Resumable {i}",
            "notes": "x" * (i % 7),
            "owner_org": "org-r",
            "tags": [{"name": f"t{i % 4}"}],
            "resources": [{"url": f"http://example.org/{i}.csv", "name": f"r{i}"}],
        }
        for i in range(n)
    ]
