"""``ckanx demo``: a guided tour of ckanx against an embedded CKAN, offline.

Each step is an ordinary ckanx call against a real socket, and each checks what it shows, so the demo
fails (exit 1) if ckanx or the embedded server misbehaves.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from typing import Any

import click
import httpx
from rich.console import Console
from rich.table import Table

from .. import Client, NotFound, RemoteCKAN, ValidationError
from . import main
from ._target import CLIError

_TOPICS = ["water", "air quality", "transport", "health", "education", "energy", "budget", "housing"]
_ORGS = [
    ("city-of-example", "City of Example"),
    ("example-university", "Example University"),
    ("open-data-lab", "Open Data Lab"),
]
_FORMATS = ["CSV", "JSON", "XLSX", "GeoJSON", "PDF"]


def sample_datasets(count: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    """Synthetic datasets in ckanapi dump shape (organization embedded by name, tags, resources)."""
    rng = random.Random(seed)
    for i in range(count):
        topic = rng.choice(_TOPICS)
        org_name, org_title = rng.choice(_ORGS)
        yield {
            "name": f"{topic.replace(' ', '-')}-{i:03d}",
            "title": f"{topic.title()} statistics {2000 + i % 25}",
            "notes": f"Yearly {topic} figures published by {org_title}.",
            "license_id": rng.choice(["cc-by", "odc-odbl", "cc-zero"]),
            "organization": {"name": org_name, "title": org_title},
            "tags": [{"name": t} for t in {topic.replace(" ", "-"), rng.choice(_TOPICS).replace(" ", "-")}],
            "extras": [{"key": "source", "value": "ckanx demo"}],
            "resources": [
                {"name": f"{topic} {year}", "url": f"http://example.org/{i}/{year}.csv", "format": rng.choice(_FORMATS)}
                for year in range(2020, 2020 + rng.randint(1, 3))
            ],
        }


def _check(condition: bool, what: str) -> None:
    if not condition:
        raise CLIError(f"demo check failed: {what}")


@main.command("demo")
@click.option("--datasets", default=120, show_default=True, help="How many sample datasets to seed.")
@click.option("--ckan-version", type=click.Choice(["2.11", "2.12"]), default="2.11", show_default=True)
@click.option("--keep", is_flag=True, help="Keep the server running after the tour (Ctrl-C to stop).")
def demo_command(datasets: int, ckan_version: str, keep: bool) -> None:
    """A tour of ckanx against an embedded CKAN (no network needed).

    \b
    Examples:
      ckanx demo
      ckanx demo --datasets 1000 --ckan-version 2.12 --keep
    """
    from ..testing import start_ckan_server

    console = Console(highlight=False)
    started = time.perf_counter()
    srv = start_ckan_server(ckan_version=ckan_version)
    try:
        console.print(f"[bold]1. Embedded CKAN {ckan_version}[/] listening on {srv.url}")
        report = srv.seed(list(sample_datasets(datasets)))
        console.print(f"   seeded: {report.summary()}")
        _check(report.datasets_created == datasets, f"seeded {report.datasets_created} of {datasets} datasets")
        with Client(srv.url, srv.token) as ck:
            _tour(console, ck, srv.url, srv.token, datasets)
        console.print(f"\n[bold green]All checks passed[/] in {time.perf_counter() - started:.1f} s.")
        if keep:
            console.print(f"Server still running at {srv.url} (sysadmin token printed below). Ctrl-C to stop.")
            click.echo(srv.token)
            while True:
                time.sleep(3600)
        else:
            console.print(
                "Run your own: [bold]ckanx serve[/] (prints a URL and token), then "
                "[bold]ckanx action package_search -r URL q=water[/]."
            )
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()


def _tour(console: Console, ck: Client, url: str, token: str, expected: int) -> None:
    info = ck.server_info()
    console.print(f"[bold]2. status_show[/]: CKAN {info['ckan_version']}, extensions {info['extensions']}")

    found = ck.action.package_search(rows=0, **{"facet.field": ["organization", "tags"], "facet.limit": 5})
    _check(found["count"] == expected, f"package_search count {found['count']} != {expected}")
    table = Table(title=f"3. package_search facets over {found['count']} datasets")
    table.add_column("organization")
    table.add_column("datasets", justify="right")
    for org, n in sorted(found["facets"]["organization"].items(), key=lambda kv: -kv[1]):
        table.add_row(org, str(n))
    console.print(table)

    seen: set[str] = set()
    last = None
    while True:  # keyset paging: sort by id, filter past the last id; stable while the catalog changes
        page = ck.action.package_search(
            sort="id asc", rows=50, fl="id,name", fq=f'id:{{"{last}" TO *]' if last else "*:*"
        )["results"]
        if not page:
            break
        seen.update(p["id"] for p in page)
        last = page[-1]["id"]
    _check(len(seen) == expected, f"keyset walk saw {len(seen)} of {expected}")
    console.print(f"[bold]4. Keyset walk[/]: {len(seen)} datasets, each exactly once")

    org = ck.action.organization_show(id=_ORGS[0][0])
    ds = ck.action.package_create(name="demo-upload", title="Demo upload", owner_org=org["id"])
    payload = b"year,value\n2024,1\n2025,2\n"
    res = ck.action.resource_create(package_id=ds["id"], name="data.csv", upload=("data.csv", payload))
    got = httpx.get(res["url"], headers={"Authorization": token})
    _check(got.content == payload, "downloaded bytes differ from the upload")
    console.print(
        f"[bold]5. Upload[/]: {len(payload)} bytes streamed, downloaded back identical "
        f"(sha256 {hashlib.sha256(got.content).hexdigest()[:12]}…)"
    )

    revised = ck.action.package_revise(match={"id": ds["id"]}, update={"notes": "Revised safely"})["package"]
    _check(revised["num_resources"] == 1, "package_revise dropped a resource")
    console.print("[bold]6. package_revise[/]: changed notes, kept the resource (package_update would replace all)")

    try:
        ck.action.package_create(name="Not A Valid Name", owner_org=org["id"])
        raise CLIError("demo check failed: an invalid name was accepted")
    except ValidationError as err:
        console.print(f"[bold]7. Typed errors[/]: ValidationError {err.error_dict['name'][0]!r}")
    try:
        ck.action.package_show(id="no-such-dataset")
    except NotFound as err:
        console.print(f"   NotFound: status {err.status_code}, action {err.action}")

    with RemoteCKAN(url) as legacy:
        title = legacy.action.package_show(id="demo-upload")["title"]
    console.print(f"[bold]8. ckanapi drop-in[/]: RemoteCKAN read {title!r} anonymously")
