"""CKAN's Solr schema (field kinds, copyFields) and the analysers for its field types.

Field types, as in CKAN's ``schema.xml``:

- ``string``: exact, case-sensitive (``name``, ``tags``, ``organization``, ``res_format``, ``*``).
- ``text``: whitespace split, word-delimiter (parts split on punctuation, case changes and
  letter/digit boundaries; at index time the parts joined too), lowercase, English Snowball stem,
  ASCII folding (``title``, ``notes``, ``text``, ``extras_*``).
- ``text_general``: the same without case-change splitting and without stemming (``author``,
  ``res_name``, ``res_description``).
- ``date``, ``number``, ``bool``; ``text_ngram`` (``name_ngram``/``title_ngram``: substring match).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import unicodedata
from functools import lru_cache
from typing import Any

from .stemmer import stem

TEXT_KINDS = frozenset(("text", "text_general"))

# (kind, multivalued) of CKAN's declared fields
FIELDS: dict[str, tuple[str, bool]] = {
    "index_id": ("string", False),
    "id": ("string", False),
    "site_id": ("string", False),
    "title": ("text", False),
    "title_ngram": ("text_ngram", False),
    "entity_type": ("string", False),
    "dataset_type": ("string", False),
    "state": ("string", False),
    "name": ("string", False),
    "name_ngram": ("text_ngram", False),
    "revision_id": ("string", False),
    "version": ("string", False),
    "url": ("string", False),
    "ckan_url": ("string", False),
    "download_url": ("string", False),
    "notes": ("text", False),
    "author": ("text_general", False),
    "author_email": ("text_general", False),
    "maintainer": ("text_general", False),
    "maintainer_email": ("text_general", False),
    "license": ("string", False),
    "license_id": ("string", False),
    "tags": ("string", True),
    "groups": ("string", True),
    "organization": ("string", False),
    "capacity": ("string", False),
    "permission_labels": ("string", True),
    "res_name": ("text_general", True),
    "res_description": ("text_general", True),
    "res_format": ("string", True),
    "res_url": ("string", True),
    "res_type": ("string", True),
    "text": ("text", True),
    "urls": ("text", True),
    "views_total": ("number", False),
    "views_recent": ("number", False),
    "metadata_created": ("date", False),
    "metadata_modified": ("date", False),
    "indexed_ts": ("date", False),
    "title_string": ("string", False),
    "data_dict": ("stored", False),
    "validated_data_dict": ("stored", False),
}
for _rel in (
    "depends_on",
    "dependency_of",
    "derives_from",
    "has_derivation",
    "links_to",
    "linked_from",
    "child_of",
    "parent_of",
):
    FIELDS[_rel] = ("text", True)

# dynamic fields: the longest matching pattern wins (Solr's rule)
DYNAMIC: list[tuple[str, tuple[str, bool]]] = [
    ("res_extras_*", ("text", True)),
    ("extras_*", ("text", False)),
    ("vocab_*", ("string", True)),
    ("*_date", ("date", False)),
    ("*", ("string", False)),
]

# copyField source -> destinations (not chained, as in Solr)
COPY_FIELDS: list[tuple[str, str]] = [
    ("url", "urls"),
    ("title", "title_ngram"),
    ("name", "name_ngram"),
    ("ckan_url", "urls"),
    ("download_url", "urls"),
    ("res_url", "urls"),
    ("extras_*", "text"),
    ("res_extras_*", "text"),
    ("vocab_*", "text"),
    ("urls", "text"),
    ("name", "text"),
    ("title", "text"),
    ("text", "text"),
    ("license", "text"),
    ("notes", "text"),
    ("tags", "text"),
    ("groups", "text"),
    ("organization", "text"),
    ("res_name", "text"),
    ("res_description", "text"),
    ("maintainer", "text"),
    ("author", "text"),
]


@lru_cache(maxsize=4096)
def field_info(name: str) -> tuple[str, bool]:
    """``(kind, multivalued)`` for a field name, declared or dynamic."""
    if name in FIELDS:
        return FIELDS[name]
    best: tuple[str, tuple[str, bool]] | None = None
    for pattern, info in DYNAMIC:
        if fnmatch.fnmatchcase(name, pattern) and (best is None or len(pattern) > len(best[0])):
            best = (pattern, info)
    return best[1] if best else ("string", False)


@lru_cache(maxsize=4096)
def copy_targets(name: str) -> tuple[str, ...]:
    """The fields a value of ``name`` is copied into."""
    return tuple(dest for src, dest in COPY_FIELDS if fnmatch.fnmatchcase(name, src))


def _fold(s: str) -> str:
    if s.isascii():
        return s
    return "".join(c for c in unicodedata.normalize("NFKD", s) if not unicodedata.combining(c))


_WD_SPLIT = re.compile(r"[^0-9A-Za-z\u00C0-\uFFFF]+")
_PARTS_CASE = re.compile(r"[A-Z]?[a-z\u00DF-\u00FF]+|[A-Z]+(?![a-z])|[0-9]+|[^\W\d_]+")
_PARTS_NOCASE = re.compile(r"[^\W\d_]+|[0-9]+")


def _word_parts(token: str, case_split: bool) -> list[str]:
    parts: list[str] = []
    pattern = _PARTS_CASE if case_split else _PARTS_NOCASE
    for chunk in _WD_SPLIT.split(token):
        if chunk:
            sub = pattern.findall(chunk)
            parts.extend(sub if sub else [chunk])
    return parts


@lru_cache(maxsize=32_768)  # bounded: unique words (ids, numbers) would grow it forever
def _analyze_word(word: str, kind: str) -> tuple[tuple[str, ...], str | None]:
    """Tokens of one whitespace-separated word, and its catenated form (index time)."""
    parts = _word_parts(word, kind == "text")
    joined = "".join(parts).lower() if len(parts) > 1 else None
    if kind == "text":
        toks = tuple(_fold(stem(p.lower())) for p in parts)
        if joined is not None:
            joined = _fold(stem(joined))
    else:
        toks = tuple(p.lower() for p in parts)
    return toks, joined


def analyze_text(kind: str, value: str, index: bool) -> tuple[list[str], list[str]]:
    """Positional tokens and (index time only) extra catenated tokens of a text value."""
    toks: list[str] = []
    extras: list[str] = []
    for word in value.split():
        parts, joined = _analyze_word(word, kind)
        toks.extend(parts)
        if index and joined is not None:
            extras.append(joined)
    return toks, extras


def to_text(value: object) -> str:
    """How a non-string field value reaches Solr (pysolr sends JSON-ish text)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        import json

        return json.dumps(value)
    return str(value)


# ---------------------------------------------------------------------------- dates

_UNITS = {
    "YEAR": "years",
    "YEARS": "years",
    "MONTH": "months",
    "MONTHS": "months",
    "DAY": "days",
    "DAYS": "days",
    "DATE": "days",
    "HOUR": "hours",
    "HOURS": "hours",
    "MINUTE": "minutes",
    "MINUTES": "minutes",
    "SECOND": "seconds",
    "SECONDS": "seconds",
    "MILLI": "ms",
    "MILLIS": "ms",
    "MILLISECOND": "ms",
    "MILLISECONDS": "ms",
}
_DATE_RE = re.compile(r"^(NOW|\d{4}-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d(?:\.\d+)?)?)?(?:Z|[+-]\d\d:?\d\d)?)(.*)$")
_MATH_RE = re.compile(r"([+\-/])(\d*)([A-Z]+)")


def _shift(d: dt.datetime, n: int, unit: str) -> dt.datetime:
    if unit == "years":
        try:
            return d.replace(year=d.year + n)
        except ValueError:  # 29 February
            return d.replace(year=d.year + n, day=28)
    if unit == "months":
        m = d.month - 1 + n
        y, m = d.year + m // 12, m % 12 + 1
        leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
        days = [31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1]
        return d.replace(year=y, month=m, day=min(d.day, days))
    if unit == "ms":
        return d + dt.timedelta(milliseconds=n)
    return d + dt.timedelta(**{unit: n})


def _round(d: dt.datetime, unit: str) -> dt.datetime:
    zero: dict[str, Any] = {"microsecond": 0}
    if unit in ("years", "months", "days", "hours", "minutes"):
        zero.update(second=0)
    if unit in ("years", "months", "days", "hours"):
        zero.update(minute=0)
    if unit in ("years", "months", "days"):
        zero.update(hour=0)
    if unit in ("years", "months"):
        zero.update(day=1)
    if unit == "years":
        zero.update(month=1)
    return d.replace(**zero) if unit != "ms" else d


def parse_date(text: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """A Solr date (ISO 8601, optional ``Z``/offset) or ``NOW``, with date math; naive UTC."""
    m = _DATE_RE.match(text.strip())
    if not m:
        return None
    base, math = m.group(1), m.group(2)
    if base == "NOW":
        d = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    else:
        try:
            d = dt.datetime.fromisoformat(base[:-1] if base.endswith("Z") else base)
        except ValueError:
            return None
        if d.tzinfo is not None:
            d = d.astimezone(dt.timezone.utc).replace(tzinfo=None)
    consumed = "".join(a + b + c for a, b, c in _MATH_RE.findall(math))
    if consumed != math.strip():
        return None
    for op, num, unit in _MATH_RE.findall(math):
        u = _UNITS.get(unit)
        if u is None:
            return None
        d = _round(d, u) if op == "/" else _shift(d, int(num or 1) * (1 if op == "+" else -1), u)
    return d


def parse_number(text: object) -> float | None:
    """A Solr numeric value, or ``None``."""
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
