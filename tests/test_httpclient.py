"""The HTTP layer under the transport (drivers/httpclient.py): connection reuse, stale
connections, proxies from the environment, CA bundles, compressed bodies.

Proxies are exercised end to end through a real forward proxy (tests/forwardproxy.py) that
sends every host name to a local scripted server, so the registry can carry a name that is
not loopback (loopback never goes through a proxy).
"""

from __future__ import annotations

import base64
import gzip
import ssl

import pytest
import urllib3

from drivers.errors import InvalidInput, TLSError, Unreachable
from drivers.proxies import ProxyConfig
from drivers.transport import Transport
from tests.forwardproxy import ForwardProxy
from tests.scripted import Answer, ScriptedServer

CANARY = "canary-Pr0xyS3cret-77"


@pytest.fixture
def server():
    with ScriptedServer() as s:
        s.always("/v2/", Answer(200, b"{}"))
        yield s


@pytest.fixture
def no_proxy_env(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def _get(transport: Transport, path: str = "/v2/") -> int:
    response = transport.request("GET", path)
    response.content  # noqa: B018  (read to the end: the connection goes back to the pool)
    return response.status_code


# -- connections --------------------------------------------------------------------------


def test_keep_alive_connections_are_reused(server, no_proxy_env):
    transport = Transport(server.host)
    assert [_get(transport) for _ in range(5)] == [200] * 5
    ports = {seen.client_port for seen in server.requests_to("/v2/")}
    assert len(ports) == 1, "five sequential requests should share one connection"


def test_a_connection_the_server_closed_is_not_reused(server, no_proxy_env):
    server.script("/v2/a", Answer(200, b"{}", hang_up=True))
    transport = Transport(server.host)
    assert _get(transport, "/v2/a") == 200
    assert _get(transport, "/v2/b") == 200
    first, second = server.requests_to("/v2/a")[0], server.requests_to("/v2/b")[0]
    assert first.client_port != second.client_port


def test_a_request_that_dies_on_a_stale_connection_is_sent_again(server, no_proxy_env, monkeypatch):
    # Defeat urllib3's idle check, so the dead pooled connection is really used and fails.
    monkeypatch.setattr(urllib3.connectionpool, "is_connection_dropped", lambda conn: False)
    server.script("/v2/a", Answer(200, b"{}", hang_up=True))
    transport = Transport(server.host, retry=_no_retry())  # no transport-level retry
    assert _get(transport, "/v2/a") == 200
    assert _get(transport) == 200
    assert len(server.requests_to("/v2/a")) == 1


def test_gzip_encoded_bodies_are_decoded(server, no_proxy_env):
    doc = b'{"tags": ["a"]}'
    server.script(
        "/v2/x/tags/list",
        Answer(
            200,
            gzip.compress(doc),
            {"Content-Type": "application/json", "Content-Encoding": "gzip"},
        ),
    )
    response = Transport(server.host).request("GET", "/v2/x/tags/list")
    assert response.json() == {"tags": ["a"]}


# -- proxies ------------------------------------------------------------------------------


def test_plain_http_registry_goes_through_the_proxy_with_its_credentials(server, monkeypatch):
    with ForwardProxy(server.host) as proxy:
        proxy_url = proxy.url.replace("http://", f"http://me:{CANARY}@")
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        monkeypatch.setenv("https_proxy", proxy_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        transport = Transport("registry.example.test:5000", insecure=True)
        assert _get(transport) == 200
    assert transport.base_url == "http://registry.example.test:5000"
    connect, get = proxy.seen[0], proxy.seen[-1]
    assert connect.method == "CONNECT" and connect.target == "registry.example.test:5000"
    assert get.method == "GET" and get.target == "http://registry.example.test:5000/v2/"
    expected = "Basic " + base64.b64encode(f"me:{CANARY}".encode()).decode()
    assert get.proxy_authorization == expected
    (seen,) = server.requests_to("/v2/")
    assert seen.headers["Host"] == "registry.example.test:5000"
    assert "Proxy-Authorization" not in seen.headers, "proxy credentials stay with the proxy"


def test_https_registry_goes_through_a_connect_tunnel(tls_server, monkeypatch):
    with ForwardProxy(tls_server.host) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        transport = Transport("registry.example.test:8443", insecure=True)
        assert _get(transport) == 200
    assert transport.base_url == "https://registry.example.test:8443"
    assert {(s.method, s.target) for s in proxy.seen} == {("CONNECT", "registry.example.test:8443")}


def test_loopback_registries_never_use_the_proxy(server, monkeypatch):
    with ForwardProxy(server.host) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        assert _get(Transport(server.host)) == 200
    assert proxy.seen == []


def test_an_unreachable_proxy_is_reported_without_its_password(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", f"http://me:{CANARY}@127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    transport = Transport("registry.example.test", retry=_no_retry())
    with pytest.raises(Unreachable) as err:
        transport.request("GET", "/v2/")
    assert "connection refused" in str(err.value)
    assert CANARY not in f"{err.value} {err.value.hint} {err.value.url}"


def _no_retry():
    from drivers.transport import RetryPolicy

    return RetryPolicy(attempts=1)


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


def test_proxy_schemes_and_default_ports():
    for url, scheme, port in [
        ("proxy.corp", "http", 80),
        ("https://proxy.corp", "https", 443),
        ("socks5://proxy.corp", "socks5", 1080),
        ("SOCKS5H://proxy.corp:9050", "socks5h", 9050),
    ]:
        proxy = ProxyConfig({"HTTPS_PROXY": url}).for_url("https", "reg.example.com", 443)
        assert (proxy.scheme, proxy.host, proxy.port) == (scheme, "proxy.corp", port)


# -- TLS ----------------------------------------------------------------------------------


def test_requests_ca_bundle_makes_a_private_ca_trusted(tls_server, monkeypatch, no_proxy_env):
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_server.cert))
    transport = Transport(tls_server.host)  # verifying: no --insecure-registry
    assert _get(transport) == 200
    assert transport.base_url.startswith("https://")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(TLSError):
        Transport(tls_server.host, retry=_no_retry()).request("GET", "/v2/")


def test_an_unreadable_ca_bundle_is_bad_input(tls_server, monkeypatch, tmp_path, no_proxy_env):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(InvalidInput) as err:
        Transport(tls_server.host).request("GET", "/v2/")
    assert "missing.pem" in str(err.value)


# -- certs.d ------------------------------------------------------------------------------


def _certs_d(root, host: str, **files) -> None:
    directory = root / host
    directory.mkdir(parents=True)
    for name, source in files.items():
        (directory / name.replace("_", ".")).write_bytes(source.read_bytes())


def test_a_ca_in_certs_d_is_trusted_for_that_registry_only(
    tls_server, monkeypatch, tmp_path, no_proxy_env
):
    root = tmp_path / "certs.d"
    _certs_d(root, tls_server.host, ca_crt=tls_server.cert)
    monkeypatch.setenv("PORTSIDE_CERTS_D", f"{tmp_path / 'missing'}:{root}")
    transport = Transport(tls_server.host)  # verifying: no --insecure-registry
    assert _get(transport) == 200
    assert transport.base_url.startswith("https://")
    monkeypatch.setenv("PORTSIDE_CERTS_D", str(tmp_path / "missing"))
    with pytest.raises(TLSError):
        Transport(tls_server.host, retry=_no_retry()).request("GET", "/v2/")


@pytest.fixture
def mtls_server(tmp_path):
    """An HTTPS server that requires a client certificate (its own self-signed one)."""
    from tests.bed.tls import self_signed

    (tmp_path / "server").mkdir()
    (tmp_path / "client").mkdir()
    cert, key = self_signed(tmp_path / "server", "127.0.0.1")
    client_cert, client_key = self_signed(tmp_path / "client", "127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=str(client_cert))
    with ScriptedServer(tls_context=context) as server:
        server.always("/v2/", Answer(200, b"{}"))
        server.files = (cert, client_cert, client_key)  # type: ignore[attr-defined]
        yield server


def test_a_client_certificate_in_certs_d_answers_mutual_tls(
    mtls_server, monkeypatch, tmp_path, no_proxy_env
):
    cert, client_cert, client_key = mtls_server.files
    root = tmp_path / "certs.d"
    _certs_d(root, mtls_server.host, ca_crt=cert, client_cert=client_cert, client_key=client_key)
    monkeypatch.setenv("PORTSIDE_CERTS_D", str(root))
    assert _get(Transport(mtls_server.host)) == 200

    (root / mtls_server.host / "client.cert").unlink()
    (root / mtls_server.host / "client.key").unlink()
    with pytest.raises((TLSError, Unreachable)):
        Transport(mtls_server.host, retry=_no_retry()).request("GET", "/v2/")


def test_a_client_certificate_without_its_key_is_bad_input(
    tls_server, monkeypatch, tmp_path, no_proxy_env
):
    root = tmp_path / "certs.d"
    _certs_d(root, tls_server.host, client_cert=tls_server.cert)
    monkeypatch.setenv("PORTSIDE_CERTS_D", str(root))
    with pytest.raises(InvalidInput) as err:
        Transport(tls_server.host).request("GET", "/v2/")
    assert "client.cert" in str(err.value) and "client.key" in str(err.value)


def test_tls_connections_are_reused_too(tls_server, no_proxy_env):
    transport = Transport(tls_server.host, insecure=True)
    assert [_get(transport) for _ in range(5)] == [200] * 5
    ports = {seen.client_port for seen in tls_server.requests_to("/v2/")}
    assert len(ports) == 1, "five sequential HTTPS requests should share one TLS connection"


def test_a_proxy_that_refuses_the_tunnel_is_named_without_the_password(tls_server, monkeypatch):
    with ForwardProxy(tls_server.host, require="Basic right") as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("http://", f"http://me:{CANARY}@"))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        transport = Transport("registry.example.test:8443", retry=_no_retry())
        with pytest.raises(Unreachable) as err:
            transport.request("GET", "/v2/")
    message = str(err.value)
    assert "the proxy refused the tunnel (407 Proxy Authentication Required)" in message
    assert "HTTPS_PROXY" in message
    assert CANARY not in f"{message} {err.value.hint} {err.value.url}"
