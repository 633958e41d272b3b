"""`portside cleanup` as the CLI sees it: its table, what it parses into, and the body that the
typer command generated from the table (`ci_env.commands.cleanup`) runs.

The drivers and the view (`ci_env.cleanup_view`) are imported when the command runs; rich only
when a bar is drawn.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ci_env.options import (
    DOCKER_CONFIG,
    IMPLEMENTATION,
    INSECURE_REGISTRY,
    JSON,
    credential_options,
    given_credentials,
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
    delete_untagged: bool = False
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
    # The native drivers' credential options given on the command line: (flag, value). The
    # options come from the registry specs (`ci_env.options.credential_options`).
    credentials: tuple[tuple[str, str], ...] = ()


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
        delete_untagged=args.delete_untagged,
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
                dict(args.credentials),
            ),
            dry_run=args.dry_run,
            jobs=args.jobs,
            all_repositories=args.all_repositories,
            git_repo=args.git_repo,
            progress=progress,
            warn=_warn,
        )
    finally:
        progress.close()
    show_outcome(outcome, as_json=args.json_output, quiet=args.quiet)
    if outcome.failed:
        raise PortsideError(
            f"{len(outcome.failed)} deletion(s) failed; the report lists each error",
            hint="fix the cause and run again; what was kept or deleted stays as reported",
        )


def _warn(text: str) -> None:
    """What must be said before deleting; not progress, so --quiet does not silence it."""
    import sys

    sys.stderr.write(f"portside: warning: {text}\n")
    sys.stderr.flush()


def _option(name: str, flag: str, help: str, **kind: str) -> OptionSpec:
    """An option whose env twin is `PORTSIDE_` + its flag, as every cleanup option's is."""
    envvar = "PORTSIDE_" + flag.lstrip("-").replace("-", "_").upper()
    return OptionSpec(name, (flag,), envvar, help, **kind)


class _Args:
    """`CleanupArgs` from what typer read: the credential options' values (by option name)
    go into `credentials`, by flag. `ci_env.table.typer_command` asks it for
    `_field_defaults`, as of a NamedTuple, and calls it with every value."""

    @property
    def _field_defaults(self) -> dict[str, Any]:
        fields = {k: v for k, v in CleanupArgs._field_defaults.items() if k != "credentials"}
        return {**fields, **{spec.name: None for spec in credential_options()}}

    def __call__(self, **values: Any) -> CleanupArgs:
        given = given_credentials(values)
        names = {spec.name for spec in credential_options()}
        rest = {k: v for k, v in values.items() if k not in names}
        return CleanupArgs(**rest, credentials=tuple(given.items()))


class _Cleanup(CommandSpec):
    """The cleanup table. Its `--repo-…` credential options are generated from the registry
    specs each time a parser reads the table, so an implementation registered later (a
    plugin, a test's) has its options too, and nothing here names a driver."""

    @property
    def options(self) -> tuple[OptionSpec, ...]:
        return (*self._options, *credential_options())

    @options.setter
    def options(self, value: tuple[OptionSpec, ...]) -> None:
        self._options = value


CLEANUP = _Cleanup(
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
            "delete_untagged",
            "--delete-untagged",
            "Also delete untagged manifests nothing kept uses (GitHub Packages).",
            kind="flag",
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
            "Clean every repository the registry lists (_catalog; ghcr.io/OWNER: its packages).",
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
    ),
    args=_Args(),
    run=cleanup,
)
