"""``ckanx bulk-update private|public|delete``: change every dataset matching a search at once."""

from __future__ import annotations

from typing import Any

import click

from ..admin import BULK_MODES, matching_datasets, plan_bulk_update, run_bulk_update
from ..bulk.command import closing, common_options, concurrency_for, exit_for, open_async_client, run_job
from ..bulk.engine import Outcome
from ..bulk.jsonl import compact_json
from . import main
from ._args import parse_data_args
from ._target import CLIError, ExitCode, TargetOptions, resolve_target, target_options


@main.command("bulk-update", context_settings={"ignore_unknown_options": True})
@click.argument("mode", type=click.Choice(BULK_MODES), metavar="(private|public|delete)")
@click.argument("args", nargs=-1, metavar="[KEY=STRING | KEY:JSON ...]")
@click.option("--dry-run", is_flag=True, help="Only list the datasets that would change.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@common_options(log=False, gzip_flag=False)
@target_options
def bulk_update_command(
    mode: str,
    args: tuple[str, ...],
    dry_run: bool,
    yes: bool,
    processes: int,
    quiet: bool,
    target: TargetOptions,
) -> None:
    """Make every dataset matching the package_search parameters private, public, or deleted.

    Matching datasets (private ones included unless include_private:false) are grouped by owner
    organization and changed with one bulk_update_* call per organization (organization admins
    may do this). Datasets already in the wanted state, and datasets without an organization, are
    left alone. Asks for confirmation unless --yes; --dry-run lists what would change as JSON lines.
    CKAN's bulk updates do not change metadata_modified.

    \b
    Examples:
      ckanx bulk-update private fq=organization:finance --dry-run
      ckanx bulk-update public q=tags:open-data -p 4 --yes
      ckanx bulk-update delete fq='name:test-*' --yes
    """
    params, _files = parse_data_args(args, allow_files=False)
    if not params and not yes:
        # an empty search is the whole site: make that a deliberate choice
        raise CLIError("no search parameters: this would apply to every dataset (add --yes to mean it)", ExitCode.USAGE)
    resolved = resolve_target(target)
    concurrency = concurrency_for(processes, resolved)
    client = open_async_client(resolved)
    found = run_job(lambda: closing(client, matching_datasets(client, params)))
    plan = plan_bulk_update(mode, found)
    if dry_run:
        for org, datasets in plan.by_org.items():
            for ds in datasets:
                line = {"status": f"would-{mode}", "name": ds.get("name"), "id": ds.get("id"), "owner_org": org}
                click.echo(compact_json(line, sort_keys=False))
        if not quiet:
            click.echo(f"bulk-update (dry run): {plan.text()}", err=True)
        return
    if not plan.count:
        if not quiet:
            click.echo(f"bulk-update: nothing to do ({plan.text()})", err=True)
        return
    if not yes:
        click.confirm(f"bulk-update: {plan.text()}. Go ahead?", abort=True, err=True)

    def show(org: str, datasets: list[dict[str, Any]], outcome: Outcome) -> None:
        for ds in datasets:
            line: dict[str, Any] = {"status": outcome.status, "name": ds.get("name"), "id": ds.get("id")}
            if outcome.reason:
                line["error"] = outcome.reason
            click.echo(compact_json(line, sort_keys=False))

    client = open_async_client(resolved)
    summary = run_job(lambda: closing(client, run_bulk_update(client, plan, concurrency=concurrency, on_outcome=show)))
    if not quiet:
        click.echo(f"bulk-update: {summary.text().replace('records', 'datasets')}", err=True)
    exit_for(summary)
