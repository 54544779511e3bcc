"""The ``ckanx`` command line.

Every command is a thin shell over library functions. Errors reach the user as one line
(``ckanx: error: ...``) with an :class:`~ckanx.cli._target.ExitCode`; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Any

import click

from .._exceptions import CKANAPIError
from ._target import CLIError, ExitCode

# command name -> the module of this package that defines it, imported only when the command runs
# (or when --help lists them all): `ckanx dump` then does not import the DataStore, sync and mirror
# code, which was about a third of its start-up time. A new command module may still be imported
# eagerly here (`from . import x as _x`): it registers itself as before.
_COMMAND_MODULES = {
    "action": "action",
    "batch": "batch",
    "bulk-update": "bulk_update",
    "datastore": "datastore",
    "delete": "delete",
    "demo": "demo",
    "dump": "dump",
    "files": "files",
    "find": "find",
    "load": "load",
    "mirror": "mirror",
    "profile": "profile",
    "search": "search",
    "serve": "serve",
    "sync": "sync",
    "tokens": "tokens",
}


class _Group(click.Group):
    """Turns library errors into one-line messages and exit codes; loads commands on first use."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _COMMAND_MODULES.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(f"{__name__}.{module}")  # registers the command on `main`
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in sorted(set(_COMMAND_MODULES.values())):
            importlib.import_module(f"{__name__}.{module}")
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except BrokenPipeError:
            # the reader went away (`ckanx ... | head`): stop quietly, as other Unix tools do
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(0) from None
        except CKANAPIError as err:
            if ctx.meta.get("ckanx.debug"):
                raise
            raise CLIError(str(err)) from None
        except (OSError, ValueError) as err:
            if ctx.meta.get("ckanx.debug"):
                raise
            raise CLIError(str(err)) from None
        except KeyboardInterrupt:
            raise CLIError("interrupted", ExitCode.ERROR) from None
        except Exception as err:
            if ctx.meta.get("ckanx.debug"):
                raise
            raise CLIError(
                f"internal error: {type(err).__name__}: {err} (run with --debug for the traceback)"
            ) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ckanx")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs (never the token).")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """ckanx: work with CKAN data portals, fast and safely.

    \b
    Examples:
      ckanx serve                               # an embedded CKAN on 127.0.0.1:5000
      ckanx demo                                # a tour of ckanx against an embedded CKAN
    """
    ctx.meta["ckanx.debug"] = debug
    if debug:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(name)s: %(message)s")


__all__ = ["CLIError", "ExitCode", "main"]
