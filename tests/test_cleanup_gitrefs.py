"""Git-based keeping against real git repositories made here: branch slugs as GitLab's
CI_COMMIT_REF_SLUG makes them, git tags, and full or short SHAs of recent commits."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from drivers.cleanup.gitrefs import read_git, ref_slug, tag_safe
from drivers.cleanup.plan import make_plan
from drivers.cleanup.policy import GitRule, KeepRule, Policy, TagPattern
from drivers.cleanup.state import ImageRecord, RepositoryState
from drivers.errors import InvalidInput
from drivers.reference import Repository


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.test",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.test",
        "HOME": str(repo),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


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
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    git(clone, "checkout", "-q", "--detach", "HEAD")
    git(clone, "branch", "-q", "-D", "main")
    return {"origin": origin, "clone": clone, "main": main, "feature": feature}


def test_ref_slug_is_gitlabs():
    assert ref_slug("feature/Login_Page") == "feature-login-page"
    assert ref_slug("--Fix--it--") == "fix--it"  # repeated dashes stay, as in GitLab
    assert ref_slug("x" * 70 + "/y") == "x" * 63
    assert ref_slug("a" * 62 + "/b") == "a" * 62  # cut to 63, then the trailing - goes
    assert tag_safe("feature/Login_Page") == "feature-Login_Page"


@pytest.mark.parametrize("which", ["origin", "clone"])
def test_names_from_a_real_repository(repo, which):
    names = read_git(GitRule(commits_per_branch=2), str(repo[which]))
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
    names = read_git(GitRule(branches=TagPattern.compile("main"), tags=False), str(repo["origin"]))
    assert names.reason("main")
    assert names.reason("feature-login-page") is None
    assert names.reason("v1.2.0") is None
    assert names.reason(repo["feature"][:8]) is None


def test_not_a_repository_is_bad_input(tmp_path):
    with pytest.raises(InvalidInput, match="not a usable git repository"):
        read_git(GitRule(), str(tmp_path))


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
