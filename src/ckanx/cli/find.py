"""``ckanx find datasets --title "..."``: find a dataset by its title."""

from __future__ import annotations

import click

from ..admin import find_datasets
from ..bulk.jsonl import compact_json
from . import main
from ._args import parse_data_args
from ._target import CLIError, ExitCode, TargetOptions, make_client, resolve_target, target_options


@main.group("find")
def find_group() -> None:
    """Find objects by what people call them (titles) rather than by name."""


@find_group.command("datasets", context_settings={"ignore_unknown_options": True})
@click.option("--title", required=True, help="The title to look for (case-insensitive).")
@click.argument("filters", nargs=-1, metavar="[FIELD=VALUE | FIELD:JSON ...]")
@click.option("-n", "--limit", type=click.IntRange(min=1), default=1, show_default=True, help="Matches to show.")
@click.option("--exact", is_flag=True, help="Only an exact (case-insensitive) title; exit 1 if there is none.")
@click.option("--full", is_flag=True, help="Write the whole dataset dicts instead of a summary per match.")
@target_options
def find_datasets_command(
    title: str, filters: tuple[str, ...], limit: int, exact: bool, full: bool, target: TargetOptions
) -> None:
    """Write the datasets whose title best matches TITLE, best first, as JSON lines.

    An exact title (same case first, then any case) ranks first, then the closest titles.
    FIELD=VALUE arguments narrow the search (e.g. organization=my-org); private datasets you
    may see are included. Exit status 1 when nothing matches.

    \b
    Examples:
      ckanx find datasets --title "Water quality 2020" -r https://ckan.example.org
      ckanx find datasets --title "budget" organization=finance -n 5
      ckanx find datasets --title "Budget 2024" --exact --full | jq .id
    """
    field_filters, _files = parse_data_args(filters, allow_files=False)
    resolved = resolve_target(target)
    with make_client(resolved) as client:
        matches = find_datasets(client, title, **field_filters)
    if exact:
        matches = [m for m in matches if m.exact]
    if not matches:
        raise CLIError(f"no dataset titled {title!r}" + (" (exactly)" if exact else ""), ExitCode.ERROR)
    for match in matches[:limit]:
        if full:
            click.echo(compact_json(match.dataset))
        else:
            ds = match.dataset
            summary = {
                "score": round(match.score, 3),
                "exact": match.exact,
                "name": ds.get("name"),
                "id": ds.get("id"),
                "title": ds.get("title"),
                "organization": (ds.get("organization") or {}).get("name"),
            }
            click.echo(compact_json(summary, sort_keys=False))
