"""Source records, their content hash, and the dataset a sync sends for them (no I/O).

A *source record* is one dataset dict as a source gives it (a ckanapi dump line, a YAML file, a
Data Package mapped to CKAN fields, a ``package_search`` result of another CKAN) plus its *key*:
the record's identity in its source (its ``id``, else its ``name``), stored on the target as the
``ckanx_sync_id`` extra.

The content hash is the sha256 of a normalised form of the record: ids, timestamps and values a
site computes for itself are left out, tags and groups become sorted names, extras a sorted
mapping, empty values are dropped. So the same record hashes the same on every run, whether it
comes from a dump file or straight from the source CKAN.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CORE_DATASET_FIELDS",
    "EXTRA_DELETED",
    "EXTRA_HASH",
    "EXTRA_ID",
    "EXTRA_SOURCE",
    "HASH_VERSION",
    "RESOURCE_KEY",
    "SYNC_EXTRAS",
    "SourceRecord",
    "content_hash",
    "desired_dataset",
    "extras_of",
    "group_names",
    "record_key",
]

EXTRA_SOURCE = "ckanx_sync_source"
"""Extra naming the sync source that owns a dataset (``--source-id``)."""
EXTRA_ID = "ckanx_sync_id"
"""Extra holding the source record's identity (its ``id``, else its ``name``)."""
EXTRA_HASH = "ckanx_sync_hash"
"""Extra holding ``v1:<sha256>`` of the normalised source record at the last write."""
EXTRA_DELETED = "ckanx_sync_deleted"
"""Extra set by ``--mark-deleted`` (UTC time) on a dataset that left its source."""
SYNC_EXTRAS = frozenset({EXTRA_SOURCE, EXTRA_ID, EXTRA_HASH, EXTRA_DELETED})
RESOURCE_KEY = "ckanx_sync_id"
"""Field stored on each synced resource: the source resource's identity, to match it on updates."""
HASH_VERSION = "v1"
CORE_DATASET_FIELDS = frozenset(
    {
        "id", "name", "title", "author", "author_email", "maintainer", "maintainer_email", "license_id",
        "notes", "url", "version", "state", "type", "owner_org", "private", "extras", "tags", "groups",
        "resources", "plugin_data", "tag_string",
    }
)  # fmt: skip
"""Top-level dataset fields of CKAN's default schema (2.11/2.12): others need a schema plugin."""

# what a site computes or assigns itself: not part of a record's content
_DATASET_VOLATILE = frozenset(
    {
        "id",
        "metadata_created",
        "metadata_modified",
        "revision_id",
        "revision_timestamp",
        "creator_user_id",
        "num_resources",
        "num_tags",
        "relationships_as_object",
        "relationships_as_subject",
        "tracking_summary",
        "organization",
        "owner_org",
        "license_title",
        "license_url",
        "isopen",
        "state",
        "display_name",
        "changed_entities",
    }
)
_RESOURCE_VOLATILE = frozenset(
    {
        "id",
        "package_id",
        "position",
        "created",
        "metadata_modified",
        "revision_id",
        "cache_url",
        "cache_last_updated",
        "datastore_active",
        "tracking_summary",
        "has_views",
        # what ckanx dump -d/-R adds: not dataset content
        "datastore_fields",
        "resource_views",
    }
)


@dataclass
class SourceRecord:
    """One dataset of a source.

    Attributes:
        dataset: the dataset dict as the source gives it (CKAN field names).
        key: its identity in the source (stored as ``ckanx_sync_id``); ``None`` when it has none.
        origin: where it came from, for messages (``packages.jsonl line 12``).
        error: why the record is unusable (malformed line, no name): it is reported as failed.
    """

    dataset: dict[str, Any]
    key: str | None = None
    origin: str = ""
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


def record_key(dataset: dict[str, Any]) -> str | None:
    """A record's identity in its source: its ``id``, else its ``name``."""
    for key in ("id", "name"):
        value = dataset.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _ref_name(ref: Any) -> str | None:
    if isinstance(ref, dict):
        value = ref.get("name") or ref.get("id")
        return str(value) if value else None
    return str(ref) if ref not in (None, "") else None


def extras_of(dataset: dict[str, Any]) -> dict[str, Any]:
    """A dataset's extras as a mapping (CKAN gives a list of ``{"key", "value"}``)."""
    out: dict[str, Any] = {}
    extras = dataset.get("extras")
    if isinstance(extras, list):
        for item in extras:
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                out[item["key"]] = item.get("value")
    elif isinstance(extras, dict):
        out.update({str(k): v for k, v in extras.items()})
    return out


def group_names(dataset: dict[str, Any]) -> list[str]:
    """The names of the groups a record references."""
    groups = dataset.get("groups")
    if not isinstance(groups, list):
        return []
    return [n for g in groups if (n := _ref_name(g))]


def _tag_names(tags: list[Any]) -> list[Any]:
    out: list[Any] = []
    for tag in tags:
        name = _ref_name(tag)
        if name is None:
            continue
        vocab = tag.get("vocabulary_id") if isinstance(tag, dict) else None
        out.append([name, vocab] if vocab else name)
    return sorted(out, key=lambda t: json.dumps(t, sort_keys=True))


def _normalise_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalise_value(v) for k, v in sorted(value.items()) if not _empty(v)}
    if isinstance(value, list):
        return [_normalise_value(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)  # CKAN stores extras and custom fields as text: 3 and "3" are the same content
    return str(value)


def _normalised(dataset: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in dataset.items():
        if key in _DATASET_VOLATILE or _empty(value):
            continue
        if key == "tags" and isinstance(value, list):
            out[key] = _tag_names(value)
        elif key == "groups" and isinstance(value, list):
            out[key] = sorted(group_names(dataset))
        elif key == "extras":
            extras = {k: v for k, v in extras_of(dataset).items() if k not in SYNC_EXTRAS and not _empty(v)}
            if extras:
                out[key] = _normalise_value(extras)
        elif key == "resources" and isinstance(value, list):
            out[key] = [
                _normalise_value({k: v for k, v in res.items() if k not in _RESOURCE_VOLATILE and k != RESOURCE_KEY})
                if isinstance(res, dict)
                else _normalise_value(res)
                for res in value
            ]
        else:
            out[key] = _normalise_value(value)
    return out


def content_hash(dataset: dict[str, Any]) -> str:
    """``v1:<sha256 hex>`` of the normalised record (see the module docstring)."""
    text = json.dumps(_normalised(dataset), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"{HASH_VERSION}:{hashlib.sha256(text.encode('utf-8')).hexdigest()}"


def _resource_key(res: dict[str, Any], index: int) -> str:
    for key in ("id", "name", "url"):
        value = res.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return f"#{index}"


def _prepare_resource(res: dict[str, Any], key: str) -> dict[str, Any]:
    out = {k: copy.deepcopy(v) for k, v in res.items() if k not in _RESOURCE_VOLATILE}
    if out.get("url_type") == "upload":
        # the file stays on the source: the target links to it (copying files is `ckanx mirror`'s job)
        out.pop("url_type")
    out[RESOURCE_KEY] = key
    return out


def desired_dataset(
    record: SourceRecord,
    *,
    name: str,
    owner_org: str,
    source_id: str,
    digest: str,
    known_groups: frozenset[str] | None,
    unknown_as_extras: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """The dataset dict a sync creates for ``record`` (and lays over the target on updates).

    Returns the dict and warnings (groups dropped because the target has no such group).
    ``known_groups`` ``None`` means "do not check" (every group is kept). With
    ``unknown_as_extras``, top-level fields outside CKAN's default schema (another site's custom
    fields, which a plain CKAN drops silently) become extras (text; other values JSON-encoded).
    """
    warnings: list[str] = []
    out: dict[str, Any] = {}
    moved: dict[str, Any] = {}
    for key, value in record.dataset.items():
        if key in _DATASET_VOLATILE:
            continue
        if unknown_as_extras and key not in CORE_DATASET_FIELDS:
            if value is not None:
                moved[key] = value
            continue
        out[key] = copy.deepcopy(value)
    out["name"] = name
    out["owner_org"] = owner_org
    if isinstance(out.get("tags"), list):
        tags = []
        for tag in out["tags"]:
            tag_name = _ref_name(tag)
            if tag_name is None:
                continue
            entry: dict[str, Any] = {"name": tag_name}
            if isinstance(tag, dict) and tag.get("vocabulary_id"):
                entry["vocabulary_id"] = tag["vocabulary_id"]
            tags.append(entry)
        out["tags"] = tags
    if "groups" in out:
        kept = []
        for group in group_names(record.dataset):
            if known_groups is None or group in known_groups:
                kept.append({"name": group})
            else:
                warnings.append(f"group {group!r} does not exist on the target: not added")
        out["groups"] = kept
    own = {k: v for k, v in extras_of(record.dataset).items() if k not in SYNC_EXTRAS and v is not None}
    for key, value in moved.items():
        if key in own:
            warnings.append(f"field {key!r} not moved to extras: the record has an extra of that name")
        else:
            own[key] = value
    extras = [
        {"key": k, "value": v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)} for k, v in own.items()
    ]
    extras += [
        {"key": EXTRA_SOURCE, "value": source_id},
        {"key": EXTRA_ID, "value": record.key or name},
        {"key": EXTRA_HASH, "value": digest},
    ]
    out["extras"] = extras
    if isinstance(out.get("resources"), list):
        resources = []
        taken: set[str] = set()
        for index, res in enumerate(out["resources"]):
            if not isinstance(res, dict):
                continue
            key = _resource_key(res, index)
            if key in taken:
                key = f"{key}#{index}"  # two resources with the same name/url: keep them apart
            taken.add(key)
            resources.append(_prepare_resource(res, key))
        out["resources"] = resources
    return out, warnings
