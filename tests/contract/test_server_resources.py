"""Resources: create/show/update/patch/delete/reorder, validation, multipart uploads and downloads."""

from __future__ import annotations

from typing import Any

import pytest
from normalise import only, pick

from conftest import Case

CSV = b"code,n\na,10\nb,20\n"


def _ds(ckan: Case, **fields: Any) -> dict[str, Any]:
    return ckan.dataset("ds", ckan.org(), **fields)


def test_create_link_resource(ckan: Case) -> None:
    ds = _ds(ckan)
    _, body = ckan.call("resource_create", {
        "package_id": ds["id"], "url": "http://example.com/data.csv", "name": "data.csv",
        "format": "CSV", "description": "link", "custom": "kept"})
    ckan.call("resource_show", {"id": body["result"]["id"]}, method="GET")
    ckan.call("package_show", {"id": ds["id"]},
              view=only("result.num_resources", "result.resources"))


def test_create_by_package_name_and_minimal(ckan: Case) -> None:
    ds = _ds(ckan)
    ckan.call("resource_create", {"package_id": ds["name"]}, label="only package_id")
    ckan.call("resource_create", {"package_id": ds["name"], "url": ""}, label="empty url")


RESOURCE_ERRORS: list[tuple[str, dict[str, Any]]] = [
    ("no_package", {"url": "http://example.com"}),
    ("unknown_package", {"package_id": "ct-no-such-dataset", "url": "http://example.com"}),
    ("bad_position", {"package_id": "<ds>", "url": "http://x", "position": "first"}),
    ("extras_dict", {"package_id": "<ds>", "url": "http://x", "size": "big"}),
    ("bad_last_modified", {"package_id": "<ds>", "url": "http://x", "last_modified": "yesterday"}),
]


@pytest.mark.parametrize("data", [d for _, d in RESOURCE_ERRORS],
                         ids=[i for i, _ in RESOURCE_ERRORS])
def test_create_errors(ckan: Case, data: dict[str, Any]) -> None:
    ds = _ds(ckan)
    data = {k: (ds["id"] if v == "<ds>" else v) for k, v in data.items()}
    ckan.call("resource_create", data, view=only("result.position", "result.size",
                                                 "result.last_modified"))


def test_show_errors(ckan: Case) -> None:
    ckan.call("resource_show", {"id": "ct-no-such-resource"}, label="unknown")
    ckan.call("resource_show", {}, label="no id")
    ckan.call("resource_show", {"id": "ct-no-such-resource"}, as_="anonymous", method="GET",
              label="anonymous unknown")


def test_update_is_full_replace(ckan: Case) -> None:
    ds = _ds(ckan, resources=[{"url": "http://example.com/a", "name": "a", "format": "CSV",
                               "description": "d", "custom": "c"}])
    rid = ds["resources"][0]["id"]
    ckan.call("resource_update", {"id": rid, "url": "http://example.com/b", "name": "b"})
    ckan.call("resource_update", {"id": "ct-no-such-resource", "url": "x"}, label="unknown")


def test_patch_keeps_fields(ckan: Case) -> None:
    ds = _ds(ckan, resources=[{"url": "http://example.com/a", "name": "a", "format": "CSV",
                               "description": "d"}])
    rid = ds["resources"][0]["id"]
    ckan.call("resource_patch", {"id": rid, "name": "patched"})
    ckan.call("resource_patch", {"id": rid, "format": ""},
              view=only("result.format", "result.name"), label="clear format")
    ckan.call("resource_patch", {"name": "x"}, label="no id")


def test_delete(ckan: Case) -> None:
    ds = _ds(ckan, resources=[{"url": "http://example.com/a", "name": "a"},
                              {"url": "http://example.com/b", "name": "b"}])
    rid = ds["resources"][0]["id"]
    ckan.call("resource_delete", {"id": rid})
    ckan.call("resource_show", {"id": rid}, label="show deleted")
    ckan.call("package_show", {"id": ds["id"]},
              view=pick("result.resources", "name", "position"))
    ckan.call("resource_delete", {"id": rid}, label="delete again")


def test_reorder(ckan: Case) -> None:
    ds = _ds(ckan, resources=[{"url": f"http://example.com/{n}", "name": n} for n in "abc"])
    ids = [r["id"] for r in ds["resources"]]
    ckan.call("package_resource_reorder", {"id": ds["id"], "order": [ids[2], ids[0]]})
    ckan.call("package_show", {"id": ds["id"]},
              view=pick("result.resources", "name", "position"))
    ckan.call("package_resource_reorder", {"id": ds["id"], "order": ["ct-nope"]},
              label="unknown resource")
    ckan.call("package_resource_reorder", {"id": ds["id"], "order": []}, label="empty order")


def test_resource_in_private_dataset(ckan: Case) -> None:
    org = ckan.org()
    ds = ckan.dataset("ds", org, private=True,
                      resources=[{"url": "http://example.com/a", "name": "a"}])
    rid = ds["resources"][0]["id"]
    member = ckan.actor("member", org)
    ckan.call("resource_show", {"id": rid}, as_="anonymous")
    ckan.call("resource_show", {"id": rid}, as_=member, view=only("result.name"))
    ckan.call("resource_show", {"id": rid}, as_="user")


def test_resource_on_deleted_dataset(ckan: Case) -> None:
    ds = _ds(ckan, resources=[{"url": "http://example.com/a", "name": "a"}])
    ckan.setup("package_delete", {"id": ds["id"]})
    ckan.call("resource_show", {"id": ds["resources"][0]["id"]}, view=only("result.name"))
    ckan.call("resource_create", {"package_id": ds["id"], "url": "http://x"},
              view=only("result.name"), label="create on deleted")


def test_upload_and_download(ckan: Case) -> None:
    ds = _ds(ckan)
    _, body = ckan.call(
        "resource_create", {"package_id": ds["id"], "name": "upload"},
        files={"upload": ("data.csv", CSV, "text/csv")})
    res = body["result"]
    resp = ckan.http("GET", res["url"].replace(ckan.target.url, ""), as_="sysadmin",
                     view=lambda _b: "<bytes>")
    ckan.note("downloaded bytes equal upload", resp.content == CSV)
    ckan.note("download content-type", resp.headers.get("content-type", "").split(";")[0])
    anon = ckan.target.http.get(res["url"].replace(ckan.target.url, ""))
    ckan.note("anonymous download of public", (anon.status_code, anon.content == CSV))


def test_upload_replace_with_patch(ckan: Case) -> None:
    ds = _ds(ckan)
    res = ckan.setup("resource_create", {"package_id": ds["id"], "name": "u"},
                     files={"upload": ("first.csv", CSV, "text/csv")})
    new = b"x,y\n1,2\n3,4\n5,6\n"
    ckan.call("resource_patch", {"id": res["id"]},
              files={"upload": ("second.csv", new, "text/csv")},
              view=only("result.url", "result.size", "result.url_type", "result.mimetype",
                        "result.name"))
    shown = ckan.setup("resource_show", {"id": res["id"]})
    got = ckan.target.http.get(shown["url"].replace(ckan.target.url, ""),
                               headers={"Authorization": ckan.target.token})
    ckan.note("download after patch", (got.status_code, got.content == new))


def test_upload_private_download_auth(ckan: Case) -> None:
    org = ckan.org()
    ds = ckan.dataset("ds", org, private=True)
    res = ckan.setup("resource_create", {"package_id": ds["id"], "name": "u"},
                     files={"upload": ("p.csv", CSV, "text/csv")})
    path = res["url"].replace(ckan.target.url, "")
    ckan.http("GET", path, as_="anonymous", view=lambda b: b if isinstance(b, dict) else "<body>")
    ok = ckan.target.http.get(path, headers={"Authorization": ckan.target.token})
    ckan.note("sysadmin download", (ok.status_code, ok.content == CSV))


def test_upload_with_url_switches_back(ckan: Case) -> None:
    ds = _ds(ckan)
    res = ckan.setup("resource_create", {"package_id": ds["id"], "name": "u"},
                     files={"upload": ("f.csv", CSV, "text/csv")})
    ckan.call("resource_patch", {"id": res["id"], "url": "http://example.com/elsewhere.csv",
                                 "url_type": ""},
              view=only("result.url", "result.url_type"))


def test_download_unknown(ckan: Case) -> None:
    ds = _ds(ckan, resources=[{"url": "http://example.com/a.csv", "name": "a"}])
    rid = ds["resources"][0]["id"]
    ckan.http("GET", f"/dataset/{ds['id']}/resource/{rid}/download/a.csv",
              view=lambda b: b if isinstance(b, dict) else "<body>")
    ckan.http("GET", f"/dataset/{ds['id']}/resource/ct-nope/download/a.csv",
              view=lambda b: b if isinstance(b, dict) else "<body>")
