"""``ckanx sync``: keep an organization's datasets equal to a source (see ``docs/sync.md``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from .._config import env_token_for
from ..bulk.command import common_options, concurrency_for, exit_for, run_records_job
from ..bulk.engine import Summary
from ..bulk.jsonl import InputError
from ..sync.executor import SyncOptions, SyncReport, check_source_id, run_async
from ..sync.planner import Plan, PlannedAction
from ..sync.sources import Source, open_source
from . import main
from ._target import CLIError, ExitCode, TargetOptions, resolve_target, target_options

_VERB = {"create": "create", "update": "update", "delete": "delete", "mark": "mark-deleted", "fail": "fail"}


def _plan_lines(the_plan: Plan, verbose: bool) -> list[str]:
    """One line per planned write or failure; with ``verbose`` each one's changes and warnings."""
    lines = []
    for act in the_plan.actions:
        if act.kind not in _VERB:
            continue
        text = f"{_VERB[act.kind]:<12} {act.name}"
        if act.reason:
            text += f"  ({act.reason})"
        lines.append(text)
        if verbose:
            lines.extend(f"    {change}" for change in act.changes)
            lines.extend(f"    warning: {w}" for w in act.warnings)
    return lines


def _write_report(path: Path, report: SyncReport) -> None:
    # written next to the target and renamed: a reader never sees half a report
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@main.command("sync")
@click.argument("source", required=False, metavar="SOURCE")
@click.option("--into", "into", required=True, metavar="ORGANIZATION", help="Target organization (must exist).")
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing.")
@click.option(
    "--report", "report_file", type=click.Path(dir_okay=False, path_type=Path), help="Write a JSON run report."
)
@click.option("-v", "--verbose", is_flag=True, help="Per-dataset changes (with --dry-run) and each write's outcome.")
@click.option(
    "--delete", "on_missing", flag_value="delete", default=True, help="Delete datasets that left the source (default)."
)
@click.option(
    "--mark-deleted",
    "on_missing",
    flag_value="mark",
    help="Make datasets that left the source private and add the ckanx_sync_deleted extra.",
)
@click.option("--keep", "on_missing", flag_value="keep", help="Leave datasets that left the source alone.")
@click.option("--source-id", metavar="NAME", help="The source's name on the target (default: derived from SOURCE).")
@click.option("--name-prefix", default="", metavar="PREFIX", help="Prepend PREFIX to every dataset name.")
@click.option("--force", is_flag=True, help="Update every dataset of the source, even when unchanged.")
@click.option("--resume", is_flag=True, help="Continue an interrupted sync (every run does: see the help above).")
@click.option("--source-url", metavar="URL", help="Sync from this CKAN (same as SOURCE ckan+URL).")
@click.option("--source-query", metavar="Q", help="With a CKAN source: only datasets matching this package_search q.")
@click.option(
    "--source-token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Token for the source CKAN (default: $CKAN_API_TOKEN when $CKAN_URL names that site).",
)
@click.option(
    "--allow-empty", is_flag=True, help="Let a source without records delete (or mark) every dataset it owns."
)
@click.option(
    "--unknown-as-extras",
    is_flag=True,
    help="Store top-level fields outside CKAN's default schema (another site's custom fields) as extras.",
)
@common_options(gzip_flag=False)
@target_options
def sync_command(
    source: str | None,
    into: str,
    dry_run: bool,
    report_file: Path | None,
    verbose: bool,
    on_missing: str,
    source_id: str | None,
    name_prefix: str,
    force: bool,
    resume: bool,
    source_url: str | None,
    source_query: str | None,
    source_token_file: Path | None,
    allow_empty: bool,
    unknown_as_extras: bool,
    processes: int,
    quiet: bool,
    log_file: Path | None,
    target: TargetOptions,
) -> None:
    """Make the datasets of ORGANIZATION that came from SOURCE equal to SOURCE.

    \b
    SOURCE is one of:
      FILE.jsonl[.gz]            one dataset per line (a ckanapi/ckanx dump)
      DIR                        *.json / *.yaml files (one dataset or a list each), */datapackage.json
      datapackage.json (or its directory)   a Frictionless Data Package: one dataset
      ckan+https://HOST[?q=...&fq=...]      another CKAN (or --source-url URL --source-query Q)

    \b
    Each synced dataset carries the extras ckanx_sync_source (--source-id), ckanx_sync_id (the
    record's id in the source) and ckanx_sync_hash (sha256 of the normalised record). A run:
    - creates records that are new, updates those whose hash changed (package_revise: fields,
      extras, resources the source does not manage are kept), leaves unchanged ones unwritten;
    - deletes (default), --mark-deleted or --keep the datasets that left the source;
    - never touches datasets it does not own (other sources, hand-made ones); a name held by one
      is a failed record (exit 3), not an overwrite.
    Every run re-reads the target, so a run after a crash finishes the work with nothing
    duplicated (--resume is accepted for symmetry with the bulk commands and changes nothing).

    \b
    Examples:
      ckanx sync datasets.jsonl.gz --into envidat -r https://ckan.example.org --dry-run -v
      ckanx sync datasets.jsonl.gz --into envidat -p 4 --report sync-report.json
      ckanx sync ckan+https://www.envidat.ch?q=tags:snow --into snow --source-id envidat-snow
      ckanx sync ./datapackage.json --into research --mark-deleted
    """
    del resume  # every run recomputes its plan from the target: nothing to restore
    if source and source_url:
        raise CLIError("give SOURCE or --source-url, not both", ExitCode.USAGE)
    if source_url:
        source = "ckan+" + source_url if not source_url.lower().startswith("ckan+") else source_url
    if not source:
        raise CLIError("missing SOURCE (a file, a directory, or ckan+https://HOST)", ExitCode.USAGE)
    if source_id is not None:
        try:
            source_id = check_source_id(source_id)
        except ValueError as err:
            raise CLIError(str(err), ExitCode.USAGE) from None
    resolved = resolve_target(target)
    concurrency = concurrency_for(processes, resolved)
    src = _open(source, source_query, source_token_file, resolved.verify)
    options = SyncOptions(
        into=into,
        source_id=source_id,
        on_missing=on_missing,  # type: ignore[arg-type]  # click's flag values are the three literals
        name_prefix=name_prefix,
        force=force,
        concurrency=concurrency,
        allow_empty=allow_empty,
        unknown_as_extras=unknown_as_extras,
    )
    holder: dict[str, SyncReport] = {}

    def on_plan(the_plan: Plan) -> None:
        if dry_run:
            return
        if verbose and not quiet:
            click.echo(f"sync: plan: {the_plan.summary()}", err=True)

    def on_result(act: PlannedAction, result: Any) -> None:
        if verbose:
            reason = f"  ({result.reason})" if result.reason else ""
            click.echo(f"{result.action:<10} {result.name}{reason}")

    async def body(client: Any, progress: Any, log: Any) -> Summary:
        report = await run_async(
            client, src, options, dry_run=dry_run, progress=progress, log=log, on_plan=on_plan, on_result=on_result
        )
        holder["report"] = report
        counts = {k: v for k, v in report.counts.items() if v and k != "failed"}
        if report.failed:
            counts["error"] = report.failed  # the bulk commands' name for failed records (exit 3)
        return Summary(counts)

    label = "sync (dry run)" if dry_run else "sync"
    summary = run_records_job(resolved, label, body, quiet=quiet or dry_run, log_file=log_file)
    report = holder["report"]
    if dry_run:
        click.echo(f"plan for {report.source_id!r} into {report.into!r}: {report.plan.summary()}")
        for line in _plan_lines(report.plan, verbose):
            click.echo(line)
    else:
        if verbose:
            # warnings of the records written now (an unchanged record's were shown when it was)
            for rec in report.records:
                if rec.action not in ("created", "updated", "failed"):
                    continue
                for warning in rec.warnings:
                    click.echo(f"warning: {rec.name}: {warning}", err=True)
        if not quiet:
            click.echo(f"sync {report.source_id!r} into {report.into!r}: {report.summary()}", err=True)
    if report_file is not None:
        try:
            _write_report(report_file, report)
        except OSError as err:
            raise CLIError(f"cannot write --report {report_file}: {err.strerror}") from None
    exit_for(summary)


def _open(source: str, query: str | None, token_file: Path | None, verify: bool | str) -> Source:
    token = None
    lowered = source.lower()
    if lowered.startswith(("ckan+http://", "ckan+https://")):
        if token_file is not None:
            try:
                token = token_file.read_text().strip() or None
            except OSError as err:
                raise CLIError(
                    f"cannot read --source-token-file {token_file}: {err.strerror}", ExitCode.USAGE
                ) from None
        else:
            token = env_token_for(source[5:].split("?", 1)[0])
    elif token_file is not None:
        raise CLIError("--source-token-file applies to a CKAN source", ExitCode.USAGE)
    try:
        return open_source(source, query=query, token=token, verify=verify)
    except InputError as err:
        raise CLIError(str(err), ExitCode.USAGE) from None
