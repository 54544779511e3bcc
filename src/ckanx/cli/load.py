"""``ckanx load``: create or update datasets, groups, organizations or users from JSON lines."""

from __future__ import annotations

import os
from pathlib import Path

import click

from .._config import env_token_for
from ..bulk.checkpoint import Checkpoint
from ..bulk.command import (
    THING_CHOICE,
    common_options,
    concurrency_for,
    exit_for,
    run_records_job,
    window,
    windowed,
)
from ..bulk.jsonl import InputError, iter_lines, open_input
from ..bulk.load import LoadOptions, run_load
from . import main
from ._target import CLIError, ExitCode, TargetOptions, resolve_target, target_options


@main.command("load")
@click.argument("thing", type=THING_CHOICE, metavar="(datasets|groups|organizations|users)")
@click.option(
    "-I",
    "--input",
    "input_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read JSON lines from FILE (default stdin; .gz is un-gzipped).",
)
@window
@click.option("-n", "--create-only", is_flag=True, help="Only create: existing records are left alone.")
@click.option("-o", "--update-only", is_flag=True, help="Only update: records not on the site fail.")
@click.option("--owner-org", metavar="NAME", help="Organization for datasets that name none.")
@click.option(
    "--upload-resources", is_flag=True, help="Copy uploaded resource files from the source site (see --source-url)."
)
@click.option(
    "--source-url",
    metavar="URL",
    help="The source CKAN of --upload-resources/--upload-logo: its token goes only there.",
)
@click.option(
    "--source-token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Token for downloading from --source-url (default: $CKAN_API_TOKEN if it belongs to it).",
)
@click.option(
    "--upload-logo",
    is_flag=True,
    help="Copy group/organization images uploaded on the source site (image_upload); links are kept.",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted load of -I FILE from its checkpoint.")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Checkpoint file (default: INPUT.ckanx-checkpoint).",
)
@common_options()
@target_options
def load_command(
    thing: str,
    input_file: Path | None,
    start_record: int,
    max_records: int | None,
    create_only: bool,
    update_only: bool,
    owner_org: str | None,
    upload_resources: bool,
    source_url: str | None,
    source_token_file: Path | None,
    upload_logo: bool,
    resume: bool,
    checkpoint_file: Path | None,
    processes: int,
    quiet: bool,
    log_file: Path | None,
    gzip_flag: bool,
    target: TargetOptions,
) -> None:
    """Create or update THING from JSON lines (e.g. the output of `ckanx dump` or `ckanapi dump`).

    \b
    Rules:
    - A record matching an existing object (by id, then name) is compared first: when nothing it
      says differs from the site (ids, timestamps and counters ignored), nothing is written.
    - Updates never drop fields absent from the input: the existing object is updated with the
      input's keys laid over it. Keys in the input win; a list given in the input (tags, groups,
      extras, resources) is the new list, but a resource matched by id keeps its fields the input
      does not mention.
    - owner_org and groups are resolved by name (organization.name in a dump), so ids from another
      site do not break site-to-site loads; --owner-org NAME is used when a dataset has none.
    - --upload-logo (groups, organizations): an image uploaded on the source (image_url a bare
      file name, or a URL under /uploads/group/) is downloaded from there and uploaded here; an
      image linked from elsewhere is kept as a link.
    - A record CKAN refuses is logged with CKAN's reason and the job exits with 3.
    - With -I FILE a checkpoint is kept beside it; --resume continues after a crash (records done
      after the last checkpoint are checked again and skipped when unchanged).

    \b
    Examples:
      ckanx load datasets -I datasets.jsonl.gz -r https://ckan.example.org -p 3
      ckanx dump datasets --all -r https://a.example.org | ckanx load datasets -r https://b.example.org
      ckanx load datasets -I dump.jsonl --owner-org my-org -l load-log.jsonl
      ckanx load datasets -I dump.jsonl --resume
      ckanx load organizations -I orgs.jsonl -n
      ckanx load organizations -I orgs.jsonl --upload-logo --source-url https://a.example.org
    """
    if create_only and update_only:
        raise CLIError("-n/--create-only and -o/--update-only exclude each other", ExitCode.USAGE)
    stdin = input_file is None or str(input_file) == "-"
    if resume and stdin:
        raise CLIError("--resume needs -I FILE (stdin cannot be read again)", ExitCode.USAGE)
    if upload_resources and thing != "datasets":
        raise CLIError("--upload-resources applies to datasets", ExitCode.USAGE)
    resolved = resolve_target(target)
    concurrency = concurrency_for(processes, resolved)
    source_token = None
    if (upload_resources or upload_logo) and source_url:
        if source_token_file:
            try:
                source_token = source_token_file.read_text().strip() or None
            except OSError as err:
                raise CLIError(f"cannot read --source-token-file: {err.strerror}", ExitCode.USAGE) from None
        else:
            source_token = env_token_for(source_url)
    opts = LoadOptions(
        thing=thing,
        concurrency=concurrency,
        create_only=create_only,
        update_only=update_only,
        default_owner_org=owner_org,
        upload_resources=upload_resources,
        upload_logo=upload_logo,
        source_url=source_url,
        source_token=source_token,
        verify=resolved.verify,
    )
    checkpoint = None
    state = None
    if not stdin:
        assert input_file is not None
        path = checkpoint_file or input_file.with_name(input_file.name + ".ckanx-checkpoint")
        job = {
            "command": "load",
            "thing": thing,
            "input": os.path.abspath(input_file),
            "window": [start_record, max_records],
            "site": resolved.url,
        }
        checkpoint = Checkpoint(path, job)
        if resume:
            state = checkpoint.load() if path.exists() else None
            if state is None:
                raise CLIError(f"--resume: no checkpoint at {path} (nothing to resume)", ExitCode.USAGE)
        elif not os.access(path.parent, os.W_OK):
            click.echo(
                f"ckanx: warning: cannot write the checkpoint {path} (use --checkpoint): this load cannot be resumed",
                err=True,
            )
            checkpoint = None
    try:
        stream = open_input(input_file, gzip_flag=gzip_flag)
    except InputError as err:
        raise CLIError(str(err), ExitCode.USAGE) from None
    source = "stdin" if stdin else str(input_file)
    lines = windowed(iter_lines(stream, source), start_record, max_records)
    summary = run_records_job(
        resolved,
        f"load {thing}",
        lambda client, progress, log: run_load(
            client, opts, lines, progress=progress, log=log, checkpoint=checkpoint, state=state
        ),
        quiet=quiet,
        log_file=log_file,
        close=[stream],
    )
    if checkpoint is not None:
        checkpoint.remove()
    exit_for(summary)
