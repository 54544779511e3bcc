"""``datastore_search`` parameters -> one SQLite SELECT (and the same WHERE for deletes).

Mirrors CKAN's PostgreSQL backend: ``filters`` (2.11: ``{field: value | [values]}``; 2.12 adds
``lt/lte/gt/gte``, ``$or``/``$and`` and lists of filter dicts), ``q`` (string: all columns; dict:
per column, each adding a ``rank <column>`` output column), ``plain``, ``fields``, ``sort``
(PostgreSQL's NULL placement), ``distinct``, ``limit``/``offset`` and 2.12's keyset paging.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import ValidationError
from . import fulltext, types
from .models import Table, quote

_SORT_RE = re.compile(r'^\s*(?:"((?:[^"]|"")+)"|([^\s"]+))\s*(?:\s(asc|desc))?\s*$', re.IGNORECASE)
MAX_FILTER_OPS = 100


def get_list(value: Any, strip: bool = True) -> list[str]:
    """CKAN's ``get_list``: a comma-separated string or a list -> list of strings."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v).strip() if strip else str(v) for v in value]
    return [p.strip() if strip else p for p in str(value).split(",") if p.strip()]


@dataclass
class Column:
    """One output column: name, CKAN type and SQL expression."""

    name: str
    ctype: str
    expr: str


@dataclass
class Select:
    """A built query: output columns, the SQL parts and their arguments."""

    columns: list[Column]
    where: str
    where_args: list[Any]
    order: str
    distinct: bool
    select_args: list[Any] = field(default_factory=list)
    order_args: list[Any] = field(default_factory=list)
    keyset: str = ""  # "asc"/"desc" when the order is _id alone (2.12's include_next_page)

    def ids_sql(self, table: str, limit: int | None, offset: int) -> str:
        """The ``_id`` of each row of the page (same WHERE/ORDER/LIMIT), for ``next_page``."""
        sql = f"SELECT _id FROM {quote(table)}"
        if self.where:
            sql += f" WHERE {self.where}"
        if self.order:
            sql += f" ORDER BY {self.order}"
        sql += " LIMIT ?"
        if offset:
            sql += " OFFSET ?"
        return sql

    def sql(
        self, table: str, limit: int | None, offset: int, after_id: tuple[str, int] | None = None
    ) -> tuple[str, list[Any]]:
        """The SELECT with paging; ``after_id`` = (operator, id) for keyset paging."""
        where, args = self.where, list(self.where_args)
        if after_id is not None:
            op, last = after_id
            extra = f"_id {op} ?"
            where = f"({where}) AND {extra}" if where else extra
            args.append(last)
        cols = ", ".join(f"{c.expr} AS {quote(c.name)}" for c in self.columns)
        sql = f"SELECT {'DISTINCT ' if self.distinct else ''}{cols} FROM {quote(table)}"
        if where:
            sql += f" WHERE {where}"
        if self.order:
            sql += f" ORDER BY {self.order}"
        sql += " LIMIT ?"
        tail: list[Any] = [-1 if limit is None else limit]
        if offset:
            sql += " OFFSET ?"
            tail.append(offset)
        return sql, [*self.select_args, *args, *self.order_args, *tail]

    def count_sql(self, table: str) -> tuple[str, list[Any]]:
        """``count(*)`` over the same rows (distinct rows when ``distinct``)."""
        cols = ", ".join(f"{c.expr} AS {quote(c.name)}" for c in self.columns)
        inner = f"SELECT {'DISTINCT ' if self.distinct else ''}{cols} FROM {quote(table)}"
        if self.where:
            inner += f" WHERE {self.where}"
        return f"SELECT count(*) FROM ({inner})", [*self.select_args, *self.where_args]


def invalid(key: str, value: Any) -> ValidationError:
    """CKAN's leftover-parameter error: ``{key: ['invalid value "x"']}``."""
    return ValidationError({key: [f'invalid value "{value}"']})


def filter_value(value: Any, ctype: str, column: str) -> Any:
    """A filter value converted like PostgreSQL converts a query parameter."""
    if ctype == "json":
        return json.dumps(value)
    try:
        if ctype == "int":
            return types.coerce(value, "int8", column)
        if isinstance(value, bool) and ctype != "bool" and not ctype.startswith("_"):
            value = "true" if value else "false"
        if isinstance(value, (int, float)) and ctype in ("text", "timestamp", "date", "time"):
            value = str(value)
        if isinstance(value, str) and ctype in types.INT_TYPES:
            value = value.strip()
        return types.coerce(value, ctype, column)
    except types.CoercionError as exc:
        raise ValidationError({"query": ["Invalid query"], "info": {"orig": [str(exc)]}}) from None


def _eq_clause(col: str, ctype: str, value: Any) -> tuple[str, list[Any]]:
    if isinstance(value, list) and not ctype.startswith("_"):
        if not value:
            return "0", []
        vals = [filter_value(v, ctype, col) for v in value]
        return f"{quote(col)} IN ({', '.join('?' for _ in vals)})", vals
    return f"{quote(col)} = ?", [filter_value(value, ctype, col)]


def filters_211(filters: Any, table: Table) -> tuple[list[str], list[Any]]:
    """2.11: ``{field: value | [values]}``, AND-ed."""
    ftypes = table.types
    clauses: list[str] = []
    args: list[Any] = []
    if not isinstance(filters, dict):
        raise TypeError("filters must be a dict")  # CKAN 2.11 answers 500 here too
    for col, value in filters.items():
        if col not in ftypes:
            raise invalid("filters", col)
        sql, vals = _eq_clause(col, ftypes[col], value)
        clauses.append(sql)
        args.extend(vals)
    return clauses, args


_OPS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


class _FilterParser212:
    """2.12's filter language, with its error texts."""

    def __init__(self, table: Table) -> None:
        self.types = table.types
        self.errors: list[str] = []
        self.count = 0

    def _bump(self) -> None:
        self.count += 1
        if self.count > MAX_FILTER_OPS:
            raise ValidationError({"filters": ["Maximum number of filter operations exceeded"]})

    def field_op(self, name: str, value: Any) -> tuple[str, list[Any]] | None:
        if name.startswith("$$"):
            name = name[1:]
        if isinstance(value, dict):
            if len(value) > 1:
                parts = [self.field_op(name, {k: v}) for k, v in value.items()]
                kept = [p for p in parts if p]
                if not kept:
                    return None
                self._bump()
                return "(" + " AND ".join(p[0] for p in kept) + ")", [a for p in kept for a in p[1]]
            if not value:
                return None
            op, operand = next(iter(value.items()))
            return self.leaf(name, op, operand)
        if isinstance(value, list):
            dict_ops = [v for v in value if isinstance(v, dict)]
            plain = [v for v in value if not isinstance(v, dict)]
            if not dict_ops:
                return self.leaf(name, "in", value)
            parts = [self.field_op(name, d) for d in dict_ops]
            if plain:
                parts.append(self.leaf(name, "in", plain))
            kept = [p for p in parts if p]
            if not kept:
                return None
            self._bump()
            return "(" + " OR ".join(p[0] for p in kept) + ")", [a for p in kept for a in p[1]]
        return self.leaf(name, "eq", value)

    def leaf(self, name: str, op: str, value: Any) -> tuple[str, list[Any]] | None:
        if name not in self.types:
            self.errors.append(f"Unknown field: {name}")
            return None
        self._bump()
        ctype = self.types[name]
        if op == "in":
            items = value if isinstance(value, list) else [value]
            if not items:
                return "0", []
            vals = [filter_value(v, ctype, name) for v in items]
            return f"{quote(name)} IN ({', '.join('?' for _ in vals)})", vals
        if op in _OPS:
            return f"{quote(name)} {_OPS[op]} ?", [filter_value(value, ctype, name)]
        raise ValidationError(
            {"filters": [f"Unknown filter operation: FilterOp(field={name!r}, op={op!r}, value={value!r})"]}
        )

    def members(self, items: Any, joiner: str) -> tuple[str, list[Any]] | None:
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            self.errors.append(f"Filter operations must be defined as a list of dicts: {items}")
            return None
        parts = [self.combine(i) for i in items]
        kept = [p for p in parts if p]
        if not kept:
            return None
        self._bump()
        return "(" + f" {joiner} ".join(p[0] for p in kept) + ")", [a for p in kept for a in p[1]]

    def combine(self, value: dict[str, Any]) -> tuple[str, list[Any]] | None:
        parts: list[tuple[str, list[Any]]] = []
        for key, item in value.items():
            if key.startswith("$") and not key.startswith("$$"):
                if key not in ("$or", "$and"):
                    self.errors.append(f"Unknown operators (must be one of $or, $and): {key}")
                    continue
                part = self.members(item, "OR" if key == "$or" else "AND")
            else:
                part = self.field_op(key, item)
            if part:
                parts.append(part)
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        return "(" + " AND ".join(p[0] for p in parts) + ")", [a for p in parts for a in p[1]]


def filters_212(filters: Any, table: Table) -> tuple[list[str], list[Any]]:
    """2.12: field operators, ``$or``/``$and``, lists of filter dicts (OR-ed)."""
    if not filters:
        return [], []
    is_list_of_dicts = isinstance(filters, list) and all(isinstance(i, dict) for i in filters)
    if not isinstance(filters, dict) and not is_list_of_dicts:
        raise ValidationError({"filters": ["Filters must be defined as a dict or a list of dicts"]})
    if len(filters) >= MAX_FILTER_OPS:
        raise ValidationError({"filters": ["Maximum number of filter operations exceeded"]})
    parser = _FilterParser212(table)
    result = parser.members(filters, "OR") if isinstance(filters, list) else parser.combine(filters)
    if parser.errors:
        raise ValidationError({"filters": parser.errors})
    if result is None:
        return [], []
    return [result[0]], result[1]


def parse_sort(sort: Any, table: Table, rank_names: list[str]) -> list[str]:
    """``sort`` -> ORDER BY items with PostgreSQL's NULL placement."""
    ftypes = table.types
    out: list[str] = []
    for clause in get_list(sort, strip=False):
        m = _SORT_RE.match(clause)
        if not m:
            raise invalid("sort", clause.strip())
        name = m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2)
        if name not in ftypes and name not in rank_names:
            raise invalid("sort", clause.strip())
        desc = (m.group(3) or "asc").lower() == "desc"
        out.append(f"{quote(name)} {'DESC NULLS FIRST' if desc else 'ASC NULLS LAST'}")
    return out


def build(
    table: Table,
    params: dict[str, Any],
    version: str,
) -> tuple[Select, list[str] | None]:
    """Build the query for validated ``datastore_search`` parameters.

    Returns the :class:`Select` and the requested field names (``None``: all).
    Raises CKAN's ValidationErrors for unknown fields, filters, sort columns and q keys.
    """
    ftypes = table.types
    where: list[str] = []
    args: list[Any] = []
    select_args: list[Any] = []
    rank_cols: list[Column] = []
    plain = params.get("plain", True)

    # the order CKAN reports leftover parameters in: fields, filters, q, sort
    requested = None
    if "fields" in params:
        requested = get_list(params["fields"])
        for name in requested:
            if name not in ftypes:
                raise invalid("fields", name)
    if "filters" in params and params["filters"] is not None:
        if version == "2.12":
            clauses, vals = filters_212(params["filters"], table)
        else:
            clauses, vals = filters_211(params["filters"], table)
        where.extend(clauses)
        args.extend(vals)
    q = params.get("q")
    queries: list[tuple[str | None, str]] = []
    if q:
        if isinstance(q, dict):
            for col, text in q.items():
                if col not in ftypes:
                    raise invalid("q", col)
                queries.append((col, str(text)))
        else:
            queries.append((None, str(q)))
    full_text = params.get("full_text")
    if full_text:
        queries.append((None, str(full_text)))
    for col, text in queries:
        parsed = json.dumps(fulltext.parse_query(text, plain))
        if col is None:
            expr = "ds_rank(_full_text, ?)"
            name = "rank"
        else:
            expr = f"ds_value_rank({quote(col)}, ?)"
            name = f"rank {col}"
        where.append(f"{expr} IS NOT NULL")
        args.append(parsed)
        if not any(c.name == name for c in rank_cols):
            rank_cols.append(Column(name, "float", expr))
            select_args.append(parsed)
    rank_names = [c.name for c in rank_cols]
    order = parse_sort(params.get("sort"), table, rank_names) if params.get("sort") else []
    order_args: list[Any] = []
    distinct = bool(params.get("distinct"))

    if requested:
        columns = [Column(n, ftypes[n], quote(n)) for n in requested]
        used_ranks = [c for c in rank_cols if c.name in requested]
        select_args = [a for c, a in zip(rank_cols, select_args, strict=False) if c in used_ranks]
    else:
        columns = [Column("_id", "int", "_id")]
        columns.extend(Column(f["id"], f["type"], quote(f["id"])) for f in table.fields)
        columns.extend(rank_cols)
    if not order:
        if rank_cols and (not requested or all(c.name in requested for c in rank_cols)):
            order = [f"{quote(c.name)} DESC" for c in rank_cols]
        elif rank_cols:
            # the rank is not selected: order by its expression
            for c in rank_cols:
                order.append(f"{c.expr} DESC")
                order_args.append(_rank_arg(c, queries, plain))
        if distinct and not order:
            order = [f"{c.expr} ASC NULLS FIRST" for c in columns]
        elif not order:
            order = ["_id ASC"]
        elif not distinct and not any(o.startswith('"_id" ') for o in order):
            order.append("_id ASC")
    sel = Select(columns, " AND ".join(where), args, ", ".join(order), distinct, select_args, order_args)
    if not distinct and order in (["_id ASC"], ['"_id" ASC NULLS LAST'], ['"_id" DESC NULLS FIRST']):
        sel.keyset = "desc" if "DESC" in order[0] else "asc"
    return sel, requested


def _rank_arg(col: Column, queries: list[tuple[str | None, str]], plain: bool) -> str:
    for qcol, text in queries:
        name = "rank" if qcol is None else f"rank {qcol}"
        if name == col.name:
            return json.dumps(fulltext.parse_query(text, plain))
    return "[]"


def delete_where(table: Table, filters: Any, version: str) -> tuple[str, list[Any]]:
    """The WHERE of ``datastore_delete`` / ``datastore_records_delete`` (``1`` = all rows)."""
    if version == "2.12" and filters:
        clauses, args = filters_212(filters, table)
    else:
        clauses, args = filters_211(filters or {}, table)
    return (" AND ".join(clauses) or "1"), args
