"""How `portside cleanup` shows itself: progress while it works, then the report.

Progress goes to stderr: a rich bar on a terminal, a plain line every tenth of the way in
CI logs, nothing with --quiet. The report goes to stdout: the table (or JSON), and, inside
GitHub Actions, a Markdown summary appended to `$GITHUB_STEP_SUMMARY`.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

_STEPS = 10  # plain progress lines per stage


class ProgressView:
    """The `Progress` callback the cleanup engine calls: (stage, done, total)."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._lock = threading.Lock()
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}
        self._printed: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.quiet or total <= 0:
            return
        with self._lock:
            if self.tty:
                self._rich(stage, done, total)
            else:
                # A CI log gets a line per tenth of a long stage, and one line for a short one.
                step = done * _STEPS // total if total >= _STEPS * 10 else _STEPS * (done // total)
                if step > self._printed.get(stage, 0):
                    self._printed[stage] = step
                    sys.stderr.write(f"portside: {stage} {done}/{total}\n")
                    sys.stderr.flush()

    def _rich(self, stage: str, done: int, total: int) -> None:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
        if stage not in self._tasks:
            self._tasks[stage] = self._bar.add_task(stage, total=total)
        self._bar.update(self._tasks[stage], completed=done, total=total)

    def close(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.stop()
                self._bar = None


def show_policy(policy: Any, *, as_json: bool) -> None:
    from drivers.cleanup import policy_json, render_policy

    if as_json:
        sys.stdout.write(json.dumps(policy_json(policy), indent=2) + "\n")
    else:
        sys.stdout.write(render_policy(policy))


def show_outcome(outcome: Any, *, as_json: bool, quiet: bool) -> None:
    from drivers.cleanup import report

    if as_json:
        sys.stdout.write(json.dumps(report.to_json(outcome), indent=2) + "\n")
    elif quiet:
        sys.stdout.write(report.summary(outcome) + "\n")
    else:
        sys.stdout.write(report.table(outcome))
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        from integrations.github_files import append_step_summary

        append_step_summary(report.markdown(outcome), os.environ)
