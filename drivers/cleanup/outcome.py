"""What a cleanup did (or, in a dry run, would do): the four lists of the report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from drivers.cleanup.plan import Decision, Plan
from drivers.cleanup.state import RepositoryState

Status = Literal["deleted", "skipped", "failed"]

MEANS_TEXT = {"digest": "delete by digest", "tag": "untag"}
GONE = "gone before it could be deleted"


@dataclass(frozen=True)
class Result:
    """What happened to one planned deletion."""

    status: Status
    reason: str
    digest: str | None = None
    means: str | None = None

    @property
    def digest_gone(self) -> bool:
        """Deleted by digest, or found already gone: the tag should not be listed now."""
        deleted = self.status == "deleted" and self.means == "digest"
        return deleted or (self.status == "skipped" and self.reason == GONE)


@dataclass(frozen=True)
class Entry:
    repository: str
    tag: str | None  # None: an untagged OCI referrer, or a whole-repository failure
    digest: str | None
    reason: str  # the rule that kept it, why it was skipped or deleted, or the error
    time: datetime | None = None
    means: str | None = None  # how it was (or would be) deleted: "digest" or "tag"

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest,
            "reason": self.reason,
            "time": self.time.isoformat().replace("+00:00", "Z") if self.time else None,
            "means": MEANS_TEXT.get(self.means or "", self.means),
        }


@dataclass(frozen=True)
class Outcome:
    repository: str
    dry_run: bool
    deleted: tuple[Entry, ...] = ()
    kept: tuple[Entry, ...] = ()
    skipped: tuple[Entry, ...] = ()
    failed: tuple[Entry, ...] = ()
    notes: tuple[str, ...] = ()  # the driver's word on how the registry works (NotesCleanup)


def merge(outcomes: list[Outcome], dry_run: bool) -> Outcome:
    """Several repositories' outcomes as one (entries name their repository)."""
    return Outcome(
        repository=", ".join(o.repository for o in outcomes),
        dry_run=dry_run,
        deleted=tuple(e for o in outcomes for e in o.deleted),
        kept=tuple(e for o in outcomes for e in o.kept),
        skipped=tuple(e for o in outcomes for e in o.skipped),
        failed=tuple(e for o in outcomes for e in o.failed),
        notes=tuple(dict.fromkeys(n for o in outcomes for n in o.notes)),
    )


def _entry(repository: str, decision: Decision, reason: str | None = None) -> Entry:
    return Entry(
        repository,
        decision.tag,
        decision.digest,
        reason or decision.reason,
        decision.time,
        decision.means if decision.action == "delete" else None,
    )


def outcome_of_plan(plan: Plan, *, dry_run: bool) -> Outcome:
    """The plan as a report: what would be deleted and what is kept."""
    repository = str(plan.state.repository)
    return Outcome(
        repository,
        dry_run,
        deleted=tuple(_entry(repository, d) for d in plan.decisions if d.action == "delete"),
        kept=tuple(_entry(repository, d) for d in plan.decisions if d.action == "keep"),
    )


def build_outcome(
    plan: Plan,
    fresh: RepositoryState,
    latest: Mapping[str, Decision],
    results: Mapping[str, Result],
) -> Outcome:
    repository = str(plan.state.repository)
    lists: dict[str, list[Entry]] = {"deleted": [], "kept": [], "skipped": [], "failed": []}
    planned = plan.by_key()
    seen = set()
    for decision in [*plan.decisions, *latest.values()]:
        key = decision.key
        if key in seen or (key not in planned and key not in results):
            continue
        seen.add(key)
        original = planned.get(key, decision)
        if key in results:
            result = results[key]
            entry = replace(
                _entry(repository, original, result.reason),
                digest=result.digest or original.digest,
                means=result.means,
            )
            lists[result.status].append(entry)
        elif original.action == "keep":
            lists["kept"].append(_entry(repository, original))
        elif original.tag is not None and original.tag not in fresh.tags:
            lists["skipped"].append(replace(_entry(repository, original, GONE), means=None))
        elif _no_longer_untagged(original, plan.state, fresh):
            tagged = original.digest in fresh.tags.values()
            reason = "a tag was pushed onto it after planning; kept" if tagged else GONE
            lists["kept" if tagged else "skipped"].append(
                replace(_entry(repository, original, reason), means=None)
            )
        else:
            later = latest.get(key, original)
            reason = f"{later.reason} (re-evaluated: the repository changed after planning)"
            lists["kept"].append(replace(_entry(repository, later, reason), means=None))
    for tag in sorted(set(fresh.tags) - set(plan.state.tags)):
        time = fresh.time_of(tag)
        entry = Entry(repository, tag, fresh.tags[tag], "pushed after planning", time)
        lists["kept"].append(entry)
    return Outcome(
        repository,
        False,
        tuple(lists["deleted"]),
        tuple(lists["kept"]),
        tuple(lists["skipped"]),
        tuple(lists["failed"]),
    )


def _no_longer_untagged(decision: Decision, before: RepositoryState, now: RepositoryState) -> bool:
    """An untagged manifest planned for deletion that the re-read found tagged, or gone."""
    digest = decision.digest
    return decision.tag is None and digest in before.untagged and digest not in now.untagged
