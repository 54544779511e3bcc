"""``ckanx datastore``: import, export, info, search, delete; one-line errors; SIGKILL then --resume."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.bulk.helpers import ckanx_process, cli, jsonl, kill_when, slow_action

CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus"
HDX = CORPUS / "hdx/resources/opri_data_zwe.csv"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


@pytest.fixture
def dataset(ckan_server: Any) -> dict[str, Any]:
    ck = ckan_server.client
    ck.action.organization_create(name="cli-ds-org")
    return ck.action.package_create(name="cli-ds", owner_org="cli-ds-org")  # type: ignore[no-any-return]


def source_rows(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    with open(path, encoding=encoding, newline="") as f:
        return [r for r in csv.reader(f) if any(r)]


def test_import_export_info_search_delete(runner: CliRunner, ckan_server: Any, dataset: dict[str, Any],
                                          tmp_path: Path) -> None:
    src = CORPUS / "thedatahub_org/newcastle-payments-over-500-october_2011.csv"
    ckpt = tmp_path / "c.ckpt"
    result = cli(runner, ckan_server, "datastore", "import", "cli-ds", str(src), "--chunk-rows", "50",
                 "--type", "Internal Ref=text", "--checkpoint", str(ckpt))
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["rows_committed"] == 209 and report["chunks"] == 5 and report["encoding"] == "cp1252"
    assert "imported 209 rows" in result.stderr
    assert not ckpt.exists()
    rid = report["resource_id"]

    out = tmp_path / "out.csv"
    exported = cli(runner, ckan_server, "datastore", "export", rid, "-O", str(out), "-q")
    assert exported.exit_code == 0, exported.stderr
    assert exported.stderr == ""
    assert source_rows(out)[1:] == source_rows(src, "cp1252")[2:]

    as_jsonl = cli(runner, ckan_server, "datastore", "export", rid, "--format", "jsonl", "--fields",
                   "Internal Ref,Grand Total", "--filters", '{"Directorate": "Adult and Culture"}', "-q")
    rows = jsonl(as_jsonl.stdout)
    assert rows and all(set(r) == {"Internal Ref", "Grand Total"} for r in rows)
    assert isinstance(rows[0]["Internal Ref"], str)  # the --type override

    info = json.loads(cli(runner, ckan_server, "datastore", "info", rid).stdout)
    assert [f["id"] for f in info["fields"]][:2] == ["Directorate", "Service Area"]

    found = cli(runner, ckan_server, "datastore", "search", rid, "limit:2", "sort=Directorate")
    assert len(jsonl(found.stdout)) == 2 and "209 matching records" in found.stderr

    gone = cli(runner, ckan_server, "datastore", "delete", rid, "--filters", '{"Directorate": "Adult and Culture"}')
    assert gone.exit_code == 0
    left = json.loads(cli(runner, ckan_server, "datastore", "search", rid, "limit:0").stderr.split()[0])
    assert left == 209 - len(rows)


def test_dry_run_and_errors(runner: CliRunner, ckan_server: Any, dataset: dict[str, Any], tmp_path: Path) -> None:
    dry = cli(runner, ckan_server, "datastore", "import", "cli-ds", str(HDX), "--dry-run", "-q")
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout)["rows"] == 10690
    assert ckan_server.client.action.package_show(id="cli-ds")["resources"] == []

    bad_type = cli(runner, ckan_server, "datastore", "import", "cli-ds", str(HDX), "--type", "country_id=int",
                   "--dry-run")
    assert bad_type.exit_code == 1
    assert bad_type.stderr.strip().splitlines()[-1].startswith("ckanx: error: row 1, field 'country_id'")

    missing = cli(runner, ckan_server, "datastore", "import", "no-such-thing", str(HDX))
    assert missing.exit_code == 1 and "no resource or dataset 'no-such-thing'" in missing.stderr
    no_file = cli(runner, ckan_server, "datastore", "import", "cli-ds", str(tmp_path / "nope.csv"))
    assert no_file.exit_code == 2 and "no such file" in no_file.stderr
    no_ckpt = cli(runner, ckan_server, "datastore", "import", "cli-ds", str(HDX), "--resume",
                  "--checkpoint", str(tmp_path / "none"))
    assert no_ckpt.exit_code == 2 and "nothing to resume" in no_ckpt.stderr
    other = tmp_path / "other.ckpt"
    other.write_text(json.dumps({"version": 1, "job": {"command": "something else"}, "state": {}}))
    wrong_job = cli(runner, ckan_server, "datastore", "import", "cli-ds", str(HDX), "--resume", "--checkpoint",
                    str(other))
    assert wrong_job.exit_code == 2 and "different job" in wrong_job.stderr
    bad_spec = cli(runner, ckan_server, "datastore", "import", "cli-ds", str(HDX), "--type", "oops")
    assert bad_spec.exit_code == 2
    parquet = cli(runner, ckan_server, "datastore", "export", "nope", "--format", "parquet")
    assert parquet.exit_code == 2 and "needs -O FILE" in parquet.stderr
    no_table = cli(runner, ckan_server, "datastore", "export", "nope", "-q")
    assert no_table.exit_code == 1 and no_table.stderr.startswith("ckanx: error: datastore_search")


def test_sigkill_mid_import_then_resume(runner: CliRunner, ckan_server: Any, dataset: dict[str, Any],
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slow_action(monkeypatch, "datastore_upsert", 0.05)
    ckpt = tmp_path / "import.ckpt"

    def committed() -> int:
        try:
            return int(json.loads(ckpt.read_text())["state"]["committed"])
        except (FileNotFoundError, ValueError, KeyError):
            return 0

    proc = ckanx_process(ckan_server, tmp_path, "datastore", "import", "cli-ds", str(HDX), "--chunk-rows", "250",
                         "--checkpoint", str(ckpt), "-q")
    kill_when(proc, lambda: committed() >= 2000)
    rid = json.loads(ckpt.read_text())["state"]["resource_id"]
    before = ckan_server.client.action.datastore_search(resource_id=rid, limit=0)["total"]
    assert 2000 <= before < 10690

    resumed = cli(runner, ckan_server, "datastore", "import", "cli-ds", str(HDX), "--chunk-rows", "250",
                  "--checkpoint", str(ckpt), "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["rows_skipped_on_resume"] == before
    out = cli(runner, ckan_server, "datastore", "export", rid, "-q")
    got = list(csv.reader(io.StringIO(out.stdout, newline="")))
    expected = source_rows(HDX)
    assert got[0] == expected[0]
    assert got[1:] == expected[2:]  # every row once, in order (the HXL row went to the fields' info)


def test_killed_after_the_creating_datastore_create_then_resume(runner: CliRunner, ckan_server: Any,
                                                                 dataset: dict[str, Any], tmp_path: Path) -> None:
    """The process dies after the server ran ``datastore_create`` with ``resource=`` and before its
    answer was recorded: a plain rerun refuses, ``--resume`` adopts that resource (never a second)."""
    import httpx

    from ckanx import Client
    from ckanx.datastore import DataStore

    class Killed(BaseException):
        pass

    class KillAfterCreate(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = super().handle_request(request)
            if request.url.path.endswith("/datastore_create"):
                response.read()
                raise Killed  # the server ran it; the client never sees the answer
            return response

    ckpt = tmp_path / "import.ckpt"
    with Client(ckan_server.url, ckan_server.token, transport=KillAfterCreate()) as ck, pytest.raises(Killed):
        DataStore(ck).import_table("cli-ds", HDX, chunk_rows=2500, checkpoint=ckpt)
    [orphan] = ckan_server.client.action.package_show(id="cli-ds")["resources"]
    assert ckan_server.client.action.datastore_search(resource_id=orphan["id"], limit=0)["total"] == 0

    plain = cli(runner, ckan_server, "datastore", "import", "cli-ds", str(HDX), "--checkpoint", str(ckpt), "-q")
    assert plain.exit_code == 1 and "--resume" in plain.stderr, plain.stderr
    assert len(ckan_server.client.action.package_show(id="cli-ds")["resources"]) == 1

    resumed = cli(runner, ckan_server, "datastore", "import", "cli-ds", str(HDX), "--chunk-rows", "2500",
                  "--checkpoint", str(ckpt), "--resume", "-q")
    assert resumed.exit_code == 0, resumed.stderr
    report = json.loads(resumed.stdout)
    assert report["resource_id"] == orphan["id"] and report["created_resource"]
    assert report["rows_committed"] == 10690 and not ckpt.exists()
    assert [r["id"] for r in ckan_server.client.action.package_show(id="cli-ds")["resources"]] == [orphan["id"]]
    out = cli(runner, ckan_server, "datastore", "export", orphan["id"], "-q")
    got = list(csv.reader(io.StringIO(out.stdout, newline="")))
    expected = source_rows(HDX)
    assert got[0] == expected[0] and got[1:] == expected[2:]  # every row once, in order
