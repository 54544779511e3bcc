"""SIGKILL a ``ckanx`` subprocess at a chosen request to an embedded CKAN, and say where it died.

:class:`KillSwitch` wraps the embedded site's ASGI app (the site runs in the test process, the job in
a child process). While armed, it numbers the job's HTTP requests and, at request ``at``, kills the
job in one of these phases:

* ``before``: the request reached the server but is not run (the site is unchanged);
* ``after``: the request ran to completion, but its answer is never delivered ("outcome unknown");
* ``mid``: the response status and the first half of its body are delivered, the job gets ``delay``
  seconds to act on them (a CSV export writes them to its file), then it is killed (a torn stream);
* ``delay``: the answer is delivered, and the job is killed ``delay`` seconds later, wherever it then
  is (parsing, writing and syncing output, saving its checkpoint, sending the next request).

Killing from inside the server makes the kill point exact and reproducible from a seed, which a
wall-clock delay on a 2-core machine shared with other jobs is not. For ``before``/``after``/``mid``
the switch waits until the child is dead before the server sends anything more, so the child cannot
see one more byte than the phase allows.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PHASES = ("before", "after", "mid", "delay")


@dataclass
class KillPoint:
    """Where a run was told to die (``at``: 1-based request number) and what really happened."""

    at: int
    phase: str
    delay: float = 0.0
    request: str = ""  # "POST /api/3/action/package_search", filled in when the switch fires
    fired: bool = False

    def __str__(self) -> str:
        where = f"request {self.at} {self.request or '(not reached)'} {self.phase}"
        return where + (f" +{self.delay * 1000:.0f}ms" if self.phase == "delay" else "")


class KillSwitch:
    """ASGI middleware that kills the armed job's process at its ``at``-th HTTP request.

    Install it with :func:`install` (again after each ``reset()`` of the site, which builds a new app).
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._point: KillPoint | None = None
        self._armed = False
        self._timer: threading.Timer | None = None
        self.requests = 0  # requests of the armed run so far

    def arm(self, point: KillPoint | None) -> None:
        """Start counting a new run's requests; ``point=None`` counts without killing."""
        with self._lock:
            self.requests = 0
            self._point = point
            self._proc = None
            self._armed = True

    def attach(self, proc: subprocess.Popen[bytes]) -> None:
        """The process to kill (set right after it is started; it cannot send a request before)."""
        self._proc = proc

    def disarm(self) -> int:
        """Stop counting; returns how many requests the run made."""
        with self._lock:
            self._armed = False
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return self.requests

    def _victim(self) -> subprocess.Popen[bytes]:
        """The armed run's process (attached right after it started, before it can send a request)."""
        deadline = time.monotonic() + 10
        while self._proc is None and time.monotonic() < deadline:
            time.sleep(0.001)
        assert self._proc is not None, "a request came before the process was attached"
        return self._proc

    @staticmethod
    def _kill_and_reap(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)  # dead (a zombie reaped) before the server sends anything more

    def _delayed_kill(self, proc: subprocess.Popen[bytes], delay: float) -> None:
        def fire() -> None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)

        self._timer = threading.Timer(delay, fire)
        self._timer.daemon = True
        self._timer.start()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or not self._armed:
            await self.app(scope, receive, send)
            return
        with self._lock:
            self.requests += 1
            point = self._point
            fire = point is not None and not point.fired and self.requests == point.at
            if fire:
                assert point is not None
                point.fired = True
                point.request = f"{scope.get('method')} {scope.get('path')}"
        if not fire:
            await self.app(scope, receive, send)
            return
        assert point is not None
        # the victim is fixed now: a kill that completes late must never hit the next run's process
        victim = await asyncio.to_thread(self._victim)
        if point.phase == "before":
            await asyncio.to_thread(self._kill_and_reap, victim)
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if point.phase == "delay":
            await self.app(scope, receive, send)
            self._delayed_kill(victim, point.delay)
            return
        # "after" and "mid": run the request to the end, holding its answer back
        held: list[Any] = []

        async def holding_send(message: Any) -> None:
            held.append(message)

        await self.app(scope, receive, holding_send)
        if point.phase == "mid" and held and held[0].get("type") == "http.response.start":
            body = b"".join(m.get("body", b"") for m in held[1:])
            await send(held[0])
            await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
            await asyncio.sleep(point.delay)  # time for the job to act on the half it got (write it out)
            await asyncio.to_thread(self._kill_and_reap, victim)
            await send({"type": "http.response.body", "body": body[len(body) // 2 :]})  # to a dead peer
            return
        await asyncio.to_thread(self._kill_and_reap, victim)
        for message in held:
            await send(message)  # to a dead peer: uvicorn drops it


def install(srv: Any) -> KillSwitch:
    """Wrap ``srv``'s current site (a :class:`ckanx.testing.CKANServer`) with a :class:`KillSwitch`."""
    site = srv.server
    current = site.app  # builds the app if needed
    switch = current if isinstance(current, KillSwitch) else KillSwitch(current)
    site.state["_app"] = switch
    return switch


@dataclass
class Run:
    """One finished (or killed) run of the CLI."""

    returncode: int
    stdout: bytes
    stderr: bytes
    requests: int
    seconds: float
    point: KillPoint | None

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


def run_cli(
    switch: KillSwitch,
    url: str,
    token_file: Path,
    args: Sequence[str],
    *,
    point: KillPoint | None = None,
    prelude: str = "",
    cwd: Path | None = None,
    timeout: float = 120,
) -> Run:
    """Run ``ckanx ARGS -r URL --token-file FILE`` as a child process; kill it at ``point`` if given.

    ``prelude`` is Python run in the child before the CLI (test-only knobs such as a smaller page size).
    """
    env = {k: v for k, v in os.environ.items() if k not in ("CKAN_URL", "CKAN_API_TOKEN", "CKANX_CONFIG")}
    code = prelude + "\nfrom ckanx.cli import main\nmain()\n"
    switch.arm(point)
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args, "-r", url, "--token-file", str(token_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    switch.attach(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        requests = switch.disarm()
    return Run(proc.returncode, out, err, requests, time.monotonic() - started, point)
