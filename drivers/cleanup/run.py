"""A cleanup from start to end: read the repository, plan, and (unless dry-run) delete.

Dry-run is the same code without the last step. Where the driver's API limits requests
(`BudgetsRequests`), a plan that needs more than are left says so before anything is
deleted: as a note of the dry run's report, and through `warn` (stderr) in a real run, which
then goes ahead (the driver stops sending once the limit is spent; see docs/cleanup.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from drivers.cleanup.execute import execute
from drivers.cleanup.gitrefs import GitNames, read_policy_git
from drivers.cleanup.outcome import Entry, Outcome, merge, outcome_of_plan
from drivers.cleanup.plan import Plan, make_plan
from drivers.cleanup.policy import GitRule, Policy
from drivers.cleanup.reading import snapshot
from drivers.cleanup.state import ImageCache, Progress
from drivers.errors import (
    CredentialError,
    Forbidden,
    InvalidInput,
    PortsideError,
    Unauthorized,
    Unsupported,
)
from drivers.reference import Repository, parse_repository
from drivers.registries.connect import driver_for
from drivers.registries.contract import (
    BudgetsRequests,
    Driver,
    ListsRepositories,
    NotesCleanup,
    deletes_by_digest,
)
from drivers.registries.options import RegistryOptions

# Errors that would meet every repository alike: stop instead of repeating them.
_STOPS_EVERYTHING = (CredentialError, Unauthorized, Forbidden, InvalidInput, Unsupported)


def plan_repository(
    driver: Driver,
    repository: Repository,
    policy: Policy,
    git: Mapping[GitRule, GitNames] | None = None,
    *,
    jobs: int = 8,
    cache: ImageCache | None = None,
    progress: Progress | None = None,
) -> Plan:
    state = snapshot(
        driver,
        repository,
        needs_time=policy.judges_by_time,
        untagged=policy.delete_untagged,
        jobs=jobs,
        cache=cache,
        progress=progress,
    )
    return make_plan(state, policy, git, by_digest=deletes_by_digest(driver))


def cleanup_repository(
    driver: Driver,
    repository: Repository,
    policy: Policy,
    git: Mapping[GitRule, GitNames] | None = None,
    *,
    dry_run: bool = False,
    jobs: int = 8,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
) -> Outcome:
    cache = ImageCache()
    plan = plan_repository(
        driver, repository, policy, git, jobs=jobs, cache=cache, progress=progress
    )
    short = budget_note(driver, plan)
    if dry_run:
        outcome = outcome_of_plan(plan, dry_run=True)
    else:
        if short and warn:
            warn(f"{repository}: {short}")
        outcome = execute(plan, driver, policy, git, jobs=jobs, progress=progress, cache=cache)
    notes = list(driver.cleanup_notes(repository)) if isinstance(driver, NotesCleanup) else []
    return replace(outcome, notes=tuple([short] if short else []) + tuple(notes))


def budget_note(driver: Driver, plan: Plan) -> str | None:
    """What the plan needs of a rate-limited API when that is more than is left; else None."""
    if not isinstance(driver, BudgetsRequests) or not plan.deletes:
        return None
    digests = {d.digest for d in plan.deletes if d.means == "digest"}
    untags = sum(1 for d in plan.deletes if d.means == "tag")
    budget = driver.request_budget(plan.state.repository, digests, untags)
    if budget is None or budget.planned <= budget.remaining:
        return None
    reset = budget.reset.strftime("%Y-%m-%d %H:%M:%S UTC") if budget.reset else "its reset"
    return (
        f"the plan needs {budget.planned} API requests ({budget.deletions} deletions, "
        f"{budget.untags} untag pushes and their look-ups) but the rate limit has "
        f"{budget.remaining} left until {reset}; each index is deleted before its children "
        "and nothing more is sent once the limit is spent, so no image is left broken: run "
        "again after the reset for the rest"
    )


def cleanup(
    target: str,
    policy: Policy,
    options: RegistryOptions,
    *,
    dry_run: bool = False,
    jobs: int = 8,
    all_repositories: bool = False,
    git_repo: str | None = None,
    progress: Progress | None = None,
    warn: Callable[[str], None] | None = None,
) -> Outcome:
    """`portside cleanup`: one repository, or every repository under a registry or namespace.
    `warn` gets what must be said before deleting (a rate limit the plan exceeds)."""
    if jobs < 1:
        raise InvalidInput("--jobs must be at least 1", hint="pass --jobs N with N ≥ 1")
    git = read_policy_git(policy, git_repo)
    if not all_repositories:
        repository = parse_repository(target)
        driver = driver_for(repository.registry, options)
        return cleanup_repository(
            driver, repository, policy, git, dry_run=dry_run, jobs=jobs, progress=progress,
            warn=warn,
        )  # fmt: skip
    registry, prefix = _registry_and_prefix(target)
    driver = driver_for(registry, options)
    if not isinstance(driver, ListsRepositories):
        raise Unsupported(
            f"the {driver.name} driver cannot list repositories",
            hint="name each repository instead of --all-repositories",
        )
    outcomes = []
    for path in list(driver.list_repositories(prefix)):
        repository = Repository(registry, path)
        try:
            outcomes.append(
                cleanup_repository(
                    driver,
                    repository,
                    policy,
                    git,
                    dry_run=dry_run,
                    jobs=jobs,
                    progress=progress,
                    warn=warn,
                )
            )
        except _STOPS_EVERYTHING:
            raise
        except PortsideError as error:
            failure = Entry(str(repository), None, None, str(error))
            outcomes.append(Outcome(str(repository), dry_run, failed=(failure,)))
    return merge(outcomes, dry_run)


def _registry_and_prefix(target: str) -> tuple[str, str]:
    """`host[:port]` → (host, ""); `host[:port]/namespace` → (host, "namespace/")."""
    from drivers.operations import registry_host

    text = target.strip().rstrip("/")
    if "://" in text:
        text = text.split("://", 1)[1]
    if "/" not in text:
        return registry_host(text), ""
    repository = parse_repository(text)
    return repository.registry, repository.path + "/"
