"""Fixtures for testing code that talks to CKAN, backed by the embedded server.

Outside pytest, :func:`embedded_ckan` gives a site on a real socket for the duration of a block::

    from ckanx.testing import embedded_ckan

    with embedded_ckan() as srv:
        print(srv.url, srv.token)  # e.g. http://127.0.0.1:43127 and the sysadmin's API token
"""

from __future__ import annotations

from ckanx.server.runner import RunningServer, ServerStartError
from ckanx.server.runner import running_server as embedded_ckan

__all__ = ["RunningServer", "ServerStartError", "embedded_ckan"]
