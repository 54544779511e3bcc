"""``ckanx serve``: startup output, token handling, bad input, clean shutdown."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from ckanx.cli import main
from ckanx.cli.serve import ServeExit, run_serve, write_token_file

URL_RE = re.compile(r"serving at (http://\S+)")


@pytest.fixture
def busy_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def _error_line(result) -> str:  # type: ignore[no-untyped-def]
    assert "Traceback" not in result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_port_in_use_is_one_line_exit_1(busy_port: int) -> None:
    result = CliRunner().invoke(main, ["serve", "--port", str(busy_port)])
    assert result.exit_code == ServeExit.FAILURE == 1
    assert _error_line(result) == (
        f"ckanx serve: error: cannot listen on 127.0.0.1:{busy_port}: Address already in use"
    )


def test_missing_seed_file_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    result = CliRunner().invoke(main, ["serve", "--port", "0", "--seed", str(missing)])
    assert result.exit_code == ServeExit.BAD_INPUT == 2
    assert _error_line(result) == f"ckanx serve: error: --seed {missing}: No such file or directory"


def test_bad_json_line_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"name": "a"}\n\n{"name": \n')
    result = CliRunner().invoke(main, ["serve", "--port", "0", "--seed", str(bad)])
    assert result.exit_code == 2
    assert _error_line(result).startswith(f"ckanx serve: error: --seed {bad}:3: bad JSON: ")


def test_non_object_line_and_bad_gzip(tmp_path: Path) -> None:
    arr = tmp_path / "arr.jsonl"
    arr.write_text("[1, 2]\n")
    result = CliRunner().invoke(main, ["serve", "--port", "0", "--seed", str(arr)])
    assert result.exit_code == 2
    assert _error_line(result).endswith(f"{arr}:1: expected a JSON object per line")
    gz = tmp_path / "broken.jsonl.gz"
    gz.write_bytes(b"\x1f\x8b\x08\x00garbage")
    result = CliRunner().invoke(main, ["serve", "--port", "0", "--seed", str(gz)])
    assert result.exit_code == 2
    assert _error_line(result).startswith(f"ckanx serve: error: --seed {gz}: ")


def _serve_in_thread(**kwargs):  # type: ignore[no-untyped-def]
    out, err, stop = io.StringIO(), io.StringIO(), threading.Event()
    result: dict[str, object] = {}

    def target() -> None:
        result["code"] = run_serve(out=out, err=err, stop=stop, **kwargs)

    thread = threading.Thread(target=target)
    thread.start()
    deadline = time.monotonic() + 20
    while "press Ctrl-C" not in err.getvalue():
        assert thread.is_alive(), err.getvalue()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return out, err, stop, thread, result


def _defaults(**over):  # type: ignore[no-untyped-def]
    base = dict(
        host="127.0.0.1",
        port=0,
        data_dir=None,
        seeds=[],
        default_owner_org=None,
        token_file=None,
        ckan_version="2.11",
    )
    base.update(over)
    return base


def test_serves_with_matching_site_url_then_stops(tmp_path: Path) -> None:
    out, err, stop, thread, result = _serve_in_thread(**_defaults(data_dir=tmp_path / "site", ckan_version="2.12"))
    url = URL_RE.search(out.getvalue()).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
    status = httpx.get(f"{url}/api/3/action/status_show").json()["result"]
    assert status["site_url"] == url
    assert status["ckan_version"] == "2.12.0"
    assert "warning" not in err.getvalue()  # loopback: no warning
    stop.set()
    thread.join(15)
    assert result["code"] == ServeExit.OK
    assert err.getvalue().rstrip().endswith("stopped")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/3/action/status_show", timeout=2)
    assert (tmp_path / "site" / "catalog.db").exists()  # --data-dir state is kept


def test_token_file_mode_0600_and_token_not_printed(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("old")
    token_file.chmod(0o644)
    out, err, stop, thread, result = _serve_in_thread(**_defaults(token_file=token_file))
    stop.set()
    thread.join(15)
    assert result["code"] == ServeExit.OK
    site_token = token_file.read_text().strip()
    assert site_token not in ("", "old")
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert f"sysadmin API token written to {token_file}" in out.getvalue()
    # the token itself is never printed when a file was asked for
    assert site_token not in out.getvalue() + err.getvalue()


def test_token_printed_without_token_file() -> None:
    out, err, stop, thread, _ = _serve_in_thread(**_defaults())
    stop.set()
    thread.join(15)
    match = re.search(r"^sysadmin API token: (\S+)$", out.getvalue(), re.M)
    assert match is not None, out.getvalue() + err.getvalue()


def test_write_token_file_resets_mode(tmp_path: Path) -> None:
    path = tmp_path / "t"
    path.write_text("previous contents, longer than the token")
    path.chmod(0o666)
    write_token_file(path, "abc")
    assert path.read_text() == "abc\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_non_loopback_host_warns() -> None:
    out, err, stop, thread, result = _serve_in_thread(**_defaults(host="0.0.0.0"))
    stop.set()
    thread.join(15)
    assert "warning: listening on 0.0.0.0" in err.getvalue()
    assert "serving at http://127.0.0.1:" in out.getvalue()
    assert result["code"] == ServeExit.OK


def test_ctrl_c_in_a_real_process_exits_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from ckanx.cli import main; main()",
            "serve",
            "--port",
            "0",
            "--token-file",
            str(tmp_path / "tok"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        url = None
        for line in proc.stdout:
            match = URL_RE.search(line)
            if match:
                url = match.group(1)
                break
        assert url is not None
        assert httpx.get(f"{url}/api/3/action/status_show").status_code == 200
        # the site is reachable until the token line is out; then interrupt
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert stderr.rstrip().endswith("stopped")


def test_seed_files_are_loaded_before_the_url_is_printed(tmp_path: Path) -> None:
    import gzip
    import json

    rows = [
        {"name": "serve-ds", "title": "T", "organization": {"name": "serve-org"}},
        {"name": "serve-orphan", "title": "No org"},
    ]
    plain = tmp_path / "a.jsonl"
    plain.write_text(json.dumps(rows[0]) + "\n")
    gz = tmp_path / "b.jsonl.gz"
    with gzip.open(gz, "wt") as f:
        f.write(json.dumps(rows[1]) + "\n")
    out, err, stop, thread, result = _serve_in_thread(**_defaults(seeds=[plain, gz], default_owner_org="serve-default"))
    try:
        url = URL_RE.search(out.getvalue()).group(1)  # type: ignore[union-attr]
        names = httpx.get(f"{url}/api/3/action/package_list").json()["result"]
        assert sorted(names) == ["serve-ds", "serve-orphan"]
        orphan = httpx.get(f"{url}/api/3/action/package_show?id=serve-orphan").json()["result"]
        assert orphan["organization"]["name"] == "serve-default"
    finally:
        stop.set()
        thread.join(15)
    assert f"seeded {plain}: 1/1 datasets" in err.getvalue()
    assert f"seeded {gz}: 1/1 datasets" in err.getvalue()
    assert result["code"] == ServeExit.OK


def test_seed_reports_datasets_without_organization(tmp_path: Path) -> None:
    import json

    dump = tmp_path / "d.jsonl"
    dump.write_text("\n".join(json.dumps({"name": f"orphan-{i}", "title": "x"}) for i in range(7)) + "\n")
    _out, err, stop, thread, _ = _serve_in_thread(**_defaults(seeds=[dump]))
    stop.set()
    thread.join(15)
    assert f"seeded {dump}: 0/7 datasets" in err.getvalue()
    assert "7 skipped without an organization" in err.getvalue()
    assert (
        "  skipped without an organization: orphan-0, orphan-1, orphan-2, orphan-3, orphan-4"
        " (+2 more)" in err.getvalue()
    )
