"""Rendering rows the way CKAN does: ``records_format`` objects/lists/csv/tsv and the dump files.

CSV/TSV bodies imitate PostgreSQL's ``COPY ... TO STDOUT csv`` (``\\n`` line ends, quotes only
where needed, empty = NULL, ``t``/``f`` booleans, json/arrays as JSON with ``null`` for NULL);
dump headers are written by Python's csv module (``\\r\\n``), exactly as CKAN mixes them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any
from xml.etree.ElementTree import Element, ElementTree, SubElement

from . import types
from .query import Column

BOM = "\ufeff"


def decode_row(columns: Sequence[Column], row: Sequence[Any], millis: bool = False) -> list[Any]:
    """Stored values -> JSON values (timestamps as datastore_search prints them)."""
    return [
        (
            round(v, 9)
            if c.ctype == "float" and v is not None and c.name.startswith("rank")
            else types.decode(v, c.ctype, seconds=True, millis=millis)
        )
        for c, v in zip(columns, row, strict=False)
    ]


def copy_field(value: str | None, delimiter: str) -> str:
    """One field as PostgreSQL COPY csv writes it."""
    if value is None:
        return ""
    if value == "" or value == "\\." or any(ch in value for ch in (delimiter, '"', "\n", "\r")):
        return '"' + value.replace('"', '""') + '"'
    return value


def _copy_converter(column: Column, delimiter: str, millis: bool) -> Callable[[Any], str]:
    """A fast stored value -> COPY field function for one column (used per row in dumps)."""
    needs_quotes = re.compile("[" + re.escape(delimiter) + '"\n\r]').search

    def quote_text(text: str) -> str:
        if text == "" or text == "\\." or needs_quotes(text):
            return '"' + text.replace('"', '""') + '"'
        return text

    ctype = column.ctype
    if column.name.startswith("rank") and ctype == "float":
        return lambda v: "" if v is None else types.pg_float_text(float(f"{v:.8g}"))
    if ctype in ("int", "int2", "int4", "int8"):
        return lambda v: "" if v is None else str(v)
    if ctype in types.FLOAT_TYPES:
        return lambda v: "" if v is None else ("NaN" if isinstance(v, str) else types.pg_float_text(v))
    if ctype == "text":
        return lambda v: "" if v is None else quote_text(v)
    return lambda v: copy_field(types.copy_text(v, ctype, millis), delimiter)


def copy_line(columns: Sequence[Column], row: Sequence[Any], delimiter: str, millis: bool = False) -> str:
    """One row as a COPY csv line (with its ``\\n``)."""
    out = []
    for c, v in zip(columns, row, strict=False):
        if c.name.startswith("rank") and c.ctype == "float":
            text = None if v is None else types.pg_float_text(float(f"{v:.8g}"))
        else:
            text = types.copy_text(v, c.ctype, millis)
        out.append(copy_field(text, delimiter))
    return delimiter.join(out) + "\n"


def render(columns: Sequence[Column], rows: Iterable[Sequence[Any]], fmt: str, millis: bool = False) -> Any:
    """``records`` of a datastore_search result in ``records_format`` ``fmt``.

    ``millis``: 2.12's timestamp format (``.000``).
    """
    if fmt == "objects":
        names = [c.name for c in columns]
        return [dict(zip(names, decode_row(columns, r, millis), strict=False)) for r in rows]
    if fmt == "lists":
        return [decode_row(columns, r, millis) for r in rows]
    delimiter = "\t" if fmt == "tsv" else ","
    return "".join(copy_line(columns, r, delimiter, millis) for r in rows)


def header_line(names: Sequence[str], fmt: str) -> str:
    buf = io.StringIO()
    if fmt == "tsv":
        csv.writer(buf, dialect="excel-tab").writerow(names)
    else:
        csv.writer(buf).writerow(names)
    return buf.getvalue()


def _xml_node(parent: Element, tag: str, value: Any, key: Any = None) -> None:
    node = SubElement(parent, tag)
    if value is None:
        node.attrib["xsi:nil"] = "true"
    elif isinstance(value, dict):
        for k, v in value.items():
            _xml_node(node, "value", v, k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _xml_node(node, "value", v, i)
    else:
        node.text = str(value)
    if key is not None:
        node.attrib["key"] = str(key)


def xml_row(names: Sequence[str], values: Sequence[Any]) -> bytes:
    """One ``<row>`` element (``_id`` as an attribute when it is the first column)."""
    root = Element("row")
    pairs = list(zip(names, values, strict=False))
    if names and names[0] == "_id":
        root.attrib["_id"] = str(values[0])
        pairs = pairs[1:]
    for name, value in pairs:
        _xml_node(root, name, value)
    buf = io.BytesIO()
    ElementTree(root).write(buf, encoding="utf-8")
    return buf.getvalue() + b"\n"


def dump_chunks(
    columns: Sequence[Column],
    fields_json: list[dict[str, Any]],
    rows: Iterator[Sequence[Any]] | None,
    fmt: str,
    bom: bool,
    millis: bool = False,
    batch: int = 1000,
) -> Iterator[bytes]:
    """The bytes of ``/datastore/dump`` for rows from a cursor, in batches (constant memory).

    ``rows=None`` is CKAN's ``limit=0``: no page is ever fetched, and CKAN only writes the
    header (and BOM) along with the first page, so just the closing text (if any) is sent.
    """
    names = [c.name for c in columns]
    if fmt in ("csv", "tsv"):
        if rows is None:
            return
        delimiter = "\t" if fmt == "tsv" else ","
        yield ((BOM if bom else "") + header_line(names, fmt)).encode("utf-8")
        converters = [_copy_converter(c, delimiter, millis) for c in columns]
        pairs = list(enumerate(converters))
        parts: list[str] = []
        for row in rows:
            parts.append(delimiter.join([conv(row[i]) for i, conv in pairs]) + "\n")
            if len(parts) >= batch:
                yield "".join(parts).encode("utf-8")
                parts = []
        if parts:
            yield "".join(parts).encode("utf-8")
        return
    if fmt == "json":
        if rows is not None:
            fields_text = json.dumps(fields_json, ensure_ascii=False, separators=(",", ":"))
            parts = [(BOM if bom else "") + '{\n  "fields": ' + fields_text + ',\n  "records": [']
            first = True
            for row in rows:
                record = json.dumps(decode_row(columns, row, millis), ensure_ascii=False, separators=(",", ":"))
                parts.append(("\n    " if first else ",\n    ") + record)
                first = False
                if len(parts) >= batch:
                    yield "".join(parts).encode("utf-8")
                    parts = []
            if parts:
                yield "".join(parts).encode("utf-8")
        yield b"\n]}\n"
        return
    # xml
    chunk: list[bytes] = []
    if rows is not None:
        chunk.append(
            (b"\xef\xbb\xbf" if bom else b"") + b'<data xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        )
        for row in rows:
            chunk.append(xml_row(names, decode_row(columns, row, millis)))
            if len(chunk) >= batch:
                yield b"".join(chunk)
                chunk = []
    chunk.append(b"</data>\n")
    yield b"".join(chunk)
