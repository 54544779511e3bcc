"""DataStore column types: how CKAN (PostgreSQL) names them, how SQLite stores them, how values
round-trip.

PostgreSQL is strict about types and CKAN shows its messages verbatim, so writes are coerced here
in Python with the same rules and the same error texts (``invalid input syntax for type integer:
"abc"``). Storage in SQLite:

=============  ============================  ================================================
CKAN type      SQLite column                 stored value
=============  ============================  ================================================
int2/4/8       ``INTEGER``                   int
float4/8       ``REAL``                      float
numeric        ``TEXT COLLATE ds_numeric``   the exact decimal string (keeps ``2.50``)
bool           ``INTEGER``                   0 / 1
timestamp      ``TEXT``                      ``YYYY-MM-DDTHH:MM:SS[.ffffff]`` (sorts as text)
date / time    ``TEXT``                      ``YYYY-MM-DD`` / ``HH:MM:SS[.ffffff]``
json           ``TEXT``                      ``json.dumps(value)`` (Python separators, as CKAN)
``_<type>``    ``TEXT``                      compact JSON list of coerced elements
text, other    ``TEXT``                      str
=============  ============================  ================================================
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

# names accepted in ``fields[].type`` -> the PostgreSQL name CKAN reports back
TYPE_ALIASES: dict[str, str] = {
    "text": "text",
    "varchar": "text",
    "character varying": "text",
    "int": "int4",
    "integer": "int4",
    "int4": "int4",
    "int2": "int2",
    "smallint": "int2",
    "int8": "int8",
    "bigint": "int8",
    "float": "float8",
    "float8": "float8",
    "double precision": "float8",
    "float4": "float4",
    "real": "float4",
    "numeric": "numeric",
    "decimal": "numeric",
    "bool": "bool",
    "boolean": "bool",
    "timestamp": "timestamp",
    "date": "date",
    "time": "time",
    "json": "json",
    "uuid": "uuid",
}
INT_TYPES = {"int2": "smallint", "int4": "integer", "int8": "bigint"}
INT_RANGES = {"int2": 2**15, "int4": 2**31, "int8": 2**63}
FLOAT_TYPES = {"float4": "real", "float8": "double precision"}
# PostgreSQL's "native_type" (format_type) for datastore_info
NATIVE_TYPES = {
    "text": "text",
    "int2": "smallint",
    "int4": "integer",
    "int8": "bigint",
    "float4": "real",
    "float8": "double precision",
    "numeric": "numeric",
    "bool": "boolean",
    "timestamp": "timestamp without time zone",
    "date": "date",
    "time": "time without time zone",
    "json": "nested",
    "uuid": "uuid",
}
PG_TYPE_WORD = {
    **INT_TYPES,
    **FLOAT_TYPES,
    "numeric": "numeric",
    "bool": "boolean",
    "timestamp": "timestamp",
    "date": "date",
    "time": "time",
    "text": "text",
    "json": "json",
    "uuid": "uuid",
}
TRUE_WORDS = {"t", "true", "y", "yes", "on", "1"}
FALSE_WORDS = {"f", "false", "n", "no", "off", "0"}


class CoercionError(Exception):
    """A value PostgreSQL would reject; ``str(exc)`` is PostgreSQL's message."""


def canonical_type(name: Any) -> str | None:
    """CKAN's reported type for a ``fields[].type`` value, or ``None`` when not a valid type."""
    if not isinstance(name, str):
        return None
    lowered = name.strip().lower()
    if lowered.startswith("_"):
        base = TYPE_ALIASES.get(lowered[1:])
        return None if base is None or base == "json" else "_" + base
    if lowered.endswith("[]"):
        base = TYPE_ALIASES.get(lowered[:-2])
        return None if base is None else "_" + base
    return TYPE_ALIASES.get(lowered)


def sqlite_decl(ctype: str) -> str:
    """The SQLite column declaration for a CKAN type."""
    if ctype in INT_TYPES or ctype == "bool":
        return "INTEGER"
    if ctype in FLOAT_TYPES:
        return "REAL"
    if ctype == "numeric":
        return "TEXT COLLATE ds_numeric"
    return "TEXT"


def native_type(ctype: str) -> str:
    """PostgreSQL's ``format_type`` spelling (``datastore_info`` ``schema.native_type``)."""
    if ctype.startswith("_"):
        return NATIVE_TYPES.get(ctype[1:], ctype[1:]) + "[]"
    return NATIVE_TYPES.get(ctype, ctype)


def guess_type(value: Any) -> str:
    """CKAN's type guess for a column created from records only (``bool`` is an int there too)."""
    if isinstance(value, dict):
        return "nested"
    if isinstance(value, list):
        return "nested"
    if isinstance(value, (bool, int)):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        try:
            parse_timestamp(value)
            return "timestamp"
        except CoercionError:
            pass
    return "text"


def _python_type_word(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "numeric"
    return "unknown"


def numeric_collation(a: str, b: str) -> int:
    """SQLite collation: compare stored decimal strings by value."""
    try:
        da, db = Decimal(a), Decimal(b)
    except InvalidOperation:
        return (a > b) - (a < b)
    return (da > db) - (da < db)


_TS_RE = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*$"
)
_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?\s*$")


def parse_timestamp(text: str) -> dt.datetime:
    """Parse what PostgreSQL accepts for ``timestamp`` (ISO forms; any zone is dropped)."""
    m = _TS_RE.match(text)
    if not m:
        raise CoercionError(f'invalid input syntax for type timestamp: "{text}"')
    year, month, day, hour, minute, sec, frac = m.group(1, 2, 3, 4, 5, 6, 7)
    try:
        return dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(sec or 0),
            int((frac or "0").ljust(6, "0")),
        )
    except ValueError as exc:
        raise CoercionError(f'date/time field value out of range: "{text}"') from exc


def format_timestamp(value: dt.datetime) -> str:
    """Stored form; microseconds only when non-zero (as PostgreSQL prints them)."""
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{value.microsecond:06d}" if value.microsecond else "")


def _storable_float(value: float) -> float | str:
    # SQLite turns a NaN REAL into NULL: keep it as the text "NaN" (sorts above every number,
    # as PostgreSQL's NaN does)
    return "NaN" if math.isnan(value) else value


def coerce(value: Any, ctype: str, column: str) -> Any:
    """A JSON value -> what SQLite stores for a column of ``ctype`` (``None`` stays NULL)."""
    if value is None:
        return None
    if ctype.startswith("_"):
        return _coerce_array(value, ctype, column)
    if ctype in INT_TYPES:
        if isinstance(value, bool):
            raise CoercionError(f'column "{column}" is of type {INT_TYPES[ctype]} but expression is of type boolean')
        if isinstance(value, float):
            if math.isnan(value) or math.isinf(value):
                raise CoercionError(f"{INT_TYPES[ctype]} out of range")
            number = int(Decimal(value).to_integral_value())
        elif isinstance(value, int):
            number = value
        elif isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                raise CoercionError(f'invalid input syntax for type {INT_TYPES[ctype]}: "{value}"') from None
        else:
            raise CoercionError(f"can't adapt type '{type(value).__name__}'")
        if not -INT_RANGES[ctype] <= number < INT_RANGES[ctype]:
            raise CoercionError(f"{INT_TYPES[ctype]} out of range")
        return number
    if ctype in FLOAT_TYPES:
        if isinstance(value, bool):
            raise CoercionError(f'column "{column}" is of type {FLOAT_TYPES[ctype]} but expression is of type boolean')
        if isinstance(value, (int, float)):
            return _storable_float(float(value))
        if isinstance(value, str):
            try:
                return _storable_float(float(value.strip()))
            except ValueError:
                raise CoercionError(f'invalid input syntax for type {FLOAT_TYPES[ctype]}: "{value}"') from None
        raise CoercionError(f"can't adapt type '{type(value).__name__}'")
    if ctype == "numeric":
        if isinstance(value, bool):
            raise CoercionError(f'column "{column}" is of type numeric but expression is of type boolean')
        if isinstance(value, (int, float, str)):
            try:
                decimal = Decimal(value.strip() if isinstance(value, str) else repr(value))
            except InvalidOperation:
                raise CoercionError(f'invalid input syntax for type numeric: "{value}"') from None
            if decimal.is_nan():
                return "NaN"
            if decimal.is_zero():
                decimal = decimal.copy_abs()  # PostgreSQL's numeric has no negative zero
            return format(decimal, "f")
        raise CoercionError(f"can't adapt type '{type(value).__name__}'")
    if ctype == "bool":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, str):
            word = value.strip().lower()
            if word in TRUE_WORDS:
                return 1
            if word in FALSE_WORDS:
                return 0
            raise CoercionError(f'invalid input syntax for type boolean: "{value}"')
        raise CoercionError(
            f'column "{column}" is of type boolean but expression is of type {_python_type_word(value)}'
        )
    if ctype in ("timestamp", "date", "time"):
        if not isinstance(value, str):
            raise CoercionError(
                f'column "{column}" is of type {PG_TYPE_WORD[ctype]} but expression is of type '
                f"{_python_type_word(value)}"
            )
        if ctype == "time":
            m = _TIME_RE.match(value)
            if not m:
                raise CoercionError(f'invalid input syntax for type time: "{value}"')
            hour, minute, sec, frac = m.groups()
            text = f"{int(hour):02d}:{int(minute):02d}:{int(sec or 0):02d}"
            # PostgreSQL prints a time's fraction without trailing zeros
            return text + (f".{frac.rstrip('0')}" if frac and int(frac) else "")
        try:
            stamp = parse_timestamp(value)
        except CoercionError as exc:
            if str(exc).startswith("date/time field value out of range"):
                raise
            raise CoercionError(f'invalid input syntax for type {PG_TYPE_WORD[ctype]}: "{value}"') from None
        return stamp.date().isoformat() if ctype == "date" else format_timestamp(stamp)
    if ctype == "json":
        return json.dumps(value)
    # text, uuid and anything else stored as text
    if isinstance(value, dict):
        raise CoercionError("can't adapt type 'dict'")
    if isinstance(value, list):
        raise CoercionError(f'column "{column}" is of type text but expression is of type text[]')
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return pg_float_text(value)
    return str(value)


def _parse_array_literal(text: str, ctype: str) -> list[Any]:
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        raise CoercionError(f'malformed array literal: "{text}"')
    inner = stripped[1:-1].strip()
    if not inner:
        return []
    items: list[Any] = []
    for part in next(csv.reader([inner], skipinitialspace=True)):
        items.append(None if part == "NULL" else part)
    return items


def _coerce_array(value: Any, ctype: str, column: str) -> str:
    base = ctype[1:]
    from_json = not isinstance(value, str)  # an array literal '{1,2}' is parsed by PostgreSQL
    if isinstance(value, str):
        value = _parse_array_literal(value, ctype)
    if not isinstance(value, list):
        raise CoercionError(
            f'column "{column}" is of type {PG_TYPE_WORD.get(base, base)}[] but expression is of '
            f"type {_python_type_word(value)}"
        )
    if base not in ("text", "uuid") and from_json and any(isinstance(item, str) for item in value):
        # psycopg2 sends a list with strings as text[], which PostgreSQL will not assign
        raise CoercionError(
            f'column "{column}" is of type {PG_TYPE_WORD.get(base, base)}[] but expression is of type text[]'
        )
    out = []
    for item in value:
        stored = coerce(item, base, column)
        out.append(decode(stored, base))
    return json.dumps(out, separators=(",", ":"))


def search_timestamp(stored: str, millis: bool) -> str:
    """A timestamp as ``datastore_search`` and dumps print it: ``to_char`` to whole seconds
    on 2.11, with milliseconds (``.000``) on 2.12."""
    if not millis:
        return stored[:19]
    frac = stored[20:23] if len(stored) > 19 else ""
    return stored[:19] + "." + frac.ljust(3, "0")


def decode(stored: Any, ctype: str, *, seconds: bool = False, millis: bool = False) -> Any:
    """A stored SQLite value -> the JSON value CKAN returns.

    ``seconds``: timestamps as ``datastore_search`` formats them (see :func:`search_timestamp`);
    otherwise full precision, as ``datastore_search_sql`` returns them.
    """
    if stored is None:
        return None
    if ctype.startswith("_") or ctype == "json":
        return json.loads(stored)
    if ctype == "bool":
        return bool(stored)
    if ctype == "numeric":
        return numeric_json(stored)
    if ctype in FLOAT_TYPES:
        # PostgreSQL's JSON has NaN and infinities as strings
        if isinstance(stored, str) or math.isnan(stored):
            return "NaN"
        if math.isinf(stored):
            return "Infinity" if stored > 0 else "-Infinity"
    if ctype == "timestamp" and seconds:
        return search_timestamp(stored, millis)
    return stored


def numeric_json(text: str) -> Any:
    """numeric as CKAN's JSON has it: an int when written without a fraction, else a float."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if number.is_nan():
        return "NaN"
    if "." not in text and "e" not in text.lower():
        return int(number)
    return float(number)


def pg_float_text(value: float) -> str:
    """PostgreSQL's float8 text output (shortest round-trip digits, exponent from 1e15)."""
    if 1e-4 <= abs(value) < 1e15:
        # the common case: Python's repr already has the digits and no exponent
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    text_digits = "".join(map(str, digits))
    point = len(text_digits) + int(exponent)  # position of the decimal point
    prefix = "-" if sign else ""
    if -4 < point <= 15:
        if point <= 0:
            return prefix + "0." + "0" * (-point) + text_digits
        if point >= len(text_digits):
            return prefix + text_digits + "0" * (point - len(text_digits))
        return prefix + text_digits[:point] + "." + text_digits[point:]
    mantissa = text_digits[0] + ("." + text_digits[1:] if len(text_digits) > 1 else "")
    exp = point - 1
    return f"{prefix}{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"


def copy_text(stored: Any, ctype: str, millis: bool = False) -> str | None:
    """A stored value as PostgreSQL's ``COPY ... csv`` writes it (``None`` = NULL, empty)."""
    if ctype.startswith("_") or ctype == "json":
        return "null" if stored is None else stored
    if stored is None:
        return None
    if ctype == "bool":
        return "t" if stored else "f"
    if ctype in FLOAT_TYPES:
        return "NaN" if isinstance(stored, str) else pg_float_text(stored)
    if ctype == "timestamp":
        return search_timestamp(stored, millis)
    return str(stored)
