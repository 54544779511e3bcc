"""TestAppCKAN against CKAN's own test app, built from the real config (inside CKAN's venv)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from ckanx._exceptions import CKANAPIError, NotAuthorized, NotFound, UnknownAction, ValidationError

pytestmark = pytest.mark.localckan

CSV = b"k,v\nx,1\n"


@pytest.fixture(params=["CKANTestApp", "flask test_client"])
def test_app(request: pytest.FixtureRequest, ckan_app: Any) -> Iterator[Any]:
    """CKAN's test app wrapper (what CKAN's ``app`` fixture gives) and a bare Flask test client."""
    if request.param == "CKANTestApp":
        from ckan.tests.helpers import CKANTestApp

        yield CKANTestApp(ckan_app)
    else:
        yield ckan_app._wsgi_app.test_client()


def test_status_show_anonymous(test_app: Any) -> None:
    import ckan

    from ckanx._local import TestAppCKAN

    ck = TestAppCKAN(test_app)
    assert ck.action.status_show()["ckan_version"] == ckan.__version__


def test_create_upload_and_purge(
    test_app: Any, site: Any, site_token: str, org: dict[str, Any], dataset_name: str
) -> None:
    from ckanx._local import TestAppCKAN

    ck = TestAppCKAN(test_app, apikey=site_token)
    created = ck.action.package_create(name=dataset_name, owner_org=org["id"], tags=[{"name": "tx"}])
    assert created["name"] == dataset_name
    # multipart: the other fields go as strings next to the file
    resource = ck.call_action(
        "resource_create", {"package_id": created["id"], "name": "up"},
        files={"upload": ("data.csv", io.BytesIO(CSV))},
    )
    assert resource["url_type"] == "upload"
    assert resource["size"] == len(CSV)
    assert resource["url"].endswith(f"/resource/{resource['id']}/download/data.csv")
    # what TestAppCKAN wrote, read back in-process
    assert site.action.package_show(id=dataset_name)["resources"][0]["id"] == resource["id"]
    assert ck.action.dataset_purge(id=created["id"]) is None
    with pytest.raises(NotFound) as info:
        ck.action.package_show(id=created["id"])
    assert info.value.status_code == 404


def test_errors(
    test_app: Any, site: Any, site_token: str, plain_user: dict[str, Any], org: dict[str, Any],
    dataset_name: str,
) -> None:
    from ckanx._local import TestAppCKAN

    admin = TestAppCKAN(test_app, apikey=site_token)
    data = {"name": "Not A Valid Name!"}
    with pytest.raises(ValidationError) as info:
        admin.call_action("package_create", data)
    assert info.value.status_code == 409
    with pytest.raises(ValidationError) as local_info:
        site.call_action("package_create", data)
    assert info.value.error_dict == local_info.value.error_dict  # HTTP and in-process agree

    # a plain user may not write into an organization they are not a member of
    forbidden = {"name": dataset_name, "owner_org": org["id"]}
    with pytest.raises(NotAuthorized) as denied:
        TestAppCKAN(test_app, apikey=plain_user["token"]).call_action("package_create", forbidden)
    assert denied.value.status_code == 403
    assert plain_user["name"] in str(denied.value)
    # no token at all is anonymous; a per-call apikey replaces the instance's
    with pytest.raises(NotAuthorized, match="package_create"):
        TestAppCKAN(test_app).call_action("package_create", forbidden)
    with pytest.raises(NotAuthorized):
        admin.call_action("package_create", forbidden, apikey=plain_user["token"])
    with pytest.raises(NotFound):
        site.action.package_show(id=dataset_name)

    with pytest.raises(UnknownAction):
        admin.action.lcx_no_such_action()
    with pytest.raises(CKANAPIError, match="context"):
        admin.call_action("status_show", context={"user": "x"})
