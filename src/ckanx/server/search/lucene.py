"""A parser for the Lucene/Solr classic query syntax used in ``q`` and ``fq``.

Supports ``field:term``, ``"phrases"``, ``+``/``-``/``!``/``NOT``/``AND``/``OR``/``&&``/``||``,
parentheses, ``field:(a OR b)``, ``*``/``?`` wildcards, ``[a TO b]``/``{a TO b}`` ranges (``*`` open
ends, quoted bounds), ``^boost`` and ``~slop`` suffixes (parsed, ignored), backslash escapes and
``*:*``. The result is a small tree of :class:`MatchAll`, :class:`TermQuery`, :class:`RangeQuery`
and :class:`BoolQuery`; :mod:`.engine` evaluates it.

The clause rules are Lucene's ``QueryParser.addClause``: with the default operator OR, ``+`` makes
a clause required and ``AND`` makes both neighbours required; with the default operator AND (CKAN
sets ``q.op=AND``) every clause is required unless joined by ``OR`` or prohibited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, cast

MUST, SHOULD, MUST_NOT = "MUST", "SHOULD", "MUST_NOT"


class QuerySyntaxError(ValueError):
    """The query cannot be parsed (Solr answers ``org.apache.solr.search.SyntaxError``)."""


@dataclass
class MatchAll:
    """``*:*``."""


@dataclass
class TermQuery:
    """A term, phrase or wildcard on ``field`` (``None``: the default field(s))."""

    field: str | None
    text: str
    phrase: bool = False
    wildcard: bool = False
    boost: float = 1.0


@dataclass
class RangeQuery:
    """``field:[lo TO hi]``; ``None`` bounds are open (``*``)."""

    field: str | None
    lo: str | None
    hi: str | None
    include_lo: bool
    include_hi: bool


@dataclass
class BoolQuery:
    """Clauses as ``(occur, node)``; ``mm`` is a dismax minimum-should-match spec."""

    clauses: list[tuple[str, Node]] = field(default_factory=list)
    mm: str | None = None


Node = MatchAll | TermQuery | RangeQuery | BoolQuery

_SPECIAL = frozenset('()"[]{}:^~ \t\r\n\u3000')
_RANGE_SPLIT = re.compile(r"\s+TO\s+")


@dataclass
class _Tok:
    kind: str  # LP RP AND OR NOT REQ PROHIBIT COLON TERM PHRASE RANGE BOOST
    value: object = None


def _read_range(q: str, i: int) -> tuple[_Tok, int]:
    open_c = q[i]
    j = i + 1
    in_quote = False
    while j < len(q) and (in_quote or q[j] not in "]}"):
        if q[j] == "\\":
            j += 1
        elif q[j] == '"':
            in_quote = not in_quote
        j += 1
    if j >= len(q):
        raise QuerySyntaxError('Encountered "<EOF>" in a range')
    inner = q[i + 1 : j].strip()
    parts = _RANGE_SPLIT.split(inner)
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise QuerySyntaxError(f"Encountered invalid range {q[i : j + 1]}")

    def bound(p: str) -> str | None:
        p = p.strip()
        if p == "*":
            return None
        if len(p) >= 2 and p[0] == '"' and p[-1] == '"':
            p = p[1:-1]
        return re.sub(r"\\(.)", r"\1", p)

    lo, hi = bound(parts[0]), bound(parts[1])
    return _Tok("RANGE", (lo, hi, open_c == "[", q[j] == "]")), j + 1


def tokenize(q: str) -> list[_Tok]:
    """Split a query into tokens."""
    toks: list[_Tok] = []
    i, n = 0, len(q)
    while i < n:
        c = q[i]
        if c.isspace():
            i += 1
        elif c == "(":
            toks.append(_Tok("LP"))
            i += 1
        elif c == ")":
            toks.append(_Tok("RP"))
            i += 1
        elif q.startswith("&&", i):
            toks.append(_Tok("AND"))
            i += 2
        elif q.startswith("||", i):
            toks.append(_Tok("OR"))
            i += 2
        elif c in "+-!" and i + 1 < n and not q[i + 1].isspace():
            # a modifier only at the start of a token; a lone "-" is an (empty) term
            toks.append(_Tok("REQ" if c == "+" else "PROHIBIT"))
            i += 1
        elif c == ":":
            toks.append(_Tok("COLON"))
            i += 1
        elif c in "^~":
            j = i + 1
            while j < n and (q[j].isdigit() or q[j] == "."):
                j += 1
            if c == "^":
                if not toks or toks[-1].kind not in ("TERM", "PHRASE", "RANGE", "RP"):
                    raise QuerySyntaxError(f'Encountered "^" at column {i}')
                try:
                    toks.append(_Tok("BOOST", float(q[i + 1 : j] or "1")))
                except ValueError as exc:
                    raise QuerySyntaxError(f'Encountered "^" at column {i}') from exc
            i = j
        elif c == '"':
            j = i + 1
            buf: list[str] = []
            while j < n and q[j] != '"':
                if q[j] == "\\" and j + 1 < n:
                    j += 1
                buf.append(q[j])
                j += 1
            if j >= n:
                raise QuerySyntaxError("Lexical error: unterminated phrase")
            toks.append(_Tok("PHRASE", "".join(buf)))
            i = j + 1
        elif c in "[{":
            tok, i = _read_range(q, i)
            toks.append(tok)
        elif c in "]}":
            raise QuerySyntaxError(f'Encountered "{c}" at column {i}')
        else:
            j = i
            buf = []
            wildcard = False
            while j < n:
                ch = q[j]
                if ch == "\\":
                    if j + 1 >= n:
                        raise QuerySyntaxError("Lexical error: escape at end of query")
                    buf.append(q[j + 1])
                    j += 2
                    continue
                if ch in _SPECIAL or ch.isspace():
                    break
                if ch in "*?":
                    wildcard = True
                buf.append(ch)
                j += 1
            word = "".join(buf)
            raw = q[i:j]
            if raw in ("AND", "OR", "NOT"):
                toks.append(_Tok(raw))
            else:
                toks.append(_Tok("TERM", (word, wildcard)))
            i = j
    return toks


class _Parser:
    def __init__(self, q: str, default_and: bool) -> None:
        self.toks = tokenize(q)
        self.pos = 0
        self.default_and = default_and

    def peek(self, k: int = 0) -> _Tok | None:
        p = self.pos + k
        return self.toks[p] if p < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise QuerySyntaxError('Encountered "<EOF>"')
        self.pos += 1
        return tok

    def parse(self) -> BoolQuery:
        node = self.query(None)
        if self.pos < len(self.toks):
            raise QuerySyntaxError(f'Encountered "{self.toks[self.pos].kind}" at token {self.pos}')
        return node

    def query(self, fieldname: str | None) -> BoolQuery:
        clauses: list[list[Any]] = []
        while True:
            tok = self.peek()
            if tok is None or tok.kind == "RP":
                break
            conj = None
            if tok.kind in ("AND", "OR"):
                conj = tok.kind  # a leading conjunction is ignored, as the Solr stand-in does
                self.take()
                tok = self.peek()
            mods = None
            if tok is not None and tok.kind in ("REQ", "PROHIBIT", "NOT"):
                mods = "REQ" if tok.kind == "REQ" else "NOT"
                self.take()
                tok = self.peek()
            if tok is None or tok.kind in ("RP", "AND", "OR"):
                raise QuerySyntaxError('Encountered "<EOF>"' if tok is None else f'Encountered "{tok.kind}"')
            node = self.clause(fieldname)
            self._add(clauses, conj, mods, node)
        return BoolQuery([(occur, node) for occur, node in clauses])

    def _add(self, clauses: list[list[Any]], conj: str | None, mods: str | None, node: Node) -> None:
        if clauses and conj == "AND" and clauses[-1][0] != MUST_NOT:
            clauses[-1][0] = MUST
        if clauses and self.default_and and conj == "OR" and clauses[-1][0] != MUST_NOT:
            clauses[-1][0] = SHOULD
        prohibited = mods == "NOT"
        if self.default_and:
            required = not prohibited and conj != "OR"
        else:
            required = mods == "REQ" or (conj == "AND" and not prohibited)
        clauses.append([MUST_NOT if prohibited else MUST if required else SHOULD, node])

    def clause(self, fieldname: str | None) -> Node:
        tok = self.peek()
        nxt = self.peek(1)
        if tok is not None and tok.kind == "TERM" and nxt is not None and nxt.kind == "COLON":
            self.pos += 2
            name = tok.value[0]  # type: ignore[index]
            after = self.peek()
            if name == "*" and after is not None and after.kind == "TERM" and after.value[0] == "*":  # type: ignore[index]
                self.pos += 1
                self._boost()
                return MatchAll()
            return self.atom(name)
        return self.atom(fieldname)

    def _boost(self) -> float:
        tok = self.peek()
        if tok is not None and tok.kind == "BOOST":
            self.pos += 1
            return float(tok.value)  # type: ignore[arg-type]
        return 1.0

    def atom(self, fieldname: str | None) -> Node:
        tok = self.take()
        if tok.kind == "LP":
            node = self.query(fieldname)
            close = self.peek()
            if close is None or close.kind != "RP":
                raise QuerySyntaxError('Encountered "<EOF>". Was expecting ")"')
            self.pos += 1
            self._boost()
            return node
        if tok.kind == "PHRASE":
            return TermQuery(fieldname, str(tok.value), phrase=True, boost=self._boost())
        if tok.kind == "RANGE":
            lo, hi, inc_lo, inc_hi = cast("tuple[str | None, str | None, bool, bool]", tok.value)
            self._boost()
            return RangeQuery(fieldname, lo, hi, inc_lo, inc_hi)
        if tok.kind == "TERM":
            word, wildcard = cast("tuple[str, bool]", tok.value)
            if word == "*" and fieldname is None:
                return MatchAll()
            return TermQuery(fieldname, word, wildcard=wildcard, boost=self._boost())
        raise QuerySyntaxError(f'Encountered "{tok.kind}"')


def parse(q: str, *, default_and: bool = True) -> BoolQuery:
    """Parse ``q``; ``default_and`` is Solr's ``q.op=AND`` (CKAN's setting)."""
    return _Parser(q, default_and).parse()


def parse_mm(spec: str, n: int) -> int:
    """How many of ``n`` optional clauses a Solr ``mm`` spec (e.g. ``2<-1 5<80%``) requires."""
    spec = spec.strip()
    if not spec:
        return 0

    def one(s: str) -> int:
        s = s.strip()
        if s.endswith("%"):
            pct = int(s[:-1])
            v = n * abs(pct) // 100
            return n - v if pct < 0 else v
        v = int(s)
        return n + v if v < 0 else v

    if "<" in spec:
        required = n
        for part in spec.split():
            cond, val = part.split("<", 1)
            if n > int(cond):
                required = one(val)
        return max(0, min(n, required))
    return max(0, min(n, one(spec)))
