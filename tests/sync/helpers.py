"""Helpers of the sync tests: the EnviDat corpus, a write counter at the wire, running the command."""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from ckanx._core import is_read_action
from ckanx.cli import main

ENVIDAT = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "envidat_ch" / "packages.jsonl"


def envidat() -> list[dict[str, Any]]:
    """The 354 EnviDat datasets (a CKAN 2.9 export with custom-schema fields)."""
    with open(ENVIDAT, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


class ActionRecorder:
    """``FaultProxy(only=...)`` hook that injects nothing and records every action the server is sent."""

    def __init__(self) -> None:
        self.actions: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, request_line: str) -> bool:
        parts = request_line.split()
        path = parts[1] if len(parts) > 1 else ""
        if "/api/" in path and "/action/" in path:
            name = path.split("/action/", 1)[1].split("?", 1)[0].strip("/")
            with self._lock:
                self.actions.append(name)
        return False

    def writes(self) -> list[str]:
        """The write actions seen so far."""
        with self._lock:
            return [a for a in self.actions if not is_read_action(a)]

    def clear(self) -> None:
        with self._lock:
            self.actions.clear()


def sync_cli(runner: CliRunner, url: str, token: str, *args: str) -> Result:
    """``ckanx sync ARGS -r URL --token-file F`` through CliRunner."""
    token_file = Path(tempfile.gettempdir()) / f"ckanx-sync-test-token-{os.getpid()}-{abs(hash(url))}"
    token_file.write_text(token)
    token_file.chmod(0o600)
    return runner.invoke(main, ["sync", *args, "-r", url, "--token-file", str(token_file)])


def org_datasets(client: Any, org: str) -> list[dict[str, Any]]:
    """Every dataset of an organization (private and drafts included), by name."""
    out: list[dict[str, Any]] = []
    start = 0
    while True:
        page = client.action.package_search(
            fq=f'owner_org:"{client.action.organization_show(id=org)["id"]}"', rows=1000, start=start,
            include_private=True, include_drafts=True, sort="name asc",
        )["results"]  # fmt: skip
        out.extend(page)
        if len(page) < 1000:
            return out
        start += len(page)


def extras(ds: dict[str, Any]) -> dict[str, Any]:
    return {e["key"]: e["value"] for e in ds.get("extras") or []}
