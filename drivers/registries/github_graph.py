"""What the `github` driver knows about the manifests of a package, read through the Registry
v2 API once per digest and only where the Packages API's listing cannot tell: a tagged
manifest (is it an index, with which children?), an untagged one no index lists (is it a
referrer, with which `subject`?). An image a read index lists (a leaf) is not read: it has
no children, and what it refers to does not matter while the index uses it.

From that and the listing: which untagged versions refer to a digest (`subject_index`), and
which versions go with a deleted manifest (`going_with`): its untagged children, and theirs,
that nothing left uses.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Mapping

from drivers.manifest import INDEX_TYPES, Manifest
from drivers.reference import Repository
from drivers.registries.github_api import Version

Shape = tuple[tuple[str, ...], str | None]  # (children, subject) of a manifest


class Manifests:
    """Manifests by digest (they never change), each read once, and their shapes."""

    def __init__(self, read: Callable[[Repository, str], Manifest]) -> None:
        self._read = read
        self._manifests: dict[str, Manifest] = {}
        self._shapes: dict[str, Shape] = {}
        self.leaves: set[str] = set()  # images a read index lists (not indexes themselves)
        self._lock = threading.Lock()

    def get(self, repository: Repository, digest: str) -> Manifest:
        if digest not in self._manifests:
            manifest = self._read(repository, digest)
            with self._lock:
                self.leaves.update(
                    c.digest for c in manifest.children if c.media_type not in INDEX_TYPES
                )
                self._manifests[digest] = manifest
        return self._manifests[digest]

    def shape(self, repository: Repository, digest: str) -> Shape:
        """(children, subject), parsed once; a leaf not read is ((), None), unread."""
        if digest not in self._shapes:
            if digest in self.leaves and digest not in self._manifests:
                return (), None
            manifest = self.get(repository, digest)
            subject = manifest.subject
            children = tuple(c.digest for c in manifest.children)
            self._shapes[digest] = (children, subject.digest if subject else None)
        return self._shapes[digest]


def subject_index(
    repository: Repository, versions: Mapping[str, Version], manifests: Manifests
) -> dict[str, list[str]]:
    """subject -> the untagged versions whose manifest refers to it (the referrers GitHub
    keeps no index of), from the untagged versions no read index lists."""
    index: dict[str, list[str]] = {}
    for version in versions.values():
        if not version.tags and version.digest not in manifests.leaves:
            subject = manifests.shape(repository, version.digest)[1]
            if subject is not None:
                index.setdefault(subject, []).append(version.digest)
    return index


def used_children(
    repository: Repository,
    versions: Mapping[str, Version],
    manifests: Manifests,
    going: Collection[str] = (),
) -> set[str]:
    """The children of every version that stays (not in `going`)."""
    return {
        child
        for digest in list(versions)
        if digest not in going
        for child in manifests.shape(repository, digest)[0]
    }


def going_with(
    repository: Repository,
    versions: Mapping[str, Version],
    manifests: Manifests,
    digests: Collection[str],
) -> set[str]:
    """`digests` and the untagged versions deleting them takes along (children nothing
    that stays uses, transitively): what the deletions will cost in DELETEs."""
    going = set(digests)
    used = used_children(repository, versions, manifests, going)
    stack = list(going)
    while stack:
        for child in manifests.shape(repository, stack.pop())[0]:
            version = versions.get(child)
            if version is not None and not version.tags and child not in going | used:
                going.add(child)
                stack.append(child)
    return going
