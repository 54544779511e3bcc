"""Test against a real-socket CKAN without a CKAN: fixtures backed by the embedded server.

With pytest, the ``ckan_server`` fixture (installed with ckanx, no ``conftest.py`` needed) gives a
fresh site per test, listening on ``127.0.0.1`` so code that uses ``requests``, ``ckanapi`` or
``ckanx`` talks to it over HTTP like to any CKAN::

    def test_my_harvester(ckan_server):
        ckan_server.client.action.organization_create(name="org")
        my_harvester.run(ckan_server.url, ckan_server.token)
        assert ckan_server.client.action.package_search()["count"] == 3

    def test_on_212(ckan_server_factory):
        srv = ckan_server_factory(ckan_version="2.12", seed="tests/data/datasets.jsonl.gz")

Outside pytest, :func:`embedded_ckan` is the same thing as a context manager::

    from ckanx.testing import embedded_ckan

    with embedded_ckan() as srv:
        print(srv.url, srv.token)  # e.g. http://127.0.0.1:43127 and the sysadmin's API token
        srv.seed([{"name": "ds", "title": "A dataset", "organization": {"name": "org"}}])
        srv.reset()  # back to an empty site (new sysadmin token)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckanx.server.runner import DEFAULT_HOST, RunningServer, ServerStartError, start_server
from ckanx.server.seed import SeedReport, SeedSource

if TYPE_CHECKING:
    from ckanx import Client

__all__ = ["CKANServer", "SeedReport", "ServerStartError", "embedded_ckan", "start_ckan_server"]


class CKANServer(RunningServer):  # type: ignore[misc]  # ckanx.server is not followed by mypy
    """An embedded CKAN on a real socket, with a client and a control plane.

    Attributes:
        url: base URL (``http://127.0.0.1:<port>``), also the site's ``site_url``.
        token: the sysadmin's API token (send it raw in ``Authorization``).
        server: the :class:`~ckanx.server.core.EmbeddedCKAN` behind it.

    Control plane (Python methods, not HTTP): :meth:`reset`, :meth:`seed`.
    """

    _client: Client | None = None
    _client_token: str | None = None

    @property
    def client(self) -> Client:
        """A :class:`ckanx.Client` for this site, authenticated as the sysadmin.

        Example::

            srv.client.action.package_create(name="x", owner_org="org")
        """
        if self._client is None or self._client_token != self.token:
            from ckanx import Client  # lazy: keeps `import ckanx.testing` light

            if self._client is not None:
                self._client.close()
            self._client = Client(self.url, self.token)
            self._client_token = self.token
        return self._client

    def reset(self) -> None:
        """Empty the site (same URL); the sysadmin token and :attr:`client` are renewed.

        Example::

            srv.seed("datasets.jsonl")
            srv.reset()
            assert srv.client.action.package_list() == []
        """
        super().reset()

    def seed(self, source: SeedSource, *, default_owner_org: str | None = None) -> SeedReport:
        """Create the organizations, groups and datasets of a ckanapi dump, in-process.

        ``source`` is a JSON-lines path (plain or ``.gz``) or an iterable of ``package_show``
        dicts; datasets without an organization are skipped and reported unless
        ``default_owner_org`` names one (created if missing).

        Example::

            report = srv.seed([{"name": "ds", "organization": {"name": "org"}}])
            assert report.datasets_created == 1
        """
        result: SeedReport = super().seed(source, default_owner_org=default_owner_org)
        return result

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, close :attr:`client` and remove the site's temporary state."""
        if self._client is not None:
            self._client.close()
            self._client = None
        super().stop(timeout)


def start_ckan_server(
    *,
    ckan_version: str = "2.11",
    data_dir: str | Path | None = None,
    host: str = DEFAULT_HOST,
    port: int = 0,
    seed: SeedSource | None = None,
    default_owner_org: str | None = None,
    **server_kwargs: Any,
) -> CKANServer:
    """Start a :class:`CKANServer`; call :meth:`~CKANServer.stop` when done.

    Args:
        ckan_version: ``"2.11"`` or ``"2.12"``: the CKAN imitated.
        data_dir: keep the site's state there (default: a temporary directory, removed on stop).
        host, port: where to listen (default: loopback, a free port).
        seed: load this dump (path or dicts) before returning.
        default_owner_org: for seeded datasets without an organization.
    """
    srv = start_server(
        host=host,
        port=port,
        data_dir=data_dir,
        ckan_version=ckan_version,
        running_class=CKANServer,
        **server_kwargs,
    )
    assert isinstance(srv, CKANServer)
    if seed is not None:
        try:
            srv.seed(seed, default_owner_org=default_owner_org)
        except BaseException:
            srv.stop()
            raise
    return srv


@contextlib.contextmanager
def embedded_ckan(**options: Any) -> Iterator[CKANServer]:
    """Context manager: a :class:`CKANServer` for the duration of the block.

    Takes the arguments of :func:`start_ckan_server`. Example::

        with embedded_ckan(ckan_version="2.12") as srv:
            assert srv.client.action.status_show()["ckan_version"] == "2.12.0"
    """
    srv = start_ckan_server(**options)
    try:
        yield srv
    finally:
        srv.stop()
