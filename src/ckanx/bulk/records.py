"""Preparing dumped records for another site, comparing them with what a site holds, merging updates.

The load rules (also in ``ckanx load --help`` and ``docs/cli.md``):

* **Site-to-site references go by name.** ``owner_org`` is taken from ``organization.name`` when the
  record carries one (a dump always does), groups are referenced by ``name``; ids from the source
  site never reach the target's reference fields. ``--owner-org NAME`` fills in a missing organization.
* **Updates never drop fields absent from the input.** The record sent is the existing object with
  the input's keys laid over it. A key present in the input wins (lists such as ``tags``, ``groups``
  and ``extras`` are replaced as given); a resource in the input that matches an existing one by
  ``id`` keeps the existing resource's fields the input does not mention. Resources not listed in an
  input that has a ``resources`` key are removed, as that list says what the dataset holds.
* **Unchanged records are not written.** A record is unchanged when every key it has that the site
  also stores equals the site's value after normalisation: ids, timestamps and counters are ignored,
  ``None`` equals ``""``, tags/groups compare as sets of names, the organization by name, extras as
  a mapping, uploaded resource URLs by file name as sites clean it up (the host differs). Keys the site does
  not store at all (another site's custom schema) are ignored.
"""

from __future__ import annotations

import copy
import re
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = [
    "THINGS",
    "Thing",
    "differences",
    "merge_for_update",
    "prepare_for_load",
    "record_key",
]


class Thing:
    """The actions and volatile keys of one kind of object (datasets, groups, organizations, users)."""

    def __init__(self, plural: str, prefix: str, volatile: frozenset[str]) -> None:
        self.plural = plural
        self.prefix = prefix
        self.show = f"{prefix}_show"
        self.create = f"{prefix}_create"
        self.update = f"{prefix}_update"
        self.delete = f"{prefix}_delete"
        self.purge = "dataset_purge" if prefix == "package" else f"{prefix}_purge"
        self.list = f"{prefix}_list"
        self.volatile = volatile


_COMMON_VOLATILE = frozenset(
    {
        "id",
        "created",
        "metadata_created",
        "metadata_modified",
        "revision_id",
        "revision_timestamp",
        "display_name",
        "image_display_url",
        "num_followers",
        "package_count",
        "tracking_summary",
        "changed_entities",
    }
)

THINGS: dict[str, Thing] = {
    "datasets": Thing(
        "datasets",
        "package",
        _COMMON_VOLATILE
        | {
            "num_resources",
            "num_tags",
            "creator_user_id",
            "relationships_as_object",
            "relationships_as_subject",
            "organization",
            "owner_org",
            # derived by each site from license_id and its own license list
            "license_title",
            "license_url",
            "isopen",
        },
    ),
    "groups": Thing("groups", "group", _COMMON_VOLATILE | {"packages", "users"}),
    "organizations": Thing("organizations", "organization", _COMMON_VOLATILE | {"packages", "users"}),
    "users": Thing(
        "users",
        "user",
        _COMMON_VOLATILE
        | {
            "last_active",
            "number_created_packages",
            "email_hash",
            "password",
            "password_hash",
            "apikey",
            "datasets",
            "sysadmin",
        },
    ),
}

_RESOURCE_VOLATILE = frozenset(
    {
        "id",
        "package_id",
        "position",
        "created",
        "metadata_modified",
        "last_modified",
        "revision_id",
        "cache_url",
        "cache_last_updated",
        "datastore_active",
        "tracking_summary",
        "has_views",
        "size",
        "mimetype",
        "hash",
    }
)


def record_key(record: dict[str, Any]) -> str | None:
    """The name (or id) that identifies a record in logs and messages."""
    value = record.get("name") or record.get("id")
    return str(value) if value else None


def _ref_name(ref: Any) -> Any:
    """A group/organization/user reference reduced to its name (ids are site-specific)."""
    if isinstance(ref, dict):
        return ref.get("name") or ref.get("id")
    return ref


def prepare_for_load(thing: str, record: dict[str, Any], *, default_owner_org: str | None = None) -> dict[str, Any]:
    """A dumped record made ready for ``*_create``/``*_update`` on any site (references by name)."""
    rec = copy.deepcopy(record)
    if thing == "datasets":
        org = rec.pop("organization", None)
        org_name = _ref_name(org) if org else None
        if org_name:
            rec["owner_org"] = org_name
        elif not rec.get("owner_org") and default_owner_org:
            rec["owner_org"] = default_owner_org
        if not rec.get("owner_org"):
            rec.pop("owner_org", None)
        if isinstance(rec.get("groups"), list):
            rec["groups"] = [{"name": _ref_name(g)} for g in rec["groups"] if _ref_name(g)]
        if isinstance(rec.get("tags"), list):
            rec["tags"] = [_clean_tag(t) for t in rec["tags"]]
        for key in (
            "num_resources",
            "num_tags",
            "creator_user_id",
            "metadata_created",
            "metadata_modified",
            "revision_id",
            "relationships_as_object",
            "relationships_as_subject",
            "tracking_summary",
        ):
            rec.pop(key, None)
        if isinstance(rec.get("resources"), list):
            rec["resources"] = [_clean_resource(r) for r in rec["resources"] if isinstance(r, dict)]
    elif thing in ("groups", "organizations"):
        for key in (
            "package_count",
            "num_followers",
            "display_name",
            "image_display_url",
            "created",
            "revision_id",
            "packages",
        ):
            rec.pop(key, None)
        if isinstance(rec.get("users"), list):
            rec["users"] = [
                {
                    "name": _ref_name(u),
                    **({"capacity": u["capacity"]} if isinstance(u, dict) and "capacity" in u else {}),
                }
                for u in rec["users"]
                if _ref_name(u)
            ]
        if isinstance(rec.get("groups"), list):
            rec["groups"] = [{"name": _ref_name(g)} for g in rec["groups"] if _ref_name(g)]
    elif thing == "users":
        for key in (
            "number_created_packages",
            "last_active",
            "display_name",
            "email_hash",
            "created",
            "image_display_url",
            "datasets",
        ):
            rec.pop(key, None)
    return rec


def _clean_tag(tag: Any) -> Any:
    if isinstance(tag, dict):
        out = {"name": tag.get("name")}
        if tag.get("vocabulary_id"):
            out["vocabulary_id"] = tag["vocabulary_id"]
        return out
    return {"name": tag}


def _clean_resource(res: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in res.items() if k not in ("package_id", "revision_id", "position", "tracking_summary")}
    return out


def merge_for_update(existing: dict[str, Any], prepared: dict[str, Any]) -> dict[str, Any]:
    """The full object to send to ``*_update``: existing fields kept, the input's keys laid over them.

    Resources are merged by ``id``; see the module docstring for the exact rule.
    """
    merged = copy.deepcopy(existing)
    for key in ("organization", "packages", "num_resources", "num_tags", "tracking_summary"):
        merged.pop(key, None)
    for key, value in prepared.items():
        if key == "resources" and isinstance(value, list):
            old = {r.get("id"): r for r in existing.get("resources", []) if isinstance(r, dict) and r.get("id")}
            resources = []
            for res in value:
                base = old.get(res.get("id")) if isinstance(res, dict) else None
                resources.append({**copy.deepcopy(base), **res} if base else res)
            merged["resources"] = resources
        else:
            merged[key] = copy.deepcopy(value)
    merged["id"] = existing.get("id", prepared.get("id"))
    if "groups" in merged and "groups" not in prepared and isinstance(merged["groups"], list):
        merged["groups"] = [{"name": _ref_name(g)} for g in merged["groups"] if _ref_name(g)]
    return merged


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _upload_names(url: str) -> set[str]:
    """Comparable forms of an uploaded file's name.

    Sites store an upload's name cleaned up (observed on CKAN 2.11.6: lower case, ``%`` and other
    characters outside ``[a-z0-9_.-]`` dropped, long names cut near 100 characters), and each site
    serves it under its own host. Both the raw and the percent-decoded name are reduced that way.
    """
    raw = urlsplit(url).path.rsplit("/", 1)[-1]
    out = set()
    for name in (raw, unquote(raw)):
        text = re.sub(r"[^a-z0-9_.-]", "", name.strip().lower().replace(" ", "-"))
        out.add(re.sub(r"-+", "-", text))
    return out


def _same_upload(a: str, b: str) -> bool:
    for x in _upload_names(a):
        for y in _upload_names(b):
            if x == y:
                return True
            short, long = sorted((x, y), key=len)
            stem, dot, ext = short.rpartition(".")
            # a name cut to the site's length limit keeps its extension: compare the stems
            if dot and len(short) >= 60 and long.endswith("." + ext) and long.startswith(stem):
                return True
    return False


def _same_url(want: dict[str, Any], have: dict[str, Any]) -> bool:
    a, b = want.get("url"), have.get("url")
    if _empty(a) and _empty(b):
        return True
    if want.get("url_type") == "upload" and isinstance(a, str) and isinstance(b, str):
        return _same_upload(a, b)  # uploads live under each site's own host
    return bool(a == b)


def _norm_format(value: Any) -> str:
    """CKAN rewrites formats (``video/mp4`` -> ``MP4``, ``audio/x-wav`` -> ``WAV``): compare loosely."""
    text = str(value or "").strip().lower()
    if "/" in text:
        text = text.rsplit("/", 1)[-1].removeprefix("x-")
    return text.lstrip(".")


def _norm(key: str, value: Any) -> Any:
    if _empty(value):
        return None
    if key == "tags" and isinstance(value, list):
        return sorted(str(_ref_name(t)) for t in value)
    if key in ("groups", "users") and isinstance(value, list):
        return sorted(str(_ref_name(g)) for g in value)
    if key == "extras" and isinstance(value, list):
        return {e.get("key"): e.get("value") for e in value if isinstance(e, dict)}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


def _resource_differences(want: list[Any], have: list[Any]) -> list[str]:
    if len(want) != len(have):
        return [f"resources: {len(have)} -> {len(want)}"]
    out = []
    for i, (w, h) in enumerate(zip(want, have, strict=False)):
        if not isinstance(w, dict) or not isinstance(h, dict):
            if w != h:
                out.append(f"resources[{i}]")
            continue
        if w.get("id") and h.get("id") and w["id"] != h["id"]:
            out.append(f"resources[{i}].id")
            continue
        for key, value in w.items():
            if key in _RESOURCE_VOLATILE or key not in h:
                continue
            if key == "url":
                if not _same_url(w, h):
                    out.append(f"resources[{i}].url")
            elif key == "format":
                if _norm_format(value) != _norm_format(h.get(key)):
                    out.append(f"resources[{i}].format")
            elif _norm(key, value) != _norm(key, h.get(key)):
                out.append(f"resources[{i}].{key}")
    return out


def differences(thing: str, prepared: dict[str, Any], existing: dict[str, Any]) -> list[str]:
    """The keys whose values differ between a prepared input record and the site's object ([] = unchanged)."""
    spec = THINGS[thing]
    out: list[str] = []
    for key, value in prepared.items():
        if key == "owner_org" and thing == "datasets":
            org = existing.get("organization")
            have = _ref_name(org) if org else existing.get("owner_org")
            if value not in (have, existing.get("owner_org")):
                out.append("owner_org")
            continue
        if key in spec.volatile or key not in existing:
            continue
        if key == "resources" and isinstance(value, list) and isinstance(existing.get(key), list):
            out.extend(_resource_differences(value, existing[key]))
        elif _norm(key, value) != _norm(key, existing.get(key)):
            out.append(key)
    return out
