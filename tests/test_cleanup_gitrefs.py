"""Git-based keeping against real git repositories made here: branch slugs as GitLab's
CI_COMMIT_REF_SLUG makes them, git tags, full or short SHAs of recent commits, and the rule's
full view: it stops, before anything is deleted, when it cannot confirm every live branch and
tag (no remote, an unreachable one, a shallow, single-branch or stale clone)."""

from __future__ import annotations

import shlex
import socket
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from drivers.cleanup.gitrefs import read_git, ref_slug, tag_safe
from drivers.cleanup.gitview import FETCH_EVERYTHING
from drivers.cleanup.plan import make_plan
from drivers.cleanup.policy import GitRule, KeepRule, Policy, TagPattern
from drivers.cleanup.state import ImageRecord, RepositoryState
from drivers.errors import InvalidInput
from drivers.reference import Repository
from tests.bed import CANARY_PASSWORD, oci_image, push_image_raw
from tests.cli import run_cli

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.test",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.test",
    "PATH": "/usr/bin:/bin",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env={**GIT_ENV, "HOME": str(repo)},
        check=True,
    )
    return done.stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def clone(origin: Path | str, dest: Path, *options: str) -> Path:
    subprocess.run(["git", "clone", "-q", *options, str(origin), str(dest)], check=True)
    return dest


@pytest.fixture
def repo(tmp_path: Path) -> dict[str, object]:
    """main with three commits; feature/Login_Page with one more; tag v1.2.0; a clone whose
    branches are remote-tracking only (as a CI checkout has them)."""
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    main = [commit(origin, f"main {i}") for i in range(3)]
    git(origin, "tag", "v1.2.0", main[0])
    git(origin, "checkout", "-q", "-b", "feature/Login_Page")
    feature = commit(origin, "feature")
    git(origin, "checkout", "-q", "main")
    checkout = clone(origin, tmp_path / "clone")
    git(checkout, "checkout", "-q", "--detach", "HEAD")
    git(checkout, "branch", "-q", "-D", "main")
    return {"origin": origin, "clone": checkout, "main": main, "feature": feature}


def test_ref_slug_is_gitlabs():
    assert ref_slug("feature/Login_Page") == "feature-login-page"
    assert ref_slug("--Fix--it--") == "fix--it"  # repeated dashes stay, as in GitLab
    assert ref_slug("x" * 70 + "/y") == "x" * 63
    assert ref_slug("a" * 62 + "/b") == "a" * 62  # cut to 63, then the trailing - goes
    assert tag_safe("feature/Login_Page") == "feature-Login_Page"


def test_names_from_a_real_repository(repo):
    names = read_git(GitRule(commits_per_branch=2), str(repo["clone"]))
    main, feature = repo["main"], repo["feature"]
    assert names.reason("main") == "branch main"
    assert names.reason("feature-login-page") == "branch feature/Login_Page"  # the slug
    assert names.reason("feature-Login_Page") == "branch feature/Login_Page"
    assert names.reason("v1.2.0") == "git tag v1.2.0"
    assert names.reason("1.2.0") == "git tag v1.2.0"
    assert names.reason(main[2]) and names.reason(main[2][:8]) and names.reason(main[1][:7])
    assert names.reason(feature[:12]) == f"commit {feature[:12]} on feature/Login_Page"
    assert names.reason(main[0][:8]) is None  # the third commit back is not kept
    assert names.reason(main[2][:6]) is None  # too short to be a SHA tag
    assert names.reason("stale-branch") is None


def test_branch_filter_and_no_tags(repo):
    names = read_git(GitRule(branches=TagPattern.compile("main"), tags=False), str(repo["clone"]))
    assert names.reason("main")
    assert names.reason("feature-login-page") is None
    assert names.reason("v1.2.0") is None
    assert names.reason(repo["feature"][:8]) is None


def test_a_branch_and_tag_only_the_remote_has_are_kept(repo):
    """The clone was made before `hotfix` and `v1.3.0` were pushed; their commits it has."""
    git(repo["origin"], "branch", "hotfix", repo["main"][1])
    git(repo["origin"], "tag", "v1.3.0", repo["main"][1])
    names = read_git(GitRule(), str(repo["clone"]))
    assert names.reason("hotfix") == "branch hotfix"
    assert names.reason("1.3.0") == "git tag v1.3.0"


def test_not_a_repository_is_bad_input(tmp_path):
    with pytest.raises(InvalidInput, match="not a usable git repository"):
        read_git(GitRule(), str(tmp_path))


def test_single_branch_clone_stops_and_the_hint_fixes_it(repo, tmp_path):
    """Issue 9 defect 6: GitLab's runner fetches only the pipeline's branch. The rule used to
    see `main` alone and let the plan delete the images of feature/Login_Page."""
    single = clone(f"file://{repo['origin']}", tmp_path / "single", "--single-branch", "-b", "main")
    with pytest.raises(InvalidInput) as stopped:
        read_git(GitRule(), str(single))
    assert "lacks the commits of live branch feature/Login_Page" in str(stopped.value)
    assert FETCH_EVERYTHING in stopped.value.hint
    git(single, *shlex.split(FETCH_EVERYTHING)[1:])  # the hint's command, as a user runs it
    names = read_git(GitRule(), str(single))
    assert names.reason("feature-login-page") == "branch feature/Login_Page"


def test_shallow_clone_stops(repo, tmp_path):
    shallow = clone(f"file://{repo['origin']}", tmp_path / "shallow", "--depth", "1")
    with pytest.raises(InvalidInput, match="the clone is shallow") as stopped:
        read_git(GitRule(), str(shallow))
    assert 'GIT_DEPTH: "0"' in stopped.value.hint and "fetch-depth: 0" in stopped.value.hint


def test_stale_clone_stops_until_fetched(repo):
    git(repo["origin"], "checkout", "-q", "feature/Login_Page")
    newer = commit(repo["origin"], "feature, later")
    with pytest.raises(InvalidInput, match="lacks the commits of live branch feature/Login_Page"):
        read_git(GitRule(), str(repo["clone"]))
    git(repo["clone"], "fetch", "-q", "origin")
    assert read_git(GitRule(), str(repo["clone"])).reason(newer[:8])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_remote_stops_and_hides_the_token(repo):
    url = f"http://gitlab-ci-token:{CANARY_PASSWORD}@127.0.0.1:{_closed_port()}/g/app.git"
    git(repo["clone"], "remote", "set-url", "origin", url)
    with pytest.raises(InvalidInput, match="cannot list the live branches and tags") as stopped:
        read_git(GitRule(), str(repo["clone"]))
    said = f"{stopped.value} {stopped.value.hint}"
    assert "ls-remote origin" in said
    assert CANARY_PASSWORD not in said


def test_no_remote_stops(repo):
    with pytest.raises(InvalidInput, match="it has no remote"):
        read_git(GitRule(), str(repo["origin"]))


def test_remote_choice(repo):
    checkout = repo["clone"]
    git(checkout, "remote", "rename", "origin", "upstream")
    assert read_git(GitRule(), str(checkout)).reason("feature-login-page")  # the only remote
    git(checkout, "remote", "add", "fork", "/nonexistent/fork.git")
    with pytest.raises(InvalidInput, match=r"which remote .* is live: fork, upstream"):
        read_git(GitRule(), str(checkout))
    git(checkout, "remote", "add", "origin", str(repo["origin"]))
    assert read_git(GitRule(), str(checkout)).reason("feature-login-page")  # origin wins


def test_missing_git_is_clear(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(InvalidInput, match="needs the `git` program") as stopped:
        read_git(GitRule(), str(repo["clone"]))
    assert "apk add git" in stopped.value.hint


def test_plan_keeps_what_git_names(repo):
    rule = GitRule(repo=str(repo["clone"]))
    policy = Policy((KeepRule("--git-repo", git=rule),))
    tags = {
        "feature-login-page": "sha256:" + "1" * 64,
        repo["main"][2][:8]: "sha256:" + "2" * 64,
        "old-branch": "sha256:" + "3" * 64,
    }
    images = {
        d: ImageRecord(d, "application/vnd.oci.image.manifest.v1+json") for d in tags.values()
    }
    state = RepositoryState(Repository("r.test", "app"), tags, images, datetime.now(timezone.utc))
    plan = make_plan(state, policy, {rule: read_git(rule)})
    decided = {d.tag: (d.action, d.reason) for d in plan.decisions}
    assert decided["feature-login-page"] == (
        "keep",
        f"--git-repo: git refs of {repo['clone']} (branch feature/Login_Page)",
    )
    assert decided[repo["main"][2][:8]][0] == "keep"
    assert decided["old-branch"][0] == "delete"


@pytest.mark.parametrize("dry_run", [True, False])
def test_cleanup_stops_before_deleting_anything(
    capsys, docker_config, registry_plain, unique_repo, repo, tmp_path, dry_run
):
    """Through the CLI, as the scheduled job runs it: exit 2, a clear message, every tag left."""
    single = clone(f"file://{repo['origin']}", tmp_path / "single", "--single-branch", "-b", "main")
    tags = ["main", "feature-login-page", "gone-branch"]
    for index, tag in enumerate(tags):
        push_image_raw(registry_plain.url, unique_repo, oci_image(f"{unique_repo}-{index}"), tag)
    target = f"{registry_plain.host}/{unique_repo}"
    args = ["cleanup", target, "--git-repo", str(single), *(["--dry-run"] if dry_run else [])]
    result = run_cli(capsys, *args)
    assert result.code == 2, result.text
    assert "cannot see every live branch and tag" in result.err
    assert FETCH_EVERYTHING in result.err
    assert len(result.err.strip().splitlines()) <= 2
    listed = run_cli(capsys, "tags", target)
    assert sorted(listed.out.split()) == sorted(tags)
