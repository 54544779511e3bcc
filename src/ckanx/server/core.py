"""The embedded CKAN: state (database, files, version) and the way in (ASGI app, httpx transports)."""

from __future__ import annotations

import importlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .db import Database

# Each family of actions is one subpackage with ``models.py`` (state) and ``actions.py``
# (parameters -> model -> result); importing ``actions`` registers its actions and schema.
FAMILIES = (
    "status",
    "users",
    "organizations",
    "datasets",
    "search",
    "datastore",
)

SUPPORTED_VERSIONS = ("2.11", "2.12")
FULL_VERSIONS = {"2.11": "2.11.6", "2.12": "2.12.0"}


def load_families() -> None:
    for family in FAMILIES:
        try:
            importlib.import_module(f"ckanx.server.{family}.actions")
        except ModuleNotFoundError as exc:  # a family not written yet
            if exc.name != f"ckanx.server.{family}" and exc.name != f"ckanx.server.{family}.actions":
                raise


class EmbeddedCKAN:
    """One embedded CKAN site.

    Args:
        data_dir: where ``catalog.db`` and uploaded files live; a temporary directory (removed by
            :meth:`close`) when ``None``.
        ckan_version: ``"2.11"`` (default) or ``"2.12"``: the behaviour and parameter set imitated.
        site_url: the URL the site believes it has (used in download URLs and ``help`` links).
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        *,
        ckan_version: str = "2.11",
        site_url: str = "http://127.0.0.1:5000",
        sysadmin_name: str = "ckan_admin",
    ) -> None:
        if ckan_version not in SUPPORTED_VERSIONS:
            raise ValueError(f"ckan_version must be one of {', '.join(SUPPORTED_VERSIONS)}")
        load_families()
        self._tmp = None if data_dir is not None else tempfile.mkdtemp(prefix="ckanx-serve-")
        self.data_dir = Path(data_dir if data_dir is not None else self._tmp)  # type: ignore[arg-type]
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.storage_dir = self.data_dir / "storage"
        self.storage_dir.mkdir(exist_ok=True)
        self.ckan_version = ckan_version
        self.full_version = FULL_VERSIONS[ckan_version]
        self.site_url = site_url.rstrip("/")
        self.sysadmin_name = sysadmin_name
        self.db = Database(self.data_dir / "catalog.db")
        self.state: dict[str, Any] = {}  # per-family in-memory state (e.g. the search index)
        self.sysadmin_token: str = ""
        from . import hooks

        for startup in hooks.STARTUP:
            startup(self)

    def close(self) -> None:
        self.db.close()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> EmbeddedCKAN:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def app(self) -> Any:
        """The ASGI application serving this site."""
        if "_app" not in self.state:
            from .app import build_app

            self.state["_app"] = build_app(self)
        return self.state["_app"]
