"""What a cleanup did (or, in a dry run, would do): the four lists of the report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

MEANS_TEXT = {"digest": "delete by digest", "tag": "untag"}


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


def merge(outcomes: list[Outcome], dry_run: bool) -> Outcome:
    """Several repositories' outcomes as one (entries name their repository)."""
    return Outcome(
        repository=", ".join(o.repository for o in outcomes),
        dry_run=dry_run,
        deleted=tuple(e for o in outcomes for e in o.deleted),
        kept=tuple(e for o in outcomes for e in o.kept),
        skipped=tuple(e for o in outcomes for e in o.skipped),
        failed=tuple(e for o in outcomes for e in o.failed),
    )
