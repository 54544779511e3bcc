"""The ``ckanx`` command line.

Every command is a thin shell over library functions. Errors reach the user as one line
(``ckanx: error: ...``) with an :class:`~ckanx.cli._target.ExitCode`; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from .._exceptions import CKANAPIError
from ._target import CLIError, ExitCode


class _Group(click.Group):
    """Turns library errors into one-line messages and exit codes."""

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

from . import action as _action  # noqa: E402, F401  (registers `ckanx action`)
from . import batch as _batch  # noqa: E402, F401  (registers `ckanx batch`)
from . import bulk_update as _bulk_update  # noqa: E402, F401  (registers `ckanx bulk-update`)
from . import datastore as _datastore  # noqa: E402, F401  (registers `ckanx datastore`)
from . import delete as _delete  # noqa: E402, F401  (registers `ckanx delete`)
from . import demo as _demo  # noqa: E402, F401  (registers `ckanx demo`)
from . import dump as _dump  # noqa: E402, F401  (registers `ckanx dump`)
from . import files as _files  # noqa: E402, F401  (registers `ckanx files`)
from . import find as _find  # noqa: E402, F401  (registers `ckanx find`)
from . import load as _load  # noqa: E402, F401  (registers `ckanx load`)
from . import mirror as _mirror  # noqa: E402, F401  (registers `ckanx mirror`)
from . import profile as _profile  # noqa: E402, F401  (registers `ckanx profile`)
from . import search as _search  # noqa: E402, F401  (registers `ckanx search`)
from . import serve as _serve  # noqa: E402, F401  (registers `ckanx serve`)
from . import sync as _sync  # noqa: E402, F401  (registers `ckanx sync`)
from . import tokens as _tokens  # noqa: E402, F401  (registers `ckanx tokens`)
