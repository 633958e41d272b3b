"""The `dockerhub` driver: tags through a fake Docker Hub API, manifests from a real registry.

Docker Hub is two services: the registry (Registry v2, for manifests and blobs) and the Hub
API at hub.docker.com (tag listing with digests and push times, tag deletion). Here the
test bed's docker-registry plays the registry, forced to `dockerhub` with
`--repo-container-registry`, and `FakeHub` plays the Hub API, reached through
PORTSIDE_DOCKER_HUB_API. A repository `test/abc` on the registry is the Hub repository
with namespace `test` and name `abc`.

FakeHub answers in the documented shapes: the login's `{"token"}`, pages of
`{"count", "next", "previous", "results"}` with absolute `next` URLs, 204 for a delete,
errors as `{"detail"}` or `{"message"}`. A personal access token without the delete scope
logs in but is refused (401) on every delete, as Docker Hub refuses it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from drivers.reference import Reference, parse_repository
from drivers.registries import RegistryOptions, client_for, driver_for
from tests.bed import oci_image
from tests.bed.registry import RunningRegistry
from tests.cli import run_cli
from tests.forwardproxy import ForwardProxy
from tests.native_support import (
    check_cleanup_by_push_time,
    manifest_exists,
    push,
    serve_json_api,
    through_proxy,
)
from tests.scripted import json_answer

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
USER = "hubuser"
PASSWORD = f"canary-hub-password-{uuid.uuid4().hex}"
READ_ONLY_PAT = f"dckr_pat_canary-read-only-{uuid.uuid4().hex}"


def hub_time(when: dt.datetime) -> str:
    """The Hub API's timestamps: RFC 3339 with microseconds and Z."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Call:
    method: str
    path: str
    authorization: str


@dataclass
class FakeHub:
    """Docker Hub's API for one account: `USER` with `PASSWORD` (may delete) or
    `READ_ONLY_PAT` (may only read). `tags[(namespace, name)][tag] = (digest, pushed)`."""

    page_size: int = 2  # smaller than the Hub's 100, so that a few tags take several pages
    tags: dict[tuple[str, str], dict[str, tuple[str, dt.datetime]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    throttle: int = 0  # answer this many next requests with 429
    jwts: dict[str, bool] = field(default_factory=dict)  # JWT -> may delete
    url: str = ""

    def push(self, path: str, tag: str, digest: str, age: dt.timedelta) -> None:
        namespace, name = path.split("/")
        self.tags.setdefault((namespace, name), {})[tag] = (digest, NOW - age)

    def tags_of(self, path: str) -> dict[str, str]:
        namespace, name = path.split("/")
        return {t: d for t, (d, _) in self.tags.get((namespace, name), {}).items()}

    def answer(self, method: str, target: str, headers, body: bytes) -> tuple[int, dict | None]:
        parts = urlsplit(target)
        self.calls.append(Call(method, parts.path, headers.get("Authorization") or ""))
        if self.throttle:
            self.throttle -= 1
            return 429, {"detail": "rate limit exceeded"}
        if method == "POST" and parts.path == "/v2/users/login":
            return self._login(json.loads(body))
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if segments[:2] != ["v2", "repositories"] or len(segments) < 5 or segments[4] != "tags":
            return 404, {"message": "page not found"}
        repo = self.tags.get((segments[2], segments[3]))
        auth = headers.get("Authorization") or ""
        may_delete = self.jwts.get(auth.removeprefix("Bearer "))
        if auth and may_delete is None:
            return 401, {"detail": "Invalid JWT"}
        if method == "GET" and len(segments) == 5:
            if repo is None:
                return 404, {"message": "object not found", "errinfo": {}}
            return 200, self._page(parts.path, parse_qs(parts.query), repo)
        if method == "DELETE" and len(segments) == 6:
            if not auth:
                return 401, {"detail": "Authentication credentials were not provided."}
            if not may_delete:
                return 401, {"detail": "access to the resource is forbidden with this token"}
            if repo is None or segments[5] not in repo:
                return 404, {"message": f"httperror 404: tag '{segments[5]}' not found"}
            del repo[segments[5]]
            return 204, None
        return 405, {"detail": "Method not allowed"}

    def _login(self, doc: dict) -> tuple[int, dict]:
        if doc.get("username") != USER or doc.get("password") not in (PASSWORD, READ_ONLY_PAT):
            return 401, {"detail": "Incorrect authentication credentials"}
        jwt = f"jwt-{uuid.uuid4().hex}"
        self.jwts[jwt] = doc["password"] == PASSWORD
        return 200, {"token": jwt}

    def _page(self, path: str, query: dict[str, list[str]], repo) -> dict:
        size = min(int(query.get("page_size", ["10"])[0]), self.page_size)
        page = int(query.get("page", ["1"])[0])
        ordered = sorted(repo.items(), key=lambda item: item[1][1], reverse=True)
        chunk = ordered[(page - 1) * size : page * size]
        more = page * size < len(ordered)
        return {
            "count": len(ordered),
            "next": f"{self.url}{path}?page={page + 1}&page_size={size}" if more else None,
            "previous": f"{self.url}{path}?page={page - 1}&page_size={size}" if page > 1 else None,
            "results": [
                {
                    "creator": 1,
                    "id": abs(hash(tag)) % 10**8,
                    "images": [],
                    "last_updated": hub_time(pushed),
                    "last_updater_username": USER,
                    "name": tag,
                    "repository": 1,
                    "full_size": 1024,
                    "v2": True,
                    "tag_status": "active",
                    "tag_last_pulled": None,
                    "tag_last_pushed": hub_time(pushed),
                    "media_type": "application/vnd.oci.image.manifest.v1+json",
                    "content_type": "image",
                    "digest": digest,
                }
                for tag, (digest, pushed) in chunk
            ],
        }


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    fake = FakeHub()
    with serve_json_api(fake.answer) as url:
        fake.url = url
        for name in (
            "PORTSIDE_REPO_DOCKER_HUB_TOKEN",
            "PORTSIDE_REPO_DOCKER_HUB_USERNAME",
            "PORTSIDE_REPO_DOCKER_HUB_PASSWORD",
            "PORTSIDE_REPO_CONTAINER_REGISTRY",
        ):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("PORTSIDE_DOCKER_HUB_API", fake.url)
        yield fake


def as_user(monkeypatch: pytest.MonkeyPatch, password: str = PASSWORD) -> None:
    monkeypatch.setenv("PORTSIDE_REPO_DOCKER_HUB_USERNAME", USER)
    monkeypatch.setenv("PORTSIDE_REPO_DOCKER_HUB_PASSWORD", password)


def delete_ci_tags(capsys: pytest.CaptureFixture[str], registry: RunningRegistry, path: str):
    """`portside cleanup` of the `ci-*` tags, forced to the `dockerhub` driver."""
    return run_cli(
        capsys, "cleanup", f"{registry.host}/{path}", "--repo-container-registry", "dockerhub",
        "--delete-tag", "ci-.*",
    )  # fmt: skip


def hub_driver(registry: RunningRegistry):
    return driver_for(registry.host, RegistryOptions(implementation="dockerhub"))


def test_lists_every_page_with_digests_and_push_times(
    monkeypatch, docker_config, hub, registry_plain, unique_repo
):
    as_user(monkeypatch)
    ages = {f"v{i}": dt.timedelta(hours=i) for i in range(5)}
    for tag, age in ages.items():
        hub.push(unique_repo, tag, f"sha256:{tag * 32}"[:71], age)
    hub.throttle = 1  # the transport waits out a 429 (Retry-After: 0) and asks again

    driver = hub_driver(registry_plain)
    assert driver.name == "dockerhub"
    listed = driver.list_tags(parse_repository(f"{registry_plain.host}/{unique_repo}"))

    assert [t.tag for t in listed] == ["v0", "v1", "v2", "v3", "v4"]  # newest first, 3 pages
    assert {t.tag: t.digest for t in listed} == hub.tags_of(unique_repo)
    assert {t.tag: t.created for t in listed} == {t: NOW - age for t, age in ages.items()}
    # The login is throttled once and tried again; then pages 1, 2 and 3, with the JWT.
    assert [c.method for c in hub.calls] == ["POST", "POST", "GET", "GET", "GET"]
    pages = hub.calls[2:]
    assert all(c.authorization.startswith("Bearer jwt-") for c in pages)


def test_delete_tag_removes_only_that_tag(
    monkeypatch, docker_config, hub, registry_plain, unique_repo
):
    as_user(monkeypatch)
    shared = push(
        registry_plain, hub, unique_repo, oci_image(f"{unique_repo}-a"),
        old=dt.timedelta(days=9), keep=dt.timedelta(days=8),
    )  # fmt: skip
    driver = hub_driver(registry_plain)
    repository = parse_repository(f"{registry_plain.host}/{unique_repo}")

    driver.delete_tag(repository, "old")

    assert hub.tags_of(unique_repo) == {"keep": shared}
    deletes = [c for c in hub.calls if c.method == "DELETE"]
    assert [c.path for c in deletes] == [f"/v2/repositories/{unique_repo}/tags/old/"]
    # The Hub API untags; the image stays in the registry for the tag that is left.
    assert manifest_exists(registry_plain, unique_repo, shared)
    assert driver.resolve(Reference(repository, tag="keep")).digest == shared


def test_an_expired_jwt_is_renewed_with_a_new_login(
    monkeypatch, docker_config, hub, registry_plain, unique_repo
):
    as_user(monkeypatch)
    hub.push(unique_repo, "a", "sha256:" + "a" * 64, dt.timedelta(days=1))
    hub.push(unique_repo, "b", "sha256:" + "b" * 64, dt.timedelta(days=1))
    driver = hub_driver(registry_plain)
    repository = parse_repository(f"{registry_plain.host}/{unique_repo}")
    driver.delete_tag(repository, "a")
    hub.jwts.clear()  # the Hub forgets the JWT: it expired

    driver.delete_tag(repository, "b")

    assert hub.tags_of(unique_repo) == {}
    methods = [(c.method, c.path.rsplit("/", 2)[-2]) for c in hub.calls]
    assert methods == [("POST", "users"), ("DELETE", "a"), ("DELETE", "b"), ("POST", "users"),
                       ("DELETE", "b")]  # fmt: skip


def test_cleanup_dry_run_then_real_run_by_push_time(
    capsys, monkeypatch, docker_config, hub, registry_plain, unique_repo
):
    as_user(monkeypatch)
    check_cleanup_by_push_time(capsys, registry_plain, hub, unique_repo, "dockerhub", NOW)


def test_read_only_token_is_exit_3_with_the_hint_and_deletes_nothing(
    capsys, monkeypatch, docker_config, hub, registry_plain, unique_repo
):
    as_user(monkeypatch, READ_ONLY_PAT)
    r, path = registry_plain, unique_repo
    push(r, hub, path, oci_image(f"{path}-a"), **{"ci-1": dt.timedelta(days=20)})
    push(r, hub, path, oci_image(f"{path}-b"), **{"ci-2": dt.timedelta(days=19)})

    result = delete_ci_tags(capsys, r, path)

    assert result.code == 3, result.text
    assert "refused to delete" in result.err
    assert "personal access token cannot delete" in result.err
    assert set(hub.tags_of(path)) == {"ci-1", "ci-2"}
    assert READ_ONLY_PAT not in result.text
    assert not any(jwt in result.text for jwt in hub.jwts)


@pytest.mark.parametrize("how", ["username-password", "docker-config", "token"])
def test_secrets_never_appear_in_output(
    capsys, caplog, monkeypatch, docker_config, hub, registry_plain, unique_repo, how
):
    """Each source of credentials, in a successful run and in a refused one, with
    tracebacks (PORTSIDE_DEBUG) and debug logging on."""
    monkeypatch.setenv("PORTSIDE_DEBUG", "1")
    caplog.set_level(logging.DEBUG)
    r, path = registry_plain, unique_repo
    push(r, hub, path, oci_image(f"{path}-a"), **{"ci-1": dt.timedelta(days=20)})
    wrong = f"canary-wrong-{uuid.uuid4().hex}"

    def use(password: str) -> None:
        if how == "username-password":
            as_user(monkeypatch, password)
        elif how == "docker-config":
            # Docker Hub's entry in a Docker config, as `docker login` writes it; the forced
            # implementation reads the local registry's entry the same way.
            (docker_config / "config.json").write_text(
                json.dumps({"auths": {r.host: {"username": USER, "password": password}}})
            )
        else:
            jwt = hub._login({"username": USER, "password": password})[1].get("token")
            monkeypatch.setenv("PORTSIDE_REPO_DOCKER_HUB_TOKEN", jwt or password)

    use(wrong)
    refused = delete_ci_tags(capsys, r, path)
    assert refused.code == 3, refused.text
    assert wrong not in refused.text + caplog.text
    assert hub.tags_of(path) == {"ci-1": hub.tags_of(path)["ci-1"]}

    use(PASSWORD)
    done = delete_ci_tags(capsys, r, path)
    assert done.code == 0, done.text
    assert hub.tags_of(path) == {}
    for secret in (PASSWORD, *hub.jwts):
        assert secret not in done.text + refused.text + caplog.text


def test_missing_credentials_say_how_to_give_them(
    capsys, docker_config, hub, registry_plain, unique_repo
):
    r, path = registry_plain, unique_repo
    push(r, hub, path, oci_image(f"{path}-a"), **{"ci-1": dt.timedelta(days=20)})
    result = delete_ci_tags(capsys, r, path)
    assert result.code == 3, result.text
    assert "PORTSIDE_REPO_DOCKER_HUB_TOKEN" in result.err
    assert set(hub.tags_of(path)) == {"ci-1"}


def test_registries_reports_dockerhub_as_native(capsys):
    table = {row["name"]: row for row in json.loads(run_cli(capsys, "registries", "--json").out)}
    assert table["dockerhub"]["native"] is True
    assert table["dockerhub"]["status"] == "native"
    detected = json.loads(run_cli(capsys, "registries", "--json", "--detect", "docker.io").out)
    assert detected["name"] == "dockerhub" and detected["status"] == "native"


def test_the_credential_options_win_over_their_env_twins(
    capsys, monkeypatch, docker_config, hub, registry_plain, unique_repo
):
    as_user(monkeypatch, READ_ONLY_PAT)  # the env twins name a token that cannot delete
    r, path = registry_plain, unique_repo
    push(r, hub, path, oci_image(f"{path}-a"), **{"ci-1": dt.timedelta(days=20)})
    push(r, hub, path, oci_image(f"{path}-b"), latest=dt.timedelta(days=30))

    result = run_cli(
        capsys, "cleanup", f"{r.host}/{path}", "--repo-container-registry", "dockerhub",
        "--repo-docker-hub-username", USER, "--repo-docker-hub-password", PASSWORD,
        "--delete-tag", "ci-.*",
    )  # fmt: skip

    assert result.code == 0, result.text
    assert set(hub.tags_of(path)) == {"latest"}
    assert PASSWORD not in result.text and READ_ONLY_PAT not in result.text


def test_the_hub_api_goes_through_proxies_and_honours_insecure_registry(
    capsys, monkeypatch, docker_config, tls_server
):
    """The Hub API (hub.docker.com) has a transport of its own: HTTPS through the proxy's
    tunnel, its certificate unchecked because --insecure-registry names that host (the
    tunnel ends at a local server with a self-signed certificate)."""
    monkeypatch.delenv("PORTSIDE_DOCKER_HUB_API", raising=False)
    for name in ("TOKEN", "USERNAME", "PASSWORD"):
        monkeypatch.delenv(f"PORTSIDE_REPO_DOCKER_HUB_{name}", raising=False)
    pushed = hub_time(NOW - dt.timedelta(days=1))
    tag = {"name": "v1", "digest": "sha256:" + "1" * 64, "tag_last_pushed": pushed}
    page = {"count": 1, "next": None, "previous": None, "results": [tag]}
    tls_server.always("/v2/repositories/ns/app/tags", json_answer(page))
    with ForwardProxy(tls_server.host) as proxy:
        through_proxy(monkeypatch, proxy.url)
        args = ("tags", "docker.io/ns/app", "--insecure-registry", "hub.docker.com", "--json")
        result = run_cli(capsys, *args)

    assert result.code == 0, result.text
    assert json.loads(result.out) == ["v1"]
    assert {(s.method, s.target) for s in proxy.seen} == {("CONNECT", "hub.docker.com:443")}
    (listing,) = tls_server.requests_to("/v2/repositories/")
    assert "Authorization" not in listing.headers  # anonymous: no credentials were given


@pytest.mark.parametrize("forced", [None, "default"])
def test_docker_hubs_registry_is_served_by_registry_1_whatever_driver_is_chosen(
    monkeypatch, docker_config, tls_server, forced
):
    """docker.io names Docker Hub; its /v2/ is on registry-1.docker.io (the `dockerhub`
    entry's `v2_hosts`), for pulls and copies too, which use no driver."""
    options = RegistryOptions(insecure_registries=frozenset({"docker.io"}), implementation=forced)
    with ForwardProxy(tls_server.host) as proxy:
        through_proxy(monkeypatch, proxy.url)
        client = client_for("docker.io", options)
        assert client.ping().status == 200

    assert client.registry == "docker.io"  # credentials and messages name docker.io
    assert {(s.method, s.target) for s in proxy.seen} == {("CONNECT", "registry-1.docker.io:443")}
