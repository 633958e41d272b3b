"""The state of one repository, as planning sees it: each tag's digest and time, and what
each manifest needs (index children, OCI referrers). Planning reads nothing from the
network; `reading` fills this in.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from drivers.manifest import INDEX_TYPES, Manifest
from drivers.reference import Repository

Progress = Callable[[str, int, int], None]  # (stage, done, total)
T = TypeVar("T")
R = TypeVar("R")

# cosign's tag scheme (`sha256-<hex>.sig|.att|.sbom`) and the OCI referrers tag schema
# (`sha256-<hex>`, an index of referrers, for registries without the referrers API).
_REFERRER_TAG = re.compile(r"^(sha256)-([0-9a-f]{64})(?:\.(sig|att|sbom))?$")


def referrer_subject(tag: str) -> tuple[str, str] | None:
    """(subject digest, kind) for a signature, attestation or SBOM tag; else None."""
    match = _REFERRER_TAG.match(tag)
    if not match:
        return None
    kinds = {"sig": "signature", "att": "attestation", "sbom": "SBOM", None: "referrers index"}
    return f"{match.group(1)}:{match.group(2)}", kinds[match.group(3)]


@dataclass(frozen=True)
class ImageRecord:
    """What cleanup knows about one manifest."""

    digest: str
    media_type: str
    children: tuple[str, ...] = ()  # an index's manifests
    nested: tuple[str, ...] = ()  # the children that are indexes themselves
    subject: str | None = None  # OCI `subject`: this manifest refers to that one
    config: str | None = None  # the image config blob, when it is JSON
    created: datetime | None = None
    created_read: bool = False

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @classmethod
    def of(cls, manifest: Manifest) -> ImageRecord:
        children = manifest.children
        config = None if manifest.is_index else manifest.config
        subject = manifest.subject
        return cls(
            digest=manifest.digest,
            media_type=manifest.media_type,
            children=tuple(c.digest for c in children),
            nested=tuple(c.digest for c in children if c.media_type in INDEX_TYPES),
            subject=subject.digest if subject else None,
            config=config.digest if config and "json" in config.media_type else None,
        )


@dataclass(frozen=True)
class RepositoryState:
    repository: Repository
    tags: Mapping[str, str]  # tag -> digest
    images: Mapping[str, ImageRecord]  # digest -> record: tagged manifests and their children
    captured_at: datetime
    push_times: Mapping[str, datetime] = field(default_factory=dict)  # where the driver has them
    referrers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # OCI referrers API
    referrers_api: bool = False  # whether the registry answered the referrers API
    # Manifests no tag points at, with their push times; read only for `delete.untagged`
    # (their records are in `images`).
    untagged: Mapping[str, datetime | None] = field(default_factory=dict)

    def time_of(self, tag: str) -> datetime | None:
        """The push time, else the image's `created`; None (counts as newest) when unknown."""
        if tag in self.push_times:
            return self.push_times[tag]
        image = self.images.get(self.tags.get(tag, ""))
        return image.created if image else None

    def referrer_keys(self) -> frozenset[str]:
        """Signature tags, and `@digest` keys of untagged OCI referrers."""
        tags = {t for t in self.tags if referrer_subject(t) is not None}
        return frozenset(tags | {"@" + r for refs in self.referrers.values() for r in refs})

    def tags_on(self) -> dict[str, list[str]]:
        by_digest: dict[str, list[str]] = {}
        for tag, digest in self.tags.items():
            by_digest.setdefault(digest, []).append(tag)
        return by_digest


class ImageCache:
    """Records by digest, shared by the threads that read them and by later snapshots."""

    def __init__(self) -> None:
        self._records: dict[str, ImageRecord] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> ImageRecord | None:
        return self._records.get(digest)

    def put(self, record: ImageRecord) -> ImageRecord:
        with self._lock:
            known = self._records.get(record.digest)
            if known is not None and known.created_read and not record.created_read:
                return known
            self._records[record.digest] = record
            return record

    def __contains__(self, digest: str) -> bool:
        return digest in self._records


def parallel(
    fn: Callable[[T], R],
    items: Sequence[T],
    jobs: int,
    progress: Progress | None = None,
    stage: str = "",
) -> list[R]:
    """`fn` over `items` on `jobs` threads, in order; the first exception propagates."""
    if not items:
        return []
    total, done = len(items), 0
    if jobs <= 1 or total == 1:
        results = []
        for item in items:
            results.append(fn(item))
            done += 1
            if progress:
                progress(stage, done, total)
        return results
    with ThreadPoolExecutor(max_workers=min(jobs, total)) as pool:
        futures = [pool.submit(fn, item) for item in items]
        results = []
        for future in futures:
            results.append(future.result())
            done += 1
            if progress:
                progress(stage, done, total)
        return results
