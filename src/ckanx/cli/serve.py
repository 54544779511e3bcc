"""``ckanx serve``: run the embedded CKAN on a socket until Ctrl-C.

The command is a thin shell over :func:`run_serve`, which takes its streams and a stop event as
arguments so tests can drive it without a terminal. Exit codes are :class:`ServeExit` values.
"""

from __future__ import annotations

import enum
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

import click

from . import main

# How often the foreground loop checks that the server thread is still alive.
_WATCH_INTERVAL = 0.5


class ServeExit(enum.IntEnum):
    """Exit codes of ``ckanx serve``."""

    OK = 0
    #: the server could not start or died (port in use, cannot bind, internal failure)
    FAILURE = 1
    #: bad input: an option, an unreadable seed file, a bad JSON line
    BAD_INPUT = 2


class ServeError(Exception):
    """A failure reported as one line on stderr with ``code`` as the exit status."""

    def __init__(self, message: str, code: ServeExit) -> None:
        super().__init__(message)
        self.code = code


def write_token_file(path: Path, token: str) -> None:
    """Write ``token`` to ``path``, readable by the owner only (0600), even if it existed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode otherwise
        os.write(fd, (token + "\n").encode())
    finally:
        os.close(fd)


def run_serve(
    *,
    host: str,
    port: int,
    data_dir: Path | None,
    seeds: list[Path],
    default_owner_org: str | None,
    token_file: Path | None,
    ckan_version: str,
    out: TextIO,
    err: TextIO,
    stop: threading.Event,
    log_level: str = "warning",
) -> ServeExit:
    """Serve until ``stop`` is set (or Ctrl-C); everything the user sees goes to ``out``/``err``.

    Raises:
        ServeError: bad input or the server could not start.
    """
    from ckanx.server.runner import ServerStartError, is_loopback, start_server
    from ckanx.server.seed import SeedError, read_jsonl, seed

    # Parse every seed file before binding anything: bad input fails fast and writes nothing.
    loaded: list[tuple[Path, list[dict[str, Any]]]] = []
    for path in seeds:
        try:
            loaded.append((path, read_jsonl(path)))
        except SeedError as exc:
            raise ServeError(f"--seed {exc}", ServeExit.BAD_INPUT) from None
    if not is_loopback(host):
        click.echo(
            f"warning: listening on {host}: the site and its sysadmin token are reachable "
            "from other machines (plain HTTP, no TLS)",
            file=err,
        )
    try:
        running = start_server(
            host=host,
            port=port,
            data_dir=data_dir,
            ckan_version=ckan_version,
            log_level=log_level,
        )
    except ServerStartError as exc:
        raise ServeError(str(exc), ServeExit.FAILURE) from None
    except OSError as exc:  # e.g. an unusable --data-dir
        raise ServeError(f"cannot open the site: {exc}", ServeExit.FAILURE) from None
    try:
        for path, rows in loaded:
            click.echo(f"seeding {path} ({len(rows)} datasets)...", file=err)
            report = seed(running.server, rows, default_owner_org=default_owner_org)
            click.echo(f"seeded {path}: {report.summary()}", file=err)
            if report.skipped_no_org:
                more = len(report.skipped_no_org) - 5
                names = ", ".join(report.skipped_no_org[:5]) + (f" (+{more} more)" if more > 0 else "")
                click.echo(f"  skipped without an organization: {names}", file=err)
            for name, error in report.failed[:5]:
                click.echo(f"  failed {name}: {error}", file=err)
            if len(report.failed) > 5:
                click.echo(f"  ... and {len(report.failed) - 5} more failures", file=err)
        click.echo(
            f"CKAN {running.server.full_version} (ckanx embedded) serving at {running.url}",
            file=out,
        )
        click.echo(f"data directory: {running.server.data_dir}", file=out)
        if not running.token:
            click.echo("no sysadmin API token: the users family is not available", file=err)
        elif token_file is not None:
            try:
                write_token_file(token_file, running.token)
            except OSError as exc:
                raise ServeError(f"cannot write --token-file {token_file}: {exc.strerror}", ServeExit.FAILURE) from None
            click.echo(f"sysadmin API token written to {token_file}", file=out)
        else:
            # The one place ckanx prints a token: the user started this server to get it.
            click.echo(f"sysadmin API token: {running.token}", file=out)
        click.echo("press Ctrl-C to stop", file=err)
        out.flush()
        while not stop.wait(_WATCH_INTERVAL):
            if not running._thread.is_alive():
                raise ServeError("the server stopped unexpectedly", ServeExit.FAILURE)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()
    click.echo("stopped", file=err)
    return ServeExit.OK


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=5000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the site's state here (default: a temporary directory removed on exit).",
)
@click.option(
    "--seed",
    "seeds",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Load a ckanapi dump (JSON lines, plain or .gz) at startup; repeatable.",
)
@click.option(
    "--default-owner-org",
    metavar="NAME",
    help="Organization for seeded datasets that have none (created if missing); "
    "without it such datasets are skipped and counted.",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the sysadmin API token to this file (mode 0600) instead of printing it.",
)
@click.option(
    "--ckan-version",
    type=click.Choice(["2.11", "2.12"]),
    default="2.11",
    show_default=True,
    help="Which CKAN's behaviour to imitate.",
)
@click.option("--log-level", type=click.Choice(["warning", "info", "debug"]), default="warning")
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    seeds: tuple[Path, ...],
    default_owner_org: str | None,
    token_file: Path | None,
    ckan_version: str,
    log_level: str,
) -> None:
    """Run an embedded CKAN-compatible server (for development and tests).

    Prints the URL and the sysadmin API token, then serves until Ctrl-C (or SIGTERM).

    \b
    Exit status: 0 after a clean stop; 1 when the server cannot start (port in use, bad
    --data-dir); 2 for bad input (unreadable --seed file, bad JSON line).
    """
    stop = threading.Event()
    # SIGTERM (e.g. from a process manager) shuts down as cleanly as Ctrl-C.
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        code = run_serve(
            host=host,
            port=port,
            data_dir=data_dir,
            seeds=list(seeds),
            default_owner_org=default_owner_org,
            token_file=token_file,
            ckan_version=ckan_version,
            out=sys.stdout,
            err=sys.stderr,
            stop=stop,
            log_level=log_level,
        )
    except ServeError as exc:
        click.echo(f"ckanx serve: error: {exc}", file=sys.stderr)
        sys.exit(exc.code)
    finally:
        signal.signal(signal.SIGTERM, previous)
    sys.exit(code)
