"""`portside cleanup` as the CLI sees it: its table, what it parses into, and the body that the
typer command generated from the table (`ci_env.commands.cleanup`) runs.

The drivers and the view (`ci_env.cleanup_view`) are imported when the command runs; rich only
when a bar is drawn.
"""

from __future__ import annotations

from typing import NamedTuple

from ci_env.options import (
    DOCKER_CONFIG,
    IMPLEMENTATION,
    INSECURE_REGISTRY,
    JSON,
    registry_options,
)
from ci_env.table import CommandSpec, OptionSpec, argument


class CleanupArgs(NamedTuple):
    repository: str | None = None
    policy: str | None = None
    keep_tag: tuple[str, ...] = ()
    keep_last: int | None = None
    keep_newer_than: str | None = None
    delete_tag: tuple[str, ...] = ()
    git_repo: str | None = None
    with_referrers: bool | None = None  # None: the policy decides
    dry_run: bool = False
    json_output: bool = False
    jobs: int = 8  # not range-checked here: the engine reports a bad --jobs (exit 2)
    all_repositories: bool = False
    print_policy: bool = False
    quiet: bool = False
    docker_config: str | None = None
    insecure_registry: tuple[str, ...] = ()
    repo_container_registry: str | None = None
    repo_docker_hub_token: str | None = None
    repo_docker_hub_username: str | None = None
    repo_docker_hub_password: str | None = None
    repo_harbor_username: str | None = None
    repo_harbor_password: str | None = None
    repo_quay_token: str | None = None


def cleanup(args: CleanupArgs) -> None:
    from ci_env.cleanup_view import ProgressView, show_outcome, show_policy
    from drivers.cleanup import cleanup as run_cleanup
    from drivers.cleanup import effective_policy
    from drivers.errors import InvalidInput, PortsideError

    effective = effective_policy(
        args.policy,
        keep_tags=args.keep_tag,
        keep_last=args.keep_last,
        keep_newer_than=args.keep_newer_than,
        delete_tags=args.delete_tag,
        git_repo=args.git_repo,
        with_referrers=args.with_referrers,
    )
    if args.print_policy:
        show_policy(effective, as_json=args.json_output)
        return
    if not args.repository:
        raise InvalidInput(
            "cleanup needs a repository", hint="portside cleanup REGISTRY/REPOSITORY [options]"
        )
    progress = ProgressView(quiet=args.quiet)
    try:
        outcome = run_cleanup(
            args.repository,
            effective,
            registry_options(
                args.docker_config,
                args.insecure_registry,
                args.repo_container_registry,
                {
                    "docker_hub_token": args.repo_docker_hub_token,
                    "docker_hub_username": args.repo_docker_hub_username,
                    "docker_hub_password": args.repo_docker_hub_password,
                    "harbor_username": args.repo_harbor_username,
                    "harbor_password": args.repo_harbor_password,
                    "quay_token": args.repo_quay_token,
                },
            ),
            dry_run=args.dry_run,
            jobs=args.jobs,
            all_repositories=args.all_repositories,
            git_repo=args.git_repo,
            progress=progress,
        )
    finally:
        progress.close()
    show_outcome(outcome, as_json=args.json_output, quiet=args.quiet)
    if outcome.failed:
        raise PortsideError(
            f"{len(outcome.failed)} deletion(s) failed; the report lists each error",
            hint="fix the cause and run again; what was kept or deleted stays as reported",
        )


def _option(name: str, flag: str, help: str, **kind: str) -> OptionSpec:
    """An option whose env twin is `PORTSIDE_` + its flag, as every cleanup option's is."""
    envvar = "PORTSIDE_" + flag.lstrip("-").replace("-", "_").upper()
    return OptionSpec(name, (flag,), envvar, help, **kind)


CLEANUP = CommandSpec(
    name="cleanup",
    doc="""Delete tags by policy. A tag is deleted when it is a candidate and no keep rule
    keeps it; `latest` is kept unless the policy names it. See docs/cleanup.md.""",
    arguments=(
        argument(
            "repository",
            "Repository, e.g. registry:5000/group/app; with --all-repositories, a "
            "registry or namespace (registry:5000 or registry:5000/group). "
            "Default: $PORTSIDE_REPO, which `portside ci-env` exports.",
            required=False,
            envvar="PORTSIDE_REPO",
        ),
    ),
    options=(
        _option("policy", "--policy", "Policy file (YAML); the rule flags add to its rules."),
        _option(
            "keep_tag",
            "--keep-tag",
            "Keep tags matching this regex (repeatable).",
            kind="values",
        ),
        _option("keep_last", "--keep-last", "Keep the N newest tags.", kind="int"),
        _option(
            "keep_newer_than", "--keep-newer-than", "Keep tags newer than this: 30m, 12h, 7d, 2w."
        ),
        _option(
            "delete_tag",
            "--delete-tag",
            "Only tags matching this regex are candidates (repeatable).",
            kind="values",
        ),
        _option(
            "git_repo",
            "--git-repo",
            "Keep tags named after this git repo's branches, tags and commits.",
        ),
        OptionSpec(
            "with_referrers",
            ("--with-referrers",),
            "PORTSIDE_WITH_REFERRERS",
            "Delete signatures, attestations and SBOMs with their image (default: on).",
            kind="switch",
            off_flags=("--no-with-referrers",),
        ),
        _option("dry_run", "--dry-run", "Show the plan; delete nothing.", kind="flag"),
        JSON,
        _option("jobs", "--jobs", "Parallel requests (default 8).", kind="int"),
        _option(
            "all_repositories",
            "--all-repositories",
            "Clean every repository the registry lists (_catalog).",
            kind="flag",
        ),
        _option(
            "print_policy", "--print-policy", "Print the effective policy and exit.", kind="flag"
        ),
        _option(
            "quiet",
            "--quiet",
            "No progress and no table: only the summary line.",
            kind="flag",
        ),
        DOCKER_CONFIG,
        INSECURE_REGISTRY,
        IMPLEMENTATION,
        # The native drivers' own credentials (DESIGN "Native credentials"). The env twins
        # keep secrets out of process listings; the flags are for local use.
        _option(
            "repo_docker_hub_token",
            "--repo-docker-hub-token",
            "Docker Hub API token (JWT) for deleting tags; prefer the env twin.",
        ),
        _option(
            "repo_docker_hub_username",
            "--repo-docker-hub-username",
            "Docker Hub user, to log in to the Hub API (with the password).",
        ),
        _option(
            "repo_docker_hub_password",
            "--repo-docker-hub-password",
            "Docker Hub password or personal access token; prefer the env twin.",
        ),
        _option(
            "repo_harbor_username",
            "--repo-harbor-username",
            "Harbor user or robot account, for the Harbor API (with the password).",
        ),
        _option(
            "repo_harbor_password",
            "--repo-harbor-password",
            "Harbor password or robot secret; prefer the env twin.",
        ),
        _option(
            "repo_quay_token",
            "--repo-quay-token",
            "Quay OAuth or robot token for deleting tags; prefer the env twin.",
        ),
    ),
    args=CleanupArgs,
    run=cleanup,
)
