"""Peak memory of ``ckanx dump datasets --all`` over a large embedded site (issue 4; goal < 150 MB).

An embedded CKAN is started in this process and N generated datasets (the generator of
``bench_server_search.py``: 0-3 resources and 1-4 tags each) are written straight through its
model and indexed. Then ``ckanx dump datasets --all -O FILE`` runs as a child process, and its peak
resident set size is read from ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` after it exits (the server
lives in this process, so its memory is not counted). The output is checked: one line per dataset,
unique ids.

    .venv/bin/python benchmarks/bench_dump_memory.py [--datasets 100000] [--runs 1] [--gzip]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_server_search import generate, load

from ckanx.server.search import indexing
from ckanx.testing import start_ckan_server

GOAL_MB = 150


def dump_once(url: str, token_file: Path, out: Path, *, quiet: bool) -> tuple[float, float, int]:
    """Run one dump as a fresh child; return (seconds, peak RSS of that child in MB, exit code).

    ``RUSAGE_CHILDREN`` reports the largest peak among waited-for children, so each run is made in
    a fresh intermediate process whose only child is the dump.
    """
    argv = [sys.executable, "-c", "from ckanx.cli import main; main()", "dump", "datasets", "--all"]
    argv += ["-r", url, "--token-file", str(token_file), "-O", str(out)]
    if quiet:
        argv.append("-q")
    probe = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "rc = subprocess.call(json.loads(sys.argv[1]))\n"
        "print(json.dumps([time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CKAN_URL", "CKAN_API_TOKEN", "PYTHONDONTWRITEBYTECODE")}
    proc = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(argv)], capture_output=True, text=True, env=env, check=True
    )
    seconds, maxrss_kb, rc = json.loads(proc.stdout.strip().splitlines()[-1])
    return float(seconds), maxrss_kb / 1024, int(rc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=1, help="dumps to measure (default 1)")
    ap.add_argument("--gzip", action="store_true", help="dump to a .jsonl.gz file")
    args = ap.parse_args()

    t0 = time.perf_counter()
    srv = start_ckan_server()
    try:
        pkgs = generate(args.datasets, random.Random(7))
        for pkg in pkgs:
            pkg["private"] = False  # dump without --include-private sees every dataset
        load(srv.server, pkgs)
        del pkgs
        indexing.rebuild(srv.server)
        print(f"seeded {args.datasets} datasets in {time.perf_counter() - t0:.1f}s", flush=True)
        with tempfile.TemporaryDirectory(prefix="bench-dump-memory-") as tmp:
            token_file = Path(tmp) / "token"
            token_file.write_text(srv.token)
            token_file.chmod(0o600)
            out = Path(tmp) / ("d.jsonl.gz" if args.gzip else "d.jsonl")
            peaks = []
            for i in range(args.runs):
                seconds, peak_mb, rc = dump_once(srv.url, token_file, out, quiet=True)
                if rc != 0:
                    raise SystemExit(f"run {i + 1}: ckanx dump exited {rc}")
                lines = check_output(out, args.datasets, gz=args.gzip)
                peaks.append(peak_mb)
                print(
                    f"run {i + 1}: {lines} datasets, {out.stat().st_size / 1e6:.0f} MB written in {seconds:.1f}s; "
                    f"peak RSS of the ckanx process {peak_mb:.1f} MB",
                    flush=True,
                )
    finally:
        srv.stop()
    verdict = "met" if max(peaks) < GOAL_MB else "NOT met"
    print(f"peak RSS max {max(peaks):.1f} MB over {len(peaks)} run(s); goal < {GOAL_MB} MB: {verdict}")


def check_output(path: Path, expected: int, *, gz: bool) -> int:
    """The dump holds ``expected`` lines with unique ids (streamed, so this check stays small too)."""
    import gzip

    ids = set()
    opener = gzip.open if gz else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            ids.add(json.loads(line)["id"])
    if len(ids) != expected:
        raise SystemExit(f"dump wrote {len(ids)} unique datasets, expected {expected}")
    return len(ids)


if __name__ == "__main__":
    main()
