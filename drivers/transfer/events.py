"""How transfers report progress: small value events sent to one callback.

The drivers only emit events; `ci_env.progress` renders them (a rich bar on a TTY, plain
lines in CI logs, nothing with --quiet). Events arrive from worker threads, so a
renderer must be thread-safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class ImageStarted:
    """Work on one image begins: how many blobs and bytes it needs in all."""

    image: str
    blobs: int
    total_bytes: int


@dataclass(frozen=True)
class BytesMoved:
    """`count` more bytes of `image` are done (fetched, verified in place, or skipped)."""

    image: str
    count: int


@dataclass(frozen=True)
class BlobDone:
    """A blob is in place. `how` is "fetched", "present", "mounted" or "uploaded"."""

    image: str
    digest: str
    size: int
    how: str


@dataclass(frozen=True)
class Retrying:
    """A blob transfer failed part-way and is tried again, resumed at `offset` if > 0."""

    image: str
    digest: str
    offset: int
    reason: str


@dataclass(frozen=True)
class Note:
    """Something the user should know that is not an error."""

    image: str
    text: str


@dataclass(frozen=True)
class ImageDone:
    image: str
    digest: str
    seconds: float


Event = ImageStarted | BytesMoved | BlobDone | Retrying | Note | ImageDone
Progress = Callable[[Event], None]


def silent(_event: Event) -> None:
    """The progress callback that ignores everything."""
