"""``ckanx delete``: delete (or purge) datasets, groups, organizations or users."""

from __future__ import annotations

from pathlib import Path

import click

from ..bulk.actions import numbered_names, run_delete
from ..bulk.command import (
    THING_CHOICE,
    common_options,
    concurrency_for,
    exit_for,
    run_records_job,
    window,
    windowed,
)
from ..bulk.jsonl import InputError, InputLine, iter_lines, open_input
from . import main
from ._target import CLIError, ExitCode, TargetOptions, resolve_target, target_options


@main.command("delete")
@click.argument("thing", type=THING_CHOICE, metavar="(datasets|groups|organizations|users)")
@click.argument("names", nargs=-1, metavar="[ID_OR_NAME ...]")
@click.option(
    "-I",
    "--input",
    "input_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the ids or names from FILE ('-' or no names: stdin).",
)
@window
@click.option("--purge", is_flag=True, help="Purge instead of delete (datasets, groups, organizations).")
@common_options()
@target_options
def delete_command(
    thing: str,
    names: tuple[str, ...],
    input_file: Path | None,
    start_record: int,
    max_records: int | None,
    purge: bool,
    processes: int,
    quiet: bool,
    log_file: Path | None,
    gzip_flag: bool,
    target: TargetOptions,
) -> None:
    """Delete THING given as ID_OR_NAME arguments or read from -I FILE / stdin.

    Input lines may be package_show/group_show objects (their id or name), package_search results
    (every id in "results"), JSON strings, JSON lists of strings (package_list output) or plain
    names, as ckanapi accepts. -s/-m count names, not lines. Deleted datasets keep their name
    (CKAN's rule): use --purge to free it. Users cannot be purged.

    \b
    Examples:
      ckanx delete datasets old-one older-one -r https://ckan.example.org
      ckanx dump datasets --all | ckanx delete datasets --purge
      ckanx action package_search fq=organization:x rows:1000 -j | ckanx delete datasets
      ckanx delete groups -I groups.txt -l deleted.jsonl
    """
    if names and input_file:
        raise CLIError("give ID_OR_NAME ... or -I FILE, not both", ExitCode.USAGE)
    if purge and thing == "users":
        raise CLIError("CKAN cannot purge users (--purge applies to datasets, groups, organizations)", ExitCode.USAGE)
    resolved = resolve_target(target)
    concurrency = concurrency_for(processes, resolved)
    stream = None
    if names:
        items = (
            (i, n)
            for i, n in enumerate(names, 1)
            if i >= start_record and (max_records is None or i < start_record + max_records)
        )
    else:
        try:
            stream = open_input(input_file, gzip_flag=gzip_flag)
        except InputError as err:
            raise CLIError(str(err), ExitCode.USAGE) from None
        lines = iter_lines(stream, "stdin" if input_file is None else str(input_file), parse=False)
        named = (InputLine(number, name, None) for number, name in numbered_names(lines))
        items = ((ln.number, ln.text) for ln in windowed(named, start_record, max_records))
    summary = run_records_job(
        resolved,
        f"delete {thing}",
        lambda client, progress, log: run_delete(
            client, thing, items, purge=purge, concurrency=concurrency, progress=progress, log=log
        ),
        quiet=quiet,
        log_file=log_file,
        close=[stream],
    )
    exit_for(summary)
