"""The driver contract: what every registry implementation offers, and the optional extras.

A driver is small on purpose. Everything else (pull, copy, cleanup planning) is written
once on top of this contract and the distribution client. Extras that only some
registries have are separate capability protocols, checked with `isinstance`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import ClassVar, Protocol, runtime_checkable

from drivers.manifest import Descriptor, Manifest
from drivers.reference import Reference, Repository

# RFC 3339 as image configs (`created`) and registry APIs (push times) write it; nanoseconds
# are allowed and cut to what datetime holds.
_TIMESTAMP = r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$"


def parse_created(text: object) -> datetime | None:
    """An RFC 3339 time (an image config's `created`, a registry's push time) in UTC; None
    when it is missing or unreadable."""
    import re

    if not isinstance(text, str):
        return None
    match = re.match(_TIMESTAMP, text.strip())
    if not match:
        return None
    day, clock, fraction, zone = match.groups()
    fraction = (fraction or ".0")[:7]
    zone = "+00:00" if zone in (None, "Z") else zone
    try:
        return datetime.fromisoformat(f"{day}T{clock}{fraction}{zone}").astimezone(timezone.utc)
    except ValueError:
        return None


@dataclass(frozen=True)
class TagInfo:
    """A tag, with its digest and push time when the registry gives them cheaply."""

    tag: str
    digest: str | None = None
    created: datetime | None = None


@dataclass(frozen=True)
class TagDeletion:
    """The outcome of deleting one tag in a bulk call."""

    tag: str
    error: str | None = None  # None when the tag is gone

    @property
    def ok(self) -> bool:
        return self.error is None


@runtime_checkable
class Driver(Protocol):
    """What every implementation does."""

    name: ClassVar[str]

    def list_tags(self, repository: Repository) -> list[TagInfo]:
        """Every tag of the repository. Digest and time are filled in where that is cheap."""
        ...

    def resolve(self, reference: Reference) -> Descriptor:
        """The manifest a tag or digest points at now."""
        ...

    def delete_tag(self, repository: Repository, tag: str) -> None:
        """Remove this one tag, and never another tag that shares its digest."""
        ...


@runtime_checkable
class ListsRepositories(Protocol):
    """Can enumerate repositories (the `_catalog`, or a native listing)."""

    def list_repositories(self, prefix: str = "") -> Iterator[str]: ...


@runtime_checkable
class DescribesTags(Protocol):
    """Its API gives a tag's digest and time in one request, where its listing gives names
    only (GitLab's REST tag details, `GET …/tags/:name`: `digest` and `created_at`).

    The engine asks it for exactly the tags whose time the policy needs and the listing did
    not give, before it reads anything through Registry v2, and then reads the registry
    only for what is still missing. Takes any number of tags (the driver fetches them
    concurrently) and answers for each tag that still exists: a tag deleted since the
    listing is left out. A digest or time the API does not have is None (GitLab gives no
    `created_at` for an index, which has no config).
    """

    def describe_tags(self, repository: Repository, tags: Sequence[str]) -> list[TagInfo]: ...


@runtime_checkable
class DeletesTagsInBulk(Protocol):
    """Deletes many tags at once (ECR `batch_delete_image`, GitLab bulk delete).

    Takes any number of tags: the driver splits them into as many calls as its API needs
    (ECR: 100 ids a call), and answers for each tag.
    """

    def delete_tags(self, repository: Repository, tags: Sequence[str]) -> list[TagDeletion]: ...


@runtime_checkable
class DeletesManifests(Protocol):
    """Deletes a manifest by digest, with every tag on it."""

    def delete_manifest(self, repository: Repository, digest: str) -> None: ...


def deletes_by_digest(driver: object) -> bool:
    """Whether the cleanup engine may delete a manifest by digest through `driver`: the plan
    (a dry run too) asks this, as the real run does, so both say how a tag goes. A driver of
    a tag-only API (gitlab, quay, harbor, dockerhub) has no `delete_manifest`, and every
    tag it deletes is deleted by tag."""
    return isinstance(driver, DeletesManifests)


@dataclass(frozen=True)
class UntaggedInfo:
    """A manifest no tag points at, with its push time when the registry gives it."""

    digest: str
    created: datetime | None = None


@runtime_checkable
class ListsUntagged(Protocol):
    """Lists the manifests no tag points at (GHCR's untagged package versions): what
    `delete: {untagged: true}` may delete, by digest (`DeletesManifests`).

    Answers as of the latest `list_tags` of the repository (the engine calls it right after),
    so the two agree and the repository is listed once.
    """

    def list_untagged(self, repository: Repository) -> list[UntaggedInfo]: ...


@runtime_checkable
class ListsOncePerRun(Protocol):
    """Its listing is a rate-limited API's whole record of the repository (GHCR's package
    versions: every tag with its digest), a request per page, and paging it while deleting
    skips entries. So the engine lists once per run:

    * right before deleting, it asks `reread_tags` instead of listing again: the listed tags,
      less those the registry no longer has, plus the tags pushed since (a cheap look at
      the registry's own tag names, a HEAD per new name);
    * after deleting by digest it does not list again to find tags left behind: deleting
      the manifest removed exactly the tags on it.
    """

    def reread_tags(self, repository: Repository) -> list[TagInfo]: ...


@dataclass(frozen=True)
class RequestBudget:
    """What a plan's deletions cost in an API's rate-limited requests, and what is left."""

    planned: int  # requests the deletions take (DELETEs, untag pushes, their look-ups)
    deletions: int  # versions deleted, with what goes with them
    untags: int  # untag pushes
    remaining: int  # of the primary limit, as the API's latest answer said
    reset: datetime | None  # when the limit is full again

    @property
    def short(self) -> int:
        return self.planned - self.remaining


@runtime_checkable
class BudgetsRequests(Protocol):
    """Its API limits requests per hour (GitHub's primary rate limit): how many requests
    deleting `digests` (with what goes along) and untagging `untags` tags takes, and how
    many are left; None when the API told nothing."""

    def request_budget(
        self, repository: Repository, digests: Collection[str], untags: int
    ) -> RequestBudget | None: ...


@runtime_checkable
class ReadsManifests(Protocol):
    """Reads manifests by tag or digest, and blobs: what cleanup needs to see an index's
    children, a referrer's subject and an image config's `created` time."""

    def get_manifest(self, repository: Repository, reference: str) -> Manifest: ...

    def read_blob(self, repository: Repository, digest: str) -> bytes: ...


@runtime_checkable
class ListsReferrers(Protocol):
    """The OCI referrers API (distribution-spec 1.1): manifests whose `subject` is `digest`.

    Returns None when the registry does not offer the API.
    """

    def list_referrers(self, repository: Repository, digest: str) -> list[Descriptor] | None: ...


@runtime_checkable
class NotesCleanup(Protocol):
    """Has something to say in a cleanup's report about how the registry works: which time
    tags were judged by, what its own garbage collector leaves or removes."""

    def cleanup_notes(self, repository: Repository) -> list[str]: ...


@runtime_checkable
class ChecksDeletion(Protocol):
    """Finds out, without deleting anything, whether deleting in a repository can work.

    Raises the error a deletion would meet (deletion disabled, no delete permission), so a
    cleanup stops before it has done anything.
    """

    def check_deletion(self, repository: Repository) -> None: ...
