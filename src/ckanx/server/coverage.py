"""Which of CKAN's API actions the embedded server implements: ``docs/server-coverage.md``.

Regenerate the document with::

    python -m ckanx.server.coverage > docs/server-coverage.md

The action names below are data: the public action functions of CKAN 2.11.6 and 2.12.0 as
installed from PyPI (``ckan/logic/action/{get,create,update,patch,delete}.py``, 2.12's
``file.py``, the DataStore plugin's ``get_actions()`` and the activity plugin's blanket actions),
each checked against a live CKAN of that version (an unknown name answers "Action name not
known"), and the GET column from asking the same servers by GET. ``datastore_search_sql``
only exists when ``ckan.datastore.sqlsearch.enabled`` is on.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from . import registry
from .core import load_families

CKAN_ACTIONS: dict[str, tuple[str, ...]] = {
    # ckan/logic/action/get.py
    "get": (
        "am_following_dataset",
        "am_following_group",
        "am_following_user",
        "api_token_list",
        "config_option_list",
        "config_option_show",
        "current_package_list_with_resources",
        "dataset_followee_count",
        "dataset_followee_list",
        "dataset_follower_count",
        "dataset_follower_list",
        "followee_count",
        "followee_list",
        "format_autocomplete",
        "get_site_user",
        "group_autocomplete",
        "group_followee_count",
        "group_followee_list",
        "group_follower_count",
        "group_follower_list",
        "group_list",
        "group_list_authz",
        "group_package_show",
        "group_show",
        "help_show",
        "job_list",
        "job_show",
        "license_list",
        "member_list",
        "member_roles_list",
        "organization_autocomplete",
        "organization_followee_count",
        "organization_followee_list",
        "organization_follower_count",
        "organization_follower_list",
        "organization_list",
        "organization_list_for_user",
        "organization_show",
        "package_autocomplete",
        "package_collaborator_list",
        "package_collaborator_list_for_user",
        "package_list",
        "package_relationships_list",
        "package_search",
        "package_show",
        "resource_search",
        "resource_show",
        "resource_view_list",
        "resource_view_show",
        "status_show",
        "tag_autocomplete",
        "tag_list",
        "tag_search",
        "tag_show",
        "task_status_show",
        "term_translation_show",
        "user_autocomplete",
        "user_followee_count",
        "user_followee_list",
        "user_follower_count",
        "user_follower_list",
        "user_list",
        "user_show",
        "vocabulary_list",
        "vocabulary_show",
    ),
    # ckan/logic/action/create.py
    "create": (
        "api_token_create",
        "follow_dataset",
        "follow_group",
        "follow_user",
        "group_create",
        "group_member_create",
        "member_create",
        "organization_create",
        "organization_member_create",
        "package_collaborator_create",
        "package_create",
        "package_create_default_resource_views",
        "package_relationship_create",
        "resource_create",
        "resource_create_default_resource_views",
        "resource_view_create",
        "tag_create",
        "user_create",
        "user_invite",
        "vocabulary_create",
    ),
    # ckan/logic/action/update.py
    "update": (
        "bulk_update_delete",
        "bulk_update_private",
        "bulk_update_public",
        "config_option_update",
        "group_update",
        "organization_update",
        "package_owner_org_update",
        "package_relationship_update",
        "package_resource_reorder",
        "package_revise",
        "package_update",
        "resource_update",
        "resource_view_reorder",
        "resource_view_update",
        "task_status_update",
        "task_status_update_many",
        "term_translation_update",
        "term_translation_update_many",
        "user_update",
        "vocabulary_update",
    ),
    # ckan/logic/action/patch.py
    "patch": (
        "group_patch",
        "organization_patch",
        "package_patch",
        "resource_patch",
        "user_patch",
    ),
    # ckan/logic/action/delete.py
    "delete": (
        "api_token_revoke",
        "dataset_purge",
        "group_delete",
        "group_member_delete",
        "group_purge",
        "job_cancel",
        "job_clear",
        "member_delete",
        "organization_delete",
        "organization_member_delete",
        "organization_purge",
        "package_collaborator_delete",
        "package_delete",
        "package_relationship_delete",
        "resource_delete",
        "resource_view_clear",
        "resource_view_delete",
        "tag_delete",
        "task_status_delete",
        "unfollow_dataset",
        "unfollow_group",
        "unfollow_user",
        "user_delete",
        "vocabulary_delete",
    ),
    # ckan/logic/action/file.py (2.12 only)
    "file": (
        "file_create",
        "file_delete",
        "file_owner_scan",
        "file_ownership_transfer",
        "file_pin",
        "file_register",
        "file_rename",
        "file_show",
        "file_unpin",
    ),
    # ckanext/datastore/logic/action.py (plugin.get_actions)
    "datastore": (
        "datastore_create",
        "datastore_delete",
        "datastore_function_create",
        "datastore_function_delete",
        "datastore_info",
        "datastore_records_delete",
        "datastore_run_triggers",
        "datastore_search",
        "datastore_search_sql",
        "datastore_upsert",
    ),
    # ckanext/activity/logic/action.py
    "activity": (
        "activity_create",
        "activity_data_show",
        "activity_delete",
        "activity_delete_all",
        "activity_delete_counts",
        "activity_diff",
        "activity_show",
        "dashboard_activity_list",
        "dashboard_mark_activities_old",
        "dashboard_new_activities_count",
        "group_activity_list",
        "organization_activity_list",
        "package_activity_list",
        "recently_changed_packages_activity_list",
        "send_email_notifications",
        "user_activity_list",
    ),
}
# Actions CKAN 2.12.0 has and 2.11.6 does not (2.12 removed none).
ADDED_IN_212: frozenset[str] = frozenset(
    {
        "activity_delete",
        "activity_delete_all",
        "activity_delete_counts",
        "file_create",
        "file_delete",
        "file_owner_scan",
        "file_ownership_transfer",
        "file_pin",
        "file_register",
        "file_rename",
        "file_show",
        "file_unpin",
    }
)
# Actions CKAN answers on GET (side_effect_free); all others need POST.
READ_ACTIONS: frozenset[str] = frozenset(
    {
        "activity_data_show",
        "activity_diff",
        "activity_show",
        "am_following_dataset",
        "am_following_group",
        "am_following_user",
        "api_token_list",
        "config_option_list",
        "config_option_show",
        "current_package_list_with_resources",
        "dashboard_activity_list",
        "dashboard_new_activities_count",
        "dataset_followee_count",
        "dataset_followee_list",
        "dataset_follower_count",
        "dataset_follower_list",
        "datastore_info",
        "datastore_search",
        "datastore_search_sql",
        "file_owner_scan",
        "file_show",
        "followee_count",
        "followee_list",
        "format_autocomplete",
        "get_site_user",
        "group_activity_list",
        "group_autocomplete",
        "group_followee_count",
        "group_followee_list",
        "group_follower_count",
        "group_follower_list",
        "group_list",
        "group_list_authz",
        "group_package_show",
        "group_show",
        "help_show",
        "job_list",
        "job_show",
        "license_list",
        "member_list",
        "member_roles_list",
        "organization_activity_list",
        "organization_autocomplete",
        "organization_followee_count",
        "organization_followee_list",
        "organization_follower_count",
        "organization_follower_list",
        "organization_list",
        "organization_list_for_user",
        "organization_show",
        "package_activity_list",
        "package_autocomplete",
        "package_collaborator_list",
        "package_collaborator_list_for_user",
        "package_list",
        "package_relationships_list",
        "package_search",
        "package_show",
        "recently_changed_packages_activity_list",
        "resource_search",
        "resource_show",
        "resource_view_list",
        "resource_view_show",
        "status_show",
        "tag_autocomplete",
        "tag_list",
        "tag_search",
        "tag_show",
        "task_status_show",
        "term_translation_show",
        "user_activity_list",
        "user_autocomplete",
        "user_followee_count",
        "user_followee_list",
        "user_follower_count",
        "user_follower_list",
        "user_list",
        "user_show",
        "vocabulary_list",
        "vocabulary_show",
    }
)

FAMILY_TITLES = {
    "get": "Read (get.py)",
    "create": "Create (create.py)",
    "update": "Update (update.py)",
    "patch": "Patch (patch.py)",
    "delete": "Delete (delete.py)",
    "file": "Files (file.py, 2.12)",
    "datastore": "DataStore (ckanext-datastore)",
    "activity": "Activity (ckanext-activity)",
}
VERSIONS = ("2.11", "2.12")
# <repo>/src/ckanx/server/coverage.py -> <repo>/tests/contract/KNOWN_DIFFERENCES.md
DEFAULT_KNOWN_DIFFERENCES = Path(__file__).resolve().parents[3] / "tests" / "contract" / "KNOWN_DIFFERENCES.md"


def ckan_versions_of(name: str) -> tuple[str, ...]:
    """The CKAN versions (of :data:`VERSIONS`) that have the action ``name``."""
    return ("2.12",) if name in ADDED_IN_212 else VERSIONS


def all_ckan_actions() -> list[str]:
    """Every action name of CKAN 2.11/2.12 listed here, sorted."""
    return sorted({name for names in CKAN_ACTIONS.values() for name in names})


def _mark(spec: registry.ActionSpec | None, name: str, version: str) -> str:
    if version not in ckan_versions_of(name):
        return "n/a"
    return "yes" if spec is not None and version in spec.versions else "no"


def _notes(spec: registry.ActionSpec | None, name: str) -> str:
    if spec is None:
        return ""
    notes = []
    if spec.read != (name in READ_ACTIONS):
        notes.append("GET allowed here, not on CKAN" if spec.read else "GET refused here, allowed on CKAN")
    extra = sorted(spec.versions - set(ckan_versions_of(name)))
    if extra:
        notes.append(f"also served on {', '.join(extra)}, which CKAN does not")
    return "; ".join(notes)


def render(
    actions: Mapping[str, registry.ActionSpec],
    known_differences: str | None = None,
) -> str:
    """The coverage document (Markdown) for a registry of implemented ``actions``."""
    names = all_ckan_actions()
    lines = [
        "# Embedded server: CKAN API coverage",
        "",
        "<!-- generated by `python -m ckanx.server.coverage > docs/server-coverage.md`; do not edit -->",
        "",
        "Every action of CKAN's API reference (core, DataStore and activity plugins) for the",
        "CKAN versions the embedded server imitates, and whether `ckanx serve` /",
        "`ckanx.testing` implement it. `n/a`: the action does not exist in that CKAN version.",
        "GET: CKAN answers it on GET (read actions); all others need POST.",
        "",
        "| CKAN | implemented | of |",
        "| --- | --- | --- |",
    ]
    for version in VERSIONS:
        wanted = [n for n in names if version in ckan_versions_of(n)]
        done = [n for n in wanted if _mark(actions.get(n), n, version) == "yes"]
        lines.append(f"| {version} | {len(done)} | {len(wanted)} |")
    for family, family_names in CKAN_ACTIONS.items():
        lines += [
            "",
            f"## {FAMILY_TITLES[family]}",
            "",
            "| action | 2.11 | 2.12 | GET | notes |",
            "| --- | --- | --- | --- | --- |",
        ]
        for name in family_names:
            spec = actions.get(name)
            marks = " | ".join(_mark(spec, name, v) for v in VERSIONS)
            get = "GET" if name in READ_ACTIONS else ""
            lines.append(f"| `{name}` | {marks} | {get} | {_notes(spec, name)} |")
    extra = sorted(set(actions) - set(names))
    lines += ["", "## Not CKAN actions", ""]
    if extra:
        lines.append("Served by the embedded server but absent from CKAN 2.11/2.12:")
        lines.append("")
        lines += [f"- `{name}`" for name in extra]
    else:
        lines.append("None: the embedded server only serves CKAN's own action names.")
    lines += ["", "## Known differences", ""]
    if known_differences and known_differences.strip():
        body = known_differences.strip().splitlines()
        if body and body[0].startswith("# "):  # the file's own title: this section has one
            body = body[1:]
        # nest the file's headings under this section's
        lines += ["#" + line if line.startswith("#") else line for line in body]
        while lines and not lines[-1].strip():
            lines.pop()
    else:
        lines.append("None recorded (`tests/contract/KNOWN_DIFFERENCES.md`).")
    return "\n".join(lines) + "\n"


def current_document(known_differences_path: Path = DEFAULT_KNOWN_DIFFERENCES) -> str:
    """The document for the families installed now (what the committed file should say)."""
    load_families()
    known = known_differences_path.read_text(encoding="utf-8") if known_differences_path.is_file() else None
    return render(registry.ACTIONS, known)


def main(out: TextIO = sys.stdout) -> None:
    """Write the coverage document to ``out`` (stdout)."""
    out.write(current_document())


if __name__ == "__main__":
    main()
