"""The bulk commands (dump, load, delete, search, batch) through the CLI against real servers.

Each test runs against the embedded CKAN and, when ``CKANX_TEST_URL`` / ``CKANX_TEST_TOKEN_FILE``
are set, the real one (see ``conftest.py``). The real site is shared with other engineers and
tests: every object made here carries a fresh ``bx<hex>`` prefix, queries are scoped to it, and
everything is purged at the end. About fifteen datasets are written per target, so a run stays
well under a minute on the real CKAN.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import json
import secrets
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

import ckanx
from ckanx.cli import main

pytestmark = pytest.mark.contract


class Site:
    """The target seen by these tests: a client, a unique prefix, and ``ckanx`` through CliRunner."""

    def __init__(self, target: Any, tmp: Path) -> None:
        self.url = target.url
        self.prefix = "bx" + secrets.token_hex(4)
        self.ck = ckanx.Client(target.url, target.token, retries=1)
        self.tmp = tmp
        self.token_file = tmp / "token"
        self.token_file.write_text(target.token)
        self.token_file.chmod(0o600)
        self.runner = CliRunner()
        self.datasets: list[str] = []
        self.orgs: list[str] = []

    def ckanx(self, *args: str, input: str | None = None) -> Result:
        """Run ``ckanx ARGS -r <site> --token-file <file>``; exceptions are failures, not swallowed."""
        return self.runner.invoke(
            main, [*args, "-r", self.url, "--token-file", str(self.token_file)], input=input, catch_exceptions=False
        )

    def org(self, label: str) -> dict[str, Any]:
        org = self.ck.action.organization_create(name=f"{self.prefix}-{label}", title=f"Bulk contract {label}")
        self.orgs.append(org["name"])
        return dict(org)

    def dataset(self, label: str, org: str, **fields: Any) -> dict[str, Any]:
        name = f"{self.prefix}-{label}"
        self.datasets.append(name)
        return dict(
            self.ck.action.package_create(
                name=name,
                owner_org=org,
                title=f"Dataset {label}",
                notes=f"Notes of {label}",
                tags=[{"name": "bulk-contract"}],
                extras=[{"key": "origin", "value": label}],
                resources=[{"url": f"http://example.org/{name}.csv", "name": f"{label} data", "format": "CSV"}],
                **fields,
            )
        )

    def show(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.ck.action.package_show(id=name))
        except ckanx.NotFound:
            return None

    def cleanup(self) -> None:
        for name in self.datasets:
            with contextlib.suppress(ckanx.NotFound):
                self.ck.action.dataset_purge(id=name)
        for org in self.orgs:
            with contextlib.suppress(ckanx.NotFound):
                self.ck.action.organization_purge(id=org)
        self.ck.close()


@pytest.fixture
def site(target: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES"):
        monkeypatch.delenv(var, raising=False)
    s = Site(target, tmp_path)
    try:
        yield s
    finally:
        s.cleanup()


def lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def log_statuses(path: Path) -> list[str]:
    return [entry["status"] for entry in lines(path.read_text())]


def test_dump_named_then_load_to_new_names(site: Site) -> None:
    """dump by name keeps input order; load creates, skips unchanged ones, updates without losing fields."""
    org = site.org("org")
    made = [site.dataset(f"src-{i}", org["name"]) for i in range(3)]
    wanted = [made[2]["name"], made[0]["name"], made[1]["name"]]
    dump = site.tmp / "dump.jsonl"
    result = site.ckanx("dump", "datasets", *wanted, "-p", "3", "-O", str(dump), "-q")
    assert result.exit_code == 0, result.output
    dumped = lines(dump.read_text())
    assert [d["name"] for d in dumped] == wanted
    assert all(d["organization"]["name"] == org["name"] and len(d["resources"]) == 1 for d in dumped)

    # the same records as from another site: new names, no ids, an owner_org id the target never saw;
    # organization.name is what the load must use
    foreign = str(uuid.uuid4())
    copies = []
    for d in dumped:
        rec = {k: v for k, v in d.items() if k not in ("id",)}
        rec["name"] = d["name"].replace("-src-", "-copy-")
        rec["owner_org"] = foreign
        rec["resources"] = [{k: v for k, v in r.items() if k not in ("id", "package_id")} for r in d["resources"]]
        copies.append(rec)
    site.datasets.extend(c["name"] for c in copies)
    load_in = site.tmp / "copies.jsonl"
    load_in.write_text("".join(json.dumps(c) + "\n" for c in copies))
    log = site.tmp / "load.log"
    result = site.ckanx("load", "datasets", "-I", str(load_in), "-p", "2", "-l", str(log), "-q")
    assert result.exit_code == 0, result.output
    assert log_statuses(log) == ["created"] * 3
    created = {c["name"]: site.show(c["name"]) for c in copies}
    for c in copies:
        got = created[c["name"]]
        assert got is not None
        assert got["owner_org"] == org["id"]  # remapped by organization name
        assert got["title"] == c["title"] and got["notes"] == c["notes"]
        assert [r["url"] for r in got["resources"]] == [r["url"] for r in c["resources"]]
        assert {e["key"]: e["value"] for e in got["extras"]} == {e["key"]: e["value"] for e in c["extras"]}

    # loading the same file again writes nothing
    log2 = site.tmp / "reload.log"
    result = site.ckanx("load", "datasets", "-I", str(load_in), "-l", str(log2), "-q")
    assert result.exit_code == 0, result.output
    assert log_statuses(log2) == ["unchanged"] * 3
    for c in copies:
        again = site.show(c["name"])
        assert again is not None
        assert again["metadata_modified"] == created[c["name"]]["metadata_modified"]  # type: ignore[index]

    # an update that names only the title keeps every field the input does not mention
    target_name = copies[0]["name"]
    patch_in = site.tmp / "patch.jsonl"
    patch_in.write_text(json.dumps({"name": target_name, "title": "Retitled by load"}) + "\n")
    log3 = site.tmp / "update.log"
    result = site.ckanx("load", "datasets", "-I", str(patch_in), "-l", str(log3), "-q")
    assert result.exit_code == 0, result.output
    assert log_statuses(log3) == ["updated"]
    before = created[target_name]
    after = site.show(target_name)
    assert before is not None and after is not None
    assert after["title"] == "Retitled by load"
    assert after["notes"] == before["notes"] and after["owner_org"] == before["owner_org"]
    assert [r["id"] for r in after["resources"]] == [r["id"] for r in before["resources"]]
    assert [t["name"] for t in after["tags"]] == [t["name"] for t in before["tags"]]
    assert after["extras"] == before["extras"]


def test_dump_all_walks_by_id(site: Site) -> None:
    """``dump --all`` writes each dataset once, in id order, including this test's datasets.

    The real site is shared: another engineer creating a dataset during the walk makes the final
    count check fail (exit 1, "dump incomplete"), which is the documented behaviour, not a test
    failure; everything else is checked either way.
    """
    org = site.org("org")
    names = {site.dataset(f"all-{i}", org["name"])["name"] for i in range(3)}
    out = site.tmp / "all.jsonl.gz"
    result = site.ckanx("dump", "datasets", "--all", "-O", str(out), "-q")
    assert result.exit_code == 0 or (result.exit_code == 1 and "dump incomplete" in result.output), result.output
    with gzip.open(out, "rt", encoding="utf-8") as f:
        records = lines(f.read())
    ids = [r["id"] for r in records]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert names <= {r["name"] for r in records}
    assert all(list(r) == sorted(r) for r in records[:50])  # keys sorted, as ckanapi writes them
    assert not out.with_name(out.name + ".ckanx-checkpoint").exists()


def test_search_scoped_to_an_organization(site: Site) -> None:
    org = site.org("org")
    other = site.org("other")
    mine = {site.dataset(f"s-{i}", org["name"])["name"] for i in range(3)}
    site.dataset("s-elsewhere", other["name"])
    result = site.ckanx("search", "datasets", f"fq=organization:{org['name']}", "-q")
    assert result.exit_code == 0, result.output
    found = lines(result.stdout)
    assert {d["name"] for d in found} == mine
    assert [d["id"] for d in found] == sorted(d["id"] for d in found)  # keyset order
    one = site.ckanx("search", "datasets", f"fq=organization:{org['name']}", "rows:1", "sort=name desc", "-q")
    assert one.exit_code == 0, one.output
    assert [d["name"] for d in lines(one.stdout)] == [max(mine)]


def test_batch_results_in_order_with_errors(site: Site) -> None:
    org = site.org("org")
    ds = site.dataset("b-0", org["name"])
    batch = [
        {"action": "package_patch", "data": {"id": ds["name"], "notes": "patched by batch"}},
        {"action": "package_show", "data": {"id": f"{site.prefix}-missing"}},
        {"action": "package_create", "data": {"name": f"{site.prefix}-b-noorg"}},
        {"action": "package_show", "data": {"id": ds["name"]}},
    ]
    result = site.ckanx("batch", "-q", input="".join(json.dumps(b) + "\n" for b in batch))
    assert result.exit_code == 3, result.output  # some lines failed for good
    out = lines(result.stdout)
    assert [o["line"] for o in out] == [1, 2, 3, 4]
    assert out[0]["result"]["notes"] == "patched by batch"
    assert out[1]["error"]["__type"] == "Not Found Error"
    assert out[2]["error"]["owner_org"] == ["An organization must be provided"]
    assert out[3]["result"]["notes"] == "patched by batch"


def test_delete_then_purge(site: Site) -> None:
    org = site.org("org")
    a, b, c = (site.dataset(f"d-{i}", org["name"])["name"] for i in range(3))
    log = site.tmp / "delete.log"
    result = site.ckanx("delete", "datasets", a, b, "-l", str(log), "-q")
    assert result.exit_code == 0, result.output
    assert log_statuses(log) == ["deleted", "deleted"]
    for name in (a, b):
        shown = site.show(name)  # a sysadmin still sees a deleted dataset
        assert shown is not None and shown["state"] == "deleted"
    untouched = site.show(c)
    assert untouched is not None and untouched["state"] == "active"

    result = site.ckanx("delete", "datasets", "--purge", a, c, f"{site.prefix}-never-made", "-q")
    assert result.exit_code == 3, result.output  # the missing one fails, the others are purged
    assert site.show(a) is None and site.show(c) is None
    deleted = site.show(b)
    assert deleted is not None and deleted["state"] == "deleted"
    # the name of a purged dataset is free again
    again = site.dataset("d-0", org["name"])
    assert again["name"] == a and again["state"] == "active"


# a 1x1 PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da6364f8cf500f00038601805a347d6b0000000049454e44ae426082"
)


@pytest.fixture
def source_site() -> Iterator[str]:
    """A stand-in source CKAN that serves one uploaded group image at /uploads/group/<name>."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == f"/uploads/group/{STAMPED}":
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(PNG)))
                self.end_headers()
                self.wfile.write(PNG)
            else:
                self.send_error(404)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


STAMPED = "2026-01-02-030405.123456logo.png"  # how CKAN names an uploaded group image


def test_load_upload_logo(site: Site, source_site: str, target: Any) -> None:
    """``--upload-logo`` copies an image uploaded on the source; a linked image stays a link."""
    uploaded = f"{site.prefix}-logo"
    linked = f"{site.prefix}-link"
    site.orgs.extend([uploaded, linked])
    records = [
        {"name": uploaded, "title": "Uploaded logo", "image_url": STAMPED},  # as dumped from the source
        {"name": linked, "title": "Linked logo", "image_url": "http://example.org/logo.png"},
    ]
    path = site.tmp / "orgs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    log = site.tmp / "orgs.log"
    args = ["load", "organizations", "-I", str(path), "--upload-logo", "--source-url", source_site, "-l", str(log)]
    result = site.ckanx(*args, "-q")
    link = site.ck.action.organization_show(id=linked)
    assert link["image_url"] == "http://example.org/logo.png"
    org = site.ck.action.organization_show(id=uploaded)
    entries = lines(log.read_text())
    if target.name == "embedded":
        # the embedded server ignores image_upload (a known gap of ckanx.server): the load must
        # say so, never report success while the image is missing
        assert result.exit_code == 3, result.output
        assert entries[0]["status"] == "error"
        assert "did not store the uploaded image" in entries[0]["error"]
        assert org["image_url"] == ""
        return
    assert result.exit_code == 0, result.output
    assert [e["status"] for e in entries] == ["created", "created"]
    # CKAN stored a new upload (its own time prefix + the original name) with the same bytes
    assert org["image_url"].endswith("logo.png") and org["image_url"] != STAMPED
    assert org["image_display_url"].endswith("/uploads/group/" + org["image_url"])
    assert httpx.get(org["image_display_url"], timeout=30).content == PNG
    # loading again: the bytes are compared, nothing is written
    log.unlink()
    again = site.ckanx(*args, "-q")
    assert again.exit_code == 0, again.output
    assert [e["status"] for e in lines(log.read_text())] == ["unchanged", "unchanged"]
    assert site.ck.action.organization_show(id=uploaded)["image_url"] == org["image_url"]
