"""HTTP/1.1 on the standard library: pooled keep-alive connections, proxies, TLS contexts.

This is the layer under `drivers.transport`. It sends one request and returns one response;
auth challenges, retries and redirects are the transport's. It is built on `http.client`
rather than `requests` because the registry commands are budgeted (docs/benchmarks.md):
`requests` costs about 0.15 s of imports and 1 ms of client CPU per request, which a
10,000-tag cleanup plan and a sub-second pull cannot afford. `http.client` costs about 45 ms
of imports and 0.35 ms per request.

What it does that `http.client` alone does not:

* **Connection reuse.** Idle keep-alive connections are pooled per (scheme, host, port) and
  shared by threads. A response gives its connection back when its body has been read to
  the end. A pooled connection the server has closed meanwhile is noticed before reuse, and a
  request that dies on a reused connection before any answer is sent again once on a fresh
  one (when its body can be replayed), as browsers and urllib3 do.
* **Proxies**, read from the environment once per client, with the usual names
  (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, upper or lower case). HTTPS goes
  through a `CONNECT` tunnel. Loopback hosts never use a proxy, as in Go's
  `ProxyFromEnvironment`, which docker and skopeo use.
* **TLS** settings per registry host come from `drivers.tlsconfig`: CA bundles, and the
  `certs.d` directories docker, podman and skopeo read.
"""

from __future__ import annotations

import base64
import http.client
import logging
import os
import select
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from drivers.errors import InvalidInput, redact_url
from drivers.reference import is_loopback, split_host_port
from drivers.tlsconfig import tls_context

log = logging.getLogger("portside.http")

_MAX_IDLE = 32  # idle connections kept per (scheme, host, port); parallel jobs top out at 64
_DRAIN_LIMIT = 64 << 10  # a small unread body is drained so its connection can be reused
_BLOCK = 1 << 20  # socket write size for streamed request bodies (the default is 8 KiB)
# A reused connection that fails with one of these before any answer was read is stale.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def basic_authorization(username: str, password: str) -> str:
    """The `Authorization` value for HTTP Basic, UTF-8 encoded as Go's SetBasicAuth sends it."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


# -- proxies ------------------------------------------------------------------------------


class Proxy(NamedTuple):
    host: str
    port: int
    authorization: str | None  # Proxy-Authorization, from the proxy URL's userinfo


def _env(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name.lower()) or environ.get(name.upper()) or "").strip()


def _parse_proxy(url: str, variable: str) -> Proxy:
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname:
        raise InvalidInput(
            f"{variable} is not a usable proxy URL: only http:// proxies are supported",
            hint=f"set {variable}=http://HOST:PORT (HTTPS still goes end to end through it)",
        )
    authorization = None
    if parts.username is not None:
        authorization = basic_authorization(unquote(parts.username), unquote(parts.password or ""))
    return Proxy(parts.hostname, parts.port or 80, authorization)


class ProxyConfig:
    """The proxy settings of the environment, read once."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self._urls: dict[str, tuple[str, str]] = {}
        for scheme in ("http", "https"):
            for name in (f"{scheme}_proxy", "all_proxy"):
                if value := _env(environ, name):
                    self._urls[scheme] = (value, name.upper())
                    break
        self._no_proxy = [
            entry.strip().lower() for entry in _env(environ, "no_proxy").split(",") if entry.strip()
        ]

    def for_url(self, scheme: str, host: str, port: int) -> Proxy | None:
        """The proxy to reach `host` with, or None for a direct connection."""
        found = self._urls.get(scheme)
        if found is None or is_loopback(host) or self._bypassed(host, port):
            return None
        return _parse_proxy(*found)

    def _bypassed(self, host: str, port: int) -> bool:
        host = host.lower().strip("[]")
        for entry in self._no_proxy:
            if entry == "*":
                return True
            name, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
            if entry_port and entry_port != str(port):
                continue
            name = name.strip("[]").lstrip("*")
            if not name:
                continue  # ":5000" or "[]": nothing to match
            if "/" in name and _in_network(host, name):
                return True
            if host == name.lstrip(".") or host.endswith(name if name[0] == "." else f".{name}"):
                return True
        return False


def _has_port(entry: str) -> bool:
    head, sep, tail = entry.rpartition(":")
    return bool(sep) and tail.isdigit() and (head.endswith("]") or ":" not in head)


def _in_network(host: str, cidr: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


# -- responses ----------------------------------------------------------------------------


class Response:
    """One answer. Read the body with `read`, `iter_content`, `content` or `json`; the
    connection goes back to the pool when the body is done, or is closed by `close`."""

    def __init__(self, raw: http.client.HTTPResponse, method: str, url: str, release: Any) -> None:
        self.raw = raw
        self.method = method
        self.url = url
        self.status_code = raw.status
        self.headers = raw.headers  # case-insensitive `get`
        self._release = release  # called once with True (reusable) or False
        self._content: bytes | None = None
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        self._decoder = None
        if encoding in ("gzip", "x-gzip", "deflate"):
            self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in encoding else 0)
        if method == "HEAD" or raw.length == 0 or self.status_code in (204, 304):
            self._finish()

    def _finish(self) -> None:
        if self._release is not None:
            release, self._release = self._release, None
            try:
                rest = self.raw.read()  # empty; lets http.client mark the response closed
            except (http.client.HTTPException, OSError):
                rest = b"x"
            release(not rest and not self.raw.will_close)

    def read(self, amount: int) -> bytes:
        """Up to `amount` bytes of the body (decoded); b"" at the end."""
        if self._release is None and self._content is None:
            return b""
        chunk = self.raw.read(amount)
        if not chunk:
            self._finish()
            return self._decoder.flush() if self._decoder else b""
        return self._decoder.decompress(chunk) if self._decoder else chunk

    def iter_content(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        while chunk := self.read(chunk_size):
            yield chunk

    @property
    def content(self) -> bytes:
        if self._content is None:
            self._content = b"".join(self.iter_content())
        return self._content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        import json

        return json.loads(self.content)

    def close(self) -> None:
        """Done with the response: keep the connection when the rest of the body is small."""
        if self._release is None:
            return
        length = self.raw.length
        if length is not None and length <= _DRAIN_LIMIT and not self.raw.chunked:
            try:
                self.raw.read()
            except (http.client.HTTPException, OSError):
                pass
            else:
                self._finish()
                return
        release, self._release = self._release, None
        self.raw.close()
        release(False)


# -- the client ---------------------------------------------------------------------------


class _Key(NamedTuple):
    scheme: str
    host: str
    port: int


class HTTPClient:
    """Sends requests over pooled connections. One per Transport; safe to share by threads."""

    def __init__(
        self,
        *,
        verify: bool = True,
        timeout: float = 60.0,
        proxies: ProxyConfig | None = None,
    ) -> None:
        self.verify = verify
        self.timeout = timeout
        self.proxies = proxies or ProxyConfig()
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | Iterable[bytes] | Any | None = None,
    ) -> Response:
        """Send one request to an absolute URL and return the answer (any status).

        Network failures raise `OSError` or `http.client.HTTPException`; `ssl.SSLError` is an
        `OSError`.
        """
        parts = urlsplit(url)
        scheme = parts.scheme
        default_port = 443 if scheme == "https" else 80
        key = _Key(scheme, parts.hostname or "", parts.port or default_port)
        target = parts.path or "/"
        if parts.query:
            target += f"?{parts.query}"
        replayable = body is None or isinstance(body, bytes | bytearray)
        proxy = self.proxies.for_url(scheme, key.host, key.port)
        sent = dict(headers)
        if proxy is not None and scheme == "http":
            target = url  # a plain-HTTP proxy takes the absolute URL
            if proxy.authorization:
                sent["Proxy-Authorization"] = proxy.authorization
        while True:
            conn, reused = self._connection(key, proxy)
            try:
                conn.request(method, target, body=body, headers=sent)
                raw = conn.getresponse()
            except _STALE:
                conn.close()
                if reused and replayable:
                    continue  # the server closed an idle connection: try a fresh one
                raise
            except BaseException:
                conn.close()
                raise
            if log.isEnabledFor(logging.DEBUG):  # --debug: one line per exchange, redacted
                via = f" via {proxy.host}:{proxy.port}" if proxy else ""
                how = "reused connection" if reused else "new connection"
                log.debug("%s %s -> %d (%s%s)", method, redact_url(url), raw.status, how, via)
            return Response(raw, method, url, lambda ok, c=conn: self._release(key, c, ok))

    def _connection(
        self, key: _Key, proxy: Proxy | None
    ) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(key)
            while idle:
                conn = idle.pop()
                if _still_open(conn):
                    return conn, True
                conn.close()
        return self.connect(key.scheme, key.host, key.port, proxy), False

    def connect(
        self, scheme: str, host: str, port: int, proxy: Proxy | None, *, context: Any = None
    ) -> http.client.HTTPConnection:
        """A new, unconnected connection to host:port, through `proxy` when given."""
        if scheme != "https":
            if proxy is not None:
                host, port = proxy.host, proxy.port
            return http.client.HTTPConnection(host, port, timeout=self.timeout, blocksize=_BLOCK)
        context = context or tls_context(self.verify, _host_port(host, port))
        if proxy is None:
            return http.client.HTTPSConnection(
                host, port, timeout=self.timeout, context=context, blocksize=_BLOCK
            )
        conn = http.client.HTTPSConnection(
            proxy.host, proxy.port, timeout=self.timeout, context=context, blocksize=_BLOCK
        )
        auth = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else None
        conn.set_tunnel(host, port, headers=auth)
        return conn

    def _release(self, key: _Key, conn: http.client.HTTPConnection, reusable: bool) -> None:
        if reusable:
            with self._lock:
                idle = self._idle.setdefault(key, [])
                if len(idle) < _MAX_IDLE:
                    idle.append(conn)
                    return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def speaks_tls(self, host_port: str) -> bool:
        """Whether host:port completes a TLS handshake, certificates unchecked: only to
        choose the scheme of a loopback or --insecure-registry host."""
        host, port = split_host_port(host_port)
        port = port or 443
        proxy = self.proxies.for_url("https", host, port)
        conn = self.connect(
            "https", host, port, proxy, context=tls_context(False, _host_port(host, port))
        )
        conn.timeout = min(self.timeout, 10)
        try:
            conn.connect()
            return True
        except OSError:  # refused, timed out, or not TLS (ssl.SSLError is an OSError)
            return False
        finally:
            conn.close()


def _host_port(host: str, port: int) -> str:
    name = f"[{host}]" if ":" in host else host
    return name if port == 443 else f"{name}:{port}"


def _still_open(conn: http.client.HTTPConnection) -> bool:
    """False when the server has closed (or written to) an idle connection."""
    sock = conn.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable
