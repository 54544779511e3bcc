"""``ckanx search datasets``: every dataset matching package_search parameters, as JSON lines."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..bulk.actions import search_datasets
from ..bulk.command import closing, common_options, open_async_client, run_job
from ..bulk.engine import Progress
from ..bulk.jsonl import DurableOutput, is_gzip_path
from . import main
from ._args import parse_data_args, read_json_input
from ._target import CLIError, ExitCode, TargetOptions, resolve_target, target_options


@main.command("search", context_settings={"ignore_unknown_options": True})
@click.argument("thing", type=click.Choice(["datasets"]), metavar="datasets")
@click.argument("args", nargs=-1, metavar="[KEY=STRING | KEY:JSON ...]")
@click.option("-i", "--input-json", is_flag=True, help="Read the parameters as a JSON object from stdin.")
@click.option(
    "-I",
    "--input",
    "input_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the parameters as a JSON object from FILE.",
)
@click.option("-O", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to FILE (default stdout).")
@common_options(processes=False, log=False)
@target_options
def search_command(
    thing: str,
    args: tuple[str, ...],
    input_json: bool,
    input_file: Path | None,
    output: Path | None,
    quiet: bool,
    gzip_flag: bool,
    target: TargetOptions,
) -> None:
    """Write every dataset matching the package_search parameters as JSON lines (keys sorted).

    Without `rows`, all matches are written, paged by id (keyset: no dataset missed or repeated
    while the catalogue changes); with `sort`, that order is kept and id breaks ties. With `rows`,
    one page is written (as ckanapi).

    \b
    Examples:
      ckanx search datasets q=water -r https://demo.ckan.org
      ckanx search datasets fq=organization:my-org include_private:true -O org.jsonl.gz
      ckanx search datasets q=climate sort="metadata_modified desc"
      ckanx search datasets q=x rows:10
    """
    if input_json and input_file:
        raise CLIError("use -i or -I, not both", ExitCode.USAGE)
    params, _files = parse_data_args(args, allow_files=False)
    if input_json or input_file:
        if args:
            raise CLIError("KEY=VALUE arguments cannot be combined with -i/-I", ExitCode.USAGE)
        if input_file:
            try:
                text = input_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise CLIError(f"cannot read {input_file}: {err}", ExitCode.USAGE) from None
            params = read_json_input(text, str(input_file))
        else:
            params = read_json_input(sys.stdin.read(), "stdin")
    resolved = resolve_target(target)
    # deferred: a search that fails before its first page leaves an existing -O file intact
    out = DurableOutput(output, gzip_output=gzip_flag or is_gzip_path(output), defer=True)
    progress = Progress("search datasets", quiet=quiet)
    client = open_async_client(resolved)
    try:
        count = run_job(lambda: closing(client, search_datasets(client, params, out, progress=progress)))
        if output is not None:
            out.create()  # no match: the empty result still replaces the file
    finally:
        out.close()
        progress.stop()
    progress.finish(f"{count} datasets")
