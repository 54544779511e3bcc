"""``ckanx profile``: named sites in the ckanx config file (tokens never typed on a command line)."""

from __future__ import annotations

import sys

import click

from .. import _config
from .._core import normalize_base_url
from . import main
from ._target import CLIError, ExitCode


@main.group("profile")
def profile_group() -> None:
    """Manage named CKAN sites (url + token) in the ckanx config file.

    \b
    Examples:
      ckanx profile add prod --url https://data.example.org     # asks for the token
      cat token.txt | ckanx profile add prod --url https://data.example.org --token-stdin
      ckanx profile list
      ckanx action package_list --profile prod
    """


@profile_group.command("add")
@click.argument("name")
@click.option("--url", required=True, help="The CKAN site URL.")
@click.option("--token-stdin", is_flag=True, help="Read the API token from stdin instead of prompting.")
@click.option("--no-token", is_flag=True, help="Anonymous access (no token).")
@click.option("--default", "make_default", is_flag=True, help="Make this the default profile.")
def profile_add(name: str, url: str, token_stdin: bool, no_token: bool, make_default: bool) -> None:
    """Add or replace the profile NAME (the file is created owner-readable only)."""
    try:
        url = normalize_base_url(url)
    except ValueError as err:
        raise CLIError(str(err), ExitCode.USAGE) from None
    token: str | None = None
    if token_stdin:
        token = sys.stdin.readline().strip() or None
    elif not no_token:
        token = (
            click.prompt(
                "API token (input hidden, empty for none)", hide_input=True, default="", show_default=False
            ).strip()
            or None
        )
    path = _config.save_profile(name, url, token, make_default=make_default)
    click.echo(f"saved profile {name!r} ({url}, {'with' if token else 'no'} token) in {path}")


@profile_group.command("list")
def profile_list() -> None:
    """List profiles (tokens are never shown)."""
    config = _config.load_profiles()
    default = config.get("default")
    for name, entry in sorted((config.get("profiles") or {}).items()):
        has_token = any(entry.get(k) for k in ("token", "token_file", "token_env"))
        mark = "*" if name == default else " "
        click.echo(f"{mark} {name}\t{entry.get('url', '?')}\t{'token' if has_token else 'anonymous'}")


@profile_group.command("remove")
@click.argument("name")
def profile_remove(name: str) -> None:
    """Remove the profile NAME."""
    if not _config.remove_profile(name):
        raise CLIError(f"no profile {name!r} in {_config.config_path()}", ExitCode.USAGE)
    click.echo(f"removed profile {name!r}")
