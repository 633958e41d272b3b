"""Every safety invariant of cleanup, as a property over random repositories and policies.

The real planner and executor run against the in-memory repository model (cleanup_model):
shared digests, multi-arch indexes (whose children may carry tags of their own), cosign
signature/attestation/SBOM tags, OCI referrers, time ties and unknown times, registries with
and without single-tag delete and the referrers API, failing deletions, and the repository
changing after planning and while deleting.

1. Every kept tag resolves to the same digest afterwards.
2. Everything a kept tag needs still exists: index children, referrers, signature tags.
3. No DELETE by digest is issued while a tag that must stay points at that digest (or needs
   it): checked at the moment each DELETE is issued.
4. A tag pushed or moved after planning is not deleted blindly.
5. With --with-referrers, the signatures and referrers of deleted images go with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from drivers.cleanup.execute import execute
from drivers.cleanup.outcome import Outcome
from drivers.cleanup.plan import Plan
from drivers.cleanup.policy import (
    Duration,
    KeepRule,
    Policy,
    PolicyFile,
    TagPattern,
    build_policy,
)
from drivers.cleanup.run import cleanup_repository, plan_repository
from drivers.cleanup.state import referrer_subject
from drivers.errors import InvalidInput
from drivers.reference import Repository
from tests.cleanup_model import BulkModelDriver, ModelDriver, ModelRepository

TAG_NAMES = [
    "latest",
    "v1.0.0",
    "v1.1.0",
    "v2.0.0",
    "main",
    "dev",
    "pr-1",
    "pr-2",
    "pr-3",
    "old-1",
    "old-2",
    "abc1234",
]
KEEP_PATTERNS = [r"^v\d+\.\d+\.\d+$", "main|dev", "pr-.*", ".*", "old-1"]
DELETE_PATTERNS = [(), ("pr-.*|old-.*",), (".*",), ("v1.*|latest|pr-.*",)]


@dataclass
class Scenario:
    model: ModelRepository
    policy: Policy
    digests: list[str]
    jobs: int
    before: tuple[str, str, str] | None  # (kind, tag, digest), applied after planning
    during: tuple[str, int, str] | None  # (kind, pick, digest), at the first deletion
    bulk: bool = False  # the driver deletes many tags per call


@st.composite
def policies(draw) -> Policy:
    rules = []
    for index in range(draw(st.integers(0, 3))):
        tags = draw(st.none() | st.sampled_from(KEEP_PATTERNS))
        last = draw(st.none() | st.integers(1, 3))
        newer = draw(st.none() | st.sampled_from(["1d", "7d"]))
        if tags is None and last is None and newer is None:
            tags = ".*"
        rules.append(
            KeepRule(
                f"keep[{index}]",
                tags=TagPattern.compile(tags) if tags else None,
                last=last,
                newer_than=Duration.parse(newer) if newer else None,
            )
        )
    delete = tuple(TagPattern.compile(p) for p in draw(st.sampled_from(DELETE_PATTERNS)))
    file = PolicyFile("<hypothesis>", tuple(rules), delete, draw(st.booleans()))
    try:
        return build_policy(file)
    except InvalidInput:
        assume(False)
        raise


@st.composite
def scenarios(draw) -> Scenario:
    model = ModelRepository(
        Repository("model.test", "team/app"),
        tag_delete=draw(st.booleans()),
        referrers_api=draw(st.booleans()),
    )
    now = datetime.now(timezone.utc)
    times = [None, now - timedelta(hours=1), now - timedelta(days=3), now - timedelta(days=20)]
    images = [model.add_image(draw(st.sampled_from(times))) for _ in range(draw(st.integers(1, 6)))]
    indexes = []
    for _ in range(draw(st.integers(0, 2))):
        children = draw(st.lists(st.sampled_from(images), min_size=1, max_size=3, unique=True))
        indexes.append(model.add_index(children))
    digests = images + indexes
    for name in draw(st.lists(st.sampled_from(TAG_NAMES), min_size=1, max_size=10, unique=True)):
        model.tags[name] = draw(st.sampled_from(digests))
    for subject in draw(st.lists(st.sampled_from(digests), max_size=3, unique=True)):
        kind = draw(st.sampled_from(["sig", "att", "sbom"]))
        model.tags[f"sha256-{subject[7:]}.{kind}"] = model.add_image(None)
    for subject in draw(st.lists(st.sampled_from(digests), max_size=2, unique=True)):
        model.add_image(None, subject=subject)
    model.failing = set(draw(st.lists(st.sampled_from(digests), max_size=1)))
    model.lossy = set(draw(st.lists(st.sampled_from(digests), max_size=1))) - model.failing
    before = None
    kind = draw(st.sampled_from(["none", "push", "move", "drop"]))
    if kind != "none":
        tag = "pushed-later" if kind == "push" else draw(st.sampled_from(sorted(model.tags)))
        before = (kind, tag, draw(st.sampled_from(digests)))
    during = None
    if draw(st.booleans()):
        during = (draw(st.sampled_from(["move", "push"])), draw(st.integers(0, 50)), "")
    jobs = draw(st.sampled_from([1, 4]))
    return Scenario(model, draw(policies()), digests, jobs, before, during, draw(st.booleans()))


def _needed(model: ModelRepository, roots: set[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        digest = stack.pop()
        if digest in seen:
            continue
        seen.add(digest)
        stack += model.children(digest) + model.referrers_of(digest)
    return seen


@dataclass
class Run:
    plan: Plan
    outcome: Outcome
    expected: dict[str, str]  # tags that must stay, and where
    tags_before: dict[str, str]
    signatures_before: dict[str, str]
    referrers_before: dict[str, list[str]]
    violations: list[str]
    moved_while_deleting: set[str]
    moved_to: dict[str, str]


def _run(scenario: Scenario) -> Run:
    model = scenario.model
    driver = (BulkModelDriver if scenario.bulk else ModelDriver)(model)
    repository = model.repository
    plan: Plan = plan_repository(driver, repository, scenario.policy, jobs=scenario.jobs)
    planned = {d.tag for d in plan.deletes if d.tag is not None}
    expected = {d.tag: d.digest for d in plan.decisions if d.action == "keep" and d.tag}
    moved_to: dict[str, str] = {}  # planned tags moved since planning, and where to
    if scenario.before:
        # After a change, a kept signature stays exactly while its image is needed; the
        # signature check below covers that, so it is not pinned here.
        expected = {t: d for t, d in expected.items() if not referrer_subject(t)}
        kind, tag, digest = scenario.before
        if kind == "drop":
            model.tags.pop(tag, None)
            expected.pop(tag, None)
        else:
            model.tags[tag] = digest
            if tag not in planned:
                expected[tag] = digest  # pushed, or a kept tag moved: must stay where it is now
            else:
                moved_to[tag] = digest

    # The repository as the run finds it (after the change made since planning).
    tags_before = dict(model.tags)
    signatures_before = {t: d for t, d in model.tags.items() if referrer_subject(t)}
    referrers_before = {d: model.referrers_of(d) for d in list(model.manifests)}
    may_go = set(planned)  # the only tags a DELETE may take with it
    untag_only: set[str] = set()  # moved while deleting: may go only by an untag
    real = set(model.manifests)  # not the dummy manifests of untags
    violations: list[str] = []

    deleting = []

    def during(name: str, arg: str) -> None:
        """Between two deletions (jobs=1: none is in flight), change the repository: push a
        new tag onto a kept digest, or move a planned tag onto one."""
        if name == "deleted":
            deleting.append(arg)
            return
        if name not in ("resolve", "delete_manifest", "delete_tag", "delete_tags") or not deleting:
            return  # the first call after a deletion is done: the next task's start
        if during not in model.hooks:
            return
        model.hooks.remove(during)
        kind, pick, _ = scenario.during or ("", 0, "")
        keep_digests = sorted({expected[t] for t in expected if t in model.tags})
        if not keep_digests:
            return
        target = keep_digests[pick % len(keep_digests)]
        if kind == "push":
            model.tags["pushed-during"] = target
            expected["pushed-during"] = target
            return
        movable = sorted(t for t in planned & set(model.tags) if model.tags[t] != target)
        if movable:
            moved = movable[pick % len(movable)]
            model.tags[moved] = target
            moved_to[moved] = target
            may_go.discard(moved)
            untag_only.add(moved)
            expected.pop(moved, None)  # re-evaluated: it may go, but only by untag

    # After a change since planning (a planned tag moved onto another image, a kept tag
    # dropped), an image may go that the plan kept; its signatures may go with it.
    referrers_follow = scenario.before is not None

    def check_delete(name: str, arg: str) -> None:
        if name != "delete_manifest":
            return
        images = {
            d
            for t, d in model.tags.items()
            if t not in may_go | untag_only and not referrer_subject(t)
        }
        needed_now = _needed(model, images)

        def may_take(tag: str) -> bool:
            if tag in may_go:
                return True
            if tag in untag_only:
                return arg not in real
            found = referrer_subject(tag)
            return referrers_follow and found is not None and found[0] not in needed_now

        taken = sorted(t for t, d in model.tags.items() if d == arg and not may_take(t))
        if taken:
            violations.append(f"DELETE {arg[:19]} would take {taken}")
        staying = {d for t, d in model.tags.items() if not may_take(t)}
        if arg in _needed(model, staying):
            violations.append(f"DELETE {arg[:19]} removes something a staying tag needs")

    model.hooks.append(check_delete)
    if scenario.during and scenario.jobs == 1:
        model.hooks.append(during)
    outcome = execute(plan, driver, scenario.policy, jobs=scenario.jobs)
    return Run(
        plan,
        outcome,
        expected,
        tags_before,
        signatures_before,
        referrers_before,
        violations,
        untag_only,
        moved_to,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_cleanup_never_deletes_what_it_keeps(scenario: Scenario) -> None:
    model = scenario.model
    run = _run(scenario)
    plan, outcome, expected, violations = run.plan, run.outcome, run.expected, run.violations
    signatures, referrers = run.signatures_before, run.referrers_before

    # 3. no DELETE by digest took a staying tag, or something one needs
    assert not violations, violations

    # 1. every kept tag resolves to the same digest as before
    for tag, digest in expected.items():
        assert model.tags.get(tag) == digest, f"kept tag {tag} changed"

    # 2. everything a kept tag needs still exists
    needed = _needed(model, set(expected.values()))
    for digest in needed:
        assert digest in model.manifests, f"{digest[:19]}, needed by a kept tag, is gone"
    for tag, digest in signatures.items():
        subject = (referrer_subject(tag) or ("",))[0]
        if subject in needed and tag not in run.moved_while_deleting:
            assert model.tags.get(tag) == digest, f"signature {tag} of a kept image is gone"
    for subject in needed:
        for ref in referrers.get(subject, []):
            assert ref in model.manifests, "a referrer of a kept image is gone"

    # no tag is left naming a manifest that is gone
    for tag, digest in model.tags.items():
        assert digest in model.manifests, f"{tag} dangles"

    # 4. a planned tag that moved is deleted only by a decision about where it is now
    for entry in outcome.deleted:
        if entry.tag in run.moved_to:
            assert entry.digest == run.moved_to[entry.tag], f"{entry.tag} deleted blindly"

    # the report accounts for every planned deletion, once
    listed = [
        e.tag
        for name in ("deleted", "kept", "skipped", "failed")
        for e in getattr(outcome, name)
        if e.tag is not None
    ]
    assert len(listed) == len(set(listed))
    assert {d.tag for d in plan.deletes if d.tag} <= set(listed)
    for entry in outcome.deleted:
        if entry.tag is not None and entry.tag not in ("pushed-later", "pushed-during"):
            assert entry.tag not in model.tags or model.tags[entry.tag] != entry.digest


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_referrers_go_with_their_image(scenario: Scenario) -> None:
    scenario.during = None
    scenario.model.failing = set()
    model = scenario.model
    run = _run(scenario)
    assert not run.violations, run.violations
    assert not run.outcome.failed
    referrers = run.referrers_before
    if not scenario.policy.with_referrers:
        return
    had_tags = set(run.tags_before.values())
    still_needed = _needed(model, set(model.tags.values()))
    for tag in model.tags:
        found = referrer_subject(tag)
        if found is None or (scenario.before and scenario.before[1] == tag):
            continue  # a signature tag moved since planning is left, not deleted blindly
        subject = found[0]
        orphaned = subject in had_tags and subject not in still_needed
        assert not orphaned, f"{tag} outlived its image"
    if model.referrers_api:
        for subject, refs in referrers.items():
            if subject in had_tags and subject not in model.manifests:
                for ref in refs:
                    assert ref not in model.manifests or ref in still_needed, "orphan referrer"


@settings(max_examples=100, deadline=None)
@given(scenarios())
def test_dry_run_deletes_nothing(scenario: Scenario) -> None:
    model = scenario.model
    tags, manifests = dict(model.tags), set(model.manifests)
    outcome = cleanup_repository(
        ModelDriver(model), model.repository, scenario.policy, dry_run=True, jobs=scenario.jobs
    )
    assert outcome.dry_run
    assert model.tags == tags and set(model.manifests) == manifests
    assert not any(name.startswith("delete") for name, _ in model.calls)


@settings(max_examples=300, deadline=None)
@given(
    policies(),
    st.dictionaries(
        st.sampled_from([*TAG_NAMES, "sha256-" + "a" * 64 + ".sig"]),
        st.tuples(st.integers(0, 3), st.sampled_from([None, 1, 30, 72, 500])),
        min_size=1,
    ),
)
@example(  # a tag kept by name still takes a place among the N newest
    build_policy(keep_tags=["v1.0.0"], keep_last=1),
    {"v1.0.0": (0, 500), "main": (1, 1), "dev": (2, 30)},
)
@example(  # a rule of names after `newer_than` does not keep it first: the reason differs
    build_policy(
        PolicyFile("<x>", (KeepRule("n", newer_than=Duration.parse("1d")),)), keep_tags=["dev"]
    ),
    {"dev": (0, 500), "main": (1, 1)},
)
def test_times_the_policy_does_not_judge_by_change_no_decision(policy: Policy, tags) -> None:
    """Reading leaves out the times of the tags `judges_by_time` does not name: the plan
    keeps and deletes every tag alike, for the same reason, as with every time known."""
    from drivers.cleanup.plan import make_plan
    from drivers.cleanup.state import RepositoryState

    now = datetime.now(timezone.utc)
    digests = {tag: f"sha256:{n:064x}" for tag, (n, _) in tags.items()}
    times = {t: now - timedelta(hours=h) for t, (_, h) in tags.items() if h is not None}
    repository = Repository("model.test", "team/app")
    full = RepositoryState(repository, digests, {}, now, times)
    read = {t: when for t, when in times.items() if policy.judges_by_time(t)}
    partial = RepositoryState(repository, digests, {}, now, read)
    decide = lambda plan: {d.key: (d.action, d.reason) for d in plan.decisions}  # noqa: E731
    assert decide(make_plan(full, policy)) == decide(make_plan(partial, policy))
