"""A small stand-in for PostgreSQL full-text search (``to_tsvector`` / ``plainto_tsquery``).

Documents and queries are split into lower-case words and reduced by a light English stemmer, so
``worlds`` finds ``world`` as on CKAN. Ranks follow ``ts_rank(..., 32)`` for a single
match (0.057308756) and grow with the number of matches; beyond one match they only approximate
PostgreSQL's values.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

_WORD = re.compile(r"[^\W_]+(?:[.'][^\W_]+)*", re.UNICODE)


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Strip common English suffixes (enough for plural/verb forms in tests and demos)."""
    for suffix, repl in (("'s", ""), ("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + repl
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """The stemmed words of ``text``."""
    return [stem(w) for w in _WORD.findall(text.lower())]


def document(values: Iterable[Any]) -> str:
    """The ``_full_text`` column value: stemmed words of every non-null value, space separated."""
    out: list[str] = []
    for value in values:
        if value is None:
            continue
        out.extend(words(value if isinstance(value, str) else str(value)))
    return " ".join(out)


def parse_query(query: str, plain: bool) -> list[list[tuple[str, bool]]]:
    """A query -> OR-groups of AND-ed ``(word, is_prefix)`` terms.

    ``plain`` (default): every word must match. Otherwise a tsquery subset: ``&``, ``|``, ``!`` is
    ignored, ``word:*`` is a prefix.
    """
    if plain:
        return [[(w, False) for w in words(query)]]
    groups: list[list[tuple[str, bool]]] = []
    for alternative in query.split("|"):
        terms: list[tuple[str, bool]] = []
        for raw in re.split(r"[&\s()!]+", alternative):
            if not raw:
                continue
            prefix = raw.endswith(":*")
            token = raw[:-2] if prefix else raw
            for w in _WORD.findall(token.lower()):
                terms.append((w if prefix else stem(w), prefix))
        if terms:
            groups.append(terms)
    return groups


def rank(doc: str | None, groups: list[list[tuple[str, bool]]]) -> float | None:
    """Rank of ``doc`` for a parsed query; ``None`` when it does not match."""
    if doc is None or not groups:
        return None
    tokens = doc.split()
    best: float | None = None
    for terms in groups:
        hits = 0
        for word, prefix in terms:
            count = sum(1 for t in tokens if t.startswith(word)) if prefix else tokens.count(word)
            if not count:
                hits = -1
                break
            hits += count
        if hits > 0:
            # ts_rank gives 0.0607927 for one hit; CKAN's normalisation 32 is rank / (rank + 1)
            raw = 0.0607927106 * hits
            score = float(f"{raw / (raw + 1):.9g}")
            best = score if best is None else max(best, score)
    return best


def tsvector_text(doc: str | None) -> str | None:
    """``_full_text`` shown the way PostgreSQL prints a tsvector: ``'word':1,4 'other':2``."""
    if doc is None:
        return None
    positions: dict[str, list[int]] = {}
    for pos, token in enumerate(doc.split(), start=1):
        positions.setdefault(token, []).append(pos)
    return " ".join(
        "'" + token.replace("'", "''") + "':" + ",".join(map(str, where)) for token, where in sorted(positions.items())
    )
