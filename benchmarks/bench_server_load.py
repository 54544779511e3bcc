"""Load a real portal's dump over HTTP into the embedded server and into a real CKAN; compare.

Both targets get exactly the same requests, over one keep-alive httpx connection: the
organizations and groups the datasets reference first, then one ``package_create`` per dataset
(payloads from :mod:`ckanx.server.seed`, the same preparation ``ckanx serve --seed`` uses).
Datasets without an organization are skipped on both sides (or given ``--default-owner-org``).
Every name gets a unique prefix and ids are dropped, so runs never collide with each other or
with other users of the real CKAN; the real CKAN's objects are purged afterwards unless
``--keep``.

Usage::

    .venv/bin/python benchmarks/bench_server_load.py \\
        --real-url http://127.0.0.1:5000 --token-file /tmp/real-ckan/token [--limit 300]

Prints seconds and datasets/s for each target and the speed ratio (goal: embedded >= 5x).
"""

from __future__ import annotations

import argparse
import platform
import secrets
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from ckanx.server.runner import running_server
from ckanx.server.seed import (
    collect_groups,
    collect_organizations,
    prepare_dataset,
    read_jsonl,
)

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "depositar_tw" / "datasets.jsonl.gz"


def build_requests(
    datasets: list[dict[str, Any]], prefix: str, default_owner_org: str | None
) -> tuple[list[tuple[str, dict[str, Any]]], int, int]:
    """The (action, payload) list for one load, and counts of datasets loaded / skipped.

    Names are prefixed and ids dropped (a real CKAN keeps purged ids' history only briefly,
    but other users' objects must never be touched).
    """

    def group(payload: dict[str, Any]) -> dict[str, Any]:
        return {**{k: v for k, v in payload.items() if k != "id"}, "name": prefix + payload["name"]}

    calls: list[tuple[str, dict[str, Any]]] = []
    orgs = collect_organizations(datasets)
    if default_owner_org and any(not ds.get("organization") for ds in datasets):
        orgs.append({"name": default_owner_org})
    calls += [("organization_create", group(o)) for o in orgs]
    calls += [("group_create", group(g)) for g in collect_groups(datasets)]
    loaded = skipped = 0
    for ds in datasets:
        payload = prepare_dataset(ds, default_owner_org=default_owner_org)
        if payload is None:
            skipped += 1
            continue
        payload.pop("id", None)
        payload["name"] = prefix + payload["name"]
        payload["owner_org"] = prefix + payload["owner_org"]
        payload["groups"] = [{"name": prefix + g["name"]} for g in payload["groups"]]
        payload["resources"] = [{k: v for k, v in res.items() if k != "id"} for res in payload["resources"]]
        calls.append(("package_create", payload))
        loaded += 1
    return calls, loaded, skipped


def run_load(url: str, token: str, calls: Iterable[tuple[str, dict[str, Any]]]) -> tuple[float, int]:
    """Send the calls in order over one keep-alive connection: (seconds, datasets created).

    A validation error (409) on a dataset is counted, not fatal: the dump comes from an older
    CKAN and a few of its datasets break today's rules, on both targets alike. Anything else
    stops the run.
    """
    created = 0
    with httpx.Client(
        base_url=url.rstrip("/") + "/api/3/action/",
        headers={"Authorization": token},
        timeout=120,
    ) as http:
        start = time.perf_counter()
        for action, payload in calls:
            r = http.post(action, json=payload)
            if r.status_code == 200:
                created += action == "package_create"
            elif not (r.status_code == 409 and action == "package_create"):
                raise SystemExit(f"{url}: {action} {payload.get('name')} -> {r.status_code} {r.text[:300]}")
        return time.perf_counter() - start, created


def purge(url: str, token: str, calls: list[tuple[str, dict[str, Any]]]) -> None:
    """Remove what a load created (datasets first, then groups and organizations)."""
    purge_action = {
        "package_create": "dataset_purge",
        "group_create": "group_purge",
        "organization_create": "organization_purge",
    }
    with httpx.Client(
        base_url=url.rstrip("/") + "/api/3/action/",
        headers={"Authorization": token},
        timeout=120,
    ) as http:
        for action, payload in reversed(calls):
            http.post(purge_action[action], json={"id": payload["name"]})


def report(label: str, seconds: float, sent: int, created: int) -> float:
    """Print one result line; the rate counts every package_create sent (refused ones too)."""
    rate = sent / seconds if seconds else float("inf")
    print(f"{label:<9} {sent:>5} package_create ({created} created) in {seconds:8.2f} s = {rate:8.1f} datasets/s")
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, help="use the first N datasets of the corpus")
    parser.add_argument("--real-limit", type=int, help="use only the first N datasets for the real CKAN")
    parser.add_argument("--real-url", help="a real CKAN to compare with")
    parser.add_argument("--token-file", type=Path, help="sysadmin token of the real CKAN")
    parser.add_argument("--default-owner-org", help="organization for datasets without one")
    parser.add_argument("--ckan-version", default="2.11", choices=["2.11", "2.12"])
    parser.add_argument("--keep", action="store_true", help="do not purge the real CKAN")
    parser.add_argument("--no-embedded", action="store_true", help="only load the real CKAN")
    args = parser.parse_args(argv)

    datasets = read_jsonl(args.corpus)[: args.limit]
    prefix = "b" + secrets.token_hex(2) + "-"  # 6 chars: corpus names are <= 94
    calls, loaded, skipped = build_requests(datasets, prefix, args.default_owner_org)
    print(
        f"corpus {args.corpus.name}: {len(datasets)} datasets, {loaded} to load, "
        f"{skipped} without organization skipped; prefix {prefix!r}"
    )
    print(f"machine: {platform.node()} {platform.machine()} python {platform.python_version()}")

    embedded_rate = None
    if not args.no_embedded:
        with running_server(ckan_version=args.ckan_version) as srv:
            embedded_s, created = run_load(srv.url, srv.token, calls)
        embedded_rate = report("embedded", embedded_s, loaded, created)

    if not args.real_url:
        return 0
    if args.token_file is None:
        parser.error("--real-url needs --token-file")
    token = args.token_file.read_text().strip()
    real_calls, real_loaded = calls, loaded
    if args.real_limit is not None:
        real_calls, real_loaded, _ = build_requests(datasets[: args.real_limit], prefix, args.default_owner_org)
    try:
        real_s, real_created = run_load(args.real_url, token, real_calls)
    finally:
        if not args.keep:
            purge(args.real_url, token, real_calls)
    real_rate = report("real", real_s, real_loaded, real_created)
    if embedded_rate is None:
        return 0
    subset = ""
    if real_loaded != loaded:
        # compare like with like: the embedded server on the same subset, too
        with running_server(ckan_version=args.ckan_version) as srv:
            sub_s, sub_created = run_load(srv.url, srv.token, real_calls)
        embedded_rate = report("embedded", sub_s, real_loaded, sub_created)
        subset = f" (both on the first {args.real_limit} datasets)"
    print(f"ratio: embedded is {embedded_rate / real_rate:.1f}x faster (datasets/s){subset}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
