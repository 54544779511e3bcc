"""Unit tests of the bulk engine: ordering, limits, JSON lines, torn-write recovery, records rules."""

from __future__ import annotations

import asyncio
import gzip
import io
import random
from pathlib import Path
from typing import Any

import pytest

from ckanx._exceptions import ValidationError
from ckanx.bulk.checkpoint import Checkpoint, CheckpointError
from ckanx.bulk.dump import resume_state
from ckanx.bulk.engine import effective_concurrency, error_reason, run_ordered
from ckanx.bulk.jsonl import DurableOutput, InputError, iter_lines, open_input, read_tail_records
from ckanx.bulk.records import differences, merge_for_update, prepare_for_load


def test_run_ordered_keeps_input_order_and_limits_concurrency() -> None:
    active = 0
    peak = 0
    out: list[int] = []

    async def work(i: int) -> int:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(random.random() / 200)
        active -= 1
        return i * 10

    asyncio.run(run_ordered(range(100), work, lambda i, r: out.append(r), concurrency=8))
    assert out == [i * 10 for i in range(100)]
    assert 2 < peak <= 8


def test_run_ordered_finishes_started_work_before_an_input_error() -> None:
    done: list[int] = []

    def items() -> Any:
        yield from range(5)
        raise InputError("input line 6: invalid JSON")

    async def work(i: int) -> int:
        await asyncio.sleep(0.001 * (5 - i))
        return i

    with pytest.raises(InputError, match="line 6"):
        asyncio.run(run_ordered(items(), work, lambda i, r: done.append(r), concurrency=3))
    assert done == [0, 1, 2, 3, 4]


def test_run_ordered_passes_unexpected_errors_as_results() -> None:
    got: list[Any] = []

    async def work(i: int) -> int:
        if i == 1:
            raise RuntimeError("boom")
        return i

    asyncio.run(run_ordered([0, 1, 2], work, lambda i, r: got.append(r), concurrency=2))
    assert got[0] == 0 and isinstance(got[1], RuntimeError) and got[2] == 2


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        ("https://data.example.org", {}, 3),
        ("https://data.example.org", {"CKANAPI_PARALLEL_LIMIT": "5"}, 5),
        ("http://localhost:5000", {}, 8),
        ("http://127.0.0.1:5000", {}, 8),
        ("http://[::1]:5000", {}, 8),
        ("https://Data.Example.org", {"CKANAPI_MY_SITES": "other.org  data.example.org"}, 8),
        ("https://data.example.org:8443", {"CKANAPI_MY_SITES": "https://data.example.org:8443/"}, 8),
        ("https://localhost.evil.org", {}, 3),
        ("https://data.example.org.evil", {"CKANAPI_MY_SITES": "data.example.org"}, 3),
    ],
)
def test_effective_concurrency(url: str, env: dict[str, str], expected: int) -> None:
    assert effective_concurrency(8, url, env) == expected


def test_parallel_limit_must_be_an_integer() -> None:
    with pytest.raises(ValueError, match="whole number"):
        effective_concurrency(2, "https://x.org", {"CKANAPI_PARALLEL_LIMIT": "2.5"})


def test_error_reason_uses_ckans_messages() -> None:
    err = ValidationError(
        "Validation Error", error={"__type": "Validation Error", "owner_org": ["An organization must be provided"]}
    )
    assert error_reason(err) == "owner_org: An organization must be provided"


def test_iter_lines_names_the_bad_line_and_reads_gzip(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write('{"a": 1}\n\n{"b": 2}\n{oops\n')
    lines = iter_lines(open_input(path), "x.jsonl.gz")
    assert next(lines).value == {"a": 1}
    assert next(lines).number == 3
    with pytest.raises(InputError, match=r"x.jsonl.gz line 4: invalid JSON"):
        next(lines)
    plain = list(iter_lines(io.BytesIO(b'name-1\n"name-2"\n'), "stdin", parse=False))
    assert [(ln.text, ln.value) for ln in plain] == [("name-1", None), ('"name-2"', "name-2")]


@pytest.mark.parametrize("gz", [False, True])
def test_resume_recovers_records_after_the_checkpoint_and_cuts_a_torn_tail(tmp_path: Path, gz: bool) -> None:
    path = tmp_path / ("out.jsonl.gz" if gz else "out.jsonl")
    ckpt = Checkpoint(tmp_path / "ck", {"job": 1})
    out = DurableOutput(path, gzip_output=gz)
    out.write_records([{"id": "a"}, {"id": "b"}])
    ckpt.save({"mode": "keyset", "offset": out.sync(), "records": 2, "last_id": "b"})
    out.write_records([{"id": "c"}])  # written, synced, but the checkpoint was not updated
    good_end = out.sync()
    out.write_records([{"id": "d"}, {"id": "e"}])
    out.close()
    with open(path, "r+b") as f:  # a kill in the middle of the last write
        f.truncate(good_end + 7)
    state = resume_state(path, ckpt, gzip_output=gz, keyset=True)
    assert state["records"] == 3 and state["last_id"] == "c" and state["offset"] == good_end
    assert path.stat().st_size == good_end
    records, end = read_tail_records(path, 0, gzip_output=gz)
    assert [r["id"] for r in records] == ["a", "b", "c"] and end == good_end


def test_checkpoint_of_another_job_is_refused(tmp_path: Path) -> None:
    Checkpoint(tmp_path / "ck", {"thing": "datasets"}).save({"offset": 0})
    with pytest.raises(CheckpointError, match="different job"):
        Checkpoint(tmp_path / "ck", {"thing": "groups"}).load()
    with pytest.raises(CheckpointError, match="nothing to resume"):
        Checkpoint(tmp_path / "none", {}).load()


def test_prepare_remaps_references_by_name() -> None:
    dumped = {
        "id": "src-id",
        "name": "ds",
        "owner_org": "org-id-on-A",
        "organization": {"id": "org-id-on-A", "name": "org-a"},
        "groups": [{"id": "g-id-on-A", "name": "grp", "title": "G"}],
        "tags": [{"id": "t1", "name": "alpha", "display_name": "alpha", "state": "active"}],
        "metadata_modified": "2020-01-01T00:00:00",
        "num_resources": 1,
        "resources": [{"id": "r1", "package_id": "src-id", "url": "http://x/y.csv", "position": 0}],
    }
    prepared = prepare_for_load("datasets", dumped)
    assert prepared["owner_org"] == "org-a"
    assert prepared["groups"] == [{"name": "grp"}]
    assert prepared["tags"] == [{"name": "alpha"}]
    assert "organization" not in prepared and "metadata_modified" not in prepared
    assert prepared["resources"] == [{"id": "r1", "url": "http://x/y.csv"}]
    assert prepare_for_load("datasets", {"name": "x"}, default_owner_org="dflt")["owner_org"] == "dflt"
    assert "owner_org" not in prepare_for_load("datasets", {"name": "x"})


def test_differences_ignore_volatile_and_site_specific_values() -> None:
    existing = {
        "id": "new-id",
        "name": "ds",
        "title": "T",
        "author": None,
        "owner_org": "org-id-on-B",
        "organization": {"name": "org-a"},
        "tags": [{"name": "b"}, {"name": "a"}],
        "metadata_modified": "2024-01-01",
        "resources": [
            {
                "id": "r1",
                "url": "http://b.org/dataset/ds/resource/r1/download/f20g.csv",
                "url_type": "upload",
                "created": "2024",
                "position": 0,
            }
        ],
    }
    same = {
        "id": "src-id",
        "name": "ds",
        "title": "T",
        "author": "",
        "owner_org": "org-a",
        "tags": [{"name": "a"}, {"name": "b"}],
        "metadata_modified": "2020-01-01",
        "custom_field_site_b_drops": "x",
        "resources": [
            {
                "id": "r1",
                "url": "http://a.org/dataset/ds/resource/r1/download/F%20g.csv",
                "url_type": "upload",
                "created": "2020",
            }
        ],
    }
    assert differences("datasets", same, existing) == []
    assert differences("datasets", {**same, "title": "U"}, existing) == ["title"]
    assert differences("datasets", {**same, "owner_org": "org-z"}, existing) == ["owner_org"]
    assert differences("datasets", {**same, "resources": []}, existing) == ["resources: 1 -> 0"]


def test_merge_keeps_absent_fields_and_resource_fields() -> None:
    existing = {"id": "i", "name": "n", "notes": "keep", "resources": [{"id": "r", "url": "u", "name": "rn"}]}
    merged = merge_for_update(existing, {"name": "n", "title": "new", "resources": [{"id": "r", "description": "d"}]})
    assert merged == {
        "id": "i",
        "name": "n",
        "notes": "keep",
        "title": "new",
        "resources": [{"id": "r", "url": "u", "name": "rn", "description": "d"}],
    }


class _TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_plain_lines_rich_bar_and_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    from ckanx.bulk.engine import Progress

    plain = io.StringIO()
    monkeypatch.setattr(Progress, "PLAIN_EVERY", 0.0)
    p = Progress("load datasets", quiet=False, total=4, stream=plain)
    p.advance()
    p.advance(errors=1)
    p.note("line 2 x: owner_org: An organization must be provided")
    p.finish("2 records: 1 created, 1 error")
    text = plain.getvalue()
    assert "load datasets: 1/4 records" in text and "ETA" in text and "1 errors" in text
    assert text.rstrip().split("\n")[-1].startswith("load datasets: 2 records: 1 created, 1 error in ")

    tty = _TTY()
    bar = Progress("dump datasets", quiet=False, total=2, stream=tty)
    bar.advance(2)
    bar.finish("2 records: 2 dumped")
    assert "dump datasets: 2 records: 2 dumped in" in tty.getvalue()

    quiet = io.StringIO()
    q = Progress("x", quiet=True, stream=quiet)
    q.advance()
    q.note("hidden")
    q.finish("done")
    assert quiet.getvalue() == ""


def test_keyset_pages_must_rise() -> None:
    from ckanx.bulk.actions import KeysetError, check_keyset_page

    check_keyset_page([{"id": "b"}, {"id": "c"}], "a")
    with pytest.raises(KeysetError, match="does not page by id"):
        check_keyset_page([{"id": "a"}, {"id": "b"}], "b")  # the fq range was ignored
    with pytest.raises(KeysetError):
        check_keyset_page([{"id": "c"}, {"id": "b"}], None)  # the sort was ignored


def test_uploaded_file_names_compare_as_sites_store_them() -> None:
    from ckanx.bulk.records import _same_upload

    site = "http://b.org/dataset/d/resource/r/download/"
    src = "https://a.org/dataset/d/resource/r/download/"
    # names as CKAN 2.11.6 stored them (checked with package_create on the oracle)
    assert _same_upload(src + "10110N0006b.pdf", site + "10110n0006b.pdf")
    assert _same_upload(src + "%E6%96%B0%E8%B1%90_m2.pdf", site + "e696b0e8b190_m2.pdf")
    long_src = src + "20170513%20" + "%E8%87%BA" * 20 + ".pdf"
    long_site = site + ("2017051320" + "e887ba" * 20)[:96] + ".pdf"  # cut to the length limit
    assert _same_upload(long_src, long_site)
    assert not _same_upload(src + "a.pdf", site + "b.pdf")
    assert not _same_upload(src + "report.pdf", site + "report.csv")
