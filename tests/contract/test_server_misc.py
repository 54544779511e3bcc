"""Smaller read actions: license_list, autocompletes, tags and vocabularies, group membership
rules when creating datasets."""

from __future__ import annotations

from typing import Any

from normalise import chain, only, pick, sorted_by

from conftest import Case


def test_license_list(ckan: Case) -> None:
    ckan.call("license_list", method="GET")


def test_autocompletes(ckan: Case) -> None:
    org = ckan.org(title="Autocomplete Org")
    ckan.setup("group_create", {"name": ckan.name("grp"), "title": "Autocomplete Group"})
    ckan.actor("user")
    ckan.dataset("ds", org, resources=[{"url": "http://example.com/x", "format": "GeoJSON"}])
    ckan.call("organization_autocomplete", {"q": ckan.run}, method="GET",
              view=pick("result", "name", "title"))
    ckan.call("group_autocomplete", {"q": ckan.run}, view=pick("result", "name", "title"))
    ckan.call("user_autocomplete", {"q": ckan.run}, view=pick("result", "name", "fullname"))
    ckan.call("organization_autocomplete", {}, label="organization_autocomplete no q")
    ckan.call("user_autocomplete", {}, label="user_autocomplete no q")


def test_tag_list_and_show(ckan: Case) -> None:
    org = ckan.org()
    tags = [{"name": f"{ckan.run}-t1"}, {"name": f"{ckan.run}-t2"}]
    ckan.dataset("ds", org, tags=tags)
    # tag lists come in database order: compared as sets
    ckan.call("tag_list", {"query": ckan.run}, method="GET", view=sorted_by("result", None))
    ckan.call("tag_list", {"query": ckan.run, "all_fields": True},
              view=chain(pick("result", "name", "vocabulary_id"), sorted_by("result")),
              label="all_fields")
    ckan.call("tag_show", {"id": f"{ckan.run}-t1"}, view=only("result.name",
                                                              "result.vocabulary_id"))
    ckan.call("tag_show", {"id": f"{ckan.run}-none"}, label="unknown")


def test_vocabularies(ckan: Case) -> None:
    org = ckan.org()
    _, body = ckan.call("vocabulary_create", {"name": ckan.name("vocab"),
                                              "tags": [{"name": "red"}, {"name": "green"}]},
                        view=sorted_by("result.tags"))
    vocab_id = (body.get("result") or {}).get("id")
    ckan.call("vocabulary_show", {"id": ckan.name("vocab")},
              view=chain(sorted_by("result.tags"), pick("result.tags", "name", "vocabulary_id")))
    ckan.call("package_create", {"name": ckan.name("ds"), "owner_org": org["id"],
                                 "tags": [{"name": "red", "vocabulary_id": vocab_id}]},
              view=only("result.tags", "result.num_tags"), label="tag from vocabulary")
    ckan.call("package_create", {"name": ckan.name("ds2"), "owner_org": org["id"],
                                 "tags": [{"name": "blue", "vocabulary_id": vocab_id}]},
              label="tag not in vocabulary")
    ckan.call("tag_list", {"vocabulary_id": ckan.name("vocab")}, view=sorted_by("result", None),
              label="tag_list by vocabulary")
    ckan.call("vocabulary_create", {"name": ckan.name("vocab")}, label="name taken")
    ckan.call("vocabulary_create", {"name": ckan.name("v2")}, as_="user", label="as user")


def test_dataset_groups_need_group_membership(ckan: Case) -> None:
    org = ckan.org()
    editor = ckan.actor("editor", org)
    grp = ckan.setup("group_create", {"name": ckan.name("grp")})
    data: dict[str, Any] = {"name": ckan.name("ds"), "owner_org": org["id"],
                            "groups": [{"name": grp["name"]}]}
    ckan.call("package_create", data, as_=editor, view=pick("result.groups", "name"),
              label="editor not in group")
    ckan.setup("group_member_create", {"id": grp["id"], "username": editor.name,
                                       "role": "member"})
    ckan.call("package_create", {**data, "name": ckan.name("ds2")}, as_=editor,
              view=pick("result.groups", "name"), label="editor member of group")
