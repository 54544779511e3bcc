"""Target selection shared by every command that talks to a CKAN site, and the exit codes.

Where the site and token come from, first match wins:

1. ``-c CKAN_INI`` (with ``-u USER``): a local CKAN, in-process (LocalCKAN), when ``ckan`` is importable.
2. ``-r/--remote URL``; the token from ``--token-file``, ``-a/--apikey`` (warned: visible in the process
   list), or ``CKAN_API_TOKEN`` when ``CKAN_URL`` names the same site (or is unset).
3. ``--profile NAME`` from the ckanx config file.
4. ``CKAN_URL`` + ``CKAN_API_TOKEN``.
5. the config file's ``default`` profile.

A token is never sent over plain http to a host other than localhost unless ``--allow-http`` is given.
"""

from __future__ import annotations

import enum
import functools
import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click

from .. import _config
from .._client import AsyncClient, Client
from .._core import normalize_base_url

F = TypeVar("F", bound=Callable[..., Any])


class ExitCode(enum.IntEnum):
    """Exit statuses of ckanx commands."""

    OK = 0
    #: the job failed (network, server, configuration)
    ERROR = 1
    #: bad command line or unusable input
    USAGE = 2
    #: the job ran to the end but some records failed (see the log)
    PARTIAL = 3


class CLIError(click.ClickException):
    """A failure shown as one line (``ckanx: error: ...``) with an exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.ERROR) -> None:
        super().__init__(message)
        self.exit_code = int(code)

    def show(self, file: Any = None) -> None:
        click.echo(f"ckanx: error: {self.format_message()}", err=True, file=file)


@dataclass(frozen=True)
class TargetOptions:
    """The target options as given on the command line (before resolution)."""

    remote: str | None = None
    profile: str | None = None
    apikey: str | None = None
    token_file: Path | None = None
    insecure: bool = False
    ca_bundle: Path | None = None
    allow_http: bool = False
    config: Path | None = None
    ckan_user: str | None = None
    timeout: float | None = None

    def __repr__(self) -> str:
        return (
            f"TargetOptions(remote={self.remote!r}, profile={self.profile!r}, apikey={'***' if self.apikey else None})"
        )


def target_options(func: F) -> F:
    """Add the target options to a click command; it receives them as ``target: TargetOptions``."""
    options = [
        click.option(
            "-r", "--remote", metavar="URL", help="CKAN site URL (default: $CKAN_URL or the default profile)."
        ),
        click.option("--profile", metavar="NAME", help="Named site from the ckanx config file."),
        click.option(
            "-a",
            "--apikey",
            metavar="TOKEN",
            help="API token (visible to other users in the process list: prefer $CKAN_API_TOKEN, "
            "--token-file or a profile).",
        ),
        click.option(
            "--token-file", type=click.Path(dir_okay=False, path_type=Path), help="Read the API token from a file."
        ),
        click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (every request of the job)."),
        click.option(
            "--ca-bundle",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="Verify TLS with this CA bundle.",
        ),
        click.option("--allow-http", is_flag=True, help="Allow sending the token over plain http to a non-local host."),
        click.option(
            "-c",
            "--config",
            "ckan_config",
            type=click.Path(dir_okay=False, path_type=Path),
            help="CKAN config file: call a local CKAN in-process (LocalCKAN).",
        ),
        click.option("-u", "--ckan-user", metavar="USER", help="With -c: act as this user (default: the site user)."),
        click.option("--timeout", type=float, metavar="SECONDS", help="Read timeout per request (default 60)."),
    ]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        target = TargetOptions(
            remote=kwargs.pop("remote"),
            profile=kwargs.pop("profile"),
            apikey=kwargs.pop("apikey"),
            token_file=kwargs.pop("token_file"),
            insecure=kwargs.pop("insecure"),
            ca_bundle=kwargs.pop("ca_bundle"),
            allow_http=kwargs.pop("allow_http"),
            config=kwargs.pop("ckan_config"),
            ckan_user=kwargs.pop("ckan_user"),
            timeout=kwargs.pop("timeout"),
        )
        return func(*args, target=target, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class ResolvedTarget:
    """Where a job goes: a remote site (``url``, ``token``, ``verify``) or a local CKAN config."""

    url: str | None
    token: str | None
    verify: bool | str
    local_config: Path | None = None
    local_user: str | None = None
    timeout: float | None = None

    def __repr__(self) -> str:
        return f"ResolvedTarget(url={self.url!r}, token={'***' if self.token else None})"


def _is_local_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def resolve_target(opts: TargetOptions) -> ResolvedTarget:
    """Resolve the options to a target, or raise :class:`CLIError` with one clear line."""
    if opts.config:
        if opts.remote or opts.profile:
            raise CLIError("-c/--config (local CKAN) cannot be combined with -r/--remote or --profile", ExitCode.USAGE)
        return ResolvedTarget(None, None, True, local_config=opts.config, local_user=opts.ckan_user)
    if opts.ckan_user:
        raise CLIError("-u/--ckan-user needs -c/--config (a local CKAN)", ExitCode.USAGE)

    token: str | None = None
    verify: bool | str = True
    try:
        if opts.remote:
            url = opts.remote
            token = _config.env_token_for(url)
        elif opts.profile:
            found = _config.profile_target(opts.profile)
            url, token, verify = found.url, found.token, found.verify
        elif os.environ.get(_config.ENV_URL):
            env = _config.env_target()
            assert env is not None
            url, token = env.url, env.token
        else:
            try:
                found = _config.profile_target(None)
            except _config.ConfigError:
                raise CLIError(
                    "no CKAN site given: use -r URL, --profile NAME or set CKAN_URL", ExitCode.USAGE
                ) from None
            url, token, verify = found.url, found.token, found.verify
        url = normalize_base_url(url)
    except (ValueError, _config.ConfigError) as err:
        raise CLIError(str(err), ExitCode.USAGE) from None

    if opts.token_file:
        try:
            token = opts.token_file.read_text().strip() or None
        except OSError as err:
            raise CLIError(f"cannot read --token-file {opts.token_file}: {err.strerror}", ExitCode.USAGE) from None
    if opts.apikey:
        click.echo(
            "ckanx: warning: -a/--apikey is visible to other users in the process list; "
            "prefer CKAN_API_TOKEN, --token-file or a profile",
            err=True,
        )
        token = opts.apikey
    if opts.insecure:
        click.echo("ckanx: warning: --insecure: TLS certificates are not verified", err=True)
        verify = False
    elif opts.ca_bundle:
        verify = str(opts.ca_bundle)
    parts = urlsplit(url)
    if token and parts.scheme == "http" and not _is_local_host(parts.hostname) and not opts.allow_http:
        raise CLIError(
            f"refusing to send the API token over plain http to {parts.hostname}: use https, or --allow-http",
            ExitCode.USAGE,
        )
    return ResolvedTarget(url, token, verify, timeout=opts.timeout)


def make_client(target: ResolvedTarget, *, asynchronous: bool = False, **kwargs: Any) -> Any:
    """A :class:`~ckanx.Client` (or :class:`~ckanx.AsyncClient`, or a LocalCKAN) for the target."""
    if target.local_config is not None:
        return _local_ckan(target)
    assert target.url is not None
    if target.timeout is not None:
        kwargs.setdefault("timeout", target.timeout)
    cls = AsyncClient if asynchronous else Client
    return cls(target.url, target.token, verify=target.verify, **kwargs)


def _local_ckan(target: ResolvedTarget) -> Any:
    from .._local import LocalCKAN

    if target.local_config is not None and not target.local_config.is_file():
        raise CLIError(f"no CKAN config file at {target.local_config}", ExitCode.USAGE)
    # LocalCKAN builds CKAN's app from $CKAN_INI, as CKAN's own CLI does
    os.environ["CKAN_INI"] = str(target.local_config)
    try:
        return LocalCKAN(username=target.local_user)
    except Exception as err:
        raise CLIError(f"cannot use the local CKAN at {target.local_config}: {err}") from None
