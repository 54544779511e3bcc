"""Resource files: streamed uploads with size+hash, skips, nested metadata, verified resumable downloads,
and the token kept to the CKAN host."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ckanx import Client
from ckanx.files import AsyncFiles, Files, VerificationError

THIRD_PARTY = "files.example.org"


class Watch(httpx.HTTPTransport):
    """Forwards to the embedded server; answers for a third-party host itself; records what it saw."""

    def __init__(self, third_party_body: bytes = b"", redirect_to: str | None = None) -> None:
        super().__init__()
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.body = third_party_body
        self.redirect_to = redirect_to

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, str(request.url), dict(request.headers)))
        if request.url.host == THIRD_PARTY:
            if self.redirect_to and request.url.path == "/moved":
                return httpx.Response(302, headers={"location": self.redirect_to})
            return httpx.Response(200, content=self.body)
        return super().handle_request(request)

    def actions(self) -> list[str]:
        return [url.rsplit("/", 1)[-1] for method, url, _ in self.seen if "/api/3/action/" in url]


@pytest.fixture
def pkg(ckan_server: Any) -> dict[str, Any]:
    ck = ckan_server.client
    ck.action.organization_create(name="files-org")
    return ck.action.package_create(name="files-ds", owner_org="files-org")  # type: ignore[no-any-return]


def make_file(path: Path, size: int, seed: int = 0) -> Path:
    block = hashlib.sha256(str(seed).encode()).digest() * 32
    path.write_bytes((block * (size // len(block) + 1))[:size])
    return path


def test_upload_skip_reupload_and_nested_metadata(ckan_server: Any, pkg: dict[str, Any], tmp_path: Path) -> None:
    src = make_file(tmp_path / "data.bin", 300_000)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    watch = Watch()
    with Client(ckan_server.url, ckan_server.token, transport=watch) as ck:
        files = Files(ck)
        res = files.upload(src, package_id=pkg["id"], metadata={"description": "d", "schema": {"fields": [1]}})
        assert res["url_type"] == "upload"
        assert int(res["size"]) == 300_000 and res["hash"] == f"sha256:{digest}"
        assert res["schema"] == {"fields": [1]}  # a dict, not its JSON text
        assert watch.actions() == ["resource_create", "resource_patch"]

        watch.seen.clear()
        same = files.upload(src, resource_id=res["id"], metadata={"description": "d", "schema": {"fields": [1]}})
        assert same["_ckanx_skipped"] is True and watch.actions() == ["resource_show"]

        make_file(src, 1000, seed=1)
        watch.seen.clear()
        changed = files.upload(src, resource_id=res["id"])
        assert int(changed["size"]) == 1000 and watch.actions() == ["resource_show", "resource_patch"]
        assert changed["hash"] == "sha256:" + hashlib.sha256(src.read_bytes()).hexdigest()


def test_download_verifies_and_resumes(ckan_server: Any, pkg: dict[str, Any], tmp_path: Path) -> None:
    src = make_file(tmp_path / "big.bin", 2_000_000)
    files = Files(ckan_server.client)
    res = files.upload(src, package_id=pkg["id"])
    out = tmp_path / "out"
    out.mkdir()
    report = files.download(res["id"], out)
    assert (out / "big.bin").read_bytes() == src.read_bytes()
    assert report.verified == ["size", "sha256"] and report.resumed_from == 0

    # an interrupted earlier download left a part file: continued with Range, or restarted
    (out / "big.bin").unlink()
    (out / "big.bin.part").write_bytes(src.read_bytes()[:700_000])
    again = files.download(res["id"], out)
    assert (out / "big.bin").read_bytes() == src.read_bytes()
    assert again.resumed_from == 700_000  # the embedded server, like CKAN's, answers Range with 206
    assert not (out / "big.bin.part").exists()

    # a part file with wrong bytes is caught by the hash
    (out / "big.bin.part").write_bytes(b"x" * 700_000)
    if again.resumed_from == 700_000:
        with pytest.raises(VerificationError, match="sha256"):
            files.download(res["id"], out)


def test_token_only_for_the_ckan_host(ckan_server: Any, pkg: dict[str, Any], tmp_path: Path) -> None:
    body = b"third party bytes"
    ck0 = ckan_server.client
    ext = ck0.action.resource_create(package_id=pkg["id"], url=f"https://{THIRD_PARTY}/x/report.csv",
                                     name="external", hash=hashlib.sha256(body).hexdigest(), size=len(body))
    moved_target = f"https://{THIRD_PARTY}/x/report.csv"
    watch = Watch(body, redirect_to=moved_target)
    with Client(ckan_server.url, ckan_server.token, transport=watch) as ck:
        files = Files(ck)
        # a leftover part file, and a host that ignores Range (answers 200): the download restarts
        (tmp_path / "r.csv.part").write_bytes(b"junk")
        report = files.download(ext["id"], tmp_path / "r.csv")
        assert (tmp_path / "r.csv").read_bytes() == body and report.verified == ["size", "sha256"]
        assert report.resumed_from == 0
        assert [h.get("range") for _m, url, h in watch.seen if THIRD_PARTY in url] == ["bytes=4-"]
        third = [h for _m, url, h in watch.seen if THIRD_PARTY in url]
        ours = [h for _m, url, h in watch.seen if THIRD_PARTY not in url]
        assert third and all("authorization" not in h for h in third)
        assert ours and all(h.get("authorization") == ckan_server.token for h in ours)

        # the same after a redirect from another host
        moved = ck0.action.resource_create(package_id=pkg["id"], url=f"https://{THIRD_PARTY}/moved", name="m")
        watch.seen.clear()
        files.download(moved["id"], tmp_path / "m.csv")
        assert [url for _m, url, _h in watch.seen if THIRD_PARTY in url] == [f"https://{THIRD_PARTY}/moved",
                                                                            moved_target]
        assert all("authorization" not in h for _m, url, h in watch.seen if THIRD_PARTY in url)


def test_download_dataset_keeps_same_named_files(ckan_server: Any, pkg: dict[str, Any], tmp_path: Path) -> None:
    files = Files(ckan_server.client)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = make_file(tmp_path / "a" / "data.csv", 10, seed=1)
    b = make_file(tmp_path / "b" / "data.csv", 20, seed=2)
    ra = files.upload(a, package_id=pkg["id"])
    rb = files.upload(b, package_id=pkg["id"])
    reports = files.download_dataset(pkg["name"], tmp_path / "all")
    written = {Path(r.path).name: Path(r.path).read_bytes() for r in reports}
    assert written == {"data.csv": a.read_bytes(), f"{rb['id']}-data.csv": b.read_bytes()}
    assert ra["id"] != rb["id"]


def test_bad_hash_is_refused(ckan_server: Any, pkg: dict[str, Any], tmp_path: Path) -> None:
    files = Files(ckan_server.client)
    src = make_file(tmp_path / "f.bin", 5000)
    res = files.upload(src, package_id=pkg["id"])
    ckan_server.client.action.resource_patch(id=res["id"], hash="sha256:" + "0" * 64)
    with pytest.raises(VerificationError, match="differs"):
        files.download(res["id"], tmp_path / "copy.bin")
    assert not (tmp_path / "copy.bin").exists()
    report = files.download(res["id"], tmp_path / "copy.bin", verify=False)
    assert report.verified == [] and (tmp_path / "copy.bin").read_bytes() == src.read_bytes()


@pytest.mark.anyio
async def test_async_twin(ckan_server: Any, pkg: dict[str, Any], tmp_path: Path) -> None:
    from ckanx import AsyncClient

    src = make_file(tmp_path / "f.bin", 50_000)
    async with AsyncClient(ckan_server.url, ckan_server.token) as ack:
        files = AsyncFiles(ack)
        res = await files.upload(src, package_id=pkg["id"], metadata={"extra": ["x"]})
        assert json.dumps(res["extra"]) == '["x"]'
        report = await files.download(res["id"], tmp_path / "copy.bin")
        assert report.verified == ["size", "sha256"]
        assert (tmp_path / "copy.bin").read_bytes() == src.read_bytes()
