"""kill -9 trials: SIGKILL a real ``ckanx`` process at a seeded random point, ``--resume``, compare.

Each trial starts the CLI as a child process against an embedded CKAN (started once per module,
in this process), kills it at a point drawn from ``random.Random("<job>:<seed>")`` — the n-th HTTP
request of the run (n uniform over the requests an uninterrupted run makes) in one of the phases of
:mod:`tests.reliability.killswitch` — then runs the same command with ``--resume`` (some trials kill
the resumed run too, up to 3 kills), and compares the end result with an uninterrupted run:

* ``dump datasets --all -O FILE``: the file is byte-identical to the uninterrupted dump (plain);
  for ``.gz`` the decompressed bytes are identical (the compressed bytes legitimately differ: each
  synced batch is its own gzip member, and where batches end depends on where the run was killed);
* ``load datasets``: the site holds every dataset exactly once, with the same content as a site
  loaded without interruption;
* ``datastore import``: the table's rows equal the source's (by ``_id`` count and content, in order);
* ``datastore export -O FILE`` (CSV and JSON lines): the file is byte-identical;
* ``dump organizations --all`` and ``load groups``: the same, for the name-list walks.

Before every resume the committed part (what the checkpoint says is durable) is snapshotted; it must
never shrink or change. Seeds: ``CKANX_TRIAL_SEEDS=1,2,3`` overrides the default ten per job; every
test id and failure message carries the seed, and failures print each run's kill point. With
``CKANX_TRIAL_FIGURES=FILE`` the module writes its figures (trials, kills, records checked) as JSON.

Marked ``trials``: deselected from the default run, run by ``.ci/trials.sh``.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import os
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ckanx.testing import CKANServer, start_ckan_server

from .killswitch import KillPoint, KillSwitch, Run, install, run_cli

pytestmark = pytest.mark.trials

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
DEPOSITAR = CORPUS / "depositar_tw" / "datasets.jsonl.gz"
HDX = CORPUS / "hdx" / "resources" / "opri_data_zwe.csv"
N_SOURCE = 300  # records read from the depositar dump (one has a 1-character tag CKAN refuses: 299 load)
DUMP_ROWS = 25  # the site's rows cap during dumps: 12 keyset pages, so kills land between pages
IMPORT_CHUNK = "500"  # 22 chunks of the 10,690-row HDX table
EXPORT_ROWS = 1000  # /datastore/dump segments and datastore_search pages in the child (a test-only knob)
SEEDS = [int(s) for s in os.environ.get("CKANX_TRIAL_SEEDS", ",".join(str(7001 + i) for i in range(10))).split(",")]
SMALL_SEEDS = SEEDS if os.environ.get("CKANX_TRIAL_SEEDS") else SEEDS[:5]  # organizations/groups: cheap extras
IDS = [f"seed={s}" for s in SEEDS]
SMALL_IDS = [f"seed={s}" for s in SMALL_SEEDS]
PHASES = ("before", "after", "mid", "delay")
# Python run in every child before the CLI: a deliberately broken resume must make the trials fail
# (how the trials themselves were checked; see docs/reliability.md)
MUTANT = os.environ.get("CKANX_TRIAL_MUTANT", "")

# what a site computes for itself: differs between two loads of the same records
_VOLATILE = frozenset({"metadata_created", "metadata_modified", "created", "last_modified", "revision_id",
                       "creator_user_id", "owner_org", "package_id"})

MEASURED: dict[str, Counter[str]] = {}
KILL_POINTS: dict[str, list[str]] = {}


# ------------------------------------------------------------------------------------------- the driver


@dataclass
class Job:
    """One job under trial: how to run it and how to read what it has committed so far."""

    name: str
    args: Callable[[bool], list[str]]  # resume -> CLI arguments
    checkpoint: Path
    requests: int  # requests of an uninterrupted run: kill points are drawn from 1..requests
    committed: Callable[[], Any]  # a snapshot of what the checkpoint says is durable
    kept: Callable[[Any], str | None]  # None when the snapshot is still intact, else what broke
    phases: tuple[str, ...] = PHASES
    # a fresh run refused because a killed run had in fact finished (its checkpoint already removed)
    refused_as_done: Callable[[Run], bool] | None = None
    prelude: str = ""
    story: list[str] = field(default_factory=list)


def drive(job: Job, seed: int, site: Site) -> list[str]:
    """Kill the job 1-3 times at seeded points, resuming each time, then let it finish; the story."""
    rng = random.Random(f"{job.name}:{seed}")
    kills = rng.choice((1, 1, 1, 2, 2, 3))
    budget = job.requests
    figures = MEASURED.setdefault(job.name, Counter())
    figures["trials"] += 1
    for attempt in itertools.count():
        point = None
        if attempt < kills:
            # the request is drawn; the phase rotates with seed and attempt, so ten seeds meet every phase
            phase = job.phases[(seed + attempt) % len(job.phases)]
            point = KillPoint(rng.randint(1, max(1, budget)), phase, round(rng.uniform(0, 0.04), 4))
        resume = job.checkpoint.exists()
        if attempt and not resume:
            # killed before its first checkpoint: --resume refuses (nothing to resume); start again
            refused = run_cli(site.switch, site.url, site.token_file, job.args(True),
                              prelude=job.prelude + "\n" + MUTANT)
            assert refused.returncode == 2 and b"nothing to resume" in refused.stderr, refused.stderr
        before = job.committed()
        run = run_cli(site.switch, site.url, site.token_file, job.args(resume), point=point,
                      prelude=job.prelude + "\n" + MUTANT)
        figures["runs"] += 1
        outcome = "killed" if run.killed else f"exit {run.returncode}"
        job.story.append(f"run {attempt + 1} ({'--resume' if resume else 'fresh'}): "
                         f"{point if point else 'no kill'} -> {outcome} after {run.requests} requests")
        broken = job.kept(before)
        assert broken is None, f"seed={seed}: committed output changed: {broken}\n" + "\n".join(job.story)
        if run.killed:
            assert point is not None and point.fired, f"seed={seed}: killed, but not by its kill point\n" + "\n".join(
                job.story)
            figures["kills"] += 1
            KILL_POINTS.setdefault(job.name, []).append(f"{seed}:{point}")
            budget = max(2, budget - point.at + 2)
            continue
        if (run.returncode != 0 and attempt and not resume and job.refused_as_done is not None
                and job.refused_as_done(run)):
            # killed in the last milliseconds, after its checkpoint was removed: the job was complete,
            # and a fresh run rightly refuses to add the rows again; the comparison below decides
            figures["killed_after_finishing"] += 1
            break
        assert run.returncode == 0, f"seed={seed}: {run.stderr.decode()[-2000:]}\n" + "\n".join(job.story)
        if point is not None:
            figures["finished_before_kill"] += 1  # the run ended before its kill point: fine, counted
        break
    assert not job.checkpoint.exists(), f"seed={seed}: checkpoint left behind\n" + "\n".join(job.story)
    return job.story


# ------------------------------------------------------------------------------------------- the sites


@dataclass
class Site:
    """An embedded CKAN with a kill switch and a token file for the child processes."""

    srv: CKANServer
    token_file: Path
    switch: KillSwitch = field(init=False)

    def __post_init__(self) -> None:
        self.refresh()

    @property
    def url(self) -> str:
        return self.srv.url

    def refresh(self) -> None:
        """(Re)install the switch and write the current token (both change with ``reset()``)."""
        self.switch = install(self.srv)
        self.token_file.write_text(self.srv.token)
        self.token_file.chmod(0o600)

    def reset(self) -> None:
        self.srv.reset()
        self.refresh()


@pytest.fixture(scope="module")
def corpus() -> list[dict[str, Any]]:
    with gzip.open(DEPOSITAR, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in itertools.islice(f, N_SOURCE)]


@pytest.fixture(scope="module")
def source(corpus: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The site that is dumped (never written to by the trials)."""
    srv = start_ckan_server()
    try:
        report = srv.seed(corpus, default_owner_org="kt-default-org")
        assert report.datasets_created == N_SOURCE - 1, report.failed
        yield Site(srv, tmp_path_factory.mktemp("source") / "token")
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The site that is loaded into (reset before each load trial)."""
    srv = start_ckan_server()
    try:
        yield Site(srv, tmp_path_factory.mktemp("target") / "token")
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The DataStore site: each import trial writes a new resource; the export trials read one table."""
    srv = start_ckan_server()
    try:
        srv.client.action.organization_create(name="kt-ds-org")
        yield Site(srv, tmp_path_factory.mktemp("store") / "token")
    finally:
        srv.stop()


@pytest.fixture(scope="module", autouse=True)
def figures() -> Iterator[None]:
    yield
    path = os.environ.get("CKANX_TRIAL_FIGURES")
    if path:
        Path(path).write_text(json.dumps({"figures": MEASURED, "kill_points": KILL_POINTS}, indent=1))


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    from ckanx.server.search import actions

    monkeypatch.setattr(actions, "ROWS_MAX", DUMP_ROWS)


def _checkpoint_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text())["state"]
    except FileNotFoundError:
        return {}
    assert isinstance(state, dict)
    return state


def _file_prefix_job(out: Path, checkpoint: Path, key: str) -> tuple[Callable[[], Any], Callable[[Any], str | None]]:
    """committed/kept for jobs with an output file: the first ``state[key]`` bytes must never change."""

    def committed() -> tuple[int, bytes]:
        size = int(_checkpoint_state(checkpoint).get(key, 0))
        return size, (out.read_bytes()[:size] if size else b"")

    def kept(before: tuple[int, bytes]) -> str | None:
        size, prefix = before
        if not size:
            return None
        now = out.read_bytes() if out.exists() else b""
        if len(now) < size:
            return f"{out.name} truncated to {len(now)} bytes below the committed {size}"
        if now[:size] != prefix:
            return f"the first {size} committed bytes of {out.name} changed"
        return None

    return committed, kept


def _count(figures: str, got: list[Any], want: list[Any]) -> None:
    """Records lost and duplicated (by key), counted for the figures, then asserted zero by the caller."""
    c = MEASURED.setdefault(figures, Counter())
    c["records_checked"] += len(want)
    c["lost"] += len(set(want) - set(got))
    c["duplicated"] += len(got) - len(set(got))


# ------------------------------------------------------------------------------------------- dump datasets


@pytest.fixture(scope="module")
def dump_reference(source: Site, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, int]:
    """The uninterrupted dump (bytes) and the number of requests it makes."""
    from ckanx.server.search import actions

    out = tmp_path_factory.mktemp("dump-ref") / "ref.jsonl"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(actions, "ROWS_MAX", DUMP_ROWS)
        run = run_cli(source.switch, source.url, source.token_file, ["dump", "datasets", "--all", "-q", "-O", str(out)])
    assert run.returncode == 0, run.stderr
    data = out.read_bytes()
    assert data.count(b"\n") == N_SOURCE - 1
    assert run.requests >= (N_SOURCE - 1) // DUMP_ROWS + 1  # page by page
    return data, run.requests


@pytest.mark.parametrize("seed", SEEDS, ids=IDS)
def test_dump_datasets_killed_and_resumed_equals_uninterrupted(
    source: Site, dump_reference: tuple[bytes, int], small_pages: None, tmp_path: Path, seed: int
) -> None:
    reference, requests = dump_reference
    gz = random.Random(f"dump-format:{seed}").random() < 0.3
    out = tmp_path / ("d.jsonl.gz" if gz else "d.jsonl")
    checkpoint = out.with_name(out.name + ".ckanx-checkpoint")
    committed, kept = _file_prefix_job(out, checkpoint, "offset")
    job = Job("dump datasets", lambda resume: ["dump", "datasets", "--all", "-q", "-O", str(out)]
              + (["--resume"] if resume else []), checkpoint, requests, committed, kept)
    story = drive(job, seed, source)
    got = gzip.decompress(out.read_bytes()) if gz else out.read_bytes()
    ids = [json.loads(line)["id"] for line in got.splitlines()]
    _count("dump datasets", ids, [json.loads(line)["id"] for line in reference.splitlines()])
    assert got == reference, f"seed={seed} gzip={gz}: dump differs from the uninterrupted one\n" + "\n".join(story)


# ------------------------------------------------------------------------------------------- load datasets


def _stable(value: Any) -> Any:
    """A record without what each site computes for itself; organization, groups and tags by name."""
    if isinstance(value, dict):
        out = {k: _stable(v) for k, v in value.items() if k not in _VOLATILE}
        if isinstance(value.get("organization"), dict):
            out["organization"] = value["organization"].get("name")
        if isinstance(value.get("groups"), list):
            out["groups"] = sorted(g.get("name") for g in value["groups"] if isinstance(g, dict))
        if isinstance(value.get("tags"), list):
            out["tags"] = sorted(t.get("name") for t in value["tags"] if isinstance(t, dict))
        return out
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _site_datasets(site: Site) -> list[dict[str, Any]]:
    """Every dataset on the site (active, private and draft included), in id order."""
    found = site.srv.client.action.package_search(q="*:*", rows=1000, sort="id asc", include_private=True,
                                                  include_drafts=True)
    assert found["count"] == len(found["results"])
    return list(found["results"])


def _prepare_target(site: Site, corpus: list[dict[str, Any]]) -> None:
    """An empty site with the organizations and groups the datasets refer to."""
    site.reset()
    ck = site.srv.client
    orgs = {(d.get("organization") or {}).get("name") for d in corpus} | {"kt-default-org"}
    for name in sorted(o for o in orgs if o):
        ck.action.organization_create(name=name)
    for name in sorted({g["name"] for d in corpus for g in d.get("groups") or []}):
        ck.action.group_create(name=name)


@pytest.fixture(scope="module")
def load_input(dump_reference: tuple[bytes, int]) -> bytes:
    return dump_reference[0]  # the source site's dump is the load's input: dump | load


@pytest.fixture(scope="module")
def load_reference(target: Site, corpus: list[dict[str, Any]], load_input: bytes,
                   tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Any], int]:
    """What the target holds after an uninterrupted load, and how many requests the load makes."""
    tmp = tmp_path_factory.mktemp("load-ref")
    src = tmp / "in.jsonl"
    src.write_bytes(load_input)
    _prepare_target(target, corpus)
    run = run_cli(target.switch, target.url, target.token_file, ["load", "datasets", "-I", str(src), "-q", "-p", "3"])
    assert run.returncode == 0, run.stderr
    datasets = _site_datasets(target)
    assert len(datasets) == N_SOURCE - 1
    return _stable(datasets), run.requests


@pytest.mark.parametrize("seed", SEEDS, ids=IDS)
def test_load_datasets_killed_and_resumed_equals_uninterrupted(
    target: Site, corpus: list[dict[str, Any]], load_input: bytes, load_reference: tuple[list[Any], int],
    tmp_path: Path, seed: int
) -> None:
    want, requests = load_reference
    src = tmp_path / "in.jsonl"
    src.write_bytes(load_input)
    log = tmp_path / "log.jsonl"
    processes = random.Random(f"load-p:{seed}").choice(("1", "3"))
    checkpoint = src.with_name(src.name + ".ckanx-checkpoint")
    _prepare_target(target, corpus)

    def committed() -> int:
        return int(_checkpoint_state(checkpoint).get("next", 1)) - 1  # input lines finished for good

    def kept(lines_done: int) -> str | None:
        # every record before the checkpoint's line is on the site (it never goes backwards)
        names = {json.loads(line)["name"] for line in load_input.splitlines()[:lines_done]}
        on_site = {d["name"] for d in _site_datasets(target)}
        missing = names - on_site
        return f"{len(missing)} committed datasets missing: {sorted(missing)[:3]}" if missing else None

    job = Job("load datasets", lambda resume: ["load", "datasets", "-I", str(src), "-q", "-p", processes, "-l",
                                               str(log)] + (["--resume"] if resume else []),
              checkpoint, requests, committed, kept)
    story = drive(job, seed, target)
    got = _site_datasets(target)
    _count("load datasets", [d["id"] for d in got], [d["id"] for d in want])
    assert len(got) == len({d["id"] for d in got}) == len({d["name"] for d in got}) == N_SOURCE - 1, story
    assert _stable(got) == want, f"seed={seed} -p {processes}: site differs\n" + "\n".join(story)
    statuses = Counter(json.loads(line)["status"] for line in log.read_text().splitlines())
    assert set(statuses) <= {"created", "unchanged", "updated"}, (seed, statuses, story)


# ------------------------------------------------------------------------------------------- datastore import


def _table_rows(site: Site, resource_id: str) -> list[dict[str, Any]]:
    """Every row of a table in ``_id`` order (10,690 rows fit one page of 32,000)."""
    found = site.srv.client.action.datastore_search(resource_id=resource_id, limit=32000, sort="_id")
    assert found["total"] == len(found["records"])
    return list(found["records"])


def _new_resource(site: Site, name: str) -> str:
    ck = site.srv.client
    ck.action.package_create(name=name, owner_org="kt-ds-org")
    return str(ck.action.resource_create(package_id=name, url=f"http://example.org/{name}.csv", name=name)["id"])


@pytest.fixture(scope="module")
def import_reference(store: Site, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Any], int]:
    """An uninterrupted import: its resource id, its rows (without ``_id``) and its request count."""
    tmp = tmp_path_factory.mktemp("import-ref")
    rid = _new_resource(store, "kt-import-reference")
    run = run_cli(store.switch, store.url, store.token_file,
                  ["datastore", "import", rid, str(HDX), "--chunk-rows", IMPORT_CHUNK, "--force", "-q",
                   "--checkpoint", str(tmp / "c")])
    assert run.returncode == 0, run.stderr
    rows = _table_rows(store, rid)
    with open(HDX, encoding="utf-8", newline="") as f:
        source = list(csv.reader(f))[2:]  # header, then the HXL row (kept as the fields' info)
    assert len(rows) == len(source) == 10690
    assert [[str(r[k]) if r[k] is not None else "" for k in source_fields(rows)] for r in rows] == source
    return rid, [{k: v for k, v in r.items() if k != "_id"} for r in rows], run.requests


def source_fields(rows: list[dict[str, Any]]) -> list[str]:
    return [k for k in rows[0] if k != "_id"]


@pytest.mark.parametrize("seed", SEEDS, ids=IDS)
def test_datastore_import_killed_and_resumed_equals_source(
    store: Site, import_reference: tuple[str, list[Any], int], tmp_path: Path, seed: int
) -> None:
    _, want, requests = import_reference
    rid = _new_resource(store, f"kt-import-{seed}-{uuid.uuid4().hex[:6]}")
    keyed = random.Random(f"import-key:{seed}").random() < 0.3
    checkpoint = tmp_path / "import.checkpoint"
    key = ["--primary-key", "indicator_id", "--primary-key", "country_id", "--primary-key", "year"] if keyed else []

    def committed() -> int:
        return int(_checkpoint_state(checkpoint).get("committed", 0))

    def kept(rows: int) -> str | None:
        if not rows:
            return None
        total = store.srv.client.action.datastore_search(resource_id=rid, limit=0)["total"]
        return f"the table has {total} rows, below the {rows} committed" if total < rows else None

    job = Job("datastore import", lambda resume: ["datastore", "import", rid, str(HDX), "--chunk-rows", IMPORT_CHUNK,
                                                  "--force", "-q", "--checkpoint", str(checkpoint), *key]
              + (["--resume"] if resume else []), checkpoint, requests, committed, kept,
              refused_as_done=lambda run: run.returncode == 1 and b"already has" in run.stderr)
    story = drive(job, seed, store)
    rows = _table_rows(store, rid)
    got = [{k: v for k, v in r.items() if k != "_id"} for r in rows]
    as_keys = [json.dumps(r, sort_keys=True) for r in got]
    _count("datastore import", as_keys, [json.dumps(r, sort_keys=True) for r in want])
    assert len({r["_id"] for r in rows}) == len(rows), (seed, story)
    assert len(got) == len(want), f"seed={seed} key={keyed}: {len(got)} rows, want {len(want)}\n" + "\n".join(story)
    assert got == want, f"seed={seed} key={keyed}: rows differ from the source\n" + "\n".join(story)


# ------------------------------------------------------------------------------------------- datastore export

# smaller segments/pages in the child, so an export of 10,690 rows is 11 resumable steps
EXPORT_PRELUDE = f"""
import dataclasses
import ckanx.datastore._export as _e
_e.DUMP_SEGMENT_ROWS = {EXPORT_ROWS}
_pages = _e.pages_job
_e.pages_job = lambda opts, state, on_page=None: _pages(dataclasses.replace(opts, page_rows={EXPORT_ROWS}), state,
                                                       on_page)
"""


@pytest.fixture(scope="module")
def export_reference(store: Site, import_reference: tuple[str, list[Any], int],
                     tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, int]]:
    """Each format's uninterrupted export (bytes) and its request count."""
    rid = import_reference[0]
    tmp = tmp_path_factory.mktemp("export-ref")
    refs = {}
    for fmt in ("csv", "jsonl"):
        out = tmp / f"ref.{fmt}"
        run = run_cli(store.switch, store.url, store.token_file, ["datastore", "export", rid, "-O", str(out), "-q"],
                      prelude=EXPORT_PRELUDE)
        assert run.returncode == 0, run.stderr
        assert run.requests >= 10690 // EXPORT_ROWS
        refs[fmt] = (out.read_bytes(), run.requests)
    assert refs["csv"][0].count(b"\n") == 10691 and refs["jsonl"][0].count(b"\n") == 10690
    return refs


@pytest.mark.parametrize("seed", SEEDS, ids=IDS)
def test_datastore_export_killed_and_resumed_equals_uninterrupted(
    store: Site, import_reference: tuple[str, list[Any], int], export_reference: dict[str, tuple[bytes, int]],
    tmp_path: Path, seed: int
) -> None:
    rid = import_reference[0]
    fmt = random.Random(f"export-format:{seed}").choice(("csv", "csv", "jsonl"))
    reference, requests = export_reference[fmt]
    out = tmp_path / f"out.{fmt}"
    checkpoint = out.with_name(out.name + ".ckanx-checkpoint")
    committed, kept = _file_prefix_job(out, checkpoint, "bytes")
    job = Job("datastore export", lambda resume: ["datastore", "export", rid, "-O", str(out), "-q"]
              + (["--resume"] if resume else []), checkpoint, requests, committed, kept,
              prelude=EXPORT_PRELUDE)
    story = drive(job, seed, store)
    got = out.read_bytes()
    _count("datastore export", got.splitlines(), reference.splitlines())
    assert got == reference, f"seed={seed} {fmt}: export differs from the uninterrupted one\n" + "\n".join(story)


# ------------------------------------------------------------------------------------------- organizations, groups


@pytest.fixture(scope="module")
def orgs_reference(source: Site, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, int]:
    out = tmp_path_factory.mktemp("orgs-ref") / "orgs.jsonl"
    run = run_cli(source.switch, source.url, source.token_file, ["dump", "organizations", "--all", "-q", "-O",
                                                                 str(out)])
    assert run.returncode == 0, run.stderr
    assert out.read_bytes().count(b"\n") >= 50
    return out.read_bytes(), run.requests


@pytest.mark.parametrize("seed", SMALL_SEEDS, ids=SMALL_IDS)
def test_dump_organizations_killed_and_resumed_equals_uninterrupted(
    source: Site, orgs_reference: tuple[bytes, int], tmp_path: Path, seed: int
) -> None:
    reference, requests = orgs_reference
    out = tmp_path / "orgs.jsonl"
    checkpoint = out.with_name(out.name + ".ckanx-checkpoint")
    committed, kept = _file_prefix_job(out, checkpoint, "offset")
    job = Job("dump organizations", lambda resume: ["dump", "organizations", "--all", "-q", "-O", str(out)]
              + (["--resume"] if resume else []), checkpoint, requests, committed, kept)
    story = drive(job, seed, source)
    got = out.read_bytes()
    _count("dump organizations", [json.loads(x)["name"] for x in got.splitlines()],
           [json.loads(x)["name"] for x in reference.splitlines()])
    assert got == reference, f"seed={seed}: organizations dump differs\n" + "\n".join(story)


@pytest.mark.parametrize("seed", SMALL_SEEDS, ids=SMALL_IDS)
def test_load_groups_killed_and_resumed_equals_uninterrupted(
    source: Site, target: Site, tmp_path: Path, seed: int
) -> None:
    src = tmp_path / "groups.jsonl"
    dumped = run_cli(source.switch, source.url, source.token_file, ["dump", "groups", "--all", "-q", "-O", str(src)])
    assert dumped.returncode == 0, dumped.stderr
    names = sorted(json.loads(x)["name"] for x in src.read_text().splitlines())
    assert len(names) >= 10
    checkpoint = src.with_name(src.name + ".ckanx-checkpoint")
    target.reset()

    def groups() -> list[dict[str, Any]]:
        return list(target.srv.client.action.group_list(all_fields=True, limit=1000))

    def committed() -> int:
        return int(_checkpoint_state(checkpoint).get("next", 1)) - 1

    def kept(lines_done: int) -> str | None:
        done = {json.loads(x)["name"] for x in src.read_text().splitlines()[:lines_done]}
        missing = done - {g["name"] for g in groups()}
        return f"committed groups missing: {sorted(missing)}" if missing else None

    requests = len(names) * 2 + 2  # a group_show and a group_create each, roughly
    job = Job("load groups", lambda resume: ["load", "groups", "-I", str(src), "-q"]
              + (["--resume"] if resume else []), checkpoint, requests, committed, kept)
    story = drive(job, seed, target)
    got = groups()
    _count("load groups", [g["name"] for g in got], names)
    assert sorted(g["name"] for g in got) == names, f"seed={seed}\n" + "\n".join(story)
    want = {json.loads(x)["name"]: json.loads(x) for x in src.read_text().splitlines()}
    for g in got:
        assert (g["title"], g["description"]) == (want[g["name"]]["title"], want[g["name"]]["description"]), seed


def test_import_into_a_dataset_killed_right_after_datastore_create_leaves_one_resource(store: Site,
                                                                                       tmp_path: Path) -> None:
    """``datastore import DATASET FILE`` creates the resource with ``datastore_create``; the checkpoint
    naming it is saved only after the answer. Killed in between, there is nothing to resume, and the
    fresh run creates a second resource: the first stays behind with an empty table. (strict xfail:
    this test starts failing — and so must be unmarked — once the gap is fixed.)"""
    name = f"kt-orphan-{uuid.uuid4().hex[:6]}"
    store.srv.client.action.package_create(name=name, owner_org="kt-ds-org")
    checkpoint = tmp_path / "c"
    args = ["datastore", "import", name, str(HDX), "--chunk-rows", "5000", "-q", "--checkpoint", str(checkpoint)]
    counted = run_cli(store.switch, store.url, store.token_file, ["datastore", "import", name, str(HDX), "--dry-run",
                                                                  "-q"])
    assert counted.returncode == 0, counted.stderr
    # the real run's requests before datastore_create are the dry run's (status, lookups, no writes)
    point = KillPoint(counted.requests + 1, "after")
    killed = run_cli(store.switch, store.url, store.token_file, args, point=point)
    assert killed.killed and point.request.endswith("/datastore_create"), point
    again = run_cli(store.switch, store.url, store.token_file, args + (["--resume"] if checkpoint.exists() else []))
    assert again.returncode == 0, again.stderr
    assert len(store.srv.client.action.package_show(id=name)["resources"]) == 1
