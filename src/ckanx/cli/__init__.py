"""The ``ckanx`` command line."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="ckanx")
def main() -> None:
    """ckanx: work with CKAN data portals."""


from . import serve as _serve  # noqa: E402, F401  (registers `ckanx serve`)
