"""Keep tags named after live git refs, as CI pipelines name their images.

From a git repository (run with `git` itself) this reads the live branches (local and
remote-tracking), the git tags, and the last N commits of each branch, and turns them into
the tag names CI jobs push:

* a git tag `v1.2.3` also as `1.2.3`, as semver release images are usually tagged;
* `$CI_COMMIT_REF_SLUG` (GitLab): the branch or tag name lowercased, everything but a-z and
  0-9 replaced by `-`, cut to 63 characters, no leading or trailing `-`;
* the branch or tag name with the characters a Docker tag cannot hold replaced by `-`
  (docker/metadata-action's `type=ref`), and `$CI_COMMIT_TAG` as it is;
* `${GITHUB_SHA}` and `$CI_COMMIT_SHORT_SHA`: any prefix of 7 to 40 hex digits of a recent
  commit.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from drivers.cleanup.policy import GitRule, Policy
from drivers.errors import InvalidInput

_SHA_PREFIX = re.compile(r"^[0-9a-f]{7,40}$")
_NOT_IN_TAG = re.compile(r"[^A-Za-z0-9_.-]")
_TIMEOUT = 60


def ref_slug(name: str) -> str:
    """GitLab's `CI_COMMIT_REF_SLUG` (Gitlab::Utils.slugify)."""
    return re.sub(r"[^a-z0-9]", "-", name.lower())[:63].strip("-")


def tag_safe(name: str) -> str:
    """The ref name as a Docker tag: invalid characters become `-`, at most 128 characters."""
    return _NOT_IN_TAG.sub("-", name).lstrip(".-")[:128]


@dataclass(frozen=True)
class GitNames:
    """Tag names a git repository keeps alive, each with why."""

    repo: str
    names: Mapping[str, str] = field(default_factory=dict)  # tag name -> reason
    commits: Mapping[str, str] = field(default_factory=dict)  # full sha -> branch

    def reason(self, tag: str) -> str | None:
        """Why the git rule keeps `tag`, or None."""
        if tag in self.names:
            return self.names[tag]
        if _SHA_PREFIX.match(tag):
            for sha, branch in self.commits.items():
                if sha.startswith(tag):
                    return f"commit {sha[:12]} on {branch}"
        return None


def _git(repo: str, *args: str) -> str:
    try:
        result = subprocess.run(
            ["git", "-C", repo, *args],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )
    except FileNotFoundError:
        raise InvalidInput(
            "the git keep rule needs the `git` program, which is not installed",
            hint="install git, or drop the git rule",
        ) from None
    except subprocess.TimeoutExpired:
        raise InvalidInput(f"git in {repo} did not answer within {_TIMEOUT}s") from None
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["git failed"])[0]
        raise InvalidInput(
            f"{repo} is not a usable git repository: {first}",
            hint="pass --git-repo DIR (or `repo:` in the git rule) naming a git checkout",
        )
    return result.stdout


def read_git(rule: GitRule, default_repo: str | None = None) -> GitNames:
    """Read the names `rule` keeps from its repository (`repo`, else `default_repo`, else .)."""
    repo = rule.repo or default_repo or "."
    _git(repo, "rev-parse", "--git-dir")
    refs = _git(repo, "for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes")
    branches: dict[str, str] = {}  # branch name -> ref to read commits from
    for ref in refs.split():
        if ref.startswith("refs/heads/"):
            name = ref[len("refs/heads/") :]
        else:
            parts = ref.split("/", 3)  # refs/remotes/<remote>/<branch>
            if len(parts) < 4 or parts[3] == "HEAD":
                continue
            name = parts[3]
        if rule.branches.matches(name):
            branches.setdefault(name, ref)
    names: dict[str, str] = {}
    for name in branches:
        _add(names, name, f"branch {name}")
    if rule.tags:
        for tag in _git(repo, "for-each-ref", "--format=%(refname:strip=2)", "refs/tags").split():
            _add(names, tag, f"git tag {tag}")
            if re.match(r"^v\d", tag):  # semver release tags are pushed without the v
                _add(names, tag[1:], f"git tag {tag}")
    commits: dict[str, str] = {}
    heads = [*branches.items(), ("HEAD", "HEAD")]  # HEAD: the checkout CI built (detached)
    for name, ref in heads:
        try:
            listed = _git(repo, "rev-list", f"--max-count={rule.commits_per_branch}", ref, "--")
        except InvalidInput:
            if name == "HEAD":
                continue  # an empty repository has no HEAD commit yet
            raise
        for sha in listed.split():
            commits.setdefault(sha, name)
    return GitNames(repo, names, commits)


def _add(names: dict[str, str], ref: str, reason: str) -> None:
    for candidate in (ref, ref_slug(ref), tag_safe(ref)):
        if candidate:
            names.setdefault(candidate, reason)


def read_policy_git(policy: Policy, default_repo: str | None = None) -> dict[GitRule, GitNames]:
    """The git names for every git rule of the policy, each repository read once."""
    return {rule: read_git(rule, default_repo) for rule in _git_rules(policy.keep)}


def _git_rules(rules: Iterable) -> list[GitRule]:
    return list(dict.fromkeys(r.git for r in rules if r.git is not None))
