"""The git keep rule's safety, as a property over random real repositories and clones.

For a random remote (branches, tags, commits) and a random clone of it (full, single-branch,
shallow, stale, without remote-tracking refs, without a remote, with an unreachable remote):

1. Safety: when the rule answers, it keeps every live branch's names, its last
   `commits_per_branch` commits and every live tag, as the remote itself has them.
2. It stops (InvalidInput) exactly when it cannot see them: no remote, an unreachable remote,
   a shallow clone, or a clone missing a live branch's head commit.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.cleanup.gitrefs import GitNames, read_git, ref_slug, tag_safe
from drivers.cleanup.policy import GitRule
from drivers.errors import InvalidInput
from tests.test_cleanup_gitrefs import git

BRANCHES = ["feature/Login_Page", "fix-1", "release/2.0", "Dev_x"]
TAGS = ["v1.0.0", "v2.1", "build-7"]
CLONES = ["full", "single-branch", "shallow", "stale", "no-tracking", "no-remote", "unreachable"]


@st.composite
def remotes(draw) -> dict:
    branches = draw(st.lists(st.sampled_from(BRANCHES), unique=True, max_size=3))
    return {
        "main_commits": draw(st.integers(1, 3)),
        # branch -> (how many main commits back it starts, its own commits)
        "branches": {b: (draw(st.integers(0, 2)), draw(st.integers(0, 2))) for b in branches},
        "tags": draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=2)),
        "commits_per_branch": draw(st.integers(1, 3)),
    }


def _make_origin(origin: Path, spec: dict) -> None:
    """The remote, built in one `git fast-import` (a process per commit is too slow here)."""
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    stream: list[str] = []
    mark = 0

    def add_commit(ref: str, message: str, parent: int | None) -> int:
        nonlocal mark
        mark += 1
        stream.extend([f"commit {ref}", f"mark :{mark}", "committer t <t@t> 1700000000 +0000"])
        stream.extend([f"data {len(message.encode())}", message])
        if parent:
            stream.append(f"from :{parent}")
        return mark

    main: list[int] = []
    for i in range(spec["main_commits"]):
        main.append(add_commit("refs/heads/main", f"main {i}", main[-1] if main else None))
    for name, (back, own) in spec["branches"].items():
        parent = main[max(0, len(main) - 1 - back)]
        stream.extend([f"reset refs/heads/{name}", f"from :{parent}"])
        for i in range(own):
            parent = add_commit(f"refs/heads/{name}", f"{name} {i}", parent)
    for index, tag in enumerate(spec["tags"]):
        stream.extend([f"reset refs/tags/{tag}", f"from :{main[index % len(main)]}"])
    subprocess.run(
        ["git", "-C", str(origin), "fast-import", "--quiet"],
        input="\n".join(stream) + "\n",
        text=True,
        check=True,
    )


def _make_clone(origin: Path, checkout: Path, kind: str) -> None:
    options = {"single-branch": ["--single-branch"], "shallow": ["--depth", "1"]}.get(kind, [])
    subprocess.run(["git", "clone", "-q", *options, f"file://{origin}", str(checkout)], check=True)
    if kind == "stale":  # the remote moves on after the clone's last fetch
        tree = git(origin, "rev-parse", "main^{tree}")
        later = git(origin, "commit-tree", tree, "-p", "main", "-m", "pushed later")
        git(origin, "update-ref", "refs/heads/pushed-later", later)
    elif kind == "no-tracking":  # a detached checkout that kept no branch refs
        git(checkout, "checkout", "-q", "--detach")
        for ref in git(checkout, "for-each-ref", "--format=%(refname)").split():
            if ref.startswith(("refs/heads/", "refs/remotes/")):
                git(checkout, "update-ref", "-d", ref)
    elif kind == "no-remote":
        git(checkout, "remote", "remove", "origin")
    elif kind == "unreachable":
        git(checkout, "remote", "set-url", "origin", str(origin.parent / "moved-away.git"))


def _assert_keeps_everything_live(names: GitNames, origin: Path, per_branch: int) -> None:
    for line in git(origin, "for-each-ref", "--format=%(refname:strip=2)", "refs/heads").split():
        for candidate in (line, ref_slug(line), tag_safe(line)):
            assert names.reason(candidate), f"live branch {line} is not kept as {candidate}"
        recent = git(origin, "rev-list", f"--max-count={per_branch}", line, "--").split()
        for sha in recent:
            assert names.reason(sha[:7]) and names.reason(sha), f"{sha} on {line} not kept"
    for tag in git(origin, "tag").split():
        assert names.reason(tag), f"live tag {tag} is not kept"


def _heads_missing(origin: Path, checkout: Path) -> bool:
    heads = git(origin, "for-each-ref", "--format=%(objectname)", "refs/heads").split()
    found = subprocess.run(
        ["git", "-C", str(checkout), "cat-file", "--batch-check"],
        input="".join(f"{h}\n" for h in heads),
        capture_output=True,
        text=True,
        check=True,
    )
    return "missing" in found.stdout


# Every kind of clone, each over a few random remotes (a real repository per example).
@pytest.mark.parametrize("kind", CLONES)
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=remotes())
def test_the_git_rule_keeps_every_live_ref_or_stops(kind, spec):
    with tempfile.TemporaryDirectory() as tmp:
        origin, checkout = Path(tmp) / "origin", Path(tmp) / "clone"
        _make_origin(origin, spec)
        _make_clone(origin, checkout, kind)
        rule = GitRule(commits_per_branch=spec["commits_per_branch"])
        must_stop = kind in ("shallow", "no-remote", "unreachable") or _heads_missing(
            origin, checkout
        )
        try:
            names = read_git(rule, str(checkout))
        except InvalidInput:
            assert must_stop, f"a {kind} clone that sees everything was refused"
            return
        assert not must_stop, f"a {kind} clone answered without the full view"
        _assert_keeps_everything_live(names, origin, spec["commits_per_branch"])
