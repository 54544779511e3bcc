"""Small PostgreSQL-isms in ``datastore_search_sql`` queries, rewritten for SQLite.

Only what CKAN users commonly write and SQLite lacks: ``expr::type`` casts (an identifier,
quoted identifier, literal or parenthesised/function-call operand) become ``CAST(expr AS type)``
with the type mapped to a SQLite affinity. String literals and quoted identifiers are never
touched. Anything else is left for SQLite to accept or reject.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    r"""'(?:[^']|'')*'            # string literal
      | "(?:[^"]|"")*"            # quoted identifier
      | ::                        # cast operator
      | [A-Za-z_][A-Za-z0-9_$]*   # word
      | \d+(?:\.\d*)?(?:[eE][+-]?\d+)? | \.\d+(?:[eE][+-]?\d+)?  # number
      | \s+
      | .""",
    re.VERBOSE | re.DOTALL,
)
_AFFINITY = {
    "int": "INTEGER", "int2": "INTEGER", "int4": "INTEGER", "int8": "INTEGER", "integer": "INTEGER",
    "bigint": "INTEGER", "smallint": "INTEGER", "bool": "INTEGER", "boolean": "INTEGER",
    "float": "REAL", "float4": "REAL", "float8": "REAL", "real": "REAL", "double": "REAL",
    "numeric": "REAL", "decimal": "REAL",  # not NUMERIC: CAST(1 AS NUMERIC) / 3 is 0 in SQLite
}  # fmt: skip


def _is_operand_end(token: str) -> bool:
    return bool(token) and (token[0] in "'\"" or token[0].isalnum() or token[0] == "_" or token == ")")


def rewrite_casts(sql: str) -> str:
    """Turn PostgreSQL ``::`` casts into SQLite ``CAST(... AS ...)``; other text is unchanged."""
    if "::" not in sql:
        return sql
    out: list[str] = []
    tokens = _TOKEN.findall(sql)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok != "::":
            out.append(tok)
            i += 1
            continue
        # the operand: the last non-space output tokens
        while out and out[-1].isspace():
            out.pop()
        if not out or not _is_operand_end(out[-1]):
            out.append(tok)
            i += 1
            continue
        start = len(out) - 1
        if out[start] == ")":
            depth = 0
            for k in range(start, -1, -1):
                depth += out[k] == ")"
                depth -= out[k] == "("
                if depth == 0:
                    start = k
                    break
            # a function call: keep its name with the arguments
            if start > 0 and (out[start - 1][:1].isalpha() or out[start - 1][:1] == "_"):
                start -= 1
        # qualified names: a.b, "t"."c"
        while start >= 2 and out[start - 1] == "." and _is_operand_end(out[start - 2]):
            start -= 2
        operand = "".join(out[start:])
        del out[start:]
        # the type: words (``double precision``, ``timestamp without time zone``) and ``[]``
        j = i + 1
        words: list[str] = []
        while j < len(tokens) and (tokens[j].isspace() or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", tokens[j])):
            if not tokens[j].isspace():
                if words and tokens[j].lower() not in ("precision", "without", "with", "time", "zone", "varying"):
                    break
                words.append(tokens[j].lower())
            j += 1
        while j + 1 < len(tokens) and tokens[j] == "[" and tokens[j + 1] == "]":
            j += 2
        while j > i + 1 and tokens[j - 1].isspace():
            j -= 1
        affinity = _AFFINITY.get(words[0] if words else "", "TEXT")
        out.append(f"CAST({operand} AS {affinity})")
        i = j
    return "".join(out)
