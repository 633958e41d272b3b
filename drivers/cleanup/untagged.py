"""Untagged manifests (`delete: {untagged: true}`), for planning: which are leftovers that
may go, which stay, and what each deleted one waits for.

* A **leftover** is an untagged manifest that no tagged manifest reaches (as a child or a
  referrer). It stays when it is newer than the policy's longest `newer_than` (or its time
  is unknown), and it protects what it reaches, like a kept tag. An old one is a candidate.
  What a leftover reaches is never deleted by digest for a tag's sake (a tagged image in an
  untagged index is only untagged): the leftover may fail to go, and must not break. The
  next run deletes it with the leftover.
* An untagged manifest a tagged one reaches follows that tag's fate: kept (protected) with a
  kept image, deleted after the image it belongs to when that image is deleted.

Each deletion names the deleted manifests that use it (`parents`), so the engine deletes it
only once they are all gone: a child outlives a parent whose deletion failed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import timedelta

from drivers.cleanup.policy import Policy
from drivers.cleanup.state import RepositoryState


def links(state: RepositoryState) -> dict[str, tuple[str, ...]]:
    """digest -> what it needs directly: index children and referrers."""
    out: dict[str, tuple[str, ...]] = {}
    for digest in set(state.images) | set(state.referrers):
        image = state.images.get(digest)
        out[digest] = (*(image.children if image else ()), *state.referrers.get(digest, ()))
    return out


def reach(roots: Iterable[str], graph: Mapping[str, tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        digest = stack.pop()
        if digest not in seen:
            seen.add(digest)
            stack.extend(graph.get(digest, ()))
    return seen


def leftovers(state: RepositoryState) -> set[str]:
    """The untagged manifests no tagged manifest reaches."""
    if not state.untagged:
        return set()
    tagged = reach(state.tags.values(), links(state))
    return {digest for digest in state.untagged if digest not in tagged}


def kept_leftovers(
    state: RepositoryState, policy: Policy, allowed: Collection[str] | None
) -> dict[str, str]:
    """The untagged leftovers that stay, with why (digest -> reason)."""
    loose = leftovers(state)
    newer = policy.untagged_newer_than if policy.delete_untagged else None
    cutoff = state.captured_at - timedelta(seconds=newer.seconds) if newer else None
    kept: dict[str, str] = {}
    for digest in sorted(loose):
        when = state.untagged[digest]
        if not policy.delete_untagged:
            kept[digest] = "untagged; delete.untagged is off"
        elif cutoff is not None and (when is None or when >= cutoff):
            kept[digest] = f"untagged, newer than {newer.text}" if when else "untagged, no time"
        elif allowed is not None and "@" + digest not in allowed:
            kept[digest] = "untagged since planning; the next run decides"
    return kept


def deletions(
    state: RepositoryState,
    protected: Collection[str],
    deleted: Collection[str],
    decided: Collection[str],
    allowed: Collection[str] | None,
) -> list[tuple[str, tuple[str, ...]]]:
    """(digest, parents) of every untagged manifest to delete: not protected, not decided
    already (a referrer of a deleted image), and either an old leftover or reachable only
    from what is deleted. `parents`: the deleted manifests that use it, deleted first."""
    mine = [
        digest
        for digest in sorted(state.untagged)
        if digest not in protected
        and digest not in decided
        and (allowed is None or "@" + digest in allowed)
    ]
    going = set(deleted) | set(mine)
    graph = links(state)
    parents: dict[str, list[str]] = {}
    for digest in sorted(going):
        for below in graph.get(digest, ()):
            if digest not in parents.get(below, []):
                parents.setdefault(below, []).append(digest)
    return [(digest, tuple(parents.get(digest, ()))) for digest in mine]
