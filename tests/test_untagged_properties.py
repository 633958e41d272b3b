"""`delete.untagged` over random GHCR-shaped repositories: the real planner and executor
against the in-memory model (cleanup_model), driven by a driver that lists untagged manifests
as the github driver does (each version with its push time) and deletes one manifest per
DELETE, with no cascade, so the engine alone decides what goes.

Repositories: images, multi-arch indexes sharing children, cosign signature tags, untagged
OCI referrers (by `subject`), tags on any of them, untagged leftovers old and fresh, and a
failing DELETE. Invariants, checked on the model afterwards:

1. Nothing a kept tag reaches, and nothing a fresh (newer than `newer_than`) leftover
   reaches, is deleted; every kept tag still points where it did.
2. Every deleted manifest was a candidate (a digest whose every tag the plan deletes, an old
   untagged leftover) or reachable only from deleted manifests.
3. An index that stays has all its children, also when its own deletion failed: nothing
   that stays is broken (an untagged child goes only after every deleted manifest that uses
   it). The exception is a child deleted in its own right (a tagged image whose tags all
   go, the engine's rule for tags), beside an index whose deletion failed.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.cleanup.policy import Duration, KeepRule, Policy, TagPattern
from drivers.cleanup.run import cleanup_repository, plan_repository
from drivers.reference import Repository
from drivers.registries.contract import TagInfo, UntaggedInfo
from tests.cleanup_model import ModelDriver, ModelRepository

NOW = datetime.now(timezone.utc)
TIMES = [NOW - timedelta(hours=1), NOW - timedelta(days=3), NOW - timedelta(days=30)]


class GhcrModelDriver(ModelDriver):
    """Lists tags with their digests and times and untagged manifests as package versions."""

    def __init__(self, model: ModelRepository, times: dict[str, datetime]) -> None:
        super().__init__(model)
        self.times = times

    def list_tags(self, repository: Repository) -> list[TagInfo]:
        self.model._event("list_tags", "")
        tags = self.model.tags
        return [TagInfo(t, tags[t], self.times.get(tags[t])) for t in sorted(tags)]

    def list_untagged(self, repository: Repository) -> list[UntaggedInfo]:
        tagged = set(self.model.tags.values())
        return [UntaggedInfo(d, self.times.get(d)) for d in self.model.manifests if d not in tagged]


@st.composite
def repositories(draw) -> tuple[ModelRepository, dict[str, datetime]]:
    model = ModelRepository(Repository("ghcr.test", "owner/app"))
    times: dict[str, datetime] = {}

    def add(digest: str) -> str:
        times[digest] = draw(st.sampled_from(TIMES))
        return digest

    images = [add(model.add_image(None)) for _ in range(draw(st.integers(1, 6)))]
    indexes = []
    for _ in range(draw(st.integers(0, 3))):
        children = draw(st.lists(st.sampled_from(images), min_size=1, max_size=3, unique=True))
        indexes.append(add(model.add_index(children)))
    digests = images + indexes
    names = ["latest", "v1", "v2", "main", "ci-1", "ci-2", "ci-3", "pr-1"]
    for name in draw(st.lists(st.sampled_from(names), max_size=6, unique=True)):
        model.tags[name] = draw(st.sampled_from(digests))
    for subject in draw(st.lists(st.sampled_from(digests), max_size=2, unique=True)):
        model.tags[f"sha256-{subject[7:]}.sig"] = add(model.add_image(None))
    for subject in draw(st.lists(st.sampled_from(digests), max_size=3, unique=True)):
        add(model.add_image(None, subject=subject))  # an untagged attestation or SBOM
    model.failing = set(draw(st.lists(st.sampled_from(digests), max_size=1)))
    return model, times


@st.composite
def policies(draw) -> Policy:
    rules = [KeepRule("keep[0]", tags=TagPattern.compile(draw(st.sampled_from(["v.*", "main"]))))]
    newer = draw(st.sampled_from([None, "1d", "7d"]))
    if newer:
        rules.append(KeepRule("keep[1]", newer_than=Duration.parse(newer)))
    delete = draw(st.sampled_from([(), (TagPattern.compile("ci-.*|pr-.*"),)]))
    only_untagged = draw(st.booleans())
    return Policy(
        tuple(rules) if not only_untagged else (),
        delete,
        draw(st.booleans()),
        delete_untagged=True,
        tags_too=not only_untagged,
    )


def _links(model: ModelRepository, digest: str) -> list[str]:
    return model.children(digest) + model.referrers_of(digest)


def _reach(model: ModelRepository, roots) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        digest = stack.pop()
        if digest not in seen:
            seen.add(digest)
            stack += _links(model, digest)
    return seen


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(repositories(), policies())
def test_untagged_deletion_keeps_everything_that_stays_whole(repo, policy):
    model, times = repo
    driver = GhcrModelDriver(model, times)
    plan = plan_repository(driver, model.repository, policy, jobs=1)
    before = {d: list(_links(model, d)) for d in model.manifests}
    tags_before = dict(model.tags)
    kept_tags = {d.tag: d.digest for d in plan.decisions if d.action == "keep" and d.tag}
    newer = policy.untagged_newer_than
    tagged_reach = _reach(model, set(tags_before.values()))
    fresh = {
        d
        for d in before
        if d not in tagged_reach
        and newer is not None
        and times[d] >= plan.state.captured_at - timedelta(seconds=newer.seconds)
    }
    deleted_tags = {d.tag for d in plan.deletes if d.tag}
    candidates = {
        d
        for d in set(tags_before.values())
        if all(t in deleted_tags for t, x in tags_before.items() if x == d)
    } | {d for d in before if d not in tagged_reach and d not in fresh}

    outcome = cleanup_repository(driver, model.repository, policy, jobs=1)

    gone = set(before) - set(model.manifests)
    must_stay = _reach(model, set(kept_tags.values()) | fresh)
    assert not gone & must_stay, (gone & must_stay, outcome)
    for tag, digest in kept_tags.items():
        assert model.tags.get(tag) == digest, tag
    parents: dict[str, set[str]] = {}
    for digest, below in before.items():
        for child in below:
            parents.setdefault(child, set()).add(digest)
    for digest in gone:
        assert digest in candidates or parents.get(digest, set()) <= gone, digest
    planned = {d.digest for d in plan.deletes if d.means == "digest"}
    for digest in model.manifests:
        if digest in before:
            missing = [c for c in model.children(digest) if c not in model.manifests]
            # The one exception: an index whose deletion failed, and a child that was a
            # candidate of its own (a tagged image deleted by its tags), not because of it.
            if digest in planned:
                missing = [c for c in missing if c in plan.state.untagged]
            assert not missing, (digest, missing, outcome)
