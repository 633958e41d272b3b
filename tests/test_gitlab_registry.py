"""The `gitlab` driver: tags through a fake GitLab REST API (tests/gitlab_api_fake.py), in
front of a real docker-registry that holds the images and refuses DELETE to clients.

A tag deleted through the fake is gone from the registry (only that tag), so what these
tests check about the registry is what a GitLab registry would hold afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from urllib.parse import unquote

import pytest

from tests.bed import oci_image, oci_index, push_image_raw
from tests.bed.images import _index_of
from tests.bed.registry import RunningRegistry
from tests.cli import run_cli
from tests.faultproxy import FaultProxy, Seen
from tests.gitlab_api_fake import BULK, DETAIL, FakeGitLab, deletes
from tests.native_support import manifest_exists, serve_json_api
from tests.test_cleanup_registry import cosign_tag, signature

DEVELOPER = f"canary-gitlab-dev-{uuid.uuid4().hex}"
REPORTER = f"canary-gitlab-reporter-{uuid.uuid4().hex}"
JOB = f"canary-gitlab-job-{uuid.uuid4().hex}"
GITLAB_ENV = (
    "PORTSIDE_REPO_GITLAB_TOKEN", "PORTSIDE_REPO_GITLAB_URL", "PORTSIDE_REPO_CONTAINER_REGISTRY",
    "GITLAB_CI", "CI_REGISTRY", "CI_API_V4_URL", "CI_PROJECT_ID", "CI_REGISTRY_IMAGE",
    "CI_JOB_TOKEN",
)  # fmt: skip


@pytest.fixture
def gitlab(monkeypatch, docker_config, registry_nodelete) -> Iterator[FakeGitLab]:
    fake = FakeGitLab(registry_nodelete, tokens={DEVELOPER: "developer", REPORTER: "reporter"})
    for name in GITLAB_ENV:
        monkeypatch.delenv(name, raising=False)
    with serve_json_api(fake.answer) as url:
        fake.base = url
        yield fake


def project(gitlab: FakeGitLab, unique_repo: str, *names: str) -> str:
    """A project `group-…/<unique>` with repositories `names` ("" is the project's own)."""
    path = f"group-{unique_repo}/app"
    gitlab.add_project(path, *(names or ("",)))
    return path


def push(registry: RunningRegistry, path: str, image, *tags: str) -> str:
    for tag in tags:
        push_image_raw(registry.url, path, image, tag)
    return image.digest


def cleanup(
    capsys,
    gitlab: FakeGitLab,
    path: str,
    *args: str,
    token: str | None = DEVELOPER,
    host: str | None = None,
):
    """`portside cleanup` of `path`, through the registry at `host` (a proxy that counts the
    registry's requests) when given."""
    options = ["--repo-container-registry", "gitlab", "--repo-gitlab-url", gitlab.base]
    if token:
        options += ["--repo-gitlab-token", token]
    target = f"{host or gitlab.registry.host}/{path}"
    return run_cli(capsys, "cleanup", target, *options, "--json", *args)


def described(gitlab: FakeGitLab) -> Counter[str]:
    """tag -> how many times its details (`GET …/tags/:name`) were asked for."""
    return Counter(
        unquote(c.path).rsplit("/", 1)[1]
        for c in gitlab.calls
        if c.method == "GET" and DETAIL.search(c.path)
    )


def by_tag(seen: list[Seen], path: str) -> list[tuple[str, str]]:
    """(method, tag) of the manifest requests by tag (not by digest) the registry got."""
    prefix = f"/v2/{path}/manifests/"
    out = []
    for s in seen:
        reference = s.path.split("?")[0].removeprefix(prefix)
        if s.path.startswith(prefix) and not reference.startswith("sha256:"):
            out.append((s.method, reference))
    return out


def configs_read(seen: list[Seen]) -> list[str]:
    """The digests of the blobs the registry sent: image configs (cleanup reads no layer)."""
    return [s.path.rsplit("/", 1)[1] for s in seen if s.method == "GET" and "/blobs/" in s.path]


def test_deletes_only_the_chosen_tags_keeps_shared_digests_and_skips_protected(
    capsys, gitlab, unique_repo
):
    path = project(gitlab, unique_repo)
    shared = push(gitlab.registry, path, oci_image(f"{unique_repo}-s"), "ci-1", "stable")
    lone = push(gitlab.registry, path, oci_image(f"{unique_repo}-l"), "ci-2")
    push(gitlab.registry, path, oci_image(f"{unique_repo}-p"), "ci-3")
    push(gitlab.registry, path, oci_index(f"{unique_repo}-i"), "ci-4", "multi")
    gitlab.protected.add((path, "ci-3"))

    dry = cleanup(capsys, gitlab, path, "--delete-tag", "ci-.*", "--dry-run")
    assert dry.code == 0, dry.err
    assert sorted(e["tag"] for e in json.loads(dry.out)["deleted"]) == [
        "ci-1", "ci-2", "ci-3", "ci-4",
    ]  # fmt: skip
    assert deletes(gitlab) == []

    real = cleanup(capsys, gitlab, path, "--delete-tag", "ci-.*")
    assert real.code == 0, real.err
    report = json.loads(real.out)
    assert sorted(e["tag"] for e in report["deleted"]) == ["ci-1", "ci-2", "ci-4"]
    skipped = {e["tag"]: e["reason"] for e in report["skipped"]}
    assert set(skipped) == {"ci-3"} and "protects this tag" in skipped["ci-3"]
    assert gitlab.tags_of(path) == ["ci-3", "multi", "stable"]
    # Only tags went: the shared image stays for `stable`; an image is GitLab's GC's.
    assert manifest_exists(gitlab.registry, path, shared)
    assert manifest_exists(gitlab.registry, path, lone)
    assert not [p for p in deletes(gitlab) if BULK.search(p)]
    assert "GitLab's garbage collector" in report["notes"][1]
    assert all(c.private_token == DEVELOPER and c.job_token is None for c in gitlab.calls)
    assert DEVELOPER not in real.out + real.err + dry.out + dry.err


@pytest.mark.parametrize("keyset", [True, False], ids=["keyset", "offset"])
def test_lists_every_page(capsys, gitlab, unique_repo, keyset):
    gitlab.keyset = keyset
    path = project(gitlab, unique_repo)
    names = [f"v{i}" for i in range(7)]
    push(gitlab.registry, path, oci_image(f"{unique_repo}-a"), *names)

    result = run_cli(
        capsys, "tags", f"{gitlab.registry.host}/{path}", "--repo-container-registry", "gitlab",
        "--repo-gitlab-url", gitlab.base, "--repo-gitlab-token", REPORTER,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert sorted(result.out.split()) == names
    pages = [c for c in gitlab.calls if c.path.endswith("/tags")]
    assert len(pages) == (4 if keyset else 5)  # 2 a page; offset: the keyset's 405 first
    if keyset:
        assert all(c.query["pagination"] == ["keyset"] for c in pages)
    else:
        assert [c.query.get("page") for c in pages[1:]] == [None, ["2"], ["3"], ["4"]]


def test_nested_repository_found_by_the_longest_project_prefix(capsys, gitlab, unique_repo):
    path = project(gitlab, unique_repo, "", "sub/tool")
    image = f"{path}/sub/tool"
    push(gitlab.registry, image, oci_image(f"{unique_repo}-n"), "old", "keep")

    result = cleanup(capsys, gitlab, image, "--delete-tag", "old")
    assert result.code == 0, result.err
    assert gitlab.tags_of(image) == ["keep"]
    assert gitlab.tags_of(path) == []
    lookups = [c.path for c in gitlab.calls if "/registry/" not in c.path]
    quoted = [f"/api/v4/projects/{p.replace('/', '%2F')}" for p in (image, f"{path}/sub", path)]
    assert lookups[:3] == quoted  # longest first; the third is the project


def test_job_token_in_the_projects_own_pipeline(capsys, monkeypatch, gitlab, unique_repo):
    path = project(gitlab, unique_repo)
    pid = gitlab.projects[path]
    gitlab.job_tokens[JOB] = pid
    push(gitlab.registry, path, oci_image(f"{unique_repo}-j"), "old", "keep")
    host = gitlab.registry.host
    for name, value in {
        "GITLAB_CI": "true", "CI_REGISTRY": host, "CI_API_V4_URL": f"{gitlab.base}/api/v4",
        "CI_PROJECT_ID": str(pid), "CI_REGISTRY_IMAGE": f"{host}/{path}", "CI_JOB_TOKEN": JOB,
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)

    # No --repo-container-registry: in a GitLab job, $CI_REGISTRY is a GitLab registry.
    result = run_cli(capsys, "cleanup", f"{host}/{path}", "--delete-tag", "old", "--json")
    assert result.code == 0, result.err
    assert gitlab.tags_of(path) == ["keep"]
    assert all(c.job_token == JOB and c.private_token is None for c in gitlab.calls)
    assert not [c for c in gitlab.calls if c.path == f"/api/v4/projects/{path.replace('/', '%2F')}"]
    assert JOB not in result.out + result.err


def test_invalid_token_is_refused_with_the_hint(capsys, gitlab, unique_repo):
    path = project(gitlab, unique_repo)
    push(gitlab.registry, path, oci_image(f"{unique_repo}-x"), "old")
    canary = f"canary-gitlab-bad-{uuid.uuid4().hex}"

    result = cleanup(capsys, gitlab, path, "--delete-tag", "old", token=canary)
    assert result.code == 3, result.err
    assert "GitLab API refused the token from --repo-gitlab-token (HTTP 401)" in result.err
    assert "api scope" in result.err
    assert canary not in result.out + result.err
    assert gitlab.tags_of(path) == ["old"]


def test_a_reporter_may_not_delete_nothing_is_deleted(capsys, gitlab, unique_repo):
    path = project(gitlab, unique_repo)
    push(gitlab.registry, path, oci_image(f"{unique_repo}-r"), "old", "older")

    result = cleanup(capsys, gitlab, path, "--delete-tag", "old.*", token=REPORTER)
    assert result.code != 0
    assert "refused to delete" in result.err and "Developer role" in result.err
    assert gitlab.tags_of(path) == ["old", "older"]
    assert [p for p in deletes(gitlab) if "portside-deletion-probe" not in p] == []


def test_unknown_project_and_repository_say_so(capsys, gitlab, unique_repo):
    path = project(gitlab, unique_repo, "other")
    absent = cleanup(capsys, gitlab, f"nowhere-{unique_repo}/x", "--delete-tag", "a")
    assert absent.code == 1
    assert "no GitLab project" in absent.err
    missing = cleanup(capsys, gitlab, f"{path}/not-there", "--delete-tag", "a")
    assert missing.code == 1
    assert "has no container repository with this path" in missing.err


def test_rate_limit_is_waited_out(capsys, gitlab, unique_repo):
    path = project(gitlab, unique_repo)
    push(gitlab.registry, path, oci_image(f"{unique_repo}-t"), "old", "keep")
    gitlab.throttle = 2

    result = cleanup(capsys, gitlab, path, "--delete-tag", "old")
    assert result.code == 0, result.err
    assert gitlab.tags_of(path) == ["keep"]
    assert [c.method for c in gitlab.calls[:3]] == ["GET"] * 3  # the same call, thrice


def test_self_managed_registry_without_an_api_url_is_bad_input(capsys, gitlab, unique_repo):
    path = project(gitlab, unique_repo)
    push(gitlab.registry, path, oci_image(f"{unique_repo}-m"), "a", "b")
    target = f"{gitlab.registry.host}/{path}"
    forced = ("--repo-container-registry", "gitlab")
    result = run_cli(capsys, "cleanup", target, *forced, "--delete-tag", "a")
    assert result.code == 2
    assert "--repo-gitlab-url" in result.err and "self-managed" in result.err
    assert gitlab.tags_of(path) == ["a", "b"]
    # Reading needs no API: the registry lists the tags.
    listed = run_cli(capsys, "tags", target, *forced)
    assert listed.code == 0, listed.err
    assert listed.out.split() == ["a", "b"]
    # A dry run by age too: the images' times come from the registry, with no tag details.
    dry = run_cli(capsys, "cleanup", target, *forced, "--keep-newer-than", "7d", "--dry-run")
    assert dry.code == 0, dry.err
    assert "2 to delete" in dry.out
    assert "tag times are the images' created times" in dry.out
    assert gitlab.calls == []


def test_graphql_push_times_judge_and_rest_lists_nothing(capsys, gitlab, unique_repo):
    gitlab.graphql = True
    path = project(gitlab, unique_repo)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    ages = {"ci-1": 20, "ci-2": 2, "ci-3": 30, "ci-4": 1, "ci-5": 3}
    for tag, days in ages.items():
        push(gitlab.registry, path, oci_image(f"{unique_repo}-{tag}"), tag)
        gitlab.pushed[(path, tag)] = now - dt.timedelta(days=days)

    result = cleanup(capsys, gitlab, path, "--keep-newer-than", "7d")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert sorted(e["tag"] for e in report["deleted"]) == ["ci-1", "ci-3"]
    kept = {e["tag"]: e["time"] for e in report["kept"]}
    assert kept["ci-2"] == (now - dt.timedelta(days=2)).isoformat().replace("+00:00", "Z")
    assert report["notes"][0].startswith("tag times are push times (GitLab's publishedAt")
    assert gitlab.tags_of(path) == ["ci-2", "ci-4", "ci-5"]
    assert not [c for c in gitlab.calls if c.method == "GET" and c.path.endswith("/tags")]
    assert not described(gitlab)  # GraphQL gave digests and times: no detail request
    queries = [c for c in gitlab.calls if c.path == "/api/graphql"]
    assert len(queries) >= 3  # 5 tags, 2 a page: planning's listing alone takes 3


def test_graphql_without_push_times_falls_back_to_rest(capsys, gitlab, unique_repo):
    gitlab.graphql = True  # but no publishedAt: a registry without the metadata database
    path = project(gitlab, unique_repo)
    push(gitlab.registry, path, oci_image(f"{unique_repo}-g"), "old", "keep")

    result = cleanup(capsys, gitlab, path, "--delete-tag", "old")
    assert result.code == 0, result.err
    assert gitlab.tags_of(path) == ["keep"]
    assert [c for c in gitlab.calls if c.method == "GET" and c.path.endswith("/tags")]
    assert json.loads(result.out)["notes"][0].startswith("tag times are the images' created")


@pytest.mark.parametrize("scope", ["group", "project"])
def test_all_repositories_of_a_group_or_project(capsys, gitlab, unique_repo, scope):
    path = project(gitlab, unique_repo, "", "sub/tool")
    group = path.split("/")[0]
    other = f"{group}/other"
    gitlab.add_project(other, "")
    for image in (path, f"{path}/sub/tool", other):
        push(gitlab.registry, image, oci_image(f"{image}-a"), "old", "keep")
    target = group if scope == "group" else path

    result = cleanup(capsys, gitlab, target, "--delete-tag", "old", "--all-repositories")
    assert result.code == 0, result.err
    cleaned = {path, f"{path}/sub/tool"} | ({other} if scope == "group" else set())
    for image in (path, f"{path}/sub/tool", other):
        assert gitlab.tags_of(image) == (["keep"] if image in cleaned else ["keep", "old"])
    lists = [c.path for c in gitlab.calls if c.path.endswith("/registry/repositories")]
    kind = "groups" if scope == "group" else "projects"
    assert lists and all(p.startswith(f"/api/v4/{kind}/") for p in lists)


def test_signatures_go_with_their_image_and_a_tag_pushed_during_the_run_stays(
    capsys, gitlab, unique_repo
):
    path = project(gitlab, unique_repo)
    old = push(gitlab.registry, path, oci_image(f"{unique_repo}-o"), "ci-1")
    kept = push(gitlab.registry, path, oci_image(f"{unique_repo}-k"), "main")
    push(gitlab.registry, path, signature(f"{unique_repo}-o"), cosign_tag(old))
    push(gitlab.registry, path, signature(f"{unique_repo}-k"), cosign_tag(kept))
    late = oci_image(f"{unique_repo}-late")
    gitlab.on_delete = lambda: push(gitlab.registry, path, late, "ci-2")  # after planning

    result = cleanup(capsys, gitlab, path, "--delete-tag", "ci-.*")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert sorted(e["tag"] for e in report["deleted"]) == sorted(["ci-1", cosign_tag(old)])
    assert {e["tag"]: e["reason"] for e in report["kept"]}["ci-2"] == "pushed after planning"
    assert gitlab.tags_of(path) == sorted(["ci-2", "main", cosign_tag(kept)])


def _aged(unique_repo: str, name: str, now: dt.datetime, days: int, platform="linux/amd64"):
    when = now - dt.timedelta(days=days)
    return oci_image(f"{unique_repo}-{name}", created=when, platform=platform)


def _z(when: dt.datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def test_rest_judges_by_the_tag_details_and_reads_no_judged_tag_through_the_registry(
    capsys, gitlab, unique_repo
):
    """GraphQL off: each tag the age rule judges gets its digest and `created_at` from one
    detail request, and none of them is read by tag through Registry v2, nor any image
    config; `v1`, kept by a name rule first, needs no time and is resolved as before."""
    path = project(gitlab, unique_repo)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    push(gitlab.registry, path, _aged(unique_repo, "a", now, 30), "ci-1", "ci-1b")
    push(gitlab.registry, path, _aged(unique_repo, "b", now, 20), "ci-2")
    push(gitlab.registry, path, _aged(unique_repo, "c", now, 2), "ci-3")
    push(gitlab.registry, path, _aged(unique_repo, "d", now, 1), "ci-4")
    push(gitlab.registry, path, _aged(unique_repo, "e", now, 40), "v1")
    judged = ["ci-1", "ci-1b", "ci-2", "ci-3", "ci-4"]
    policy = ("--keep-tag", "v1", "--keep-newer-than", "7d")

    with FaultProxy(gitlab.registry.host) as proxy:
        dry = cleanup(capsys, gitlab, path, *policy, "--dry-run", host=proxy.host)
        assert dry.code == 0, dry.err
        assert described(gitlab) == dict.fromkeys(judged, 1)
        assert by_tag(proxy.seen, path) == [("GET", "v1")]
        assert configs_read(proxy.seen) == []
        gitlab.calls.clear()
        proxy.seen.clear()
        real = cleanup(capsys, gitlab, path, *policy, host=proxy.host)
        assert real.code == 0, real.err
        # Planning, then the re-read right before deleting: each judged tag twice.
        assert described(gitlab) == dict.fromkeys(judged, 2)
        # v1 read once, then HEAD in the re-read; a HEAD right before each untag.
        heads = [("HEAD", t) for t in ("ci-1", "ci-1b", "ci-2", "v1")]
        assert sorted(by_tag(proxy.seen, path)) == [("GET", "v1"), *heads]
        assert configs_read(proxy.seen) == []
    for result in (dry, real):
        report = json.loads(result.out)
        assert sorted(e["tag"] for e in report["deleted"]) == ["ci-1", "ci-1b", "ci-2"]
        kept = {e["tag"]: e["time"] for e in report["kept"]}
        assert kept["ci-3"] == _z(now - dt.timedelta(days=2))  # GitLab's created_at
        assert kept["v1"] is None  # no rule judged it by time: not read
        assert "GitLab's created_at (REST tag details" in report["notes"][0]
        assert "for 5 tags" in report["notes"][0]
    assert gitlab.tags_of(path) == ["ci-3", "ci-4", "v1"]


def test_an_index_without_created_at_alone_is_judged_by_its_images_configs(
    capsys, gitlab, unique_repo
):
    """GitLab gives no `created_at` for an index (it has no config): only that tag's time is
    read through Registry v2, from its images' configs (the newest); the other tags keep
    GitLab's, and no other config is read."""
    path = project(gitlab, unique_repo)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    push(gitlab.registry, path, _aged(unique_repo, "o", now, 30), "old")
    push(gitlab.registry, path, _aged(unique_repo, "n", now, 1), "new")
    amd = _aged(unique_repo, "amd", now, 40)
    arm = _aged(unique_repo, "arm", now, 3, platform="linux/arm64")
    push(gitlab.registry, path, _index_of((amd, arm)), "multi")

    with FaultProxy(gitlab.registry.host) as proxy:
        result = cleanup(capsys, gitlab, path, "--keep-newer-than", "7d", host=proxy.host)
        assert result.code == 0, result.err
        assert described(gitlab) == {"old": 2, "new": 2, "multi": 2}
        assert by_tag(proxy.seen, path) == [("HEAD", "old")]  # right before its untag
        read = configs_read(proxy.seen)
    assert sorted(set(read)) == sorted([amd.config.digest, arm.config.digest])
    assert len(read) == 2  # once each: the re-read before deleting finds them cached
    report = json.loads(result.out)
    assert [e["tag"] for e in report["deleted"]] == ["old"]
    kept = {e["tag"]: e["time"] for e in report["kept"]}
    assert kept == {"multi": _z(now - dt.timedelta(days=3)), "new": _z(now - dt.timedelta(days=1))}
    note = report["notes"][0]
    assert "GitLab's created_at (REST tag details" in note and "for 2 tags" in note
    assert "the images' created" in note and note.endswith(": multi")
    assert gitlab.tags_of(path) == ["multi", "new"]
