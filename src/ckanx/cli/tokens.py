"""``ckanx tokens list|revoke``: a user's API tokens, and revoking them in bulk."""

from __future__ import annotations

from typing import Any

import click

from ..admin import list_tokens, parse_duration, revoke_tokens, select_tokens, token_jti
from ..bulk.command import closing, common_options, concurrency_for, exit_for, open_async_client, run_job
from ..bulk.engine import Outcome
from ..bulk.jsonl import compact_json
from . import main
from ._target import CLIError, ExitCode, TargetOptions, make_client, resolve_target, target_options


@main.group("tokens")
def tokens_group() -> None:
    """List and revoke users' API tokens (yours, or anyone's as a sysadmin)."""


@tokens_group.command("list")
@click.argument("user")
@target_options
def tokens_list_command(user: str, target: TargetOptions) -> None:
    """Write USER's API tokens as JSON lines (id, name, created_at, last_access); never the tokens.

    \b
    Example:
      ckanx tokens list alice -r https://ckan.example.org
    """
    resolved = resolve_target(target)
    with make_client(resolved) as client:
        for token in list_tokens(client, user):
            click.echo(compact_json(token, sort_keys=False))


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


@tokens_group.command("revoke")
@click.argument("user")
@click.option("--name", "names", multiple=True, metavar="NAME", help="Tokens with this name (repeatable).")
@click.option("--older-than", callback=_duration, metavar="AGE", help="Tokens created more than AGE ago (90d, 12h).")
@click.option(
    "--unused-for", callback=_duration, metavar="AGE", help="Tokens not used for AGE (never used: since created)."
)
@click.option("--all", "select_all", is_flag=True, help="Every token of USER (asks for confirmation).")
@click.option("--dry-run", is_flag=True, help="Only list the tokens that would be revoked.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@common_options(log=False, gzip_flag=False)
@target_options
def tokens_revoke_command(
    user: str,
    names: tuple[str, ...],
    older_than: Any,
    unused_for: Any,
    select_all: bool,
    dry_run: bool,
    yes: bool,
    processes: int,
    quiet: bool,
    target: TargetOptions,
) -> None:
    """Revoke USER's API tokens chosen by --name, --older-than and --unused-for (all rules must hold),
    or --all of them; concurrently with -p N. The token this command itself uses is never revoked.

    Each token handled is written as a JSON line (status revoked / error / would-revoke); the
    summary goes to stderr. Revoking every token of USER asks for confirmation unless --yes.

    \b
    Examples:
      ckanx tokens revoke alice --unused-for 30d --dry-run
      ckanx tokens revoke alice --name ci --older-than 90d -p 8
      ckanx tokens revoke bob --all --yes
    """
    rules = bool(names) or older_than is not None or unused_for is not None
    if select_all and rules:
        raise CLIError("--all cannot be combined with --name, --older-than or --unused-for", ExitCode.USAGE)
    if not (select_all or rules):
        raise CLIError("choose tokens with --name, --older-than, --unused-for, or --all", ExitCode.USAGE)
    resolved = resolve_target(target)
    concurrency = concurrency_for(processes, resolved)
    with make_client(resolved) as client:
        tokens = list_tokens(client, user)
    chosen = select_tokens(tokens, names=names, older_than=older_than, unused_for=unused_for, select_all=select_all)
    # revoking the token this job authenticates with would turn its remaining calls anonymous
    own = token_jti(resolved.token)
    kept_own = [t for t in chosen if own is not None and t.get("id") == own]
    chosen = [t for t in chosen if t not in kept_own]
    if kept_own and not quiet:
        click.echo("ckanx: note: keeping the token this command uses (revoke it with another one)", err=True)
    if dry_run:
        for token in chosen:
            click.echo(compact_json({"status": "would-revoke", **token}, sort_keys=False))
        if not quiet:
            click.echo(f"tokens revoke: {len(chosen)} of {len(tokens)} tokens would be revoked (dry run)", err=True)
        return
    if not chosen:
        if not quiet:
            click.echo(f"tokens revoke: no token of {user} matches (of {len(tokens)})", err=True)
        return
    if (select_all or len(chosen) == len(tokens)) and not yes:
        click.confirm(f"Revoke all {len(chosen)} API tokens of {user}?", abort=True, err=True)

    def show(token: dict[str, Any], outcome: Outcome) -> None:
        line: dict[str, Any] = {"status": outcome.status, "id": token.get("id"), "name": token.get("name")}
        if outcome.reason:
            line["error"] = outcome.reason
        click.echo(compact_json(line, sort_keys=False))

    aclient = open_async_client(resolved)
    summary = run_job(
        lambda: closing(aclient, revoke_tokens(aclient, chosen, concurrency=concurrency, on_outcome=show))
    )
    if not quiet:
        click.echo(f"tokens revoke: {summary.text().replace('records', 'tokens')}", err=True)
    exit_for(summary)
