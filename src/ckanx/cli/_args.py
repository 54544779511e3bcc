"""ckanapi's argument syntax for action data: ``KEY=STRING``, ``KEY:JSON`` and ``KEY@FILE``.

The separator that comes first in the argument decides its kind, so ``url=http://x`` is a string
and ``extras:[{"key": "a=b"}]`` is JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ._target import CLIError, ExitCode

_KINDS = {"=": "string", ":": "json", "@": "file"}


def parse_data_args(
    args: tuple[str, ...] | list[str], *, allow_files: bool = True
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Parse ``KEY=STRING | KEY:JSON | KEY@FILE`` arguments into (data, files).

    Raises :class:`CLIError` (exit code 2) naming the bad argument.
    """
    data: dict[str, Any] = {}
    files: dict[str, Path] = {}
    for arg in args:
        positions = [(arg.find(sep), sep) for sep in _KINDS if arg.find(sep) > 0]
        if not positions or any(arg.find(sep) == 0 for sep in _KINDS):
            raise CLIError(
                f"argument {arg!r} is not KEY=STRING, KEY:JSON" + (" or KEY@FILE" if allow_files else ""),
                ExitCode.USAGE,
            )
        index, sep = min(positions)
        key, value = arg[:index], arg[index + 1 :]
        if sep == "=":
            data[key] = value
        elif sep == ":":
            try:
                data[key] = json.loads(value)
            except ValueError as err:
                raise CLIError(f"argument {key}: invalid JSON {value!r}: {err}", ExitCode.USAGE) from None
        else:
            if not allow_files:
                raise CLIError(f"argument {arg!r}: KEY@FILE uploads are not accepted here", ExitCode.USAGE)
            path = Path(value).expanduser()
            if not path.is_file():
                reason = "is a directory" if path.is_dir() else "no such file"
                raise CLIError(f"argument {key}@{value}: {reason}", ExitCode.USAGE)
            try:
                with open(path, "rb"):
                    pass
            except OSError as err:
                raise CLIError(f"argument {key}@{value}: {err.strerror}", ExitCode.USAGE) from None
            files[key] = path
    return data, files


def read_json_input(text: str, source: str) -> dict[str, Any]:
    """A JSON object given with ``-i`` (stdin) or ``-I FILE``."""
    try:
        value = json.loads(text)
    except ValueError as err:
        raise CLIError(f"{source}: invalid JSON: {err}", ExitCode.USAGE) from None
    if not isinstance(value, dict):
        raise CLIError(f"{source}: expected a JSON object, got {type(value).__name__}", ExitCode.USAGE)
    return value
