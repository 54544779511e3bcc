"""Site-to-site mirror: make a target CKAN hold what a source CKAN holds (``ckanx mirror``).

Organizations and groups, datasets (``owner_org`` and groups remapped by name), uploaded resource
files, DataStore tables with their data dictionary, optionally members and resource views.
Unchanged objects are not written; re-runs ask the source only for datasets modified since the
last run (minus a safety margin) and find deletions with an id-set diff. See ``docs/mirror.md``.

Example::

    import asyncio
    from ckanx import AsyncClient
    from ckanx.mirror import MirrorOptions, MirrorState, default_state_path, run_mirror
    from ckanx.bulk import Progress

    async def main() -> None:
        async with AsyncClient("https://a.example.org", "") as src, AsyncClient("https://b.example.org", token) as dst:
            state = MirrorState.load(default_state_path(src.url, dst.url), src.url, dst.url)
            report = await run_mirror(src, dst, MirrorOptions(concurrency=4), state,
                                      progress=Progress("mirror", quiet=True))
            print(report.text())

    asyncio.run(main())
"""

from __future__ import annotations

from ._engine import KINDS, STATUSES, MirrorOptions, MirrorReport, run_mirror, sync_views
from ._state import MirrorState, StateError, default_state_path
from ._tables import sync_table

__all__ = [
    "KINDS",
    "STATUSES",
    "MirrorOptions",
    "MirrorReport",
    "MirrorState",
    "StateError",
    "default_state_path",
    "run_mirror",
    "sync_table",
    "sync_views",
]
