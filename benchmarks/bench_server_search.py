"""Benchmark: ``package_search`` (fq + 2 facet fields) over N generated datasets in an EmbeddedCKAN.

Datasets are written straight through the datasets family's model (``save_package``, one
transaction) and indexed with ``search.indexing.rebuild`` (what startup does); then M searches go
through the ASGI app in-process (``httpx.ASGITransport``), so the timings include request parsing,
the action, result rendering from SQLite and JSON encoding.

    .venv/bin/python benchmarks/bench_server_search.py [--datasets 100000] [--searches 200]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import tempfile
import time
import uuid
from typing import Any

import httpx

from ckanx.server.core import EmbeddedCKAN
from ckanx.server.datasets import models
from ckanx.server.search import indexing

WORDS = [
    "water",
    "quality",
    "population",
    "census",
    "budget",
    "transport",
    "traffic",
    "health",
    "hospital",
    "school",
    "education",
    "climate",
    "temperature",
    "rainfall",
    "energy",
    "electricity",
    "housing",
    "crime",
    "police",
    "election",
    "finance",
    "tax",
    "agriculture",
    "forest",
    "river",
    "air",
    "pollution",
    "noise",
    "road",
    "railway",
    "bus",
    "bicycle",
    "parking",
    "tourism",
    "employment",
    "income",
    "poverty",
    "map",
    "boundary",
    "address",
    "building",
    "permit",
    "license",
    "business",
]
FORMATS = ["CSV", "JSON", "XLSX", "PDF", "GeoJSON", "XML", "SHP", "ZIP", "HTML", "API"]
LICENSES = ["cc-by", "cc-by-sa", "cc-zero", "odc-by", "odc-odbl", "other-open", "notspecified"]


def generate(n: int, rng: random.Random) -> list[dict[str, Any]]:
    """N package dicts in the shape the model stores."""
    out = []
    base = 1_700_000_000
    for i in range(n):
        words = rng.sample(WORDS, 4)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + i * 37)) + f".{i % 1000000:06d}"
        out.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "name": f"ds-{i:06d}-{words[0]}",
                "title": f"{words[0].title()} {words[1]} of {words[2]} {i}",
                "notes": f"Open data about {' '.join(words)} collected in district {i % 97}.",
                "license_id": rng.choice(LICENSES),
                "private": i % 10 == 0,
                "metadata_created": stamp,
                "metadata_modified": stamp,
                "tags": [{"name": f"topic-{rng.randrange(500)}"} for _ in range(rng.randrange(1, 5))],
                "resources": [
                    {
                        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        "url": f"http://example.com/{i}/{k}.dat",
                        "format": rng.choice(FORMATS),
                        "name": f"{words[k % 4]} file {k}",
                    }
                    for k in range(rng.randrange(0, 4))
                ],
            }
        )
    return out


def load(server: EmbeddedCKAN, pkgs: list[dict[str, Any]]) -> None:
    with server.db.transaction() as conn:
        for p in pkgs:
            resources = []
            for pos, r in enumerate(p["resources"]):
                resources.append({**r, "package_id": p["id"], "position": pos, "state": "active"})
            models.save_package(
                conn,
                row={
                    "id": p["id"],
                    "name": p["name"],
                    "type": "dataset",
                    "state": "active",
                    "private": p["private"],
                    "owner_org": None,
                    "creator_user_id": None,
                    "metadata_created": p["metadata_created"],
                    "metadata_modified": p["metadata_modified"],
                },
                core={"title": p["title"], "notes": p["notes"], "license_id": p["license_id"]},
                resources=resources,
                tags=p["tags"],
                insert=True,
            )


async def run_searches(server: EmbeddedCKAN, m: int, rng: random.Random) -> list[float]:
    timings = []
    transport = httpx.ASGITransport(app=server.app)
    async with httpx.AsyncClient(transport=transport, base_url=server.site_url) as client:
        for i in range(m):
            if i % 2:
                fq = f"tags:topic-{rng.randrange(500)}"
            else:
                fq = f"res_format:{rng.choice(FORMATS)} AND license_id:{rng.choice(LICENSES)}"
            body = {"fq": fq, "facet.field": '["tags","res_format"]', "rows": 10}
            t0 = time.perf_counter()
            resp = await client.post("/api/3/action/package_search", json=body)
            timings.append(time.perf_counter() - t0)
            data = resp.json()
            assert data["success"], data
    return timings


async def run_keyset(server: EmbeddedCKAN, pages: int) -> list[float]:
    """Walk ``pages`` pages of the stable keyset paging (sort id asc, fq id > last, fl id)."""
    timings = []
    transport = httpx.ASGITransport(app=server.app)
    last = None
    async with httpx.AsyncClient(transport=transport, base_url=server.site_url) as client:
        for _ in range(pages):
            body: dict[str, Any] = {"sort": "id asc", "rows": 1000, "fl": "id", "include_private": True}
            if last:
                body["fq"] = f'id:{{"{last}" TO *]'
            t0 = time.perf_counter()
            resp = await client.post("/api/3/action/package_search", json=body)
            timings.append(time.perf_counter() - t0)
            results = resp.json()["result"]["results"]
            if not results:
                break
            last = results[-1]["id"]
    return timings


async def run_write_search(server: EmbeddedCKAN, n: int, rng: random.Random) -> list[float]:
    """``n`` times: re-index one changed dataset, then one default-sorted search (no fq)."""
    index = indexing.get_index(server)
    ids = list(index.slot_of)
    with server.db.transaction() as conn:
        pkgs = models.package_dicts(conn, rng.sample(ids, n))
    timings = []
    transport = httpx.ASGITransport(app=server.app)
    async with httpx.AsyncClient(transport=transport, base_url=server.site_url) as client:
        for i, pkg in enumerate(pkgs):
            pkg = {**pkg, "title": f"Changed {i}", "metadata_modified": f"2031-01-01T00:00:{i % 60:02d}.000000"}
            t0 = time.perf_counter()
            indexing.index_package(server, pkg)
            resp = await client.post("/api/3/action/package_search", json={"rows": 10})
            timings.append(time.perf_counter() - t0)
            assert resp.json()["success"]
    return timings


def _rss_mb() -> float:
    """Current resident set size (Linux), in MB."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=100_000)
    ap.add_argument("--searches", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--write-search", type=int, default=50, help="write+search rounds to time (0: skip)")
    ap.add_argument("--keyset-pages", type=int, default=20, help="pages of keyset paging to time (0: skip)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp, EmbeddedCKAN(tmp) as server:
        t0 = time.perf_counter()
        pkgs = generate(args.datasets, rng)
        load(server, pkgs)
        del pkgs
        gc.collect()
        rss0 = _rss_mb()
        t1 = time.perf_counter()
        indexing.rebuild(server)
        t2 = time.perf_counter()
        gc.collect()
        print(
            f"generated+stored {args.datasets} datasets in {t1 - t0:.1f}s; index rebuild {t2 - t1:.1f}s; "
            f"process RSS {rss0:.0f} MB -> {_rss_mb():.0f} MB"
        )
        asyncio.run(run_searches(server, 5, rng))  # warm-up (first sorts build cached orders)
        timings = asyncio.run(run_searches(server, args.searches, rng))
        ms = sorted(t * 1000 for t in timings)
        p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
        print(
            f"package_search x{len(ms)} (fq + 2 facets, rows=10): p50 {statistics.median(ms):.1f} ms, "
            f"p95 {p95:.1f} ms, max {ms[-1]:.1f} ms"
        )
        if args.write_search:
            ws = sorted(t * 1000 for t in asyncio.run(run_write_search(server, args.write_search, rng)))
            print(
                f"re-index one dataset + default-sorted package_search x{len(ws)}: "
                f"p50 {statistics.median(ws):.1f} ms, max {ws[-1]:.1f} ms"
            )
        if args.keyset_pages:
            ks = sorted(t * 1000 for t in asyncio.run(run_keyset(server, args.keyset_pages)))
            print(
                f"keyset paging x{len(ks)} (sort id asc, fq id:{{last TO *], rows=1000, fl=id): "
                f"p50 {statistics.median(ks):.1f} ms, max {ks[-1]:.1f} ms"
            )


if __name__ == "__main__":
    main()
