"""The API token never leaks, and goes only to the configured site.

Representative commands and library calls run with a known token (the embedded site's sysadmin
token); every captured stream, log record (all loggers, DEBUG), log file, exception text,
traceback and repr is searched for it. Process creation is watched during bulk jobs: no child
process may carry the token (and the bulk engine starts none).
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

import ckanx
from ckanx.bulk.load import LoadOptions
from ckanx.cli import main
from ckanx.cli._target import ResolvedTarget, TargetOptions, resolve_target
from ckanx.files import Files
from ckanx.testing import CKANServer
from ckanx.testing.faults import FaultProxy

from .leakcheck import exception_texts, find_token, recording_server

TIMEOUT = httpx.Timeout(2.0, connect=1.0)
LEAKS_CHECKED: list[int] = []  # how many texts were searched (figure for docs/reliability.md)


@pytest.fixture
def runner(clean_env: None) -> CliRunner:
    return CliRunner()


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture every log record of every logger (httpx and httpcore included) at DEBUG."""
    caplog.set_level(logging.DEBUG)
    for name in ("ckanx", "httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def _log_texts(caplog: pytest.LogCaptureFixture) -> Iterator[str]:
    for record in caplog.records:
        yield record.getMessage()
        yield repr(record.args)
        if record.exc_info and record.exc_info[1] is not None:
            yield from exception_texts(record.exc_info[1])


def _result_texts(result: Result) -> Iterator[str]:
    yield result.stdout
    yield result.stderr
    yield from exception_texts(result.exception)


def _assert_clean(token: str, texts: Iterator[str] | list[str]) -> None:
    texts = list(texts)
    LEAKS_CHECKED.append(len(texts))
    hits = find_token(token, texts)
    assert not hits, f"the token leaked: {hits}"


def _token_file(tmp_path: Path, token: str) -> str:
    path = tmp_path / "token"
    path.write_text(token)
    path.chmod(0o600)
    return str(path)


# ---------------------------------------------------------------- the command line

_CLI_CASES = {
    "not-found": ["action", "package_show", "id=no-such-dataset"],
    "not-found-debug": ["--debug", "action", "package_show", "id=no-such-dataset"],
    "validation-debug": ["--debug", "action", "package_create", "name=leak-no-org"],
    "retries-debug": ["--debug", "action", "status_show"],
    "dump-progress": ["dump", "datasets", "--all"],
    "dump-debug-log": ["--debug", "dump", "datasets", "--all", "-l", "{tmp}/dump-log.jsonl"],
    "load-bad-records": ["load", "datasets", "-I", "{tmp}/in.jsonl", "-l", "{tmp}/load-log.jsonl"],
    "load-bad-records-debug": ["--debug", "load", "datasets", "-I", "{tmp}/in.jsonl", "-p", "3"],
    "search-debug": ["--debug", "search", "datasets", "q=leak"],
}


@pytest.mark.parametrize("case", sorted(_CLI_CASES))
def test_cli_output_logs_and_errors_never_show_the_token(
    runner: CliRunner, site: CKANServer, all_logs: pytest.LogCaptureFixture, tmp_path: Path, case: str
) -> None:
    token = site.token
    (tmp_path / "in.jsonl").write_text(
        '{"name": "leak-ok", "owner_org": "rel-org"}\n'
        '{"name": "leak-bad", "owner_org": "no-such-org"}\n'
        '{"name": "Bad Name!", "owner_org": "rel-org"}\n'
    )
    args = [a.replace("{tmp}", str(tmp_path)) for a in _CLI_CASES[case]]
    # retries: 503s and 502s first, so the debug log shows retry lines
    with FaultProxy(site.url, rate=0.3, seed=case, kinds=["http_503", "http_502", "http_429"]) as proxy:
        result = runner.invoke(main, [*args, "-r", proxy.url, "--token-file", _token_file(tmp_path, token)])
    assert result.stdout or result.stderr or result.exception  # the command did produce something
    texts = [*_result_texts(result), *_log_texts(all_logs)]
    texts += [p.read_text(errors="replace") for p in tmp_path.iterdir() if p.name != "token"]
    _assert_clean(token, texts)


def test_apikey_option_warns_without_echoing_the_token(runner: CliRunner, site: CKANServer) -> None:
    result = runner.invoke(main, ["--debug", "action", "package_show", "id=nope", "-r", site.url, "-a", site.token])
    assert "process list" in result.stderr  # the warning is shown ...
    _assert_clean(site.token, _result_texts(result))  # ... without the token


def test_env_token_with_debug_never_shows_it(
    runner: CliRunner, site: CKANServer, all_logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CKAN_URL", site.url)
    monkeypatch.setenv("CKAN_API_TOKEN", site.token)
    result = runner.invoke(main, ["--debug", "action", "package_create", "name=x"])
    assert result.exit_code != 0
    _assert_clean(site.token, [*_result_texts(result), *_log_texts(all_logs)])


@pytest.mark.parametrize("prefix", ["reflect-html200", "reflect-500", "reflect-json", "reflect-string"])
@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_a_server_echoing_the_token_does_not_make_ckanx_show_it(
    runner: CliRunner, tmp_path: Path, all_logs: pytest.LogCaptureFixture, prefix: str, debug: bool
) -> None:
    token = "ckanx-test-token-0123456789abcdef"
    with recording_server() as (base, seen):
        args = [
            "action",
            "package_show",
            "id=x",
            "-r",
            f"{base}/{prefix}",
            "--token-file",
            _token_file(tmp_path, token),
        ]
        result = runner.invoke(main, (["--debug"] if debug else []) + args)
    assert seen and seen[0]["headers"].get("Authorization") == token  # it really was sent, and echoed
    assert result.exit_code != 0
    _assert_clean(token, [*_result_texts(result), *_log_texts(all_logs)])


# ---------------------------------------------------------------- the library


@pytest.mark.parametrize("prefix", ["reflect-html200", "reflect-500", "reflect-json", "reflect-string"])
def test_library_errors_never_hold_the_token(all_logs: pytest.LogCaptureFixture, prefix: str) -> None:
    token = "ckanx-test-token-fedcba9876543210"
    with (
        recording_server() as (base, _seen),
        ckanx.Client(f"{base}/{prefix}", token, retries=1) as ck,
        pytest.raises(ckanx.CKANAPIError) as caught,
    ):
        ck.action.package_show(id="x")
    _assert_clean(token, [*exception_texts(caught.value), *_log_texts(all_logs)])


def test_reprs_never_show_the_token(tmp_path: Path, clean_env: None) -> None:
    token = "ckanx-test-token-repr-42424242"
    client = ckanx.Client("https://data.example.org", token)
    async_client = ckanx.AsyncClient("https://data.example.org", token)
    options = TargetOptions(remote="https://data.example.org", apikey=token)
    token_file = Path(_token_file(tmp_path, token))
    resolved = resolve_target(TargetOptions(remote="https://data.example.org", token_file=token_file))
    assert resolved.token == token  # the file was really read
    objects: list[Any] = [
        client,
        async_client,
        client.action,
        client.action.package_show,
        options,
        resolved,
        ResolvedTarget("https://data.example.org", token, True),
        LoadOptions(thing="datasets", source_token=token),
    ]
    texts = [repr(o) for o in objects] + [str(o) for o in objects]
    client.close()
    _assert_clean(token, texts)


def test_debug_logging_of_retries_never_shows_the_token(site: CKANServer, all_logs: pytest.LogCaptureFixture) -> None:
    kinds = ["reset_after", "http_502", "http_503", "http_504", "http_429", "truncate", "redirect"]
    with (
        FaultProxy(site.url, rate=0.5, seed=77, kinds=kinds) as proxy,
        ckanx.Client(proxy.url, site.token, timeout=TIMEOUT, retries=8) as ck,
    ):
        for _ in range(4):
            ck.action.package_search(rows=1)
    assert proxy.faults and any("retry" in r.getMessage() for r in all_logs.records)
    _assert_clean(site.token, _log_texts(all_logs))


# ---------------------------------------------------------------- child processes


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record every attempt to start a process (argv and environment) during the test."""
    calls: list[Any] = []
    original = subprocess.Popen.__init__

    def popen(self: Any, args: Any, *rest: Any, **kwargs: Any) -> None:
        calls.append(("Popen", args, kwargs.get("env")))
        original(self, args, *rest, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", popen)
    for name in ("posix_spawn", "posix_spawnp", "execv", "execve", "execvp", "execvpe", "system", "fork"):
        if hasattr(os, name):
            real = getattr(os, name)

            def record(*args: Any, _name: str = name, _real: Any = real, **kwargs: Any) -> Any:
                calls.append((_name, args, kwargs.get("env")))
                return _real(*args, **kwargs)

            monkeypatch.setattr(os, name, record)
    return calls


def test_bulk_jobs_start_no_process_carrying_the_token(
    runner: CliRunner, site: CKANServer, spawned: list[Any], tmp_path: Path
) -> None:
    site.client.action.package_create(name="leak-proc", owner_org="rel-org")
    token_file = _token_file(tmp_path, site.token)
    out = tmp_path / "out.jsonl"
    dumped = runner.invoke(main, ["dump", "datasets", "--all", "-p", "4", "-O", str(out), "-r", site.url,
                                  "--token-file", token_file])  # fmt: skip
    assert dumped.exit_code == 0, dumped.stderr
    loaded = runner.invoke(main, ["load", "datasets", "-I", str(out), "-p", "4", "-r", site.url,
                                  "--token-file", token_file])  # fmt: skip
    assert loaded.exit_code == 0, loaded.stderr
    assert "leak-proc" in out.read_text()
    _assert_clean(site.token, [repr(c) for c in spawned])
    assert spawned == []  # the engine runs in this process: no workers, no argv to leak from


# ---------------------------------------------------------------- where the token goes


def test_redirect_to_another_host_does_not_carry_the_token(site: CKANServer) -> None:
    with recording_server() as (other, seen):
        # "localhost" is another host than "127.0.0.1" for the client: it must drop the token
        elsewhere = other.replace("127.0.0.1", "localhost")
        with (
            FaultProxy(site.url, rate=1.0, seed=1, kinds=["redirect"], max_faults=1, redirect_base=elsewhere) as proxy,
            ckanx.Client(proxy.url, site.token, timeout=TIMEOUT) as ck,
        ):
            result = ck.action.package_search(rows=0)
    assert result == {"served_by": "recorder", "name": "from-recorder"}  # the redirect was followed
    assert len(seen) == 1 and seen[0]["path"] == "/api/3/action/package_search"
    assert "Authorization" not in seen[0]["headers"]


def test_redirect_to_the_same_host_keeps_the_token(site: CKANServer) -> None:
    """The control case: a 307 to the configured site itself keeps the (needed) token."""
    with (
        FaultProxy(site.url, rate=1.0, seed=2, kinds=["redirect"], max_faults=1, only="package_create") as proxy,
        ckanx.Client(proxy.url, site.token, timeout=TIMEOUT) as ck,
    ):
        created = ck.action.package_create(name="leak-redirect-same", owner_org="rel-org")
    assert [f.kind for f in proxy.faults] == ["redirect"]
    assert site.client.action.package_show(id="leak-redirect-same")["id"] == created["id"]


def test_resource_download_from_another_host_has_no_token(site: CKANServer, tmp_path: Path) -> None:
    with recording_server() as (other, seen):
        ds = site.client.action.package_create(
            name="leak-download",
            owner_org="rel-org",
            resources=[{"url": f"{other}/file.csv", "name": "third-party"}],
        )
        with ckanx.Client(site.url, site.token, timeout=TIMEOUT) as ck:
            report = Files(ck).download(ds["resources"][0]["id"], tmp_path)
        runner = CliRunner()
        packages = tmp_path / "packages"
        dumped = runner.invoke(main, ["dump", "datasets", "leak-download", "-D", str(packages), "-r", site.url,
                                      "--token-file", _token_file(tmp_path, site.token)])  # fmt: skip
    assert dumped.exit_code == 0, dumped.stderr
    assert Path(report.path).read_bytes() == b"a,b\n1,2\n"
    assert len(seen) == 2  # the library download and the data-package download both went there
    assert all("Authorization" not in r["headers"] for r in seen)


def test_plain_http_to_a_remote_host_with_a_token_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    token_file = _token_file(tmp_path, "ckanx-test-token-http-000")
    refused = runner.invoke(main, ["action", "status_show", "-r", "http://ckan.invalid", "--token-file", token_file])
    assert refused.exit_code == 2
    assert "refusing to send the API token over plain http to ckan.invalid" in refused.stderr
    assert "Traceback" not in refused.stderr
    # with --allow-http the same target is accepted (no request is needed to show it)
    allowed = resolve_target(TargetOptions(remote="http://ckan.invalid", token_file=Path(token_file), allow_http=True))
    assert allowed.url == "http://ckan.invalid" and allowed.token == "ckanx-test-token-http-000"


def test_profiles_never_show_the_token(
    runner: CliRunner,
    site: CKANServer,
    all_logs: pytest.LogCaptureFixture,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "config.toml"
    monkeypatch.setenv("CKANX_CONFIG", str(config))
    added = runner.invoke(main, ["profile", "add", "leaky", "--url", site.url, "--token-stdin", "--default"],
                          input=site.token + "\n")  # fmt: skip
    assert added.exit_code == 0, added.stderr
    assert site.token in config.read_text()  # it was saved (owner-readable only) ...
    assert (config.stat().st_mode & 0o077) == 0
    results = [
        added,
        runner.invoke(main, ["profile", "list"]),
        runner.invoke(main, ["--debug", "action", "package_show", "id=nope", "--profile", "leaky"]),
        runner.invoke(main, ["action", "package_create", "name=Bad Name", "--profile", "leaky"]),
        runner.invoke(main, ["--debug", "action", "package_create", "name=x"]),  # the default profile
    ]
    assert all(r.exit_code != 0 for r in results[2:])
    assert "name:" in results[3].stderr  # a validation error: the profile's token was used (not a 403)
    texts = [t for r in results for t in _result_texts(r)]
    _assert_clean(site.token, [*texts, *_log_texts(all_logs)])  # ... and never shown
