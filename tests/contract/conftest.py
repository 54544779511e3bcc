"""Fixtures of the server conformance ("contract") suite.

Every case runs against each *target*: ``embedded`` (an :class:`~ckanx.server.core.EmbeddedCKAN` on a
real loopback socket, always) and ``real`` (a real CKAN, when ``CKANX_TEST_URL`` and
``CKANX_TEST_TOKEN`` — or ``CKANX_TEST_TOKEN_FILE`` — are set). A case is an ordinary test that
takes the ``ckan`` fixture (a :class:`Case`) and makes calls through it; every recorded call becomes
a step of the case's *transcript* ``[{call, as, status, body}, ...]``, normalised (ids, tokens,
timestamps, run ids, site URL: see ``normalise.py``). After the test body returns, the transcript is
compared with ``golden/<case>.json``; differences fail the test, except the (case, path) pairs listed
in :data:`KNOWN_DIFFERENCES` (documented in ``KNOWN_DIFFERENCES.md``).

``pytest tests/contract --record-golden`` runs the cases against the real CKAN only and (re)writes
the golden files.

Reusable pieces for other contract tests (e.g. the client tests in ``test_client*.py``):

- ``target`` (session-scoped, parametrised): :class:`Target` with ``url``, ``token`` (sysadmin),
  ``http`` (an ``httpx.Client``), ``call(action, data, token=..., method=..., files=...) ->
  (status, body)``, ``make_user(...)``, ``make_org(...)``, ``make_token(...)``.
- ``ckan`` (function-scoped): :class:`Case` bound to ``target``, with a fresh run id, recording.
- ``run_id``: the case's run id (``ct`` + 8 hex); names made with :meth:`Case.name` contain it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from normalise import Normaliser, diff, jwt_jti

GOLDEN_DIR = Path(__file__).parent / "golden"

# (case id, path) -> reason. A path covers itself and everything below it. Keep each entry exact
# and explain it; see KNOWN_DIFFERENCES.md. Never add an entry to hide a missing feature.
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {
    ("transport__get_query_list_rules", "2:package_show id list"): (
        "CKAN crashes (500) when a repeated query-string key reaches a scalar parameter; "
        "the embedded server answers as for any unknown id (404)"
    ),
    ("transport__get_query_list_rules", "5:rows repeated"): (
        "CKAN crashes (500) when a repeated query-string key reaches a scalar parameter; "
        "the embedded server reports the invalid integer (409)"
    ),
}

_DEFAULT = object()  # "use the sysadmin token"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-golden",
        action="store_true",
        default=False,
        help="run contract cases against the real CKAN (CKANX_TEST_URL) and rewrite golden files",
    )


def _real_credentials() -> tuple[str, str] | None:
    url = os.environ.get("CKANX_TEST_URL", "").rstrip("/")
    token = os.environ.get("CKANX_TEST_TOKEN", "")
    token_file = os.environ.get("CKANX_TEST_TOKEN_FILE", "")
    if not token and token_file:
        token = Path(token_file).read_text().strip()
    return (url, token) if url and token else None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" not in metafunc.fixturenames:
        return
    recording = metafunc.config.getoption("--record-golden")
    names = [] if recording else ["embedded"]
    if _real_credentials() is not None:
        names.append("real")
    elif recording:
        raise pytest.UsageError("--record-golden needs CKANX_TEST_URL and CKANX_TEST_TOKEN")
    metafunc.parametrize("target", names, indirect=True, scope="session")


# ---------------------------------------------------------------------------------------------
# Targets


@dataclass
class Actor:
    """Someone who calls the API: a role label, a user name/id and a token (``None``: anonymous)."""

    role: str
    name: str | None
    id: str | None
    token: str | None


class Target:
    """One CKAN site under test, reached over HTTP.

    Attributes:
        name: ``"embedded"`` or ``"real"``.
        url: base URL without trailing slash.
        token: the sysadmin's API token.
        sysadmin: the sysadmin's user name.
        http: an ``httpx.Client`` with ``base_url=url`` and no auth header.
    """

    def __init__(self, name: str, url: str, token: str, sysadmin: str = "ckan_admin") -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.token = token
        self.sysadmin = sysadmin
        self.http = httpx.Client(base_url=self.url, timeout=30.0)

    def close(self) -> None:
        self.http.close()

    def call(
        self,
        action: str,
        data: dict[str, Any] | None = None,
        *,
        token: Any = _DEFAULT,
        method: str = "POST",
        files: dict[str, Any] | None = None,
        raw: bytes | str | None = None,
        path: str = "/api/3/action/",
    ) -> tuple[int, Any]:
        """Call ``action``; returns ``(status, parsed body)``.

        ``token``: default the sysadmin's, ``None`` for anonymous, or any string (sent as
        ``Authorization: <token>``). ``method="GET"`` sends ``data`` as a query string (a list
        value becomes a repeated key). ``files`` switches to multipart (``data`` values must be
        strings). ``raw`` sends those bytes as a JSON body verbatim (for malformed-JSON cases).
        A body that is not JSON is returned as the string ``"<non-json text/html>"``.
        """
        headers = {}
        tok = self.token if token is _DEFAULT else token
        if tok is not None:
            headers["Authorization"] = tok
        if method == "GET":
            resp = self.http.get(path + action, params=data or {}, headers=headers)
        elif files is not None:
            resp = self.http.post(path + action, data=data or {}, files=files, headers=headers)
        elif raw is not None:
            headers["Content-Type"] = "application/json"
            resp = self.http.post(path + action, content=raw, headers=headers)
        else:
            resp = self.http.post(path + action, json=data or {}, headers=headers)
        return resp.status_code, parse_body(resp)

    def ok(self, action: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        """Call ``action`` and return its ``result``; raise :class:`SetupError` on any failure."""
        status, body = self.call(action, data, **kw)
        if status != 200 or not isinstance(body, dict) or not body.get("success"):
            raise SetupError(f"{self.name}: setup call {action} failed: {status} {body!r:.400}")
        return body["result"]

    def make_user(self, name: str, *, sysadmin: bool = False) -> Actor:
        """Create user ``name`` (password fixed, email ``<name>@example.com``) with an API token."""
        user = self.ok(
            "user_create",
            {"name": name, "email": f"{name}@example.com", "password": "Contract-pass-1234"},
        )
        if sysadmin:
            # CKAN 2.11: a sysadmin may set another user's sysadmin flag with user_patch
            self.ok("user_patch", {"id": user["id"], "sysadmin": True})
        return Actor("sysadmin" if sysadmin else "user", name, user["id"], self.make_token(name))

    def make_token(self, user: str, token_name: str = "contract") -> str:
        return str(self.ok("api_token_create", {"user": user, "name": token_name})["token"])

    def make_org(self, name: str, **fields: Any) -> dict[str, Any]:
        return dict(self.ok("organization_create", {"name": name, **fields}))

    def add_member(self, org: str, user: str, role: str) -> None:
        self.ok("organization_member_create", {"id": org, "username": user, "role": role})

    def sysadmin_actor(self) -> Actor:
        if not hasattr(self, "_sysadmin_id"):
            status, body = self.call("user_show", {"id": self.sysadmin})
            self._sysadmin_id = body["result"]["id"] if status == 200 else None
        return Actor("sysadmin", self.sysadmin, self._sysadmin_id, self.token)


class SetupError(AssertionError):
    """A call a case needs before the interesting part failed (the target lacks a feature)."""


def parse_body(resp: httpx.Response) -> Any:
    ctype = resp.headers.get("content-type", "")
    try:
        return resp.json()
    except ValueError:
        main = ctype.split(";")[0].strip() or "none"
        return f"<non-json {main}>"


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The site under test (parametrised: ``embedded`` and, when configured, ``real``)."""
    if request.param == "real":
        creds = _real_credentials()
        assert creds is not None
        tgt = Target("real", *creds)
        try:
            yield tgt
        finally:
            tgt.close()
        return
    try:
        from ckanx.server.runner import start_server
    except ImportError:  # pragma: no cover - the runner predates this suite
        start_server = None
    if start_server is not None:
        running = start_server()
        tgt = Target("embedded", running.url, running.token, running.server.sysadmin_name)
        try:
            yield tgt
        finally:
            tgt.close()
            running.stop()
        return
    raise RuntimeError("ckanx.server.runner.start_server is missing")


# ---------------------------------------------------------------------------------------------
# Cases and transcripts


def case_id(item: pytest.Item) -> str:
    """Golden file stem of a test: ``<module minus test_server_>__<test name>[__<param ids>]``,
    without the target parameter, unsafe characters replaced by ``_``."""
    module = Path(str(item.fspath)).stem.removeprefix("test_server_").removeprefix("test_")
    base, _, params = item.name.partition("[")
    params = re.sub(r"(^|-)(embedded|real)(?=-|$)", "", params.rstrip("]")).strip("-")
    stem = f"{module}__{base.removeprefix('test_')}"
    if params:
        stem += "__" + params
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", stem)


@dataclass
class Case:
    """A contract case in progress: the target, a run id and the transcript being recorded.

    Use :meth:`call` for steps that belong to the contract (recorded and compared) and
    :meth:`setup` / the ``make_*`` helpers for preparation (not recorded; a failure raises
    :class:`SetupError`, so a target missing a feature fails loudly rather than passing).
    """

    target: Target
    run: str
    id: str
    steps: list[dict[str, Any]] = field(default_factory=list)
    actors: dict[str, Actor] = field(default_factory=dict)
    normaliser: Normaliser = field(init=False)

    def __post_init__(self) -> None:
        self.normaliser = Normaliser(self.target.url)
        self.normaliser.register(self.target.token, "sysadmin_token")

    # names -------------------------------------------------------------------------------
    def name(self, label: str) -> str:
        """A name unique to this run: ``ct<8 hex>-<label>`` (normalised to ``<run>-<label>``)."""
        return f"{self.run}-{label}"

    # recorded steps ---------------------------------------------------------------------
    def call(
        self,
        action: str,
        data: dict[str, Any] | None = None,
        *,
        as_: Actor | str | None = "sysadmin",
        method: str = "POST",
        files: dict[str, Any] | None = None,
        raw: bytes | str | None = None,
        path: str = "/api/3/action/",
        view: Callable[[Any], Any] | None = None,
        label: str | None = None,
    ) -> tuple[int, Any]:
        """Make a recorded call. ``as_``: an :class:`Actor`, a role name known to this case
        (see :meth:`actor`), ``"sysadmin"`` (default) or ``None``/``"anonymous"``.
        ``view`` reshapes the body before it is normalised and recorded (the raw body is
        returned). Returns ``(status, body)``."""
        actor = self._resolve(as_)
        status, body = self.target.call(
            action, data, token=actor.token, method=method, files=files, raw=raw, path=path
        )
        self._register_secrets(action, body)
        shown = json.loads(json.dumps(body))
        if isinstance(shown, dict) and shown.get("help") == (
            f"{self.target.url}/api/3/action/help_show?name={action}"
        ):
            # the expected help link carries no information: leave it out of the golden file
            # (a wrong one stays in the transcript and shows up as a difference)
            del shown["help"]
        if view:
            shown = json.loads(json.dumps(view(shown)))  # tuples -> lists, as in the file
        step: dict[str, Any] = {"call": label or action}
        if actor.role != "sysadmin":
            step["as"] = actor.role
        if method != "POST":
            step["method"] = method
        if path != "/api/3/action/":
            step["path"] = path
        step["status"] = status
        step["body"] = shown
        self.steps.append(self.normaliser(step))
        return status, body

    def http(
        self,
        method: str,
        url: str,
        *,
        as_: Actor | str | None = None,
        view: Callable[[Any], Any] | None = None,
        text: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """A recorded raw HTTP request (path relative to the site): records status, the media
        type and the body (JSON parsed; otherwise ``<non-json type>``, or the text itself with
        ``text=True``)."""
        actor = self._resolve(as_)
        headers = dict(kwargs.pop("headers", {}) or {})
        if actor.token is not None:
            headers["Authorization"] = actor.token
        resp = self.target.http.request(method, url, headers=headers, **kwargs)
        body = resp.text if text else parse_body(resp)
        shown = json.loads(json.dumps(view(body) if view else body))
        self.steps.append(self.normaliser({
            "http": f"{method} {url}",
            "status": resp.status_code,
            "type": resp.headers.get("content-type", "").split(";")[0].strip(),
            "body": shown,
        }))
        return resp

    def note(self, label: str, value: Any) -> None:
        """Record a value computed by the case (e.g. "downloaded bytes equal the upload")."""
        self.steps.append(self.normaliser({"note": label, "value": json.loads(json.dumps(value))}))

    # setup ------------------------------------------------------------------------------
    def setup(self, action: str, data: dict[str, Any] | None = None, **kw: Any) -> Any:
        """An unrecorded call that must succeed; returns its ``result``."""
        if "as_" in kw:
            kw["token"] = self._resolve(kw.pop("as_")).token
        result = self.target.ok(action, data, **kw)
        self._register_secrets(action, {"result": result})
        return result

    def org(self, label: str = "org", **fields: Any) -> dict[str, Any]:
        """Create organization ``<run>-<label>`` (unrecorded)."""
        return self.setup("organization_create", {"name": self.name(label), **fields})

    def dataset(self, label: str, org: dict[str, Any] | str, **fields: Any) -> dict[str, Any]:
        """Create dataset ``<run>-<label>`` in ``org`` (unrecorded)."""
        owner = org["id"] if isinstance(org, dict) else org
        return self.setup("package_create", {"name": self.name(label), "owner_org": owner, **fields})

    def actor(self, role: str, org: dict[str, Any] | str | None = None) -> Actor:
        """The actor for ``role`` (created on first use and remembered by role name).

        Roles: ``anonymous``, ``sysadmin`` (the site's sysadmin), ``user`` (no memberships),
        ``member``/``editor``/``admin`` (of ``org``, required for these).
        """
        if role in self.actors:
            return self.actors[role]
        if role == "anonymous":
            actor = Actor("anonymous", None, None, None)
        elif role == "sysadmin":
            actor = self.target.sysadmin_actor()
        else:
            actor = self.target.make_user(self.name(role))
            actor.role = role
            if role in ("member", "editor", "admin"):
                assert org is not None, f"role {role} needs an organization"
                org_name = org["name"] if isinstance(org, dict) else org
                self.target.add_member(org_name, actor.name or "", role)
        if actor.token and actor.role != "sysadmin":
            self._register_token(actor.token)
        self.actors[role] = actor
        return actor

    def user_names(self) -> dict[str, str]:
        """User id -> name for the sysadmin and every actor of this case (for readable,
        order-independent views of member lists)."""
        out = {a.id: a.name for a in (*self.actors.values(), self.target.sysadmin_actor())}
        return {k: v for k, v in out.items() if k and v}

    def _resolve(self, as_: Actor | str | None) -> Actor:
        if isinstance(as_, Actor):
            return as_
        if as_ is None:
            return self.actor("anonymous")
        return self.actor(as_)

    def _register_token(self, token: str) -> None:
        # numbered when created, so placeholders do not depend on the order a list comes in
        self.normaliser.register(token, "token")
        jti = jwt_jti(token)
        if jti:
            self.normaliser.register(jti, "jti")

    def _register_secrets(self, action: str, body: Any) -> None:
        # API token ids (jti) are opaque strings, not UUIDs: give them placeholders explicitly
        # so that a token's id in api_token_list matches across targets.
        result = body.get("result") if isinstance(body, dict) else None
        if action == "api_token_create" and isinstance(result, dict):
            if isinstance(result.get("token"), str):
                self._register_token(result["token"])
            if isinstance(result.get("id"), str):
                self.normaliser.register(result["id"], "jti")
        if action == "api_token_list" and isinstance(result, list):
            for item in result:
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    self.normaliser.register(item["id"], "jti")

    # comparison -------------------------------------------------------------------------
    def transcript(self) -> list[dict[str, Any]]:
        return self.steps


def new_run_id() -> str:
    return "ct" + secrets.token_hex(4)


@pytest.fixture
def run_id() -> str:
    """A fresh run id for this test (``ct`` + 8 hex digits)."""
    return new_run_id()


@pytest.fixture
def ckan(request: pytest.FixtureRequest, target: Target, run_id: str) -> Case:
    """The recording :class:`Case` for this test; its transcript is checked after the test."""
    case = Case(target, run_id, case_id(request.node))
    request.node._contract_case = case  # read by pytest_pyfunc_call below
    return case


def _steps_dict(steps: list[dict[str, Any]]) -> dict[str, Any]:
    # Key steps by "<index>:<call>" so diff paths say which call differed.
    return {f"{i}:{s.get('call') or s.get('http') or s.get('note')}": s for i, s in enumerate(steps)}


def _allowed(case: str, path: str) -> bool:
    for (kcase, kpath), _reason in KNOWN_DIFFERENCES.items():
        if kcase == case and (path == kpath or path.startswith(kpath + ".")):
            return True
    return False


def compare_with_golden(case: Case) -> None:
    """Fail (AssertionError) when the transcript differs from the golden file."""
    golden_path = GOLDEN_DIR / f"{case.id}.json"
    if not golden_path.exists():
        raise AssertionError(
            f"no golden transcript {golden_path.name}; record it with "
            "`pytest tests/contract --record-golden` against a real CKAN"
        )
    golden = json.loads(golden_path.read_text())
    actual = json.loads(json.dumps(case.transcript()))
    diffs = [
        d for d in diff(_steps_dict(golden["steps"]), _steps_dict(actual), key_order=True)
        if not _allowed(case.id, d[0])
    ]
    if diffs:
        lines = [f"{case.target.name} differs from golden {golden_path.name} "
                 f"({len(diffs)} difference(s)); first difference at {diffs[0][0]}"]
        for path, exp, got in diffs[:8]:
            lines.append(f"  {path}: golden={_short(exp)} got={_short(got)}")
        raise AssertionError("\n".join(lines))


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) < 300 else text[:300] + "..."


def write_golden(case: Case) -> None:
    GOLDEN_DIR.mkdir(exist_ok=True)
    path = GOLDEN_DIR / f"{case.id}.json"
    path.write_text(json.dumps({"case": case.id, "steps": case.transcript()}, indent=1) + "\n")


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Iterator[None]:
    # After a case body returns, check (or record) its transcript *inside* the call phase, so a
    # difference is reported as a test failure, not a teardown error.
    result = yield
    case = getattr(pyfuncitem, "_contract_case", None)
    if case is not None:
        if not case.steps:
            raise AssertionError("contract case recorded no steps")
        if pyfuncitem.config.getoption("--record-golden"):
            write_golden(case)
        else:
            compare_with_golden(case)
    return result

