"""The in-memory search index: posting lists as Python int bitsets.

Every indexed document gets a *slot* (a bit position). For each ``(field, term)`` the index keeps a
posting list: an ``int`` whose set bits are the slots holding that term when the term is common, or
a compact ``array('I')`` of slots when it is rare (a bitset costs N/8 bytes whatever its population,
which would make unique values such as ids or URLs cost O(N^2) memory). Boolean queries are
``&``/``|``/``~`` on ints (rare terms are turned into ints on the fly), facet counts are
``(postings & matches).bit_count()`` or membership tests of the rare slots, and a result set is one
int. A replaced
or removed document only clears its bit in ``live`` (its old postings stay, masked by ``live``); the
owner rebuilds the index when dead slots pile up (:attr:`SearchIndex.needs_compaction`).

Single-valued non-text fields also have a *column* (one value per slot) used for sorting, facets on
small result sets and fast ranges (``id:{"<last id>" TO *]``): a sorted view of the column with
prefix bitsets every :data:`_CHECKPOINT` entries turns a range into two prefix XORs plus a few bits.

Phrase queries need token positions, which the index does not keep: candidates come from the
postings and are confirmed on the documents themselves, fetched through ``fetch_docs`` (the
server reads them from the database; tests keep them in memory with ``keep_docs=True``).
"""

from __future__ import annotations

import bisect
import datetime as dt
import fnmatch
import re
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, pairwise
from typing import Any

from . import lucene
from .analysis import (
    TEXT_KINDS,
    analyze_text,
    copy_targets,
    field_info,
    parse_date,
    parse_number,
    to_text,
)
from .lucene import MUST, MUST_NOT, SHOULD, BoolQuery, MatchAll, RangeQuery, TermQuery

_CHECKPOINT = 512
_BYTE_BITS = [tuple(i for i in range(8) if b >> i & 1) for b in range(256)]
# fields kept as columns (sorting) although analysed as text: short values, often sorted on
_TEXT_COLUMNS = frozenset(("title",))
# single-valued fields whose values are (nearly) unique per document: a posting list per value
# would cost ~250 bytes per document each, so they live in their column only and term/range/
# wildcard queries on them go through the column's sorted view
COLUMN_ONLY = frozenset(
    (
        "id",
        "index_id",
        "name",
        "title_string",
        "url",
        "metadata_created",
        "metadata_modified",
        "indexed_ts",
        "revision_id",
        "ckan_url",
        "download_url",
    )
)
# substring fields answered from the column of their copyField source
_NGRAM_SOURCES = {"name_ngram": "name", "title_ngram": "title"}
_NO_COLUMN = frozenset(("data_dict", "validated_data_dict", "notes", "text"))

FetchDocs = Callable[[list[str]], dict[str, dict[str, Any]]]


class SearchSyntaxError(ValueError):
    """A query or value Solr would reject (bad syntax, unparseable date or number)."""


class SortError(ValueError):
    """A sort spec Solr cannot use (``Can't determine a Sort Order``, multivalued field)."""


def bits_to_slots(bits: int, nbits: int) -> list[int]:
    """The set bit positions of ``bits`` in increasing order."""
    if not bits:
        return []
    raw = bits.to_bytes((nbits + 8) // 8, "little")
    out: list[int] = []
    extend = out.extend
    table = _BYTE_BITS
    start = 0
    # skip zero runs quickly: bytes.lstrip-like search for the next non-zero byte
    n = len(raw)
    while start < n:
        # find next nonzero byte
        chunk = raw[start : start + 64]
        if not any(chunk):
            start += 64
            continue
        for off, b in enumerate(chunk):
            if b:
                base = (start + off) * 8
                extend([base + t for t in table[b]])
        start += 64
    return out


def bits_from_slots(slots: Iterable[int], nbits: int) -> int:
    """An int bitset with the given slots set (one allocation, not one per slot)."""
    buf = bytearray((nbits >> 3) + 1)
    for s in slots:
        buf[s >> 3] |= 1 << (s & 7)
    return int.from_bytes(buf, "little")


def as_bits(posting: int | array[int], nbits: int) -> int:
    """A posting list as an int bitset."""
    if isinstance(posting, int):
        return posting
    if len(posting) == 1:
        return 1 << int(posting[0])
    return bits_from_slots(posting, nbits)


def union(postings: Iterable[int | array[int]], nbits: int) -> int:
    """OR of many posting lists; the rare ones are gathered and materialised once."""
    out = 0
    rare: list[int] = []
    for p in postings:
        if isinstance(p, int):
            out |= p
        else:
            rare.extend(p)
    if rare:
        out |= bits_from_slots(rare, nbits)
    return out


def pair_hashes(toks: list[str]) -> list[int]:
    """Hashes of the adjacent token pairs of one analysed value (process-local, as the index)."""
    return [hash(pair) for pair in pairwise(toks)]


def _bloom(hashes: Iterable[int], log_size: int) -> int:
    mask = (1 << log_size) - 1
    bits = 0
    for h in hashes:
        bits |= (1 << (h & mask)) | (1 << ((h >> 24) & mask))
    return bits


def pair_signature(hashes: list[int]) -> int:
    """A Bloom filter of a document's adjacent pairs: 4-8 bits per pair, 2 hash bits each (~15%
    false positives; at most 1 KB per document), its size (log2) in the low 5 bits."""
    log_size = min(13, max(6, (len(hashes) * 4).bit_length()))
    return (_bloom(hashes, log_size) << 5) | log_size


def signature_has(signature: int, hashes: list[int], masks: dict[int, int]) -> bool:
    """Whether a signature may hold every pair (no false negatives)."""
    log_size = signature & 31
    mask = masks.get(log_size)
    if mask is None:
        mask = masks[log_size] = _bloom(hashes, log_size)
    return (signature >> 5) & mask == mask


def canonical_date(value: object) -> str | None:
    """A date as Solr stores it (millisecond precision), in a sortable string form."""
    if isinstance(value, dt.datetime):
        return _format_date(value)
    text = str(value)
    if text.startswith("NOW"):
        d = parse_date(text)  # not cacheable: depends on the clock
        return None if d is None else _format_date(d)
    return _canonical_date_str(text)


@lru_cache(maxsize=8192)
def _canonical_date_str(text: str) -> str | None:
    d = parse_date(text)
    return None if d is None else _format_date(d)


def _format_date(d: dt.datetime) -> str:
    return (
        f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}.{d.microsecond // 1000:03d}"
    )


def solr_date_output(canon: str) -> str:
    """How Solr prints a stored date: ``2026-11-22T03:49:37.096Z`` (trailing zeros dropped)."""
    base, _, ms = canon.partition(".")
    ms = ms.rstrip("0")
    return f"{base}.{ms}Z" if ms else f"{base}Z"


def _number_key(v: float) -> str:
    return repr(float(v))


@dataclass
class _SortedView:
    values: list[Any]
    slots: list[int]
    prefix: list[int]  # prefix[k]: bits of slots[: k * _CHECKPOINT]


@dataclass
class SearchResult:
    """What :meth:`SearchIndex.search` found: total count, one page of ids, facet counts."""

    count: int
    ids: list[str]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)


@dataclass
class QueryOptions:
    """How ``q`` is interpreted: Lucene (``df``) or dismax/edismax (``qf``, ``mm``)."""

    defType: str = "lucene"
    df: str = "text"
    qf: list[tuple[str, float]] | None = None
    mm: str | None = None
    tie: float = 0.1
    default_and: bool = True


class SearchIndex:
    """The index of one site.

    Args:
        keep_docs: keep each Solr document in memory (for phrase verification and ``fl``) instead
            of fetching them through ``fetch_docs`` at query time.
    """

    def __init__(self, *, keep_docs: bool = False) -> None:
        self.keep_docs = keep_docs
        self.docs: dict[int, dict[str, Any]] = {}
        self.slot_of: dict[str, int] = {}
        self.ids: list[str | None] = []
        self.live = 0
        self.postings: dict[str, dict[str, int | array[int]]] = {}
        self.exists: dict[str, int | array[int]] = {}
        self._bulk = False
        self._bulk_live: list[int] = []
        self.columns: dict[str, list[Any]] = {}
        self.multi: dict[str, list[tuple[str, ...] | None]] = {}
        self.version = 0
        self._views: dict[str, tuple[int, _SortedView]] = {}
        # sort orders of all slots per sort spec, kept up to date on single adds (dead slots stay
        # in them with their old values and are skipped when walking)
        self._orders: dict[tuple[tuple[str, bool], ...], list[int]] = {}
        self._costs: dict[str, tuple[int, float]] = {}
        self._tuples: dict[tuple[str, ...], tuple[str, ...]] = {}
        # per slot: a Bloom signature of the adjacent token pairs of its text values (phrase prefilter)
        self.sigs: list[int] = []
        self._sig_pairs: list[int] = []
        self._wild: dict[tuple[str, str], tuple[int, int]] = {}

    # ------------------------------------------------------------------ writing

    def __len__(self) -> int:
        return len(self.slot_of)

    @property
    def nbits(self) -> int:
        """Number of slots ever used (live and dead): the width of every bitset."""
        return len(self.ids)

    @property
    def needs_compaction(self) -> bool:
        """True when most slots belong to replaced or removed documents."""
        dead = len(self.ids) - len(self.slot_of)
        return dead > 10_000 and dead > len(self.slot_of)

    def add(self, doc: dict[str, Any]) -> None:
        """Index (or re-index) one Solr document (see :func:`.documents.solr_document`)."""
        doc_id = str(doc["id"])
        self.remove(doc_id)
        slot = len(self.ids)
        self.ids.append(doc_id)
        self.slot_of[doc_id] = slot
        if self._bulk:
            self._bulk_live.append(slot)
        else:
            self.live |= 1 << slot
        self.version += 1
        if self.keep_docs:
            self.docs[slot] = doc
        values: dict[str, list[Any]] = {}
        for name, value in doc.items():
            vals = value if isinstance(value, list) else [value]
            values.setdefault(name, []).extend(vals)
            for dest in copy_targets(name):
                values.setdefault(dest, []).extend(vals)
        postings = self.postings
        cache: dict[tuple[str, str], list[str]] = {}
        self._sig_pairs = []
        bulk = self._bulk
        threshold = self._dense_threshold()
        nbits = self.nbits
        for name, vals in values.items():
            kind, multi = field_info(name)
            if kind == "stored" or kind == "text_ngram":
                continue
            if name in COLUMN_ONLY:
                value = self._column_value(kind, vals[0])
                if value is None:
                    continue
                col = self.columns.get(name)
                if col is None:
                    col = self.columns[name] = []
                col.extend([None] * (slot + 1 - len(col)))
                col[slot] = value
                self._post(self.exists, name, slot)
                continue
            terms = list(dict.fromkeys(self._terms(kind, vals, cache)))
            if not terms:
                continue
            plist = postings.get(name)
            if plist is None:
                plist = postings[name] = {}
            get = plist.get
            for term in terms:  # inlined _post: this loop is most of a rebuild
                p = get(term)
                if p is None:
                    plist[term] = array("I", (slot,))
                elif isinstance(p, int):
                    plist[term] = p | (1 << slot)
                else:
                    p.append(slot)
                    if not bulk and len(p) > threshold:
                        plist[term] = bits_from_slots(p, nbits)
            self._post(self.exists, name, slot)
            if name in _NO_COLUMN or (kind in TEXT_KINDS and name not in _TEXT_COLUMNS):
                continue
            if kind == "text_ngram":
                continue
            if multi or len(vals) > 1:
                col = self.multi.get(name)
                if col is None:
                    col = self.multi[name] = []
                col.extend([None] * (slot + 1 - len(col)))
                values_tuple = tuple(terms)
                # many documents share the same labels/formats/tag sets: keep one tuple of each
                col[slot] = self._tuples.setdefault(values_tuple, values_tuple) if len(terms) < 4 else values_tuple
            else:
                col = self.columns.get(name)
                if col is None:
                    col = self.columns[name] = []
                col.extend([None] * (slot + 1 - len(col)))
                col[slot] = self._column_value(kind, vals[0])
        if self._sig_pairs:
            sigs = self.sigs
            sigs.extend([0] * (slot + 1 - len(sigs)))
            sigs[slot] = pair_signature(self._sig_pairs)
        if self._orders and not bulk:
            self._insert_in_orders(slot)

    def _post(self, plist: dict[str, int | array[int]], term: str, slot: int) -> None:
        p = plist.get(term)
        if p is None:
            plist[term] = array("I", (slot,))
        elif isinstance(p, int):
            plist[term] = p | (1 << slot)
        else:
            p.append(slot)
            if not self._bulk and len(p) > self._dense_threshold():
                plist[term] = bits_from_slots(p, self.nbits)

    def _dense_threshold(self) -> int:
        # an array of k slots costs 4k bytes, a bitset nbits/8: switch when the bitset is smaller
        return max(64, self.nbits // 32)

    def add_many(self, docs: Iterable[dict[str, Any]]) -> int:
        """Index many documents (rebuilds): posting lists are densified once at the end."""
        self._bulk = True
        self._orders.clear()  # rebuilt lazily: cheaper than inserting one by one
        n = 0
        try:
            for doc in docs:
                self.add(doc)
                n += 1
        finally:
            self._bulk = False
            if self._bulk_live:
                self.live |= bits_from_slots(self._bulk_live, self.nbits)
                self._bulk_live = []
            limit = self._dense_threshold()
            for plist in [*self.postings.values(), self.exists]:
                for term, p in plist.items():
                    if not isinstance(p, int) and len(p) > limit:
                        plist[term] = bits_from_slots(p, self.nbits)
            self.version += 1
        return n

    @staticmethod
    def _column_value(kind: str, value: Any) -> Any:
        if kind == "date":
            return canonical_date(value)
        if kind == "number":
            return parse_number(value)
        return to_text(value)

    def _terms(self, kind: str, vals: list[Any], cache: dict[tuple[str, str], list[str]]) -> list[str]:
        if kind in TEXT_KINDS:
            out: list[str] = []
            for v in vals:
                text = to_text(v)
                got = cache.get((kind, text))
                if got is None:
                    toks, extras = analyze_text(kind, text, True)
                    got = cache[(kind, text)] = toks + extras
                    self._sig_pairs.extend(pair_hashes(toks))
                out.extend(got)
            return list(dict.fromkeys(out))
        if kind == "text_ngram":
            return [to_text(v).lower() for v in vals]
        if kind == "date":
            return [d for d in (canonical_date(v) for v in vals) if d is not None]
        if kind == "number":
            return [_number_key(n) for n in (parse_number(v) for v in vals) if n is not None]
        return [to_text(v) for v in vals]

    def remove(self, doc_id: str) -> None:
        """Forget a document (its slot stays dead until the next rebuild)."""
        slot = self.slot_of.pop(str(doc_id), None)
        if slot is None:
            return
        if self._bulk and slot in self._bulk_live:
            self._bulk_live.remove(slot)
        self.live &= ~(1 << slot)
        self.version += 1
        self.docs.pop(slot, None)
        # columns keep the dead slot's values: every reader masks with ``live`` (or reads live
        # slots only), and the cached sort orders stay sorted

    # ------------------------------------------------------------------ evaluation

    def evaluate(
        self,
        node: lucene.Node,
        opts: QueryOptions,
        fetch_docs: FetchDocs | None = None,
        leaves: list[tuple[int, float]] | None = None,
    ) -> int | None:
        """The bitset of live documents matching ``node``; ``None`` when it analyses to nothing."""
        return _Evaluator(self, opts, fetch_docs, leaves).eval(node)

    def _docs_for(self, slots: list[int], fetch_docs: FetchDocs | None) -> dict[int, dict[str, Any]]:
        if self.keep_docs or fetch_docs is None:
            return {s: self.docs[s] for s in slots if s in self.docs}
        ids = [self.ids[s] for s in slots]
        fetched = fetch_docs([i for i in ids if i is not None])
        return {s: fetched[i] for s, i in zip(slots, ids, strict=False) if i is not None and i in fetched}

    def sorted_view(self, name: str) -> _SortedView | None:
        """Sorted ``(value, slot)`` pairs of a column, with prefix bitsets (cached per version)."""
        col = self.columns.get(name)
        if col is None:
            return None
        cached = self._views.get(name)
        if cached and cached[0] == self.version:
            return cached[1]
        pairs = sorted((v, s) for s, v in enumerate(col) if v is not None)
        values = [p[0] for p in pairs]
        slots = [p[1] for p in pairs]
        prefix = [0]
        buf = bytearray((self.nbits >> 3) + 1)
        for k in range(0, len(slots), _CHECKPOINT):
            for s in slots[k : k + _CHECKPOINT]:
                buf[s >> 3] |= 1 << (s & 7)
            prefix.append(int.from_bytes(buf, "little"))
        view = _SortedView(values, slots, prefix)
        self._views[name] = (self.version, view)
        return view

    def _range_from_view(self, view: _SortedView, i: int, j: int) -> int:
        """Bits of ``view.slots[i:j]`` using the checkpoints."""
        if j <= i:
            return 0
        ci, cj = -(-i // _CHECKPOINT), j // _CHECKPOINT
        if ci > cj:  # both ends inside one checkpoint block
            return bits_from_slots(view.slots[i:j], self.nbits)
        acc = view.prefix[cj] ^ view.prefix[ci]
        edges = view.slots[i : ci * _CHECKPOINT] + view.slots[cj * _CHECKPOINT : j]
        return acc | bits_from_slots(edges, self.nbits) if edges else acc

    # ------------------------------------------------------------------ searching

    def search(
        self,
        q: str,
        fq: Iterable[str] = (),
        *,
        opts: QueryOptions | None = None,
        sort: str = "score desc",
        start: int = 0,
        rows: int = 10,
        facet_fields: Iterable[str] = (),
        facet_limit: int = 50,
        facet_mincount: int = 1,
        filter_bits: int | None = None,
        fetch_docs: FetchDocs | None = None,
    ) -> SearchResult:
        """Run one search; raises :class:`SearchSyntaxError` or :class:`SortError`."""
        opts = opts or QueryOptions()
        sort_spec = self.parse_sort(sort)
        fq_opts = QueryOptions()
        matches = self.live if filter_bits is None else self.live & filter_bits
        for f in fq:
            if not f.strip():
                continue
            bits = self.evaluate(self.parse(f, True), fq_opts, fetch_docs)
            if bits is not None:
                matches &= bits
        leaves: list[tuple[int, float]] = []
        qnode = self.parse_q(q, opts)
        if not isinstance(qnode, MatchAll):
            qbits = _Evaluator(self, opts, fetch_docs, leaves).eval(qnode)
            matches &= qbits or 0
        count = matches.bit_count()
        uses_score = any(f == "score" for f, _ in sort_spec) and bool(leaves)
        page = self._page(matches, count, sort_spec, start, rows, leaves if uses_score else None)
        shared: dict[str, Any] = {}  # the matched slots, enumerated once for all facet fields
        facets = {name: self.facet(name, matches, count, facet_limit, facet_mincount, shared) for name in facet_fields}
        return SearchResult(count, [self.ids[s] or "" for s in page], facets)

    @staticmethod
    def parse(q: str, default_and: bool) -> lucene.Node:
        """Parse a query; syntax errors become :class:`SearchSyntaxError` (Solr's message)."""
        try:
            return lucene.parse(q, default_and=default_and)
        except lucene.QuerySyntaxError as exc:
            raise SearchSyntaxError(f"Cannot parse '{q}': {exc}") from exc

    def parse_q(self, q: str, opts: QueryOptions) -> lucene.Node:
        """Parse ``q`` as Solr would for ``opts`` (dismax: ``mm`` on the top-level clauses)."""
        stripped = q.strip()
        if stripped in ("*:*", "") or (stripped == "*" and opts.defType == "dismax"):
            return MatchAll()
        node = self.parse(q, opts.default_and if opts.defType == "lucene" else False)
        if opts.defType != "lucene" and isinstance(node, BoolQuery):
            node.mm = opts.mm if opts.mm is not None else ("100%" if opts.default_and else "0")
        if isinstance(node, BoolQuery) and len(node.clauses) == 1 and node.clauses[0][0] != MUST_NOT:
            inner = node.clauses[0][1]
            if isinstance(inner, MatchAll):
                return inner
        return node

    @staticmethod
    def parse_sort(sort: str) -> list[tuple[str, bool]]:
        """``"metadata_modified desc, name asc"`` -> ``[(field, descending), ...]``."""
        spec: list[tuple[str, bool]] = []
        for part in sort.split(","):
            part = part.strip()
            if not part:
                continue
            bits = part.split()
            if len(bits) != 2 or bits[1].lower() not in ("asc", "desc"):
                raise SortError(f"Can't determine a Sort Order (asc or desc) in sort spec '{part}'")
            name = bits[0]
            if name != "score":
                kind, multi = field_info(name)
                if multi:
                    raise SortError(f"can not sort on multivalued field: {name} of type: {kind}")
            spec.append((name, bits[1].lower() == "desc"))
        return spec

    def _sort_slots(self, slots: list[int], spec: list[tuple[str, bool]], scores: dict[int, float] | None) -> list[int]:
        out = list(slots)
        for name, desc in reversed(spec):
            if name == "score":
                if scores is not None:
                    out.sort(key=lambda s: scores.get(s, 0.0), reverse=desc)
                continue
            col = self.columns.get(name)
            if col is None:
                continue  # no document has it: all missing, order unchanged
            n = len(col)
            present = [s for s in out if s < n and col[s] is not None]
            missing = [s for s in out if s >= n or col[s] is None]
            present.sort(key=col.__getitem__, reverse=desc)
            out = present + missing  # sortMissingLast
        return out

    def _order(self, spec: list[tuple[str, bool]]) -> list[int]:
        key = tuple(spec)
        cached = self._orders.get(key)
        if cached is not None:
            return cached
        order = self._sort_slots(bits_to_slots(self.live, self.nbits), spec, None)
        if len(self._orders) > 16:
            self._orders.clear()
        self._orders[key] = order
        return order

    def _slot_before(self, spec: tuple[tuple[str, bool], ...], a: int, b: int) -> bool:
        """Whether slot ``a`` sorts before slot ``b`` under ``spec`` (missing last, then slot order)."""
        for name, desc in spec:
            col = self.columns.get(name)
            va = col[a] if col is not None and a < len(col) else None
            vb = col[b] if col is not None and b < len(col) else None
            if va == vb:
                continue
            if va is None:
                return False
            if vb is None:
                return True
            return bool(va > vb) if desc else bool(va < vb)
        return a < b

    def _insert_in_orders(self, slot: int) -> None:
        for spec, order in self._orders.items():
            lo, hi = 0, len(order)
            while lo < hi:  # first position whose slot sorts after the new one
                mid = (lo + hi) // 2
                if self._slot_before(spec, slot, order[mid]):
                    hi = mid
                else:
                    lo = mid + 1
            order.insert(lo, slot)

    def _page(
        self,
        matches: int,
        count: int,
        spec: list[tuple[str, bool]],
        start: int,
        rows: int,
        leaves: list[tuple[int, float]] | None,
    ) -> list[int]:
        if rows <= 0 or start >= count:
            return []
        end = start + rows
        if leaves is not None:
            slots = bits_to_slots(matches, self.nbits)
            scores: dict[int, float] = dict.fromkeys(slots, 0.0)
            for bits, weight in leaves:
                for s in bits_to_slots(bits & matches, self.nbits):
                    scores[s] += weight
            return self._sort_slots(slots, spec, scores)[start:end]
        spec = [(f, d) for f, d in spec if f != "score"]
        if not spec:
            # equal scores: Lucene returns index order
            return bits_to_slots(matches, self.nbits)[start:end]
        live_count = len(self.slot_of)
        have_order = tuple(spec) in self._orders
        # a small result set is cheaper to sort than to find in the global order
        if count * 8 < live_count and not (have_order and count * 64 > live_count):
            return self._sort_slots(bits_to_slots(matches, self.nbits), spec, None)[start:end]
        order = self._order(spec)
        raw = matches.to_bytes((self.nbits + 8) // 8, "little")
        out: list[int] = []
        seen = 0
        for s in order:
            if raw[s >> 3] >> (s & 7) & 1:
                if seen >= start:
                    out.append(s)
                    if len(out) >= rows:
                        break
                seen += 1
        return out

    # ------------------------------------------------------------------ facets

    def facet(
        self, name: str, matches: int, count: int, limit: int, mincount: int, shared: dict[str, Any] | None = None
    ) -> list[tuple[str, int]]:
        """``[(value, count)]`` for one field over ``matches``, Solr's order and limits.

        Counts come from the posting lists (cheap when the field has few distinct values) or from
        the per-document values of the matched documents (cheap when few documents match).
        """
        shared = {} if shared is None else shared
        counts: dict[str, int] = {}
        if count:
            plist = self.postings.get(name, {})
            kind, _ = field_info(name)
            col = self.columns.get(name)
            mcol = self.multi.get(name)
            nwords = self.nbits // 64 + 1
            by_bits_cost = self._facet_cost(name, plist, nwords)
            by_docs_cost = count * 0.4 + (0 if "slots" in shared else nwords * 0.05)
            use_docs = name in COLUMN_ONLY or by_docs_cost < by_bits_cost
            if kind not in TEXT_KINDS and kind != "text_ngram" and (col or mcol) and use_docs:
                counter: Counter[str] = Counter()
                if "slots" not in shared:
                    shared["slots"] = bits_to_slots(matches, self.nbits)
                slots = shared["slots"]
                if col:
                    n = len(col)
                    counter.update(v for v in (col[s] for s in slots if s < n) if v is not None)
                if mcol:
                    n = len(mcol)
                    counter.update(chain.from_iterable(v for v in (mcol[s] for s in slots if s < n) if v))
                if kind == "number":
                    counts = {_number_key(k) if isinstance(k, float) else k: v for k, v in counter.items()}
                else:
                    counts = dict(counter)
            else:
                raw = matches.to_bytes((self.nbits >> 3) + 1, "little")
                for term, p in plist.items():
                    c = (p & matches).bit_count() if isinstance(p, int) else sum(raw[s >> 3] >> (s & 7) & 1 for s in p)
                    if c:
                        counts[term] = c
            if kind == "date":
                counts = {solr_date_output(k): v for k, v in counts.items()}
        items = [(k, v) for k, v in counts.items() if v >= mincount]
        if limit < 0:
            items.sort(key=lambda kv: kv[0])
        else:
            items.sort(key=lambda kv: (-kv[1], kv[0]))
            items = items[:limit]
        return items

    def _facet_cost(self, name: str, plist: dict[str, int | array[int]], nwords: int) -> float:
        """Estimated cost (arbitrary units) of counting a field from its posting lists."""
        cached = self._costs.get(name)
        if cached and cached[0] == self.version:
            return cached[1]
        cost = sum(nwords * 0.002 + 0.3 if isinstance(p, int) else len(p) * 0.1 for p in plist.values())
        self._costs[name] = (self.version, cost)
        return cost

    def count(self, fq: str, fetch_docs: FetchDocs | None = None) -> int:
        """How many live documents match one filter query."""
        bits = self.evaluate(self.parse(fq, True), QueryOptions(), fetch_docs)
        return (self.live & (bits or 0)).bit_count()


class _Evaluator:
    """Evaluates a parsed query against a :class:`SearchIndex`."""

    def __init__(
        self,
        index: SearchIndex,
        opts: QueryOptions,
        fetch_docs: FetchDocs | None,
        leaves: list[tuple[int, float]] | None,
    ) -> None:
        self.ix = index
        self.opts = opts
        self.fetch_docs = fetch_docs
        self.leaves = leaves

    def eval(self, node: lucene.Node) -> int | None:
        if isinstance(node, MatchAll):
            return self.ix.live
        if isinstance(node, BoolQuery):
            return self._bool(node)
        if node.field is None:
            fields = [(self.opts.df, 1.0)]
            if self.opts.qf and self.opts.defType != "lucene":  # qf is dismax's; lucene uses df
                fields = self.opts.qf
            out: int | None = None
            # dismax scoring: the best field's boost plus ``tie`` times the others'; fields are
            # visited best first, so "matched by a better field" is the union so far
            for name, boost in sorted(fields, key=lambda fb: -fb[1]):
                bits = self._leaf(node, name)
                if bits is None:
                    continue
                if self.leaves is not None and bits and not isinstance(node, RangeQuery):
                    weight = boost * node.boost
                    better = out or 0
                    self.leaves.append((bits & ~better, weight))
                    if better:
                        self.leaves.append((bits & better, weight * self.opts.tie))
                out = bits if out is None else out | bits
            return out
        bits = self._leaf(node, node.field)
        if bits and self.leaves is not None and isinstance(node, TermQuery):
            self.leaves.append((bits, node.boost))
        return bits

    def _bool(self, node: BoolQuery) -> int | None:
        must: list[int] = []
        should: list[int] = []
        must_not: list[int] = []
        for occur, sub in node.clauses:
            bits = self.eval(sub)
            if bits is None:
                continue  # analysed to nothing: the clause disappears, as in Solr
            (must if occur == MUST else should if occur == SHOULD else must_not).append(bits)
        live = self.ix.live
        if not must and not should:
            if not must_not:
                return None
            excluded = 0
            for b in must_not:
                excluded |= b
            return live & ~excluded
        result = live
        for b in must:
            result &= b
        if should:
            if node.mm is not None:
                need = lucene.parse_mm(node.mm, len(should))
                if need == 0 and not must:
                    need = 1
                if need > 0:
                    result &= _at_least(should, need, live)
            elif not must:
                any_should = 0
                for b in should:
                    any_should |= b
                result &= any_should
        for b in must_not:
            result &= ~b
        return result

    def _leaf(self, node: lucene.Node, name: str) -> int | None:
        kind, _ = field_info(name)
        if isinstance(node, RangeQuery):
            return self._range(node, name, kind)
        assert isinstance(node, TermQuery)
        plist = self.ix.postings.get(name, {})
        text = node.text
        nbits = self.ix.nbits
        if node.wildcard and text == "*":
            return as_bits(self.ix.exists.get(name, 0), nbits)
        if name in COLUMN_ONLY:
            return self._column_term(node, name, kind)
        if name in _NGRAM_SOURCES:
            words = text.lower().split()
            if not words:
                return None
            col = self.ix.columns.get(_NGRAM_SOURCES[name], [])
            hits = [s for s, v in enumerate(col) if v is not None and all(w in v.lower() for w in words)]
            return bits_from_slots(hits, nbits)
        if kind in TEXT_KINDS:
            if node.wildcard:
                return self._wildcard(name, plist, text.lower())
            toks, _ = analyze_text(kind, text, False)
            if not toks:
                return None
            if len(toks) == 1:
                return as_bits(plist.get(toks[0], 0), nbits)
            return self._phrase(name, kind, plist, toks, allow_joined=not node.phrase)
        if kind == "text_ngram":
            words = text.lower().split()
            if not words:
                return None
            return union((p for term, p in plist.items() if all(w in term for w in words)), nbits)
        if kind == "date":
            d = canonical_date(text)
            if d is None:
                raise SearchSyntaxError(f"Invalid Date String:'{text}'")
            return as_bits(plist.get(d, 0), nbits)
        if kind == "number":
            n = parse_number(text)
            if n is None:
                raise SearchSyntaxError(f"Invalid Number: {text}")
            return as_bits(plist.get(_number_key(n), 0), nbits)
        if node.wildcard:
            return self._wildcard(name, plist, text)
        return as_bits(plist.get(text, 0), nbits)

    def _column_term(self, node: TermQuery, name: str, kind: str) -> int:
        """A term or wildcard on a column-only field, through its sorted view."""
        view = self.ix.sorted_view(name)
        if view is None:
            return 0
        vals = view.values
        text = node.text
        if node.wildcard:
            if kind != "string":
                return 0
            if text.endswith("*") and not any(c in text[:-1] for c in "*?[]"):
                prefix = text[:-1]
                i = bisect.bisect_left(vals, prefix)
                j = i
                while j < len(vals) and vals[j].startswith(prefix):
                    j += 1
                return self.ix._range_from_view(view, i, j)
            rx = re.compile(fnmatch.translate(text), re.DOTALL)
            hits = [view.slots[k] for k, v in enumerate(vals) if rx.match(v)]
            return bits_from_slots(hits, self.ix.nbits)
        key: Any
        if kind == "date":
            key = canonical_date(text)
            if key is None:
                raise SearchSyntaxError(f"Invalid Date String:'{text}'")
        elif kind == "number":
            key = parse_number(text)
            if key is None:
                raise SearchSyntaxError(f"Invalid Number: {text}")
        else:
            key = text
        i = bisect.bisect_left(vals, key)
        j = bisect.bisect_right(vals, key, lo=i)
        return self.ix._range_from_view(view, i, j)

    def _wildcard(self, name: str, plist: dict[str, int | array[int]], pattern: str) -> int:
        key = (name, pattern)
        cached = self.ix._wild.get(key)
        if cached and cached[0] == self.ix.version:
            return cached[1]
        if pattern.endswith("*") and not any(c in pattern[:-1] for c in "*?[]"):
            prefix = pattern[:-1]
            out = union((p for term, p in plist.items() if term.startswith(prefix)), self.ix.nbits)
        else:
            rx = re.compile(fnmatch.translate(pattern), re.DOTALL)
            out = union((p for term, p in plist.items() if rx.match(term)), self.ix.nbits)
        if len(self.ix._wild) > 256:
            self.ix._wild.clear()
        self.ix._wild[key] = (self.ix.version, out)
        return out

    def _phrase(
        self, name: str, kind: str, plist: dict[str, int | array[int]], toks: list[str], allow_joined: bool
    ) -> int:
        nbits = self.ix.nbits
        candidates = self.ix.live
        for t in toks:
            candidates &= as_bits(plist.get(t, 0), nbits)
            if not candidates:
                break
        joined = as_bits(plist.get("".join(toks), 0), nbits) if allow_joined else 0
        if not candidates:
            return joined
        slots = bits_to_slots(candidates & ~joined, self.ix.nbits)
        # only documents whose pair signature has every adjacent query pair can hold the phrase:
        # this keeps the document loads to the (few) likely matches
        hashes = pair_hashes(toks)
        masks: dict[int, int] = {}
        sigs = self.ix.sigs
        slots = [s for s in slots if s < len(sigs) and signature_has(sigs[s], hashes, masks)]
        docs = self.ix._docs_for(slots, self.fetch_docs)
        hits: list[int] = []
        n = len(toks)
        for s, doc in docs.items():
            for value in _field_values(doc, name):
                seq, _ = analyze_text(kind, to_text(value), True)
                if any(seq[i : i + n] == toks for i in range(len(seq) - n + 1)):
                    hits.append(s)
                    break
        return joined | bits_from_slots(hits, nbits) if hits else joined

    def _range(self, node: RangeQuery, name: str, kind: str) -> int:
        conv: Callable[[str], Any]
        if kind == "date":
            conv = canonical_date
        elif kind == "number":
            conv = parse_number
        elif kind in TEXT_KINDS:
            conv = _analyze_bound(kind)
        else:
            conv = str
        lo = None if node.lo is None else conv(node.lo)
        hi = None if node.hi is None else conv(node.hi)
        if (node.lo is not None and lo is None) or (node.hi is not None and hi is None):
            raise SearchSyntaxError(f"Invalid range value: [{node.lo} TO {node.hi}]")
        if lo is None and hi is None:
            return as_bits(self.ix.exists.get(name, 0), self.ix.nbits)
        view = self.ix.sorted_view(name) if name not in self.ix.multi else None
        if view is not None and kind not in TEXT_KINDS:
            vals = view.values
            i = 0 if lo is None else bisect.bisect_left(vals, lo) if node.include_lo else bisect.bisect_right(vals, lo)
            if hi is None:
                j = len(vals)
            else:
                j = bisect.bisect_right(vals, hi) if node.include_hi else bisect.bisect_left(vals, hi)
            return self.ix._range_from_view(view, i, j)
        chosen = []
        for term, p in self.ix.postings.get(name, {}).items():
            v: Any = float(term) if kind == "number" else term
            if lo is not None and (v < lo or (v == lo and not node.include_lo)):
                continue
            if hi is not None and (v > hi or (v == hi and not node.include_hi)):
                continue
            chosen.append(p)
        return union(chosen, self.ix.nbits)


def _analyze_bound(kind: str) -> Callable[[str], str | None]:
    def conv(s: str) -> str | None:
        toks, _ = analyze_text(kind, s, False)
        return toks[0] if toks else s.lower()

    return conv


def _field_values(doc: dict[str, Any], name: str) -> list[Any]:
    """Values of ``name`` in a Solr document, copyField sources included."""
    out: list[Any] = []
    for key, value in doc.items():
        if key == name or name in copy_targets(key):
            out.extend(value if isinstance(value, list) else [value])
    return out


def _at_least(sets: list[int], k: int, universe: int) -> int:
    """Bits set in at least ``k`` of ``sets``."""
    if k <= 1:
        out = 0
        for b in sets:
            out |= b
        return out
    if k > len(sets):
        return 0
    ge = [universe] + [0] * k  # ge[j]: in at least j of the sets seen so far
    for b in sets:
        for j in range(k, 0, -1):
            ge[j] |= ge[j - 1] & b
    return ge[k]
