"""``ckanx action``: call any action, ckanapi's argument syntax."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from . import main
from ._args import parse_data_args, read_json_input
from ._target import CLIError, ExitCode, TargetOptions, make_client, resolve_target, target_options


def dump_json(value: Any, style: str) -> str:
    """``pretty`` (indented), ``compact`` (one line) JSON, UTF-8 kept readable."""
    if style == "pretty":
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@main.command("action", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("args", nargs=-1)
@click.option("-i", "--input-json", is_flag=True, help="Read the data as a JSON object from stdin.")
@click.option(
    "-I",
    "--input",
    "input_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the data as a JSON object from a file.",
)
@click.option("-j", "--output-json", is_flag=True, help="Compact JSON output.")
@click.option("-J", "--output-jsonl", is_flag=True, help="JSON lines: one line per item of a list result.")
@click.option("-g", "--get-request", is_flag=True, help="Send the action by GET (read actions only).")
@target_options
def action_command(
    name: str,
    args: tuple[str, ...],
    input_json: bool,
    input_file: Path | None,
    output_json: bool,
    output_jsonl: bool,
    get_request: bool,
    target: TargetOptions,
) -> None:
    """Call the action NAME with KEY=STRING, KEY:JSON or KEY@FILE arguments.

    \b
    Examples:
      ckanx action status_show -r https://demo.ckan.org
      ckanx action package_show id=my-dataset
      ckanx action package_search q:'"water"' rows:5 -J
      ckanx action package_patch id=my-dataset extras:'[{"key": "a", "value": "b"}]'
      ckanx action resource_create package_id=my-dataset name=data.csv upload@./data.csv
      echo '{"id": "my-dataset"}' | ckanx action package_show -i
    """
    if input_json and input_file:
        raise CLIError("use -i or -I, not both", ExitCode.USAGE)
    data, files = parse_data_args(args)
    if input_json or input_file:
        if args:
            raise CLIError("KEY=VALUE arguments cannot be combined with -i/-I", ExitCode.USAGE)
        if input_file:
            try:
                text = input_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise CLIError(f"cannot read {input_file}: {err}", ExitCode.USAGE) from None
            data = read_json_input(text, str(input_file))
        else:
            data = read_json_input(sys.stdin.read(), "stdin")
    if get_request and files:
        raise CLIError("file uploads cannot go by GET (-g)", ExitCode.USAGE)
    resolved = resolve_target(target)
    client = make_client(resolved)
    try:
        if resolved.local_config is not None:
            result = client.call_action(name, data, files=files or None)
        else:
            result = client.call_action(name, data, files or None, method="GET" if get_request else None)
    finally:
        close = getattr(client, "close", None)
        if close:
            close()
    if output_jsonl:
        items = result if isinstance(result, list) else [result]
        for item in items:
            click.echo(dump_json(item, "compact"))
    else:
        click.echo(dump_json(result, "compact" if output_json else "pretty"))
