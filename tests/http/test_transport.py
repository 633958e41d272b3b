"""Transport rules (DESIGN.md "Transport rules") against a scripted HTTP server.

The happy paths run against real registries in test_registry_*.py; these tests force the
answers a real registry will not give on demand: 503s, 429 with Retry-After, redirects to
another host, HTML pages, corrupt content, a TLS server with an untrusted certificate.
"""

from __future__ import annotations

import datetime as dt
import json
from email.utils import format_datetime

import pytest

from drivers.auth.credentials import Credential
from drivers.auth.strategies import HeaderToken, StaticToken
from drivers.distribution import DistributionClient
from drivers.errors import (
    DigestMismatch,
    Forbidden,
    NotARegistry,
    NotFound,
    RateLimited,
    RegistryError,
    TLSError,
    Unsupported,
    redact_url,
)
from drivers.http.retry import RetryPolicy, parse_retry_after
from drivers.http.transport import Transport, check_status
from drivers.manifest import DOCKER_MANIFEST, sha256_digest
from tests.scripted import Answer, json_answer, oci_errors

CANARY = "canary-S3cr3t-4242"


# -- parsing ------------------------------------------------------------------------------


def test_retry_after_as_seconds_and_as_http_date():
    assert parse_retry_after("7") == 7.0
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    later = format_datetime(now + dt.timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(42, abs=1)
    assert parse_retry_after("not a date") is None


def test_redact_url_drops_userinfo_and_signed_query_values():
    url = f"https://user:{CANARY}@s3.example/blob?X-Amz-Signature={CANARY}&part=1"
    safe = redact_url(url)
    assert CANARY not in safe and "part=1" in safe and "s3.example" in safe


# -- retries ------------------------------------------------------------------------------


def test_retries_5xx_then_succeeds(server, sleeps):
    server.script("/v2/", Answer(503), Answer(502), json_answer({}))
    response = Transport(server.host).request("GET", "/v2/")
    assert response.status_code == 200
    assert len(server.requests_to("/v2/")) == 3
    assert len(sleeps) == 2


def test_429_honours_retry_after_seconds(server, sleeps):
    server.script(
        "/v2/", oci_errors(429, "TOOMANYREQUESTS", **{"Retry-After": "7"}), json_answer({})
    )
    assert Transport(server.host).request("GET", "/v2/").status_code == 200
    assert sleeps == [7.0]


def test_retry_after_is_capped(server, sleeps):
    server.script("/v2/", Answer(503, b"", {"Retry-After": "3600"}), json_answer({}))
    Transport(server.host, retry=RetryPolicy(max_delay=5)).request("GET", "/v2/")
    assert sleeps == [5]


def test_gives_up_and_reports_rate_limit(server, sleeps):
    server.always("/v2/", oci_errors(429, "TOOMANYREQUESTS", "slow down"))
    transport = Transport(server.host, retry=RetryPolicy(attempts=3))
    response = transport.request("GET", "/v2/")
    with pytest.raises(RateLimited) as err:
        check_status(response, 200)
    assert err.value.is_temporary and err.value.status == 429
    assert err.value.errors[0].code == "TOOMANYREQUESTS"
    assert len(server.requests_to("/v2/")) == 3


def test_streamed_body_is_never_replayed(server, sleeps):
    server.script("/v2/upload", Answer(503), Answer(201))
    response = Transport(server.host).request("PUT", "/v2/upload", data=iter([b"chunk"]))
    assert response.status_code == 503
    assert len(server.requests_to("/v2/upload")) == 1


# -- error model --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (oci_errors(404, "MANIFEST_UNKNOWN", "manifest unknown"), NotFound),
        (oci_errors(403, "DENIED", "requested access to the resource is denied"), Forbidden),
        (oci_errors(405, "UNSUPPORTED", "The operation is unsupported."), Unsupported),
        (oci_errors(400, "UNSUPPORTED", "no deletes"), Unsupported),
    ],
)
def test_status_and_codes_map_to_the_error_tree(server, answer, error):
    server.always("/v2/a/manifests/", answer)
    response = Transport(server.host).request("GET", "/v2/a/manifests/x")
    with pytest.raises(error) as err:
        check_status(response, 200)
    assert isinstance(err.value, RegistryError)
    assert err.value.status == answer.status
    assert err.value.method == "GET" and "/v2/a/manifests/x" in err.value.url
    assert err.value.errors and err.value.errors[0].code in str(err.value)
    assert not err.value.is_temporary


def test_html_page_on_v2_is_not_a_registry(server):
    server.always("/", Answer(200, b"<html>Welcome</html>", {"Content-Type": "text/html"}))
    with pytest.raises(NotARegistry) as err:
        DistributionClient(Transport(server.host)).ping()
    assert "HTML" in str(err.value) and err.value.hint


def test_html_error_page_is_not_a_registry(server):
    server.always("/", Answer(404, b"<html>nope</html>", {"Content-Type": "text/html"}))
    with pytest.raises(NotARegistry):
        DistributionClient(Transport(server.host)).list_tags("a/b")


# -- redirects and headers -----------------------------------------------------------------


def test_authorization_is_not_sent_to_another_host_on_redirect(server, other_server):
    blob = b"layer bytes"
    digest = sha256_digest(blob)
    basic = {"WWW-Authenticate": 'Basic realm="r"'}
    server.script("/v2/a/blobs/", oci_errors(401, "UNAUTHORIZED", **basic))
    server.always(
        "/v2/a/blobs/", Answer(307, b"", {"Location": f"http://{other_server.host}/s3/{digest}"})
    )
    other_server.always("/s3/", Answer(200, blob, {"Content-Type": "application/octet-stream"}))
    cred = Credential(username="alice", password=CANARY, source="test")
    client = DistributionClient(Transport(server.host, cred))
    assert client.read_blob("a", digest) == blob
    assert "Authorization" in server.seen[-1].headers
    (fetched,) = other_server.requests_to("/s3/")
    assert "Authorization" not in fetched.headers


@pytest.mark.parametrize("by", ["strategy", "caller"])
def test_a_fixed_authorization_is_not_sent_to_another_host_on_redirect(server, other_server, by):
    # A native API's token (the StaticToken strategy), or a header a caller set itself.
    server.always("/api/", Answer(302, b"", {"Location": f"http://{other_server.host}/x"}))
    other_server.always("/x", Answer(200, b"{}"))
    if by == "strategy":
        response = Transport(server.host, auth=StaticToken(CANARY)).request("GET", "/api/")
    else:
        headers = {"Authorization": f"Bearer {CANARY}"}
        transport = Transport(server.host)
        response = transport.request("GET", "/api/", headers=headers, authenticate=False)
    assert response.status_code == 200
    assert server.seen[-1].headers["Authorization"] == f"Bearer {CANARY}"
    (fetched,) = other_server.requests_to("/x")
    assert "Authorization" not in fetched.headers


@pytest.mark.parametrize("header", ["PRIVATE-TOKEN", "JOB-TOKEN"])
def test_a_gitlab_token_header_is_not_sent_to_another_host_on_redirect(
    server, other_server, header
):
    server.always("/api/v4/", Answer(302, b"", {"Location": f"http://{other_server.host}/x"}))
    other_server.always("/x", Answer(200, b"{}"))
    response = Transport(server.host, auth=HeaderToken(header, CANARY)).request("GET", "/api/v4/")
    assert response.status_code == 200
    assert server.seen[-1].headers[header] == CANARY
    (fetched,) = other_server.requests_to("/x")
    assert header not in fetched.headers


def test_user_agent_names_portside(server):
    server.always("/v2/", json_answer({}))
    Transport(server.host).request("GET", "/v2/")
    assert server.seen[-1].headers["User-Agent"].startswith("portside/")


# -- content verification ------------------------------------------------------------------


def test_manifest_by_digest_is_verified(server):
    body = b'{"schemaVersion":2}'
    wrong = sha256_digest(b"something else")
    server.always("/v2/a/manifests/", Answer(200, body, {"Content-Type": DOCKER_MANIFEST}))
    with pytest.raises(DigestMismatch) as err:
        DistributionClient(Transport(server.host)).get_manifest("a", wrong)
    assert wrong in str(err.value)


def test_head_without_digest_header_computes_it(server):
    body = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST}).encode()
    server.always("/v2/a/manifests/", Answer(200, body, {"Content-Type": DOCKER_MANIFEST}))
    descriptor = DistributionClient(Transport(server.host)).head_manifest("a", "v1")
    assert descriptor.digest == sha256_digest(body)
    assert descriptor.media_type == DOCKER_MANIFEST


def test_blob_stream_detects_corruption(server):
    digest = sha256_digest(b"good")
    server.always("/v2/a/blobs/", Answer(200, b"evil", {"Content-Type": "application/x"}))
    with pytest.raises(DigestMismatch):
        DistributionClient(Transport(server.host)).read_blob("a", digest)


def test_tag_pagination_follows_link_and_caps_page_size(server):
    server.script(
        "/v2/a/tags/list",
        json_answer(
            {"name": "a", "tags": ["t1", "t2"]},
            Link='</v2/a/tags/list?n=2&last=t2>; rel="next"',
        ),
        json_answer({"name": "a", "tags": ["t3"]}),
    )
    tags = DistributionClient(Transport(server.host)).list_tags("a", page_size=5000)
    assert tags == ["t1", "t2", "t3"]
    first, second = server.requests_to("/v2/a/tags/list")
    assert "n=1000" in first.path and "last=t2" in second.path


# -- TLS ----------------------------------------------------------------------------------


def test_untrusted_certificate_is_a_tls_error_with_a_fix(tls_server, sleeps):
    with pytest.raises(TLSError) as err:
        Transport(tls_server.host).request("GET", "/v2/")
    assert "certificate" in str(err.value)
    assert "--insecure-registry" in (err.value.hint or "")


def test_insecure_registry_skips_verification(tls_server):
    response = Transport(tls_server.host, insecure=True).request("GET", "/v2/")
    assert response.status_code == 200
    assert response.url.startswith("https://")
