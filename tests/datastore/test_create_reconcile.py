"""A lost ``datastore_create`` answer: the import finds out what landed and carries on, without
creating a second resource or stopping with an empty one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from ckanx import Client
from ckanx.datastore import DataStore, ImportFailed
from ckanx.datastore import _import as import_module
from ckanx.testing.faults import FaultProxy

# the kinds that lose the answer after the server ran the create, and one where it never saw it
KINDS = ["reset_after", "stall", "truncate", "reset_before"]


def write_csv(path: Path, rows: int) -> Path:
    path.write_text("id,label\n" + "".join(f"{i},row {i}\n" for i in range(1, rows + 1)), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def short_settle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_module, "SETTLE_SECONDS", 0.6)
    monkeypatch.setattr(import_module, "SETTLE_POLL", 0.2)


def faulty(srv: Any, kind: str) -> FaultProxy:
    return FaultProxy(srv.url, only="datastore_create", rate=1.0, max_faults=1, kinds=[kind], stall_seconds=3.0)


@pytest.mark.parametrize("kind", KINDS)
def test_new_resource_is_created_once(ckan_server: Any, dataset: dict[str, Any], tmp_path: Path, kind: str) -> None:
    src = write_csv(tmp_path / "table.csv", 250)
    with faulty(ckan_server, kind) as proxy, Client(proxy.url, ckan_server.token, timeout=1.5) as ck:
        report = DataStore(ck).import_table(dataset["id"], src, chunk_rows=100)
    assert [f.kind for f in proxy.faults] == [kind]
    assert "datastore_create" in proxy.faults[0].request
    assert report.reconciled == 1 and report.created_resource
    ck = ckan_server.client
    resources = ck.action.package_show(id=dataset["id"])["resources"]
    assert [r["id"] for r in resources] == [report.resource_id]  # one resource, never a second
    found = ck.action.datastore_search(resource_id=report.resource_id, limit=1000, sort="_id")
    assert found["total"] == 250
    assert [r["id"] for r in found["records"]] == list(range(1, 251))
    assert [f["id"] for f in found["fields"]] == ["_id", "id", "label"]


@pytest.mark.parametrize("kind", KINDS)
def test_existing_resource_gets_its_table(ckan_server: Any, dataset: dict[str, Any], tmp_path: Path,
                                          kind: str) -> None:
    ck0 = ckan_server.client
    res = ck0.action.resource_create(package_id=dataset["id"], name="target", url="http://example.com/x.csv")
    src = write_csv(tmp_path / "table.csv", 120)
    with faulty(ckan_server, kind) as proxy, Client(proxy.url, ckan_server.token, timeout=1.5) as ck:
        report = DataStore(ck).import_table(res["id"], src, primary_key=["id"], chunk_rows=50, force=True)
    assert [f.kind for f in proxy.faults] == [kind]
    assert report.reconciled == 1 and report.resource_id == res["id"] and not report.created_resource
    assert len(ck0.action.package_show(id=dataset["id"])["resources"]) == 1
    info = ck0.action.datastore_search(resource_id=res["id"], limit=0)
    assert info["total"] == 120


def test_resource_without_its_table_gets_the_table_not_a_twin(ckan_server: Any, dataset: dict[str, Any],
                                                              tmp_path: Path) -> None:
    """The resource was committed but the table was not (the server failed between the two)."""
    src = write_csv(tmp_path / "half.csv", 30)
    ck0 = ckan_server.client
    sent: list[dict[str, Any]] = []

    class HalfCreate(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/datastore_create") and not sent:
                import json

                sent.append(json.loads(request.read()))
                # what a server dying after resource_create leaves behind
                ck0.action.resource_create(package_id=dataset["id"], name="half.csv",
                                           url="_datastore_only_resource")
                raise httpx.ReadError("connection reset by peer", request=request)
            return super().handle_request(request)

    with Client(ckan_server.url, ckan_server.token, transport=HalfCreate()) as ck:
        report = DataStore(ck).import_table(dataset["id"], src)
    resources = ck0.action.package_show(id=dataset["id"])["resources"]
    assert len(resources) == 1 and resources[0]["id"] == report.resource_id
    assert ck0.action.datastore_search(resource_id=report.resource_id, limit=0)["total"] == 30


def test_two_new_resources_of_that_name_stop_the_import(ckan_server: Any, dataset: dict[str, Any],
                                                        tmp_path: Path) -> None:
    src = write_csv(tmp_path / "dup.csv", 5)
    ck0 = ckan_server.client

    class TwoWriters(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/datastore_create"):
                for _ in range(2):
                    ck0.action.resource_create(package_id=dataset["id"], name="dup.csv", url="http://example.com/d")
                raise httpx.ReadError("connection reset by peer", request=request)
            return super().handle_request(request)

    with Client(ckan_server.url, ckan_server.token, transport=TwoWriters()) as ck, pytest.raises(
        ImportFailed, match=r"2 new resources named 'dup.csv'.*another writer"
    ):
        DataStore(ck).import_table(dataset["id"], src)


# ---------------------------------------------------------------- killed around the creating datastore_create


class Killed(BaseException):
    """The process dying (SIGKILL): nothing after it runs, no handler sees it."""


class KillAtCreate(httpx.HTTPTransport):
    """Dies at the first ``datastore_create``: after the server ran it (``ran=True``), or before
    sending it; with ``half=True`` the server is left with the resource but not its table."""

    def __init__(self, ran: bool, half: bool = False, server_client: Any = None) -> None:
        super().__init__()
        self.ran, self.half, self.server_client = ran, half, server_client
        self.creates: list[dict[str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/datastore_create"):
            import json

            self.creates.append(json.loads(request.read()))
            if self.half:
                body = self.creates[-1]["resource"]
                self.server_client.action.resource_create(package_id=body["package_id"], name=body["name"],
                                                          url="_datastore_only_resource")
            elif self.ran:
                super().handle_request(request).read()
            raise Killed
        return super().handle_request(request)


def killed_import(srv: Any, dataset_id: str, src: Path, ckpt: Path, transport: KillAtCreate) -> None:
    with Client(srv.url, srv.token, transport=transport) as ck, pytest.raises(Killed):
        DataStore(ck).import_table(dataset_id, src, chunk_rows=40, checkpoint=ckpt)
    assert len(transport.creates) == 1 and "resource" in transport.creates[0]


def resumed(srv: Any, dataset_id: str, src: Path, ckpt: Path) -> Any:
    with Client(srv.url, srv.token) as ck:
        return DataStore(ck).import_table(dataset_id, src, chunk_rows=40, checkpoint=ckpt, resume=True)


def test_checkpoint_holds_the_intent_before_the_create_is_sent(ckan_server: Any, dataset: dict[str, Any],
                                                               tmp_path: Path) -> None:
    import json

    ck0 = ckan_server.client
    ck0.action.resource_create(package_id=dataset["id"], name="other", url="http://example.com/o")
    old = [r["id"] for r in ck0.action.package_show(id=dataset["id"])["resources"]]
    src, ckpt = write_csv(tmp_path / "t.csv", 10), tmp_path / "t.ckpt"
    killed_import(ckan_server, dataset["id"], src, ckpt, KillAtCreate(ran=False))
    state = json.loads(ckpt.read_text())["state"]
    assert "resource_id" not in state
    assert state["intent"] == {"package_id": dataset["id"], "name": "t.csv", "before": old}


@pytest.mark.parametrize("case", ["create ran", "resource without table", "never sent"])
def test_killed_at_the_creating_datastore_create_resumes_into_one_resource(
        ckan_server: Any, dataset: dict[str, Any], tmp_path: Path, case: str) -> None:
    ck0 = ckan_server.client
    ck0.action.resource_create(package_id=dataset["id"], name="older", url="http://example.com/o")
    src, ckpt = write_csv(tmp_path / "table.csv", 130), tmp_path / "import.ckpt"
    kill = KillAtCreate(ran=case == "create ran", half=case == "resource without table", server_client=ck0)
    killed_import(ckan_server, dataset["id"], src, ckpt, kill)
    landed = [r for r in ck0.action.package_show(id=dataset["id"])["resources"] if r["name"] == "table.csv"]
    assert len(landed) == (0 if case == "never sent" else 1)

    report = resumed(ckan_server, dataset["id"], src, ckpt)
    assert report.created_resource and report.reconciled == 1
    assert report.rows_committed == 130 and report.rows_skipped_on_resume == 0
    resources = ck0.action.package_show(id=dataset["id"])["resources"]
    assert [r["name"] for r in resources] == ["older", "table.csv"]  # never a second new resource
    if landed:
        assert report.resource_id == landed[0]["id"]  # the one the killed run made is adopted
    assert resources[1]["id"] == report.resource_id
    found = ck0.action.datastore_search(resource_id=report.resource_id, limit=1000, sort="_id")
    assert found["total"] == 130
    assert [r["id"] for r in found["records"]] == list(range(1, 131))
    assert not ckpt.exists()


def test_a_fresh_run_over_a_pending_create_refuses(ckan_server: Any, dataset: dict[str, Any], tmp_path: Path) -> None:
    ck0 = ckan_server.client
    src, ckpt = write_csv(tmp_path / "table.csv", 20), tmp_path / "import.ckpt"
    killed_import(ckan_server, dataset["id"], src, ckpt, KillAtCreate(ran=True))
    with Client(ckan_server.url, ckan_server.token) as ck, pytest.raises(
            ImportFailed, match=r"was creating the resource 'table.csv'.*--resume.*delete the checkpoint"):
        DataStore(ck).import_table(dataset["id"], src, checkpoint=ckpt)
    assert len(ck0.action.package_show(id=dataset["id"])["resources"]) == 1
    assert ckpt.exists()
    assert resumed(ckan_server, dataset["id"], src, ckpt).rows_committed == 20


def test_a_fresh_run_over_a_recorded_new_resource_refuses(ckan_server: Any, dataset: dict[str, Any],
                                                          tmp_path: Path) -> None:
    ck0 = ckan_server.client
    src, ckpt = write_csv(tmp_path / "table.csv", 100), tmp_path / "import.ckpt"

    class KillAtSecondChunk(httpx.HTTPTransport):
        upserts = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/datastore_upsert"):
                self.upserts += 1
                if self.upserts == 2:
                    raise Killed
            return super().handle_request(request)

    with Client(ckan_server.url, ckan_server.token, transport=KillAtSecondChunk()) as ck, pytest.raises(Killed):
        DataStore(ck).import_table(dataset["id"], src, chunk_rows=40, checkpoint=ckpt)
    [made] = ck0.action.package_show(id=dataset["id"])["resources"]
    with Client(ckan_server.url, ckan_server.token) as ck, pytest.raises(
            ImportFailed, match=rf"created the resource {made['id']} \(40 rows committed\).*--resume"):
        DataStore(ck).import_table(dataset["id"], src, checkpoint=ckpt)
    # another job's checkpoint at that path is overwritten, as before
    other = tmp_path / "other.ckpt"
    other.write_text('{"version": 1, "job": {"command": "something else"}, "state": {"resource_id": "x"}}')
    with Client(ckan_server.url, ckan_server.token) as ck:
        again = DataStore(ck).import_table(dataset["id"], src, checkpoint=other, resource_name="second.csv")
    assert again.rows_committed == 100 and not other.exists()
    assert len(ck0.action.package_show(id=dataset["id"])["resources"]) == 2
