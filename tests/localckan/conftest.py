"""Fixtures for LocalCKAN / TestAppCKAN tests against a real CKAN (run them with .ci/localckan.sh).

Tests marked ``localckan`` need an importable ``ckan`` and a CKAN config (``$CKAN_INI``, default
``/tmp/real-ckan/ckan-5000.ini``) whose database, storage and search index are shared with the CKAN
server at its ``ckan.site_url``, which serves as the oracle for error bodies and downloads. Every
object they create is named ``lcx-<random>-...`` and removed again (users, which CKAN cannot purge,
are deleted).

Where ``ckan`` is not importable (ckanx's own dev venv) those tests are *deselected*, with a
one-line summary saying so, never skipped: the other tests of this directory still run.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

DEFAULT_CKAN_INI = "/tmp/real-ckan/ckan-5000.ini"
CKAN_IMPORTABLE = importlib.util.find_spec("ckan") is not None
_HERE = Path(__file__).parent
_deselected_key = pytest.StashKey[int]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Take this directory's ``localckan`` tests out of the run when ``ckan`` cannot be imported."""
    if CKAN_IMPORTABLE:
        return
    ours = [
        item for item in items
        if item.get_closest_marker("localckan") and _HERE in Path(str(item.path)).parents
    ]
    if ours:
        config.hook.pytest_deselected(items=ours)
        items[:] = [item for item in items if item not in ours]
    config.stash[_deselected_key] = len(ours)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say why tests were deselected, in one line."""
    count = config.stash.get(_deselected_key, 0)
    if count:
        terminalreporter.write_line(
            f"tests/localckan: {count} localckan tests deselected: the ckan package is not "
            "importable in this Python; run .ci/localckan.sh (inside CKAN's virtualenv)"
        )


# ---------------------------------------------------------------- fixtures (CKAN venv only)


@pytest.fixture(scope="session")
def ckan_ini() -> Iterator[str]:
    """The CKAN config LocalCKAN loads by itself (through ``$CKAN_INI``)."""
    path = os.environ.get("CKAN_INI") or DEFAULT_CKAN_INI
    assert os.path.isfile(path), f"CKAN config {path} not found: set CKAN_INI"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CKAN_INI", path)
        yield path


@pytest.fixture(scope="session")
def prefix() -> str:
    """A name prefix no other test run uses (the database is shared)."""
    return f"lcx-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def site(ckan_ini: str) -> Any:
    """LocalCKAN as the site user (a sysadmin)."""
    from ckanx._local import LocalCKAN

    return LocalCKAN()


@pytest.fixture(scope="session")
def ckan_config(site: Any) -> Any:
    """CKAN's loaded config (loaded by the ``site`` LocalCKAN)."""
    from ckan.common import config

    return config


@pytest.fixture(scope="session")
def ckan_app(ckan_config: Any) -> Any:
    """Another CKAN app from the loaded config, built as CKAN's ``app`` fixture builds it."""
    from ckan.config.middleware import make_app

    return make_app(ckan_config)


@pytest.fixture(scope="session")
def site_url(ckan_config: Any) -> str:
    """The running CKAN server that shares this config's database: the oracle."""
    return str(ckan_config["ckan.site_url"]).rstrip("/")


@pytest.fixture(scope="session")
def oracle(site_url: str) -> Iterator[Any]:
    """``oracle(action, data, token=None) -> (status, body)`` over HTTP against the real server."""
    import httpx

    with httpx.Client(base_url=site_url, timeout=60) as http:

        def call(action: str, data: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
            headers = {"Authorization": token} if token else {}
            response = http.post(f"/api/3/action/{action}", json=data, headers=headers)
            return response.status_code, response.json()

        yield call


@pytest.fixture(scope="session")
def org(site: Any, prefix: str) -> Iterator[dict[str, Any]]:
    """An organization for the run's datasets; purged (with any dataset left in it) at the end."""
    created = site.action.organization_create(name=f"{prefix}-org", title="ckanx LocalCKAN tests")
    yield created
    leftovers = site.action.package_search(
        fq=f'owner_org:"{created["id"]}"', include_private=True, include_drafts=True, rows=1000
    )["results"]
    for dataset in leftovers:
        site.action.dataset_purge(id=dataset["id"])
    site.action.organization_purge(id=created["id"])


@pytest.fixture(scope="session")
def plain_user(site: Any, prefix: str) -> Iterator[dict[str, Any]]:
    """A user who is not a sysadmin and belongs to no organization, with an API token."""
    name = f"{prefix}-user"
    user = site.action.user_create(
        name=name, email=f"{name}@example.invalid", password=f"Pw-{uuid.uuid4().hex}"
    )
    token = site.action.api_token_create(user=name, name=f"{prefix}-token")["token"]
    yield {**user, "token": token}
    for entry in site.action.api_token_list(user_id=name):
        site.action.api_token_revoke(jti=entry["id"])
    site.action.user_delete(id=name)  # users cannot be purged: the unique name stays taken


@pytest.fixture(scope="session")
def site_token(site: Any, prefix: str) -> Iterator[str]:
    """An API token of the site user (a sysadmin), revoked at the end."""
    token_name = f"{prefix}-site-token"
    token = str(site.action.api_token_create(user=site.username, name=token_name)["token"])
    yield token
    for entry in site.action.api_token_list(user_id=site.username):
        if entry["name"] == token_name:
            site.action.api_token_revoke(jti=entry["id"])


@pytest.fixture
def dataset_name(prefix: str) -> str:
    """A fresh dataset name (the ``org`` fixture purges datasets left behind)."""
    return f"{prefix}-ds-{uuid.uuid4().hex[:6]}"
