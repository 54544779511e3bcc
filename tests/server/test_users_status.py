"""Site-level actions kept by the accounts family: status_show, help_show, license_list.

(Named ``test_users_*`` because this family owns ``status/``.) Expected values are CKAN 2.11.6's.
"""

from __future__ import annotations

import pytest

from ckanx.server import registry

LICENSE_KEYS = [
    "domain_content",
    "id",
    "domain_data",
    "domain_software",
    "family",
    "is_generic",
    "od_conformance",
    "osd_conformance",
    "maintainer",
    "status",
    "url",
    "title",
]


def test_status_show(api):
    status, body = api("status_show", method="GET", token=None)
    assert status == 200
    assert body["result"] == {
        "site_title": "CKAN",
        "site_description": "",
        "site_url": "http://127.0.0.1:5000",
        "error_emails_to": "",
        "locale_default": "en",
        "extensions": ["activity", "datastore"],  # both families are part of this server
        "ckan_version": "2.11.6",
    }


@pytest.mark.parametrize("ckan_version", ["2.12"])
def test_status_show_212(api):
    assert api("status_show", token=None)[1]["result"]["ckan_version"] == "2.12.0"


def test_status_show_lists_only_loaded_extensions(api):
    datastore = registry.ACTIONS.pop("datastore_search")
    try:
        assert api("status_show")[1]["result"]["extensions"] == ["activity"]
    finally:
        registry.ACTIONS["datastore_search"] = datastore


def test_license_list(api):
    status, body = api("license_list", method="GET", token=None)
    assert status == 200
    licenses = body["result"]
    assert [lic["id"] for lic in licenses] == [
        "notspecified",
        "odc-pddl",
        "odc-odbl",
        "odc-by",
        "cc-zero",
        "cc-by",
        "cc-by-sa",
        "gfdl",
        "other-open",
        "other-pd",
        "other-at",
        "uk-ogl",
        "cc-nc",
        "other-nc",
        "other-closed",
    ]
    assert all(list(lic) == LICENSE_KEYS for lic in licenses)
    assert licenses[1] == {
        "domain_content": "False",
        "id": "odc-pddl",
        "domain_data": "True",
        "domain_software": "False",
        "family": "",
        "is_generic": "False",
        "od_conformance": "approved",
        "osd_conformance": "not reviewed",
        "maintainer": "",
        "status": "active",
        "url": "http://www.opendefinition.org/licenses/odc-pddl",
        "title": "Open Data Commons Public Domain Dedication and License (PDDL)",
    }
    # the datasets family's license titles must agree with this register
    from ckanx.server.datasets.models import LICENSES

    assert {lic["id"]: lic["title"] for lic in licenses} == {k: v[0] for k, v in LICENSES.items()}


def test_help_show(api):
    status, body = api("help_show", {"name": "user_show"}, method="GET", token=None)
    assert status == 200
    assert body["result"] == registry.ACTIONS["user_show"].func.__doc__
    assert ":param id:" in body["result"]
    status, body = api("help_show", {"name": "nope"})
    assert status == 404
    assert body["error"] == {"__type": "Not Found Error", "message": "Not found: Action function not found"}
    status, body = api("help_show", {})
    assert status == 409
    assert body["error"] == {"name": ["Missing value"], "__type": "Validation Error"}


def test_every_action_of_this_family_is_documented():
    from ckanx.server.core import load_families

    load_families()
    mine = ("user", "api_token", "organization", "group", "member", "status", "help", "license")
    undocumented = [
        name
        for name, spec in registry.ACTIONS.items()
        if name.startswith(mine) and not (spec.func.__doc__ or "").strip()
    ]
    assert undocumented == []
