"""The dict surgery behind ``package_revise``: matching, glob filters and merging updates.

Keys are "flattened" paths joined with ``__`` (``resources__0__name``). A list element can be
addressed by index (negative counts from the end) or, in lists of dicts with ``id``, by a prefix
of at least 5 characters of that id. Error texts are CKAN's ("Unmatched key ...",
"Expected dict for ...").
"""

from __future__ import annotations

import json
from typing import Any

from .. import errors

Path = tuple[Any, ...]


class DataError(Exception):
    """A key that does not resolve, or a value of the wrong shape."""


def _json_or_string(value: Any) -> Any:
    """CKAN's ``json_or_string``: strings that parse as JSON become the parsed value."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _string_list(key: str, value: Any) -> list[str]:
    value = _json_or_string(value)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise errors.ValidationError({key: ["Not a list"]})
    for item in value:
        if not isinstance(item, str):
            raise errors.ValidationError({key: [f"Not a string: {item}"]})
    return value


def parse(data: dict[str, Any]) -> dict[str, Any]:
    """Split a package_revise payload into match / match__ / filter / update / update__ / include."""
    out: dict[str, Any] = {"match": {}, "match__": {}, "update__": {}}
    out["filter"] = None
    out["update"] = None
    out["include"] = None
    errs: dict[str, Any] = {}
    for key, value in data.items():
        if key.startswith("match__"):
            out["match__"][key[len("match__") :]] = _json_or_string(value)
        elif key.startswith("update__"):
            out["update__"][key[len("update__") :]] = _json_or_string(value)
    for key in ("match", "update"):
        if key in data and data[key] is not None:
            value = _json_or_string(data[key])
            if not isinstance(value, dict):
                errs[key] = ["Must be a dict"]
            else:
                out[key] = value
    for key in ("filter", "include"):
        if key in data and data[key] is not None:
            out[key] = _string_list(key, data[key])
    if errs:
        raise errors.ValidationError(errs)
    if out["match"] is None:
        out["match"] = {}
    return out


def _unmatched(path: list[Any], key: Any) -> DataError:
    return DataError("Unmatched key " + "__".join(str(p) for p in [*path, key]))


def _list_index(items: list[Any], key: str, path: list[Any]) -> int:
    """Resolve one list step: an id prefix (5+ characters) or an integer index."""
    if len(key) >= 5:
        for i, item in enumerate(items):
            if not isinstance(item, dict) or "id" not in item:
                raise _unmatched(path, key)
            if str(item["id"]).startswith(key):
                return i
        raise _unmatched(path, key)
    try:
        index = int(key)
    except ValueError:
        raise _unmatched(path, key) from None
    if not -len(items) <= index < len(items):
        raise _unmatched(path, key)
    return index


def resolve(data: Any, string_key: str) -> tuple[Any, Path]:
    """Follow a flattened key; returns (value found, concrete path)."""
    path: list[Any] = []
    current = data
    for key in string_key.split("__"):
        if isinstance(current, dict):
            if key not in current:
                raise _unmatched(path, key)
            path.append(key)
            current = current[key]
        elif isinstance(current, list):
            index = _list_index(current, key, path)
            path.append(index)
            current = current[index]
        else:
            raise _unmatched(path, key)
    return current, tuple(path)


def check_dict(data: Any, expected: dict[str, Any], path: Path = ()) -> list[Path]:
    """Paths in ``expected`` whose values differ from ``data``."""
    if not isinstance(data, dict):
        return [path]
    out: list[Path] = []
    for key in sorted(expected):
        want = expected[key]
        if key not in data:
            out.append((*path, key))
        elif isinstance(want, dict):
            out.extend(check_dict(data[key], want, (*path, key)))
        elif isinstance(want, list):
            out.extend(check_list(data[key], want, (*path, key)))
        elif data[key] != want:
            out.append((*path, key))
    return out


def check_list(data: Any, expected: list[Any], path: Path = ()) -> list[Path]:
    """Positions in ``expected`` whose values differ from ``data``."""
    if not isinstance(data, list):
        return [path]
    out: list[Path] = []
    for i, want in enumerate(expected):
        if i >= len(data):
            out.append((*path, i))
        elif isinstance(want, dict):
            out.extend(check_dict(data[i], want, (*path, i)))
        elif isinstance(want, list):
            out.extend(check_list(data[i], want, (*path, i)))
        elif data[i] != want:
            out.append((*path, i))
    return out


def check_string_key(data: dict[str, Any], string_key: str, value: Any) -> list[Path]:
    """Paths under the flattened key ``string_key`` whose values differ from ``value``."""
    current, path = resolve(data, string_key)
    if isinstance(value, dict):
        return check_dict(current, value, path)
    if isinstance(value, list):
        return check_list(current, value, path)
    return [] if current == value else [path]


def filter_glob_match(data: dict[str, Any], patterns: list[str]) -> None:
    """Remove keys matching ``-pattern`` globs in place; ``+pattern`` protects (first match wins)."""
    _filter(data, [(p.startswith("+"), p.lstrip("+-").split("__")) for p in patterns])


def _filter(data: Any, globs: list[tuple[bool, list[str]]]) -> None:
    if isinstance(data, dict):
        protected: dict[str, Any] = {}
        nested: dict[str, list[tuple[bool, list[str]]]] = {}
        for keep, parts in globs:
            head = parts[0]
            if head == "*":
                if keep:
                    protected.update(data)
                else:
                    data.clear()
                continue
            if head not in data:
                continue
            if len(parts) > 1:
                nested.setdefault(head, []).append((keep, parts[1:]))
            elif keep:
                protected[head] = data[head]
            else:
                del data[head]
        data.update(protected)
        for head, sub in nested.items():
            if head in data:
                _filter(data[head], sub)
        return
    if not isinstance(data, list):
        return
    keep_idx: set[int] = set()
    drop_idx: set[int] = set()
    nested_idx: dict[int, list[tuple[bool, list[str]]]] = {}
    for keep, parts in globs:
        head = parts[0]
        if head == "*":
            everything = set(range(len(data)))
            if keep:
                keep_idx |= everything - drop_idx
            else:
                drop_idx |= everything - keep_idx
            continue
        try:
            index = _list_index(data, head, [])
        except DataError:
            continue
        index %= len(data)
        if len(parts) > 1:
            nested_idx.setdefault(index, []).append((keep, parts[1:]))
        elif keep:
            if index not in drop_idx:
                keep_idx.add(index)
        elif index not in keep_idx:
            drop_idx.add(index)
    gone = drop_idx - keep_idx
    for index, sub in nested_idx.items():
        if index not in gone:
            _filter(data[index], sub)
    data[:] = [item for i, item in enumerate(data) if i not in gone]


def update_merge_dict(data: dict[str, Any], update: Any, path: Path = ()) -> None:
    """Merge ``update`` into ``data``: dicts recursively, lists element by element."""
    if not isinstance(update, dict):
        raise DataError("Expected dict for " + "__".join(str(p) for p in path))
    for key, value in update.items():
        if key not in data:
            data[key] = value
        elif isinstance(data[key], dict):
            update_merge_dict(data[key], value, (*path, key))
        elif isinstance(data[key], list):
            update_merge_list(data[key], value, (*path, key))
        else:
            data[key] = value


def update_merge_list(data: list[Any], update: Any, path: Path = ()) -> None:
    """Merge ``update`` into ``data`` element by element (extra items are appended)."""
    if not isinstance(update, list):
        raise DataError("Expected list for " + "__".join(str(p) for p in path))
    for i, value in enumerate(update):
        if i >= len(data):
            data.append(value)
        elif isinstance(data[i], dict):
            update_merge_dict(data[i], value, (*path, i))
        elif isinstance(data[i], list):
            update_merge_list(data[i], value, (*path, i))
        else:
            data[i] = value


def update_merge_string_key(data: dict[str, Any], string_key: str, value: Any) -> None:
    """Apply one flattened update key (``resources__extend`` appends to the list)."""
    *parent_parts, last = string_key.split("__")
    parent_key = "__".join(parent_parts)
    if parent_key:
        current, path = resolve(data, parent_key)
    else:
        current, path = data, ()
    if isinstance(current, dict):
        update_merge_dict(current, {last: value}, path)
        return
    if not isinstance(current, list):
        raise DataError(f"Expected list or dict for {parent_key}")
    if last == "extend":
        if not isinstance(value, list):
            raise DataError(f"Expected list for {parent_key}")
        current.extend(value)
        return
    index = _list_index(current, last, list(path))
    child = current[index]
    if isinstance(child, dict):
        update_merge_dict(child, value, (*path, index))
    elif isinstance(child, list):
        update_merge_list(child, value, (*path, index))
    else:
        current[index] = value
