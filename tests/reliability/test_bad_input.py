"""A corpus of bad input through the command line (CliRunner) against the embedded CKAN.

Every case must end with a non-zero exit, no traceback, one clear line naming the problem and the
argument or input line it concerns, and every file that existed before (inputs, an earlier output,
an earlier checkpoint) byte for byte as it was.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ckanx.cli import main
from ckanx.testing import CKANServer

from .leakcheck import recording_server


@dataclass(frozen=True)
class Case:
    """One bad input: ``args`` (with ``{tmp}``, ``{srv}``, ``{html}``, ``{closed}``, ``{tls}`` filled in)."""

    args: tuple[str, ...]
    expect: tuple[str, ...]  # all must appear (case-insensitive) in the one error line
    exit: int = 2
    files: dict[str, bytes] = field(default_factory=dict)
    stdin: str | None = None
    token: str = "site"  # "site", "garbage", "revoked" or "none"
    env: dict[str, str] = field(default_factory=dict)
    target: bool = True  # add -r/--token-file (False when the case gives its own)


GOOD = b'{"name": "bad-in-ok-%d", "owner_org": "rel-org"}\n'
NESTED = "[" * 100_000 + "]" * 100_000


def _good(i: int) -> bytes:
    return GOOD % i


def _gz(data: bytes) -> bytes:
    return gzip.compress(data)


CASES: dict[str, Case] = {
    # ---- KEY=STRING | KEY:JSON | KEY@FILE
    "arg-no-separator": Case(("action", "package_show", "id"), ("argument 'id'", "KEY=STRING")),
    "arg-empty-key-equals": Case(("action", "package_show", "=x"), ("argument '=x'",)),
    "arg-empty-key-colon": Case(("action", "package_show", ":[1]"), ("argument ':[1]'",)),
    "arg-empty-key-at": Case(("action", "package_show", "@f"), ("argument '@f'",)),
    "arg-json-bare-word": Case(("action", "package_search", "rows:ten"), ("argument rows", "invalid JSON")),
    "arg-json-open-brace": Case(("action", "package_search", "fq:{"), ("argument fq", "invalid JSON")),
    "arg-json-open-list": Case(("action", "package_patch", "tags:[1,"), ("argument tags", "invalid JSON")),
    "arg-json-single-quotes": Case(("action", "package_patch", "extras:['a']"), ("argument extras", "invalid JSON")),
    "arg-json-trailing-garbage": Case(("action", "package_search", "rows:1x"), ("argument rows", "invalid JSON")),
    "arg-json-nan": Case(("action", "package_search", "rows:NaN"), ("rows", "NaN")),
    "arg-json-deeply-nested": Case(("action", "package_search", "fq:" + NESTED), ("argument fq",)),
    "arg-file-missing": Case(
        ("action", "resource_create", "package_id=x", "upload@{tmp}/missing.csv"), ("upload@", "no such file")
    ),
    "arg-file-directory": Case(("action", "resource_create", "upload@{tmp}"), ("upload@", "is a directory")),
    "arg-file-unknown-user-home": Case(
        ("action", "resource_create", "upload@~no-such-user-xyz/data.csv"), ("upload@", "no-such-user-xyz")
    ),
    "arg-file-with-get": Case(
        ("action", "resource_create", "-g", "upload@{tmp}/data.csv"), ("GET",), files={"data.csv": b"a\n1\n"}
    ),
    # ---- -i / -I JSON objects
    "input-missing-file": Case(("action", "package_show", "-I", "{tmp}/nope.json"), ("nope.json",)),
    "input-invalid-json": Case(
        ("action", "package_show", "-I", "{tmp}/bad.json"), ("bad.json", "invalid JSON"), files={"bad.json": b"{"}
    ),
    "input-not-object": Case(
        ("action", "package_show", "-I", "{tmp}/list.json"), ("list.json", "JSON object"), files={"list.json": b"[1]"}
    ),
    "input-not-utf8": Case(
        ("action", "package_show", "-I", "{tmp}/latin.json"), ("latin.json",), files={"latin.json": b'{"id": "\xe9"}'}
    ),
    "input-stdin-not-json": Case(("action", "package_show", "-i"), ("stdin", "invalid JSON"), stdin="hello"),
    "input-stdin-and-args": Case(("action", "package_show", "-i", "id=x"), ("cannot be combined",), stdin="{}"),
    "input-stdin-deeply-nested": Case(("action", "package_show", "-i"), ("stdin",), stdin=NESTED),
    # ---- site URLs
    "url-no-scheme": Case(("action", "status_show", "-r", "ckan.example.org"), ("scheme",), target=False),
    "url-ftp-scheme": Case(("action", "status_show", "-r", "ftp://ckan.example.org"), ("ftp",), target=False),
    "url-no-host": Case(("action", "status_show", "-r", "http://"), ("host",), target=False),
    "url-credentials": Case(
        ("action", "status_show", "-r", "https://u:p@ckan.example.org"), ("credentials",), target=False
    ),
    "url-not-ckan-html": Case(
        ("action", "status_show", "-r", "{html}/html/site"), ("status_show", "HTML", "Welcome"), exit=1, target=False
    ),
    "url-login-page": Case(
        ("action", "status_show", "-r", "{html}/reflect-html200/sso"), ("status_show", "HTML", "Login"), exit=1,
        target=False,
    ),
    "url-wrong-path-on-ckan": Case(("action", "status_show", "-r", "{srv}/catalog"), ("status_show", "HTML"), exit=1),
    "url-closed-port": Case(
        ("action", "status_show", "-r", "{closed}"), ("status_show", "127.0.0.1"), exit=1, target=False
    ),
    "url-tls-to-plain-http": Case(("action", "status_show", "-r", "{tls}"), ("status_show", "https://"), exit=1),
    "url-plain-http-remote-with-token": Case(
        ("action", "status_show", "-r", "http://ckan.invalid", "--token-file", "{tmp}/token"),
        ("plain http", "ckan.invalid"),
        files={"token": b"ckanx-test-token-corpus"},
        target=False,
    ),
    "unknown-action": Case(("action", "no_such_action"), ("no_such_action",), exit=1),
    # ---- tokens
    "token-file-missing": Case(
        ("action", "status_show", "-r", "{srv}", "--token-file", "{tmp}/no-token"), ("--token-file",), target=False
    ),
    "token-garbage-write": Case(
        ("action", "package_create", "name=bad-in-garbage", "owner_org=rel-org"), ("package_create",), exit=1,
        token="garbage",
    ),
    "token-revoked-write": Case(
        ("action", "package_patch", "id=bad-in-fixture", "notes=x"), ("package_patch",), exit=1, token="revoked"
    ),
    "token-none-write": Case(
        ("action", "package_create", "name=bad-in-anon", "owner_org=rel-org"), ("package_create",), exit=1,
        token="none",
    ),
    # ---- load: the input file
    "load-malformed-json-middle": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl"),
        ("line 3", "invalid JSON"),
        files={"in.jsonl": _good(1) + _good(2) + b'{"name": "broken",\n' + _good(4)},
    ),
    "load-invalid-utf8-middle": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl"),
        ("line 2", "UTF-8"),
        files={"in.jsonl": _good(5) + b'{"name": "caf\xe9", "owner_org": "rel-org"}\n' + _good(6)},
    ),
    "load-huge-garbage-line": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl"),
        ("line 2", "invalid JSON"),
        files={"in.jsonl": _good(7) + b"x" * 3_000_000 + b"\n"},
    ),
    "load-deeply-nested-line": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl"),
        ("line 1",),
        files={"in.jsonl": NESTED.encode() + b"\n"},
    ),
    "load-bom": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl"),
        ("line 1",),
        files={"in.jsonl": b"\xef\xbb\xbf" + b'{"name": "bad-in-bom", "owner_org": "rel-org"}\n'},
    ),
    "load-truncated-gzip": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl.gz"),
        ("in.jsonl.gz",),
        files={"in.jsonl.gz": _gz(_good(8) * 50)[:-20]},
    ),
    "load-gz-name-not-gzip": Case(
        ("load", "datasets", "-I", "{tmp}/plain.jsonl.gz"), ("plain.jsonl.gz",), files={"plain.jsonl.gz": _good(9)}
    ),
    "load-missing-file": Case(("load", "datasets", "-I", "{tmp}/missing.jsonl"), ("missing.jsonl",)),
    "load-directory": Case(("load", "datasets", "-I", "{tmp}"), ("-I",)),
    "load-array-record": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl"), ("line 1", "JSON object", "list"), exit=3,
        files={"in.jsonl": b"[1, 2]\n"},
    ),
    "load-string-record": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl"), ("line 2", "JSON object", "str"), exit=3,
        files={"in.jsonl": _good(10) + b'"just a name"\n'},
    ),
    "load-number-record": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl"), ("line 1", "JSON object"), exit=3, files={"in.jsonl": b"42\n"}
    ),
    "load-null-record": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl"), ("line 1", "JSON object"), exit=3, files={"in.jsonl": b"null\n"}
    ),
    "load-tags-not-list": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl"), ("line 1", "bad-in-tags", "tags"), exit=3,
        files={"in.jsonl": b'{"name": "bad-in-tags", "owner_org": "rel-org", "tags": "a,b"}\n'},
    ),
    "load-resources-not-list": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl"), ("line 1", "bad-in-res", "resources"), exit=3,
        files={"in.jsonl": b'{"name": "bad-in-res", "owner_org": "rel-org", "resources": {"url": "x"}}\n'},
    ),
    "load-extras-wrong-items": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl"), ("line 1", "bad-in-extras", "extras"), exit=3,
        files={"in.jsonl": b'{"name": "bad-in-extras", "owner_org": "rel-org", "extras": [1, 2]}\n'},
    ),
    "load-name-wrong-type": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl"), ("line 1", "name"), exit=3,
        files={"in.jsonl": b'{"name": ["x"], "owner_org": "rel-org"}\n'},
    ),
    "load-invalid-name": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl"), ("line 1", "name"), exit=3,
        files={"in.jsonl": b'{"name": "Bad Name!", "owner_org": "rel-org"}\n'},
    ),
    "load-unknown-org": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl"), ("line 1", "bad-in-org", "owner_org"), exit=3,
        files={"in.jsonl": b'{"name": "bad-in-org", "owner_org": "no-such-org"}\n'},
    ),
    "load-resume-without-checkpoint": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl", "--resume"), ("--resume", "checkpoint"),
        files={"in.jsonl": _good(11)},
    ),
    "load-resume-stdin": Case(("load", "datasets", "--resume"), ("--resume",), stdin=""),
    "load-create-and-update-only": Case(("load", "datasets", "-n", "-o"), ("--create-only", "--update-only"), stdin=""),
    "load-start-record-zero": Case(("load", "datasets", "-s", "0"), ("-s",), stdin=""),
    "load-bad-parallel-limit": Case(
        ("load", "datasets", "-I", "{tmp}/in.jsonl"), ("CKANAPI_PARALLEL_LIMIT",), files={"in.jsonl": _good(12)},
        env={"CKANAPI_PARALLEL_LIMIT": "three"},
    ),
    "load-unknown-thing": Case(("load", "widgets"), ("widgets",), stdin=""),
    # ---- dump
    "dump-nothing-to-dump": Case(("dump", "datasets"), ("--all",)),
    "dump-names-and-all": Case(("dump", "datasets", "x", "--all"), ("--all",)),
    "dump-resume-stdout": Case(("dump", "datasets", "--all", "--resume"), ("--resume", "-O")),
    "dump-private-groups": Case(("dump", "groups", "--all", "--include-private"), ("--include-private",)),
    "dump-resume-other-job": Case(
        ("dump", "datasets", "--all", "-O", "{tmp}/existing.jsonl", "--resume"),
        ("--resume", "different job"),
    ),
    "dump-missing-name": Case(("dump", "datasets", "bad-in-no-such-dataset"), ("bad-in-no-such-dataset",), exit=3),
    "dump-output-dir-missing": Case(
        ("dump", "datasets", "--all", "-O", "{tmp}/no-dir/out.jsonl"), ("no-dir",), exit=1
    ),
    "dump-closed-port-keeps-output": Case(
        ("dump", "datasets", "--all", "-O", "{tmp}/existing.jsonl", "-r", "{closed}"),
        ("package_search", "127.0.0.1"),
        exit=1,
        target=False,
    ),
}  # fmt: skip

# cases that showed bugs elsewhere are kept here until fixed (none open: all six were fixed)
KNOWN_BUGS: dict[str, str] = {}

EXISTING = {
    "existing.jsonl": b'{"id": "1", "name": "earlier-dump"}\n',
    "existing.jsonl.ckanx-checkpoint": b'{"version": 1, "job": {"command": "dump", "thing": "groups"}, "state": {}}',
    "other.jsonl.ckanx-checkpoint": b'{"version": 1, "job": {"command": "load"}, "state": {"next": 7}}',
}


@pytest.fixture(scope="module")
def endpoints(site: CKANServer) -> Iterator[dict[str, str]]:
    """``{srv}``, ``{html}`` (a non-CKAN server), ``{closed}`` (nothing listens) and ``{tls}`` URLs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"  # the port is freed at the end of the block
    site.client.action.package_create(name="bad-in-fixture", owner_org="rel-org")
    with recording_server() as (html, _seen):
        yield {"srv": site.url, "html": html, "closed": closed, "tls": site.url.replace("http://", "https://")}


@pytest.fixture(scope="module")
def revoked_token(site: CKANServer) -> str:
    """A token that was valid and has been revoked."""
    user = site.client.action.user_create(name="bad-in-user", email="u@example.org", password="correct-horse-9")
    token: str = site.client.action.api_token_create(user=user["name"], name="t")["token"]
    site.client.action.api_token_revoke(token=token)
    return token


def _fill(arg: str, tmp: Path, endpoints: dict[str, str]) -> str:
    for key, value in {"tmp": str(tmp), **endpoints}.items():
        arg = arg.replace("{" + key + "}", value)
    return arg


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


def _error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith(("ckanx: error:", "Error:"))]


# CKANX_RUN_KNOWN_BUGS=1 runs the known-bug cases too (they fail until fixed)
_ACTIVE = [n for n in CASES if n not in KNOWN_BUGS or os.environ.get("CKANX_RUN_KNOWN_BUGS")]


@pytest.mark.parametrize("name", _ACTIVE)
def test_bad_input_gives_one_clear_line(
    name: str,
    site: CKANServer,
    endpoints: dict[str, str],
    revoked_token: str,
    tmp_path: Path,
    clean_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    case = CASES[name]
    for fname, data in {**EXISTING, **case.files}.items():
        (tmp_path / fname).write_bytes(data)
    before = _digest(tmp_path)
    args = [_fill(a, tmp_path, endpoints) for a in case.args]
    if case.target:
        token = {"site": site.token, "garbage": "garbage-token-0000", "revoked": revoked_token, "none": ""}[case.token]
        args += ["-r", endpoints["srv"]] if "-r" not in args else []
        if token:
            token_file = tmp_path.parent / f"{tmp_path.name}.token"
            token_file.write_text(token)
            args += ["--token-file", str(token_file)]
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)

    result = CliRunner().invoke(main, [*args, "--timeout", "5"], input=case.stdin)

    assert result.exit_code == case.exit, (result.exit_code, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr + result.stdout
    if case.exit == 3:
        # some records failed: each is named (input line or name) in a progress note
        lines = [line for line in result.stderr.splitlines() if line.strip()]
    else:
        lines = _error_lines(result)
        assert len(lines) == 1, result.stderr
    assert any(all(e.lower() in line.lower() for e in case.expect) for line in lines), (case.expect, result.stderr)
    assert all(len(line) < 1000 for line in lines)  # a line, not a dump of the input
    after = _digest(tmp_path)
    assert {k: after.get(k) for k in before} == before  # files that existed are untouched


def test_corpus_is_large_enough() -> None:
    assert len(set(CASES) - set(KNOWN_BUGS)) >= 50


def test_malformed_line_in_the_middle_keeps_the_records_before_it(
    site: CKANServer, tmp_path: Path, clean_env: None
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"".join(_good(i) for i in (101, 102)) + b"{oops\n" + _good(104))
    token_file = tmp_path / "token"
    token_file.write_text(site.token)
    result = CliRunner().invoke(main, ["load", "datasets", "-I", str(source), "-r", site.url, "--token-file",
                                       str(token_file)])  # fmt: skip
    assert result.exit_code == 2 and "line 3" in result.stderr
    names = set(site.client.action.package_list())
    assert {"bad-in-ok-101", "bad-in-ok-102"} <= names and "bad-in-ok-104" not in names


@pytest.mark.parametrize("suffix", ["/api/3/action", "/api/3/action/", "/api/action/package_show"])
def test_site_url_with_an_api_path_is_understood(site: CKANServer, clean_env: None, suffix: str) -> None:
    """Not an error: the API path is cut from the site URL (``ckanx`` says which site it used)."""
    result = CliRunner().invoke(main, ["action", "status_show", "-r", site.url + suffix])
    assert result.exit_code == 0, result.stderr
    assert '"ckan_version"' in result.stdout
