"""``ckanx dump``: datasets, groups, organizations or users as JSON lines (ckanapi's syntax)."""

from __future__ import annotations

from pathlib import Path

import click

from ..bulk.checkpoint import Checkpoint
from ..bulk.command import THING_CHOICE, common_options, concurrency_for, exit_for, run_records_job
from ..bulk.dump import DumpOptions, resume_state, run_dump
from ..bulk.jsonl import DurableOutput, is_gzip_path
from . import main
from ._target import CLIError, ExitCode, TargetOptions, resolve_target, target_options


def checkpoint_path(output: Path) -> Path:
    """Where a dump to ``output`` keeps its checkpoint."""
    return output.with_name(output.name + ".ckanx-checkpoint")


@main.command("dump")
@click.argument("thing", type=THING_CHOICE, metavar="(datasets|groups|organizations|users)")
@click.argument("names", nargs=-1, metavar="[ID_OR_NAME ...]")
@click.option("--all", "dump_all", is_flag=True, help="Everything the token may see (see --include-*).")
@click.option(
    "-O", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write JSON lines to FILE (default stdout)."
)
@click.option(
    "-D",
    "--datapackages",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write each dataset as a Data Package in DIR/<name>/ with its resources downloaded.",
)
@click.option("--include-private", is_flag=True, help="Include private datasets (include_private=true).")
@click.option("--include-drafts", is_flag=True, help="Include draft datasets (include_drafts=true).")
@click.option(
    "-d", "--datastore-fields", is_flag=True, help="Add each DataStore resource's fields as datastore_fields."
)
@click.option("-R", "--resource-views", is_flag=True, help="Add each resource's views as resource_views.")
@click.option("-U", "--include-users", is_flag=True, help="Include the members of groups/organizations.")
@click.option("--resume", is_flag=True, help="Continue an interrupted dump to -O FILE from its checkpoint.")
@common_options(log=True)
@target_options
def dump_command(
    thing: str,
    names: tuple[str, ...],
    dump_all: bool,
    output: Path | None,
    datapackages: Path | None,
    include_private: bool,
    include_drafts: bool,
    datastore_fields: bool,
    resource_views: bool,
    include_users: bool,
    resume: bool,
    processes: int,
    quiet: bool,
    log_file: Path | None,
    gzip_flag: bool,
    target: TargetOptions,
) -> None:
    """Dump THING (datasets, groups, organizations or users) as JSON lines, keys sorted.

    `datasets --all` walks package_search in id order (about one call per 1000 datasets, not one per
    dataset) and checks at the end that the number written equals the site's count (exit 1 if not).
    Groups and organizations page past CKAN's 1000-name cap. Output is in input order with -p N.

    The output file is written in synced batches with a checkpoint beside it
    (FILE.ckanx-checkpoint): after a crash or kill, the same command with --resume continues where it
    stopped, with no record lost or repeated.

    \b
    Examples:
      ckanx dump datasets --all -O datasets.jsonl.gz -r https://demo.ckan.org
      ckanx dump datasets --all --include-private --include-drafts -O all.jsonl
      ckanx dump datasets --all -O all.jsonl --resume        # after an interruption
      ckanx dump organizations --all -U -p 4 > orgs.jsonl
      ckanx dump datasets my-dataset other-dataset -D packages/
      ckanx dump datasets --all -r https://a.example.org | ckanx load datasets -r https://b.example.org
    """
    if bool(names) == dump_all:
        raise CLIError("give ID_OR_NAME ... or --all (not both)", ExitCode.USAGE)
    if resume and output is None:
        raise CLIError("--resume needs -O FILE (stdout cannot be resumed)", ExitCode.USAGE)
    if (include_private or include_drafts) and thing != "datasets":
        raise CLIError("--include-private/--include-drafts apply to datasets", ExitCode.USAGE)
    resolved = resolve_target(target)
    concurrency = concurrency_for(processes, resolved)
    gz = gzip_flag or is_gzip_path(output)
    opts = DumpOptions(
        thing=thing,
        names=list(names) if names else None,
        include_private=include_private,
        include_drafts=include_drafts,
        datastore_fields=datastore_fields,
        resource_views=resource_views,
        include_users=include_users,
        concurrency=concurrency,
        datapackages=datapackages,
    )
    checkpoint = None
    state = None
    if output is not None:
        job = {
            "command": "dump",
            "thing": thing,
            "names": sorted(names),
            "private": include_private,
            "drafts": include_drafts,
            "site": resolved.url,
        }
        checkpoint = Checkpoint(checkpoint_path(output), job)
        if resume:
            try:
                state = resume_state(
                    output, checkpoint, gzip_output=gz, keyset=opts.names is None and thing == "datasets"
                )
            except ValueError as err:
                raise CLIError(str(err), ExitCode.USAGE) from None
    # -D alone writes packages, not JSON lines (as ckanapi); with -O both
    out = (
        None
        if (datapackages and output is None)
        else DurableOutput(
            output,
            gzip_output=gz,
            append=resume,
            defer=True,
            before_replace=checkpoint.remove if (checkpoint is not None and not resume) else None,
        )
    )
    summary = run_records_job(
        resolved,
        f"dump {thing}",
        lambda client, progress, log: run_dump(
            client,
            opts,
            out,
            progress=progress,
            log=log,
            checkpoint=checkpoint,
            state=state,
            token_for_downloads=resolved.token,
        ),
        quiet=quiet,
        log_file=log_file,
        close=[out],
        # the job ran: an empty result replaces an earlier -O file too
        on_success=out.create if (out is not None and output is not None) else None,
    )
    if checkpoint is not None:
        checkpoint.remove()
    exit_for(summary)
