"""The `harbor` driver: tags through a fake Harbor API, manifests from a real registry.

Harbor serves the registry (Registry v2, for manifests and blobs) and its own API v2.0
(artifacts with their tags and push times, tag deletion). Here the test bed's
docker-registry plays the registry, forced to `harbor` with `--repo-container-registry`,
and `FakeHarbor` plays the API, reached through PORTSIDE_HARBOR_API. A repository
`test/abc` on the registry is project `test`, repository `abc`.

FakeHarbor answers in the documented shapes: JSON arrays of artifacts
(`{"digest", "push_time", "tags": [{"name", "push_time"}] | null}`) paged by `page` and
`page_size`, with `X-Total-Count` and `Link` headers; 200 for a tag delete; errors as
`{"errors": [{"code", "message"}]}`. Its router decodes the path once before splitting it,
as Harbor's does, so a nested repository name is found only when encoded twice. Projects
are private: every call needs HTTP Basic credentials; a Developer may read, not delete.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
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
from tests.faultproxy import FaultProxy
from tests.native_support import manifest_exists, push  # the same for every fake API
from tests.scripted import Answer, ScriptedServer, Seen

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
MAINTAINER = "robot$ci+cleanup"
PASSWORD = f"canary-harbor-password-{uuid.uuid4().hex}"
DEVELOPER = "dev"
DEVELOPER_PASSWORD = f"canary-harbor-developer-{uuid.uuid4().hex}"
API = "/api/v2.0"


def harbor_time(when: dt.datetime) -> str:
    """Harbor's timestamps: RFC 3339 with milliseconds and Z."""
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def harbor_error(status: int, code: str, message: str) -> Answer:
    doc = {"errors": [{"code": code, "message": message}]}
    return Answer(status, json.dumps(doc).encode())


@dataclass
class Artifact:
    digest: str
    pushed: dt.datetime
    tags: dict[str, dt.datetime] = field(default_factory=dict)  # tag -> its push time


@dataclass
class FakeHarbor:
    """Harbor's API v2.0 with two accounts: `MAINTAINER` (may delete tags) and `DEVELOPER`
    (may only read). `repos[(project, name)]` lists the artifacts, newest first."""

    page_size: int = 2  # smaller than Harbor's 100, so that a few artifacts take pages
    repos: dict[tuple[str, str], list[Artifact]] = field(default_factory=dict)
    calls: list[Seen] = field(default_factory=list)

    def push(self, path: str, tag: str, digest: str, age: dt.timedelta) -> None:
        project, _, name = path.partition("/")
        artifacts = self.repos.setdefault((project, name), [])
        for artifact in artifacts:
            artifact.tags.pop(tag, None)  # a tag moves to the newly pushed artifact
        artifact = next((a for a in artifacts if a.digest == digest), None)
        if artifact is None:
            artifact = Artifact(digest, NOW - age)
            artifacts.append(artifact)
        artifact.tags[tag] = NOW - age
        artifacts.sort(key=lambda a: a.pushed, reverse=True)

    def tags_of(self, path: str) -> dict[str, str]:
        project, _, name = path.partition("/")
        return {t: a.digest for a in self.repos.get((project, name), []) for t in a.tags}

    def answer(self, seen: Seen) -> Answer:
        self.calls.append(seen)
        parts = urlsplit(seen.path)
        # Harbor's router decodes the path once, then splits it: `a%2Fb` would be two
        # segments, `a%252Fb` is the one segment `a%2Fb`, which the handler decodes again.
        segments = [unquote(s) for s in unquote(parts.path).strip("/").split("/")]
        if segments[:3] != ["api", "v2.0", "projects"] or len(segments) < 4:
            return harbor_error(404, "NOT_FOUND", "not found")
        role = self._role(seen.headers.get("Authorization") or "")
        if role is None:
            return harbor_error(401, "UNAUTHORIZED", "unauthorized")
        if len(segments) < 7 or segments[4] != "repositories" or segments[6] != "artifacts":
            return harbor_error(404, "NOT_FOUND", "not found")
        artifacts = self.repos.get((segments[3], segments[5]))
        if seen.method == "GET" and len(segments) == 7:
            if artifacts is None:
                return harbor_error(404, "NOT_FOUND", f"repository {segments[5]} not found")
            return self._page(parts.path, parse_qs(parts.query), artifacts)
        if seen.method == "DELETE" and len(segments) == 10 and segments[8] == "tags":
            if role != "maintainer":
                return harbor_error(403, "FORBIDDEN", "forbidden")
            reference, tag = segments[7], segments[9]
            found = next((a for a in artifacts or [] if a.digest == reference), None)
            if found is None:
                return harbor_error(404, "NOT_FOUND", f"artifact {reference} not found")
            if tag not in found.tags:
                return harbor_error(404, "NOT_FOUND", f"tag {tag} not found")
            del found.tags[tag]  # the artifact stays, with its other tags
            return Answer(200, b"")
        return harbor_error(405, "METHOD_NOT_ALLOWED", "method not allowed")

    @staticmethod
    def _role(authorization: str) -> str | None:
        scheme, _, encoded = authorization.partition(" ")
        if scheme != "Basic":
            return None
        given = base64.b64decode(encoded).decode()
        return {
            f"{MAINTAINER}:{PASSWORD}": "maintainer",
            f"{DEVELOPER}:{DEVELOPER_PASSWORD}": "developer",
        }.get(given)

    def _page(self, path: str, query: dict[str, list[str]], artifacts: list[Artifact]) -> Answer:
        size = min(int(query.get("page_size", ["10"])[0]), self.page_size)
        page = int(query.get("page", ["1"])[0])
        chunk = artifacts[(page - 1) * size : page * size]
        links = []
        if page > 1:
            links.append(f'<{path}?page={page - 1}&page_size={size}>; rel="prev"')
        if page * size < len(artifacts):
            links.append(f'<{path}?page={page + 1}&page_size={size}>; rel="next"')
        body = [
            {
                "id": abs(hash(a.digest)) % 10**6,
                "type": "IMAGE",
                "media_type": "application/vnd.oci.image.config.v1+json",
                "manifest_media_type": "application/vnd.oci.image.manifest.v1+json",
                "digest": a.digest,
                "size": 1024,
                "push_time": harbor_time(a.pushed),
                "pull_time": "0001-01-01T00:00:00.000Z",
                "tags": [
                    {"id": 1, "name": t, "push_time": harbor_time(p), "immutable": False}
                    for t, p in a.tags.items()
                ]
                or None,
            }
            for a in chunk
        ]
        headers = {"Content-Type": "application/json", "X-Total-Count": str(len(artifacts))}
        if links:
            headers["Link"] = ", ".join(links)
        return Answer(200, json.dumps(body).encode(), headers)


class FakeHarborServer(ScriptedServer):
    """The scripted server, answering every request from a `FakeHarbor`."""

    def __init__(self, fake: FakeHarbor) -> None:
        self.fake = fake  # before the server thread starts
        super().__init__()

    def _next(self, seen: Seen) -> Answer:
        return self.fake.answer(seen)


@pytest.fixture
def harbor(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHarbor]:
    fake = FakeHarbor()
    for name in (
        "PORTSIDE_REPO_HARBOR_USERNAME",
        "PORTSIDE_REPO_HARBOR_PASSWORD",
        "PORTSIDE_REPO_CONTAINER_REGISTRY",
    ):
        monkeypatch.delenv(name, raising=False)
    with FakeHarborServer(fake) as server:
        monkeypatch.setenv("PORTSIDE_HARBOR_API", f"http://{server.host}{API}")
        yield fake


def as_user(
    monkeypatch: pytest.MonkeyPatch, user: str = MAINTAINER, password: str = PASSWORD
) -> None:
    monkeypatch.setenv("PORTSIDE_REPO_HARBOR_USERNAME", user)
    monkeypatch.setenv("PORTSIDE_REPO_HARBOR_PASSWORD", password)


def harbor_driver(registry: RunningRegistry):
    return driver_for(registry.host, RegistryOptions(implementation="harbor"))


def cleanup(capsys: pytest.CaptureFixture[str], registry: RunningRegistry, path: str, *args: str):
    """`portside cleanup`, forced to the `harbor` driver."""
    return run_cli(
        capsys, "cleanup", f"{registry.host}/{path}", "--repo-container-registry", "harbor", *args
    )


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
def test_lists_every_page_with_digests_and_push_times(
    monkeypatch, docker_config, harbor, registry_plain, unique_repo, nested
):
    as_user(monkeypatch, DEVELOPER, DEVELOPER_PASSWORD)  # reading needs no delete right
    path = f"{unique_repo}/team/app" if nested else unique_repo
    ages = {f"v{i}": dt.timedelta(hours=i) for i in range(5)}
    for tag, age in ages.items():
        harbor.push(path, tag, f"sha256:{tag * 32}"[:71], age)
    harbor.push(path, "also-v1", "sha256:" + ("v1" * 32), dt.timedelta(hours=6))

    driver = harbor_driver(registry_plain)
    assert driver.name == "harbor"
    listed = driver.list_tags(parse_repository(f"{registry_plain.host}/{path}"))

    assert {t.tag: t.digest for t in listed} == harbor.tags_of(path)
    assert len(listed) == 6
    assert {t.tag: t.created for t in listed} == {
        **{t: NOW - age for t, age in ages.items()},
        "also-v1": NOW - dt.timedelta(hours=6),
    }
    # Five artifacts, two a page: pages 1, 2 and 3, each with the Basic credentials.
    assert [parse_qs(urlsplit(c.path).query)["page"] for c in harbor.calls] == [["1"], ["2"], ["3"]]
    assert all(c.headers["Authorization"].startswith("Basic ") for c in harbor.calls)
    if nested:
        # The project is the first segment; the rest is the repository, encoded twice.
        project, _, name = path.partition("/")
        raw = urlsplit(harbor.calls[0].path).path
        assert raw.startswith(f"{API}/projects/{project}/repositories/")
        assert name.replace("/", "%252F") in raw


def test_delete_tag_removes_only_that_tag(
    monkeypatch, docker_config, harbor, registry_plain, unique_repo
):
    as_user(monkeypatch)
    shared = push(
        registry_plain, harbor, unique_repo, oci_image(f"{unique_repo}-a"),
        old=dt.timedelta(days=9), keep=dt.timedelta(days=8),
    )  # fmt: skip
    driver = harbor_driver(registry_plain)
    repository = parse_repository(f"{registry_plain.host}/{unique_repo}")

    driver.delete_tag(repository, "old")  # not listed first: the digest comes from a HEAD

    assert harbor.tags_of(unique_repo) == {"keep": shared}
    deletes = [urlsplit(c.path).path for c in harbor.calls if c.method == "DELETE"]
    project, _, name = unique_repo.partition("/")
    assert deletes == [f"{API}/projects/{project}/repositories/{name}/artifacts/{shared}/tags/old"]
    # Harbor untags; the image stays in the registry for the tag that is left.
    assert manifest_exists(registry_plain, unique_repo, shared)
    assert driver.resolve(Reference(repository, tag="keep")).digest == shared


def test_cleanup_dry_run_then_real_run_by_push_time(
    capsys, monkeypatch, docker_config, harbor, registry_plain, unique_repo
):
    """The images were built long ago; Harbor's push times decide what is new."""
    as_user(monkeypatch)
    r, path = registry_plain, unique_repo
    old = push(r, harbor, path, oci_image(f"{path}-old"), **{"ci-1": dt.timedelta(days=20)})
    new = push(r, harbor, path, oci_image(f"{path}-new"), **{"ci-2": dt.timedelta(days=2)})
    push(r, harbor, path, oci_image(f"{path}-rel"), latest=dt.timedelta(days=30))
    args = ("--keep-newer-than", "7d", "--json")

    dry = cleanup(capsys, r, path, *args, "--dry-run")
    assert dry.code == 0, dry.err
    report = json.loads(dry.out)
    assert [e["tag"] for e in report["deleted"]] == ["ci-1"]
    assert report["deleted"][0]["means"] == "untag"  # Harbor deletes by tag; so says the plan
    kept = {e["tag"]: e for e in report["kept"]}
    assert set(kept) == {"ci-2", "latest"}
    assert kept["ci-2"]["time"] == (NOW - dt.timedelta(days=2)).isoformat().replace("+00:00", "Z")
    assert not [c for c in harbor.calls if c.method == "DELETE"]
    assert set(harbor.tags_of(path)) == {"ci-1", "ci-2", "latest"}

    real = cleanup(capsys, r, path, *args)
    assert real.code == 0, real.err
    assert json.loads(real.out)["summary"]["deleted"] == 1
    assert json.loads(real.out)["deleted"][0]["means"] == "untag"
    assert set(harbor.tags_of(path)) == {"ci-2", "latest"}
    assert manifest_exists(r, path, old) and manifest_exists(r, path, new)


def test_developer_may_not_delete_exit_3_with_the_hint_and_nothing_deleted(
    capsys, monkeypatch, docker_config, harbor, registry_plain, unique_repo
):
    as_user(monkeypatch, DEVELOPER, DEVELOPER_PASSWORD)
    r, path = registry_plain, unique_repo
    push(r, harbor, path, oci_image(f"{path}-a"), **{"ci-1": dt.timedelta(days=20)})
    push(r, harbor, path, oci_image(f"{path}-b"), **{"ci-2": dt.timedelta(days=19)})

    result = cleanup(capsys, r, path, "--delete-tag", "ci-.*")

    assert result.code == 3, result.text
    assert "Harbor refused to delete" in result.err
    assert "Maintainer" in result.err and "Delete Tag permission" in result.err
    assert set(harbor.tags_of(path)) == {"ci-1", "ci-2"}
    assert DEVELOPER_PASSWORD not in result.text


@pytest.mark.parametrize("how", ["username-password", "docker-config"])
def test_secrets_never_appear_in_output(
    capsys, caplog, monkeypatch, docker_config, harbor, registry_plain, unique_repo, how
):
    """Each source of credentials, in a refused run and in a successful one, with
    tracebacks (PORTSIDE_DEBUG) and debug logging on."""
    monkeypatch.setenv("PORTSIDE_DEBUG", "1")
    caplog.set_level(logging.DEBUG)
    r, path = registry_plain, unique_repo
    digest = push(r, harbor, path, oci_image(f"{path}-a"), **{"ci-1": dt.timedelta(days=20)})
    wrong = f"canary-wrong-{uuid.uuid4().hex}"

    def use(password: str) -> None:
        if how == "username-password":
            as_user(monkeypatch, MAINTAINER, password)
        else:
            # The Harbor host's entry in the Docker config, as `docker login` writes it.
            (docker_config / "config.json").write_text(
                json.dumps({"auths": {r.host: {"username": MAINTAINER, "password": password}}})
            )

    use(wrong)
    refused = cleanup(capsys, r, path, "--delete-tag", "ci-.*")
    assert refused.code == 3, refused.text
    assert "Harbor refused the credentials" in refused.err
    assert harbor.tags_of(path) == {"ci-1": digest}

    use(PASSWORD)
    done = cleanup(capsys, r, path, "--delete-tag", "ci-.*")
    assert done.code == 0, done.text
    assert harbor.tags_of(path) == {}
    seen = done.text + refused.text + caplog.text
    for secret in (wrong, PASSWORD):
        basic = base64.b64encode(f"{MAINTAINER}:{secret}".encode()).decode()
        assert secret not in seen and basic not in seen


def test_missing_credentials_say_how_to_give_them(
    capsys, docker_config, harbor, registry_plain, unique_repo
):
    r, path = registry_plain, unique_repo
    push(r, harbor, path, oci_image(f"{path}-a"), **{"ci-1": dt.timedelta(days=20)})
    result = cleanup(capsys, r, path, "--delete-tag", "ci-.*")
    assert result.code == 3, result.text
    assert "PORTSIDE_REPO_HARBOR_USERNAME" in result.err
    assert set(harbor.tags_of(path)) == {"ci-1"}


def test_registries_says_harbor_is_native(capsys):
    """`portside registries` (the JSON table is checked in test_cli_registry.py)."""
    detected = run_cli(capsys, "registries", "--detect", "harbor.example.com")
    assert detected.code == 0, detected.text
    assert detected.out.splitlines()[-1] == "status: native"
    assert "harbor.example.com: harbor" in detected.out


def test_the_credential_options_win_over_their_env_twins(
    capsys, monkeypatch, docker_config, harbor, registry_plain, unique_repo
):
    as_user(monkeypatch, DEVELOPER, DEVELOPER_PASSWORD)  # the env twins may not delete
    r, path = registry_plain, unique_repo
    push(r, harbor, path, oci_image(f"{path}-a"), **{"ci-1": dt.timedelta(days=20)})
    push(r, harbor, path, oci_image(f"{path}-b"), latest=dt.timedelta(days=30))

    result = cleanup(
        capsys, r, path, "--repo-harbor-username", MAINTAINER,
        "--repo-harbor-password", PASSWORD, "--delete-tag", "ci-.*",
    )  # fmt: skip

    assert result.code == 0, result.text
    assert set(harbor.tags_of(path)) == {"latest"}
    assert PASSWORD not in result.text and DEVELOPER_PASSWORD not in result.text


def test_tags_on_a_host_whose_realm_is_harbors_is_served_by_the_harbor_driver(
    capsys, caplog, monkeypatch, docker_config, harbor, registry_plain, unique_repo
):
    """No `harbor.` in the host name: the `/v2/` challenge's realm, `…/service/token`, says
    Harbor, and `tags` lists through the Harbor API (the fake), not the registry."""
    as_user(monkeypatch, DEVELOPER, DEVELOPER_PASSWORD)
    harbor.push(unique_repo, "from-the-api", "sha256:" + "a" * 64, dt.timedelta(hours=1))
    caplog.set_level(logging.DEBUG, logger="portside.registries")
    with FaultProxy(registry_plain.host) as proxy:
        realm = f"http://{proxy.host}/service/token"
        challenge = {"WWW-Authenticate": f'Bearer realm="{realm}",service="harbor-registry"'}
        proxy.canned["/v2/"] = (401, challenge, b'{"errors":[{"code":"UNAUTHORIZED"}]}')
        proxy.canned["/service/token"] = (200, {}, b'{"token": "t"}')
        listed = run_cli(capsys, "--debug", "tags", f"{proxy.host}/{unique_repo}")
        pings = [s for s in proxy.seen if s.path == "/v2/"]
    assert listed.code == 0, listed.text
    assert listed.out.split() == ["from-the-api"]
    reason = "the harbor implementation serves it (token realm ends in /service/token)"
    assert f"{proxy.host}: {reason}" in caplog.text
    assert len(pings) == 1
    assert harbor.calls and all(c.path.startswith(API) for c in harbor.calls)
