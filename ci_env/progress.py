"""Rendering of transfer progress and results: a rich bar per image on a TTY, plain lines
in CI logs, nothing with --quiet. Progress goes to stderr, results to stdout.

rich is imported only when a bar is drawn: it costs ~0.1 s of start-up, which a
CI pull with its output in a log file should not pay.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from ci_env.output import human_size
from drivers.transfer.events import (
    BlobDone,
    BytesMoved,
    Event,
    ImageDone,
    ImageStarted,
    Note,
    Retrying,
)


def _short(digest: str) -> str:
    return digest[: len("sha256:") + 12]


class Reporter:
    """A progress callback with a `close()`; the plain-lines kind, also the base."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        line = self.line(event)
        if line is not None:
            with self._lock:
                self.stream.write(line + "\n")
                self.stream.flush()

    def line(self, event: Event) -> str | None:
        if isinstance(event, ImageStarted):
            return f"{event.image}: {event.blobs} blobs, {human_size(event.total_bytes)}"
        if isinstance(event, BlobDone):
            return f"  {_short(event.digest)} {human_size(event.size):>10}  {event.how}"
        if isinstance(event, Retrying):
            where = f" from byte {event.offset}" if event.offset else ""
            return f"  {_short(event.digest)} retrying{where}: {event.reason}"
        if isinstance(event, Note):
            return f"  note: {event.text}"
        if isinstance(event, ImageDone):
            return f"{event.image}: done, {event.digest} in {event.seconds:.2f}s"
        return None

    def close(self) -> None:
        pass


class Quiet(Reporter):
    def __call__(self, event: Event) -> None:
        pass


class Bars(Reporter):
    """One rich progress bar per image; retries and notes print above the bars."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self._tasks: dict[str, Any] = {}
        self._progress.start()

    def __call__(self, event: Event) -> None:
        progress = self._progress
        if isinstance(event, ImageStarted):
            self._tasks[event.image] = progress.add_task(event.image, total=event.total_bytes)
        elif isinstance(event, BytesMoved) and event.image in self._tasks:
            progress.advance(self._tasks[event.image], event.count)
        elif isinstance(event, ImageDone) and event.image in self._tasks:
            task = self._tasks[event.image]
            progress.update(task, completed=progress.tasks[task].total, refresh=True)
        elif isinstance(event, (Retrying, Note)):
            progress.console.print(self.line(event), markup=False, highlight=False)

    def close(self) -> None:
        self._progress.stop()


def reporter(*, quiet: bool, stream: TextIO | None = None) -> Reporter:
    """The renderer for this run: nothing, bars on a terminal, or plain lines."""
    stream = stream or sys.stderr
    if quiet:
        return Quiet(stream)
    if stream.isatty() and os.environ.get("TERM") != "dumb":
        return Bars(stream)
    return Reporter(stream)


def run_transfer(
    work: Callable[[Reporter], Sequence[Any]], *, quiet: bool, as_json: bool, verb: str
) -> None:
    """Run `work` with this run's progress renderer, then print the summary."""
    report = reporter(quiet=quiet)
    try:
        done = work(report)
    finally:
        report.close()
    results(done, as_json=as_json, quiet=quiet, verb=verb)


def results(items: Sequence[Any], *, as_json: bool, quiet: bool, verb: str) -> None:
    """The summary of transfers on stdout: JSON, or one line per image."""
    if as_json:
        sys.stdout.write(json.dumps([r.to_json() for r in items], indent=2) + "\n")
        return
    if quiet:
        return
    for r in items:
        mounted = f" ({r.blobs_mounted} by mount)" if r.blobs_mounted else ""
        platform = f" ({r.platform})" if r.platform else ""
        sys.stdout.write(
            f"{verb} {r.source}{platform} -> {r.destination}\n"
            f"  {r.digest}  {human_size(r.size)}, {r.seconds:.2f}s\n"
            f"  manifests: {r.manifests_fetched} moved, {r.manifests_skipped} already there; "
            f"blobs: {r.blobs_fetched} moved{mounted}, {r.blobs_skipped} already there\n"
        )
