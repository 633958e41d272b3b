"""The `quay` driver: tags through a fake Quay API, manifests from a real registry.

Quay lists and deletes tags through its API v1 (`/api/v1/repository/{ns}/{repo}/tag/`);
manifests and blobs stay on Registry v2. Here the test bed's docker-registry plays the
registry, forced to `quay` with `--repo-container-registry`, and `FakeQuay` plays the
API, reached through PORTSIDE_QUAY_API. A repository `test/abc` on the registry is the
Quay repository with namespace `test` and name `abc`.

FakeQuay answers in the documented shapes: pages of `{"tags", "page", "has_additional"}`
with `start_ts` in epoch seconds, 204 for a delete, errors as Quay's ApiError
`{"detail", "error_message", "error_type", "title", "status"}`. Public repositories list
without a token; a token with read rights only is refused (403) on every delete.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from drivers.reference import Reference, parse_repository
from drivers.registries import RegistryOptions, driver_for
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

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
WRITE_TOKEN = f"canary-quay-write-{uuid.uuid4().hex}"
READ_TOKEN = f"canary-quay-read-{uuid.uuid4().hex}"
TOKEN_ENV = "PORTSIDE_REPO_QUAY_TOKEN"


def api_error(status: int, kind: str, message: str) -> tuple[int, dict]:
    """Quay's ApiError body."""
    return status, {
        "detail": message,
        "error_message": message,
        "error_type": kind,
        "title": kind,
        "type": f"https://quay.io/api/v1/error/{kind}",
        "status": status,
    }


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str


@dataclass
class FakeQuay:
    """Quay's API v1: `WRITE_TOKEN` may delete, `READ_TOKEN` may only read.
    `tags[path][tag] = (digest, pushed)`."""

    page_size: int = 2  # smaller than Quay's 100, so that a few tags take several pages
    tags: dict[str, dict[str, tuple[str, dt.datetime]]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    throttle: int = 0  # answer this many next requests with 429

    def push(self, path: str, tag: str, digest: str, age: dt.timedelta) -> None:
        self.tags.setdefault(path, {})[tag] = (digest, NOW - age)

    def tags_of(self, path: str) -> dict[str, str]:
        return {t: d for t, (d, _) in self.tags.get(path, {}).items()}

    def answer(self, method: str, target: str, headers, body: bytes) -> tuple[int, dict | None]:
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        auth = headers.get("Authorization") or ""
        self.calls.append(Call(method, parts.path, query, auth))
        if self.throttle:
            self.throttle -= 1
            return api_error(429, "rate_limited", "Too many requests")
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if segments[:3] != ["api", "v1", "repository"] or len(segments) < 6:
            return api_error(404, "not_found", "Not Found")
        if segments[5] != "tag":
            return api_error(404, "not_found", "Not Found")
        token = auth.removeprefix("Bearer ")
        if auth and token not in (WRITE_TOKEN, READ_TOKEN):
            return api_error(401, "invalid_token", "The access token is invalid")
        repo = self.tags.get(f"{segments[3]}/{segments[4]}")
        if method == "GET" and len(segments) == 6:
            if repo is None:
                return api_error(404, "not_found", "Not Found")
            return 200, self._page(query, repo)
        if method == "DELETE" and len(segments) == 7:
            if not auth:
                return api_error(401, "invalid_request", "Requires authentication")
            if token != WRITE_TOKEN:
                return api_error(403, "insufficient_scope", "Unauthorized")
            if repo is None or segments[6] not in repo:
                return api_error(404, "not_found", "Not Found")
            del repo[segments[6]]
            return 204, None
        return api_error(405, "method_not_allowed", "Method Not Allowed")

    def _page(self, query: dict[str, list[str]], repo) -> dict:
        size = min(int(query.get("limit", ["50"])[0]), self.page_size)
        page = int(query.get("page", ["1"])[0])
        ordered = sorted(repo.items(), key=lambda item: item[1][1], reverse=True)
        chunk = ordered[(page - 1) * size : page * size]
        return {
            "tags": [
                {
                    "name": tag,
                    "reversion": False,
                    "start_ts": int(pushed.timestamp()),
                    "manifest_digest": digest,
                    "is_manifest_list": False,
                    "size": 1024,
                    "last_modified": pushed.strftime("%a, %d %b %Y %H:%M:%S -0000"),
                }
                for tag, (digest, pushed) in chunk
            ],
            "page": page,
            "has_additional": page * size < len(ordered),
        }


@pytest.fixture
def quay(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeQuay]:
    fake = FakeQuay()
    with serve_json_api(fake.answer) as url:
        monkeypatch.delenv(TOKEN_ENV, raising=False)
        monkeypatch.delenv("PORTSIDE_REPO_CONTAINER_REGISTRY", raising=False)
        monkeypatch.setenv("PORTSIDE_QUAY_API", f"{url}/api/v1")
        yield fake


def delete_ci_tags(capsys: pytest.CaptureFixture[str], registry: RunningRegistry, path: str):
    """`portside cleanup` of the `ci-*` tags, forced to the `quay` driver."""
    return run_cli(
        capsys, "cleanup", f"{registry.host}/{path}", "--repo-container-registry", "quay",
        "--delete-tag", "ci-.*",
    )  # fmt: skip


def quay_driver(registry: RunningRegistry, **credentials: str):
    given = {"--" + name.replace("_", "-"): value for name, value in credentials.items()}
    options = RegistryOptions(implementation="quay", credential_options=given)
    return driver_for(registry.host, options)


def test_lists_every_page_with_digests_and_push_times(
    monkeypatch, docker_config, quay, registry_plain, unique_repo
):
    monkeypatch.setenv(TOKEN_ENV, READ_TOKEN)
    ages = {f"v{i}": dt.timedelta(hours=i) for i in range(5)}
    for tag, age in ages.items():
        quay.push(unique_repo, tag, f"sha256:{tag * 32}"[:71], age)
    quay.throttle = 1  # the transport waits out a 429 (Retry-After: 0) and asks again

    driver = quay_driver(registry_plain)
    assert driver.name == "quay"
    listed = driver.list_tags(parse_repository(f"{registry_plain.host}/{unique_repo}"))

    assert [t.tag for t in listed] == ["v0", "v1", "v2", "v3", "v4"]  # newest first, 3 pages
    assert {t.tag: t.digest for t in listed} == quay.tags_of(unique_repo)
    assert {t.tag: t.created for t in listed} == {t: NOW - age for t, age in ages.items()}
    pages = quay.calls[1:]  # the first one was throttled
    assert [c.query["page"] for c in pages] == [["1"], ["2"], ["3"]]
    assert all(c.path == f"/api/v1/repository/{unique_repo}/tag/" for c in pages)
    assert all(c.query["limit"] == ["100"] and c.query["onlyActiveTags"] == ["true"] for c in pages)
    assert all(c.authorization == f"Bearer {READ_TOKEN}" for c in quay.calls)


def test_delete_tag_removes_only_that_tag(docker_config, quay, registry_plain, unique_repo):
    shared = push(
        registry_plain, quay, unique_repo, oci_image(f"{unique_repo}-a"),
        old=dt.timedelta(days=9), keep=dt.timedelta(days=8),
    )  # fmt: skip
    driver = quay_driver(registry_plain, repo_quay_token=WRITE_TOKEN)
    repository = parse_repository(f"{registry_plain.host}/{unique_repo}")

    driver.delete_tag(repository, "old")

    assert quay.tags_of(unique_repo) == {"keep": shared}
    deletes = [c for c in quay.calls if c.method == "DELETE"]
    assert [c.path for c in deletes] == [f"/api/v1/repository/{unique_repo}/tag/old"]
    # The Quay API untags; the image stays in the registry for the tag that is left.
    assert manifest_exists(registry_plain, unique_repo, shared)
    assert driver.resolve(Reference(repository, tag="keep")).digest == shared


def test_the_native_credential_wins_over_the_env_twin(
    monkeypatch, docker_config, quay, registry_plain, unique_repo
):
    monkeypatch.setenv(TOKEN_ENV, READ_TOKEN)  # a token that cannot delete
    quay.push(unique_repo, "a", "sha256:" + "a" * 64, dt.timedelta(days=1))
    driver = quay_driver(registry_plain, repo_quay_token=WRITE_TOKEN)
    driver.delete_tag(parse_repository(f"{registry_plain.host}/{unique_repo}"), "a")
    assert quay.tags_of(unique_repo) == {}


def test_cleanup_dry_run_then_real_run_by_push_time(
    capsys, monkeypatch, docker_config, quay, registry_plain, unique_repo
):
    monkeypatch.setenv(TOKEN_ENV, WRITE_TOKEN)
    check_cleanup_by_push_time(capsys, registry_plain, quay, unique_repo, "quay", NOW)


def test_a_token_without_write_permission_is_exit_3_and_deletes_nothing(
    capsys, monkeypatch, docker_config, quay, registry_plain, unique_repo
):
    monkeypatch.setenv(TOKEN_ENV, READ_TOKEN)
    r, path = registry_plain, unique_repo
    push(r, quay, path, oci_image(f"{path}-a"), **{"ci-1": dt.timedelta(days=20)})
    push(r, quay, path, oci_image(f"{path}-b"), **{"ci-2": dt.timedelta(days=19)})

    result = delete_ci_tags(capsys, r, path)

    assert result.code == 3, result.text
    assert "refused to delete" in result.err and f"${TOKEN_ENV}" in result.err
    assert "repo:write" in result.err  # the hint: which permission the token lacks
    assert set(quay.tags_of(path)) == {"ci-1", "ci-2"}
    assert READ_TOKEN not in result.text


@pytest.mark.parametrize("how", ["env", "docker-config"])
def test_the_token_never_appears_in_output(
    capsys, caplog, monkeypatch, docker_config, quay, registry_plain, unique_repo, how
):
    """Each source of the token, in a refused run and a successful one, with tracebacks
    (PORTSIDE_DEBUG) and debug logging on."""
    monkeypatch.setenv("PORTSIDE_DEBUG", "1")
    caplog.set_level(logging.DEBUG)
    r, path = registry_plain, unique_repo
    push(r, quay, path, oci_image(f"{path}-a"), **{"ci-1": dt.timedelta(days=20)})
    wrong = f"canary-quay-wrong-{uuid.uuid4().hex}"

    def use(token: str) -> None:
        if how == "env":
            monkeypatch.setenv(TOKEN_ENV, token)
        else:
            # `docker login -u '$oauthtoken' -p TOKEN`, as Quay documents it.
            entry = {"username": "$oauthtoken", "password": token}
            (docker_config / "config.json").write_text(json.dumps({"auths": {r.host: entry}}))

    use(wrong)
    refused = delete_ci_tags(capsys, r, path)
    assert refused.code == 3, refused.text
    assert "refused the token" in refused.err
    assert set(quay.tags_of(path)) == {"ci-1"}

    use(WRITE_TOKEN)
    done = delete_ci_tags(capsys, r, path)
    assert done.code == 0, done.text
    assert quay.tags_of(path) == {}
    for secret in (wrong, WRITE_TOKEN):
        assert secret not in done.text + refused.text + caplog.text


def test_no_token_says_how_to_give_one(capsys, docker_config, quay, registry_plain, unique_repo):
    r, path = registry_plain, unique_repo
    push(r, quay, path, oci_image(f"{path}-a"), **{"ci-1": dt.timedelta(days=20)})
    result = delete_ci_tags(capsys, r, path)
    assert result.code == 3, result.text
    assert TOKEN_ENV in result.err
    assert set(quay.tags_of(path)) == {"ci-1"}
    assert not [c for c in quay.calls if c.method == "DELETE"]


def test_registries_reports_quay_as_native(capsys):
    table = {row["name"]: row for row in json.loads(run_cli(capsys, "registries", "--json").out)}
    assert table["quay"]["native"] is True
    assert table["quay"]["status"] == "native"
    detected = json.loads(run_cli(capsys, "registries", "--json", "--detect", "quay.io").out)
    assert detected["name"] == "quay" and detected["status"] == "native"


def test_the_token_option_wins_over_its_env_twin(
    capsys, monkeypatch, docker_config, quay, registry_plain, unique_repo
):
    monkeypatch.setenv(TOKEN_ENV, READ_TOKEN)  # the env twin names a token that cannot delete
    r, path = registry_plain, unique_repo
    push(r, quay, path, oci_image(f"{path}-a"), **{"ci-1": dt.timedelta(days=20)})
    push(r, quay, path, oci_image(f"{path}-b"), latest=dt.timedelta(days=30))

    result = run_cli(
        capsys, "cleanup", f"{r.host}/{path}", "--repo-container-registry", "quay",
        "--repo-quay-token", WRITE_TOKEN, "--delete-tag", "ci-.*",
    )  # fmt: skip

    assert result.code == 0, result.text
    assert set(quay.tags_of(path)) == {"latest"}
    assert WRITE_TOKEN not in result.text and READ_TOKEN not in result.text


def test_the_api_on_the_registry_host_is_reached_as_the_registry_is(
    capsys, monkeypatch, docker_config, quay
):
    """Without PORTSIDE_QUAY_API the API is on the registry's host, with the registry's
    scheme: plain HTTP here, since --insecure-registry names the host (a name that is not
    loopback, so the request goes through the proxy, which hands it to the fake)."""
    fake = urlsplit(os.environ["PORTSIDE_QUAY_API"]).netloc
    monkeypatch.delenv("PORTSIDE_QUAY_API", raising=False)
    quay.push("ns/app", "v1", "sha256:" + "1" * 64, dt.timedelta(days=1))
    host = "quay.example.test:5000"
    with ForwardProxy(fake) as proxy:
        through_proxy(monkeypatch, proxy.url)
        result = run_cli(capsys, "tags", f"{host}/ns/app", "--insecure-registry", host, "--json")

    assert result.code == 0, result.text
    assert json.loads(result.out) == ["v1"]
    query = "limit=100&page=1&onlyActiveTags=true"
    assert proxy.seen[-1].target == f"http://{host}/api/v1/repository/ns/app/tag/?{query}"
