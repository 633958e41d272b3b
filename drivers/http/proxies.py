"""Which proxy reaches a host: the proxy settings of the environment, read once.

The names are the ones curl, docker and skopeo read: `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`
(the fallback for both) and `NO_PROXY`, each in lower or upper case (lower case wins, as in
curl). A proxy URL may be:

* `http://[user:password@]host[:port]`: plain HTTP to the proxy; HTTPS goes through a
  `CONNECT` tunnel, so TLS stays end to end;
* `https://…`: the same, with TLS to the proxy itself (its certificate is checked against the
  system store or `REQUESTS_CA_BUNDLE`);
* `socks5://…` or `socks5h://…`: SOCKS5, with host names resolved by us (`socks5`) or by the
  proxy (`socks5h`). It needs PySocks (`pip install 'portside[socks]'`).

A URL without a scheme is taken as `http://`. Loopback hosts never use a proxy, as in Go's
`ProxyFromEnvironment`, which docker and skopeo use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from drivers.errors import InvalidInput
from drivers.reference import is_loopback

SOCKS_SCHEMES = ("socks5", "socks5h")
_DEFAULT_PORTS = {"http": 80, "https": 443, "socks5": 1080, "socks5h": 1080}


@dataclass(frozen=True)
class Proxy:
    """One proxy. Its repr and `url` leave the credentials out."""

    scheme: str  # http, https, socks5 or socks5h
    host: str
    port: int
    variable: str  # the environment variable it came from, for messages
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def is_socks(self) -> bool:
        return self.scheme in SOCKS_SCHEMES

    def forwards(self, scheme: str) -> bool:
        """Whether a request for `scheme` goes to the proxy as an absolute URL (plain HTTP
        through an HTTP(S) proxy) rather than through a tunnel."""
        return scheme == "http" and not self.is_socks

    def describe(self) -> str:
        return f"the proxy {self.url} (from {self.variable})"


def _env(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name.lower()) or environ.get(name.upper()) or "").strip()


def parse_proxy(url: str, variable: str) -> Proxy:
    """The proxy a `*_PROXY` value names; bad input names the variable."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port, scheme = None, ""  # a port that is not a number: reported below
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise InvalidInput(
            f"{variable} is not a usable proxy URL: the scheme must be http, https, socks5 "
            "or socks5h, with a host and an optional numeric port",
            hint=f"set {variable}=http://HOST:PORT (or https://, socks5://, socks5h://)",
        )
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password or "") if username is not None else None
    return Proxy(
        scheme, parts.hostname, port or _DEFAULT_PORTS[scheme], variable, username, password
    )


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
        self._parsed: dict[str, Proxy] = {}

    def for_url(self, scheme: str, host: str, port: int) -> Proxy | None:
        """The proxy to reach `host` with, or None for a direct connection."""
        found = self._urls.get(scheme)
        if found is None or is_loopback(host) or self._bypassed(host, port):
            return None
        # Parsed when first needed, so a bad value only stops the requests it would serve.
        if scheme not in self._parsed:
            self._parsed[scheme] = parse_proxy(*found)
        return self._parsed[scheme]

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
