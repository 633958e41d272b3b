"""Proxies from the environment (drivers/http/proxies.py) and through the HTTP layer: http://,
https:// (TLS to the proxy itself) and SOCKS5 proxies, NO_PROXY, and proxy credentials that
never show.

Each proxy is a real local server (tests/forwardproxy.py, tests/socksproxy.py) that sends every
host name to one local scripted server, so the registry can carry a name that is not loopback
(loopback never goes through a proxy).
"""

from __future__ import annotations

import base64
import ssl
import sys

import pytest

from drivers.errors import InvalidInput, Unreachable
from drivers.http.proxies import ProxyConfig
from drivers.http.transport import Transport
from tests.cli import run_cli
from tests.forwardproxy import ForwardProxy
from tests.httpsupport import CANARY, no_retry, status_of
from tests.scripted import Answer, ScriptedServer
from tests.socksproxy import SocksProxy


@pytest.fixture
def server():
    with ScriptedServer() as s:
        s.always("/v2/", Answer(200, b"{}"))
        yield s


@pytest.fixture
def proxy_env(monkeypatch, no_proxy_env):
    """Set proxy variables on a clean slate: `proxy_env(HTTPS_PROXY=url, ...)`."""

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return apply


def _server_tls(directory) -> tuple[ssl.SSLContext, str]:
    from tests.bed.tls import self_signed

    directory.mkdir()
    cert, key = self_signed(directory, "127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, str(cert)


@pytest.fixture(params=["http", "https"])
def proxy_tls(request, tmp_path, monkeypatch) -> ssl.SSLContext | None:
    """None for an http:// proxy; for an https:// one, its server context, with its
    certificate trusted through REQUESTS_CA_BUNDLE."""
    if request.param == "http":
        return None
    context, cert = _server_tls(tmp_path / "proxy")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cert)
    return context


def _with_credentials(url: str, password: str = CANARY) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://me:{password}@{rest}"


def _secret_free(err: Exception) -> str:
    text = f"{err} {getattr(err, 'hint', '')} {getattr(err, 'url', '')}"
    assert CANARY not in text
    return text


# -- http:// and https:// proxies ---------------------------------------------------------


def test_plain_http_registry_goes_through_the_proxy_with_its_credentials(
    server, proxy_env, proxy_tls
):
    with ForwardProxy(server.host, tls=proxy_tls) as proxy:
        proxy_env(HTTP_PROXY=_with_credentials(proxy.url), https_proxy=_with_credentials(proxy.url))
        transport = Transport("registry.example.test:5000", insecure=True)
        assert status_of(transport) == 200
    assert transport.base_url == "http://registry.example.test:5000"
    connect, get = proxy.seen[0], proxy.seen[-1]
    assert connect.method == "CONNECT" and connect.target == "registry.example.test:5000"
    assert get.method == "GET" and get.target == "http://registry.example.test:5000/v2/"
    expected = "Basic " + base64.b64encode(f"me:{CANARY}".encode()).decode()
    assert get.proxy_authorization == expected
    (seen,) = server.requests_to("/v2/")
    assert seen.headers["Host"] == "registry.example.test:5000"
    assert "Proxy-Authorization" not in seen.headers, "proxy credentials stay with the proxy"


def test_https_registry_goes_through_a_connect_tunnel(tls_server, proxy_env, proxy_tls):
    with ForwardProxy(tls_server.host, tls=proxy_tls) as proxy:
        proxy_env(HTTPS_PROXY=proxy.url)
        transport = Transport("registry.example.test:8443", insecure=True)
        assert [status_of(transport) for _ in range(3)] == [200] * 3
    assert transport.base_url == "https://registry.example.test:8443"
    assert {(s.method, s.target) for s in proxy.seen} == {("CONNECT", "registry.example.test:8443")}
    # One tunnel for the scheme probe, one kept alive for the three requests.
    assert len(proxy.seen) == 2
    assert len({seen.client_port for seen in tls_server.requests_to("/v2/")}) == 1


def test_an_https_proxy_with_an_untrusted_certificate_is_named(server, proxy_env, tmp_path):
    context, _ = _server_tls(tmp_path / "proxy")
    with ForwardProxy(server.host, tls=context) as proxy:
        proxy_env(HTTPS_PROXY=_with_credentials(proxy.url))
        transport = Transport("registry.example.test:5000", retry=no_retry())
        with pytest.raises(Unreachable) as err:
            transport.request("GET", "/v2/")
    message = _secret_free(err.value)
    assert f"the proxy {proxy.url} (from HTTPS_PROXY): certificate verify failed" in message
    assert proxy.seen == []


def test_loopback_registries_never_use_the_proxy(server, monkeypatch):
    with ForwardProxy(server.host) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        assert status_of(Transport(server.host)) == 200
    assert proxy.seen == []


def test_an_unreachable_proxy_is_reported_without_its_password(proxy_env):
    proxy_env(HTTPS_PROXY=f"http://me:{CANARY}@127.0.0.1:9")
    transport = Transport("registry.example.test", retry=no_retry())
    with pytest.raises(Unreachable) as err:
        transport.request("GET", "/v2/")
    message = _secret_free(err.value)
    assert "the proxy http://127.0.0.1:9 (from HTTPS_PROXY): connection refused" in message


def test_a_proxy_that_refuses_the_tunnel_is_named_without_the_password(tls_server, proxy_env):
    with ForwardProxy(tls_server.host, require="Basic right") as proxy:
        proxy_env(HTTPS_PROXY=_with_credentials(proxy.url))
        transport = Transport("registry.example.test:8443", retry=no_retry())
        with pytest.raises(Unreachable) as err:
            transport.request("GET", "/v2/")
    message = _secret_free(err.value)
    assert "the proxy refused the tunnel (407 Proxy Authentication Required)" in message
    assert "HTTPS_PROXY" in message


# -- SOCKS5 ---------------------------------------------------------------------------------


def test_socks5h_leaves_the_name_to_the_proxy_and_authenticates(server, proxy_env):
    with SocksProxy(server.host, require=("me", CANARY)) as proxy:
        proxy_env(ALL_PROXY=f"socks5h://me:{CANARY}@{proxy.address}")
        transport = Transport("registry.example.test:5000", insecure=True)
        assert [status_of(transport) for _ in range(3)] == [200] * 3
    assert transport.base_url == "http://registry.example.test:5000"
    assert {(s.kind, s.host, s.port, s.username) for s in proxy.seen} == {
        ("domain", "registry.example.test", 5000, "me")
    }
    # The scheme probe's connection, then one kept alive for the three requests.
    assert len(proxy.seen) == 2
    seen = server.requests_to("/v2/")
    assert len({s.client_port for s in seen}) == 1
    assert seen[0].headers["Host"] == "registry.example.test:5000"


def test_https_through_a_socks5_proxy(tls_server, proxy_env):
    with SocksProxy(tls_server.host) as proxy:
        proxy_env(HTTPS_PROXY=f"socks5://{proxy.address}")
        transport = Transport("192.0.2.10:8443", insecure=True)
        assert status_of(transport) == 200
    assert transport.base_url == "https://192.0.2.10:8443"
    assert {(s.kind, s.host, s.port) for s in proxy.seen} == {("ipv4", "192.0.2.10", 8443)}


def test_a_socks_proxy_that_refuses_the_credentials_is_named(server, proxy_env):
    with SocksProxy(server.host, require=("me", "right")) as proxy:
        proxy_env(HTTPS_PROXY=f"socks5h://me:{CANARY}@{proxy.address}")
        transport = Transport("registry.example.test:5000", retry=no_retry())
        with pytest.raises(Unreachable) as err:
            transport.request("GET", "/v2/")
    message = _secret_free(err.value)
    assert f"the proxy socks5h://{proxy.address} (from HTTPS_PROXY)" in message
    assert server.requests_to("/v2/") == []


def test_a_socks_proxy_without_pysocks_names_the_install_line(capsys, proxy_env, monkeypatch):
    monkeypatch.setitem(sys.modules, "socks", None)  # as if PySocks were not installed
    monkeypatch.delitem(sys.modules, "urllib3.contrib.socks", raising=False)
    proxy_env(HTTPS_PROXY=f"socks5h://me:{CANARY}@127.0.0.1:9")
    result = run_cli(capsys, "tags", "registry.example.test/app")
    assert result.code == 2, result.text
    assert "HTTPS_PROXY names a SOCKS proxy (socks5h://127.0.0.1:9), which needs PySocks" in (
        result.err
    )
    assert "pip install 'portside[socks]'" in result.err
    assert CANARY not in result.text


# -- reading the environment --------------------------------------------------------------


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "proxied"),
    [
        ("", "reg.example.com", 443, True),
        ("*", "reg.example.com", 443, False),
        ("example.com", "reg.example.com", 443, False),
        ("example.com", "example.com", 443, False),
        (".example.com", "reg.example.com", 443, False),
        ("*.example.com", "reg.example.com", 443, False),
        ("example.com", "badexample.com", 443, True),
        ("reg.example.com:5000", "reg.example.com", 443, True),
        ("reg.example.com:5000", "reg.example.com", 5000, False),
        ("10.0.0.0/8, other", "10.1.2.3", 443, False),
        ("10.0.0.0/8", "11.1.2.3", 443, True),
        ("[::1]", "::1", 443, False),
        ("REG.Example.COM", "reg.example.com", 443, False),
        (":5000, [], *.", "reg.example.com", 5000, True),  # malformed entries match nothing
    ],
)
def test_no_proxy_rules(no_proxy, host, port, proxied):
    config = ProxyConfig({"HTTPS_PROXY": "proxy.corp:3128", "NO_PROXY": no_proxy})
    # ::1 is loopback and never proxied anyway; the others test NO_PROXY itself.
    assert (config.for_url("https", host, port) is not None) == (proxied and host != "::1")


def test_lower_case_wins_and_all_proxy_is_the_fallback():
    config = ProxyConfig({"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2"})
    assert config.for_url("https", "reg.example.com", 443).host == "lower"
    config = ProxyConfig({"ALL_PROXY": "http://all:3"})
    assert config.for_url("http", "reg.example.com", 80).port == 3
    assert ProxyConfig({"HTTP_PROXY": "http://p:1"}).for_url("https", "r.example", 443) is None


@pytest.mark.parametrize("url", ["ftp://proxy.corp:21", "socks4://proxy.corp", "http://p:port"])
def test_an_unusable_proxy_url_is_bad_input_naming_the_variable(url):
    config = ProxyConfig({"HTTPS_PROXY": url})
    with pytest.raises(InvalidInput) as err:
        config.for_url("https", "reg.example.com", 443)
    assert "HTTPS_PROXY" in str(err.value) and "http://" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("url", "scheme", "port"),
    [
        ("proxy.corp", "http", 80),
        ("https://proxy.corp", "https", 443),
        ("socks5://proxy.corp", "socks5", 1080),
        ("SOCKS5H://proxy.corp:9050", "socks5h", 9050),
    ],
)
def test_proxy_schemes_and_default_ports(url, scheme, port):
    proxy = ProxyConfig({"HTTPS_PROXY": url}).for_url("https", "reg.example.com", 443)
    assert (proxy.scheme, proxy.host, proxy.port) == (scheme, "proxy.corp", port)


def test_proxy_credentials_stay_out_of_the_repr():
    proxy = ProxyConfig({"HTTPS_PROXY": f"http://me:{CANARY}@p:1"}).for_url("https", "r.x", 443)
    assert proxy.password == CANARY
    assert CANARY not in f"{proxy!r} {proxy.url} {proxy.describe()}"
