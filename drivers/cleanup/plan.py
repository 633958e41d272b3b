"""Planning: a pure function of (repository state, policy, git names) → plan.

Every tag gets a decision, delete or keep, with the rule or reason. Then the safety rules:

* Everything a kept tag needs is protected: its manifest, an index's children, its OCI
  referrers, and its signature, attestation and SBOM tags (which are kept with it).
* A signature, attestation or SBOM tag follows its image: deleted with it (with_referrers),
  kept with it, and left alone when no tag here points at its image.
* A digest may be deleted by digest only when every tag on it is deleted, nothing kept
  needs it, and the driver deletes manifests by digest (`by_digest`, from
  `deletes_by_digest`); any other deleted tag is untagged ("tag" means), which removes only
  that tag. Without deletion by digest an untagged referrer cannot go, so it is kept.
* Untagged manifests (`delete.untagged`, see `untagged`): a leftover that stays protects
  what it needs like a kept tag; the others go when nothing that stays needs them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from drivers.cleanup.gitrefs import GitNames
from drivers.cleanup.policy import GitRule, KeepRule, Policy
from drivers.cleanup.state import RepositoryState, referrer_subject
from drivers.cleanup.untagged import deletions, kept_leftovers, leftovers

Action = Literal["delete", "keep"]
Means = Literal["digest", "tag"]
NOT_PLANNED = "not in the plan: pushed or changed after planning"


def short(digest: str) -> str:
    return digest[:19]


@dataclass(frozen=True)
class Decision:
    tag: str | None  # None: an untagged OCI referrer
    digest: str
    action: Action
    reason: str
    time: datetime | None = None
    means: Means | None = None  # for deletions: one DELETE by digest, or untag this tag only
    subject: str | None = None  # for referrers: the image they refer to
    after: tuple[str, ...] = ()  # more images that must be gone first (a shared child)

    @property
    def key(self) -> str:
        return self.tag if self.tag is not None else "@" + self.digest

    @property
    def is_referrer(self) -> bool:
        return self.subject is not None


@dataclass(frozen=True)
class Plan:
    state: RepositoryState
    decisions: tuple[Decision, ...]
    protected: frozenset[str]  # digests that must still exist afterwards

    @property
    def deletes(self) -> list[Decision]:
        return [d for d in self.decisions if d.action == "delete"]

    def by_key(self) -> dict[str, Decision]:
        return {d.key: d for d in self.decisions}


def needed(roots: Iterable[str], state: RepositoryState) -> frozenset[str]:
    """`roots` and everything they need: index children and OCI referrers, transitively."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        digest = stack.pop()
        if digest in seen:
            continue
        seen.add(digest)
        image = state.images.get(digest)
        if image is not None:
            stack.extend(image.children)
        stack.extend(state.referrers.get(digest, ()))
    return frozenset(seen)


def _sort_key(time: datetime | None) -> tuple[int, float]:
    # Unknown time counts as newest: the safe side.
    return (1, 0.0) if time is None else (0, time.timestamp())


def _newest(
    chosen: list[tuple[str, str | None]], count: int, state: RepositoryState
) -> list[tuple[str, str | None]]:
    """The `count` newest; tags tied with the last one in are kept too (the safe side)."""
    if len(chosen) <= count:
        return chosen
    keys = sorted((_sort_key(state.time_of(tag)) for tag, _ in chosen), reverse=True)
    threshold = keys[count - 1]
    return [(tag, d) for tag, d in chosen if _sort_key(state.time_of(tag)) >= threshold]


def _keep_reasons(
    tags: list[str], state: RepositoryState, policy: Policy, git: Mapping[GitRule, GitNames]
) -> dict[str, str]:
    """tag -> the first rule that keeps it (with the git ref, for git rules)."""
    reasons: dict[str, str] = {}
    for rule in policy.keep:
        chosen = [(tag, detail) for tag in tags if (detail := _selects(rule, tag, state, git))]
        chosen = [(tag, None if detail is True else detail) for tag, detail in chosen]
        if rule.last is not None:
            chosen = _newest(chosen, rule.last, state)
        for tag, detail in chosen:
            reasons.setdefault(tag, rule.label + (f" ({detail})" if detail else ""))
    return reasons


def _selects(
    rule: KeepRule, tag: str, state: RepositoryState, git: Mapping[GitRule, GitNames]
) -> str | bool:
    """False, or True / the git detail when the rule's conditions (but `last`) hold."""
    if rule.tags is not None and not rule.tags.matches(tag):
        return False
    detail: str | bool = True
    if rule.git is not None:
        if rule.git not in git:
            raise ValueError(f"{rule.label}: the git names were not read")
        detail = git[rule.git].reason(tag) or False
        if not detail:
            return False
    if rule.newer_than is not None:
        when = state.time_of(tag)
        if when is not None and when < state.captured_at - timedelta(
            seconds=rule.newer_than.seconds
        ):
            return False
    return detail


def make_plan(
    state: RepositoryState,
    policy: Policy,
    git: Mapping[GitRule, GitNames] | None = None,
    *,
    allowed: frozenset[str] | None = None,
    by_digest: bool = True,
) -> Plan:
    """Decide every tag. With `allowed`, only those keys may be deleted (a re-plan).
    `by_digest`: whether the driver can delete a manifest by digest (`deletes_by_digest`);
    the dry run shows what the real run will do, so it must ask the same driver."""
    verdicts: dict[str, tuple[Action, str]] = {}
    normal = sorted(t for t in state.tags if referrer_subject(t) is None)
    kept_by = _keep_reasons(normal, state, policy, git or {})
    for tag in normal:
        if tag in kept_by:
            verdicts[tag] = ("keep", kept_by[tag])
        elif not policy.is_candidate(tag):
            verdicts[tag] = ("keep", f"not a deletion candidate ({policy.candidates_label})")
        elif allowed is not None and tag not in allowed:
            verdicts[tag] = ("keep", NOT_PLANNED)
        else:
            verdicts[tag] = ("delete", "no keep rule keeps it")
    on_digest = state.tags_on()
    subjects: dict[str, str] = {}
    kept_loose = kept_leftovers(state, policy, allowed)
    loose = leftovers(state)

    def protected_and_doomed() -> tuple[frozenset[str], set[str]]:
        kept = [state.tags[t] for t, (action, _) in verdicts.items() if action == "keep"]
        protected = needed([*kept, *loose], state)
        doomed = {
            digest
            for digest, tags in on_digest.items()
            if all(verdicts.get(t, ("keep", ""))[0] == "delete" for t in tags)
        }
        return protected, doomed - protected

    pending = sorted(t for t in state.tags if referrer_subject(t) is not None)
    progressed = True
    while pending and progressed:
        progressed = False
        protected, doomed = protected_and_doomed()
        for tag in list(pending):
            subject, kind = referrer_subject(tag) or ("", "")
            if subject in protected:
                verdicts[tag] = ("keep", f"{kind} of kept image {short(subject)}")
            elif subject in doomed:
                if not policy.with_referrers:
                    reason = f"{kind} of deleted image {short(subject)} (--no-with-referrers)"
                    verdicts[tag] = ("keep", reason)
                elif allowed is not None and tag not in allowed:
                    verdicts[tag] = ("keep", NOT_PLANNED)
                else:
                    verdicts[tag] = ("delete", f"{kind} of deleted image {short(subject)}")
            else:
                continue
            subjects[tag] = subject
            pending.remove(tag)
            progressed = True
    for tag in pending:
        subject, kind = referrer_subject(tag) or ("", "")
        subjects[tag] = subject
        reason = f"{kind} of {short(subject)}, which no tag here points at; left alone"
        verdicts[tag] = ("keep", reason)
    protected, doomed = protected_and_doomed()
    # A referrer whose image turned out to be needed after all stays (it never should).
    for tag, subject in subjects.items():
        if verdicts[tag][0] == "delete" and subject in protected:
            verdicts[tag] = ("keep", f"referrer of kept image {short(subject)}")
    protected, doomed = protected_and_doomed()

    decisions = [
        Decision(
            tag,
            state.tags[tag],
            action,
            reason,
            state.time_of(tag),
            _means(state.tags[tag] in doomed and by_digest) if action == "delete" else None,
            subjects.get(tag),
        )
        for tag, (action, reason) in sorted(verdicts.items())
    ]
    decisions += _untagged_referrers(state, policy, doomed, protected, allowed, by_digest)
    if policy.delete_untagged:
        # What stays: every tagged image not deleted by digest, the kept leftovers, and what
        # they need (a candidate leftover protected only itself from the tags' deletions).
        stays = set(state.tags.values()) - doomed
        protected = needed([*stays, *kept_loose], state)
        decisions += _untagged(state, policy, doomed, protected, decisions, allowed)
    for digest, why in kept_loose.items():
        decisions.append(Decision(None, digest, "keep", why, state.untagged[digest]))
    return Plan(state, tuple(decisions), protected)


def _means(by_digest: bool) -> Means:
    return "digest" if by_digest else "tag"


def _untagged(
    state: RepositoryState,
    policy: Policy,
    doomed: set[str],
    protected: frozenset[str],
    decisions: list[Decision],
    allowed: frozenset[str] | None,
) -> list[Decision]:
    """The untagged manifests nothing that stays needs, each after what it belongs to."""
    decided = {d.digest for d in decisions if d.tag is None}
    if not policy.with_referrers:  # the referrers of deleted images stay
        refs = (r for subject in doomed for r in state.referrers.get(subject, ()))
        protected = protected | needed(refs, state)
    out = []
    for digest, parents in deletions(state, protected, doomed | decided, decided, allowed):
        first = parents[0] if parents else None
        reason = f"untagged, of deleted {short(first)}" if first else "untagged, unused"
        time = state.untagged[digest]
        out.append(Decision(None, digest, "delete", reason, time, "digest", first, parents[1:]))
    return out


def _untagged_referrers(
    state: RepositoryState,
    policy: Policy,
    doomed: set[str],
    protected: frozenset[str],
    allowed: frozenset[str] | None,
    by_digest: bool,
) -> list[Decision]:
    """OCI referrers (found through the referrers API) of the images being deleted; kept
    where the driver cannot delete a manifest by digest, the only way to remove them."""
    if not policy.with_referrers:
        return []
    tagged = set(state.tags.values())
    out: list[Decision] = []
    seen: set[str] = set()
    queue = sorted(doomed)
    while queue:
        subject = queue.pop(0)
        for ref in state.referrers.get(subject, ()):
            if ref in seen or ref in protected or ref in tagged:
                continue
            if allowed is not None and "@" + ref not in allowed:
                continue
            seen.add(ref)
            reason = f"OCI referrer of deleted image {short(subject)}"
            if by_digest:
                out.append(Decision(None, ref, "delete", reason, None, "digest", subject))
            else:
                reason += "; this registry deletes only by tag, so it stays"
                out.append(Decision(None, ref, "keep", reason, None, None, subject))
            queue.append(ref)
    return out
