"""HTTP/1.1 on urllib3: one request in, one response out, over pooled connections.

This is the layer under `drivers.http.transport`, which owns auth challenges, retries and
redirects; urllib3's own retries and redirects are therefore off, and its body decoding is
used only for a response that declares a `Content-Encoding`. What this layer adds on top:

* **Connections** are pooled per (scheme, host, port, TLS context) by one urllib3
  `PoolManager` per proxy, shared by the transfer's worker threads. A request that dies on a
  reused keep-alive connection before any answer (the server closed it meanwhile) is sent
  once more on a fresh one when its body can be replayed, as browsers do.
* **Proxies** from the environment (`drivers.http.proxies`): `http://` and `https://` proxies
  (plain HTTP absolute-form, HTTPS through `CONNECT`), and SOCKS5 when PySocks is installed.
  Proxy credentials travel only in `Proxy-Authorization` (or the SOCKS handshake); no URL,
  log line or error carries them.
* **TLS** settings per registry host come from `drivers.http.tls` (CA bundles, certs.d CAs
  and client certificates), passed to urllib3 as its `ssl_context`.
* **Errors** come out as the standard library's: `ssl.SSLError` for TLS, `OSError` (or
  `http.client.HTTPException`) for the rest, `ProxyError` when the proxy itself failed, so
  callers need not know urllib3.
* `--debug` logs one redacted line per exchange; urllib3's own debug lines, which print
  URLs unredacted, are silenced.
"""

from __future__ import annotations

import base64
import functools
import http.client
import logging
import threading
import warnings
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, InsecureRequestWarning

from drivers.errors import InvalidInput, redact_url
from drivers.http.proxies import Proxy, ProxyConfig
from drivers.http.response import Response, standard_error
from drivers.http.tls import tls_context
from drivers.reference import split_host_port

log = logging.getLogger("portside.http")
if logging.getLogger("urllib3").level == logging.NOTSET:
    logging.getLogger("urllib3").setLevel(logging.WARNING)
# Unverified TLS only happens for hosts the user named with --insecure-registry.
warnings.filterwarnings("ignore", category=InsecureRequestWarning)

_POOL_SIZE = 32  # connections kept per pool; parallel jobs top out at 64
_NUM_POOLS = 32  # pools per manager: registry, token realms, redirect targets
_BLOCK = 1 << 20  # socket write size for streamed request bodies (urllib3's default: 16 KiB)
# A reused connection that fails with one of these before any answer was read is stale.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
# Off: the transport retries and follows redirects. One instance, so that urllib3 does not
# build (and log) a Retry per request; it is never changed, `increment` makes new ones.
_NO_RETRIES = urllib3.Retry(total=False, redirect=False)

__all__ = ["HTTPClient", "ProxyConfig", "ProxyError", "Response", "basic_authorization"]


def basic_authorization(username: str, password: str) -> str:
    """The `Authorization` value for HTTP Basic, UTF-8 encoded as Go's SetBasicAuth sends it."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class ProxyError(OSError):
    """The proxy could not be reached, or its TLS or SOCKS handshake failed."""

    def __init__(self, proxy: Proxy, reason: BaseException) -> None:
        super().__init__(f"{proxy.describe()}: {reason}")
        self.proxy = proxy.describe()
        self.reason = reason


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
        self._managers: dict[Proxy | None, urllib3.PoolManager] = {}
        # The manager's pool for each destination, looked up once: urllib3's lookup (pool
        # key, LRU, TLS context) costs more than the rest of a small request's client work.
        self._pools: dict[tuple[str, str, int, Proxy | None], Any] = {}
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | Iterable[bytes] | Any | None = None,
    ) -> Response:
        """Send one request to an absolute URL and return the answer (any status).

        Network failures raise `OSError` (`ProxyError` when the proxy failed) or
        `http.client.HTTPException`; `ssl.SSLError` is an `OSError`.
        """
        parts = urlsplit(url)
        scheme = parts.scheme
        host = parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        proxy = self.proxies.for_url(scheme, host, port)
        pool = self._pool(scheme, host, port, proxy)
        if proxy is not None and proxy.forwards(scheme):
            target = url  # a plain-HTTP request through an HTTP(S) proxy names the whole URL
        else:
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        sent = headers if isinstance(headers, dict) else dict(headers)
        replayable = body is None or isinstance(body, bytes | bytearray)
        for _ in range(_POOL_SIZE + 1):  # each stale connection leaves the pool as it fails
            try:
                raw = pool.urlopen(
                    method,
                    target,
                    body=body,
                    headers=sent,
                    retries=_NO_RETRIES,
                    redirect=False,
                    assert_same_host=False,
                    preload_content=False,
                    decode_content=False,
                    enforce_content_length=True,
                )
                break
            except HTTPError as exc:
                cause = standard_error(exc)
                if not (_reuse.reused and replayable and isinstance(cause, _STALE)):
                    raise _network_error(exc, cause, proxy) from None
        if log.isEnabledFor(logging.DEBUG):  # --debug: one line per exchange, redacted
            via = f" via {proxy.host}:{proxy.port}" if proxy else ""
            how = "reused connection" if _reuse.reused else "new connection"
            log.debug("%s %s -> %d (%s%s)", method, redact_url(url), raw.status, how, via)
        return Response(raw, method, url)

    def _pool(self, scheme: str, host: str, port: int, proxy: Proxy | None) -> Any:
        key = (scheme, host, port, proxy)
        pool = self._pools.get(key)
        if pool is None or pool.pool is None:  # not looked up yet, or closed by the LRU
            pool = self._pools[key] = self._lookup(scheme, host, port, proxy)
        return pool

    def _lookup(
        self, scheme: str, host: str, port: int, proxy: Proxy | None, context: Any = None
    ) -> Any:
        kwargs = None
        if scheme == "https":
            kwargs = {"ssl_context": context or tls_context(self.verify, _host_port(host, port))}
        elif proxy is not None and proxy.scheme == "https":
            kwargs = {"ssl_context": tls_context(True)}  # this pool speaks TLS to the proxy
        return self._manager(proxy).connection_from_host(host, port, scheme, pool_kwargs=kwargs)

    def _manager(self, proxy: Proxy | None) -> urllib3.PoolManager:
        manager = self._managers.get(proxy)
        if manager is None:
            with self._lock:
                manager = self._managers.get(proxy)
                if manager is None:
                    manager = self._managers[proxy] = self._new_manager(proxy)
        return manager

    def _new_manager(self, proxy: Proxy | None) -> urllib3.PoolManager:
        options: dict[str, Any] = {
            "num_pools": _NUM_POOLS,
            "maxsize": _POOL_SIZE,
            "timeout": self.timeout,
            "retries": _NO_RETRIES,
            "blocksize": _BLOCK,
        }
        manager: urllib3.PoolManager
        if proxy is None:
            manager = urllib3.PoolManager(**options)
        elif proxy.is_socks:
            manager = _socks_manager(proxy, options)
        else:
            auth = None
            if proxy.username is not None:
                auth = {"Proxy-Authorization": basic_authorization(proxy.username, proxy.password)}
            manager = urllib3.ProxyManager(
                proxy.url,
                proxy_headers=auth,
                proxy_ssl_context=tls_context(True) if proxy.scheme == "https" else None,
                **options,
            )
        manager.pool_classes_by_scheme = {
            scheme: _tracking(cls) for scheme, cls in manager.pool_classes_by_scheme.items()
        }
        return manager

    def close(self) -> None:
        with self._lock:
            managers, self._managers, self._pools = self._managers, {}, {}
        for manager in managers.values():
            manager.clear()

    def speaks_tls(self, host_port: str) -> bool:
        """Whether host:port completes a TLS handshake, certificates unchecked: only to
        choose the scheme of a loopback or --insecure-registry host."""
        host, port = split_host_port(host_port)
        port = port or 443
        proxy = self.proxies.for_url("https", host, port)
        context = tls_context(False, _host_port(host, port))
        pool = self._lookup("https", host, port, proxy, context)
        # A connection of the pool's own kind (direct, tunnelled or SOCKS), made by hand and
        # closed after the handshake: it never serves a request.
        conn = pool._new_conn()
        conn.timeout = min(self.timeout, 10)
        try:
            if pool.proxy is not None:
                pool._prepare_proxy(conn)  # CONNECT, then the handshake through the tunnel
            else:
                conn.connect()
            return True
        except (OSError, HTTPError):  # refused, timed out, or not TLS
            return False
        finally:
            conn.close()


class _Reuse(threading.local):
    """Whether the calling thread's last request went out on a connection that had served."""

    reused = False


_reuse = _Reuse()


@functools.cache
def _tracking(pool_class: type) -> type:
    """`pool_class`, noting for each request whether its connection is a reused one."""

    class Tracking(pool_class):  # type: ignore[misc,valid-type]
        def _get_conn(self, timeout: float | None = None) -> Any:
            conn = super()._get_conn(timeout)
            _reuse.reused = not conn.is_closed  # a new or dropped connection has no socket yet
            return conn

    Tracking.__name__ = Tracking.__qualname__ = pool_class.__name__
    return Tracking


def _socks_manager(proxy: Proxy, options: dict[str, Any]) -> urllib3.PoolManager:
    import importlib.util

    # Looked for first: urllib3.contrib.socks would print a warning before failing.
    if importlib.util.find_spec("socks") is None:
        raise InvalidInput(
            f"{proxy.variable} names a SOCKS proxy ({proxy.url}), which needs PySocks",
            hint="pip install 'portside[socks]' (or pip install PySocks), or use an http:// proxy",
        )
    from urllib3.contrib.socks import SOCKSProxyManager

    # Credentials go as arguments, not in the URL, so no repr of the manager shows them.
    return SOCKSProxyManager(proxy.url, username=proxy.username, password=proxy.password, **options)


def _network_error(exc: HTTPError, cause: BaseException, proxy: Proxy | None) -> BaseException:
    if proxy is not None and (
        isinstance(exc, urllib3.exceptions.ProxyError)
        or (proxy.is_socks and isinstance(exc, ConnectTimeoutError))  # or NewConnectionError
    ):
        return ProxyError(proxy, cause)
    return cause


def _host_port(host: str, port: int) -> str:
    name = f"[{host}]" if ":" in host else host
    return name if port == 443 else f"{name}:{port}"
