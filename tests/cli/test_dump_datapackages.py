"""``ckanx dump -D DIR`` and ``ckanx load --upload-resources``: each file's own bytes, token only to its site."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from ckanx.bulk.datapackage import resource_filename, same_origin
from tests.bulk.helpers import cli, jsonl


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("CKAN_URL", "CKAN_API_TOKEN", "CKANAPI_PARALLEL_LIMIT", "CKANAPI_MY_SITES"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        _Recorder.seen.append(dict(self.headers))
        body = b"third-party bytes"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def other_host() -> Iterator[str]:
    """A file server on another origin that records the headers it receives."""
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _upload(client: Any, package: str, name: str, content: bytes, filename: str) -> dict[str, Any]:
    result: dict[str, Any] = client.call_action(
        "resource_create", {"package_id": package, "name": name, "format": "CSV"}, {"upload": (filename, content)}
    )
    return result


def test_datapackages_hold_each_resources_own_bytes(
    runner: CliRunner, ckan_server: Any, tmp_path: Path, other_host: str
) -> None:
    ck = ckan_server.client
    ck.action.organization_create(name="org-a")
    ck.action.package_create(name="pkg", owner_org="org-a", private=True)
    _upload(ck, "pkg", "first", b"a,b\n1,2\n", "first.csv")
    _upload(ck, "pkg", "second", b"x,y\n9,9\n", "second.csv")
    ck.action.resource_create(package_id="pkg", name="elsewhere", url=f"{other_host}/file.txt", format="TXT")
    ck.action.resource_create(package_id="pkg", name="api", url=f"{other_host}/api", format="API")
    out = tmp_path / "dp"
    for _ in range(2):  # a second run into the existing directory works
        result = cli(runner, ckan_server, "dump", "datasets", "pkg", "-D", str(out))
        assert result.exit_code == 0, result.stderr
        assert result.stdout == ""  # -D alone writes packages, not JSON lines (as ckanapi)
    package = json.loads((out / "pkg" / "datapackage.json").read_text())
    paths = {r["title"]: r.get("path") for r in package["resources"]}
    assert paths == {
        "first": "data/first.csv",
        "second": "data/second.csv",
        "elsewhere": "data/elsewhere.txt",
        "api": None,
    }
    assert (out / "pkg" / "data" / "first.csv").read_bytes() == b"a,b\n1,2\n"
    assert (out / "pkg" / "data" / "second.csv").read_bytes() == b"x,y\n9,9\n"
    assert (out / "pkg" / "data" / "elsewhere.txt").read_bytes() == b"third-party bytes"
    # the private dataset's files needed the token; the third-party host never saw it
    assert _Recorder.seen and all("Authorization" not in h for h in _Recorder.seen)
    assert not list(out.rglob("*.part"))


def test_resource_filenames_are_unique() -> None:
    taken: set[str] = set()
    names = [resource_filename({"name": "Data", "format": "CSV"}, taken) for _ in range(3)]
    assert names == ["data.csv", "data-1.csv", "data-2.csv"]
    assert resource_filename({"id": "abc", "url": "http://x/y/report.pdf", "format": ""}, taken) == "report.pdf"


def test_same_origin() -> None:
    assert same_origin("http://Site.org/dataset/x/download/f", "http://site.org")
    assert same_origin("https://site.org:443/a", "https://site.org")
    assert not same_origin("http://site.org:8080/a", "http://site.org")
    assert not same_origin("http://site.org.evil/a", "http://site.org")
    assert not same_origin("https://site.org/a", "http://site.org")


def test_load_upload_resources_copies_files_from_the_source(
    runner: CliRunner, ckan_server_factory: Any, tmp_path: Path
) -> None:
    a, b = ckan_server_factory(), ckan_server_factory()
    for srv in (a, b):
        srv.client.action.organization_create(name="org-a")
    a.client.action.package_create(name="pkg", owner_org="org-a", private=True)
    _upload(a.client, "pkg", "first", b"first file", "first.csv")
    _upload(a.client, "pkg", "second", b"second file", "second.csv")
    dumped = cli(runner, a, "dump", "datasets", "pkg").stdout
    src_token = tmp_path / "a-token"
    src_token.write_text(a.token)
    result = cli(
        runner,
        b,
        "load",
        "datasets",
        "--upload-resources",
        "--source-url",
        a.url,
        "--source-token-file",
        str(src_token),
        input=dumped,
    )
    assert result.exit_code == 0, result.stderr
    resources = b.client.action.package_show(id="pkg")["resources"]
    assert [r["url_type"] for r in resources] == ["upload", "upload"]
    assert all(r["url"].startswith(b.url) for r in resources)
    got = [httpx.get(r["url"], headers={"Authorization": b.token}).content for r in resources]
    assert got == [b"first file", b"second file"]
    # without the source's token the private files cannot be fetched: the record fails with the reason
    failed = cli(
        runner,
        b,
        "load",
        "datasets",
        "--upload-resources",
        "-l",
        str(tmp_path / "log"),
        input=json.dumps({**jsonl(dumped)[0], "title": "changed"}) + "\n",
    )
    assert failed.exit_code == 3
    assert "download from the source failed" in failed.stderr
