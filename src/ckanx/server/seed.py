"""Load a ``ckanapi dump datasets`` file (JSON lines, plain or gzip) into an embedded CKAN.

The preparation steps are plain functions shared by every loader (the in-process seed below,
``ckanx serve --seed``, the ``ckanx.testing`` fixtures and ``benchmarks/bench_server_load.py``,
which sends the same payloads over HTTP to a real CKAN):

1. :func:`read_jsonl` parses the whole file first, so a bad line fails before anything is written.
2. :func:`collect_organizations` / :func:`collect_groups` gather the organizations and groups the
   datasets reference (their embedded ``organization`` dict and ``groups`` list), by name.
3. :func:`prepare_dataset` turns a ``package_show`` dict from another site into a
   ``package_create`` payload: ``owner_org`` and groups by *name* (ids from another site mean
   nothing here), server-computed keys dropped, dataset and resource ids kept. A dataset without
   an organization cannot be created (CKAN: "An organization must be provided"); it is skipped
   and reported, or given ``default_owner_org``.

:func:`seed` then creates everything through the registered action functions, in-process, as the
sysadmin, one transaction per object (a failing dataset is reported and does not undo the others).

Example::

    site = EmbeddedCKAN()
    report = seed(site, "datasets.jsonl.gz", default_owner_org="imported")
    print(report.summary())
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import errors, registry
from .context import Context

if TYPE_CHECKING:
    from .core import EmbeddedCKAN

SeedSource = str | os.PathLike[str] | Iterable[Mapping[str, Any]]

# Keys a site computes for itself; sending them back is at best ignored.
_SERVER_KEYS = frozenset(
    {
        "organization",
        "num_resources",
        "num_tags",
        "isopen",
        "license_title",
        "license_url",
        "metadata_created",
        "metadata_modified",
        "creator_user_id",
        "relationships_as_object",
        "relationships_as_subject",
        "revision_id",
        "tracking_summary",
    }
)
_RESOURCE_SERVER_KEYS = frozenset({"package_id", "position", "metadata_modified", "revision_id", "tracking_summary"})
# What CKAN's organization_create / group_create accept from a dumped dict.
_GROUP_KEYS = ("id", "name", "title", "description", "image_url")


class SeedError(ValueError):
    """The seed input cannot be used (unreadable file, bad JSON line); ``str()`` is one line."""


@dataclass
class SeedReport:
    """What a seed did. ``failed`` holds ``(dataset name, error)``; ``skipped_no_org`` names."""

    read: int = 0
    organizations_created: int = 0
    organizations_existing: int = 0
    groups_created: int = 0
    groups_existing: int = 0
    datasets_created: int = 0
    skipped_no_org: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    created_ids: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for humans, e.g. for ``ckanx serve --seed``."""
        parts = [
            f"{self.datasets_created}/{self.read} datasets",
            f"{self.organizations_created} organizations",
            f"{self.groups_created} groups created",
        ]
        if self.skipped_no_org:
            parts.append(
                f"{len(self.skipped_no_org)} skipped without an organization "
                "(give a default owner organization to load them)"
            )
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return ", ".join(parts)


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Parse a JSON-lines file (gzip when it starts with the gzip magic); blank lines skipped.

    Raises:
        SeedError: unreadable file, bad gzip, bad JSON or a line that is not an object.
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
        opener: Any = gzip.open if gzipped else open
        rows: list[dict[str, Any]] = []
        with opener(path, "rt", encoding="utf-8") as lines:
            for lineno, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise SeedError(f"{path}:{lineno}: bad JSON: {exc}") from None
                if not isinstance(row, dict):
                    raise SeedError(f"{path}:{lineno}: expected a JSON object per line")
                rows.append(row)
        return rows
    except OSError as exc:  # missing, unreadable, bad gzip (BadGzipFile is an OSError)
        raise SeedError(f"{path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, EOFError, zlib.error) as exc:
        raise SeedError(f"{path}: cannot decode: {exc}") from None


def load_source(source: SeedSource) -> list[dict[str, Any]]:
    """A path (see :func:`read_jsonl`) or an iterable of dataset dicts, as a list of dicts."""
    if isinstance(source, (str, os.PathLike)):
        return read_jsonl(source)
    rows = [dict(row) for row in source]
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise SeedError(f"item {i}: expected a dataset dict")
    return rows


def _group_payload(group: Mapping[str, Any]) -> dict[str, Any]:
    return {key: group[key] for key in _GROUP_KEYS if group.get(key) not in (None, "")}


def collect_organizations(datasets: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``organization_create`` payloads for the organizations the datasets embed, first seen
    first, one per name."""
    seen: dict[str, dict[str, Any]] = {}
    for ds in datasets:
        org = ds.get("organization")
        if isinstance(org, Mapping) and org.get("name") and org["name"] not in seen:
            seen[org["name"]] = _group_payload(org)
    return list(seen.values())


def collect_groups(datasets: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``group_create`` payloads for the groups the datasets list, one per name."""
    seen: dict[str, dict[str, Any]] = {}
    for ds in datasets:
        for group in ds.get("groups") or ():
            if isinstance(group, Mapping) and group.get("name") and group["name"] not in seen:
                seen[group["name"]] = _group_payload(group)
    return list(seen.values())


def owner_org_name(dataset: Mapping[str, Any]) -> str | None:
    """The dataset's organization name from its embedded ``organization`` dict, if any."""
    org = dataset.get("organization")
    if isinstance(org, Mapping) and org.get("name"):
        return str(org["name"])
    return None


def prepare_dataset(dataset: Mapping[str, Any], *, default_owner_org: str | None = None) -> dict[str, Any] | None:
    """A ``package_create`` payload for a dumped dataset, or ``None`` when it has no
    organization and no ``default_owner_org`` was given."""
    owner = owner_org_name(dataset) or default_owner_org
    if owner is None:
        return None
    out = {k: v for k, v in dataset.items() if k not in _SERVER_KEYS}
    out["owner_org"] = owner
    out["groups"] = [{"name": g["name"]} for g in dataset.get("groups") or () if isinstance(g, Mapping)]
    out["tags"] = [
        {"name": t["name"]}
        for t in dataset.get("tags") or ()
        # vocabulary tags need the vocabulary, which a dump does not carry
        if isinstance(t, Mapping) and t.get("name") and not t.get("vocabulary_id")
    ]
    out["resources"] = [
        {k: v for k, v in res.items() if k not in _RESOURCE_SERVER_KEYS}
        for res in dataset.get("resources") or ()
        if isinstance(res, Mapping)
    ]
    return out


def _describe(exc: Exception) -> str:
    if isinstance(exc, errors.ValidationError):
        return json.dumps(exc.error_dict, ensure_ascii=False)
    if isinstance(exc, errors.ActionError):
        return f"{exc.type_name}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"


class _Caller:
    """Calls actions in-process as the site's sysadmin, one transaction per call."""

    def __init__(self, server: EmbeddedCKAN) -> None:
        from .app import authenticate

        self.server = server
        # The sysadmin's row makes creator_user_id and activity right; ignore_auth covers a
        # site whose users family has not created a sysadmin.
        self.user = authenticate(server, server.sysadmin_token) if server.sysadmin_token else None

    def __call__(self, name: str, data: dict[str, Any]) -> Any:
        spec = registry.lookup(name, self.server.ckan_version)
        if spec is None:
            raise SeedError(f"the embedded server does not implement {name}")
        with self.server.db.transaction() as conn:
            return spec.func(Context(self.server, conn, self.user, ignore_auth=True), data)

    def exists(self, show: str, name: str) -> bool:
        try:
            self(show, {"id": name})
        except errors.NotFound:
            return False
        return True


def seed(
    server: EmbeddedCKAN,
    source: SeedSource,
    *,
    default_owner_org: str | None = None,
) -> SeedReport:
    """Create the organizations, groups and datasets of a dump in ``server``.

    Args:
        source: a JSON-lines path (``.gz`` or plain) or an iterable of ``package_show`` dicts.
        default_owner_org: organization name for datasets without one (created when missing);
            ``None``: such datasets are skipped and listed in ``report.skipped_no_org``.

    Raises:
        SeedError: the input is unusable (nothing has been written then).
    """
    datasets = load_source(source)
    report = SeedReport(read=len(datasets))
    call = _Caller(server)

    organizations = collect_organizations(datasets)
    used_default = default_owner_org is not None and any(owner_org_name(ds) is None for ds in datasets)
    if used_default and default_owner_org not in {o["name"] for o in organizations}:
        organizations.append({"name": default_owner_org})
    for kind, payloads in (
        ("organization", organizations),
        ("group", collect_groups(datasets)),
    ):
        for payload in payloads:
            if call.exists(f"{kind}_show", payload["name"]):
                setattr(report, f"{kind}s_existing", getattr(report, f"{kind}s_existing") + 1)
                continue
            try:
                try:
                    call(f"{kind}_create", payload)
                except errors.ValidationError as exc:
                    if "id" not in exc.error_dict or "id" not in payload:
                        raise
                    # the id is taken on this site: let it choose one (datasets refer by name)
                    call(f"{kind}_create", {k: v for k, v in payload.items() if k != "id"})
            except errors.ActionError as exc:
                # its datasets will fail too ("Organization does not exist") and be reported
                report.failed.append((f"{kind}:{payload['name']}", _describe(exc)))
                continue
            setattr(report, f"{kind}s_created", getattr(report, f"{kind}s_created") + 1)

    for ds in datasets:
        payload = prepare_dataset(ds, default_owner_org=default_owner_org)
        label = str(ds.get("name") or ds.get("id") or "?")
        if payload is None:
            report.skipped_no_org.append(label)
            continue
        try:
            result = call("package_create", payload)
        except errors.ActionError as exc:
            report.failed.append((label, _describe(exc)))
            continue
        report.datasets_created += 1
        report.created_ids.append(result["id"] if isinstance(result, dict) else label)
    return report
