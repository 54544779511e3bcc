"""Turn a package dict (``package_show``'s sysadmin view) into the flat document CKAN sends to Solr.

Same rules as CKAN's ``PackageSearchIndex.index_package``: extras become ``extras_<key>`` (and
``<key>`` when that name is free), tags split into ``tags`` and ``vocab_<vocabulary>``, groups and the
organization become names, resource fields are flattened into ``res_*`` lists, ``capacity`` and
``permission_labels`` carry visibility, dates get a ``Z``. Values that pysolr drops (``None``,
``""``) are dropped here too.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Callable
from typing import Any

from .analysis import parse_date

KEY_CHARS = frozenset(string.digits + string.ascii_letters + "_-")
RESERVED_FIELDS = (
    "entity_type",
    "res_url",
    "text",
    "urls",
    "indexed_ts",
    "site_id",
    "tags",
    "groups",
    "res_name",
    "res_description",
    "res_format",
    "res_url",
    "res_type",
)
RESOURCE_FIELDS = (
    ("name", "res_name"),
    ("description", "res_description"),
    ("format", "res_format"),
    ("url", "res_url"),
    ("resource_type", "res_type"),
)
SITE_ID = "default"


def dataset_labels(pkg: dict[str, Any]) -> list[str]:
    """CKAN's default permission labels of a dataset (collaborators disabled)."""
    if pkg.get("state") == "active" and not pkg.get("private"):
        return ["public"]
    if pkg.get("owner_org"):
        return [f"member-{pkg['owner_org']}"]
    return [f"creator-{pkg.get('creator_user_id')}"]


def _clean(value: Any) -> Any:
    """Drop what pysolr would not send (None, empty strings; nested dicts, which CKAN never sends)."""
    if value is None or value == "" or isinstance(value, dict):
        return None
    if isinstance(value, (list, tuple)):
        # pysolr keeps lists as they are (an empty ``tags`` list is stored and returned by fl)
        return [v for v in value if v is not None and not isinstance(v, dict)]
    return value


def solr_document(
    pkg_dict: dict[str, Any], vocabulary_name: Callable[[str], str | None] | None = None
) -> dict[str, Any]:
    """The Solr document CKAN would index for ``pkg_dict`` (not modified)."""
    pkg = dict(pkg_dict)
    title = pkg.get("title")
    if title:
        pkg["title_string"] = title
    index_fields = set(RESERVED_FIELDS) | set(pkg)
    for extra in pkg.pop("extras", None) or []:
        key, value = extra.get("key", ""), extra.get("value")
        if isinstance(value, (list, tuple)):
            value = " ".join(map(str, value))
        key = "".join(c for c in str(key) if c in KEY_CHARS)
        pkg["extras_" + key] = value
        if key not in index_fields:
            pkg[key] = value
    tag_names: list[str] = []
    for tag in pkg.pop("tags", None) or []:
        vocab_id = tag.get("vocabulary_id")
        if vocab_id:
            vname = (vocabulary_name(vocab_id) if vocabulary_name else None) or vocab_id
            pkg.setdefault(f"vocab_{vname}", []).append(tag["name"])
        else:
            tag_names.append(tag["name"])
    pkg["tags"] = tag_names
    pkg["groups"] = [g["name"] for g in pkg.pop("groups", None) or []]
    pkg["capacity"] = "private" if pkg.get("private") else "public"
    org = pkg.get("organization")
    pkg["organization"] = org["name"] if isinstance(org, dict) else None
    for res in pkg.pop("resources", None) or []:
        for src, dest in RESOURCE_FIELDS:
            pkg.setdefault(dest, []).append(res.get(src, ""))
    pkg.pop("relationships_as_subject", None)
    pkg.pop("relationships_as_object", None)
    pkg["entity_type"] = "package"
    pkg["dataset_type"] = pkg.get("type")
    doc: dict[str, Any] = {}
    for key, value in pkg.items():
        if key.endswith("_date"):
            if not value:
                continue
            d = parse_date(str(value))
            if d is None:
                continue  # CKAN logs and skips unparseable dates
            value = d.isoformat() + "Z"
        value = _clean(value)
        if value is not None:
            doc[key] = value
    for key in ("metadata_created", "metadata_modified"):
        if key in doc:
            doc[key] = str(doc[key]) + "Z"
    if isinstance(doc.get("title"), str):
        doc["title"] = doc["title"].lstrip()
    doc["site_id"] = SITE_ID
    doc["index_id"] = hashlib.md5(f"{pkg.get('id')}{SITE_ID}".encode()).hexdigest()
    doc["permission_labels"] = dataset_labels(pkg_dict)
    return doc
