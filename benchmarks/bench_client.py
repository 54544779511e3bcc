"""One ``package_show`` round trip: ckanx vs a raw keep-alive httpx call vs ckanapi 4.11.

Usage::

    python benchmarks/bench_client.py --url http://127.0.0.1:5000 --token-file /tmp/real-ckan/token \\
        [--calls 300] [--rounds 6]

Creates one organization and one dataset with 5 resources (unique names), then runs ``rounds`` rounds;
in each round every contender makes ``calls / rounds`` calls in turn (interleaved, so server drift hits all
of them alike). Prints the median and p95 latency per call and the ratio to raw httpx, then deletes what it
made. Goal (issue 2): ckanx within 1.15x of raw httpx.
"""

from __future__ import annotations

import argparse
import json
import platform
import secrets
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import httpx

import ckanx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token-file", required=True, type=Path)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    token = args.token_file.read_text().strip()
    url = args.url.rstrip("/")

    setup = ckanx.Client(url, token)
    uid = "bench" + secrets.token_hex(3)
    org = setup.action.organization_create(name=f"{uid}-org")
    pkg = setup.action.package_create(
        name=f"{uid}-ds",
        owner_org=org["id"],
        notes="benchmark " * 50,
        resources=[{"url": f"http://example.com/{i}.csv", "name": f"r{i}"} for i in range(5)],
        tags=[{"name": f"t{i}"} for i in range(5)],
    )

    raw = httpx.Client(timeout=60)
    ck = ckanx.Client(url, token)
    import ckanapi

    capi = ckanapi.RemoteCKAN(url, apikey=token)
    body = json.dumps({"id": pkg["id"]})
    endpoint = f"{url}/api/3/action/package_show"
    headers = {"Authorization": token, "Content-Type": "application/json"}

    def raw_call() -> object:
        r = raw.post(endpoint, content=body, headers=headers)
        r.raise_for_status()
        return r.json()["result"]

    contenders: dict[str, Callable[[], object]] = {
        "raw httpx": raw_call,
        "ckanx.Client": lambda: ck.action.package_show(id=pkg["id"]),
        "ckanapi 4.11": lambda: capi.action.package_show(id=pkg["id"]),
    }
    for fn in contenders.values():  # warm up connections and server caches
        for _ in range(5):
            fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    per_round = max(1, args.calls // args.rounds)
    for _ in range(args.rounds):
        for name, fn in contenders.items():
            for _ in range(per_round):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)

    base = statistics.median(times["raw httpx"])
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        f"CKAN {setup.server_info()['ckan_version']} at {url}"
    )
    print(f"{len(times['raw httpx'])} package_show calls per contender, {args.rounds} interleaved rounds")
    print(f"{'contender':<14} {'median ms':>10} {'p95 ms':>8} {'vs raw':>7}")
    for name, samples in times.items():
        med = statistics.median(samples)
        p95 = statistics.quantiles(samples, n=20)[18]
        print(f"{name:<14} {med * 1000:>10.2f} {p95 * 1000:>8.2f} {med / base:>6.3f}x")

    setup.action.dataset_purge(id=pkg["id"])
    setup.action.organization_purge(id=org["id"])
    for closer in (raw.close, ck.close, setup.close, capi.close):
        closer()


if __name__ == "__main__":
    main()
