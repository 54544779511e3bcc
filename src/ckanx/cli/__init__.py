"""The ``ckanx`` command line."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="ckanx")
def main() -> None:
    """ckanx: work with CKAN data portals."""
