"""``package_search``, ``resource_search`` and ``package_autocomplete`` over the in-memory index.

The parameter handling follows CKAN 2.11's ``package_search``: the search schema's validators and
messages, ``ext_*`` parameters moved aside, ``include_private``/``include_drafts``/
``include_deleted``, the ``+capacity:public`` and ``+state:(...)`` filters, the caller's
permission labels (none for sysadmins), then the Solr parameter whitelist.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import TYPE_CHECKING, Any

from .. import errors, hooks
from ..context import Context
from ..registry import action
from . import indexing
from .analysis import field_info
from .engine import QueryOptions, SearchIndex, SearchSyntaxError, SortError, canonical_date, solr_date_output

if TYPE_CHECKING:
    from ..core import EmbeddedCKAN

DEFAULT_SORT = "score desc, metadata_modified desc"
ROWS_MAX = 1000
QUERY_FIELDS = "name^4 title^4 tags^2 groups^2 text"
DEFAULT_MM = "2<-1 5<80%"
VALID_SOLR_PARAMETERS = frozenset(
    (
        "q",
        "fl",
        "fq",
        "rows",
        "sort",
        "start",
        "wt",
        "qf",
        "bf",
        "boost",
        "facet",
        "facet.mincount",
        "facet.limit",
        "facet.field",
        "extras",
        "fq_list",
        "tie",
        "defType",
        "mm",
        "df",
    )
)
_MAGIC_FIELD_RE = re.compile(r"\s*(?<![\w\\])\\?_(?:\\?q\\?u\\?e\\?r\\?y|\\?v\\?a\\?l)\\?_\s*:")
_LOCAL_PARAMS_RE = re.compile(r"(?:^|[^\\])(?:\\\\)*\{!")
_TRUE = frozenset(("true", "yes", "on", "y", "t", "1"))
_FALSE = frozenset(("false", "no", "off", "n", "f", "0", ""))


def _startup(server: EmbeddedCKAN) -> None:
    indexing.rebuild(server)


if _startup not in hooks.STARTUP:
    hooks.STARTUP.append(_startup)


# ---------------------------------------------------------------------------- validation


def _as_int(value: Any) -> int | None:
    """CKAN's ``int_validator``: ints, integral floats and digit strings."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def asbool(value: Any) -> bool:
    """paste's ``asbool``: unknown strings are an error (CKAN then answers 500)."""
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise errors.InternalError()
    return bool(value)


def _validate(data: dict[str, Any]) -> dict[str, Any]:
    """Apply ``default_package_search_schema``; raises CKAN's ValidationError."""
    errs: dict[str, list[str]] = {}
    out = dict(data)

    def missing(key: str) -> bool:
        return key not in data or data[key] is None or data[key] == ""

    # rows: default(10), natural_number_validator, limit_to_configured_maximum
    if missing("rows"):
        out["rows"] = 10
    else:
        n = _as_int(data["rows"])
        if n is None:
            errs["rows"] = ["Invalid integer", "Please enter an integer value"]
        elif n < 0:
            errs["rows"] = ["Must be a natural number"]
        else:
            out["rows"] = min(n, ROWS_MAX)
    for key in ("start", "facet.mincount"):
        if missing(key):
            out.pop(key, None)
            continue
        n = _as_int(data[key])
        if n is None:
            errs[key] = ["Invalid integer"]
        elif n < 0:
            errs[key] = ["Must be a natural number"]
        else:
            out[key] = n
    if missing("facet.limit"):
        out.pop("facet.limit", None)
    else:
        n = _as_int(data["facet.limit"])
        if n is None:
            errs["facet.limit"] = ["Invalid integer"]
        else:
            out["facet.limit"] = n
    if missing("facet.field"):
        out.pop("facet.field", None)
    else:
        value = data["facet.field"]
        field_errs: list[str] = []
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                field_errs.append("Could not parse as valid JSON")
        if not field_errs or isinstance(value, list):
            if not isinstance(value, list):
                field_errs.append("Not a list")
            else:
                for item in value:
                    if not isinstance(item, str):
                        field_errs.append(f"Not a string: {item}")
        elif not isinstance(value, list):
            field_errs.append("Not a list")
        if field_errs:
            errs["facet.field"] = field_errs
        else:
            out["facet.field"] = value
    if "fl" in data and not missing("fl"):
        fl = data["fl"]
        out["fl"] = [fl] if isinstance(fl, str) else fl
    else:
        out.pop("fl", None)
    for key in ("q", "fq", "sort", "qf", "facet"):
        if key in data and data[key] is None:
            out.pop(key)
        elif key in data and not isinstance(data[key], str):
            out[key] = str(data[key])
    if errs:
        raise errors.ValidationError(errs)
    return out


def _check_query_parser(param: str, value: Any) -> None:
    """CKAN refuses Solr magic fields and local parameters (``{!...}``)."""
    values = value if isinstance(value, list) else [value]
    for item in values:
        if not isinstance(item, str):
            continue
        item = item.strip()
        if _MAGIC_FIELD_RE.search(item):
            raise errors.SearchError(f"Search error: \"Magic fields are not supported in param '{param}'.\"")
        found = _LOCAL_PARAMS_RE.findall(item)
        if found:
            if len(found) > 1:
                raise errors.SearchError(f"Search error: \"Query parsers are not supported in param '{param}'.\"")
            if not item.startswith("{!"):
                raise errors.SearchError(
                    f"Search error: \"Local parameters must be defined at the beginning of param '{param}'.\""
                )
            raise errors.SearchError(f"Search error: \"Local parameters are not supported in param '{param}'.\"")


# ---------------------------------------------------------------------------- helpers


def get_index(ctx: Context) -> SearchIndex:
    """The calling site's search index."""
    return indexing.get_index(ctx.server)


def user_labels(ctx: Context) -> list[str] | None:
    """The permission labels the caller may see; ``None`` (no filter) for sysadmins."""
    if ctx.ignore_auth or ctx.is_sysadmin:
        return None
    labels = ["public"]
    if ctx.user is None:
        return labels
    labels.append(f"creator-{ctx.user['id']}")
    try:
        from ..authz import user_org_ids
    except ImportError:  # authz not written yet
        return labels
    labels.extend(f"member-{org_id}" for org_id in user_org_ids(ctx, "read"))
    return labels


def labels_filter(index: SearchIndex, labels: list[str] | None) -> int | None:
    """Bits of the documents carrying at least one of ``labels``."""
    if labels is None:
        return None
    from .engine import union

    plist = index.postings.get("permission_labels", {})
    return union((plist[label] for label in labels if label in plist), index.nbits)


_SCHEMA_ORDER = (
    "q",
    "fl",
    "fq",
    "rows",
    "sort",
    "start",
    "qf",
    "facet",
    "facet.mincount",
    "facet.limit",
    "facet.field",
)


def _solr_query_dict(
    data: dict[str, Any],
    params: dict[str, Any],
    q: str,
    filters: list[str],
    labels: list[str] | None,
    opts: QueryOptions,
) -> dict[str, Any]:
    """The parameter dict CKAN sends to Solr, in CKAN's key order (it appears in error messages)."""
    query: dict[str, Any] = {}
    for key in _SCHEMA_ORDER:
        if key in params and (key in data or key == "rows"):
            query[key] = params[key]
    for key in params:
        if key not in _SCHEMA_ORDER and key in data:
            query[key] = params[key]
    query["df"] = "text"
    query.setdefault("sort", params["sort"])
    query["fl"] = " ".join(params["fl"]) if params.get("fl") else "id validated_data_dict"
    query["fq"] = None
    query.setdefault("q", q)
    query["q"] = q
    rows = params["rows"]
    query["rows"] = rows + 1 if rows > 0 else rows
    fq = [*filters]
    fq.insert(1 + len(params.get("fq_list") or []), '+site_id:"default"')
    if labels is not None:
        fq.append("+permission_labels:({})".format(" OR ".join(f'"{label}"' for label in labels)))
    query["fq"] = fq
    query.setdefault("facet", "true")
    query.setdefault("facet.limit", 50)
    query.setdefault("facet.mincount", 1)
    query["wt"] = "json"
    if opts.defType != "lucene":
        query["defType"] = opts.defType
        query["tie"] = params.get("tie", "0.1")
        query["mm"] = params.get("mm", DEFAULT_MM)
        query["qf"] = params.get("qf", QUERY_FIELDS)
    query["q.op"] = "AND"
    return query


def _solr_error(query: dict[str, Any], message: str) -> errors.SearchError:
    solr = f"SolrError('Solr responded with an error (HTTP 400): [Reason: {message}]')"
    inner = f"SOLR returned an error running query: {query!r} Error: {solr}"
    return errors.SearchError(f"Search error: {inner!r}")


def _group_titles(ctx: Context, names: list[str]) -> dict[str, str]:
    """name -> title of groups/organizations (for facet display names)."""
    if not names:
        return {}
    marks = ",".join("?" * len(names))
    try:
        rows = ctx.conn.execute(f'SELECT name, title FROM "group" WHERE name IN ({marks})', names).fetchall()
    except Exception:  # organizations family not present
        return {}
    return {r[0]: r[1] for r in rows}


def _license_titles() -> dict[str, str]:
    """license id -> title from the site's license register (status family)."""
    try:
        from ..status.licenses import LICENSES
    except ImportError:
        return {}
    return {row[0]: row[1] for row in LICENSES}


def _render_fl(doc: dict[str, Any], pkg: dict[str, Any], fl: list[str]) -> dict[str, Any]:
    """A result restricted to ``fl``: Solr's stored fields, extras_* folded back as CKAN does."""
    patterns = [p for part in fl for p in re.split(r"[,\s]+", part) if p]
    full = dict(doc)
    full["validated_data_dict"] = json.dumps(pkg)
    full["data_dict"] = json.dumps(pkg)
    out: dict[str, Any] = {}
    for name, value in full.items():
        if not any(p == name or fnmatch.fnmatchcase(name, p) for p in patterns):
            continue
        kind, multi = field_info(name)
        if name in ("permission_labels", "text", "urls", "title_string") or (
            kind != "stored"
            and name not in _STORED
            and not name.startswith(("extras_", "res_extras_", "vocab_"))
            and not name.endswith("_date")
        ):
            continue
        vals = value if isinstance(value, list) else [value]
        if kind == "date":
            vals = [solr_date_output(canonical_date(v) or str(v)) for v in vals]
        out[name] = vals if multi else (vals[0] if vals else None)
    extras = {k[len("extras_") :]: out.pop(k) for k in list(out) if k.startswith("extras_")}
    out.update(extras)
    return out


# the order of the stored fields in the document CKAN sends (package_show's keys, then the fields
# its indexer adds); see documents.solr_document
_DOC_ORDER = {
    name: i
    for i, name in enumerate(
        (
            "author",
            "author_email",
            "id",
            "license_id",
            "maintainer",
            "maintainer_email",
            "metadata_created",
            "metadata_modified",
            "name",
            "notes",
            "organization",
            "state",
            "title",
            "url",
            "version",
            "title_string",
            "tags",
            "groups",
            "capacity",
            "res_name",
            "res_description",
            "res_format",
            "res_url",
            "res_type",
            "entity_type",
            "dataset_type",
            "site_id",
            "index_id",
        )
    )
}


def _fl_from_index(index: SearchIndex, ids: list[str], fl: list[str]) -> list[dict[str, Any]] | None:
    """``fl`` results straight from the index columns (no database read), when they suffice.

    Keyset paging asks for ``fl=id`` a thousand rows at a time; rendering full datasets just to
    keep their ids would dominate. Returns ``None`` when a requested field needs the documents.
    """
    names = [p for part in fl for p in re.split(r"[,\s]+", part) if p]
    if not names:
        return None
    for name in names:
        kind, _ = field_info(name)
        if name not in _STORED or any(c in name for c in "*?") or name in ("data_dict", "validated_data_dict"):
            return None
        if kind in ("text", "text_general", "text_ngram") and name != "title":
            return None
    # Solr returns stored fields in document order, not fl order
    names = sorted(dict.fromkeys(names), key=lambda n: _DOC_ORDER.get(n, len(_DOC_ORDER)))
    out: list[dict[str, Any]] = []
    for doc_id in ids:
        slot = index.slot_of.get(doc_id)
        if slot is None:
            continue
        row: dict[str, Any] = {}
        for name in names:
            col = index.columns.get(name)
            mcol = index.multi.get(name)
            value = col[slot] if col is not None and slot < len(col) else None
            if value is None and mcol is not None and slot < len(mcol):
                value = mcol[slot]
            kind, multi = field_info(name)
            if value is None:
                if name in ("tags", "groups"):  # CKAN always indexes these lists, maybe empty
                    row[name] = []
                continue
            if kind == "date":
                value = solr_date_output(value)
            if multi:
                row[name] = list(value) if isinstance(value, tuple) else [value]
            else:
                row[name] = value[0] if isinstance(value, tuple) else value
        out.append(row)
    return out


# stored="true" declared fields of CKAN's schema
_STORED = frozenset(
    (
        "index_id",
        "id",
        "site_id",
        "title",
        "title_ngram",
        "entity_type",
        "dataset_type",
        "state",
        "name",
        "name_ngram",
        "revision_id",
        "version",
        "url",
        "ckan_url",
        "download_url",
        "notes",
        "author",
        "author_email",
        "maintainer",
        "maintainer_email",
        "license",
        "license_id",
        "tags",
        "groups",
        "organization",
        "capacity",
        "res_name",
        "res_description",
        "res_format",
        "res_url",
        "res_type",
        "metadata_created",
        "metadata_modified",
        "indexed_ts",
        "data_dict",
        "validated_data_dict",
        "_version_",
    )
)


# ---------------------------------------------------------------------------- package_search


@action("package_search", read=True)
def package_search(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Search datasets (CKAN's ``package_search``)."""
    params = _validate(data)
    extras = dict(params.pop("extras", None) or {}) if isinstance(params.get("extras"), dict) else {}
    params.pop("extras", None)
    for key in [k for k in params if k.startswith("ext_")]:
        extras[key] = params.pop(key)
    params["df"] = "text"
    if params.get("sort") in (None, "rank"):
        params["sort"] = DEFAULT_SORT
    result_fl = params.get("fl")
    params.pop("use_default_schema", None)
    fq = params.get("fq") or ""
    include_private = asbool(params.pop("include_private", False))
    include_drafts = asbool(params.pop("include_drafts", False))
    include_deleted = asbool(params.pop("include_deleted", False))
    if not include_private:
        fq = "+capacity:public " + fq
    if "+state" not in fq:
        states = ["active"] + (["draft"] if include_drafts else []) + (["deleted"] if include_deleted else [])
        fq += " +state:({})".format(" OR ".join(states))
    params["fq"] = fq
    invalid = [k for k in params if k not in VALID_SOLR_PARAMETERS]
    if invalid:
        raise errors.SearchQueryError(f'Search Query is invalid: "Invalid search parameters: {invalid!r}"')
    labels = user_labels(ctx)

    q = params.get("q")
    if not q or q in ('""', "''"):
        q = "*:*"
    fq_list = params.get("fq_list") or []
    if isinstance(fq_list, (str, dict)):
        # CKAN does fq.extend(fq_list): a string adds one filter per character (Solr then
        # rejects the lone ":"), a dict its keys
        fq_list = list(fq_list)
    elif not isinstance(fq_list, list):
        raise errors.InternalError()
    filters = [fq, *[str(f) for f in fq_list]]
    if not any("+state:" in f for f in filters):
        filters.append("+state:active")
    deftype = str(params.get("defType") or "dismax")
    qf_spec = str(params.get("qf") or QUERY_FIELDS)
    opts = QueryOptions(defType="lucene", df=str(params.get("df") or "text"))
    if ":" not in q or deftype == "edismax":
        qf: list[tuple[str, float]] = []
        for part in qf_spec.split():
            name, _, boost = part.partition("^")
            qf.append((name, float(boost) if boost else 1.0))
        try:
            tie = float(params.get("tie") or 0.1)
        except (TypeError, ValueError):
            tie = 0.1
        opts = QueryOptions(defType=deftype, qf=qf, mm=str(params.get("mm") or DEFAULT_MM), tie=tie)
    facet_on = str(params.get("facet", "true")).lower() == "true"
    facet_fields = list(params.get("facet.field") or []) if facet_on else []
    facet_limit = params.get("facet.limit", 50)
    facet_mincount = params.get("facet.mincount", 1)
    rows = params["rows"]
    start = params.get("start", 0)
    sort = params["sort"]
    solr_query = _solr_query_dict(data, params, q, filters, labels, opts)
    for key, value in params.items():
        _check_query_parser(key, value)

    index = get_index(ctx)
    fetch = indexing.fetch_documents(ctx.conn)
    try:
        found = index.search(
            q,
            filters,
            opts=opts,
            sort=sort,
            start=start,
            rows=rows,
            facet_fields=facet_fields,
            facet_limit=facet_limit,
            facet_mincount=facet_mincount,
            filter_bits=labels_filter(index, labels),
            fetch_docs=fetch,
        )
    except SortError as exc:
        if "Sort Order" in str(exc):
            raise errors.SearchQueryError("Search Query is invalid: 'Invalid \"sort\" parameter'") from exc
        raise _solr_error(solr_query, str(exc)) from exc
    except SearchSyntaxError as exc:
        raise _solr_error(solr_query, f"org.apache.solr.search.SyntaxError: {exc}") from exc

    fast = _fl_from_index(index, found.ids, result_fl) if result_fl else None
    if fast is not None:
        results = fast
    else:
        from ..datasets import models

        pkgs = models.package_dicts(ctx.conn, found.ids)
        results = [_render_fl(indexing.document_for(ctx.conn, p), p, result_fl) for p in pkgs] if result_fl else pkgs
    facets = {name: dict(items) for name, items in found.facets.items()}
    names = [n for key in ("groups", "organization") for n in facets.get(key, {})]
    titles = _group_titles(ctx, names)
    licenses = _license_titles() if "license_id" in facets else {}
    search_facets: dict[str, Any] = {}
    for key, counts in facets.items():
        items = []
        for name, count in counts.items():
            if key in ("groups", "organization"):
                title = titles.get(name, name)
                display = title if title and title.strip() else name
            elif key == "license_id":
                display = licenses.get(name, name)
            else:
                display = name
            items.append({"name": name, "display_name": display, "count": count})
        items.sort(key=lambda item: str(item["display_name"]), reverse=True)
        search_facets[key] = {"title": key, "items": items}
    return {
        "count": found.count,
        "facets": facets,
        "results": results,
        "sort": sort,
        "search_facets": search_facets,
    }


def count(server: EmbeddedCKAN, fq: str, *, include_private: bool = True) -> int:
    """How many active datasets match ``fq`` (for ``package_count`` of organizations/groups).

    ``include_private=False`` adds CKAN's ``+capacity:public``.
    """
    index = indexing.get_index(server)
    bits = index.live
    for f in (fq, "+state:active", "" if include_private else "+capacity:public"):
        if f:
            sub = index.evaluate(index.parse(f, True), QueryOptions())
            if sub is not None:
                bits &= sub
    return bits.bit_count()


# ---------------------------------------------------------------------------- resource_search


_RESOURCE_COLUMNS = frozenset(
    (
        "id",
        "package_id",
        "url",
        "format",
        "description",
        "hash",
        "position",
        "name",
        "resource_type",
        "mimetype",
        "mimetype_inner",
        "size",
        "created",
        "last_modified",
        "metadata_modified",
        "cache_url",
        "cache_last_updated",
        "url_type",
        "state",
        "extras",
    )
)
_RESOURCE_TEXT = frozenset(
    (
        "url",
        "format",
        "description",
        "hash",
        "name",
        "resource_type",
        "mimetype",
        "mimetype_inner",
        "cache_url",
        "url_type",
        "state",
        "extras",
    )
)


@action("resource_search", read=True)
def resource_search(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Resources of active public datasets matching ``field:term`` pairs (CKAN's ``resource_search``)."""
    errs: dict[str, list[str]] = {}
    offset = limit = None
    for key in ("offset", "limit"):
        if data.get(key) not in (None, ""):
            n = _as_int(data[key])
            if n is None:
                errs[key] = ["Invalid integer"]
            elif n < 0:
                errs[key] = ["Must be a natural number"]
            elif key == "offset":
                offset = n
            else:
                limit = n
    if errs:
        raise errors.ValidationError(errs)
    query = data.get("query")
    if query is None:
        raise errors.ValidationError({"query": "Missing value"})  # CKAN: a bare string here
    if isinstance(query, str):
        query = [query]
    fields: dict[str, str] = {}
    for pair in query:
        if not isinstance(pair, str) or ":" not in pair:
            raise errors.ValidationError({"query": "Must be <field>:<value> pair(s)"})
        key, term = pair.split(":", 1)
        fields[key] = term
    for key in fields:
        if key not in _RESOURCE_COLUMNS:
            raise errors.ValidationError({"query": f'Field "{key}" not recognised in resource_search.'})
    index = get_index(ctx)
    public = index.live
    for f in ("+state:active", "+capacity:public"):
        public &= index.evaluate(index.parse(f, True), QueryOptions()) or 0
    public &= _resource_prefilter(index, fields)
    ids = [index.ids[s] for s in _slots(index, public)]
    from ..datasets import models

    matches: list[dict[str, Any]] = []
    for start in range(0, len(ids), 500):
        for pkg in models.package_dicts(ctx.conn, [i for i in ids[start : start + 500] if i]):
            for res in pkg.get("resources") or []:
                if res.get("state", "active") == "active" and _resource_matches(res, fields):
                    matches.append(res)
    order_by = data.get("order_by")
    if isinstance(order_by, str) and order_by in _RESOURCE_COLUMNS:
        matches.sort(key=lambda r: (r.get(order_by) is None, str(r.get(order_by) or "")))
    total = len(matches)
    begin = offset or 0
    page = matches[begin : begin + limit] if limit is not None else matches[begin:]
    return {"count": total, "results": page}


# resource fields the index keeps per dataset (as multi-valued columns): used to narrow the
# datasets whose resources must be read
_RESOURCE_INDEX_FIELDS = {"url": "res_url", "format": "res_format", "resource_type": "res_type"}


def _resource_prefilter(index: SearchIndex, fields: dict[str, str]) -> int:
    """Datasets that may hold a matching resource (all of them when no indexed field is asked)."""
    from .engine import bits_from_slots

    bits = index.live
    for key, term in fields.items():
        name = _RESOURCE_INDEX_FIELDS.get(key)
        if name is None:
            continue
        needle = term.lower()
        mcol = index.multi.get(name) or []
        col = index.columns.get(name) or []
        hits = [s for s, vals in enumerate(mcol) if vals and any(needle in v.lower() for v in vals)]
        hits += [s for s, v in enumerate(col) if v is not None and needle in v.lower()]
        bits &= bits_from_slots(hits, index.nbits)
    return bits


def _slots(index: SearchIndex, bits: int) -> list[int]:
    from .engine import bits_to_slots

    return bits_to_slots(bits, index.nbits)


def _resource_matches(res: dict[str, Any], fields: dict[str, str]) -> bool:
    for key, term in fields.items():
        value = res.get(key)
        if key == "hash":
            if not str(value or "").lower().startswith(term.lower()):
                return False
        elif key in _RESOURCE_TEXT:
            if value is None or term.lower() not in str(value).lower():
                return False
        elif str(value) != term:
            return False
    return True


# ---------------------------------------------------------------------------- package_autocomplete


@action("package_autocomplete", read=True)
def package_autocomplete(ctx: Context, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Datasets whose name or title matches ``q`` (CKAN's ``package_autocomplete``).

    CKAN searches ``name_ngram``/``title_ngram`` (substrings) and ``name``/``title`` for the quoted
    ``q`` and reports which of name or title matched.
    """
    if "q" not in data:
        raise errors.ValidationError({"q": ["Missing value"]})
    q = str(data["q"])
    limit = _as_int(data.get("limit", 10))
    if limit is None:
        raise errors.ValidationError({"limit": ["Invalid integer"]})
    literal = '"' + q.replace('"', "") + '"'
    query = " OR ".join(f"{f}:{literal}" for f in ("name_ngram", "title_ngram", "name", "title"))
    index = get_index(ctx)
    try:
        found = index.search(
            query,
            ["+state:active"],
            sort="score desc",
            rows=max(limit, 0),
            filter_bits=labels_filter(index, user_labels(ctx)),
            fetch_docs=indexing.fetch_documents(ctx.conn),
        )
    except SearchSyntaxError as exc:
        raise _solr_error({"q": query}, str(exc)) from exc
    names = index.columns.get("name", [])
    titles = index.columns.get("title", [])
    out: list[dict[str, Any]] = []
    q_lower = q.lower()
    for pkg_id in found.ids:
        slot = index.slot_of[pkg_id]
        name = names[slot] if slot < len(names) else None
        title = titles[slot] if slot < len(titles) else None
        if name is not None and q_lower in name:
            field_name, displayed = "name", name
        else:
            field_name, displayed = "title", f"{title} ({name})"
        out.append({"name": name, "title": title, "match_field": field_name, "match_displayed": displayed})
    return out
