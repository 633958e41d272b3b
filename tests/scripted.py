"""A scripted HTTP server for transport tests: each request gets the next scripted answer.

It stands in for the odd behaviours a real registry cannot be made to show on demand
(503 then 200, a 429 with Retry-After, a redirect to another host, an HTML page).
"""

from __future__ import annotations

import json
import ssl
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.bed.quietserver import QuietHTTPServer


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    hang_up: bool = False  # close the connection after answering, without saying so


def json_answer(doc: object, status: int = 200, **headers: str) -> Answer:
    return Answer(status, json.dumps(doc).encode(), {"Content-Type": "application/json", **headers})


def oci_errors(status: int, code: str, message: str = "", **headers: str) -> Answer:
    """A Registry v2 error answer: `{"errors": [{"code", "message", "detail"}]}`."""
    doc = {"errors": [{"code": code, "message": message, "detail": None}]}
    return json_answer(doc, status, **headers)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int = 0  # tells the client's connections apart


class ScriptedServer:
    """`script(path_prefix, *answers)`; unscripted paths answer 404. Records every request."""

    def __init__(self, tls_context: ssl.SSLContext | None = None) -> None:
        self.seen: list[Seen] = []
        self._scripts: dict[str, deque[Answer | Callable[[Seen], Answer]]] = {}
        self._fallback: dict[str, Answer] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as registries answer

            def log_message(self, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    parts = []
                    while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                        parts.append(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                    return b"".join(parts)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _handle(self) -> None:
                body = self._body()
                seen = Seen(
                    self.command, self.path, dict(self.headers), body, self.client_address[1]
                )
                server.seen.append(seen)
                answer = server._next(seen)
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)
                if answer.hang_up:
                    self.close_connection = True

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

        self.httpd = QuietHTTPServer(("127.0.0.1", 0), Handler)
        if tls_context is not None:
            self.httpd.socket = tls_context.wrap_socket(self.httpd.socket, server_side=True)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def script(self, prefix: str, *answers: Answer | Callable[[Seen], Answer]) -> None:
        self._scripts.setdefault(prefix, deque()).extend(answers)

    def always(self, prefix: str, answer: Answer) -> None:
        self._fallback[prefix] = answer

    def _next(self, seen: Seen) -> Answer:
        path = seen.path.split("?")[0]
        for prefix in sorted(self._scripts, key=len, reverse=True):
            if path.startswith(prefix) and self._scripts[prefix]:
                answer = self._scripts[prefix].popleft()
                return answer(seen) if callable(answer) else answer
        for prefix in sorted(self._fallback, key=len, reverse=True):
            if path.startswith(prefix):
                return self._fallback[prefix]
        return Answer(404, b'{"errors":[{"code":"NOT_FOUND","message":"unscripted"}]}')

    def requests_to(self, prefix: str) -> list[Seen]:
        return [s for s in self.seen if s.path.startswith(prefix)]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> ScriptedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
