"""Helpers of the token tests: a recording/reflecting HTTP server and a "does the token appear" check."""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@contextmanager
def recording_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A tiny HTTP server on 127.0.0.1: ``(base_url, requests)``; each request is recorded.

    Paths choose the answer, so one server plays every part:

    * ``.../file...`` (GET): a small CSV file (a resource on a third-party host);
    * ``/reflect-html200/...``, ``/reflect-500/...``, ``/reflect-json/...``, ``/reflect-string/...``:
      answers that *echo the Authorization header back* (HTML with 200, HTML 500, a CKAN error
      envelope, a bare JSON string with 400) — a hostile or buggy server;
    * ``/html/...``: a plain HTML page (a site that is not CKAN);
    * anything else: a successful CKAN envelope ``{"result": {"served_by": "recorder"}}``.
    """
    requests: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # keep test output clean
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
            auth = self.headers.get("Authorization", "")
            path = self.path
            if path.startswith("/reflect-html200/"):
                self._send(200, "text/html", f"<html><title>Login</title><body>you sent {auth}</body></html>")
            elif path.startswith("/reflect-500/"):
                self._send(500, "text/html", f"<html><body>Traceback: token={auth}</body></html>")
            elif path.startswith("/reflect-json/"):
                error = {"__type": "Validation Error", "name": [f"bad token {auth}"], "message": f"echo {auth}"}
                self._send(409, "application/json", json.dumps({"help": "", "success": False, "error": error}))
            elif path.startswith("/reflect-string/"):
                self._send(400, "application/json", json.dumps(f"Bad request - token {auth} not accepted"))
            elif path.startswith("/html/"):
                self._send(200, "text/html", "<!DOCTYPE html><html><title>Welcome</title><body>hi</body></html>")
            elif "/file" in path:
                self._send(200, "text/csv", "a,b\n1,2\n")
            else:
                result = {"served_by": "recorder", "name": "from-recorder"}
                self._send(200, "application/json", json.dumps({"help": "", "success": True, "result": result}))

        def _send(self, status: int, ctype: str, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_HEAD = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def exception_texts(err: BaseException | None) -> Iterator[str]:
    """Everything an exception could show: str, repr, args, attributes, traceback, causes."""
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield str(err)
        yield repr(err)
        yield "".join(traceback.format_exception(type(err), err, err.__traceback__))
        yield repr(err.args)
        for value in vars(err).values():
            yield repr(value)
        err = err.__cause__ or err.__context__


def find_token(token: str, texts: Iterable[Any]) -> list[str]:
    """The texts (shortened) in which ``token`` appears."""
    hits = []
    for text in texts:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        text = str(text)
        if token in text:
            at = text.index(token)
            hits.append(text[max(at - 80, 0) : at + len(token) + 20])
    return hits
