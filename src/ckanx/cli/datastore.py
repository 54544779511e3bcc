"""``ckanx datastore``: import files into DataStore tables, export, search, inspect and delete them.

Thin shells over :mod:`ckanx.datastore`: progress and summaries go to stderr (``-q`` silences them),
results (reports, records) to stdout as JSON, errors as one line with an exit code.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from ..bulk.checkpoint import CheckpointError
from ..bulk.engine import Progress
from ..datastore import DataStore, ImportFailed, SourceError
from . import main
from ._args import parse_data_args
from ._target import CLIError, ExitCode, ResolvedTarget, TargetOptions, make_client, resolve_target, target_options


def _client(target: TargetOptions) -> Any:
    resolved: ResolvedTarget = resolve_target(target)
    if resolved.local_config is not None:
        raise CLIError("datastore commands need a site URL (-r), not -c/--config", ExitCode.USAGE)
    return make_client(resolved)


def _progress_callback(progress: Progress) -> Any:
    def update(done: int, total: int | None) -> None:
        if total is not None and progress.total != total:
            progress.set_total(total)
        if done > progress.done:
            progress.advance(done - progress.done)

    return update


def _json_out(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))


def import_checkpoint_path(target: str, source: str) -> Path:
    """Where an import of ``source`` into ``target`` keeps its checkpoint: the working directory
    (the source's folder may be read-only), named after both."""
    where = source if "://" in source else str(Path(source).resolve())
    key = f"{target}\n{where}"
    return Path(f".ckanx-import-{hashlib.sha256(key.encode()).hexdigest()[:12]}.checkpoint")


def _parse_types(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, ftype = item.rpartition("=")
        if not sep or not name or not ftype:
            raise CLIError(f"--type {item!r}: expected FIELD=TYPE, e.g. --type postcode=text", ExitCode.USAGE)
        out[name] = ftype
    return out


@main.group("datastore")
def datastore_group() -> None:
    """DataStore tables: import, export, search, info, delete.

    \b
    Examples:
      ckanx datastore import my-dataset payments.csv --primary-key id
      ckanx datastore import RESOURCE_ID big.csv --dry-run
      ckanx datastore import RESOURCE_ID big.csv --resume       # after an interruption
      ckanx datastore export RESOURCE_ID -O copy.csv
      ckanx datastore export RESOURCE_ID --format jsonl --filters '{"year": 2020}' > rows.jsonl
      ckanx datastore search RESOURCE_ID q=water limit:5
    """


@datastore_group.command("import")
@click.argument("resource_or_dataset", metavar="RESOURCE_ID_OR_DATASET")
@click.argument("source", metavar="FILE_OR_URL")
@click.option("--primary-key", "-k", "primary_key", multiple=True, metavar="FIELD",
              help="Key field (repeat for a compound key): chunks are upserted, safe to repeat.")
@click.option("--index", "indexes", multiple=True, metavar="FIELD", help="Index this field (repeatable).")
@click.option("--type", "types", multiple=True, metavar="FIELD=TYPE",
              help="Override an inferred type (text, int, int8, numeric, bool, date, timestamp, json).")
@click.option("--info", "info_json", metavar="JSON", help='Data dictionary: {"field": {"label": ..., "notes": ...}}.')
@click.option("--encoding", help="Source encoding (default: detected from the first 256 KiB).")
@click.option("--delimiter", help="Field separator (default: sniffed).")
@click.option("--skip-rows", type=click.IntRange(min=0), help="Rows before the header (default: detected).")
@click.option("--hxl", type=click.Choice(["info", "data", "drop"]), default="info", show_default=True,
              help="An HXL #tag row under the header: into the fields' info, kept as data, or dropped.")
@click.option("--chunk-rows", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--chunk-bytes", type=click.IntRange(min=1024), default=4 * 1024 * 1024, show_default=True)
@click.option("--method", type=click.Choice(["insert", "upsert", "update"]),
              help="Default: upsert with a primary key, insert without.")
@click.option("--name", "resource_name", help="Name of the resource created when a dataset is given.")
@click.option("--force", is_flag=True, help="Write to a table owned by xloader/datapusher.")
@click.option("--dry-run", is_flag=True, help="Check encoding, types, keys and target; write nothing.")
@click.option("--replace", is_flag=True, help="Delete the table's rows first.")
@click.option("--append", is_flag=True, help="Add to a table that already has rows (no key).")
@click.option("--resume", is_flag=True, help="Continue an interrupted import from its checkpoint.")
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path),
              help="Checkpoint file (default: .ckanx-import-<hash>.checkpoint in the working directory).")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr.")
@target_options
def import_command(resource_or_dataset: str, source: str, primary_key: tuple[str, ...], indexes: tuple[str, ...],
                   types: tuple[str, ...], info_json: str | None, encoding: str | None, delimiter: str | None,
                   skip_rows: int | None, hxl: str, chunk_rows: int, chunk_bytes: int, method: str | None,
                   resource_name: str | None, force: bool, dry_run: bool, replace: bool, append: bool,
                   resume: bool, checkpoint: Path | None, quiet: bool, **kw: Any) -> None:
    """Load FILE_OR_URL (CSV or JSON lines) into a resource's DataStore table, or into a new
    resource of a dataset. Prints the import report as JSON on stdout.

    Encoding (UTF-8 with or without BOM, cp1252, cp850, latin-1), delimiter, title lines above the
    header and an HXL tag row are detected; types are inferred conservatively (see docs/datastore.md).
    Without a primary key, an interrupted import resumes with --resume without losing or repeating
    rows: the table's row count settles what landed. Into a dataset, a run interrupted after it
    started creating the resource must be continued with --resume (a plain rerun refuses rather
    than add a second resource).
    """
    if replace and (append or resume):
        raise CLIError("--replace cannot be combined with --append or --resume", ExitCode.USAGE)
    try:
        info = json.loads(info_json) if info_json else None
    except ValueError as err:
        raise CLIError(f"--info: invalid JSON: {err}", ExitCode.USAGE) from None
    if "://" not in source and not Path(source).is_file():
        raise CLIError(f"no such file: {source}", ExitCode.USAGE)
    ckpt = checkpoint or import_checkpoint_path(resource_or_dataset, source)
    if resume and not ckpt.exists():
        raise CLIError(f"--resume: no checkpoint at {ckpt} (nothing to resume)", ExitCode.USAGE)
    progress = Progress("datastore import", quiet=quiet)
    client = _client(kw["target"])
    try:
        report = DataStore(client).import_table(
            resource_or_dataset, source, primary_key=list(primary_key) or None, indexes=list(indexes) or None,
            fields=_parse_types(types) or None, info=info, chunk_rows=chunk_rows, chunk_bytes=chunk_bytes,
            method=method, force=force, dry_run=dry_run, progress=_progress_callback(progress),
            encoding=encoding, delimiter=delimiter, skip_rows=skip_rows, hxl=hxl,
            checkpoint=None if dry_run else ckpt, resume=resume, replace=replace, append=append,
            resource_name=resource_name,
        )
    except CheckpointError as err:
        progress.stop()
        raise CLIError(str(err), ExitCode.USAGE) from None
    except (ImportFailed, SourceError) as err:
        progress.stop()
        hint = ""
        if isinstance(err, ImportFailed) and err.report and err.report.rows_committed and not dry_run:
            hint = f" ({err.report.rows_committed} rows committed; fix and rerun with --resume)"
        raise CLIError(f"{err}{hint}") from None
    except BaseException:
        progress.stop()
        raise
    finally:
        client.close()
    progress.finish(report.summary())
    for warning in report.warnings:
        click.echo(f"ckanx: warning: {warning}", err=True)
    _json_out(report.__dict__)


@datastore_group.command("export")
@click.argument("resource_id")
@click.option("-O", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to FILE (default stdout).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet"]), default=None,
              help="Default: from the file name, else csv.")
@click.option("--filters", metavar="JSON", help='datastore_search filters, e.g. \'{"year": 2020}\'.')
@click.option("--fields", metavar="A,B", help="Only these fields, in this order.")
@click.option("--sort", help='e.g. "year desc".')
@click.option("--q", "q", help="Full-text query.")
@click.option("--hxl", is_flag=True, help="CSV: write the fields' HXL tags as a second row.")
@click.option("--resume", is_flag=True, help="Continue an interrupted export to -O FILE.")
@click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr.")
@target_options
def export_command(resource_id: str, output: Path | None, fmt: str | None, filters: str | None,
                   fields: str | None, sort: str | None, q: str | None, hxl: bool, resume: bool, quiet: bool,
                   **kw: Any) -> None:
    """Write a DataStore table as CSV (the server's dump), JSON lines or Parquet, in constant memory.

    With -O FILE, progress is checkpointed beside it (FILE.ckanx-checkpoint) so --resume continues
    an interrupted export.
    """
    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output else ""
        fmt = {"jsonl": "jsonl", "ndjson": "jsonl", "parquet": "parquet"}.get(suffix, "csv")
    if resume and output is None:
        raise CLIError("--resume needs -O FILE (stdout cannot be resumed)", ExitCode.USAGE)
    if fmt == "parquet" and output is None:
        raise CLIError("--format parquet needs -O FILE", ExitCode.USAGE)
    try:
        filt = json.loads(filters) if filters else None
    except ValueError as err:
        raise CLIError(f"--filters: invalid JSON: {err}", ExitCode.USAGE) from None
    ckpt = output.with_name(output.name + ".ckanx-checkpoint") if output else None
    progress = Progress("datastore export", quiet=quiet)
    client = _client(kw["target"])
    try:
        report = DataStore(client).export(
            resource_id, output if output is not None else sys.stdout.buffer, fmt, filters=filt,
            fields=fields.split(",") if fields else None, sort=sort, q=q, hxl=hxl,
            checkpoint=ckpt if fmt != "parquet" else None, resume=resume, progress=_progress_callback(progress),
        )
    except CheckpointError as err:
        progress.stop()
        raise CLIError(str(err), ExitCode.USAGE) from None
    except BaseException:
        progress.stop()
        raise
    finally:
        client.close()
    progress.finish(f"{report.rows} rows ({report.method})")


@datastore_group.command("info")
@click.argument("resource_id")
@target_options
def info_command(resource_id: str, **kw: Any) -> None:
    """The table's fields (types, data dictionary) and size, as JSON."""
    client = _client(kw["target"])
    try:
        _json_out(DataStore(client).info(resource_id))
    finally:
        client.close()


@datastore_group.command("search", context_settings={"ignore_unknown_options": True})
@click.argument("resource_id")
@click.argument("args", nargs=-1, metavar="[KEY=STRING | KEY:JSON ...]")
@target_options
def search_command(resource_id: str, args: tuple[str, ...], **kw: Any) -> None:
    """One datastore_search page; its records as JSON lines (use `export` for whole tables)."""
    params, _files = parse_data_args(args, allow_files=False)
    client = _client(kw["target"])
    try:
        result = DataStore(client).search(resource_id, **params)
    finally:
        client.close()
    for record in result.get("records", []):
        _json_out(record)
    if "total" in result:
        click.echo(f"{result['total']} matching records", err=True)


@datastore_group.command("delete")
@click.argument("resource_id")
@click.option("--filters", metavar="JSON", help="Delete only the matching rows (default: the whole table).")
@click.option("--force", is_flag=True, help="Also for tables owned by xloader/datapusher.")
@target_options
def delete_command(resource_id: str, filters: str | None, force: bool, **kw: Any) -> None:
    """Delete a DataStore table (the resource stays), or the rows matching --filters."""
    try:
        filt = json.loads(filters) if filters else None
    except ValueError as err:
        raise CLIError(f"--filters: invalid JSON: {err}", ExitCode.USAGE) from None
    client = _client(kw["target"])
    try:
        DataStore(client).delete(resource_id, filters=filt, force=force)
    finally:
        client.close()
    click.echo(f"deleted {'matching rows of ' if filt else 'the table '}{resource_id}", err=True)
