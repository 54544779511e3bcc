"""DataStore types from data: conservative inference from a sample, and conversion of each value.

Inference is conservative on purpose: a column gets a non-text type only if *every* non-empty
sampled value is written the way that type writes it back, so an import followed by an export gives
the same text. Hence:

* ``int`` (``int8`` past 32 bits, ``numeric`` past 64): plain digits, an optional ``-`` and *no
  leading zero* (``007`` and post codes stay text, ``+5`` and ``-0`` too);
* ``numeric``: decimals such as ``-1.50`` (never ``.5``, ``2e3``, ``NaN``/``inf`` or ``1,234``, which
  PostgreSQL would write back differently);
* ``date``: ISO ``YYYY-MM-DD``; ``timestamp``: exactly ``YYYY-MM-DDTHH:MM:SS`` (no zone, no
  fraction: PostgreSQL would rewrite a space separator, a missing second or trailing zeros), and a
  column mixing dates and timestamps stays text (``dd/mm/yyyy`` is ambiguous and stays text too);
* ``bool`` only from JSON/Python booleans: text ``true``/``false`` stays text, because PostgreSQL
  writes booleans back as ``t``/``f``;
* ``json`` for objects and lists from JSON sources; everything else is ``text``.

Empty cells are sent as null. Values JSON cannot carry are encoded deliberately: datetimes and
dates as ISO 8601, ``Decimal`` as its exact string, NaN and infinity as null (counted in the import
report).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ColumnGuess", "ConversionError", "convert", "json_safe"]

INT4 = 2**31
INT8 = 2**63
# the forms PostgreSQL writes back unchanged: no "+", no "-0", no ".5", no exponent
_INT = re.compile(r"0|-?[1-9][0-9]*")
_NUM = re.compile(r"(0|-?[1-9][0-9]*)(\.[0-9]+)?|-0\.[0-9]*[1-9][0-9]*")
# what convert() accepts for numbers given as text (PostgreSQL's input syntax)
_INT_IN = re.compile(r"[+-]?[0-9]+")
_NUM_IN = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")  # as PostgreSQL writes it back
KNOWN_TYPES = frozenset(
    {"text", "int", "int4", "int8", "int2", "numeric", "float8", "float4", "bool", "date", "timestamp", "time",
     "json", "_text", "_int", "_numeric"}
)


class ConversionError(ValueError):
    """A value does not fit its column's type."""


def _is_number(text: str) -> bool:
    return bool(_NUM.fullmatch(text))


def _valid_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _valid_ts(text: str) -> bool:
    try:
        dt.datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


@dataclass
class ColumnGuess:
    """Running evidence about one column: which types every non-empty value so far fits."""

    can: set[str] = field(default_factory=lambda: {"int", "numeric", "date", "timestamp", "bool", "json"})
    int_max: int = 0
    seen: int = 0

    def add(self, value: Any) -> None:
        """Account for one value (``None`` and ``""`` are missing and prove nothing)."""
        if value is None or value == "":
            return
        self.seen += 1
        if not self.can:
            return  # text already: nothing can change that
        if isinstance(value, bool):
            self.can &= {"bool"}
        elif isinstance(value, int):
            self.can &= {"int", "numeric"}
            self.int_max = max(self.int_max, abs(value))
        elif isinstance(value, (float, decimal.Decimal)):
            self.can &= {"numeric"}
        elif isinstance(value, dt.datetime):
            self.can &= {"timestamp"}
        elif isinstance(value, dt.date):
            self.can &= {"date", "timestamp"}
        elif isinstance(value, (dict, list)):
            self.can &= {"json"}
        elif isinstance(value, str):
            self._add_text(value)
        else:
            self.can = set()

    def _add_text(self, text: str) -> None:
        can = self.can - {"json"}
        if text != text.strip():
            self.can = set()  # surrounding spaces would be lost by every non-text type
            return
        if "int" in can:
            if _INT.fullmatch(text):
                self.int_max = max(self.int_max, abs(int(text)))
            else:
                can.discard("int")
        if "numeric" in can and not _is_number(text):
            can.discard("numeric")
        if "date" in can and not (_DATE.fullmatch(text) and _valid_date(text)):
            can.discard("date")
        if "timestamp" in can and not (_TS.fullmatch(text) and _valid_ts(text)):
            can.discard("timestamp")
        # text never becomes bool: PostgreSQL writes booleans back as t/f
        can.discard("bool")
        self.can = can

    def type(self) -> str:
        """The DataStore type for the evidence so far (``text`` when nothing else fits)."""
        if not self.seen:
            return "text"
        if "int" in self.can:
            return "int" if self.int_max < INT4 else ("int8" if self.int_max < INT8 else "numeric")
        for name in ("numeric", "bool", "date", "timestamp", "json"):
            if name in self.can:
                return name
        return "text"


def convert(value: Any, ftype: str) -> tuple[Any, bool]:
    """The JSON value sent for ``value`` in a column of type ``ftype``, and whether it was NaN/inf.

    Raises :class:`ConversionError` when the value does not fit the type.
    """
    if value is None or value == "":
        return None, False
    if isinstance(value, float) and not math.isfinite(value):
        return None, True
    if isinstance(value, decimal.Decimal) and not value.is_finite():
        return None, True
    if ftype in ("int", "int4", "int8", "int2"):
        if isinstance(value, bool):
            raise ConversionError(f"{value!r} is not an integer")
        if isinstance(value, int):
            return value, False
        if isinstance(value, str) and _INT_IN.fullmatch(value.strip()):
            return int(value), False
        if isinstance(value, float) and value.is_integer():
            return int(value), False
        raise ConversionError(f"{value!r} is not an integer")
    if ftype in ("numeric", "float8", "float4"):
        if isinstance(value, bool):
            raise ConversionError(f"{value!r} is not a number")
        if isinstance(value, (int, float)):
            return value, False
        if isinstance(value, decimal.Decimal):
            return str(value), False
        if isinstance(value, str) and _NUM_IN.fullmatch(value.strip()):
            # sent as text: PostgreSQL parses it exactly (a float would round 0.1 + scale)
            return value.strip(), False
        raise ConversionError(f"{value!r} is not a number")
    if ftype == "bool":
        if isinstance(value, bool):
            return value, False
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true", False
        raise ConversionError(f"{value!r} is not true or false")
    if ftype in ("date", "timestamp"):
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat(), False
        if isinstance(value, str) and (_valid_ts(value.strip()) or _valid_date(value.strip())):
            return value.strip(), False
        raise ConversionError(f"{value!r} is not an ISO {ftype}")
    if ftype == "json":
        return json_safe(value), False
    if isinstance(value, str):
        return value, False
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(json_safe(value), ensure_ascii=False), False
    return str(json_safe(value)), False


def json_safe(value: Any) -> Any:
    """A value JSON can carry: ISO dates, exact decimal strings, null for NaN/infinity."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return str(value) if value.is_finite() else None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, bytes):
        raise ConversionError("bytes cannot be stored in the DataStore: decode them first")
    return value
