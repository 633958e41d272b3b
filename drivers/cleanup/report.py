"""The outcome for people (a table), for machines (JSON) and for CI pages (Markdown).

Rendering only: writing the Markdown to `$GITHUB_STEP_SUMMARY` belongs to the integrations.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drivers.cleanup.outcome import MEANS_TEXT, Entry, Outcome

_LISTS = ("deleted", "skipped", "failed", "kept")
_DRY_WORDS = {"deleted": "delete", "kept": "keep", "skipped": "skip", "failed": "fail"}
_MARKDOWN_ROWS = 200


def to_json(outcome: Outcome) -> dict[str, Any]:
    """`{"repository", "dry_run", "deleted", "kept", "skipped", "failed", "summary"}`; in a
    dry run, `deleted` lists what would be deleted."""
    doc: dict[str, Any] = {"repository": outcome.repository, "dry_run": outcome.dry_run}
    for name in ("deleted", "kept", "skipped", "failed"):
        doc[name] = [e.to_json() for e in getattr(outcome, name)]
    doc["summary"] = {name: len(getattr(outcome, name)) for name in _LISTS}
    if outcome.notes:
        doc["notes"] = list(outcome.notes)
    return doc


def summary(outcome: Outcome) -> str:
    counts = {name: len(getattr(outcome, name)) for name in _LISTS}
    if outcome.dry_run:
        return (
            f"dry run: {counts['deleted']} to delete, {counts['kept']} kept (nothing was deleted)"
        )
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _rows(outcome: Outcome) -> list[tuple[str, Entry]]:
    rows = []
    for name in _LISTS:
        word = _DRY_WORDS[name] if outcome.dry_run else name
        entries = sorted(getattr(outcome, name), key=lambda e: (e.repository, e.tag or ""))
        rows += [(word, e) for e in entries]
    return rows


def _reason(entry: Entry) -> str:
    if entry.means:
        return f"{entry.reason} [{MEANS_TEXT.get(entry.means, entry.means)}]"
    return entry.reason


def table(outcome: Outcome, *, kept: bool = True) -> str:
    """tag, digest, time, decision, and the rule or reason; one line per tag."""
    rows = [(w, e) for w, e in _rows(outcome) if kept or w not in ("kept", "keep")]
    several = len({e.repository for _, e in rows}) > 1
    header = ["TAG", "DIGEST", "TIME", "DECISION", "RULE / REASON"]
    if several:
        header.insert(0, "REPOSITORY")
    lines = [header]
    for word, entry in rows:
        line = [
            entry.tag or "(untagged)",
            (entry.digest or "-")[:19],
            _time(entry.time),
            word,
            _reason(entry),
        ]
        if several:
            line.insert(0, entry.repository)
        lines.append(line)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header) - 1)]
    text = [
        "  ".join([*(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)), row[-1]])
        for row in lines
    ]
    notes = [f"note: {note}" for note in outcome.notes]
    return "\n".join([*text, "", summary(outcome), *notes]) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(outcome: Outcome) -> str:
    """A job-summary section: the counts, then what was deleted, skipped or failed."""
    title = "portside cleanup (dry run)" if outcome.dry_run else "portside cleanup"
    lines = [f"### {title}: `{_cell(outcome.repository)}`", "", summary(outcome), ""]
    lines += [*(f"> {_cell(note)}" for note in outcome.notes), *([""] if outcome.notes else [])]
    rows = [(w, e) for w, e in _rows(outcome) if w not in ("kept", "keep")]
    if rows:
        lines += ["| tag | digest | time | decision | reason |", "|---|---|---|---|---|"]
        for word, entry in rows[:_MARKDOWN_ROWS]:
            lines.append(
                f"| `{_cell(entry.tag or '(untagged)')}` | `{(entry.digest or '-')[:19]}` "
                f"| {_time(entry.time)} | {word} | {_cell(_reason(entry))} |"
            )
        if len(rows) > _MARKDOWN_ROWS:
            lines.append(f"\n…and {len(rows) - _MARKDOWN_ROWS} more; see the job log.")
    return "\n".join(lines) + "\n"
