"""Reading a repository's state from the registry.

Reading costs one request per tag without a listed digest (a GET by tag gives the digest and
the manifest at once), one per listed digest, one per nested index, one per untagged
manifest no index lists (for `delete.untagged`: its `subject` and children), and the times
of the tags the policy may judge by time that the listing gave none (`times`): on a driver
that describes tags (GitLab's REST tag details) one API request per such tag, which gives
its digest too, so it is not read by tag; for what is still missing, one request per index
child and one config blob per digest of those tags.
Manifests are immutable, so what was read about a digest is cached and reused when the state
is re-read right before deleting (then one HEAD per tag, or, for a driver that lists once
per run, `reread_tags`; the tags that need a time are described again).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone

from drivers.cleanup.state import (
    ImageCache,
    ImageRecord,
    Progress,
    RepositoryState,
    parallel,
)
from drivers.cleanup.times import NeedsTime, config_times, described, read_times
from drivers.errors import InvalidInput, NotFound, Unsupported
from drivers.reference import Reference, Repository
from drivers.registries.contract import (
    DeletesManifests,
    Driver,
    ListsOncePerRun,
    ListsReferrers,
    ListsUntagged,
    ReadsManifests,
)


def _reader(driver: Driver) -> ReadsManifests:
    if not isinstance(driver, ReadsManifests):
        raise Unsupported(
            f"the {driver.name} driver cannot read manifests, which cleanup needs to see "
            "index children, signatures and image times"
        )
    return driver


def _untagged(
    driver: Driver, repository: Repository, tags: Mapping[str, str]
) -> dict[str, datetime | None]:
    """The untagged manifests (right after `list_tags`), for `delete.untagged`; a driver that
    cannot list them, or delete by digest, stops the run (fail closed, exit 2)."""
    if not isinstance(driver, ListsUntagged) or not isinstance(driver, DeletesManifests):
        raise InvalidInput(
            f"the {driver.name} driver cannot list untagged manifests, so --delete-untagged "
            f"(delete.untagged) cannot work on {repository.registry}",
            hint="drop --delete-untagged / delete.untagged; the registry's garbage collection "
            "removes untagged manifests there",
        )
    tagged = set(tags.values())
    listed = driver.list_untagged(repository)
    return {u.digest: u.created for u in listed if u.digest not in tagged}


def snapshot(
    driver: Driver,
    repository: Repository,
    *,
    needs_time: NeedsTime,
    untagged: bool = False,
    jobs: int = 8,
    cache: ImageCache | None = None,
    progress: Progress | None = None,
) -> RepositoryState:
    """Read the repository: every tag's digest, the manifests they need, and the times of
    the tags `needs_time` names."""
    captured_at = datetime.now(timezone.utc)
    reader = _reader(driver)
    cache = cache if cache is not None else ImageCache()
    listed = described(driver, repository, driver.list_tags(repository), needs_time, progress)
    tags = {t.tag: t.digest for t in listed if t.digest}
    push_times = {t.tag: t.created for t in listed if t.created is not None}

    def by_tag(tag: str) -> tuple[str, str] | None:
        try:
            manifest = reader.get_manifest(repository, tag)
        except NotFound:
            return None  # deleted since the listing
        cache.put(ImageRecord.of(manifest))
        return tag, manifest.digest

    unresolved = [t.tag for t in listed if not t.digest]
    loose = _untagged(driver, repository, tags) if untagged else {}
    for found in parallel(by_tag, unresolved, jobs, progress, "reading tags"):
        if found:
            tags[found[0]] = found[1]
    loose = {d: t for d, t in loose.items() if d not in tags.values()}
    timed = config_times(needs_time, push_times, tags)
    images = _read_all(reader, repository, tags.values(), loose, cache, timed, jobs)
    # Untagged referrers are untagged manifests themselves: planning links them by `subject`.
    referrers = _referrers(driver, repository, [d for d in images if d not in loose], jobs)
    return RepositoryState(
        repository,
        tags,
        images,
        captured_at,
        push_times,
        _subject_links(referrers or {}, images, loose),
        referrers is not None,
        loose,
    )


def _subject_links(
    referrers: Mapping[str, tuple[str, ...]],
    images: Mapping[str, ImageRecord],
    loose: Iterable[str],
) -> dict[str, tuple[str, ...]]:
    """`referrers` plus the untagged manifests whose `subject` names a manifest: a referrer
    the driver lists or not, it is found the same way."""
    out = dict(referrers)
    for digest in sorted(loose):
        image = images.get(digest)
        if image is not None and image.subject and digest not in out.get(image.subject, ()):
            out[image.subject] = (*out.get(image.subject, ()), digest)
    return out


def _read_all(
    reader: ReadsManifests,
    repository: Repository,
    tagged: Iterable[str],
    untagged: Iterable[str],
    cache: ImageCache,
    timed: Collection[str],
    jobs: int,
) -> dict[str, ImageRecord]:
    """The tagged manifests and what they use first, then the untagged ones that are not
    an index's image: an image a read index lists is known for what it is (a child, whose
    manifest says nothing more unless it is an index itself), so reading it again would be
    one request per child for nothing (GHCR lists every child as an untagged version).
    Times are read for `timed` only (an untagged manifest's is the listing's)."""
    images = read_images(reader, repository, tagged, cache, timed, jobs)
    listed = {c for r in images.values() for c in r.children}
    rest = [d for d in untagged if d not in listed and d not in images]
    images.update(read_images(reader, repository, rest, cache, (), jobs))
    return images


def read_images(
    reader: ReadsManifests,
    repository: Repository,
    digests: Iterable[str],
    cache: ImageCache,
    timed: Collection[str],
    jobs: int,
) -> dict[str, ImageRecord]:
    """Records for `digests` and everything under them (index children), from the cache or
    the registry; for the digests of `timed` (and their children), each image's `created`
    too."""

    def by_digest(digest: str) -> ImageRecord:
        return cache.put(ImageRecord.of(reader.get_manifest(repository, digest)))

    wanted = list(dict.fromkeys(digests))
    timed = set(timed)
    images: dict[str, ImageRecord] = {}
    while wanted:
        missing = [d for d in wanted if d not in cache]
        parallel(by_digest, missing, jobs)
        found = {d: cache.get(d) for d in wanted}
        images.update({d: r for d, r in found.items() if r is not None})
        # Children matter for protection; their manifests only for nested indexes, and for
        # the time of an index whose time is needed (it is as new as its newest image).
        timed |= {c for d in timed if d in images for c in images[d].children}
        below = {c for r in images.values() for c in (r.nested, r.children)[r.digest in timed]}
        wanted = [d for d in below if d not in images]
    if timed:
        read_times(reader, repository, images, timed, cache, jobs)
    return images


def _referrers(
    driver: Driver, repository: Repository, digests: Iterable[str], jobs: int
) -> dict[str, tuple[str, ...]] | None:
    """subject -> referrer digests through the referrers API; None without the API."""
    pending = sorted(digests)
    if not isinstance(driver, ListsReferrers) or not pending:
        return None
    first = pending.pop(0)
    answer = driver.list_referrers(repository, first)
    if answer is None:
        return None
    found = {first: tuple(d.digest for d in answer)}
    pending += [d for d in found[first] if d not in pending]
    while pending:
        batch = [d for d in dict.fromkeys(pending) if d not in found]
        answers = parallel(lambda d: driver.list_referrers(repository, d) or [], batch, jobs)
        pending = []
        for digest, descriptors in zip(batch, answers, strict=True):
            found[digest] = tuple(d.digest for d in descriptors)
            pending += [d.digest for d in descriptors if d.digest not in found]
    return {subject: refs for subject, refs in found.items() if refs}


def reread(
    driver: Driver,
    before: RepositoryState,
    *,
    needs_time: NeedsTime,
    jobs: int,
    cache: ImageCache,
    progress: Progress | None = None,
    untagged: bool = False,
) -> RepositoryState:
    """The state right before deleting: which tags exist now and where each points now
    (one HEAD per tag, or the driver's description of the tags that need a time;
    manifests already read are not read again), and which manifests are untagged now when
    the policy deletes them."""
    repository = before.repository
    captured_at = datetime.now(timezone.utc)
    once = isinstance(driver, ListsOncePerRun)
    listed = driver.reread_tags(repository) if once else driver.list_tags(repository)
    listed = described(driver, repository, listed, needs_time, progress, "re-reading tag details")
    unresolved = [t.tag for t in listed if not t.digest]
    now = resolve_tags(driver, repository, unresolved, jobs, progress, "re-reading tags")
    tags = {t.tag: d for t in listed if (d := t.digest or now.get(t.tag))}
    loose = _untagged(driver, repository, tags) if untagged else {}
    push_times = {t.tag: t.created for t in listed if t.created is not None}
    timed = config_times(needs_time, push_times, tags)
    images = _read_all(_reader(driver), repository, tags.values(), loose, cache, timed, jobs)
    state = replace(
        before,
        tags=tags,
        images=images,
        captured_at=captured_at,
        push_times=push_times,
        untagged=loose,
        referrers=_subject_links(before.referrers, images, loose),
    )
    new = [d for d in set(tags.values()) if d not in before.images]
    return add_referrers(driver, state, new, jobs)


def add_referrers(
    driver: Driver, state: RepositoryState, digests: Iterable[str], jobs: int
) -> RepositoryState:
    """The state with the referrers of `digests` (new since it was read) looked up too."""
    if not state.referrers_api:
        return state
    found = _referrers(driver, state.repository, digests, jobs) or {}
    return replace(state, referrers={**state.referrers, **found})


def resolve_tags(
    driver: Driver,
    repository: Repository,
    tags: Sequence[str],
    jobs: int,
    progress: Progress | None = None,
    stage: str = "",
) -> dict[str, str | None]:
    """Where each tag points now (None: gone); one HEAD per tag."""

    def resolve(tag: str) -> str | None:
        try:
            return driver.resolve(Reference(repository, tag=tag)).digest
        except NotFound:
            return None

    return dict(zip(tags, parallel(resolve, tags, jobs, progress, stage), strict=True))


def after_round(
    driver: Driver,
    state: RepositoryState,
    deleted: set[str],
    moved: Mapping[str, str],
    needs_time: NeedsTime,
    jobs: int,
    cache: ImageCache,
) -> RepositoryState:
    """The state after a round of deletions: deleted tags gone, moved tags where they point
    now (their manifests and referrers read if new).

    A moved tag's listed push time belonged to its old image, so it is dropped: the tag is
    judged by its new image's `created` (read from its config), never as old as the image it
    left.
    """
    tags = {t: d for t, d in state.tags.items() if t not in deleted}
    tags.update(moved)
    push_times = {t: when for t, when in state.push_times.items() if t in tags and t not in moved}
    reader = _reader(driver)
    timed = config_times(needs_time, push_times, tags)
    images = read_images(reader, state.repository, set(tags.values()), cache, timed, jobs)
    state = replace(state, tags=tags, images=images, push_times=push_times)
    return add_referrers(driver, state, set(moved.values()), jobs)
