"""The HTTP layer under the transport (drivers/http/client.py): connection reuse, stale
connections, CA bundles, certs.d, compressed bodies. Proxies: test_proxies.py."""

from __future__ import annotations

import gzip
import ssl

import pytest
import urllib3

from drivers.errors import InvalidInput, TLSError, Unreachable
from drivers.http.transport import Transport
from tests.httpsupport import no_retry, status_of
from tests.scripted import Answer, ScriptedServer


@pytest.fixture
def server():
    with ScriptedServer() as s:
        s.always("/v2/", Answer(200, b"{}"))
        yield s


# -- connections --------------------------------------------------------------------------


def test_keep_alive_connections_are_reused(server, no_proxy_env):
    transport = Transport(server.host)
    assert [status_of(transport) for _ in range(5)] == [200] * 5
    ports = {seen.client_port for seen in server.requests_to("/v2/")}
    assert len(ports) == 1, "five sequential requests should share one connection"


def test_a_connection_the_server_closed_is_not_reused(server, no_proxy_env):
    server.script("/v2/a", Answer(200, b"{}", hang_up=True))
    transport = Transport(server.host)
    assert status_of(transport, "/v2/a") == 200
    assert status_of(transport, "/v2/b") == 200
    first, second = server.requests_to("/v2/a")[0], server.requests_to("/v2/b")[0]
    assert first.client_port != second.client_port


def test_a_request_that_dies_on_a_stale_connection_is_sent_again(server, no_proxy_env, monkeypatch):
    # Defeat urllib3's idle check, so the dead pooled connection is really used and fails.
    monkeypatch.setattr(urllib3.connectionpool, "is_connection_dropped", lambda conn: False)
    server.script("/v2/a", Answer(200, b"{}", hang_up=True))
    transport = Transport(server.host, retry=no_retry())  # no transport-level retry
    assert status_of(transport, "/v2/a") == 200
    assert status_of(transport) == 200
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


# -- TLS ----------------------------------------------------------------------------------


def test_requests_ca_bundle_makes_a_private_ca_trusted(tls_server, monkeypatch, no_proxy_env):
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_server.cert))
    transport = Transport(tls_server.host)  # verifying: no --insecure-registry
    assert status_of(transport) == 200
    assert transport.base_url.startswith("https://")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(TLSError):
        Transport(tls_server.host, retry=no_retry()).request("GET", "/v2/")


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
    assert status_of(transport) == 200
    assert transport.base_url.startswith("https://")
    monkeypatch.setenv("PORTSIDE_CERTS_D", str(tmp_path / "missing"))
    with pytest.raises(TLSError):
        Transport(tls_server.host, retry=no_retry()).request("GET", "/v2/")


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
    assert status_of(Transport(mtls_server.host)) == 200

    (root / mtls_server.host / "client.cert").unlink()
    (root / mtls_server.host / "client.key").unlink()
    with pytest.raises((TLSError, Unreachable)):
        Transport(mtls_server.host, retry=no_retry()).request("GET", "/v2/")


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
    assert [status_of(transport) for _ in range(5)] == [200] * 5
    ports = {seen.client_port for seen in tls_server.requests_to("/v2/")}
    assert len(ports) == 1, "five sequential HTTPS requests should share one TLS connection"
