"""``ckanx files``: upload resource files (skipped when unchanged) and download them, verified."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..files import Files, VerificationError
from . import main
from ._args import parse_data_args
from ._target import CLIError, ExitCode, TargetOptions, make_client, resolve_target, target_options


def _client(target: TargetOptions) -> Any:
    resolved = resolve_target(target)
    if resolved.local_config is not None:
        raise CLIError("files commands need a site URL (-r), not -c/--config", ExitCode.USAGE)
    return make_client(resolved)


@main.group("files")
def files_group() -> None:
    """Resource files: upload (streamed, size and sha256 recorded) and download (resumable, verified).

    \b
    Examples:
      ckanx files upload data.csv --dataset my-dataset name="Data" description="..."
      ckanx files upload data.csv --resource RESOURCE_ID      # skipped when unchanged
      ckanx files download RESOURCE_ID -O data.csv
      ckanx files download --dataset my-dataset -O copies/
    """


@files_group.command("upload", context_settings={"ignore_unknown_options": True})
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("metadata", nargs=-1, metavar="[KEY=STRING | KEY:JSON ...]")
@click.option("--dataset", "package_id", metavar="ID_OR_NAME", help="Create a new resource in this dataset.")
@click.option("--resource", "resource_id", metavar="ID", help="Replace this resource's file.")
@click.option("--force", is_flag=True, help="Upload even when size and hash are unchanged.")
@target_options
def upload_command(path: Path, metadata: tuple[str, ...], package_id: str | None, resource_id: str | None,
                   force: bool, **kw: Any) -> None:
    """Upload PATH as a resource file; prints the resource as JSON.

    Metadata uses ckanapi's syntax (KEY=STRING, KEY:JSON); nested values are sent in a second
    resource_patch, as CKAN cannot take them with a file.
    """
    if (package_id is None) == (resource_id is None):
        raise CLIError("give --dataset (new resource) or --resource (replace its file)", ExitCode.USAGE)
    data, _files = parse_data_args(metadata, allow_files=False)
    client = _client(kw["target"])
    try:
        result = Files(client).upload(path, resource_id=resource_id, package_id=package_id, metadata=data,
                                      force=force)
    finally:
        client.close()
    skipped = result.pop("_ckanx_skipped", False)
    click.echo(f"{'unchanged, not uploaded' if skipped else 'uploaded'}: {result['id']}", err=True)
    click.echo(json.dumps(result, ensure_ascii=False, sort_keys=True))


@files_group.command("download")
@click.argument("resource_id", required=False)
@click.option("--dataset", metavar="ID_OR_NAME", help="Download every resource file of this dataset.")
@click.option("-O", "--output", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="File, or folder (needed with --dataset).")
@click.option("--no-verify", is_flag=True, help="Do not check the recorded size and hash.")
@click.option("--restart", is_flag=True, help="Ignore a partial download (.part) instead of resuming it.")
@target_options
def download_command(resource_id: str | None, dataset: str | None, output: Path, no_verify: bool, restart: bool,
                     **kw: Any) -> None:
    """Download a resource's file (or a dataset's files), resuming partial downloads; the token is sent
    only to the CKAN site, never to third-party hosts."""
    if (resource_id is None) == (dataset is None):
        raise CLIError("give RESOURCE_ID or --dataset", ExitCode.USAGE)
    client = _client(kw["target"])
    try:
        files = Files(client)
        if dataset:
            reports = files.download_dataset(dataset, output, resume=not restart, verify=not no_verify)
        else:
            reports = [files.download(resource_id or "", output, resume=not restart, verify=not no_verify)]
    except VerificationError as err:
        raise CLIError(str(err)) from None
    finally:
        client.close()
    for r in reports:
        how = f" (resumed at {r.resumed_from})" if r.resumed_from else ""
        checked = f", verified {'+'.join(r.verified)}" if r.verified else ""
        click.echo(f"{r.path}: {r.bytes} bytes{how}{checked}", err=True)
