"""Memory proofs for the DataStore export and for file uploads: peak RSS of the ``ckanx`` process.

(a) A 1,000,000-row table on the embedded server, exported with ``ckanx datastore export`` run as a
    subprocess (CSV through ``/datastore/dump`` segments; JSON lines and Parquet through
    ``datastore_search`` pages). Goal: peak RSS < 150 MB whatever the table size.
(b) ``ckanx files upload`` of a generated sparse file of 64 MB and of 1 GB to the embedded server.
    Goal: the same peak RSS for both (the file is streamed, never held in memory).

The embedded server runs in its own process (started by this script with ``--serve``), so its memory
is not counted in the client's; its own peak (``VmHWM``) is reported too, to show whether *it*
streams uploads to disk. Peak RSS of each client run is the ``VmHWM`` of that ``ckanx`` process,
read by a wrapper as it exits. Seeding time (``datastore_create`` + ``datastore_upsert`` of 50,000-row chunks over
HTTP) is reported separately.

Usage::

    python benchmarks/bench_datastore_memory.py                     # 1,000,000 rows; 64 MB and 1 GB
    python benchmarks/bench_datastore_memory.py --rows 200000 --sizes 64,256 --repeat 3

The token is written to a 0600 file for the subprocesses and never printed.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# ``ckanx ARGS`` with its own peak RSS (VmHWM of its address space, which starts fresh at exec) written
# to the file named first. Not ru_maxrss from wait4/getrusage: Linux carries the forking parent's
# high-water mark across exec into those, so a big benchmark process would inflate every child's figure.
_WRAPPER = """
import atexit, sys
out = sys.argv[1]

def report():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(out, "w").write(line.split()[1])

atexit.register(report)
sys.argv = ["ckanx", *sys.argv[2:]]
from ckanx.cli import main
main()
"""
UPSERT_ROWS = 50_000
FIELDS = [
    {"id": "id", "type": "int"},
    {"id": "code", "type": "text"},
    {"id": "amount", "type": "numeric"},
    {"id": "when", "type": "timestamp"},
    {"id": "note", "type": "text"},
]


def serve(state_file: Path, max_mb: int) -> None:
    """``--serve``: run the embedded CKAN until SIGTERM; write its URL and token to ``state_file``."""
    from ckanx.testing import embedded_ckan

    with embedded_ckan() as srv:
        srv.server.max_resource_size_mb = max_mb  # CKAN's ckan.max_resource_size (default 10 MB)
        tmp = state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": srv.url, "token": srv.token}))
        tmp.chmod(0o600)
        tmp.replace(state_file)
        stop = {"now": False}
        signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
        while not stop["now"]:
            time.sleep(0.2)


def vm_hwm_mb(pid: int) -> float:
    """A process's peak resident set so far (``VmHWM``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_measured(ckanx_args: list[str], work: Path) -> tuple[float, float, int]:
    """Run ``ckanx ARGS``; ``(seconds, peak RSS in MB of that process, exit status)``."""
    peak_file = work / "peak"
    peak_file.unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(peak_file), *ckanx_args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        print(
            f"  command failed ({proc.returncode}): {proc.stderr.decode(errors='replace').strip()[:300]}",
            file=sys.stderr,
        )
    peak = int(peak_file.read_text()) / 1024 if peak_file.exists() else float("nan")
    return elapsed, peak, proc.returncode


def seed_table(client: Any, package_id: str, rows: int) -> tuple[str, float]:
    """A ``rows``-row table: ``(resource id, seconds)``."""
    start = time.perf_counter()
    rid = client.action.datastore_create(resource={"package_id": package_id, "name": "big"}, fields=FIELDS)[
        "resource_id"
    ]
    for first in range(0, rows, UPSERT_ROWS):
        last = min(first + UPSERT_ROWS, rows)
        records = [
            {
                "id": i,
                "code": f"C{i % 997:04d}",
                "amount": f"{i % 100_000}.{i % 100:02d}",
                "when": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00",
                "note": f"row {i} " + "x" * (i % 40),
            }
            for i in range(first, last)
        ]
        client.call_action(
            "datastore_upsert",
            {"resource_id": rid, "records": records, "method": "insert", "calculate_record_count": last == rows},
            timeout=600,
        )
    return rid, time.perf_counter() - start


def summary(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.median(values):.1f} (min {min(values):.1f}, max {max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="64,1024", help="upload sizes in MB, comma-separated")
    parser.add_argument("--formats", default="csv,jsonl,parquet")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--max-mb", type=int, default=4096, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.max_mb)
        return

    import ckanx

    work = Path(tempfile.mkdtemp(prefix="ckanx-bench-mem-"))
    state = work / "server.json"
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(state), "--max-mb", "4096"])
    try:
        for _ in range(300):
            if state.exists() or server.poll() is not None:
                break
            time.sleep(0.1)
        info = json.loads(state.read_text())
        token_file = work / "token"
        token_file.write_text(info["token"])
        token_file.chmod(0o600)
        target = ["-r", info["url"], "--token-file", str(token_file)]
        with ckanx.Client(info["url"], info["token"], timeout=600) as ck:
            ck.action.organization_create(name="bench-mem")
            pkg = ck.action.package_create(name="bench-mem", owner_org="bench-mem")
            _, base, _ = run_measured(["action", "status_show", *target], work)
            print(f"ckanx action status_show (baseline): peak RSS {base:.1f} MB")

            # -- (a) export
            if args.rows:
                rid, seconds = seed_table(ck, pkg["id"], args.rows)
                print(
                    f"seeded {args.rows:,} rows in {seconds:.1f} s "
                    f"({args.rows / seconds:,.0f} rows/s; server peak {vm_hwm_mb(server.pid):.0f} MB)"
                )
                for fmt in [f for f in args.formats.split(",") if f]:
                    out = work / f"export.{fmt}"
                    times, peaks = [], []
                    for _ in range(args.repeat):
                        elapsed, peak, code = run_measured(
                            ["datastore", "export", rid, "-O", str(out), "--format", fmt, "-q", *target], work
                        )
                        if code == 0:
                            times.append(elapsed)
                            peaks.append(peak)
                    size = out.stat().st_size / 2**20 if out.exists() else 0
                    if fmt == "csv" and out.exists():
                        lines = 0
                        with open(out, "rb") as f:
                            while block := f.read(1 << 20):
                                lines += block.count(b"\n")
                        check = f", {lines - 1:,} data lines"
                    else:
                        check = ""
                    print(
                        f"export {args.rows:,} rows as {fmt}: {summary(times)} s, peak RSS {summary(peaks)} MB "
                        f"({size:.0f} MB written{check})"
                    )
                    out.unlink(missing_ok=True)
                ck.action.datastore_delete(resource_id=rid, force=True)

            # -- (b) uploads
            for mb in [int(s) for s in args.sizes.split(",") if s]:
                src = work / f"upload-{mb}mb.bin"
                with open(src, "wb") as f:
                    f.truncate(mb << 20)  # sparse: no disk or page cache needed to make it
                times, peaks = [], []
                for _ in range(args.repeat):
                    before = vm_hwm_mb(server.pid)
                    elapsed, peak, code = run_measured(
                        ["files", "upload", str(src), "--dataset", pkg["id"], "--force", *target], work
                    )
                    if code == 0:
                        times.append(elapsed)
                        peaks.append(peak)
                server_peak = vm_hwm_mb(server.pid)
                print(
                    f"upload {mb} MB: {summary(times)} s, client peak RSS {summary(peaks)} MB "
                    f"(server peak {before:.0f} -> {server_peak:.0f} MB)"
                )
                src.unlink()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        for p in sorted(work.glob("*"), reverse=True):
            p.unlink(missing_ok=True)
        work.rmdir()


if __name__ == "__main__":
    main()
