"""Turn a CKAN response into something two different servers can agree on.

Two CKANs given the same requests answer with different ids, tokens, timestamps, site URLs and
(because users cannot be purged) different unique names. :class:`Normaliser` rewrites those into
stable placeholders so transcripts can be compared with ``==``:

- UUIDs -> ``<id1>``, ``<id2>`` ... numbered by first appearance *within one transcript*, so a
  dataset's ``owner_org`` and its ``organization.id`` still have to agree;
- API tokens (JWTs, plus any value registered with :meth:`Normaliser.register`) -> ``<token1>`` ...;
  API token ids (``jti``) -> ``<jti1>`` ... (a JWT's ``jti`` is registered when the JWT is seen);
- ISO timestamps -> ``<ts>``;
- whole strings of 32 or 40 hex digits (MD5/SHA-1 digests: ``email_hash``, DataStore index
  names derived from table names) -> ``<hex>``;
- run ids (``ct`` + 8 hex digits, the unique part of every name a case creates) -> ``<run>``;
- the target's base URL -> ``<site>``;
- keys in :data:`VOLATILE_KEYS` are dropped wherever they appear.

Substitutions also apply inside longer strings (URLs, error messages) and to dict keys (facet
counts are keyed by name).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

# A run id is the unique part of every name a contract case creates: "ct" + 8 lowercase hex
# digits, e.g. ``ct3fa9c01b-ds``. It is never followed by another hex digit.
RUN_ID_RE = re.compile(r"ct[0-9a-f]{8}(?![0-9a-f])")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# Naive (CKAN) or zoned ISO 8601 timestamps, with or without fractional seconds; also the
# date-only form CKAN uses in a few places is left alone on purpose (it is rarely volatile).
HEX_DIGEST_RE = re.compile(r"[0-9a-f]{32}|[0-9a-f]{40}")
TS_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
)

# Keys whose values are volatile on every server and carry no contract: dropped everywhere.
# Keep this list short and justify each entry.
VOLATILE_KEYS: dict[str, str] = {
    # CKAN's activity plugin adds these to some dicts; their presence depends on timing.
}


def run_key(value: str) -> str:
    """``value`` with run ids replaced: a sort key that is stable across runs."""
    return RUN_ID_RE.sub("<run>", value)


def jwt_jti(token: str) -> str | None:
    """The ``jti`` claim of a JWT, or ``None`` when ``token`` is not a decodable JWT."""
    try:
        payload = token.split(".")[1]
        payload += "=" * (-len(payload) % 4)
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (IndexError, ValueError):
        return None
    jti = claims.get("jti") if isinstance(claims, dict) else None
    return jti if isinstance(jti, str) else None


class Normaliser:
    """Stateful rewriter for one transcript (placeholders are numbered by first appearance).

    Args:
        site_url: the target's base URL, replaced by ``<site>``.
        volatile_keys: keys to drop (defaults to :data:`VOLATILE_KEYS`).
    """

    def __init__(self, site_url: str, volatile_keys: set[str] | None = None) -> None:
        self.site_url = site_url.rstrip("/")
        self.volatile_keys = set(VOLATILE_KEYS) if volatile_keys is None else volatile_keys
        # value -> placeholder, per kind; filled as values are seen or registered
        self._known: dict[str, str] = {}
        self._counters: dict[str, int] = {}

    def register(self, value: str, kind: str) -> str:
        """Give ``value`` a placeholder of ``kind`` (``id``, ``token``, ``jti``...) if it has none.

        Values shorter than 8 characters are not secrets worth hiding and would match too much
        (an empty token would turn every empty string into a placeholder): they are ignored.
        """
        if len(value) < 8:
            return value
        if value not in self._known:
            self._counters[kind] = self._counters.get(kind, 0) + 1
            self._known[value] = f"<{kind}{self._counters[kind]}>"
        return self._known[value]

    def _token(self, match: re.Match[str]) -> str:
        token = match.group(0)
        jti = jwt_jti(token)
        placeholder = self.register(token, "token")
        if jti:
            self.register(jti, "jti")
        return placeholder

    def text(self, value: str) -> str:
        """Normalise one string."""
        if value in self._known:
            return self._known[value]
        if HEX_DIGEST_RE.fullmatch(value):
            return "<hex>"
        if self.site_url:
            value = value.replace(self.site_url, "<site>")
        value = JWT_RE.sub(self._token, value)
        for known, placeholder in self._known.items():
            # registered opaque values (non-JWT tokens, jtis) can sit inside longer strings
            if len(known) >= 16 and known in value:
                value = value.replace(known, placeholder)
        value = UUID_RE.sub(lambda m: self.register(m.group(0), "id"), value)
        value = TS_RE.sub("<ts>", value)
        return RUN_ID_RE.sub("<run>", value)

    def __call__(self, value: Any) -> Any:
        """Normalise any JSON value (returns a new value; the input is not modified)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {
                self.text(k): self(v) for k, v in value.items() if k not in self.volatile_keys
            }
        return value


# ---------------------------------------------------------------------------------------------
# Views: functions applied to a response body *before* normalisation, shared by both targets.
# They make results comparable (sets instead of relevance order) and goldens small.


def get_path(body: Any, path: str) -> Any:
    """``body`` at a dotted path (``"result.results"``); ``None`` when absent."""
    cur = body
    for part in path.split(".") if path else []:
        if isinstance(cur, dict):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
    return cur


def sorted_by(path: str, key: str | None = "name") -> Callable[[Any], Any]:
    """View: the list at ``path`` sorted (as a set) by item ``key`` (run ids ignored).

    With ``key=None`` the items themselves (strings) are sorted.
    """

    def view(body: Any) -> Any:
        items = get_path(body, path)
        if isinstance(items, list):
            def sort_key(item: Any) -> str:
                v = item.get(key) if key and isinstance(item, dict) else item
                return run_key(json.dumps(v, sort_keys=True) if not isinstance(v, str) else v)

            items.sort(key=sort_key)
        return body

    return view


def pluck(path: str, *keys: str) -> Callable[[Any], Any]:
    """View: replace each dict in the list at ``path`` by just ``keys`` (keeps goldens small)."""

    def view(body: Any) -> Any:
        items = get_path(body, path)
        if isinstance(items, list):
            items[:] = [
                {k: item.get(k) for k in keys} if isinstance(item, dict) else item for item in items
            ]
        return body

    return view


def only(*paths: str) -> Callable[[Any], Any]:
    """View: keep only the given dotted paths of a successful body (plus ``success``).

    An error body is kept whole: the error is always part of the contract.
    """

    def view(body: Any) -> Any:
        if not isinstance(body, dict) or not body.get("success"):
            return body
        out: dict[str, Any] = {"success": body.get("success")}
        for path in paths:
            out[path] = get_path(body, path)
        return out

    return view


def pick(path: str, *keys: str) -> Callable[[Any], Any]:
    """View: only the list at ``path``, each item reduced to ``keys`` (errors kept whole)."""
    return chain(pluck(path, *keys), only(path))


def keys_of(path: str = "result") -> Callable[[Any], Any]:
    """View: the sorted key set of the dict at ``path`` (the shape, not the values)."""

    def view(body: Any) -> Any:
        value = get_path(body, path)
        return {"success": body.get("success") if isinstance(body, dict) else None,
                f"keys({path})": sorted(value) if isinstance(value, dict) else value}

    return view


def chain(*views: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """View: apply ``views`` left to right."""

    def view(body: Any) -> Any:
        for v in views:
            body = v(body)
        return body

    return view


# ---------------------------------------------------------------------------------------------
# Comparison


def diff(
    expected: Any, actual: Any, path: str = "", *, key_order: bool = False
) -> list[tuple[str, Any, Any]]:
    """All differences as ``(path, expected, actual)``; paths look like ``2.body.result.tags.0``.

    Dicts are compared by keys, lists by position and length. With ``key_order`` a dict whose
    common keys come in another order is reported at ``<path>.<key order>`` (CKAN's JSON key
    order is visible to clients that print or hash responses).
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        out: list[tuple[str, Any, Any]] = []
        if key_order:
            common = expected.keys() & actual.keys()
            exp_order = [k for k in expected if k in common]
            act_order = [k for k in actual if k in common]
            if exp_order != act_order:
                out.append((f"{path}.<key order>" if path else "<key order>",
                            exp_order, act_order))
        for k in expected.keys() | actual.keys():
            sub = f"{path}.{k}" if path else str(k)
            if k not in actual:
                out.append((sub, expected[k], "<missing>"))
            elif k not in expected:
                out.append((sub, "<missing>", actual[k]))
            else:
                out.extend(diff(expected[k], actual[k], sub, key_order=key_order))
        return sorted(out, key=lambda d: d[0])
    if isinstance(expected, list) and isinstance(actual, list):
        out = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            out.extend(diff(e, a, f"{path}.{i}" if path else str(i), key_order=key_order))
        if len(expected) != len(actual):
            out.append((f"{path}.<len>", len(expected), len(actual)))
        return out
    if expected != actual or type(expected) is not type(actual):
        return [(path, expected, actual)]
    return []
