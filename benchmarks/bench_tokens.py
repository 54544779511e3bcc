"""Revoking API tokens by name: concurrently vs one call at a time.

For each run, 1,000 tokens named ``bench-revoke`` are created for a throwaway user, then selected by
name (``api_token_list`` + :func:`ckanx.admin.select_tokens`) and revoked with
:func:`ckanx.admin.revoke_tokens`:

* one at a time: ``concurrency=1`` (the same code path, one request in flight);
* concurrently: ``concurrency=-p`` (default 8).

Runs against an embedded CKAN (always) and, with ``--url``/``--token-file``, a real CKAN too.
``--rtt MS`` adds that much delay before every request (a client-side stand-in for the round trip
to a site that is not on this machine; on loopback each call is pure server CPU, and with 2 cores
shared with the server concurrency cannot win much). The token is read from the file and never
printed. The throwaway user is deleted at the end (CKAN cannot purge users; its name stays taken).

Measured on the 2-core dev machine (1,000 tokens, -p 8): loopback, embedded 2.47s vs 2.53s (1.0x),
CKAN 2.11.6 8.29s vs 6.61s (1.3x); with --rtt 20, embedded 22.74s vs 3.18s (7.2x), CKAN 2.11.6
29.54s vs 6.64s (4.4x).

Usage::

    python benchmarks/bench_tokens.py                       # embedded only
    python benchmarks/bench_tokens.py --url http://127.0.0.1:5000 --token-file /tmp/real-ckan/token
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from ckanx import AsyncClient
from ckanx.admin import revoke_tokens, select_tokens

NAME = "bench-revoke"


class DelayedTransport(httpx.AsyncHTTPTransport):
    """Waits ``rtt`` seconds before each request: the round trip of a remote site."""

    def __init__(self, rtt: float) -> None:
        super().__init__()
        self.rtt = rtt

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(self.rtt)
        return await super().handle_async_request(request)


async def _create_tokens(ck: AsyncClient, user: str, n: int, concurrency: int) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with sem:
            await ck.call_action("api_token_create", {"user": user, "name": NAME})

    await asyncio.gather(*(one() for _ in range(n)))


async def _revoke_by_name(ck: AsyncClient, user: str, concurrency: int) -> tuple[float, int]:
    started = time.perf_counter()
    tokens = await ck.call_action("api_token_list", {"user_id": user})
    chosen = select_tokens(tokens, names=[NAME])
    summary = await revoke_tokens(ck, chosen, concurrency=concurrency)
    elapsed = time.perf_counter() - started
    if summary.errors or summary.counts.get("revoked") != len(chosen):
        raise RuntimeError(f"revocation incomplete: {summary.text()}")
    left = await ck.call_action("api_token_list", {"user_id": user})
    if any(t["name"] == NAME for t in left):
        raise RuntimeError("tokens left after revocation")
    return elapsed, len(chosen)


async def bench_site(label: str, url: str, token: str, n: int, concurrency: int, rtt: float) -> dict[str, Any]:
    user = f"bench-tok-{uuid.uuid4().hex[:8]}"
    if rtt:
        label = f"{label} (+{rtt * 1000:.0f} ms RTT)"
    transport = DelayedTransport(rtt) if rtt else None
    async with AsyncClient(url, token, timeout=120, transport=transport) as ck:
        await ck.call_action(
            "user_create", {"name": user, "email": f"{user}@example.org", "password": uuid.uuid4().hex}
        )
        try:
            timings = {}
            for mode, par in (("one at a time", 1), (f"concurrent -p {concurrency}", concurrency)):
                t0 = time.perf_counter()
                await _create_tokens(ck, user, n, concurrency)
                created = time.perf_counter() - t0
                elapsed, count = await _revoke_by_name(ck, user, par)
                timings[mode] = elapsed
                print(
                    f"{label}: created {n} tokens in {created:.1f}s; revoked {count} by name {mode}: "
                    f"{elapsed:.2f}s ({count / elapsed:.0f}/s)",
                    flush=True,
                )
        finally:
            await ck.call_action("user_delete", {"id": user})
    seq, par_t = timings["one at a time"], timings[f"concurrent -p {concurrency}"]
    print(f"{label}: concurrent is {seq / par_t:.1f}x faster than one at a time\n", flush=True)
    return {"site": label, "sequential": seq, "concurrent": par_t, "ratio": seq / par_t}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=1000, help="tokens per run (default 1000)")
    parser.add_argument("-p", type=int, default=8, help="requests in flight for the concurrent run")
    parser.add_argument("--url", help="also run against this real CKAN")
    parser.add_argument("--token-file", type=Path, help="sysadmin API token for --url")
    parser.add_argument("--rtt", type=float, default=0.0, metavar="MS", help="simulated round trip per request")
    parser.add_argument("--no-embedded", action="store_true", help="skip the embedded server")
    args = parser.parse_args()
    results = []
    rtt = args.rtt / 1000
    if not args.no_embedded:
        from ckanx.testing import embedded_ckan

        with embedded_ckan() as srv:
            results.append(asyncio.run(bench_site("embedded", srv.url, srv.token, args.n, args.p, rtt)))
    if args.url:
        if not args.token_file:
            parser.error("--url needs --token-file")
        token = args.token_file.read_text().strip()
        results.append(asyncio.run(bench_site(args.url, args.url, token, args.n, args.p, rtt)))
    print("| site | one at a time | concurrent | ratio |\n|---|---|---|---|")
    for r in results:
        print(f"| {r['site']} | {r['sequential']:.2f}s | {r['concurrent']:.2f}s | {r['ratio']:.1f}x |")


if __name__ == "__main__":
    main()
