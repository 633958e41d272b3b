"""Tag times for cleanup: which tags need one, and where each comes from.

A tag needs a time only when the policy may judge it by time (`Policy.judges_by_time`). In
turn, a tag's time is:

1. the push time the listing gave (ECR, GHCR, GraphQL on GitLab);
2. else, on a driver whose API describes a tag in one request (`DescribesTags`: GitLab's
   REST tag details), the time that gives, asked for exactly the tags that need one, with
   their digests, so those tags are not read by tag through Registry v2;
3. else the image config's `created` (an index: its newest image's), read through Registry
   v2 once per digest, and only for the digests of the tags still without a time: one tag
   GitLab gives no `created_at` (an index) costs that tag's configs, not every image's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from drivers.cleanup.state import ImageCache, ImageRecord, Progress, parallel
from drivers.errors import ProtocolError
from drivers.reference import Repository
from drivers.registries.contract import (
    DescribesTags,
    Driver,
    ReadsManifests,
    TagInfo,
    parse_created,
)

NeedsTime = Callable[[str], bool]  # tag -> whether the policy may judge it by time
DESCRIBE_BATCH = 100  # tags a `describe_tags` call: progress is told between calls


def described(
    driver: Driver,
    repository: Repository,
    listed: Sequence[TagInfo],
    needs_time: NeedsTime,
    progress: Progress | None = None,
    stage: str = "reading tag details",
) -> list[TagInfo]:
    """`listed` with each tag that needs a time and was listed without one described by
    the driver (`DescribesTags`): its digest and time from there. A tag the driver no
    longer knows is gone since the listing, and left out."""
    wanted = [t.tag for t in listed if t.created is None and needs_time(t.tag)]
    if not wanted or not isinstance(driver, DescribesTags):
        return list(listed)
    found: dict[str, TagInfo] = {}
    for start in range(0, len(wanted), DESCRIBE_BATCH):
        batch = wanted[start : start + DESCRIBE_BATCH]
        found.update((t.tag, t) for t in driver.describe_tags(repository, batch))
        if progress:
            progress(stage, start + len(batch), len(wanted))
    asked = set(wanted)
    out = []
    for tag in listed:
        if tag.tag not in asked:
            out.append(tag)
        elif tag.tag in found:
            detail = found[tag.tag]
            out.append(TagInfo(tag.tag, detail.digest or tag.digest, detail.created))
    return out


def config_times(
    needs_time: NeedsTime, push_times: Mapping[str, datetime], tags: Mapping[str, str]
) -> set[str]:
    """The digests whose image configs must be read for their `created`: those of the tags
    that need a time and got none from the registry (push times win over configs)."""
    return {digest for tag, digest in tags.items() if tag not in push_times and needs_time(tag)}


def read_times(
    reader: ReadsManifests,
    repository: Repository,
    images: dict[str, ImageRecord],
    timed: Collection[str],
    cache: ImageCache,
    jobs: int,
) -> None:
    """Each image of `timed` (digests, index children included) with its config's
    `created`; each index of them as new as its newest image."""

    def created(record: ImageRecord) -> ImageRecord:
        when = None
        if record.config:
            try:
                doc = json.loads(reader.read_blob(repository, record.config))
            except ValueError:
                raise ProtocolError(f"image config {record.config} is not JSON") from None
            when = parse_created(doc.get("created") if isinstance(doc, dict) else None)
        return cache.put(replace(record, created=when, created_read=True))

    records = [images[d] for d in timed if d in images]
    unread = [r for r in records if not r.is_index and not r.created_read]
    for record in parallel(created, unread, jobs):
        images[record.digest] = record
    # Deepest indexes first.
    for record in sorted((r for r in records if r.is_index), key=lambda r: -_depth(r, images)):
        times = [images[c].created for c in record.children if c in images]
        newest = max((t for t in times if t is not None), default=None)
        images[record.digest] = cache.put(replace(record, created=newest, created_read=True))


def _depth(record: ImageRecord, images: Mapping[str, ImageRecord], seen=()) -> int:
    if record.digest in seen:
        return 0
    below = [images[c] for c in record.nested if c in images]
    return 1 + max((_depth(c, images, (*seen, record.digest)) for c in below), default=0)
