"""Dataset/Resource/Organization/Group objects against the embedded CKAN: change tracking, minimal
saves, optimistic concurrency, deleted-as-not-found."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from ckanx import AsyncClient, Client, NotFound, ValidationError
from ckanx.objects import (
    AsyncDataset,
    Change,
    ConflictError,
    Dataset,
    Group,
    ObjectManager,
    Organization,
    Resource,
    WrongObjectError,
    revise_payload,
)


class Recorder:
    """Records every action call (name and JSON body) made through a client's transport."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def hook(self, request: httpx.Request) -> None:
        body = json.loads(request.content) if request.content else {}
        self.calls.append((request.url.path.rsplit("/", 1)[-1], body))

    def writes(self) -> list[tuple[str, dict[str, Any]]]:
        return [c for c in self.calls if not c[0].endswith("_show")]


class RecordingTransport(httpx.HTTPTransport):
    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.recorder.hook(request)
        return super().handle_request(request)


@pytest.fixture
def site(ckan_server: Any) -> Any:
    ck = ckan_server.client
    ck.action.organization_create(name="org")
    ck.action.group_create(name="grp")
    ck.action.package_create(
        name="ds",
        title="Water quality",
        owner_org="org",
        extras=[{"key": "b", "value": "2"}, {"key": "a", "value": "1"}, {"key": "c", "value": "3"}],
        tags=[{"name": "water"}, {"name": "rivers"}],
        groups=[{"name": "grp"}],
        resources=[
            {"url": "http://example.org/1.csv", "name": "one"},
            {"url": "http://example.org/2.csv", "name": "two", "description": "second"},
        ],
    )
    return ckan_server


@pytest.fixture
def recorder(site: Any) -> Any:
    rec = Recorder()
    with Client(site.url, site.token, transport=RecordingTransport(rec)) as ck:
        yield rec, ck


def test_attributes_extras_and_changes(site: Any) -> None:
    ds = Dataset.load(site.client, "ds")
    assert ds.title == "Water quality" and ds.name == "ds"
    assert ds.data["title"] == "Water quality"
    assert dict(ds.extras) == {"a": "1", "b": "2", "c": "3"}
    assert ds.changes() == {}
    ds.title = "Water"
    ds.extras["a"] = "one"
    assert ds.changes()["title"] == Change("Water quality", "Water")
    assert set(ds.changes()) == {"title", "extras"}
    with pytest.raises(AttributeError):
        ds.metadata_modified = "2000-01-01"  # type: ignore[misc]


def test_save_sends_only_the_change_and_keeps_the_rest(recorder: Any, site: Any) -> None:
    rec, ck = recorder
    ds = Dataset.load(ck, "ds")
    before = site.client.action.package_show(id="ds")
    second = ds.resources[1]
    ds.title = "New title"
    second.description = "edited"
    del ds.extras["a"]
    ds.extras["c"] = "three"
    ds.extras["d"] = "4"
    rec.calls.clear()
    ds.save()
    assert [c[0] for c in rec.calls] == ["package_revise"]
    sent = rec.calls[0][1]
    rid = before["resources"][1]["id"]
    # only the edit travels: no resource, extra or tag lists
    assert sent == {
        "match": {"id": before["id"], "metadata_modified": before["metadata_modified"]},
        "filter": ["-extras__0"],
        "update": {"title": "New title"},
        "update__extras__1__value": "three",
        "update__extras__extend": [{"key": "d", "value": "4"}],
        f"update__resources__{rid}__description": "edited",
    }
    after = site.client.action.package_show(id="ds")
    assert after["title"] == "New title"
    assert {e["key"]: e["value"] for e in after["extras"]} == {"b": "2", "c": "three", "d": "4"}
    # resources kept (same ids: not re-created), first untouched, second edited
    assert [r["id"] for r in after["resources"]] == [r["id"] for r in before["resources"]]
    assert after["resources"][0]["name"] == "one"
    assert after["resources"][1]["description"] == "edited"
    assert sorted(t["name"] for t in after["tags"]) == ["rivers", "water"]
    assert [g["name"] for g in after["groups"]] == ["grp"]
    # the object now reflects the server; nothing left to save, so no call
    assert ds.changes() == {} and ds.metadata_modified == after["metadata_modified"]
    rec.calls.clear()
    ds.save()
    assert rec.calls == []


def test_resources_tags_added_and_removed(site: Any) -> None:
    ds = Dataset.load(site.client, "ds")
    first_id = ds.resources[0].id
    ds.remove_resource(ds.resources[0])
    ds.add_resource(url="http://example.org/3.csv", name="three")
    ds.tags = ["water", "lakes"]
    ds.save()
    after = site.client.action.package_show(id="ds")
    assert [r["name"] for r in after["resources"]] == ["two", "three"]
    assert first_id not in [r["id"] for r in after["resources"]]
    assert sorted(t["name"] for t in after["tags"]) == ["lakes", "water"]


def test_concurrent_edit_is_a_conflict(site: Any) -> None:
    mine = Dataset.load(site.client, "ds")
    theirs = Dataset.load(site.client, "ds")
    theirs.notes = "their edit"
    theirs.save()
    mine.title = "my edit"
    with pytest.raises(ConflictError, match="changed on the server") as info:
        mine.save()
    assert isinstance(info.value, ValidationError)
    shown = site.client.action.package_show(id="ds")
    assert shown["title"] == "Water quality" and shown["notes"] == "their edit"
    # reload + re-apply works
    mine.reload()
    mine.title = "my edit"
    mine.save()
    shown = site.client.action.package_show(id="ds")
    assert (shown["title"], shown["notes"]) == ("my edit", "their edit")


def test_deleted_is_not_found_unless_allowed(site: Any) -> None:
    site.client.action.package_delete(id="ds")
    with pytest.raises(NotFound, match="deleted"):
        Dataset.load(site.client, "ds")
    assert Dataset.load(site.client, "ds", allow_deleted=True).state == "deleted"
    with pytest.raises(NotFound):
        Dataset.load(site.client, "no-such-dataset")


def test_wrong_object_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        result = {"id": "other-id", "name": "other", "state": "active"}
        return httpx.Response(200, json={"success": True, "result": result})

    with (
        Client("http://ckan.test", transport=httpx.MockTransport(handler)) as ck,
        pytest.raises(WrongObjectError, match="asked for dataset 'ds'"),
    ):
        Dataset.load(ck, "ds")


def test_by_id_is_the_same_object(site: Any) -> None:
    ds_id = site.client.action.package_show(id="ds")["id"]
    assert Dataset.load(site.client, ds_id).name == "ds"


def test_standalone_resource_matches_the_fields_it_changes(site: Any) -> None:
    pkg = site.client.action.package_show(id="ds")
    rid = pkg["resources"][0]["id"]
    res = Resource.load(site.client, rid)
    other = Resource.load(site.client, rid)
    other.format = "CSV"
    other.save()  # another field: not a conflict for `res`
    res.description = "mine"
    res.save()
    shown = site.client.action.resource_show(id=rid)
    assert (shown["description"], shown["format"]) == ("mine", "CSV")
    stale = Resource.load(site.client, rid)
    Resource.load(site.client, rid).save()  # nothing changed: no call, no effect
    fresh = Resource.load(site.client, rid)
    fresh.description = "theirs"
    fresh.save()
    stale.description = "late"
    with pytest.raises(ConflictError):
        stale.save()
    assert site.client.action.resource_show(id=rid)["description"] == "theirs"


def test_organization_and_group_patch_keeps_members(recorder: Any, site: Any) -> None:
    rec, ck = recorder
    site.client.action.user_create(name="someone", email="s@example.org", password="a-long-password-1")
    site.client.action.organization_member_create(id="org", username="someone", role="editor")
    org = Organization.load(ck, "org")
    org.title = "The org"
    org.extras["k"] = "v"
    rec.calls.clear()
    org.save()
    assert [c[0] for c in rec.calls] == ["organization_patch"]
    assert set(rec.calls[0][1]) == {"id", "title", "extras"}
    shown = site.client.action.organization_show(id="org")
    assert shown["title"] == "The org"
    assert {u["name"]: u["capacity"] for u in shown["users"]}["someone"] == "editor"
    assert shown["package_count"] == 1
    grp = Group.load(ck, "grp")
    grp.description = "about"
    grp.save()
    assert site.client.action.group_show(id="grp")["package_count"] == 1
    site.client.action.group_delete(id="grp")
    with pytest.raises(NotFound):
        Group.load(ck, "grp")


def test_revise_payload_replaces_other_lists_and_removes_fields() -> None:
    before = {"id": "x", "custom": [1, 2], "notes": "n", "spatial": {"a": 1}}
    after = {"id": "x", "custom": [1], "spatial": {"b": 2}}
    assert revise_payload(before, after) == {
        "filter": ["-custom", "-notes", "-spatial"],
        "update": {"custom": [1], "spatial": {"b": 2}},
    }


@pytest.mark.anyio
async def test_async_twin(site: Any) -> None:
    async with AsyncClient(site.url, site.token) as ack:
        ds = await AsyncDataset.load(ack, "ds")
        ds.resources[0].description = "async"
        await ds.save()
        assert ds.changes() == {}
        stale = await AsyncDataset.load(ack, "ds")
        ds.title = "again"
        await ds.save()
        stale.title = "lost?"
        with pytest.raises(ConflictError):
            await stale.save()
    shown = site.client.action.package_show(id="ds")
    assert (shown["title"], shown["resources"][0]["description"]) == ("again", "async")


@pytest.mark.anyio
async def test_object_manager_sync_and_async(site: Any) -> None:
    datasets = ObjectManager(site.client, Dataset)
    assert datasets.get("ds").title == "Water quality"
    hit = site.client.action.package_search(q="name:ds")["results"][0]
    wrapped = datasets.wrap(hit)
    wrapped.notes = "from search"
    wrapped.save()
    assert site.client.action.package_show(id="ds")["notes"] == "from search"
    async with AsyncClient(site.url, site.token) as ack:
        ads = await ObjectManager(ack, AsyncDataset).get("ds")
    assert ads.notes == "from search"
