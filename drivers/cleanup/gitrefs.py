"""Keep tags named after live git refs, as CI pipelines name their images.

From a git repository (run with `git` itself) this reads the live branches and tags (the
remote's own list, drivers.cleanup.gitview, plus the clone's local and remote-tracking
branches and tags), and the last N commits of each branch, and turns them into the tag names
CI jobs push:

* a git tag `v1.2.3` also as `1.2.3`, as semver release images are usually tagged;
* `$CI_COMMIT_REF_SLUG` (GitLab): the branch or tag name lowercased, everything but a-z and
  0-9 replaced by `-`, cut to 63 characters, no leading or trailing `-`;
* the branch or tag name with the characters a Docker tag cannot hold replaced by `-`
  (docker/metadata-action's `type=ref`), and `$CI_COMMIT_TAG` as it is;
* `${GITHUB_SHA}` and `$CI_COMMIT_SHORT_SHA`: any prefix of 7 to 40 hex digits of a recent
  commit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from drivers.cleanup.gitview import git_output, live_refs, require_commits, run_git
from drivers.cleanup.policy import GitRule, Policy
from drivers.errors import InvalidInput

_SHA_PREFIX = re.compile(r"^[0-9a-f]{7,40}$")
_NOT_IN_TAG = re.compile(r"[^A-Za-z0-9_.-]")


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


def read_git(rule: GitRule, default_repo: str | None = None) -> GitNames:
    """Read the names `rule` keeps from its repository (`repo`, else `default_repo`, else .).

    The live branches and tags are the remote's (drivers.cleanup.gitview), together with the
    clone's own branches and tags (kept too: the safe side). Raises InvalidInput, before any
    deletion, when the rule cannot confirm it sees every live branch and tag.
    """
    repo = rule.repo or default_repo or "."
    git_output(repo, "rev-parse", "--git-dir")
    live = live_refs(repo)
    branches: dict[str, str] = {}  # branch name -> commit or ref to read commits from
    for name, sha in live.branches.items():
        if rule.branches.matches(name):
            branches[name] = sha
    require_commits(repo, branches)
    refs = git_output(repo, "for-each-ref", "--format=%(refname)", "refs/heads", "refs/remotes")
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
        local = git_output(repo, "for-each-ref", "--format=%(refname:strip=2)", "refs/tags")
        for tag in dict.fromkeys([*live.tags, *local.split()]):
            _add(names, tag, f"git tag {tag}")
            if re.match(r"^v\d", tag):  # semver release tags are pushed without the v
                _add(names, tag[1:], f"git tag {tag}")
    commits: dict[str, str] = {}
    heads = [*branches.items(), ("HEAD", "HEAD")]  # HEAD: the checkout CI built (detached)
    for name, ref in heads:
        listed = run_git(repo, "rev-list", f"--max-count={rule.commits_per_branch}", ref, "--")
        if listed.returncode != 0:
            if name == "HEAD":
                continue  # an empty repository has no HEAD commit yet
            raise InvalidInput(f"git cannot read the commits of branch {name} in {repo}")
        for sha in listed.stdout.split():
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
