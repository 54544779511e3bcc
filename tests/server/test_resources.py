"""Resources in the embedded CKAN: CRUD, reorder, uploads (streamed, sanitised) and downloads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from ckanx.server.datasets import validation

Api = Callable[..., tuple[int, Any]]
CSV = b"code,n\na,10\nb,20\n"


def ok(result: tuple[int, Any]) -> Any:
    status, body = result
    assert status == 200, body
    return body["result"]


def error(result: tuple[int, Any], status: int) -> Any:
    got, body = result
    assert got == status, body
    return body["error"]


def get(server: Any, url: str, token: str | None = None) -> httpx.Response:
    """GET a non-API URL of the embedded site in-process."""

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=server.app)
        headers = {"Authorization": token} if token else {}
        async with httpx.AsyncClient(transport=transport, base_url=server.site_url) as client:
            return await client.get(url.replace(server.site_url, ""), headers=headers)

    return anyio.run(run)


@pytest.fixture
def pkg(api: Api, make_org: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    org = make_org("res-org")
    return ok(api("package_create", {"name": "res-ds", "owner_org": org["id"]}))


def test_create_link_resource(api: Api, pkg: dict[str, Any]) -> None:
    res = ok(
        api(
            "resource_create",
            {"package_id": pkg["name"], "url": "http://example.com/data.csv", "name": "d",
             "custom": "kept", "size": "12"},
        )
    )  # fmt: skip
    assert list(res) == [
        "cache_last_updated", "cache_url", "created", "custom", "datastore_active",
        "description", "format", "hash", "id", "last_modified", "metadata_modified", "mimetype",
        "mimetype_inner", "name", "package_id", "position", "resource_type", "size", "state",
        "url", "url_type",
    ]  # fmt: skip
    assert (res["format"], res["mimetype"], res["size"], res["custom"]) == (
        "CSV", "text/csv", 12, "kept",
    )  # fmt: skip
    assert res["package_id"] == pkg["id"] and res["position"] == 0
    assert ok(api("resource_show", {"id": res["id"]}, method="GET")) == res
    shown = ok(api("package_show", {"id": pkg["id"]}))
    assert shown["resources"] == [res] and shown["num_resources"] == 1
    minimal = ok(api("resource_create", {"package_id": pkg["id"]}))
    assert (minimal["url"], minimal["format"], minimal["name"], minimal["position"]) == ("", "", None, 1)


def test_create_errors(api: Api, pkg: dict[str, Any]) -> None:
    assert error(api("resource_create", {"url": "x"}), 409)["package_id"] == ["Missing value"]
    assert error(api("resource_create", {"package_id": "nope", "url": "x"}), 404)["message"] == "Not found"
    err = error(
        api("resource_create", {"package_id": pkg["id"], "url": "x", "size": "big", "last_modified": "zz"}), 409
    )
    assert err == {
        "last_modified": ["Date format incorrect"],
        "size": ["Invalid integer"],
        "__type": "Validation Error",
    }
    # nothing half-written
    assert ok(api("package_show", {"id": pkg["id"]}))["num_resources"] == 0
    err = error(api("resource_create", {"package_id": pkg["id"], "url": "x"}, token=None), 403)
    assert err["message"] == "Access denied: User  not authorized to create resources on dataset " + pkg["id"]


def test_show_update_patch_delete(api: Api, pkg: dict[str, Any]) -> None:
    res = ok(api("resource_create", {"package_id": pkg["id"], "url": "http://e.com/a.csv", "name": "a",
                                     "description": "d", "custom": "c", "format": "csv"}))  # fmt: skip
    assert error(api("resource_show", {"id": "nope"}), 404)["message"] == "Not found"
    assert error(api("resource_show", {}), 409)["id"] == ["Missing value"]
    updated = ok(api("resource_update", {"id": res["id"], "url": "http://e.com/b.json"}))
    # full replace, but CKAN keeps the stored columns it was not sent (except description)
    assert updated["description"] is None and "custom" not in updated
    assert (updated["name"], updated["format"], updated["mimetype"]) == ("a", "CSV", "application/json")
    assert updated["created"] == res["created"]
    err = error(api("resource_update", {"id": "nope", "url": "x"}), 404)
    assert err["message"] == "Not found: Resource was not found."
    patched = ok(api("resource_patch", {"id": res["id"], "description": "again"}))
    assert patched["description"] == "again" and patched["url"] == "http://e.com/b.json"
    assert ok(api("resource_patch", {"id": res["id"], "format": ""}))["format"] == ""
    assert error(api("resource_patch", {"name": "x"}), 409)["id"] == ["Missing value"]
    err = error(api("resource_delete", {"id": res["id"]}, token=None), 403)
    assert err["message"] == f"Access denied: User  not authorized to delete resource {res['id']}"
    assert ok(api("resource_delete", {"id": res["id"]})) is None
    err = error(api("resource_show", {"id": res["id"]}), 404)
    assert err["message"] == "Not found: Resource was not found."
    assert ok(api("resource_delete", {"id": res["id"]})) is None  # again: still fine
    assert error(api("resource_delete", {"id": "nope"}), 404)["message"] == "Not found"
    assert ok(api("package_show", {"id": pkg["id"]}))["resources"] == []


def test_reorder(api: Api, pkg: dict[str, Any]) -> None:
    ids = [ok(api("resource_create", {"package_id": pkg["id"], "name": n}))["id"] for n in "abc"]
    result = ok(api("package_resource_reorder", {"id": pkg["id"], "order": [ids[2], ids[0]]}))
    assert result == {"id": pkg["id"], "order": [ids[2], ids[0], ids[1]]}
    shown = ok(api("package_show", {"id": pkg["id"]}))["resources"]
    assert [(r["name"], r["position"]) for r in shown] == [("c", 0), ("a", 1), ("b", 2)]
    err = error(api("package_resource_reorder", {"id": pkg["id"], "order": ["nope"]}), 409)
    assert err["order"] == "resource_id nope can not be found"
    assert ok(api("package_resource_reorder", {"id": pkg["id"], "order": []}))["order"] == result["order"]


def test_upload_download_and_replace(api: Api, pkg: dict[str, Any], server: Any) -> None:
    res = ok(
        api(
            "resource_create",
            {"package_id": pkg["id"], "name": "up"},
            files={"upload": ("../../My Data (1).CSV", CSV, "text/plain")},
        )
    )
    assert res["url_type"] == "upload" and res["size"] == len(CSV)
    assert res["url"] == (f"{server.site_url}/dataset/{pkg['id']}/resource/{res['id']}/download/my-data-1.csv")
    assert res["mimetype"] == "text/csv" and res["format"] == "CSV"
    assert res["last_modified"] is not None
    stored = list(Path(server.storage_dir).rglob("*"))
    assert all(Path(server.storage_dir) in p.parents for p in stored)
    resp = get(server, res["url"])
    assert resp.status_code == 200 and resp.content == CSV
    assert resp.headers["content-type"].startswith("text/csv")
    new = b"x,y\n1,2\n"
    patched = ok(api("resource_patch", {"id": res["id"]}, files={"upload": ("second.csv", new, "text/csv")}))
    assert patched["url"].endswith("/download/second.csv") and patched["size"] == len(new)
    assert get(server, patched["url"]).content == new
    back = ok(api("resource_patch", {"id": res["id"], "url": "http://e.com/else.csv", "url_type": ""}))
    assert (back["url"], back["url_type"]) == ("http://e.com/else.csv", "")
    link = get(server, f"/dataset/{pkg['id']}/resource/{res['id']}/download/x.csv")
    assert link.status_code == 302 and link.headers["location"] == "http://e.com/else.csv"
    assert get(server, f"/dataset/{pkg['id']}/resource/nope/download/a.csv").status_code == 404


def test_failed_upload_leaves_nothing(api: Api, pkg: dict[str, Any], server: Any) -> None:
    err = error(
        api(
            "resource_create",
            {"package_id": pkg["id"], "created": "not a date"},
            files={"upload": ("a.csv", CSV, "text/csv")},
        ),
        409,
    )
    assert err["created"] == ["Date format incorrect"]
    assert [p for p in Path(server.storage_dir).rglob("*") if p.is_file()] == []
    assert ok(api("package_show", {"id": pkg["id"]}))["num_resources"] == 0


def test_private_download_auth(
    api: Api, make_org: Callable[..., Any], make_user: Callable[..., Any], server: Any
) -> None:
    _, member_token = make_user("res-member")
    _, other_token = make_user("res-other")
    org = make_org("res-priv", users=[("res-member", "member")])
    pkg = ok(api("package_create", {"name": "res-priv-ds", "owner_org": org["id"], "private": True}))
    res = ok(
        api("resource_create", {"package_id": pkg["id"], "name": "u"}, files={"upload": ("p.csv", CSV, "text/csv")})
    )
    assert get(server, res["url"]).status_code == 403
    assert get(server, res["url"], other_token).status_code == 403
    assert get(server, res["url"], member_token).content == CSV
    assert get(server, res["url"], server.sysadmin_token).content == CSV
    err = error(api("resource_show", {"id": res["id"]}, token=None), 403)
    assert err["message"] == f"Access denied: User  not authorized to read resource {res['id']}"
    assert ok(api("resource_show", {"id": res["id"]}, token=member_token))["name"] == "u"


def test_purge_removes_uploaded_file(api: Api, pkg: dict[str, Any], server: Any) -> None:
    ok(api("resource_create", {"package_id": pkg["id"]}, files={"upload": ("a.csv", CSV, "text/csv")}))
    assert [p for p in Path(server.storage_dir).rglob("*") if p.is_file()] != []
    ok(api("dataset_purge", {"id": pkg["id"]}))
    assert [p for p in Path(server.storage_dir).rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..", ".._"),  # as CKAN; the stored path never uses the file name anyway
        ("C:\\Users\\x\\Report 2024.XLSX", "report-2024.xlsx"),
        ("données.csv", "donnees.csv"),
        ("a", "a__"),
    ],
)
def test_munge_filename(given: str, expected: str) -> None:
    assert validation.munge_filename(given) == expected


def test_values_kept_or_normalised_as_ckan(api: Api, pkg: dict[str, Any]) -> None:
    res = ok(
        api(
            "resource_create",
            {
                "package_id": pkg["id"],
                "url": "  example.com/a.csv ",
                "ex_int": 5,
                "ex_dict": {"a": 1},
                "datastore_active": "true",
                "created": "2020-01-02",
                "last_modified": "2020-01-02T03:04:05.123Z",
                "position": 99,
            },
        )
    )
    # a link without a scheme is shown as http://..., extras keep their JSON types
    assert res["url"] == "http://example.com/a.csv"
    assert (res["ex_int"], res["ex_dict"], res["datastore_active"]) == (5, {"a": 1}, "true")
    assert (res["created"], res["last_modified"]) == ("2020-01-02T00:00:00", "2020-01-02T03:04:05.123000")
    assert res["position"] == 0


def test_revise_attaches_file_to_new_resource(api: Api, pkg: dict[str, Any], server: Any) -> None:
    result = ok(
        api(
            "package_revise",
            {"match__id": pkg["id"], "update__resources__extend": '[{"name": "added"}]'},
            files={"update__resources__-1__upload": ("r.csv", CSV, "text/csv")},
        )
    )
    res = result["package"]["resources"][-1]
    assert (res["name"], res["url_type"], res["size"]) == ("added", "upload", len(CSV))
    assert res["url"].endswith(f"/resource/{res['id']}/download/r.csv")
    assert get(server, res["url"]).content == CSV


def test_format_cleaning_and_guessing(api: Api, pkg: dict[str, Any]) -> None:
    given_id = "0b1e9d9e-0000-4000-8000-000000000042"
    new = ok(
        api(
            "package_patch",
            {
                "id": pkg["id"],
                "resources": [
                    {"id": given_id, "url": "http://x/a.pdf"},  # an id: no guessing (as CKAN)
                    {"url": "http://x/b.pdf"},
                    {"url": "http://x/c", "format": "video/mp4"},
                    {"url": "http://x/d", "format": "esri shapefile"},
                    {"url": "http://x/e", "format": "sql"},  # unknown to CKAN: kept
                ],
            },
        )
    )
    assert [r["format"] for r in new["resources"]] == ["", "PDF", "MP4", "SHP", "sql"]
    assert new["resources"][0]["id"] == given_id


def test_upload_too_large(api: Api, pkg: dict[str, Any], server: Any) -> None:
    server.max_resource_size_mb = 0  # CKAN's ckan.max_resource_size (default 10 MB)
    err = error(api("resource_create", {"package_id": pkg["id"]}, files={"upload": ("a.csv", CSV, "text/csv")}), 409)
    assert err == {"upload": ["File upload too large"], "__type": "Validation Error"}
    assert [p for p in Path(server.storage_dir).rglob("*") if p.is_file()] == []


def test_download_headers(api: Api, pkg: dict[str, Any], server: Any) -> None:
    res = ok(api("resource_create", {"package_id": pkg["id"]}, files={"upload": ("data.csv", CSV, "text/csv")}))
    resp = get(server, res["url"])
    assert resp.headers["content-disposition"] == "inline; filename=data.csv"
    assert resp.headers["content-length"] == str(len(CSV))
    # the file name in the URL is only a label: CKAN serves the resource's file under any name
    other = get(server, res["url"].replace("data.csv", "other.csv"))
    assert other.content == CSV and other.headers["content-disposition"] == "inline; filename=other.csv"


def test_replace_keeps_most_columns_and_nulls_are_ignored(api: Api, pkg: dict[str, Any], server: Any) -> None:
    res = ok(
        api(
            "resource_create",
            {"package_id": pkg["id"], "url": "http://x/a.csv", "name": "n", "description": "d", "format": "CSV",
             "hash": "h", "mimetype_inner": "mi", "resource_type": "rt", "cache_url": "cu", "size": 5},
        )
    )  # fmt: skip
    upd = ok(api("resource_update", {"id": res["id"], "url": "http://x/b.json"}))
    kept = {k: upd[k] for k in ("name", "format", "hash", "cache_url", "size")}
    assert kept == {"name": "n", "format": "CSV", "hash": "h", "cache_url": "cu", "size": 5}
    dropped = {k: upd[k] for k in ("description", "mimetype_inner", "resource_type")}
    assert dropped == {"description": None, "mimetype_inner": None, "resource_type": None}
    assert upd["mimetype"] == "application/json"  # guessed again from the new url
    patched = ok(api("resource_patch", {"id": res["id"], "name": None, "size": None, "format": None}))
    assert (patched["name"], patched["size"], patched["format"]) == ("n", 5, "CSV")
    # an upload stays an upload when url_type is sent as null; its url becomes a download link
    up = ok(api("resource_create", {"package_id": pkg["id"]}, files={"upload": ("a.csv", CSV, "text/csv")}))
    moved = ok(api("resource_patch", {"id": up["id"], "url": "http://e/3.xml", "url_type": None}))
    assert moved["url_type"] == "upload" and moved["url"].endswith(f"/resource/{up['id']}/download/3.xml")
    emptied = ok(api("resource_update", {"id": up["id"], "name": "x"}))
    assert emptied["url"].endswith("/download/___")  # CKAN's munged empty file name


def test_delete_drops_datastore_table(api: Api, pkg: dict[str, Any], server: Any) -> None:
    from ckanx.server.datastore import models as ds_models

    created = ok(
        api(
            "datastore_create",
            {"resource": {"package_id": pkg["id"], "name": "table"}, "fields": [{"id": "a", "type": "int"}],
             "records": [{"a": 1}]},
        )
    )  # fmt: skip
    rid = created["resource_id"]
    assert ok(api("resource_show", {"id": rid}))["datastore_active"] is True
    assert ds_models.get_store(server).table(rid) is not None
    assert ok(api("resource_delete", {"id": rid})) is None
    assert ds_models.get_store(server).table(rid) is None
    assert error(api("datastore_search", {"resource_id": rid}), 404)["__type"] == "Not Found Error"


def test_resource_metadata_modified_like_ckan(api: Api, pkg: dict[str, Any]) -> None:
    """A resource's metadata_modified moves when it changes, and once at the first write after
    its creation (CKAN then stores the datastore_active extra package_show added)."""

    def stamps() -> dict[str, str]:
        return {r["name"]: r["metadata_modified"] for r in ok(api("package_show", {"id": pkg["id"]}))["resources"]}

    ok(api("resource_create", {"package_id": pkg["id"], "name": "r1"}))
    first = stamps()
    ok(api("resource_create", {"package_id": pkg["id"], "name": "r2"}))
    second = stamps()
    assert second["r1"] > first["r1"]
    ok(api("resource_create", {"package_id": pkg["id"], "name": "r3"}))
    third = stamps()
    assert third["r1"] == second["r1"] and third["r2"] > second["r2"]
    ok(api("resource_patch", {"id": ok(api("package_show", {"id": pkg["id"]}))["resources"][0]["id"], "name": "r1b"}))
    fourth = stamps()
    assert fourth["r1b"] > third["r1"] and fourth["r2"] == third["r2"] and fourth["r3"] > third["r3"]


def test_file_part_without_name_is_no_upload(api: Api, pkg: dict[str, Any]) -> None:
    res = ok(
        api(
            "resource_create",
            {"package_id": pkg["id"], "url": "http://e.com/a.csv"},
            files={"upload": ("", b"", "application/octet-stream")},
        )
    )
    assert (res["url"], res["url_type"]) == ("http://e.com/a.csv", None)
