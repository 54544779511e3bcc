"""Type inference is conservative: a type only when every value reads back the same."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest

from ckanx.datastore._types import ColumnGuess, ConversionError, convert


def guess(*values: Any) -> str:
    g = ColumnGuess()
    for v in values:
        g.add(v)
    return g.type()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (("1", "2", "-3", ""), "int"),
        (("1", "3000000000"), "int8"),
        (("1", str(2**70)), "numeric"),
        (("1", "2.50", "-0.5"), "numeric"),
        (("1", ".5"), "text"),  # PostgreSQL writes 0.5
        (("1", "1e3"), "text"),  # PostgreSQL writes 1000
        (("+1",), "text"),
        (("-0",), "text"),
        (("007", "1"), "text"),  # leading zeros would be lost
        (("1", "NaN"), "text"),
        (("1", "1,234"), "text"),
        (("1", " 2"), "text"),  # surrounding spaces would be lost
        (("2024-01-31", "2023-12-01"), "date"),
        (("2024-01-31T10:00:00", "2023-12-01T00:00:00"), "timestamp"),
        (("2024-01-31", "2024-01-31T10:00:00"), "text"),  # the date would come back with T00:00:00
        (("2024-01-31 10:00:00",), "text"),  # PostgreSQL writes a T
        (("2024-01-31T10:00",), "text"),  # and the seconds
        (("2024-02-30",), "text"),
        (("01/02/2017",), "text"),  # day/month order is ambiguous
        (("true", "FALSE"), "text"),  # PostgreSQL writes t/f
        (("yes", "no"), "text"),
        (("", ""), "text"),
        ((1, 2.5), "numeric"),
        ((True, False), "bool"),
        (({"a": 1}, [1]), "json"),
        ((dt.datetime(2020, 1, 1), dt.date(2020, 1, 2)), "timestamp"),
    ],
)
def test_inference(values: tuple[Any, ...], expected: str) -> None:
    assert guess(*values) == expected


def test_conversion() -> None:
    assert convert("42", "int") == (42, False)
    assert convert("2.50", "numeric") == ("2.50", False)  # exact text, not a float
    assert convert(decimal.Decimal("0.10"), "numeric") == ("0.10", False)
    assert convert(float("nan"), "numeric") == (None, True)
    assert convert(float("inf"), "text") == (None, True)
    assert convert("", "text") == (None, False)
    assert convert(dt.datetime(2020, 1, 2, 3, 4), "timestamp") == ("2020-01-02T03:04:00", False)
    assert convert("TRUE", "bool") == (True, False)
    assert convert({"a": dt.date(2020, 1, 1)}, "json") == ({"a": "2020-01-01"}, False)
    with pytest.raises(ConversionError):
        convert("x", "int")
    with pytest.raises(ConversionError):
        convert("1.5", "int")
