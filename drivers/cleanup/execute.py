"""Deleting what a plan says, without ever deleting what it keeps.

1. Ask the driver whether deleting can work here at all (`ChecksDeletion`), so that a
   registry with deletion disabled, or a token without the delete action, stops the run
   before anything is touched.
2. Re-read the repository: which tags exist now, and where each points now. Re-plan on
   that state, allowing only the planned deletions: a tag pushed after planning is kept, a
   kept tag that moved onto a planned digest protects it, a planned tag that moved is
   re-evaluated where it is now.
3. Delete in parallel. A digest is deleted by digest only when the plan says nothing kept
   needs it; any other tag is untagged by the driver (native tag delete, OCI DELETE by tag,
   dummy manifest), and re-read right before, since an untag removes the tag wherever it
   points. A DELETE by digest removes only what is on the digest, so the tags it was meant
   for are checked by one listing afterwards instead. A tag that moved is not deleted but
   re-evaluated against the state as it is then (up to `MAX_ROUNDS` times).
4. Signatures, attestations and referrers go after their image, and only once it is gone.

Failures of single deletions are reported and the run goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from drivers.cleanup.gitrefs import GitNames
from drivers.cleanup.outcome import (
    GONE,
    Outcome,
    Result,
    Status,
    build_outcome,
    outcome_of_plan,
)
from drivers.cleanup.plan import Decision, Plan, make_plan
from drivers.cleanup.policy import GitRule, Policy
from drivers.cleanup.reading import after_round, reread, resolve_tags
from drivers.cleanup.state import (
    ImageCache,
    Progress,
    parallel,
)
from drivers.errors import NotFound, PortsideError, Protected, Unsupported
from drivers.reference import Reference
from drivers.registries.contract import (
    ChecksDeletion,
    DeletesTagsInBulk,
    Driver,
    ListsOncePerRun,
    deletes_by_digest,
)

MAX_ROUNDS = 3


class _Counter:
    def __init__(self, progress: Progress | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0
        self._lock = threading.Lock()

    def tick(self, count: int = 1) -> None:
        with self._lock:
            self.done += count
            if self.progress:
                self.progress("deleting", self.done, max(self.total, self.done))


class _Round:
    """One pass over a plan's deletions: images first, then their referrers."""

    def __init__(
        self,
        plan: Plan,
        driver: Driver,
        jobs: int,
        counter: _Counter,
        results: dict[str, Result],
    ) -> None:
        self.plan, self.driver, self.jobs = plan, driver, jobs
        self.counter, self.results = counter, results
        self.repository = plan.state.repository
        self.moved: dict[str, str] = {}
        self.deleted_digests: set[str] = set()
        self._lock = threading.Lock()

    def run(self) -> dict[str, str]:
        """Delete; return the image tags that moved since planning (tag -> digest now)."""
        deletes = self.plan.deletes
        self._phase([d for d in deletes if not d.is_referrer], referrers=False)
        pending = [d for d in deletes if d.is_referrer]
        while pending:
            gone = self._gone()
            ready = [d for d in pending if {d.subject, *d.after} <= gone]
            if not ready:
                break
            self._phase(ready, referrers=True)
            done = {d.key for d in ready}
            pending = [d for d in pending if d.key not in done]
        for decision in pending:
            self._set(decision, "skipped", "its image was not deleted, so it stays with it")
        return self.moved

    def _gone(self) -> set[str]:
        """Images no longer there: deleted by digest, or every tag on them removed."""
        deleted = {k for k, r in self.results.items() if r.status == "deleted"}
        gone = {
            digest
            for digest, tags in self.plan.state.tags_on().items()
            if all(t in deleted for t in tags)
        }
        return gone | self.deleted_digests

    def _set(self, decision: Decision, status: Status, reason: str, means=None) -> None:
        with self._lock:
            self.results[decision.key] = Result(status, reason, decision.digest, means)
        self.counter.tick()

    def _phase(self, decisions: Sequence[Decision], *, referrers: bool) -> None:
        by_digest = deletes_by_digest(self.driver)
        groups: dict[str, list[Decision]] = {}
        untags: list[Decision] = []
        for decision in decisions:
            if decision.means == "digest" and by_digest:
                groups.setdefault(decision.digest, []).append(decision)
            elif decision.tag is not None:
                untags.append(decision)
            else:  # an untagged referrer: only a DELETE by digest removes it
                self._set(decision, "skipped", "this registry cannot delete a manifest by digest")
        parallel(lambda group: self._delete_digest(group), list(groups.values()), self.jobs)
        if isinstance(self.driver, DeletesTagsInBulk) and len(untags) > 1:
            there = parallel(lambda d: self._still_there(d, referrers), untags, self.jobs)
            ready = [d for d, ok in zip(untags, there, strict=True) if ok]
            if ready:
                self._untag_bulk(ready)  # the driver splits them into its API's calls
        else:
            parallel(lambda d: self._untag(d, referrers), untags, self.jobs)
        self._verify(groups, referrers)

    def _verify(self, groups: Mapping[str, list[Decision]], referrers: bool) -> None:
        """After deleting by digest, one listing finds the tags the DELETE did not take.

        A DELETE by digest removes what is on the digest when it runs, so re-reading each
        tag before it would protect nothing. A tag still listed afterwards either had moved
        away (it is re-evaluated where it is now), or names a manifest that is gone: the
        registry deleted the manifest but failed to remove the tag (distribution 2.8 does
        when a concurrent request rewrites a tag during its tag lookup). Such a dangling tag
        is untagged, which is what the plan wanted.
        """
        if isinstance(self.driver, ListsOncePerRun):
            return  # its DELETE removed exactly the tags on the manifest; no second listing
        checked = [
            d
            for group in groups.values()
            for d in group
            if d.tag is not None and d.key in self.results and self.results[d.key].digest_gone
        ]
        if not checked:
            return
        listed = {t.tag for t in self.driver.list_tags(self.repository)}
        survivors = [d for d in checked if d.tag in listed]
        now = resolve_tags(self.driver, self.repository, [d.tag for d in survivors], self.jobs)
        for decision in survivors:
            digest = now[decision.tag or ""]
            if digest is None:
                self._remove_dangling(decision, referrers)
            else:
                self._moved_since(decision, digest, referrers)

    def _moved_since(self, decision: Decision, digest: str, referrers: bool) -> None:
        """A planned tag found on another digest: re-evaluated there, never deleted blindly."""
        tag = decision.tag or ""
        del self.results[tag]
        if referrers:
            reason = f"moved to {digest[:19]} after planning; not deleted"
            self.results[tag] = Result("skipped", reason, digest)
        else:
            self.moved[tag] = digest

    def _remove_dangling(self, decision: Decision, referrers: bool) -> None:
        # Read the tag again right before untagging it (invariant 4): it was dangling when the
        # survivors were resolved, but a push since then may have moved it onto an image.
        try:
            now = self.driver.resolve(Reference(self.repository, tag=decision.tag or "")).digest
        except NotFound:
            now = None
        except PortsideError as error:
            reason = f"re-reading the tag failed: {error}"
            self.results[decision.key] = Result("failed", reason, decision.digest)
            return
        if now is not None:
            self._moved_since(decision, now, referrers)
            return
        try:
            self.driver.delete_tag(self.repository, decision.tag or "")
        except PortsideError as error:
            reason = f"the registry deleted its manifest but left the tag: {error}"
            self.results[decision.key] = Result("failed", reason, decision.digest)
        else:
            self.results[decision.key] = Result(
                "deleted", decision.reason, decision.digest, "digest"
            )

    def _delete_digest(self, group: list[Decision]) -> None:
        try:
            self.driver.delete_manifest(self.repository, group[0].digest)  # type: ignore[attr-defined]
        except NotFound:
            for decision in group:
                if decision.subject in self.deleted_digests:
                    # GitHub's driver deletes what only a deleted manifest used, with it.
                    reason = f"{decision.reason} (went with it)"
                    self._set(decision, "deleted", reason, "digest")
                else:
                    self._set(decision, "skipped", GONE)
            return
        except PortsideError as error:
            for decision in group:
                self._set(decision, "failed", str(error))
            return
        with self._lock:
            self.deleted_digests.add(group[0].digest)
        for decision in group:
            self._set(decision, "deleted", decision.reason, "digest")

    def _still_there(self, decision: Decision, referrers: bool) -> bool:
        """Re-read the tag right before removing it: an untag removes the tag wherever it
        points, so a tag that moved since planning must not be untagged blindly."""
        assert decision.tag is not None
        try:
            now = self.driver.resolve(Reference(self.repository, tag=decision.tag)).digest
        except NotFound:
            self._set(decision, "skipped", GONE)
            return False
        except PortsideError as error:
            self._set(decision, "failed", f"re-reading the tag failed: {error}")
            return False
        if now == decision.digest:
            return True
        if referrers:
            self._set(decision, "skipped", f"moved to {now[:19]} after planning; not deleted")
        else:
            with self._lock:
                self.moved[decision.tag] = now
        return False

    def _untag(self, decision: Decision, referrers: bool) -> None:
        assert decision.tag is not None
        if not self._still_there(decision, referrers):
            return
        try:
            self.driver.delete_tag(self.repository, decision.tag)
        except NotFound:
            self._set(decision, "skipped", GONE)
        except Protected as error:  # the registry's own rule keeps it
            self._set(decision, "skipped", str(error))
        except Unsupported as error:
            reason = f"no safe way to remove only this tag on this registry: {error}"
            self._set(decision, "skipped", reason)
        except PortsideError as error:
            self._set(decision, "failed", str(error))
        else:
            self._set(decision, "deleted", decision.reason, "tag")

    def _untag_bulk(self, decisions: list[Decision]) -> None:
        """Every ready tag to the driver's bulk delete (ECR, GitLab); each tag's own answer
        is reported."""
        assert isinstance(self.driver, DeletesTagsInBulk)
        try:
            answers = self.driver.delete_tags(self.repository, [d.tag or "" for d in decisions])
        except PortsideError as error:
            for decision in decisions:
                self._set(decision, "failed", str(error))
            return
        by_tag = {answer.tag: answer for answer in answers}
        for decision in decisions:
            answer = by_tag.get(decision.tag or "")
            if answer is None:
                self._set(decision, "failed", "the registry's bulk delete did not answer for it")
            elif answer.ok:
                self._set(decision, "deleted", decision.reason, "tag")
            else:
                self._set(decision, "failed", answer.error or "refused")


def execute(
    plan: Plan,
    driver: Driver,
    policy: Policy,
    git: Mapping[GitRule, GitNames] | None = None,
    *,
    jobs: int = 8,
    progress: Progress | None = None,
    cache: ImageCache | None = None,
) -> Outcome:
    """Carry out `plan`; the outcome lists what was deleted, kept, skipped and failed."""
    if not plan.deletes:
        return outcome_of_plan(plan, dry_run=False)
    repository = plan.state.repository
    if isinstance(driver, ChecksDeletion):
        driver.check_deletion(repository)  # raises before anything is touched
    cache = cache if cache is not None else ImageCache()
    for record in plan.state.images.values():
        cache.put(record)
    state = reread(
        driver,
        plan.state,
        untagged=policy.delete_untagged,
        needs_time=policy.judges_by_time,
        jobs=jobs,
        cache=cache,
        progress=progress,
    )
    by_digest = deletes_by_digest(driver)
    # Referrers follow their image: if an image is deleted after all (its kept tag went away
    # since planning), its signatures go with it.
    allowed = frozenset(d.key for d in plan.deletes) | state.referrer_keys()
    current = make_plan(state, policy, git, allowed=allowed, by_digest=by_digest)
    fresh = state
    latest = current.by_key()
    results: dict[str, Result] = {}
    counter = _Counter(progress, len(current.deletes))
    moved: dict[str, str] = {}
    for _ in range(MAX_ROUNDS):
        moved = _Round(current, driver, jobs, counter, results).run()
        if not moved:
            break
        deleted = {t for t, r in results.items() if r.status == "deleted"}
        state = after_round(
            driver, current.state, deleted, moved, policy.judges_by_time, jobs, cache
        )
        # Re-evaluate the moved tags; the signatures and referrers of an image that now
        # goes with them may go too (they follow their image).
        allowed = frozenset(moved) | (state.referrer_keys() - set(results))
        current = make_plan(state, policy, git, allowed=allowed, by_digest=by_digest)
        latest.update({k: d for k, d in current.by_key().items() if k in moved})
        counter.total += len(current.deletes)
    for tag, digest in moved.items():
        if tag not in results:
            reason = "moved again while being deleted; the next run re-evaluates it"
            results[tag] = Result("skipped", reason, digest)
    return build_outcome(plan, fresh, latest, results)
