"""`portside cleanup` against real registries: the scenarios, the report, the exit codes.

Registry state is read back with plain `requests` and cross-checked with skopeo, so the
checks do not go through the code under test.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
import requests

from drivers.cleanup.execute import execute
from drivers.cleanup.policy import build_policy
from drivers.cleanup.run import plan_repository
from drivers.reference import parse_repository
from drivers.registries import RegistryOptions, driver_for
from tests.bed import CANARY_PASSWORD, CANARY_USER, Image, oci_image, oci_index, push_image_raw
from tests.bed.registry import RunningRegistry
from tests.bed.skopeo import skopeo_inspect_digest
from tests.cli import run_cli

ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def tags_of(registry: RunningRegistry, path: str, auth=None) -> dict[str, str]:
    """tag -> digest, read with plain requests."""
    listed = requests.get(f"{registry.url}/v2/{path}/tags/list", auth=auth, timeout=10)
    if listed.status_code == 404:
        return {}
    out = {}
    for tag in listed.json().get("tags") or []:
        head = requests.head(
            f"{registry.url}/v2/{path}/manifests/{tag}",
            headers={"Accept": ACCEPT},
            auth=auth,
            timeout=10,
        )
        out[tag] = head.headers["Docker-Content-Digest"]
    return out


def exists(registry: RunningRegistry, path: str, digest: str) -> bool:
    head = requests.head(
        f"{registry.url}/v2/{path}/manifests/{digest}", headers={"Accept": ACCEPT}, timeout=10
    )
    return head.status_code == 200


def push(registry: RunningRegistry, path: str, image: Image, *tags: str) -> str:
    for tag in tags:
        push_image_raw(registry.url, path, image, tag)
    return image.digest


def signature(seed: str) -> Image:
    return oci_image(f"signature-{seed}", layers=1, layer_size=16)


def cosign_tag(digest: str, kind: str = "sig") -> str:
    return f"sha256-{digest.split(':')[1]}.{kind}"


def cleanup_json(capsys, *args: str):
    result = run_cli(capsys, "cleanup", "--json", *args)
    return result, (json.loads(result.out) if result.out.strip() else None)


def by_tag(report: dict, name: str) -> dict[str, dict]:
    return {e["tag"]: e for e in report[name]}


def test_shared_digest_untags_only_the_candidate(
    capsys, docker_config, registry_plain, unique_repo
):
    r, path = registry_plain, unique_repo
    shared = push(r, path, oci_image(f"{path}-a"), "v1.0.0", "ci-123")
    alone = push(r, path, oci_image(f"{path}-b"), "ci-124")
    push(r, path, oci_image(f"{path}-c"), "latest")

    result, report = cleanup_json(capsys, f"{r.host}/{path}", "--keep-tag", r"^v\d.*")
    assert result.code == 0, result.err
    deleted = by_tag(report, "deleted")
    assert deleted["ci-123"]["means"] == "untag"  # its digest is kept by v1.0.0
    assert deleted["ci-124"]["means"] == "delete by digest"
    assert by_tag(report, "kept")["v1.0.0"]["reason"] == r"--keep-tag: tags '^v\d.*'"
    assert set(tags_of(r, path)) == {"v1.0.0", "latest"}
    assert skopeo_inspect_digest(f"{r.host}/{path}:v1.0.0") == shared
    assert not exists(r, path, alone) and exists(r, path, shared)


def test_multi_arch_index_keeps_its_children(capsys, docker_config, registry_plain, unique_repo):
    r, path = registry_plain, unique_repo
    release = oci_index(f"{path}-rel", ["linux/amd64", "linux/arm64"])
    old = oci_index(f"{path}-old", ["linux/amd64", "linux/arm64"])
    push(r, path, release, "release")
    child = release.children[0]
    push(r, path, child, "amd64-build")  # a candidate tag on a child of the kept index
    push(r, path, old, "old-multi")

    result, report = cleanup_json(capsys, f"{r.host}/{path}", "--keep-tag", "release")
    assert result.code == 0, result.err
    deleted = by_tag(report, "deleted")
    assert deleted["amd64-build"]["means"] == "untag"
    assert deleted["old-multi"]["means"] == "delete by digest"
    assert set(tags_of(r, path)) == {"release"}
    assert skopeo_inspect_digest(f"{r.host}/{path}:release") == release.digest
    for each in release.children:
        assert exists(r, path, each.digest), "a child of the kept index is gone"
    assert not exists(r, path, old.digest)


@pytest.mark.parametrize("with_referrers", [True, False])
def test_cosign_signature_tags_follow_their_image(
    capsys, docker_config, registry_plain, unique_repo, with_referrers
):
    r, path = registry_plain, unique_repo
    gone = push(r, path, oci_image(f"{path}-x"), "pr-1")
    kept = push(r, path, oci_image(f"{path}-y"), "v1")
    push(r, path, signature(f"{path}-x"), cosign_tag(gone))
    push(r, path, signature(f"{path}-x-att"), cosign_tag(gone, "att"))
    push(r, path, signature(f"{path}-y"), cosign_tag(kept))

    flag = "--with-referrers" if with_referrers else "--no-with-referrers"
    result, report = cleanup_json(capsys, f"{r.host}/{path}", "--keep-tag", "v1", flag)
    assert result.code == 0, result.err
    kept_entries = by_tag(report, "kept")
    assert kept_entries[cosign_tag(kept)]["reason"].startswith("signature of kept image")
    left = set(tags_of(r, path))
    if with_referrers:
        deleted = by_tag(report, "deleted")
        assert deleted[cosign_tag(gone)]["reason"].startswith("signature of deleted image")
        assert deleted[cosign_tag(gone, "att")]["reason"].startswith("attestation of deleted")
        assert left == {"v1", cosign_tag(kept)}
    else:
        assert "--no-with-referrers" in kept_entries[cosign_tag(gone)]["reason"]
        assert left == {"v1", cosign_tag(kept), cosign_tag(gone), cosign_tag(gone, "att")}


def test_tags_pushed_or_moved_after_planning(docker_config, registry_plain, unique_repo):
    r, path = registry_plain, unique_repo
    one = push(r, path, oci_image(f"{path}-1"), "pr-1")
    push(r, path, oci_image(f"{path}-2"), "pr-2")
    three = push(r, path, oci_image(f"{path}-3"), "pr-3")
    keep = push(r, path, oci_image(f"{path}-4"), "v1")
    repository = parse_repository(f"{r.host}/{path}")
    driver = driver_for(r.host, RegistryOptions())
    policy = build_policy(keep_tags=["v1"])
    plan = plan_repository(driver, repository, policy)
    assert {d.tag for d in plan.deletes} == {"pr-1", "pr-2", "pr-3"}

    push(r, path, oci_image(f"{path}-1"), "hotfix")  # a new tag on a planned digest
    push(r, path, oci_image(f"{path}-4"), "pr-2")  # a planned tag moved onto the kept image
    outcome = execute(plan, driver, policy)

    after = tags_of(r, path)
    assert after == {"hotfix": one, "v1": keep}
    assert exists(r, path, one), "the digest under a tag pushed after planning was deleted"
    assert not exists(r, path, three)
    kept = {e.tag: e for e in outcome.kept}
    deleted = {e.tag: e for e in outcome.deleted}
    assert kept["hotfix"].reason == "pushed after planning"
    assert deleted["pr-1"].means == "tag"  # untagged: hotfix still needs the digest
    assert deleted["pr-2"].digest == keep and deleted["pr-2"].means == "tag"  # re-evaluated
    assert deleted["pr-3"].means == "digest"


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env |= {"GIT_COMMITTER_EMAIL": "t@t", "HOME": str(repo), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def test_git_based_keeping(capsys, docker_config, registry_plain, unique_repo, tmp_path):
    r, path = registry_plain, unique_repo
    git = tmp_path / "checkout"
    git.mkdir()
    _git(git, "init", "-q", "-b", "main")
    _git(git, "commit", "-q", "--allow-empty", "-m", "one")
    _git(git, "checkout", "-q", "-b", "feature/Login-Page")
    _git(git, "commit", "-q", "--allow-empty", "-m", "two")
    head = _git(git, "rev-parse", "HEAD")
    _git(git, "tag", "v2.1.0")
    tags = ["feature-login-page", head[:8], head, "main", "2.1.0", "gone-branch", "deadbeef"]
    for index, tag in enumerate(tags):
        push(r, path, oci_image(f"{path}-{index}"), tag)

    # The rule reads the live refs from the remote: clean up from a clone, as CI does.
    checkout = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(git), str(checkout)], check=True)
    result, report = cleanup_json(capsys, f"{r.host}/{path}", "--git-repo", str(checkout))
    assert result.code == 0, result.err
    assert set(by_tag(report, "deleted")) == {"gone-branch", "deadbeef"}
    kept = by_tag(report, "kept")
    assert "branch feature/Login-Page" in kept["feature-login-page"]["reason"]
    assert f"commit {head[:12]} on feature/Login-Page" in kept[head[:8]]["reason"]
    assert "git tag v2.1.0" in kept["2.1.0"]["reason"]
    assert set(tags_of(r, path)) == set(tags) - {"gone-branch", "deadbeef"}


def test_newer_than_and_last_with_controlled_created_times(
    capsys, docker_config, registry_plain, unique_repo
):
    r, path = registry_plain, unique_repo
    ages = {"t1": dt.timedelta(hours=1), "t2": dt.timedelta(days=2)}
    ages |= {"t3": dt.timedelta(days=10), "t4": dt.timedelta(days=30)}
    images = {t: oci_image(f"{path}-{t}", created=NOW - age) for t, age in ages.items()}
    for tag, image in images.items():
        push(r, path, image, tag)
    push(r, path, images["t4"], "t5")  # shares t4's digest, and so its time
    target = f"{r.host}/{path}"

    _, newer = cleanup_json(capsys, target, "--keep-newer-than", "7d", "--dry-run")
    assert newer["dry_run"] is True
    assert set(by_tag(newer, "kept")) == {"t1", "t2"}
    assert set(by_tag(newer, "deleted")) == {"t3", "t4", "t5"}
    t1_time = (NOW - ages["t1"]).isoformat().replace("+00:00", "Z")
    assert by_tag(newer, "kept")["t1"]["time"] == t1_time

    _, last = cleanup_json(capsys, target, "--keep-last", "3", "--dry-run")
    assert set(by_tag(last, "kept")) == {"t1", "t2", "t3"}
    _, tied = cleanup_json(capsys, target, "--keep-last", "4", "--dry-run")
    assert set(by_tag(tied, "kept")) == {"t1", "t2", "t3", "t4", "t5"}  # ties are kept

    result, done = cleanup_json(capsys, target, "--keep-last", "1", "--keep-newer-than", "3d")
    assert result.code == 0, result.err
    assert set(tags_of(r, path)) == {"t1", "t2"}
    assert done["summary"] == {"deleted": 3, "skipped": 0, "failed": 0, "kept": 2}


def test_dry_run_deletes_nothing_and_the_report_shape(
    capsys, docker_config, registry_plain, unique_repo
):
    r, path = registry_plain, unique_repo
    push(r, path, oci_image(f"{path}-a"), "a", "latest")
    push(r, path, oci_image(f"{path}-b"), "b")
    before = tags_of(r, path)

    result, report = cleanup_json(capsys, f"{r.host}/{path}", "--delete-tag", ".*", "--dry-run")
    assert result.code == 0, result.err
    assert tags_of(r, path) == before
    assert set(report) == {"repository", "dry_run", "deleted", "kept", "skipped", "failed"} | {
        "summary"
    }
    assert report["dry_run"] is True and report["repository"] == f"{r.host}/{path}"
    for entry in report["deleted"] + report["kept"]:
        assert set(entry) == {"repository", "tag", "digest", "reason", "time", "means"}
        assert entry["digest"].startswith("sha256:") and entry["reason"]
    assert {e["tag"] for e in report["deleted"]} == {"a", "b"}

    text = run_cli(capsys, "cleanup", f"{r.host}/{path}", "--delete-tag", ".*", "--dry-run")
    header = text.out.splitlines()[0].split()
    assert header == ["TAG", "DIGEST", "TIME", "DECISION", "RULE", "/", "REASON"]
    assert "dry run: 2 to delete, 1 kept (nothing was deleted)" in text.out
    assert tags_of(r, path) == before


def test_delete_disabled_is_exit_1_and_nothing_is_half_done(
    capsys, docker_config, registry_nodelete, unique_repo
):
    r, path = registry_nodelete, unique_repo
    push(r, path, oci_image(f"{path}-a"), "v1", "ci-1")  # ci-1 would need an untag
    push(r, path, oci_image(f"{path}-b"), "ci-2")
    before = tags_of(r, path)

    result = run_cli(capsys, "cleanup", f"{r.host}/{path}", "--keep-tag", "v1")
    assert result.code == 1
    assert "deletion is disabled in the registry's configuration" in result.err
    assert "storage.delete.enabled" in result.err
    assert tags_of(r, path) == before  # no tag moved onto a dummy, nothing deleted


def test_token_without_delete_scope_is_exit_3(capsys, docker_config, fresh_registry, unique_repo):
    registry = fresh_registry(
        auth="token",
        users={CANARY_USER: CANARY_PASSWORD, "reader": "reader-pw"},
        user_actions={"reader": {"pull"}},
    )
    path = unique_repo
    creds = (CANARY_USER, CANARY_PASSWORD)
    image = oci_image(f"{path}-a")
    for tag in ("v1", "ci-1"):
        push_image_raw(
            registry.url, path, image, tag, auth=creds, token_server=registry.token_server
        )
    auth = base64.b64encode(b"reader:reader-pw").decode()
    (docker_config / "config.json").write_text(
        json.dumps({"auths": {registry.host: {"auth": auth}}})
    )

    result = run_cli(capsys, "cleanup", f"{registry.host}/{path}", "--keep-tag", "v1")
    assert result.code == 3, result.err
    assert "not delete" in result.err and "nothing was deleted" in result.err
    dry = run_cli(capsys, "cleanup", f"{registry.host}/{path}", "--keep-tag", "v1", "--dry-run")
    assert dry.code == 0, dry.err  # reading is allowed


def test_all_repositories_under_a_namespace(capsys, docker_config, fresh_registry):
    registry = fresh_registry()
    for path in ("team/one", "team/two", "other/three"):
        push(registry, path, oci_image(f"{path}-old"), "old")
        push(registry, path, oci_image(f"{path}-new"), "v1")
    result, report = cleanup_json(
        capsys, f"{registry.host}/team", "--all-repositories", "--keep-tag", "v1"
    )
    assert result.code == 0, result.err
    assert {(e["repository"], e["tag"]) for e in report["deleted"]} == {
        (f"{registry.host}/team/one", "old"),
        (f"{registry.host}/team/two", "old"),
    }
    assert set(tags_of(registry, "team/one")) == {"v1"}
    assert set(tags_of(registry, "other/three")) == {"old", "v1"}


def test_step_summary_and_no_secrets_in_output(
    capsys, docker_config, registry_htpasswd, unique_repo, tmp_path, monkeypatch
):
    r, path = registry_htpasswd, unique_repo
    creds = (CANARY_USER, CANARY_PASSWORD)
    for tag in ("v1", "pr-7"):
        push_image_raw(r.url, path, oci_image(f"{path}-{tag}"), tag, auth=creds)
    auth = base64.b64encode(f"{CANARY_USER}:{CANARY_PASSWORD}".encode()).decode()
    (docker_config / "config.json").write_text(json.dumps({"auths": {r.host: {"auth": auth}}}))
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    result = run_cli(capsys, "cleanup", f"{r.host}/{path}", "--keep-tag", "v1")
    assert result.code == 0, result.err
    assert "deleted 1, skipped 0, failed 0, kept 1" in result.out
    markdown = summary.read_text()
    assert markdown.startswith(f"### portside cleanup: `{r.host}/{path}`")
    assert "| `pr-7` |" in markdown and "deleted" in markdown
    assert CANARY_PASSWORD not in result.text + markdown
    assert set(tags_of(r, path, auth=creds)) == {"v1"}


def test_repository_defaults_to_portside_repo(
    capsys, monkeypatch, docker_config, registry_plain, unique_repo
):
    """In a CI job, `eval "$(portside ci-env ...)"` exports PORTSIDE_REPO for cleanup."""
    r, path = registry_plain, unique_repo
    push(r, path, oci_image(f"{path}-a"), "a")
    monkeypatch.setenv("PORTSIDE_REPO", f"{r.host}/{path}")
    result, report = cleanup_json(capsys, "--delete-tag", ".*", "--dry-run")
    assert result.code == 0, result.err
    assert report["repository"] == f"{r.host}/{path}"
    assert [e["tag"] for e in report["deleted"]] == ["a"]
