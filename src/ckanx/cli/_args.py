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


def _no_constants(name: str) -> Any:
    # NaN and Infinity are not JSON: CKAN could not store them, and the request would fail later
    raise ValueError(f"{name} is not valid JSON")


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def loads_strict(text: str) -> Any:
    """``json.loads`` refusing NaN/Infinity; too-deep nesting becomes a ``ValueError`` too."""
    try:
        return json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("nested too deeply") from None


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
                data[key] = loads_strict(value)
            except ValueError as err:
                raise CLIError(f"argument {key}: invalid JSON {_short(value)}: {err}", ExitCode.USAGE) from None
        else:
            if not allow_files:
                raise CLIError(f"argument {arg!r}: KEY@FILE uploads are not accepted here", ExitCode.USAGE)
            try:
                path = Path(value).expanduser()
            except RuntimeError as err:  # ~unknownuser
                raise CLIError(f"argument {key}@{value}: {err}", ExitCode.USAGE) from None
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
        value = loads_strict(text)
    except ValueError as err:
        raise CLIError(f"{source}: invalid JSON: {err}", ExitCode.USAGE) from None
    if not isinstance(value, dict):
        raise CLIError(f"{source}: expected a JSON object, got {type(value).__name__}", ExitCode.USAGE)
    return value
