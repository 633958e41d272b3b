"""The executor on hand-made repositories (the in-memory model): the moments that random
properties reach only rarely, made certain."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from drivers.cleanup.execute import execute
from drivers.cleanup.policy import build_policy
from drivers.cleanup.run import cleanup_repository, plan_repository
from drivers.errors import Unsupported
from drivers.reference import Repository
from drivers.registries.contract import TagInfo
from tests.cleanup_model import BulkModelDriver, ModelDriver, ModelRepository

NOW = datetime.now(timezone.utc)


def model(**options) -> ModelRepository:
    return ModelRepository(Repository("model.test", "team/app"), **options)


def test_a_tag_moved_while_deleting_is_re_read_before_its_untag():
    repo = model()
    old = repo.add_image(NOW - timedelta(days=30))
    fresh = repo.add_image(NOW)
    repo.tags.update({"v1": old, "ci-1": old, "ci-2": old})
    policy = build_policy(keep_tags=["v1"], keep_newer_than="1d")
    driver = ModelDriver(repo)
    plan = plan_repository(driver, repo.repository, policy)
    assert {d.tag: d.means for d in plan.deletes} == {"ci-1": "tag", "ci-2": "tag"}

    def rebuild_ci_2(name: str, arg: str) -> None:
        if name == "deleted" and repo.tags.get("ci-2") == old:  # ci-1's untag just finished
            repo.tags["ci-2"] = fresh  # CI pushed a new build under the same tag

    repo.hooks.append(rebuild_ci_2)
    outcome = execute(plan, driver, policy, jobs=1)
    assert repo.tags["ci-2"] == fresh, "a re-pushed tag was untagged blindly"
    assert repo.tags["v1"] == old and "ci-1" not in repo.tags
    kept = {e.tag: e for e in outcome.kept}
    assert kept["ci-2"].digest == fresh and "re-evaluated" in kept["ci-2"].reason


def test_failures_are_reported_and_the_run_goes_on():
    repo = model()
    digests = [repo.add_image(NOW - timedelta(days=i)) for i in range(4)]
    for i, digest in enumerate(digests):
        repo.tags[f"pr-{i}"] = digest
    repo.tags[f"sha256-{digests[1][7:]}.sig"] = repo.add_image(None)
    repo.failing = {digests[1]}
    policy = build_policy(delete_tags=["pr-.*"])
    outcome = cleanup_repository(ModelDriver(repo), repo.repository, policy, jobs=4)

    assert {e.tag for e in outcome.failed} == {"pr-1"}
    assert "HTTP 500" in outcome.failed[0].reason
    assert {e.tag for e in outcome.deleted} == {"pr-0", "pr-2", "pr-3"}
    skipped = {e.tag: e.reason for e in outcome.skipped}
    assert skipped == {
        f"sha256-{digests[1][7:]}.sig": "its image was not deleted, so it stays with it"
    }
    assert set(repo.tags) == {"pr-1", f"sha256-{digests[1][7:]}.sig"}


def test_deletion_disabled_stops_before_anything_is_touched():
    repo = model(delete_enabled=False)
    digest = repo.add_image(None)
    repo.tags.update({"v1": digest, "ci-1": digest, "ci-2": repo.add_image(None)})
    before = dict(repo.tags)
    with pytest.raises(Unsupported, match="disabled"):
        cleanup_repository(ModelDriver(repo), repo.repository, build_policy(keep_tags=["v1"]))
    assert repo.tags == before
    assert not [c for c in repo.calls if c[0] in ("delete_tag", "delete_manifest", "resolve")]


def test_an_index_child_with_a_candidate_tag_is_only_untagged():
    repo = model(tag_delete=True)
    amd64, arm64 = repo.add_image(None), repo.add_image(None)
    index = repo.add_index([amd64, arm64])
    repo.tags.update({"release": index, "amd64-build": amd64, "stale": arm64})
    policy = build_policy(keep_tags=["release"])
    outcome = cleanup_repository(ModelDriver(repo), repo.repository, policy)
    assert {e.tag: e.means for e in outcome.deleted} == {"amd64-build": "tag", "stale": "tag"}
    assert repo.tags == {"release": index}
    assert {amd64, arm64, index} <= set(repo.manifests)
    assert not [c for c in repo.calls if c[0] == "delete_manifest"]


def test_a_bulk_driver_untags_many_tags_per_call_and_reports_each():
    repo = model()
    shared = repo.add_image(None)
    repo.tags.update({"v1": shared, **{f"ci-{i}": shared for i in range(5)}})
    repo.tags["ci-locked"] = shared
    policy = build_policy(keep_tags=["v1"])
    driver = BulkModelDriver(repo)
    plan = plan_repository(driver, repo.repository, policy)
    original = driver.delete_tags

    def refuse_one(repository, tags):
        repo.tags.pop("ci-locked")  # gone before the call: answered "tag not found"
        return original(repository, tags)

    driver.delete_tags = refuse_one  # type: ignore[method-assign]
    outcome = execute(plan, driver, policy, jobs=4)
    assert [c for c in repo.calls if c[0] == "delete_tags"]
    assert not [c for c in repo.calls if c[0] in ("delete_tag", "delete_manifest")]
    assert {e.tag for e in outcome.deleted} == {f"ci-{i}" for i in range(5)}
    assert [(e.tag, e.reason) for e in outcome.failed] == [("ci-locked", "tag not found")]
    assert repo.tags == {"v1": shared}


def test_the_engine_hands_every_tag_to_one_bulk_delete_and_knows_no_batch_size():
    # How many ids one API call takes is the driver's business (ECR: 100; test_ecr.py).
    repo = model()
    shared = repo.add_image(None)
    repo.tags.update({"v1": shared, **{f"ci-{i}": shared for i in range(250)}})
    policy = build_policy(keep_tags=["v1"])
    driver = BulkModelDriver(repo)
    plan = plan_repository(driver, repo.repository, policy)

    outcome = execute(plan, driver, policy, jobs=4)

    (call,) = [arg for name, arg in repo.calls if name == "delete_tags"]
    assert len(call.split(",")) == 250
    assert len(outcome.deleted) == 250 and repo.tags == {"v1": shared}


def test_a_tag_the_registry_left_behind_is_untagged():
    repo = model()
    gone, kept = repo.add_image(None), repo.add_image(None)
    repo.tags.update({"pr-1": gone, "pr-2": gone, "v1": kept})
    repo.lossy = {gone}  # the DELETE removes the manifest, leaves both tags, answers 404
    outcome = cleanup_repository(ModelDriver(repo), repo.repository, build_policy(keep_tags=["v1"]))
    assert repo.tags == {"v1": kept}
    assert {e.tag for e in outcome.deleted} == {"pr-1", "pr-2"}
    assert not outcome.failed and not outcome.skipped


def test_a_left_behind_tag_pushed_again_is_not_untagged_blindly():
    """Found by the property test: the registry leaves both tags of a deleted digest behind;
    between seeing pr-2 dangling and untagging it, CI pushes pr-2 again. pr-2 is read again
    right before its untag, found on the new image, and re-evaluated there."""
    repo = model()
    gone, kept = repo.add_image(NOW - timedelta(days=30)), repo.add_image(NOW)
    repo.tags.update({"pr-1": gone, "pr-2": gone, "v1": kept})
    repo.lossy = {gone}
    policy = build_policy(keep_tags=["v1"], keep_newer_than="1d")

    def push_pr_2(name: str, arg: str) -> None:
        # The first left-behind tag was just untagged; the second still dangles.
        if name == "deleted" and "pr-1" not in repo.tags and repo.tags.get("pr-2") == gone:
            repo.tags["pr-2"] = kept

    repo.hooks.append(push_pr_2)
    outcome = cleanup_repository(ModelDriver(repo), repo.repository, policy, jobs=1)
    assert repo.tags == {"v1": kept, "pr-2": kept}, "pr-2 was untagged blindly"
    assert {e.tag for e in outcome.deleted} == {"pr-1"}
    assert {e.tag: e.digest for e in outcome.kept}["pr-2"] == kept


class _PushTimeDriver(ModelDriver):
    """A model registry that lists push times with its tags, as ECR does."""

    def __init__(self, repo: ModelRepository, pushed: dict[str, datetime]) -> None:
        super().__init__(repo)
        self.pushed = pushed

    def list_tags(self, repository: Repository) -> list[TagInfo]:
        self.model._event("list_tags", "")
        return [TagInfo(t, d, self.pushed.get(t)) for t, d in sorted(self.model.tags.items())]


def test_a_tag_pushed_again_while_deleting_is_not_judged_by_its_old_push_time():
    repo = model()
    kept, old, fresh = (
        repo.add_image(NOW),
        repo.add_image(NOW - timedelta(days=30)),
        repo.add_image(NOW),
    )
    repo.tags.update({"v1": kept, "ci-1": old})
    pushed = {"v1": NOW, "ci-1": NOW - timedelta(days=30)}
    policy = build_policy(keep_tags=["v1"], keep_newer_than="1d")
    driver = _PushTimeDriver(repo, pushed)

    def push_ci_1(name: str, arg: str) -> None:
        if name == "delete_manifest" and arg == old and repo.tags.get("ci-1") == old:
            repo.tags["ci-1"] = fresh  # CI pushes a new build under ci-1 as the DELETE starts

    repo.hooks.append(push_ci_1)
    outcome = cleanup_repository(driver, repo.repository, policy, jobs=1)
    assert repo.tags.get("ci-1") == fresh, "a fresh image was judged by the old push time"
    assert {e.tag: e.digest for e in outcome.kept}["ci-1"] == fresh
