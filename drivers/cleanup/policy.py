"""The cleanup policy: small named keep rules and the deletion candidates, validated once.

A tag is deleted when it is a candidate (`delete.tags`, default every tag) and no keep rule
keeps it. `latest` is kept unless a `delete.tags` pattern names it. The YAML file is read in
`policyfile`; the command-line flags become rules here, added to the file's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from drivers.cleanup.state import referrer_subject
from drivers.errors import InvalidInput

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^(?:\d+[smhdw])+$")
DURATION_HINT = "write a number and a unit: 30m, 12h, 7d, 2w (or combined: 1d12h)"


@dataclass(frozen=True)
class Duration:
    text: str
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Duration:
        """`30m`, `12h`, `7d`, `2w`, or combined (`1d12h`); raises ValueError."""
        cleaned = text.strip().lower()
        if not _DURATION.match(cleaned):
            raise ValueError(f"invalid duration {text!r}")
        seconds = sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", cleaned))
        if seconds <= 0:
            raise ValueError(f"duration {text!r} is zero")
        return cls(cleaned, seconds)


@dataclass(frozen=True)
class TagPattern:
    """A regular expression that must match the whole tag."""

    text: str
    regex: re.Pattern[str] = field(compare=False, repr=False)

    @classmethod
    def compile(cls, text: str) -> TagPattern:
        """Raises ValueError naming what is wrong with the expression."""
        try:
            return cls(text, re.compile(text))
        except re.error as error:
            raise ValueError(f"invalid regex {text!r}: {error}") from None

    def matches(self, tag: str) -> bool:
        return self.regex.fullmatch(tag) is not None


@dataclass(frozen=True)
class GitRule:
    """Keep tags named after live git refs: branch slugs, git tags, recent commit SHAs."""

    repo: str | None = None  # None: --git-repo, else the current directory
    branches: TagPattern = field(default_factory=lambda: TagPattern.compile(".*"))
    commits_per_branch: int = 1
    tags: bool = True


@dataclass(frozen=True)
class KeepRule:
    """One keep rule. Its conditions all hold for a tag it keeps; `last` ranks by time among
    the tags that meet the rule's other conditions."""

    name: str  # how reports name it: "keep[2]" or "--keep-last"
    tags: TagPattern | None = None
    last: int | None = None
    newer_than: Duration | None = None
    git: GitRule | None = None
    implicit: bool = False

    @property
    def label(self) -> str:
        if self.implicit:
            return "latest (kept unless the policy names it)"
        parts = []
        if self.last is not None:
            parts.append(f"last {self.last}")
        if self.newer_than is not None:
            parts.append(f"newer than {self.newer_than.text}")
        if self.git is not None:
            parts.append(f"git refs of {self.git.repo or '.'}")
        if self.tags is not None:
            parts.append(("of " if parts else "") + f"tags '{self.tags.text}'")
        return f"{self.name}: {' '.join(parts)}"


@dataclass(frozen=True)
class Policy:
    keep: tuple[KeepRule, ...]
    delete: tuple[TagPattern, ...] = ()  # candidates; empty means every tag
    with_referrers: bool = True
    source: str = "flags"  # where the rules came from, for --print-policy
    delete_untagged: bool = False  # untagged manifests nothing that stays uses
    tags_too: bool = True  # False: only untagged manifests are candidates, no tag is

    def judges_by_time(self, tag: str) -> bool:
        """Whether planning may need `tag`'s time, so that reading must find it: a rule with
        `last` may rank it (its `tags` match; its git names count as matching, unknown
        while reading), kept or not, since it takes a place among the N newest; a rule with
        only `newer_than` may keep it, unless an earlier rule of names alone keeps it
        already (its reason stands whatever the time). Signature, attestation and SBOM tags
        follow their image and are never judged by time."""
        if referrer_subject(tag) is not None:
            return False
        for n, rule in enumerate(self.keep):
            if rule.last is None and rule.newer_than is None:
                continue
            if rule.tags is not None and not rule.tags.matches(tag):
                continue
            if rule.last is not None or not any(_by_name(r, tag) for r in self.keep[:n]):
                return True
        return False

    @property
    def untagged_newer_than(self) -> Duration | None:
        """Untagged manifests newer than this stay: the longest `newer_than` of any keep rule
        (the safe side; an untagged manifest has no tag for a rule's other conditions)."""
        durations = [r.newer_than for r in self.keep if r.newer_than is not None]
        return max(durations, key=lambda d: d.seconds, default=None)

    def is_candidate(self, tag: str) -> bool:
        if not self.tags_too:
            return False
        return not self.delete or any(p.matches(tag) for p in self.delete)

    @property
    def candidates_label(self) -> str:
        if not self.tags_too:
            return "only untagged manifests are candidates"
        if not self.delete:
            return "every tag is a candidate"
        return "delete.tags " + " or ".join(f"'{p.text}'" for p in self.delete)


@dataclass(frozen=True)
class PolicyFile:
    """What a policy file says, before the flags are added."""

    path: str
    keep: tuple[KeepRule, ...] = ()
    delete: tuple[TagPattern, ...] = ()
    with_referrers: bool | None = None
    delete_untagged: bool | None = None


def _by_name(rule: KeepRule, tag: str) -> bool:
    """Whether `rule` keeps `tag` by its name alone, whatever its time."""
    timeless = rule.last is None and rule.newer_than is None and rule.git is None
    return timeless and (rule.tags is None or rule.tags.matches(tag))


def names_latest(delete: Sequence[TagPattern]) -> bool:
    """A `delete.tags` pattern names `latest` when it spells it out and matches it."""
    return any("latest" in p.text and p.matches("latest") for p in delete)


def _flag(flag: str, parse, value):
    try:
        return parse(value)
    except ValueError as error:
        hint = DURATION_HINT if flag == "--keep-newer-than" else "check the value"
        raise InvalidInput(f"{flag}: {error}", hint=hint) from None


def build_policy(
    file: PolicyFile | None = None,
    *,
    keep_tags: Sequence[str] = (),
    keep_last: int | None = None,
    keep_newer_than: str | None = None,
    delete_tags: Sequence[str] = (),
    git_repo: str | None = None,
    with_referrers: bool | None = None,
    delete_untagged: bool = False,
) -> Policy:
    """The effective policy: the file's rules, then one rule per flag, then `latest`."""
    rules = list(file.keep if file else ())
    for text in keep_tags:
        rules.append(KeepRule("--keep-tag", tags=_flag("--keep-tag", TagPattern.compile, text)))
    if keep_last is not None:
        if keep_last < 1:
            raise InvalidInput("--keep-last must be at least 1", hint="pass --keep-last N, N ≥ 1")
        rules.append(KeepRule("--keep-last", last=keep_last))
    if keep_newer_than:
        duration = _flag("--keep-newer-than", Duration.parse, keep_newer_than)
        rules.append(KeepRule("--keep-newer-than", newer_than=duration))
    if git_repo:
        # A file's git rule without `repo:` reads --git-repo; without one, the flag adds it.
        rules = [r if r.git is None or r.git.repo else _with_repo(r, git_repo) for r in rules]
        if not any(r.git is not None for r in rules):
            rules.append(KeepRule("--git-repo", git=GitRule(repo=git_repo)))
    delete = list(file.delete if file else ())
    delete += [_flag("--delete-tag", TagPattern.compile, text) for text in delete_tags]
    untagged = delete_untagged or bool(file and file.delete_untagged)
    # Asked only for untagged manifests: no tag is a candidate (nothing tagged is at risk).
    tags_too = bool(rules or delete) or not untagged
    if not rules and not delete and not untagged:
        # Would delete every tag but `latest`: the way repositories get wiped by accident.
        raise InvalidInput(
            "the policy keeps nothing and makes every tag a deletion candidate",
            hint="add a keep rule (--keep-last, --keep-tag, --keep-newer-than, --git-repo, "
            "or a --policy file) or name the candidates with --delete-tag",
        )
    if not names_latest(delete):
        rules.append(KeepRule("latest", tags=TagPattern.compile("latest"), implicit=True))
    referrers = with_referrers
    if referrers is None:
        referrers = file.with_referrers if file and file.with_referrers is not None else True
    source = file.path if file else "flags"
    flags = keep_tags or keep_last or keep_newer_than or delete_tags or git_repo
    if file and (flags or delete_untagged):
        source += " + flags"
    return Policy(tuple(rules), tuple(delete), referrers, source, untagged, tags_too)


def _with_repo(rule: KeepRule, repo: str) -> KeepRule:
    assert rule.git is not None
    git = GitRule(repo, rule.git.branches, rule.git.commits_per_branch, rule.git.tags)
    return KeepRule(rule.name, rule.tags, rule.last, rule.newer_than, git, rule.implicit)
