"""``LocalCKAN`` and ``TestAppCKAN``: ckanapi's in-process classes, for code running inside CKAN.

Switch by changing one import line::

    from ckanx import LocalCKAN, TestAppCKAN   # was: from ckanapi import ...

* :class:`LocalCKAN` calls actions through CKAN's own ``get_action(name)(context, data_dict)``, as a
  given user or CKAN's site user. It works inside a request (plugin code), inside a ``ckan`` CLI
  command, and in a plain script: when no Flask request is active it pushes a test request context
  of the running CKAN app, creating that app once from ``$CKAN_INI`` if none exists yet.
* :class:`TestAppCKAN` posts to ``/api/action/<name>`` of a CKAN test app (``CKANTestApp``,
  ``flask_app.test_client()`` or a legacy ``webtest.TestApp``) and reads CKAN's answer the way
  :class:`~ckanx.RemoteCKAN` reads a remote one.

Both raise ckanx's exceptions (:class:`~ckanx.NotFound`, :class:`~ckanx.ValidationError` with
``error_dict``, ...). For LocalCKAN the raised object is *also* an instance of the CKAN exception it
replaces (``ckan.logic.NotFound``, ``toolkit.ValidationError``, ``ckan.lib.search.SearchError``, ...),
because ckanapi's LocalCKAN let CKAN's exceptions through and extension code catches those; the
original CKAN exception is kept as ``__cause__``. Exceptions that are not API answers (a bug in an
action, a database error) propagate unchanged, as with ckanapi.

Neither class works without CKAN: constructing one where ``ckan`` is not importable raises
:class:`CKANNotInstalledError`, which is both a :class:`~ckanx.CKANAPIError` and an ``ImportError``
(what ckanapi raised there).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import tempfile
import threading
from collections.abc import Iterator, Mapping
from typing import IO, Any

from . import _core
from ._client import split_files
from ._core import FileSpec
from ._exceptions import ActionError, CKANAPIError, ServerError, UnknownAction

__all__ = ["CKANNotInstalledError", "LocalCKAN", "TestAppCKAN"]

_COPY_CHUNK = 1024 * 1024


class CKANNotInstalledError(CKANAPIError, ImportError):
    """``ckan`` cannot be imported: LocalCKAN and TestAppCKAN only work inside CKAN's virtualenv.

    An ``ImportError`` too, so code written for ckanapi (whose import of ``ckan`` failed there) keeps
    catching it.
    """


def _import_ckan(who: str, module: str = "ckan") -> Any:
    """Import ``module`` from CKAN, or raise one clear :class:`CKANNotInstalledError`."""
    try:
        # the package itself first: a hidden or missing ``ckan`` must not be masked by an already
        # imported submodule
        importlib.import_module("ckan")
        return importlib.import_module(module)
    except ImportError as err:
        if err.name == "ckan" or (err.name or "").startswith("ckan."):
            message = (
                f"{who} needs the ckan package: run this inside the CKAN virtualenv "
                "(pip install ckanx there)"
            )
        else:
            # ckan is there but one of its own dependencies is broken: say which, it is not
            # fixed by installing ckanx anywhere
            message = f"{who} could not import {module}: {err}"
        raise CKANNotInstalledError(message) from err


# ---------------------------------------------------------------- CKAN's app and request context

_app_lock = threading.Lock()
_own_app: Any = None  # the Flask app LocalCKAN created itself (once per process), if any


def _flask_app() -> Any:
    """The running CKAN Flask app, or one made from ``$CKAN_INI`` the first time it is needed."""
    global _own_app
    flask = importlib.import_module("flask")
    if flask.has_app_context():
        return flask.current_app._get_current_object()
    # make_app() leaves a request context of the app it built here (CKAN's CLI and tests use it)
    middleware = importlib.import_module("ckan.config.middleware")
    made = getattr(middleware, "_internal_test_request_context", None)
    if made is not None:
        return made.app
    with _app_lock:
        if _own_app is None:
            cli = importlib.import_module("ckan.cli")
            try:
                # with no argument CKAN reads $CKAN_INI, then ./ckan.ini, as its CLI does
                conf = cli.load_config(None)
            except Exception as err:  # CkanConfigurationException, missing file, ...
                raise CKANAPIError(
                    "LocalCKAN: no CKAN app is running in this process and the CKAN config could "
                    f"not be loaded (set CKAN_INI to your ckan.ini): {err}"
                ) from err
            app = middleware.make_app(conf)
            # make_app returns CKAN's middleware stack; the Flask app sits inside it
            _own_app = getattr(app, "_wsgi_app", app)
        return _own_app


@contextlib.contextmanager
def _ckan_request_context() -> Iterator[None]:
    """Run the body inside a Flask request context of CKAN's app (reusing an active one).

    CKAN 2.10+ reads ``request``/``current_user``/``url_for`` in places (DataStore links, upload
    URLs, flash messages) that fail outside a request; a web request or CLI command already has
    one, a script does not.
    """
    flask = importlib.import_module("flask")
    if flask.has_request_context():
        yield
        return
    with _flask_app().test_request_context():
        yield


# ---------------------------------------------------------------- CKAN exceptions -> ckanx


def _ckan_error_types() -> list[tuple[type[BaseException], str]]:
    """(CKAN exception class, the ``__type`` CKAN's API answers it with), most specific first."""
    logic = importlib.import_module("ckan.logic")
    search = importlib.import_module("ckan.lib.search")
    navl = importlib.import_module("ckan.lib.navl.dictization_functions")
    return [
        (logic.ValidationError, "Validation Error"),
        (logic.NotFound, "Not Found Error"),
        (logic.NotAuthorized, "Authorization Error"),
        (search.SearchQueryError, "Search Query Error"),  # a subclass of SearchError: first
        (search.SearchError, "Search Error"),
        (search.SearchIndexError, "Search Index Error"),
        (getattr(search, "SolrConnectionError", ()), "Search Connection Error"),
        (navl.DataError, "Integrity Error"),
    ]


def _error_envelope(etype: str, err: BaseException) -> dict[str, Any]:
    """The ``error`` object CKAN's Action API would send for ``err`` (same keys and messages)."""
    text = str(err)
    if etype == "Validation Error":
        error_dict = getattr(err, "error_dict", None)
        error = dict(error_dict) if isinstance(error_dict, dict) else {"message": text}
    elif etype == "Not Found Error":
        error = {"message": "Not found" + (f": {text}" if text else "")}
    elif etype == "Authorization Error":
        error = {"message": "Access denied" + (f": {text}" if text else "")}
    elif etype == "Search Query Error":
        error = {"message": f"Search Query is invalid: {_args_repr(err)}"}
    elif etype == "Search Error":
        error = {"message": f"Search error: {_args_repr(err)}"}
    elif etype == "Search Index Error":
        error = {"message": f"Unable to add package to search index: {text}"}
    elif etype == "Search Connection Error":
        error = {"message": "Unable to connect to the search server"}
    else:  # Integrity Error: DataError.error holds the message
        error = {"message": str(getattr(err, "error", text))}
    error["__type"] = etype
    return error


def _args_repr(err: BaseException) -> str:
    """``"%r" % err.args`` as CKAN writes it: the repr of a single argument, else of the tuple."""
    return repr(err.args[0]) if len(err.args) == 1 else repr(err.args)


_dual_classes: dict[tuple[type[ActionError], type[BaseException]], type[ActionError]] = {}


def _dual_class(ours: type[ActionError], theirs: type[BaseException]) -> type[ActionError]:
    """A class that is both ckanx's ``ours`` and CKAN's ``theirs`` (``except`` either catches it)."""
    key = (ours, theirs)
    cls = _dual_classes.get(key)
    if cls is None:
        try:
            cls = type(ours.__name__, (ours, theirs), {"__module__": ours.__module__})
        except TypeError:  # an incompatible layout (not the case for CKAN's plain exceptions)
            cls = ours
        _dual_classes[key] = cls
    return cls


def _match(err: BaseException) -> tuple[type[BaseException], str] | None:
    """The CKAN class ``err`` is an instance of and its API ``__type``, if it is an API error."""
    for ckan_cls, etype in _ckan_error_types():
        if isinstance(ckan_cls, type) and isinstance(err, ckan_cls):
            return ckan_cls, etype
    return None


def _translate(action: str, err: BaseException) -> ActionError | None:
    """The ckanx exception for a CKAN API exception, or ``None`` for anything else."""
    matched = _match(err)
    if matched is None:
        return None
    ckan_cls, etype = matched
    error = _error_envelope(etype, err)
    # the same class and message RemoteCKAN gives for the same answer over HTTP
    ours = _core._ERROR_TYPES.get(etype) or (
        ServerError if etype == "Search Connection Error" else ActionError
    )
    validation = etype == "Validation Error"
    detail = _core._validation_summary(error) if validation else str(error.get("message") or etype)
    # the matched CKAN class, not type(err): a plugin's subclass may take other __init__ arguments
    return _dual_class(ours, ckan_cls)(f"{action}: {detail}", error=error, action=action)


# ---------------------------------------------------------------- data and files


def _fresh(value: Any) -> Any:
    """A copy of the dicts and lists in ``value`` (CKAN actions mutate what they are given);
    other objects are shared, so file objects and model instances pass through."""
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    return value


def _spool(stream: IO[bytes]) -> IO[bytes]:
    """Copy the rest of a stream into a seekable temporary file (CKAN seeks uploads to 0)."""
    out = tempfile.SpooledTemporaryFile(max_size=_COPY_CHUNK)  # noqa: SIM115 - closed by caller
    while chunk := stream.read(_COPY_CHUNK):
        out.write(chunk)
    out.seek(0)
    return out


def _at_start(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable()) and stream.tell() == 0
    except (AttributeError, OSError, ValueError):
        return False


class _ActionShortcut:
    """ckanapi's ``.action``: ``ck.action.package_show(id="x")`` is
    ``ck.call_action("package_show", {"id": "x"})``; file-like values become uploads and a
    ``requests_kwargs=`` keyword is taken out of the data (ckanapi sent it as a field)."""

    def __init__(self, ckan: LocalCKAN | TestAppCKAN) -> None:
        self._ckan = ckan

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def action(**kwargs: Any) -> Any:
            requests_kwargs = kwargs.pop("requests_kwargs", None)
            data, files = split_files(kwargs)
            return self._ckan.call_action(
                name, data_dict=data, files=files or None, requests_kwargs=requests_kwargs
            )

        action.__name__ = name
        return action

    def __dir__(self) -> list[str]:
        try:
            # CKAN's registry of actions (core and plugins), filled by the first get_action()
            actions = importlib.import_module("ckan.logic")._actions
        except (ImportError, AttributeError):
            return []
        return sorted(actions)


# ---------------------------------------------------------------- LocalCKAN


class LocalCKAN:
    """Call CKAN actions in-process, as ckanapi's ``LocalCKAN`` does.

    Args:
        username: act as this user; by default CKAN's site user (a sysadmin), looked up once.
            Stored as ``self.username``.
        context: the default context for every call, stored as ``self.context`` with
            ``"user": username`` added. Each call gets a fresh copy of it.

    ``ck.action.<name>(**data)`` and :meth:`call_action` call the action; CKAN's ``NotFound``,
    ``NotAuthorized``, ``ValidationError`` and search errors come out as ckanx's (see the module
    docstring).

    Outside a request (a script, a job) CKAN needs its app: the one already running in the
    process is used, else one is created once from ``$CKAN_INI``.
    """

    def __init__(self, username: str | None = None, context: Mapping[str, Any] | None = None) -> None:
        logic = _import_ckan("LocalCKAN", "ckan.logic")
        self._get_action = logic.get_action
        if username is None:
            username = self.get_site_username()
        self.username: str = username
        self.context: dict[str, Any] = dict(context or {}, user=self.username)
        self.action: Any = _ActionShortcut(self)

    def __repr__(self) -> str:
        return f"LocalCKAN(username={self.username!r})"

    def get_site_username(self) -> str:
        """The name of CKAN's site user (created by CKAN on first use)."""
        with _ckan_request_context():
            user = self._get_action("get_site_user")({"ignore_auth": True}, {})
        return str(user["name"])

    def call_action(
        self,
        action: str,
        data_dict: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        apikey: str | None = None,
        files: Mapping[str, FileSpec] | None = None,
        requests_kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        """Call ``action`` with ``data_dict`` and return its result.

        Args:
            action: the action name, e.g. ``"package_create"``.
            data_dict: the action's parameters; copied, so the action cannot change yours.
            context: replaces ``self.context`` for this call (as in ckanapi: include ``"user"``);
                copied too.
            apikey: not supported (as in ckanapi): pass ``context={"user": ...}`` instead.
            files: uploads, ``{field: file}``; a file is a binary file object, ``(filename, file)``
                or ``(filename, file, content_type)``, bytes or a path. They reach the action as
                the ``werkzeug.datastructures.FileStorage`` objects CKAN gets from a web upload.
            requests_kwargs: ignored (no HTTP request is made).

        Raises:
            NotFound, NotAuthorized, ValidationError, SearchQueryError, SearchError,
            SearchIndexError: what CKAN's API would answer, also instances of CKAN's own classes.
            UnknownAction: no action of that name is registered.
        """
        if apikey:
            raise CKANAPIError(
                "LocalCKAN.call_action does not support the apikey parameter; "
                "use context={'user': <name>} instead",
                action=action,
            )
        if data_dict is not None and not isinstance(data_dict, Mapping):
            raise TypeError(f"{action}: data_dict must be a dict, got {type(data_dict).__name__}")
        del requests_kwargs  # accepted for ckanapi's signature; there is no request to apply it to
        data: dict[str, Any] = _fresh(dict(data_dict or {}))
        call_context: dict[str, Any] = dict(self.context if context is None else context)
        with contextlib.ExitStack() as cleanup:
            if files:
                data.update(self._file_storages(files, cleanup))
            with _ckan_request_context():
                try:
                    function = self._get_action(action)
                except KeyError as err:  # only the lookup: a KeyError from the action is a bug
                    raise UnknownAction(
                        f"{action}: this CKAN has no action {action!r} (is the plugin that "
                        "provides it enabled?)",
                        action=action,
                    ) from err
                try:
                    return function(call_context, data)
                except Exception as err:
                    translated = _translate(action, err)
                    if translated is None:
                        raise
                    raise translated from err

    @staticmethod
    def _file_storages(files: Mapping[str, FileSpec], cleanup: contextlib.ExitStack) -> dict[str, Any]:
        """Uploads as werkzeug ``FileStorage`` objects, positioned where CKAN expects them."""
        storage_cls = importlib.import_module("werkzeug.datastructures").FileStorage
        out: dict[str, Any] = {}
        for field_name, spec in files.items():
            opened = _core._open_file(field_name, spec)
            if opened.owned:  # opened here (a path, bytes): ours to close
                cleanup.callback(opened.fileobj.close)
            stream = opened.fileobj
            # CKAN rewinds the stream to 0 and seeks to its end to measure it: give it a seekable
            # stream holding exactly the bytes from the caller's position on
            if not _at_start(stream):
                stream = _spool(stream)
                cleanup.callback(stream.close)
            out[field_name] = storage_cls(
                stream=stream, filename=opened.filename, name=field_name,
                content_type=opened.content_type,
            )
        return out


# ---------------------------------------------------------------- TestAppCKAN


class TestAppCKAN:
    """Call actions through a CKAN test app's Action API, as ckanapi's ``TestAppCKAN`` does.

    Args:
        test_app: CKAN's ``app`` fixture (``ckan.tests.helpers.CKANTestApp``), a Flask test client
            (``make_app(config)._wsgi_app.test_client()``), or a ``webtest.TestApp`` (CKAN < 2.9).
            Stored as ``self.test_app``.
        apikey: the API token sent with every call (in the header named by CKAN's
            ``apitoken_header_name``, ``Authorization`` by default). Stored as ``self.apikey``.

    Answers are read like :class:`~ckanx.RemoteCKAN`'s: the result is returned, CKAN's errors are
    raised as ckanx's exceptions (with ``status_code`` and ``url`` set).
    """

    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(self, test_app: Any, apikey: str | None = None) -> None:
        _import_ckan("TestAppCKAN")
        self.test_app = test_app
        self.apikey = apikey
        self.action: Any = _ActionShortcut(self)

    def __repr__(self) -> str:
        return f"TestAppCKAN({self.test_app!r}, apikey={'***' if self.apikey else None})"

    def call_action(
        self,
        action: str,
        data_dict: Mapping[str, Any] | None = None,
        context: Mapping[str, Any] | None = None,
        apikey: str | None = None,
        files: Mapping[str, FileSpec] | None = None,
        requests_kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        """POST ``data_dict`` to ``/api/action/<action>`` of the test app and return the result.

        Args:
            action: the action name.
            data_dict: sent as JSON, or as multipart form fields when there are ``files``
                (lists and dicts then go as JSON strings, ``True``/``False`` as ``true``/``false``).
            context: not supported (as in ckanapi): use ``apikey``.
            apikey: a token for this call instead of ``self.apikey``.
            files: uploads, as for :meth:`LocalCKAN.call_action`.
            requests_kwargs: ignored (no ``requests`` session is involved).
        """
        if context:
            raise CKANAPIError(
                "TestAppCKAN.call_action does not support the context parameter; use apikey instead",
                action=action,
            )
        if data_dict is not None and not isinstance(data_dict, Mapping):
            raise TypeError(f"{action}: data_dict must be a dict, got {type(data_dict).__name__}")
        del requests_kwargs
        data = {k: v for k, v in (data_dict or {}).items()}
        token = apikey or self.apikey
        url = f"/api/action/{action}"
        headers = {_token_header(): str(token)} if token else {}
        webtest = type(self.test_app).__module__.split(".")[0] == "webtest"
        with contextlib.ExitStack() as cleanup:
            opened = [_core._open_file(k, v) for k, v in (files or {}).items()]
            for f in opened:
                if f.owned:
                    cleanup.callback(f.fileobj.close)
            fields = {k: _core.form_value(v) for k, v in data.items() if v is not None}
            if webtest:
                kwargs: dict[str, Any] = {"headers": headers, "expect_errors": True}
                if opened:
                    kwargs["params"] = fields
                    kwargs["upload_files"] = [(f.name, f.filename, f.fileobj.read()) for f in opened]
                else:
                    kwargs["params"] = _json_body(data)
                    kwargs["content_type"] = "application/json"
            else:
                if opened:
                    form: dict[str, Any] = dict(fields)
                    for f in opened:
                        # werkzeug's test client closes what it is given: hand it a copy
                        form[f.name] = (io.BytesIO(f.fileobj.read()), f.filename, *(
                            [f.content_type] if f.content_type else []
                        ))
                    kwargs = {"data": form, "headers": headers, "content_type": "multipart/form-data"}
                else:
                    kwargs = {
                        "data": _json_body(data),
                        "headers": {**headers, "Content-Type": "application/json"},
                    }
            response = self.test_app.post(url, **kwargs)
        return _read_response(action, url, response, token)


def _token_header() -> str:
    """The header CKAN reads tokens from (``apitoken_header_name``, default ``Authorization``)."""
    try:
        config = importlib.import_module("ckan.common").config
        name = config.get("apitoken_header_name")
    except Exception:  # no config loaded (a bare test app), or an old CKAN
        name = None
    return str(name or "Authorization")


def _json_body(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, default=_core._json_default, allow_nan=False).encode()


def _read_response(action: str, url: str, response: Any, token: str | None) -> Any:
    """The result of a test-app response, or the ckanx exception it means (as for RemoteCKAN)."""
    status = getattr(response, "status_code", None)
    if status is None:  # webtest
        status = int(response.status_int)
    body = response.get_data() if hasattr(response, "get_data") else response.body
    if isinstance(body, str):
        body = body.encode("utf-8")
    content_type = str(getattr(response, "content_type", "") or "")
    error = _core.error_from_response(action, url, int(status), content_type, body, token)
    if error is not None:
        raise error
    return json.loads(body)["result"]
