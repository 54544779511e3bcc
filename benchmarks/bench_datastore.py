"""DataStore import and export side by side: ckanx vs ckanapi-style chunks vs a minimal httpx script.

Import the HDX CSV (``hdx/resources/opri_data_zwe.csv``: 10,691 rows including its HXL tag row) with

* ckanx: ``DataStore.import_table`` (types inferred, 10,000-row / 4 MB chunks, record count only at the end);
* ckanapi-style: ``ckanapi.RemoteCKAN`` ``datastore_create`` then ``datastore_upsert`` in 1,000-row
  chunks, every field text, as the common recipe does;
* a minimal httpx script: one keep-alive client, text fields, 10,000-row chunks (the floor for
  "just send it").

Export the same table with

* ckanx: ``DataStore.export(..., "csv")`` (``/datastore/dump`` in segments, checkpointable);
* ``datastore_search`` pages of 100 rows (the API's default page, with ``include_total``);
* one ``GET /datastore/dump/<id>`` (the floor).

Usage::

    python benchmarks/bench_datastore.py --url http://127.0.0.1:5000 --token-file /tmp/real-ckan/token
    python benchmarks/bench_datastore.py --embedded          # against ckanx's embedded CKAN

A unique organization and dataset are created and purged at the end; the token is read from the
file and never printed.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
HDX = REPO / ".." / "shared" / "corpus" / "hdx" / "resources" / "opri_data_zwe.csv"


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def chunks(rows: list[dict[str, str]], size: int) -> Iterator[list[dict[str, str]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def timed(label: str, results: dict[str, float], fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    value = fn()
    results[label] = time.perf_counter() - start
    print(f"  {label:<40} {results[label]:8.2f} s", flush=True)
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="CKAN site URL")
    parser.add_argument("--token-file", type=Path, help="file holding a sysadmin API token")
    parser.add_argument("--embedded", action="store_true", help="start ckanx's embedded CKAN instead")
    parser.add_argument("--csv", type=Path, default=HDX, help="the CSV to import (default: the HDX file)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.embedded:
            from ckanx.testing import embedded_ckan

            srv = stack.enter_context(embedded_ckan())
            url, token = srv.url, srv.token
        else:
            if not (args.url and args.token_file):
                parser.error("give --url and --token-file, or --embedded")
            url, token = args.url.rstrip("/"), args.token_file.read_text().strip()
        run(url, token, args.csv)


def run(url: str, token: str, source: Path) -> None:
    import ckanapi

    from ckanx import Client
    from ckanx.datastore import DataStore

    prefix = f"bench-ds-{uuid.uuid4().hex[:8]}"
    ck = Client(url, token)
    version = ck.server_info().get("ckan_version")
    names, rows = read_rows(source)
    print(f"CKAN {version} at {url}; {source.name}: {len(rows)} rows x {len(names)} columns")
    org = ck.action.organization_create(name=prefix)
    pkg = ck.action.package_create(name=prefix, owner_org=org["id"])
    imports: dict[str, float] = {}
    exports: dict[str, float] = {}
    try:
        print("import")
        report = timed("ckanx import_table", imports, lambda: DataStore(ck).import_table(pkg["id"], source))
        rid_ckanx = report.resource_id

        remote = ckanapi.RemoteCKAN(url, apikey=token)

        def ckanapi_style() -> str:
            created = remote.action.datastore_create(
                resource={"package_id": pkg["id"], "name": "ckanapi-style"},
                fields=[{"id": n, "type": "text"} for n in names],
            )
            for part in chunks(rows, 1000):
                remote.action.datastore_upsert(resource_id=created["resource_id"], records=part, method="insert")
            return str(created["resource_id"])

        rid_ckanapi = timed("ckanapi-style, 1,000-row chunks", imports, ckanapi_style)

        def minimal_httpx() -> str:
            headers = {"Authorization": token}
            with httpx.Client(base_url=url + "/api/3/action/", headers=headers, timeout=300) as http:
                created = http.post("datastore_create", json={
                    "resource": {"package_id": pkg["id"], "name": "httpx"},
                    "fields": [{"id": n, "type": "text"} for n in names],
                }).json()["result"]
                for part in chunks(rows, 10_000):
                    answer = http.post("datastore_upsert", json={
                        "resource_id": created["resource_id"], "records": part, "method": "insert"})
                    answer.raise_for_status()
            return str(created["resource_id"])

        rid_httpx = timed("minimal httpx, 10,000-row chunks", imports, minimal_httpx)
        for rid in (rid_ckanx, rid_ckanapi, rid_httpx):
            total = ck.action.datastore_search(resource_id=rid, limit=0)["total"]
            assert total in (len(rows), len(rows) - 1), (rid, total)  # ckanx keeps the HXL row as field info

        print("export")
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "out.csv"
            assert rid_ckanx is not None
            timed("ckanx export (csv)", exports, lambda: DataStore(ck).export(rid_ckanx, out))

            def search_pages() -> int:
                n, offset = 0, 0
                while True:
                    page = ck.action.datastore_search(resource_id=rid_ckanx, limit=100, offset=offset)
                    n += len(page["records"])
                    offset += 100
                    if len(page["records"]) < 100:
                        return n

            timed("datastore_search, 100-row pages", exports, search_pages)

            def dump() -> int:
                buf = io.BytesIO()
                with httpx.stream("GET", f"{url}/datastore/dump/{rid_ckanx}", headers={"Authorization": token},
                                  timeout=300) as response:
                    response.raise_for_status()
                    for chunk in response.iter_bytes():
                        buf.write(chunk)
                return buf.tell()

            timed("one GET /datastore/dump", exports, dump)
            timed("ckanx records() (jsonl pages)", exports, lambda: sum(1 for _ in DataStore(ck).records(rid_ckanx)))
    finally:
        with contextlib.suppress(Exception):
            ck.action.dataset_purge(id=pkg["id"])
        with contextlib.suppress(Exception):
            ck.action.organization_purge(id=org["id"])
        ck.close()

    base = imports["ckanx import_table"]
    print("\nimport time relative to ckanx (lower is faster)")
    for label, seconds in imports.items():
        print(f"  {label:<40} {seconds / base:6.2f}x")
    base = exports["ckanx export (csv)"]
    print("export time relative to ckanx")
    for label, seconds in exports.items():
        print(f"  {label:<40} {seconds / base:6.2f}x")


if __name__ == "__main__":
    sys.exit(main())
