"""Untagged manifests (`delete: {untagged: true}`), for planning: which are leftovers that
may go, which stay, and what each deleted one waits for.

* A **leftover** is an untagged manifest that no tagged manifest reaches (as a child or a
  referrer). It stays when it is newer than the policy's longest `newer_than` (or its time
  is unknown), and it protects what it reaches, like a kept tag. An old one is a candidate.
* An untagged manifest a tagged one reaches follows that tag's fate: kept (protected) with a
  kept image, deleted after the image it belongs to when that image is deleted.

Each deletion names the deleted manifest it belongs to (`parent`), so the engine deletes it
only once that one is gone: a child outlives a parent whose deletion failed.
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


def kept_leftovers(
    state: RepositoryState, policy: Policy, allowed: Collection[str] | None
) -> dict[str, str]:
    """The untagged leftovers that stay, with why (digest -> reason)."""
    if not state.untagged:
        return {}
    tagged = reach(state.tags.values(), links(state))
    newer = policy.untagged_newer_than if policy.delete_untagged else None
    cutoff = state.captured_at - timedelta(seconds=newer.seconds) if newer else None
    kept: dict[str, str] = {}
    for digest, when in state.untagged.items():
        if digest in tagged:
            continue
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
) -> list[tuple[str, str | None]]:
    """(digest, parent) of every untagged manifest to delete: not protected, not decided
    already (a referrer of a deleted image), and either an old leftover or reachable only
    from what is deleted. `parent`: a deleted manifest it belongs to, deleted first."""
    graph = links(state)
    parents: dict[str, str] = {}
    for digest in sorted(deleted):
        for below in graph.get(digest, ()):
            parents.setdefault(below, digest)
    out = []
    for digest in sorted(state.untagged):
        if digest in protected or digest in decided:
            continue
        if allowed is not None and "@" + digest not in allowed:
            continue
        out.append((digest, parents.get(digest)))
    # A parent that is itself an untagged deletion is in `deleted` only through this list.
    mine = {d for d, _ in out}
    for digest in sorted(mine):
        for below in graph.get(digest, ()):
            if below in mine:
                parents.setdefault(below, digest)
    return [(d, parents.get(d)) for d, _ in out]
