"""Whether the git keep rule sees every live branch and tag: it asks the remote.

A clone cannot tell by itself. GitLab's runner fetches only the pipeline's ref, whatever
`remote.origin.fetch` says; a fetch can fail; a laptop's clone goes stale. A live branch the
rule does not see has its images deleted, so the rule takes the live branches and tags from
the remote (`git ls-remote`), needs each live branch's commits in the clone (to read its recent
commits), and stops before anything is deleted (InvalidInput, exit 2) when:

* the clone has no remote (or several, none called `origin`);
* the remote cannot be listed (unreachable, refused credentials);
* the clone is shallow (the recent commits of a branch may be cut off);
* the clone lacks the commits of a live branch (single-branch clone, stale fetch).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from drivers.errors import InvalidInput

_TIMEOUT = 60
# user:password@ in a remote URL (GitLab's runner puts the job token there).
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")

FETCH_EVERYTHING = (
    "git fetch --prune origin '+refs/heads/*:refs/remotes/origin/*' '+refs/tags/*:refs/tags/*'"
)
FULL_VIEW_HINT = (
    'clone with full history (GitLab CI: GIT_DEPTH: "0"; actions/checkout: fetch-depth: 0), '
    f"then fetch every branch and tag: {FETCH_EVERYTHING}"
)


@dataclass(frozen=True)
class LiveRefs:
    """The remote's branches (name -> commit) and tag names, as the remote lists them."""

    remote: str
    branches: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()


def redact(text: str) -> str:
    return _URL_USERINFO.sub(r"\1", text)


def run_git(repo: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`git -C repo ARGS`, never prompting; a missing git or a hung one is bad input."""
    try:
        return subprocess.run(
            ["git", "-C", repo, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )
    except FileNotFoundError:
        raise InvalidInput(
            "the git keep rule needs the `git` program, which is not installed",
            hint="install git in the job's image (Debian: apt-get install git; Alpine: apk add "
            "git), or drop the git rule",
        ) from None
    except subprocess.TimeoutExpired:
        raise InvalidInput(
            f"git {args[0]} in {repo} did not answer within {_TIMEOUT}s",
            hint="check that the git remote is reachable (`git ls-remote origin`)",
        ) from None


def first_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    return redact((fatal or lines or [f"git exited with {result.returncode}"])[0])


def git_output(repo: str, *args: str) -> str:
    result = run_git(repo, *args)
    if result.returncode != 0:
        raise InvalidInput(
            f"{repo} is not a usable git repository: {first_error(result)}",
            hint="pass --git-repo DIR (or `repo:` in the git rule) naming a git checkout",
        )
    return result.stdout


def live_refs(repo: str) -> LiveRefs:
    """The live branches and tags, from the remote; InvalidInput when they cannot be confirmed."""
    remote = _remote(repo)
    if git_output(repo, "rev-parse", "--is-shallow-repository").strip() == "true":
        raise _incomplete(repo, "the clone is shallow, so branches' recent commits are cut off")
    listed = run_git(repo, "ls-remote", "--heads", "--tags", remote)
    if listed.returncode != 0:
        raise InvalidInput(
            f"the git keep rule cannot list the live branches and tags of remote {remote!r} "
            f"of {repo}: {first_error(listed)}",
            hint=f"make `git -C {repo} ls-remote {remote}` work (URL, network, credentials); "
            "nothing is deleted while the live refs are unknown",
        )
    branches: dict[str, str] = {}
    tags: list[str] = []
    for line in listed.stdout.splitlines():
        sha, _, ref = line.partition("\t")
        if ref.startswith("refs/heads/"):
            branches[ref[len("refs/heads/") :]] = sha
        elif ref.startswith("refs/tags/"):
            tags.append(ref[len("refs/tags/") :].removesuffix("^{}"))
    return LiveRefs(remote, branches, tuple(dict.fromkeys(tags)))


def require_commits(repo: str, branches: Mapping[str, str]) -> None:
    """Every live branch's head commit must be in the clone, to read its recent commits."""
    wanted = list(dict.fromkeys(branches.values()))
    if not wanted:
        return
    result = run_git(repo, "cat-file", "--batch-check", stdin="".join(f"{s}\n" for s in wanted))
    if result.returncode != 0:
        raise InvalidInput(f"{repo} is not a usable git repository: {first_error(result)}")
    missing = {line.split()[0] for line in result.stdout.splitlines() if line.endswith(" missing")}
    absent = sorted(name for name, sha in branches.items() if sha in missing)
    if absent:
        shown = ", ".join(absent[:3]) + (f" and {len(absent) - 3} more" if len(absent) > 3 else "")
        raise _incomplete(repo, f"the clone lacks the commits of live branch {shown}")


def _remote(repo: str) -> str:
    names = git_output(repo, "remote").split()
    if "origin" in names:
        return "origin"
    if len(names) == 1:
        return names[0]
    if not names:
        raise InvalidInput(
            f"the git keep rule cannot confirm the live branches of {repo}: it has no remote",
            hint="run it in a clone of the repository your pipelines push from "
            "(or `git remote add origin URL` and fetch)",
        )
    raise InvalidInput(
        f"the git keep rule cannot tell which remote of {repo} is live: {_listed(names)}",
        hint="name the remote your pipelines push from `origin` (git remote rename NAME origin)",
    )


def _incomplete(repo: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"the git keep rule cannot see every live branch and tag in {repo}: {why}",
        hint=FULL_VIEW_HINT,
    )


def _listed(names: Iterable[str]) -> str:
    return ", ".join(sorted(names))
