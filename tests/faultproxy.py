"""A small HTTP proxy in front of a real docker-registry that misbehaves on blob GETs.

Everything is forwarded to the registry unchanged (the Host header too, so upload
Locations point back at the proxy), except the blob downloads a queued fault matches:

* `Cut(after)`: send the headers and `after` bytes of the body, then drop the connection;
* `Status(code, retry_after)`: answer with that status instead of forwarding;
* `Flip(at)`: forward the body with the byte at offset `at` inverted;
* `IgnoreRange()`: forward without the client's Range header, as a registry that does
  not honour Range would (200 and the whole body).

Each fault applies `times` times (to one digest, or any blob), in the order queued.

`aliases` serves a path from another path of the registry: a manifest by a sha512 digest,
which distribution 2.8 cannot store (it refuses such a PUT with DIGEST_INVALID), comes from
the registry's sha256 path, so what a registry with sha512 manifests would send reaches the
client byte for byte.

To pass for another registry product, `ping_headers` are added to the answer to `GET /v2/`
(`Server: Nexus/…`, `X-JFrog-Version`), and `canned` answers paths without the registry
(a `/v2/` challenge whose realm is Harbor's, and that realm's tokens).
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.bed.quietserver import QuietHTTPServer

_BLOB_GET = re.compile(r"^/v2/.+/blobs/(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}
_CHUNK = 64 * 1024


@dataclass
class Fault:
    digest: str | None = None  # None: any blob
    times: int = 1


@dataclass
class Cut(Fault):
    after: int = 1000


@dataclass
class Status(Fault):
    code: int = 500
    retry_after: str | None = None


@dataclass
class Flip(Fault):
    at: int = 100


@dataclass
class IgnoreRange(Fault):
    pass


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 0
    fault: str = ""


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults: list[Fault] = []
        self.seen: list[Seen] = []
        self.ping_headers: dict[str, str] = {}
        self.canned: dict[str, tuple[int, dict[str, str], bytes]] = {}  # path, no query
        self.aliases: dict[str, str] = {}  # path asked for -> path asked of the registry
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                proxy._serve(self)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _handle

        self.httpd = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def add(self, *faults: Fault) -> FaultProxy:
        with self._lock:
            self.faults.extend(faults)
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def blob_gets(self, digest: str | None = None) -> list[Seen]:
        return [
            s
            for s in self.seen
            if s.method == "GET"
            and _BLOB_GET.match(s.path)
            and (digest is None or s.path.endswith(digest))
        ]

    def _take(self, digest: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.digest in (None, digest):
                    fault.times -= 1
                    return fault
        return None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP_BY_HOP}
        seen = Seen(handler.command, path, dict(headers))
        self.seen.append(seen)
        body = _read_body(handler)
        if path.split("?")[0] in self.canned:
            seen.status, extra, data = self.canned[path.split("?")[0]]
            handler.send_response(seen.status)
            for key, value in {**extra, "Content-Length": str(len(data))}.items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(data)
            return
        match = _BLOB_GET.match(path.split("?")[0]) if handler.command == "GET" else None
        fault = self._take(match.group(1)) if match else None
        seen.fault = type(fault).__name__ if fault else ""
        if isinstance(fault, Status):
            seen.status = fault.code
            _answer(handler, fault.code, fault.retry_after)
            return
        if isinstance(fault, IgnoreRange):
            headers = {k: v for k, v in headers.items() if k.lower() != "range"}
        upstream = http.client.HTTPConnection(self.upstream, timeout=30)
        try:
            forwarded = self.aliases.get(path, path)
            upstream.request(handler.command, forwarded, body=body, headers=headers)
            response = upstream.getresponse()
            seen.status = response.status
            ping = path == "/v2/" and handler.command == "GET"
            extra = self.ping_headers if ping else {}
            if "Server" in extra:  # in place of the one BaseHTTPRequestHandler writes
                handler.version_string = lambda: extra["Server"]  # type: ignore[method-assign]
            handler.send_response(response.status)
            length = response.getheader("Content-Length")
            for key, value in response.getheaders():
                if key.lower() not in _HOP_BY_HOP:
                    handler.send_header(key, value)
            for key, value in extra.items():
                if key != "Server":
                    handler.send_header(key, value)
            data = b"" if length is not None or handler.command == "HEAD" else response.read()
            if length is None and handler.command != "HEAD":
                handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            if handler.command == "HEAD":
                return
            if data:
                handler.wfile.write(data)
                return
            _relay(handler, response, fault)
        finally:
            upstream.close()


def _read_body(handler: BaseHTTPRequestHandler) -> bytes | None:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(parts)
            parts.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else None


def _answer(handler: BaseHTTPRequestHandler, code: int, retry_after: str | None) -> None:
    body = b'{"errors":[{"code":"UNAVAILABLE","message":"injected by the fault proxy"}]}'
    if code == 429:
        body = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"injected by the fault proxy"}]}'
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    if retry_after is not None:
        handler.send_header("Retry-After", retry_after)
    handler.end_headers()
    handler.wfile.write(body)


def _relay(handler: BaseHTTPRequestHandler, response: http.client.HTTPResponse, fault) -> None:
    sent = 0
    while chunk := response.read(_CHUNK):
        if isinstance(fault, Flip) and sent <= fault.at < sent + len(chunk):
            index = fault.at - sent
            chunk = chunk[:index] + bytes([chunk[index] ^ 0xFF]) + chunk[index + 1 :]
        if isinstance(fault, Cut) and sent + len(chunk) >= fault.after:
            handler.wfile.write(chunk[: fault.after - sent])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        handler.wfile.write(chunk)
        sent += len(chunk)
