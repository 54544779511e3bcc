"""The runner: a real socket, site_url equal to the bound URL, clean shutdown."""

from __future__ import annotations

import socket

import httpx
import pytest

from ckanx.server.core import EmbeddedCKAN
from ckanx.server.runner import (
    ServerStartError,
    bind_socket,
    is_loopback,
    running_server,
    start_server,
    url_for,
)


def _status(url: str) -> dict:
    r = httpx.get(f"{url}/api/3/action/status_show", timeout=5)
    assert r.status_code == 200
    return r.json()["result"]


def test_running_server_serves_on_loopback_with_matching_site_url() -> None:
    with running_server() as srv:
        assert srv.host == "127.0.0.1"
        assert srv.port > 0
        assert srv.url == f"http://127.0.0.1:{srv.port}"
        assert srv.server.site_url == srv.url
        result = _status(srv.url)
        assert result["site_url"] == srv.url
        assert result["ckan_version"] == "2.11.6"
        data_dir = srv.server.data_dir
        assert data_dir.exists()
    # stopped: the port no longer answers and the temporary state is gone
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{srv.url}/api/3/action/status_show", timeout=2)
    assert not data_dir.exists()


def test_version_212_and_token_attribute() -> None:
    with running_server(ckan_version="2.12") as srv:
        assert _status(srv.url)["ckan_version"] == "2.12.0"
        assert srv.token == srv.server.sysadmin_token


def test_keep_alive_client_does_not_block_shutdown() -> None:
    srv = start_server()
    client = httpx.Client()
    assert client.get(f"{srv.url}/api/3/action/status_show").status_code == 200
    srv.stop()  # the idle keep-alive connection must not hang this
    client.close()
    assert not srv._thread.is_alive()
    srv.stop()  # idempotent


def test_explicit_port_and_port_in_use() -> None:
    probe = bind_socket("127.0.0.1", 0)
    port = probe.getsockname()[1]
    probe.close()
    with running_server(port=port) as srv:
        assert srv.url == f"http://127.0.0.1:{port}"
        with pytest.raises(ServerStartError, match=r"cannot listen on 127\.0\.0\.1:"):
            start_server(port=port)


def test_given_server_is_adopted_not_closed(tmp_path) -> None:
    site = EmbeddedCKAN(tmp_path / "site")
    try:
        with running_server(site) as srv:
            assert site.site_url == srv.url
            assert _status(srv.url)["site_url"] == srv.url
        # still usable: the runner did not close a site it did not create
        with site.db.transaction() as conn:
            assert conn.execute("select 1").fetchone()[0] == 1
    finally:
        site.close()
    assert (tmp_path / "site" / "catalog.db").exists()


def test_url_helpers() -> None:
    assert url_for("0.0.0.0", 80) == "http://127.0.0.1:80"
    assert url_for("::1", 8080) == "http://[::1]:8080"
    assert url_for("10.0.0.5", 1) == "http://10.0.0.5:1"
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


def test_bind_socket_unresolvable_host() -> None:
    with pytest.raises(ServerStartError, match="cannot resolve host"):
        bind_socket("no-such-host.invalid", 0)


def test_socket_is_really_listening() -> None:
    with running_server() as srv, socket.create_connection(("127.0.0.1", srv.port), timeout=2):
        pass


def test_listening_socket_is_tcp_so_asyncio_sets_nodelay() -> None:
    # proto 0 made asyncio skip TCP_NODELAY on accepted connections: +40 ms per request
    sock = bind_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_bad_site_options_release_the_socket() -> None:
    probe = bind_socket("127.0.0.1", 0)
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ValueError, match="ckan_version"):
        start_server(port=port, ckan_version="2.9")
    # the port was released: it can be bound again at once
    with running_server(port=port) as srv:
        assert srv.port == port
