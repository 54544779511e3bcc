"""The I/O-free heart of the client: building requests, reading responses, deciding retries.

:class:`Client` and :class:`AsyncClient` differ only in their send loop; everything they decide is
decided here, by a :class:`CallState` that is fed responses or transport errors and answers with the
next :class:`Step` (return a result, raise, wait and retry, or verify a write before retrying).

Retry rule (documented in ``docs/client.md``):

* "not processed" failures — connection refused, connect timeout, pool timeout, 429, 503 — are
  retried for every action: the server never ran it.
* "outcome unknown" failures — read timeout, connection dropped after sending, 502, 504 — are retried
  only for actions that are safe to repeat: read actions, and idempotent writes (``*_update``,
  ``*_patch``, ``*_delete``, ``*_purge``, member changes, ``datastore_upsert`` with
  ``method`` upsert/update, ...). A create with a ``name`` (``package_create``, ``organization_create``,
  ``group_create``, ``user_create``) is first *verified* with the matching ``*_show``: if the object
  exists, the first attempt landed and its result is returned; otherwise the create is repeated.
  Any other write raises :class:`~ckanx.OutcomeUnknownError` instead of risking a duplicate.
* 400, 403, 404, 409 and CKAN's 500 envelopes are answers, never retried.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import io
import json
import logging
import os
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Union
from urllib.parse import urlencode, urljoin, urlsplit

import httpx

from . import _exceptions as exc
from ._ckan_actions import CKAN_ACTIONS, READ_ACTIONS
from ._version import __version__

log = logging.getLogger("ckanx")

FileSpec = Union[str, os.PathLike[str], bytes, IO[bytes], tuple[Any, ...]]  # noqa: UP007 - runtime alias on 3.10
"""A file to upload: a path, bytes, a binary file object, or ``(filename, file[, content_type])``."""

INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER = 60.0
DEFAULT_RETRIES = 4
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
MAX_REDIRECTS = 5
MAX_GET_URL = 6000  # longer query strings go by POST: proxies reject long URLs
DEFAULT_USER_AGENT = f"ckanx/{__version__} (+https://pypi.org/project/ckanx/)"

_READ_SUFFIXES = (
    "_show",
    "_list",
    "_search",
    "_autocomplete",
    "_info",
    "_count",
    "_search_sql",
    "_list_for_user",
    "_activity_list",
    "_followee_list",
    "_follower_list",
)
# CKAN's own side-effect-free actions (checked on live servers) plus read actions of common plugins
_READ_NAMES = READ_ACTIONS | {"xloader_status", "datapusher_status"}
_KNOWN_ACTIONS = frozenset(name for names in CKAN_ACTIONS.values() for name in names)
_WRITE_EXCEPTIONS = frozenset({"user_invite", "follow_user", "follow_dataset", "follow_group"})

_IDEMPOTENT_SUFFIXES = (
    "_update",
    "_patch",
    "_delete",
    "_purge",
    "_member_create",
    "_member_delete",
    "_reorder",
    "_revoke",
)
_IDEMPOTENT_NAMES = frozenset(
    {
        "member_create",
        "member_delete",
        "bulk_update_private",
        "bulk_update_public",
        "bulk_update_delete",
        "datastore_records_delete",
        "datapusher_submit",
        "xloader_submit",
        "package_owner_org_update",
        "package_collaborator_create",
        "package_collaborator_delete",
    }
)
# create actions whose result can be found by name afterwards: action -> show action
_VERIFIABLE_CREATES = {
    "package_create": "package_show",
    "organization_create": "organization_show",
    "group_create": "group_show",
    "user_create": "user_show",
}


def is_read_action(name: str) -> bool:
    """True for actions that only read (CKAN's ``side_effect_free``): safe to retry, may go by GET."""
    if name in _READ_NAMES:
        return True
    if name in _WRITE_EXCEPTIONS or name in _KNOWN_ACTIONS:
        return False
    # a plugin action CKAN's list does not know: judge by its name
    return name.endswith(_READ_SUFFIXES)


def is_idempotent(name: str, data: Mapping[str, Any] | None) -> bool:
    """True when sending the same write twice leaves the same state as sending it once."""
    if is_read_action(name):
        return True
    if name == "datastore_upsert":
        return (data or {}).get("method", "upsert") in ("upsert", "update")
    return name in _IDEMPOTENT_NAMES or name.endswith(_IDEMPOTENT_SUFFIXES)


def normalize_base_url(url: str) -> str:
    """Validate and normalise a site URL: ``https://host/path`` without a trailing ``/`` or API path.

    Raises ``ValueError`` with a one-line explanation for unusable input.
    """
    raw = url.strip()
    if not raw:
        raise ValueError("the CKAN site URL is empty")
    if "://" not in raw:
        raise ValueError(f"the CKAN site URL needs a scheme, e.g. https://{raw}")
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"unsupported URL scheme {parts.scheme!r} in {raw!r} (use http or https)")
    if not parts.hostname:
        raise ValueError(f"no host name in the CKAN site URL {raw!r}")
    if parts.username or parts.password:
        raise ValueError("put credentials in the token, not in the site URL")
    path = re.sub(r"/api(/\d+)?(/action)?/?(\w+)?/?$", "", parts.path.rstrip("/"))
    return f"{parts.scheme}://{parts.netloc}{path.rstrip('/')}"


def redact(text: str, secret: str | None) -> str:
    """Remove a secret from text that may end up in a message or log."""
    if secret and len(secret) >= 4 and secret in text:
        return text.replace(secret, "***")
    return text


def redact_obj(value: Any, secret: str | None) -> Any:
    """:func:`redact` applied to every string inside lists and dicts."""
    if not secret:
        return value
    if isinstance(value, str):
        return redact(value, secret)
    if isinstance(value, list):
        return [redact_obj(v, secret) for v in value]
    if isinstance(value, dict):
        return {k: redact_obj(v, secret) for k, v in value.items()}
    return value


def encode_query(data: Mapping[str, Any]) -> str:
    """Encode an action's data for a GET query string the way CKAN reads it back.

    Strings and numbers go as they are, booleans as ``true``/``false``, lists and dicts as JSON
    strings (a repeated key would become a list of strings, losing types), ``None`` is left out.
    """
    pairs = []
    for key, value in data.items():
        if value is None:
            continue
        pairs.append((key, form_value(value)))
    return urlencode(pairs)


def form_value(value: Any) -> str:
    """A value as a flat string, for query strings and multipart fields."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return json.dumps(value, default=str)


def _can_go_by_get(data: Mapping[str, Any]) -> bool:
    return len(encode_query(data)) <= MAX_GET_URL


@dataclass
class _OpenedFile:
    name: str
    filename: str
    fileobj: IO[bytes]
    content_type: str | None
    start: int | None
    owned: bool


def _open_file(field_name: str, spec: Any) -> _OpenedFile:
    """Turn a :data:`FileSpec` into a file object positioned at its start, without reading it."""
    filename: str | None = None
    content_type: str | None = None
    if isinstance(spec, tuple):
        if len(spec) < 2:
            raise ValueError(f"file {field_name!r}: a tuple must be (filename, file[, content_type])")
        filename = spec[0]
        content_type = spec[2] if len(spec) > 2 else None
        spec = spec[1]
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        try:
            fileobj: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by CallState.close
        except OSError as err:
            raise ValueError(f"cannot read file for {field_name!r}: {err.strerror}: {path}") from err
        return _OpenedFile(field_name, filename or path.name, fileobj, content_type, 0, True)
    if isinstance(spec, (bytes, bytearray, memoryview)):
        return _OpenedFile(field_name, filename or field_name, io.BytesIO(bytes(spec)), content_type, 0, True)
    if hasattr(spec, "read"):
        name = filename or os.path.basename(str(getattr(spec, "name", "") or field_name))
        start = spec.tell() if hasattr(spec, "seekable") and spec.seekable() else None
        return _OpenedFile(field_name, name, spec, content_type, start, False)
    raise TypeError(f"file {field_name!r}: expected a path, bytes or a binary file object, got {type(spec).__name__}")


# ---------------------------------------------------------------- steps


@dataclass
class Return:
    result: Any


@dataclass
class Raise:
    error: Exception


@dataclass
class Retry:
    delay: float


@dataclass
class Verify:
    """Call ``action`` with ``data`` (a read) and feed the outcome to :meth:`CallState.on_verify`."""

    action: str
    data: dict[str, Any]


Step = Union[Return, Raise, Retry, Verify]  # noqa: UP007 - runtime alias on 3.10


# ---------------------------------------------------------------- response -> result or error

_ERROR_TYPES: dict[str, type[exc.ActionError]] = {
    "Not Found Error": exc.NotFound,
    "Authorization Error": exc.NotAuthorized,
    "Validation Error": exc.ValidationError,
    "Search Query Error": exc.SearchQueryError,
    "Search Error": exc.SearchError,
    "Search Index Error": exc.SearchIndexError,
}
_STATUS_TYPES: dict[int, type[exc.ActionError]] = {
    404: exc.NotFound,
    403: exc.NotAuthorized,
    409: exc.ValidationError,
}


def _validation_summary(error: Mapping[str, Any]) -> str:
    parts = []
    for key, value in error.items():
        if key in ("__type", "message"):
            continue
        if isinstance(value, list):
            texts = [v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in value]
            parts.append(f"{key}: {' '.join(texts)}")
        else:
            parts.append(f"{key}: {value}")
    return "; ".join(parts) or str(error.get("message") or "Validation Error")


def _html_title(text: str) -> str | None:
    match = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    return " ".join(match.group(1).split())[:120] if match else None


def read_response(
    action: str, url: str, status: int, content_type: str, body: bytes, token: str | None = None
) -> tuple[Any, exc.CKANAPIError | None]:
    """Read an action's response: ``(result, None)`` for a successful envelope, else ``(None, error)``.

    This is the one place where HTTP answers become ckanx errors. The body is parsed once.
    """
    try:
        parsed = json.loads(body) if body.strip() else None
    except ValueError:
        parsed = None
    if status < 300 and isinstance(parsed, dict) and parsed.get("success") is True and "result" in parsed:
        return parsed["result"], None
    return None, _error_from(action, url, status, content_type, body, parsed, token)


def error_from_response(
    action: str, url: str, status: int, content_type: str, body: bytes, token: str | None = None
) -> exc.CKANAPIError | None:
    """The exception a response means, or ``None`` for a successful envelope."""
    return read_response(action, url, status, content_type, body, token)[1]


def _error_from(
    action: str, url: str, status: int, content_type: str, body: bytes, parsed: Any, token: str | None
) -> exc.CKANAPIError:
    info: dict[str, Any] = {"action": action, "status_code": status, "url": url}
    text = body.decode("utf-8", errors="replace")
    excerpt = redact(exc.excerpt(text), token)
    is_json = parsed is not None

    if not is_json:
        looks_html = "html" in content_type or text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))
        if 500 <= status < 600:
            return exc.HTTPStatusError(
                f"{action}: HTTP {status} from {url}, not a CKAN answer: {excerpt or '(empty body)'}",
                body=excerpt,
                **info,
            )
        what = "an HTML page" if looks_html else f"a {content_type or 'non-JSON'} body"
        title = _html_title(text) if looks_html else None
        hint = (
            "check that the URL is the CKAN site root (e.g. https://demo.ckan.org, without /api/3/action) "
            "and that no firewall, proxy or login page is answering instead"
        )
        return exc.ServerIncompatibleError(
            f"{action}: expected CKAN's JSON but got {what} (HTTP {status}"
            + (f", title {title!r}" if title else "")
            + f") from {url}: {hint}",
            body=excerpt,
            **info,
        )

    if isinstance(parsed, str):
        message = redact(parsed, token)
        if status == 400:
            if "Action name not known" in parsed:
                return exc.UnknownAction(
                    f"{action}: this server has no action {action!r} (is the plugin that provides it "
                    f"installed?): {message}",
                    body=excerpt,
                    **info,
                )
            return exc.BadRequest(f"{action}: {message}", body=excerpt, **info)
        return exc.HTTPStatusError(f"{action}: HTTP {status}: {message}", body=excerpt, **info)

    if not isinstance(parsed, dict) or "success" not in parsed:
        if 500 <= status < 600 or status == 429:
            return exc.HTTPStatusError(f"{action}: HTTP {status} from {url}: {excerpt}", body=excerpt, **info)
        return exc.ServerIncompatibleError(
            f"{action}: the JSON from {url} is not CKAN's action envelope (HTTP {status}): {excerpt}",
            body=excerpt,
            **info,
        )

    error = parsed.get("error")
    if not isinstance(error, dict):
        error = {"message": str(error)}
    error = redact_obj(error, token)
    etype = str(error.get("__type", ""))
    cls = (
        _ERROR_TYPES.get(etype) or _STATUS_TYPES.get(status) or (exc.ServerError if status >= 500 else exc.ActionError)
    )
    if cls is exc.ValidationError:
        detail = _validation_summary(error)
    else:
        detail = str(error.get("message") or etype or f"HTTP {status}")
    return cls(f"{action}: {redact(detail, token)}", error=error, body=excerpt, **info)


# ---------------------------------------------------------------- retry policy


def retry_after_seconds(headers: httpx.Headers, now: dt.datetime | None = None) -> float | None:
    """Parse ``Retry-After`` (seconds or an HTTP date), capped at :data:`MAX_RETRY_AFTER`."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        seconds = (when - (now or dt.datetime.now(dt.timezone.utc))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: attempt 1 waits up to 0.5 s, then 1, 2, 4, 8 (cap)."""
    ceiling = min(MAX_RETRY_DELAY, INITIAL_RETRY_DELAY * (2 ** (attempt - 1)))
    return (rng or random).uniform(ceiling / 2, ceiling)


# transport errors that prove the request never reached the server
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


# ---------------------------------------------------------------- one call


@dataclass
class CallOptions:
    """What a client passes to each :class:`CallState` (shared, read-only)."""

    base_url: str
    token: str | None
    token_header: str
    headers: dict[str, str]
    retries: int
    prefer_get: bool
    timeout: httpx.Timeout | None = None
    rng: random.Random = field(default_factory=random.Random)


class CallState:
    """The decisions for one action call, from the first request to the result or error."""

    def __init__(
        self,
        opts: CallOptions,
        action: str,
        data: Mapping[str, Any] | None,
        files: Mapping[str, FileSpec] | None,
        *,
        method: str | None = None,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", action or ""):
            raise ValueError(f"invalid action name {action!r}")
        if data is not None and not isinstance(data, Mapping):
            raise TypeError(f"{action}: data must be a dict, got {type(data).__name__}")
        self.opts = opts
        self.action = action
        self.data: dict[str, Any] = dict(data or {})
        self.read = is_read_action(action)
        self.idempotent = is_idempotent(action, self.data)
        self.files = [_open_file(k, v) for k, v in (files or {}).items()]
        if self.files:
            self.method = "POST"
        elif method:
            self.method = method.upper()
        else:
            use_get = opts.prefer_get and self.read and _can_go_by_get(self.data)
            self.method = "GET" if use_get else "POST"
        self.base_url = opts.base_url
        self.url = f"{opts.base_url}/api/3/action/{action}"
        self.attempt = 0  # failures so far that led to a retry
        self.redirects = 0
        self.switched_method = False
        self.sent_ambiguous = False  # an earlier attempt may have been applied
        self.moved_to_https: str | None = None  # new base URL after a safe http->https upgrade
        self.method_switched_to: str | None = None

    # -- request building

    def build_request(self, http: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        headers = dict(self.opts.headers)
        if self.opts.token and self._same_host(self.url):
            headers[self.opts.token_header] = self.opts.token
        extensions = {"timeout": self.opts.timeout.as_dict()} if self.opts.timeout else None
        if self.method == "GET":
            query = encode_query(self.data)
            url = self.url + ("?" + query if query else "")
            return http.build_request("GET", url, headers=headers, extensions=extensions)
        if self.files:
            fields = {k: form_value(v) for k, v in self.data.items() if v is not None}
            files = []
            for f in self.files:
                if f.start is not None:
                    f.fileobj.seek(f.start)
                item: tuple[Any, ...] = (f.filename, f.fileobj)
                if f.content_type:
                    item = (*item, f.content_type)
                files.append((f.name, item))
            return http.build_request(
                "POST", self.url, data=fields, files=files, headers=headers, extensions=extensions
            )
        body = json.dumps(self.data, default=_json_default, allow_nan=False).encode()
        headers["Content-Type"] = "application/json"
        return http.build_request("POST", self.url, content=body, headers=headers, extensions=extensions)

    def _same_host(self, url: str) -> bool:
        """The token goes only to the configured site (scheme, host and port), never elsewhere."""
        return same_site(url, self.base_url)

    # -- outcomes

    def on_response(self, response: httpx.Response) -> Step:
        status = response.status_code
        if status in (301, 302, 303, 307, 308):
            return self._on_redirect(response)
        if status in (429, 503):
            return self._retry(response, processed=False)
        if status in (502, 504):
            return self._retry(response, processed=None)
        result, error = read_response(
            self.action,
            self.url,
            status,
            response.headers.get("content-type", ""),
            response.content,
            self.opts.token,
        )
        if error is None:
            return Return(result)
        if self._refused_method(status, error):
            return self._switch_method()
        if (
            self.sent_ambiguous
            and isinstance(error, exc.NotFound)
            and self.action.endswith(("_delete", "_purge", "_revoke"))
        ):
            # an earlier attempt whose answer was lost already removed it
            log.debug("%s: not found on retry after an unknown outcome: treating as done", self.action)
            return Return(None)
        return Raise(error)

    def on_error(self, error: httpx.HTTPError) -> Step:
        if isinstance(error, httpx.TransportError):
            processed = False if isinstance(error, _NOT_SENT) else None
            return self._retry(error, processed=processed)
        return Raise(self._wrap(error))

    def on_verify(self, outcome: Any) -> Step:
        """Feed the result (or the exception) of the :class:`Verify` read."""
        if isinstance(outcome, exc.NotFound):
            log.debug("%s: verified that the earlier attempt did not land; repeating", self.action)
            return Retry(0.0)
        if isinstance(outcome, Exception):
            return Raise(self._unknown(outcome))
        if isinstance(outcome, dict) and outcome.get("state") == "deleted":
            return Retry(0.0)
        log.debug("%s: the earlier attempt landed; returning the stored object", self.action)
        return Return(outcome)

    # -- helpers

    def _retry(self, cause: httpx.Response | httpx.HTTPError, *, processed: bool | None) -> Step:
        """``processed``: False = the server did not run the action; None = unknown."""
        final = self.attempt >= self.opts.retries
        if final:
            return Raise(self._final_error(cause))
        if processed is None and not self.idempotent:
            show = _VERIFIABLE_CREATES.get(self.action)
            name = self.data.get("name")
            if show and isinstance(name, str) and name:
                self.attempt += 1
                self.sent_ambiguous = True
                return Verify(show, {"id": name})
            return Raise(self._unknown(cause))
        self.attempt += 1
        if processed is None:
            self.sent_ambiguous = True
        delay = backoff_delay(self.attempt, self.opts.rng)
        if isinstance(cause, httpx.Response):
            after = retry_after_seconds(cause.headers)
            if after is not None:
                delay = after
            reason = f"HTTP {cause.status_code}"
        else:
            reason = type(cause).__name__
        log.debug("%s: %s; retry %d/%d in %.2fs", self.action, reason, self.attempt, self.opts.retries, delay)
        return Retry(delay)

    def _final_error(self, cause: httpx.Response | httpx.HTTPError) -> exc.CKANAPIError:
        tries = self.attempt + 1
        if isinstance(cause, httpx.Response):
            err = error_from_response(
                self.action,
                self.url,
                cause.status_code,
                cause.headers.get("content-type", ""),
                cause.content,
                self.opts.token,
            ) or exc.HTTPStatusError(
                f"{self.action}: HTTP {cause.status_code}",
                action=self.action,
                status_code=cause.status_code,
                url=self.url,
            )
            err.message = f"{err.message} (after {tries} attempts)"
            return err
        return self._wrap(cause, suffix=f" (after {tries} attempts)")

    def _wrap(self, error: httpx.HTTPError, suffix: str = "") -> exc.CKANAPIError:
        detail = redact(str(error) or type(error).__name__, self.opts.token)
        timed_out = isinstance(error, httpx.TimeoutException)
        cls: type[exc.CKANAPIError] = exc.RequestTimeout if timed_out else exc.NetworkError
        what = "timed out" if timed_out else "failed"
        wrapped = cls(
            f"{self.action}: request to {self.url} {what}: {detail}{suffix}", action=self.action, url=self.url
        )
        wrapped.__cause__ = error
        return wrapped

    def _unknown(self, cause: Any) -> exc.OutcomeUnknownError:
        reason = (
            f"HTTP {cause.status_code}"
            if isinstance(cause, httpx.Response)
            else (redact(str(cause), self.opts.token) or type(cause).__name__)
        )
        err = exc.OutcomeUnknownError(
            f"{self.action}: the request may or may not have been applied ({reason}); it is not "
            "safe to repeat automatically: check the server before retrying",
            action=self.action,
            url=self.url,
            status_code=cause.status_code if isinstance(cause, httpx.Response) else None,
        )
        if isinstance(cause, BaseException):
            err.__cause__ = cause
        return err

    def _refused_method(self, status: int, error: exc.CKANAPIError) -> bool:
        """A firewall or server refused this method for a read action (not a CKAN answer)."""
        if not self.read or self.switched_method or self.files:
            return False
        if status in (405, 414):
            return True
        if self.method == "GET" and isinstance(error, exc.BadRequest) and "POST" in error.message:
            return True
        return status in (400, 403) and isinstance(error, (exc.ServerIncompatibleError, exc.HTTPStatusError))

    def _switch_method(self) -> Step:
        new = "POST" if self.method == "GET" else "GET"
        if new == "GET" and not _can_go_by_get(self.data):
            return Raise(exc.HTTPStatusError(f"{self.action}: POST refused and the data is too long for GET"))
        log.debug("%s: %s refused; switching to %s", self.action, self.method, new)
        self.method = new
        self.switched_method = True
        self.method_switched_to = new
        return Retry(0.0)

    def _on_redirect(self, response: httpx.Response) -> Step:
        location = response.headers.get("location")
        status = response.status_code
        if not location:
            return Raise(
                exc.HTTPStatusError(
                    f"{self.action}: HTTP {status} without a Location",
                    action=self.action,
                    status_code=status,
                    url=self.url,
                )
            )
        target = urljoin(self.url, location)
        self.redirects += 1
        if self.redirects > MAX_REDIRECTS:
            return Raise(
                exc.RedirectError(
                    f"{self.action}: too many redirects (last to {target})",
                    location=target,
                    action=self.action,
                    status_code=status,
                    url=self.url,
                )
            )
        keeps_body = status in (307, 308) or self.method == "GET"
        if not keeps_body:
            old, new = urlsplit(self.url), urlsplit(target)
            if (
                (old.scheme, new.scheme) == ("http", "https")
                and old.hostname == new.hostname
                and (new.path.rstrip("/") == old.path.rstrip("/"))
            ):
                keeps_body = True
                self.moved_to_https = self.base_url.replace("http://", "https://", 1)
                self.base_url = self.moved_to_https
                log.warning("%s moved to https; use %s to avoid the redirect", self.opts.base_url, self.moved_to_https)
            else:
                return Raise(
                    exc.RedirectError(
                        f"{self.action}: HTTP {status} redirects this POST to {target}, which would drop its "
                        "body; use that site URL instead",
                        location=target,
                        action=self.action,
                        status_code=status,
                        url=self.url,
                    )
                )
        self.url = target.split("?")[0]
        if not self._same_host(self.url):
            log.debug("%s: redirected to another host; the token is not sent there", self.action)
        return Retry(0.0)

    def close(self) -> None:
        for f in self.files:
            if f.owned:
                f.fileobj.close()


def same_site(url: str, base_url: str) -> bool:
    """True when ``url`` has the scheme, host and port of ``base_url``: the one rule for sending the token.

    Used for action calls (also after redirects) and for raw streamed GETs (:meth:`Client.stream`).
    """
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.hostname, a.port or _default_port(a.scheme)) == (
        b.scheme,
        b.hostname,
        b.port or _default_port(b.scheme),
    )


def resolve_url(base_url: str, url_or_path: str) -> str:
    """An absolute ``http(s)`` URL as it is; anything else is a path on the site (``/datastore/dump/x``
    and ``datastore/dump/x`` both become ``<site>/datastore/dump/x``, keeping a site path prefix).

    Raises ``ValueError`` for another scheme (``file:``, ``ftp:``): the client only speaks HTTP.
    """
    text = url_or_path.strip()
    scheme = urlsplit(text).scheme.lower()
    if scheme in ("http", "https") and "://" in text:
        return text
    if scheme and "://" in text:
        raise ValueError(f"unsupported URL scheme {scheme!r} in {text!r} (use http or https, or a path on the site)")
    return f"{base_url}/{text.lstrip('/')}"


def stream_headers(opts: CallOptions, url: str, extra: Mapping[str, str] | None) -> dict[str, str]:
    """Headers for a raw GET to ``url``: the client's own, the caller's, and the token only on the site."""
    headers = dict(opts.headers)
    if not same_site(url, opts.base_url):
        # a credential set in the client-wide headers must not travel to another host either
        headers = {k: v for k, v in headers.items() if k.lower() != opts.token_header.lower()}
    elif opts.token:
        headers[opts.token_header] = opts.token
    headers.update(extra or {})  # what the caller passes for this request is sent as given
    return headers


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _json_default(value: Any) -> Any:
    """JSON for values the stdlib cannot encode: dates and times as ISO 8601, Decimal as a number
    string, sets as lists. NaN and infinity are refused (``allow_nan=False``): CKAN cannot store them."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    import decimal

    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot send {value} to CKAN: JSON has no NaN or infinity")
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
