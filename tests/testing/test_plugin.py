"""The pytest fixtures users get from ``ckanx.testing`` (via the pytest11 entry point)."""

from __future__ import annotations

import ckanapi
import httpx
import pytest

from ckanx.testing import CKANServer, embedded_ckan, start_ckan_server

pytest_plugins = ["pytester"]


def test_ckan_server_is_a_real_socket_site(ckan_server: CKANServer) -> None:
    assert ckan_server.url.startswith("http://127.0.0.1:")
    # plain HTTP, as a user's own script would do it
    r = httpx.get(f"{ckan_server.url}/api/3/action/status_show")
    assert r.json()["result"]["site_url"] == ckan_server.url
    # the incumbent client (requests underneath) works against it too
    remote = ckanapi.RemoteCKAN(ckan_server.url)
    assert remote.action.status_show()["ckan_version"] == "2.11.6"


def test_client_is_bound_to_the_site(ckan_server: CKANServer) -> None:
    ck = ckan_server.client
    assert ck is ckan_server.client  # one client per site
    assert ck.url.rstrip("/") == ckan_server.url
    assert ck.action.status_show()["site_url"] == ckan_server.url


def test_each_test_gets_a_fresh_server(ckan_server_factory) -> None:  # type: ignore[no-untyped-def]
    a = ckan_server_factory()
    b = ckan_server_factory(ckan_version="2.12")
    assert a.url != b.url
    assert a.server.data_dir != b.server.data_dir
    assert b.client.action.status_show()["ckan_version"] == "2.12.0"


def test_factory_stops_everything_it_started(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import httpx, pytest

        URLS = []

        def test_start(ckan_server_factory, ckan_server):
            URLS.extend([ckan_server_factory().url, ckan_server.url])
            for url in URLS:
                assert httpx.get(url + "/api/3/action/status_show").status_code == 200

        def test_after():
            assert len(URLS) == 2
            for url in URLS:
                with pytest.raises(httpx.ConnectError):
                    httpx.get(url + "/api/3/action/status_show", timeout=2)
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_context_manager_outside_pytest() -> None:
    with embedded_ckan(ckan_version="2.12") as srv:
        assert isinstance(srv, CKANServer)
        assert srv.client.action.status_show()["ckan_version"] == "2.12.0"
        data_dir = srv.server.data_dir
    assert not data_dir.exists()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{srv.url}/api/3/action/status_show", timeout=2)


def test_reset_refuses_a_chosen_data_dir(tmp_path) -> None:  # type: ignore[no-untyped-def]
    srv = start_ckan_server(data_dir=tmp_path / "keep")
    try:
        with pytest.raises(RuntimeError, match="temporary directory"):
            srv.reset()
        assert (tmp_path / "keep" / "catalog.db").exists()
    finally:
        srv.stop()
    # a chosen data dir survives stop
    assert (tmp_path / "keep" / "catalog.db").exists()


def test_token_is_the_sysadmins(ckan_server: CKANServer) -> None:
    assert ckan_server.token
    r = httpx.post(
        f"{ckan_server.url}/api/3/action/user_show",
        json={"id": ckan_server.server.sysadmin_name},
        headers={"Authorization": ckan_server.token},
    )
    assert r.status_code == 200
    assert r.json()["result"]["sysadmin"] is True


SEED = [
    {
        "name": "plugin-ds",
        "title": "Seeded",
        "organization": {"name": "plugin-org", "title": "Plugin org"},
        "resources": [{"name": "r", "url": "http://example.org/r.csv"}],
    },
    {"name": "plugin-orphan", "title": "No organization"},
]


def test_seed_then_reset(ckan_server: CKANServer) -> None:
    report = ckan_server.seed(SEED)
    assert report.datasets_created == 1
    assert report.skipped_no_org == ["plugin-orphan"]
    # seen over HTTP by an independent client (ckanapi uses requests)
    remote = ckanapi.RemoteCKAN(ckan_server.url)
    assert remote.action.package_show(id="plugin-ds")["organization"]["name"] == "plugin-org"
    url, old_token, old_dir = ckan_server.url, ckan_server.token, ckan_server.server.data_dir
    old_client = ckan_server.client
    ckan_server.reset()
    assert ckan_server.url == url  # same socket
    assert not old_dir.exists()
    assert ckan_server.token and ckan_server.token != old_token
    assert ckan_server.client is not old_client  # renewed with the new token
    assert ckan_server.client.action.package_list() == []
    with pytest.raises(ckanapi.NotFound):
        remote.action.package_show(id="plugin-ds")
    # the new token is a working sysadmin token
    ckan_server.client.action.organization_create(name="after-reset")


def test_factory_seed_and_default_owner_org(ckan_server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = ckan_server_factory(ckan_version="2.12", seed=SEED, default_owner_org="fallback")
    assert sorted(srv.client.action.package_list()) == ["plugin-ds", "plugin-orphan"]
    orphan = srv.client.action.package_show(id="plugin-orphan")
    assert orphan["organization"]["name"] == "fallback"


def test_marker_configures_the_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        SEED = [{"name": "m-ds", "title": "T", "organization": {"name": "m-org"}}]

        @pytest.mark.ckan_server(ckan_version="2.12", seed=SEED)
        def test_marked(ckan_server):
            assert ckan_server.client.action.status_show()["ckan_version"] == "2.12.0"
            assert ckan_server.client.action.package_list() == ["m-ds"]

        def test_unmarked(ckan_server):
            assert ckan_server.client.action.status_show()["ckan_version"] == "2.11.6"
            assert ckan_server.client.action.package_list() == []

        @pytest.mark.ckan_server("2.12")
        def test_positional(ckan_server):
            pass
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*keyword arguments only*"])
