"""``ckanx batch``: run actions from JSON lines ``{"action", "data", "files"}``."""

from __future__ import annotations

from pathlib import Path

import click

from ..bulk.actions import run_batch
from ..bulk.command import (
    common_options,
    concurrency_for,
    exit_for,
    run_records_job,
    window,
    windowed,
)
from ..bulk.jsonl import DurableOutput, InputError, iter_lines, open_input
from . import main
from ._target import CLIError, ExitCode, TargetOptions, resolve_target, target_options


@main.command("batch")
@click.option(
    "-I",
    "--input",
    "input_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read JSON lines from FILE (default stdin).",
)
@click.option(
    "-O",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the results to FILE (default stdout).",
)
@window
@click.option("--local-files", is_flag=True, help='Allow "files" to upload local files.')
@common_options()
@target_options
def batch_command(
    input_file: Path | None,
    output: Path | None,
    start_record: int,
    max_records: int | None,
    local_files: bool,
    processes: int,
    quiet: bool,
    log_file: Path | None,
    gzip_flag: bool,
    target: TargetOptions,
) -> None:
    """Run the actions given as JSON lines: {"action": NAME, "data": {...}, "files": {FIELD: PATH}}.

    Each line's outcome is written as a JSON line in input order:
    {"action", "line", "result"} or {"action", "line", "error"} (CKAN's error object). With -p N,
    lines run concurrently (keep -p 1 when a line depends on an earlier one). Exit 3 if any failed.

    \b
    Examples:
      ckanx batch -I actions.jsonl -r https://ckan.example.org -l batch-log.jsonl
      echo '{"action": "package_patch", "data": {"id": "x", "title": "New"}}' | ckanx batch
      ckanx batch -I uploads.jsonl --local-files
    """
    resolved = resolve_target(target)
    concurrency = concurrency_for(processes, resolved)
    try:
        stream = open_input(input_file, gzip_flag=gzip_flag)
    except InputError as err:
        raise CLIError(str(err), ExitCode.USAGE) from None
    source = "stdin" if input_file is None else str(input_file)
    lines = windowed(iter_lines(stream, source), start_record, max_records)
    # deferred: a batch that fails before its first result leaves an existing -O file intact
    out = DurableOutput(output, gzip_output=False, defer=True)
    summary = run_records_job(
        resolved,
        "batch",
        lambda client, progress, log: run_batch(
            client, lines, out, local_files=local_files, concurrency=concurrency, progress=progress, log=log
        ),
        quiet=quiet,
        log_file=log_file,
        close=[stream, out],
        on_success=out.create if output is not None else None,
    )
    exit_for(summary)
