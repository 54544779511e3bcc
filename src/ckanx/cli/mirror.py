"""``ckanx mirror``: make a target CKAN hold what a source CKAN holds (see :mod:`ckanx.mirror`)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from .. import _config
from .._client import AsyncClient
from .._core import normalize_base_url
from ..admin import parse_duration
from ..bulk.command import concurrency_for, run_job
from ..bulk.engine import Progress, effective_concurrency
from ..mirror import MirrorOptions, MirrorReport, MirrorState, StateError, default_state_path, run_mirror
from . import main
from ._target import CLIError, ExitCode, ResolvedTarget, TargetOptions, _is_local_host, resolve_target, target_options

ENV_SOURCE_TOKEN = "CKAN_SOURCE_API_TOKEN"


def _margin(ctx: click.Context, param: click.Parameter, value: str) -> float:
    try:
        return parse_duration(value).total_seconds()
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


def _same_site(a: str, b: str) -> bool:
    try:
        return normalize_base_url(a) == normalize_base_url(b)
    except ValueError:
        return False


def resolve_source(
    url: str,
    *,
    profile: str | None,
    token_file: Path | None,
    apikey: str | None,
    allow_http: bool,
    verify: bool | str,
) -> ResolvedTarget:
    """The source site and its token: ``--source-token-file``, ``--source-apikey`` (warned),
    ``--source-profile`` (its URL must be SOURCE_URL) or ``$CKAN_SOURCE_API_TOKEN``; anonymous
    otherwise. ``CKAN_API_TOKEN`` is never used for the source: it belongs to the target."""
    try:
        url = normalize_base_url(url)
    except ValueError as err:
        raise CLIError(f"SOURCE_URL: {err}", ExitCode.USAGE) from None
    token: str | None = None
    if profile:
        try:
            found = _config.profile_target(profile)
        except _config.ConfigError as err:
            raise CLIError(str(err), ExitCode.USAGE) from None
        if not _same_site(found.url, url):
            raise CLIError(
                f"--source-profile {profile} is for {found.url}, not the SOURCE_URL {url}", ExitCode.USAGE
            )
        token, verify = found.token, found.verify if verify is True else verify
    else:
        token = os.environ.get(ENV_SOURCE_TOKEN) or None
    if token_file:
        try:
            token = token_file.read_text().strip() or None
        except OSError as err:
            raise CLIError(f"cannot read --source-token-file {token_file}: {err.strerror}", ExitCode.USAGE) from None
    if apikey:
        click.echo(
            "ckanx: warning: --source-apikey is visible to other users in the process list; "
            f"prefer {ENV_SOURCE_TOKEN}, --source-token-file or --source-profile",
            err=True,
        )
        token = apikey
    parts = urlsplit(url)
    if token and parts.scheme == "http" and not _is_local_host(parts.hostname) and not allow_http:
        raise CLIError(
            f"refusing to send the source's API token over plain http to {parts.hostname}: use https, or --allow-http",
            ExitCode.USAGE,
        )
    return ResolvedTarget(url, token, verify)


def resolve_mirror_target(target_url: str | None, opts: TargetOptions) -> ResolvedTarget:
    """TARGET_URL or the usual target options (``-r``, ``--profile``, ``CKAN_URL``...)."""
    if opts.config:
        raise CLIError("mirror needs a remote target (TARGET_URL), not -c/--config", ExitCode.USAGE)
    if target_url:
        if opts.remote and not _same_site(opts.remote, target_url):
            raise CLIError("TARGET_URL and -r/--remote name different sites", ExitCode.USAGE)
        if opts.profile:
            resolved = resolve_target(dataclasses.replace(opts, remote=None))
            if not _same_site(resolved.url or "", target_url):
                raise CLIError(f"--profile {opts.profile} is for {resolved.url}, not TARGET_URL {target_url}",
                               ExitCode.USAGE)
            return resolved
        return resolve_target(dataclasses.replace(opts, remote=target_url))
    return resolve_target(opts)


@main.command("mirror")
@click.argument("source_url", metavar="SOURCE_URL")
@click.argument("target_url", metavar="[TARGET_URL]", required=False)
@click.option("--source-profile", metavar="NAME", help="Token (and TLS setting) for SOURCE_URL from this profile.")
@click.option(
    "--source-token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Read the source's API token from FILE (default: ${ENV_SOURCE_TOKEN}; anonymous without one).",
)
@click.option(
    "--source-apikey",
    metavar="TOKEN",
    help="Source API token (visible in the process list: prefer the file, the profile or the variable).",
)
@click.option("--dry-run", is_flag=True, help="Compare and report what would change; write nothing.")
@click.option(
    "--report", "report_file", type=click.Path(dir_okay=False, path_type=Path), help="Write the JSON report to FILE."
)
@click.option("--include-private", is_flag=True, help="Mirror private datasets too (the source token must see them).")
@click.option("--no-files", is_flag=True, help="Do not copy uploaded resource files.")
@click.option("--no-datastore", is_flag=True, help="Do not copy DataStore tables.")
@click.option("--members", is_flag=True, help="Mirror organization and group members (users matched by name).")
@click.option("--views", is_flag=True, help="Mirror resource views.")
@click.option(
    "--since-margin",
    default="10m",
    show_default=True,
    callback=_margin,
    metavar="DURATION",
    help="Re-runs ask for datasets modified since the last run minus this (30s, 10m, 2h).",
)
@click.option("--full", is_flag=True, help="Compare every dataset, not only those modified since the last run.")
@click.option(
    "--delete-missing", is_flag=True, help="Delete target datasets this mirror copied that are gone from the source."
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The mirror's state file (default: one per source/target pair in the user state directory).",
)
@click.option(
    "-p",
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="Datasets in flight (capped at CKANAPI_PARALLEL_LIMIT, default 3, for hosts not in CKANAPI_MY_SITES).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr.")
@target_options
def mirror_command(
    source_url: str,
    target_url: str | None,
    source_profile: str | None,
    source_token_file: Path | None,
    source_apikey: str | None,
    dry_run: bool,
    report_file: Path | None,
    include_private: bool,
    no_files: bool,
    no_datastore: bool,
    members: bool,
    views: bool,
    since_margin: float,
    full: bool,
    delete_missing: bool,
    state_file: Path | None,
    processes: int,
    quiet: bool,
    target: TargetOptions,
) -> None:
    """Make TARGET_URL hold what SOURCE_URL holds: organizations, groups, datasets, uploaded
    files and DataStore tables (optionally members and views).

    \b
    Rules:
    - Organizations and groups first, by name; then datasets with owner_org and groups
      remapped by name. Unchanged objects are not written.
    - Credentials are separate: the target's come from the usual options (--profile,
      --token-file, $CKAN_API_TOKEN); the source is anonymous unless --source-profile,
      --source-token-file or $CKAN_SOURCE_API_TOKEN gives a token. Each token goes only to
      its own site (file downloads included).
    - A state file remembers the newest metadata_modified seen and which target datasets
      this mirror wrote: re-runs ask the source only for datasets modified since then
      (minus --since-margin), and only those datasets can ever be deleted
      (--delete-missing; otherwise they are reported).
    - Exit 0: all done; 1: the job failed; 2: bad usage; 3: some objects failed (see --report).

    \b
    Examples:
      ckanx mirror https://data.example.org https://mirror.example.org --token-file target.token -p 4
      ckanx mirror https://a.example.org --profile b --source-profile a --include-private --members
      ckanx mirror https://a.example.org https://b.example.org --dry-run --report plan.json
      ckanx mirror https://a.example.org https://b.example.org --delete-missing --since-margin 30m
    """
    resolved = resolve_mirror_target(target_url, target)
    source = resolve_source(
        source_url,
        profile=source_profile,
        token_file=source_token_file,
        apikey=source_apikey,
        allow_http=target.allow_http,
        verify=resolved.verify,
    )
    assert resolved.url is not None and source.url is not None
    if _same_site(source.url, resolved.url):
        raise CLIError("SOURCE_URL and the target are the same site", ExitCode.USAGE)
    concurrency = concurrency_for(processes, resolved)
    try:
        concurrency = effective_concurrency(concurrency, source.url)
    except ValueError as err:
        raise CLIError(str(err), ExitCode.USAGE) from None
    path = state_file or default_state_path(source.url, resolved.url)
    try:
        state = MirrorState.load(path, source.url, resolved.url)
    except StateError as err:
        raise CLIError(str(err), ExitCode.USAGE) from None
    opts = MirrorOptions(
        concurrency=concurrency,
        dry_run=dry_run,
        include_private=include_private,
        files=not no_files,
        datastore=not no_datastore,
        members=members,
        views=views,
        since_margin=since_margin,
        delete_missing=delete_missing,
        full=full,
    )
    progress = Progress("mirror datasets", quiet=quiet)

    async def job() -> MirrorReport:
        # token "" keeps the client anonymous: it must not pick up $CKAN_API_TOKEN (the target's)
        timeout: dict[str, Any] = {"timeout": resolved.timeout} if resolved.timeout is not None else {}
        async with AsyncClient(source.url, source.token or "", verify=source.verify, **timeout) as src, \
                AsyncClient(resolved.url, resolved.token or "", verify=resolved.verify, **timeout) as dst:
            return await run_mirror(src, dst, opts, state, progress=progress)

    try:
        report = run_job(job)
    finally:
        progress.stop()
    if report_file is not None:
        report_file.write_text(json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if not quiet:
        click.echo(report.text(), err=True)
    if report.failed:
        raise click.exceptions.Exit(int(ExitCode.PARTIAL))
