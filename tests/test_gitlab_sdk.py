"""The `gitlab` driver's python-gitlab client (drivers/registries/gitlab_client.py) over
portside's transport (drivers/http/requests_session.py): its 429 waits (`Retry-After`,
`RateLimit-Reset`), the proxy and TLS settings the registry uses, a token that never shows
or leaves the API's host, and the per-tag details. The fake GitLab API
(tests/gitlab_api_fake.py) sits in front of a real docker-registry, as in
tests/test_gitlab_registry.py."""

# ruff: noqa: F811  (the `gitlab` fixture, imported from tests/test_gitlab_registry.py)
from __future__ import annotations

import datetime as dt
import json
import ssl
import time
import uuid
from pathlib import Path

import pytest

from drivers.reference import parse_repository
from drivers.registries import RegistryOptions
from drivers.registries.connect import driver_for
from tests.bed import oci_image, oci_index
from tests.forwardproxy import ForwardProxy
from tests.gitlab_api_fake import FakeGitLab, deletes
from tests.native_support import serve_json_api, through_proxy
from tests.scripted import Answer, ScriptedServer
from tests.test_gitlab_registry import (  # noqa: F401
    DEVELOPER,
    GITLAB_ENV,
    cleanup,
    gitlab,
    project,
    push,
)


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """python-gitlab's waits between retries, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr("gitlab.utils.time.sleep", recorded.append)
    return recorded


def _throttled(capsys, gitlab, unique_repo, headers: dict[str, str]):
    path = project(gitlab, unique_repo)
    push(gitlab.registry, path, oci_image(f"{unique_repo}-t"), "old", "keep")
    gitlab.throttle, gitlab.throttle_headers = 1, headers
    result = cleanup(capsys, gitlab, path, "--delete-tag", "old")
    assert result.code == 0, result.err
    assert gitlab.tags_of(path) == ["keep"]
    assert [c.method for c in gitlab.calls[:2]] == ["GET", "GET"]  # the same call, twice
    return result


def test_rate_limit_reset_alone_is_waited_out(capsys, gitlab, unique_repo, waits):
    reset = int(time.time()) + 5
    _throttled(capsys, gitlab, unique_repo, {"RateLimit-Reset": str(reset)})
    assert len(waits) == 1 and 3 < waits[0] <= 5  # until the reset, not a backoff


@pytest.mark.parametrize(
    ("value", "expected"),
    [("4", 4), ("86400", 30), ("DATE", 6)],
    ids=["seconds", "capped", "http-date"],
)
def test_retry_after_is_waited_out_within_the_cap(
    capsys, gitlab, unique_repo, waits, value, expected
):
    if value == "DATE":  # python-gitlab alone stops here: int() of a date
        from email.utils import formatdate

        value = formatdate(time.time() + 6, usegmt=True)
    reset = str(int(time.time()) + 1000)  # Retry-After wins, as python-gitlab reads it
    _throttled(capsys, gitlab, unique_repo, {"Retry-After": value, "RateLimit-Reset": reset})
    assert len(waits) == 1 and expected - 1.5 <= waits[0] <= expected


def test_the_api_goes_through_the_proxy_as_the_registry_does(
    capsys, monkeypatch, gitlab, unique_repo
):
    """The API named by a host that is not loopback, so that HTTPS_PROXY applies; the
    proxy sends it to the fake. NO_PROXY naming the host sends it direct (and DNS fails)."""
    path = project(gitlab, unique_repo)
    push(gitlab.registry, path, oci_image(f"{unique_repo}-p"), "old", "keep")
    api_host = "gitlab.example.test:" + gitlab.base.rsplit(":", 1)[1]
    with ForwardProxy(gitlab.base.removeprefix("http://")) as proxy:
        through_proxy(monkeypatch, proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        gitlab.base = f"http://{api_host}"
        result = cleanup(capsys, gitlab, path, "--delete-tag", "old")
        assert result.code == 0, result.err
        assert gitlab.tags_of(path) == ["keep"]
        assert proxy.seen and all(s.target.startswith(f"http://{api_host}/") for s in proxy.seen)
        seen = len(proxy.seen)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,.example.test")
        bypassed = cleanup(capsys, gitlab, path, "--delete-tag", "keep")
    assert bypassed.code == 1 and "host name not found" in bypassed.err
    assert len(proxy.seen) == seen
    assert gitlab.tags_of(path) == ["keep"]


def _tls_context(tmp_path, name: str) -> tuple[ssl.SSLContext, str, str]:
    from tests.bed.tls import self_signed

    directory = tmp_path / name
    directory.mkdir()
    cert, key = self_signed(directory, "127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, str(cert), str(key)


def test_certs_d_ca_and_client_certificate_serve_the_api(
    capsys, monkeypatch, tmp_path, gitlab_over_tls, unique_repo
):
    gitlab, client_cert, client_key, ca = gitlab_over_tls
    path = project(gitlab, unique_repo)
    push(gitlab.registry, path, oci_image(f"{unique_repo}-c"), "old", "keep")
    certs_d = tmp_path / "certs.d"
    host_dir = certs_d / gitlab.base.removeprefix("https://")
    monkeypatch.setenv("PORTSIDE_CERTS_D", str(certs_d))

    untrusted = cleanup(capsys, gitlab, path, "--delete-tag", "old")
    assert untrusted.code == 2 and "certificate verify failed" in untrusted.err
    host_dir.mkdir(parents=True)
    (host_dir / "ca.crt").write_bytes(Path(ca).read_bytes())
    no_client = cleanup(capsys, gitlab, path, "--delete-tag", "old")
    assert no_client.code != 0 and gitlab.tags_of(path) == ["keep", "old"]
    (host_dir / "client.cert").write_bytes(Path(client_cert).read_bytes())
    (host_dir / "client.key").write_bytes(Path(client_key).read_bytes())
    result = cleanup(capsys, gitlab, path, "--delete-tag", "old")
    assert result.code == 0, result.err
    assert gitlab.tags_of(path) == ["keep"]


@pytest.fixture
def gitlab_over_tls(monkeypatch, tmp_path, docker_config, registry_nodelete):
    """The fake over HTTPS with a self-signed certificate, requiring a client certificate."""
    server, ca, _ = _tls_context(tmp_path, "server")
    _, client_cert, client_key = _tls_context(tmp_path, "client")
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_verify_locations(client_cert)
    fake = FakeGitLab(registry_nodelete, tokens={DEVELOPER: "developer"})
    for name in (*GITLAB_ENV, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    with serve_json_api(fake.answer, tls=server) as url:
        fake.base = url
        yield fake, client_cert, client_key, ca


def test_the_token_never_shows_even_when_gitlab_echoes_it(capsys, monkeypatch, gitlab, unique_repo):
    canary = f"canary-gitlab-echo-{uuid.uuid4().hex}"
    path = project(gitlab, unique_repo)
    push(gitlab.registry, path, oci_image(f"{unique_repo}-e"), "old")
    answer = gitlab.answer

    def echoing(method, target, headers, body):
        if headers.get("PRIVATE-TOKEN") == canary:
            return 401, {"message": f"401 Unauthorized: token {canary} is revoked at {target}"}
        return answer(method, target, headers, body)

    gitlab.answer = echoing  # type: ignore[method-assign]
    with serve_json_api(echoing) as url:
        gitlab.base = url
        monkeypatch.setenv("PORTSIDE_DEBUG", "true")  # tracebacks too
        result = cleanup(capsys, gitlab, path, "--delete-tag", "old", token=canary)
    assert result.code == 3
    assert "refused the token from --repo-gitlab-token (HTTP 401): 401 Unauthorized" in result.err
    assert canary not in result.out + result.err
    assert "***" in result.err
    assert "Traceback" in result.err  # --debug: the traceback shows, the token does not
    assert gitlab.tags_of(path) == ["old"]


@pytest.mark.parametrize("how", ["redirect", "next-page"])
def test_the_token_does_not_follow_a_redirect_or_a_next_page_to_another_host(
    capsys, gitlab, unique_repo, how
):
    path = project(gitlab, unique_repo)
    push(gitlab.registry, path, oci_image(f"{unique_repo}-r"), "a", "b", "c")
    with ScriptedServer() as elsewhere:
        elsewhere.always("/", Answer(200, b"[]"))
        answer = gitlab.answer

        def leading_away(method, target, headers, body):
            status, doc, *more = answer(method, target, headers, body)
            if how == "redirect" and target.split("?")[0].endswith("/registry/repositories"):
                return 302, None, {"Location": f"http://{elsewhere.host}/api/v4/moved"}
            if how == "next-page" and "/tags?" in target and more and "Link" in more[0]:
                more[0]["Link"] = f'<http://{elsewhere.host}/page2>; rel="next"'
            return (status, doc, *more)

        with serve_json_api(leading_away) as url:
            gitlab.base = url
            result = run_tags(capsys, gitlab, path)
    # Redirected: an empty listing, no such repository; next page: an empty last page.
    assert result.code == (1 if how == "redirect" else 0), result.err
    assert elsewhere.seen
    for seen in elsewhere.seen:
        assert DEVELOPER not in json.dumps(seen.headers)
        assert not {"private-token", "job-token"} & {k.lower() for k in seen.headers}


def run_tags(capsys, gitlab, path):
    from tests.cli import run_cli

    return run_cli(
        capsys, "tags", f"{gitlab.registry.host}/{path}", "--repo-container-registry", "gitlab",
        "--repo-gitlab-url", gitlab.base, "--repo-gitlab-token", DEVELOPER,
    )  # fmt: skip


def test_tag_details_give_digest_and_the_images_time_concurrently(gitlab, unique_repo):
    path = project(gitlab, unique_repo)
    built = dt.datetime(2021, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)
    image = push(gitlab.registry, path, oci_image(f"{unique_repo}-d", created=built), "a", "b")
    index = push(gitlab.registry, path, oci_index(f"{unique_repo}-i"), "multi")
    driver = driver_for(
        gitlab.registry.host,
        RegistryOptions(
            implementation="gitlab",
            credential_options={"--repo-gitlab-url": gitlab.base, "--repo-gitlab-token": DEVELOPER},
        ),
    )
    repository = parse_repository(f"{gitlab.registry.host}/{path}")
    described = driver.describe_tags(repository, ["a", "b", "multi", "gone"])
    assert [(t.tag, t.digest, t.created) for t in described] == [
        ("a", image, built), ("b", image, built), ("multi", index, None),
    ]  # fmt: skip
    details = [c for c in gitlab.calls if c.method == "GET" and "/tags/" in c.path]
    assert len(details) == 4  # one per tag asked for, the gone one included
    assert "GitLab's created_at" in driver.cleanup_notes(repository)[0]
    assert deletes(gitlab) == []
