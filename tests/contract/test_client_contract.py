"""The client against real servers: the embedded CKAN always, a real CKAN when configured.

These check ckanx.Client end to end (envelope, errors with their real status codes, uploads,
tokens); the server's own conformance is checked by the golden-transcript cases next to this file.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import ckanx

pytestmark = pytest.mark.contract


@pytest.fixture
def ck(target: Any) -> Iterator[ckanx.Client]:
    with ckanx.Client(target.url, target.token, retries=1) as client:
        yield client


@pytest.fixture
def uid() -> str:
    return "cx" + secrets.token_hex(4)


@pytest.fixture
def org(ck: ckanx.Client, uid: str) -> Iterator[dict[str, Any]]:
    org = ck.action.organization_create(name=f"{uid}-org", title="Client contract org")
    yield org
    ck.action.organization_purge(id=org["id"])


def test_status_show(ck: ckanx.Client) -> None:
    info = ck.server_info()
    assert info["ckan_version"].startswith("2.1")
    assert ck.server_version()[:1] == (2,)


def test_dataset_lifecycle(ck: ckanx.Client, org: dict[str, Any], uid: str) -> None:
    name = f"{uid}-ds"
    created = ck.action.package_create(
        name=name,
        title="Client contract",
        owner_org=org["id"],
        resources=[{"url": "http://example.com/a.csv", "name": "a"}, {"url": "http://example.com/b.csv", "name": "b"}],
        extras=[{"key": "source", "value": "contract"}],
        tags=[{"name": "alpha"}],
    )
    assert created["name"] == name and created["num_resources"] == 2
    shown = ck.action.package_show(id=name)
    assert shown["id"] == created["id"] and shown["organization"]["name"] == org["name"]

    patched = ck.action.package_patch(id=name, notes="patched")
    assert patched["notes"] == "patched" and patched["num_resources"] == 2  # patch keeps resources

    first = shown["resources"][0]["id"]
    revised = ck.action.package_revise(
        match={"id": created["id"]},
        update={"title": "Revised"},
        **{f"update__resources__{first[:8]}__description": "first one"},
    )["package"]
    assert revised["title"] == "Revised"
    assert revised["resources"][0]["description"] == "first one"
    assert [r["name"] for r in revised["resources"]] == ["a", "b"]
    assert revised["extras"] == [{"key": "source", "value": "contract"}]

    with pytest.raises(ckanx.ValidationError) as info:
        ck.action.package_revise(match={"id": created["id"], "title": "Not the title"}, update={"title": "x"})
    assert info.value.status_code == 409

    assert ck.action.package_delete(id=name) is None
    assert ck.action.package_show(id=name)["state"] == "deleted"
    # CKAN 2.11 frees the name of a deleted dataset: a new create gets a new id and the deleted
    # one is renamed to its id
    again = ck.action.package_create(name=name, owner_org=org["id"])
    assert again["id"] != created["id"]
    assert ck.action.package_show(id=created["id"])["name"] == created["id"]

    assert ck.action.dataset_purge(id=name) is None
    assert ck.action.dataset_purge(id=created["id"]) is None
    with pytest.raises(ckanx.NotFound) as gone:
        ck.action.package_show(id=name)
    assert gone.value.status_code == 404


def test_group_create_show(ck: ckanx.Client, uid: str) -> None:
    group = ck.action.group_create(name=f"{uid}-grp", title="G")
    try:
        assert ck.action.group_show(id=group["name"])["title"] == "G"
        assert group["name"] in ck.action.group_list(limit=1000)
    finally:
        ck.action.group_purge(id=group["id"])


def test_upload_and_download(ck: ckanx.Client, org: dict[str, Any], uid: str, target: Any) -> None:
    pkg = ck.action.package_create(name=f"{uid}-files", owner_org=org["id"])
    payload = b"code,value\na,1\nb,2\n"
    res = ck.action.resource_create(package_id=pkg["id"], name="upload.csv", upload=("upload.csv", payload))
    assert res["url_type"] == "upload"
    assert res["url"].endswith("/upload.csv")
    assert int(res["size"]) == len(payload)
    got = httpx.get(res["url"], headers={"Authorization": target.token}, follow_redirects=True)
    assert got.status_code == 200 and got.content == payload
    ck.action.dataset_purge(id=pkg["id"])


def test_tokens_create_list_revoke(ck: ckanx.Client, target: Any, uid: str) -> None:
    user = ck.action.user_create(name=f"{uid}-user", email=f"{uid}@example.com", password="Contract-pass-1234")
    created = ck.action.api_token_create(user=user["name"], name="cx")
    token = created["token"]
    tokens = ck.action.api_token_list(user_id=user["name"])
    assert [t["name"] for t in tokens] == ["cx"]
    with ckanx.Client(target.url, token) as as_user:
        assert as_user.action.user_show(id=user["name"])["name"] == user["name"]
        assert ck.action.api_token_revoke(jti=tokens[0]["id"]) is None
        # a revoked token is silently anonymous: reads work, writes are refused
        as_user.action.package_list()
        with pytest.raises(ckanx.NotAuthorized) as info:
            as_user.action.organization_create(name=f"{uid}-nope")
    assert info.value.status_code == 403
    assert ck.action.api_token_list(user_id=user["name"]) == []
    ck.action.user_delete(id=user["id"])


def test_error_types_with_real_status(ck: ckanx.Client, target: Any) -> None:
    with pytest.raises(ckanx.NotFound) as nf:
        ck.action.package_show(id="no-such-dataset-contract")
    assert nf.value.status_code == 404
    with pytest.raises(ckanx.ValidationError) as ve:
        ck.action.package_create()
    assert ve.value.status_code == 409 and ve.value.error_dict["name"] == ["Missing value"]
    with pytest.raises(ckanx.UnknownAction) as ua:
        ck.action.no_such_action_contract()
    assert ua.value.status_code == 400
    with pytest.raises(ckanx.SearchQueryError) as sq:
        ck.action.package_search(sort="name sideways")
    assert sq.value.status_code == 400
    with pytest.raises(ckanx.SearchError) as se:
        ck.action.package_search(q="title:(unclosed")
    assert se.value.status_code == 409
    with ckanx.Client(target.url) as anon, pytest.raises(ckanx.NotAuthorized) as na:
        anon.action.package_create(name="x")
    assert na.value.status_code == 403
    with ckanx.Client(target.url + "/nope") as wrong, pytest.raises(ckanx.ServerIncompatibleError, match="HTML page"):
        # a wrong base URL answers an HTML 404: a clear incompatibility, not a JSON decode error
        wrong.action.status_show()


def test_get_and_post_agree(ck: ckanx.Client, target: Any, org: dict[str, Any], uid: str) -> None:
    # filter on this test's own organization: other writers on a shared site cannot change the answer
    for i in range(3):
        ck.action.package_create(name=f"{uid}-gp{i}", owner_org=org["id"], tags=[{"name": f"t{i % 2}"}])
    query = {"rows": 0, "fq": f"organization:{org['name']}", "facet.field": ["tags"]}
    with ckanx.Client(target.url, target.token, prefer_get=True) as by_get:
        a = by_get.call_action("package_search", query)
    b = ck.call_action("package_search", query)
    assert a["count"] == b["count"] == 3
    assert a["facets"] == b["facets"] == {"tags": {"t0": 2, "t1": 1}}
    for i in range(3):
        ck.action.dataset_purge(id=f"{uid}-gp{i}")


def test_remoteckan_readme_examples(target: Any, uid: str) -> None:
    """ckanapi's README examples, with only the import line changed."""
    from ckanx import NotAuthorized, RemoteCKAN

    ua = "ckanapiexample/1.0 (+http://example.com/my/website)"
    demo = RemoteCKAN(target.url, user_agent=ua)
    groups = demo.action.group_list(id="data-explorer")
    assert isinstance(groups, list)
    try:
        demo.action.package_create(name="my-dataset", title="not going to work")
    except NotAuthorized:
        pass
    else:  # pragma: no cover
        raise AssertionError("anonymous create must be refused")
    with RemoteCKAN(target.url, apikey=target.token) as site:
        org = site.action.organization_create(name=f"{uid}-rc")
        pkg = site.action.package_create(name=f"{uid}-rc-ds", owner_org=org["id"])
        res = site.action.resource_create(package_id=pkg["id"], url="dummy-value", upload=("x.csv", b"a\n1\n"))
        assert res["url_type"] == "upload"
        site.action.dataset_purge(id=pkg["id"])
        site.action.organization_purge(id=org["id"])
