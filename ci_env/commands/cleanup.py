"""`portside cleanup`: delete tags by policy, never touching what the policy keeps."""

from __future__ import annotations

from typing import Annotated

import typer

from ci_env.app import app
from ci_env.commands.shared import (
    DockerConfigOpt,
    ImplementationOpt,
    InsecureOpt,
    JsonOpt,
)
from ci_env.options import registry_options


def _opt(name: str, help: str, **kw) -> typer.models.OptionInfo:
    env = "PORTSIDE_" + name.lstrip("-").split("/")[0].replace("-", "_").upper()
    return typer.Option(name, envvar=env, help=help, show_default=False, **kw)


@app.command()
def cleanup(
    repository: Annotated[
        str | None,
        typer.Argument(
            help="Repository, e.g. registry:5000/group/app; with --all-repositories, a "
            "registry or namespace (registry:5000 or registry:5000/group). "
            "Default: $PORTSIDE_REPO, which `portside ci-env` exports.",
            envvar="PORTSIDE_REPO",
            show_default=False,
        ),
    ] = None,
    policy: Annotated[
        str | None, _opt("--policy", "Policy file (YAML); the rule flags add to its rules.")
    ] = None,
    keep_tag: Annotated[
        list[str] | None, _opt("--keep-tag", "Keep tags matching this regex (repeatable).")
    ] = None,
    keep_last: Annotated[int | None, _opt("--keep-last", "Keep the N newest tags.")] = None,
    keep_newer_than: Annotated[
        str | None, _opt("--keep-newer-than", "Keep tags newer than this: 30m, 12h, 7d, 2w.")
    ] = None,
    delete_tag: Annotated[
        list[str] | None,
        _opt("--delete-tag", "Only tags matching this regex are candidates (repeatable)."),
    ] = None,
    git_repo: Annotated[
        str | None,
        _opt("--git-repo", "Keep tags named after this git repo's branches, tags and commits."),
    ] = None,
    with_referrers: Annotated[
        bool | None,
        _opt(
            "--with-referrers/--no-with-referrers",
            "Delete signatures, attestations and SBOMs with their image (default: on).",
        ),
    ] = None,
    dry_run: Annotated[bool, _opt("--dry-run", "Show the plan; delete nothing.")] = False,
    json_output: JsonOpt = False,
    jobs: Annotated[int, _opt("--jobs", "Parallel requests (default 8).")] = 8,
    all_repositories: Annotated[
        bool,
        _opt("--all-repositories", "Clean every repository the registry lists (_catalog)."),
    ] = False,
    print_policy: Annotated[
        bool, _opt("--print-policy", "Print the effective policy and exit.")
    ] = False,
    quiet: Annotated[
        bool, _opt("--quiet", "No progress and no table: only the summary line.")
    ] = False,
    docker_config: DockerConfigOpt = None,
    insecure_registry: InsecureOpt = None,
    repo_container_registry: ImplementationOpt = None,
) -> None:
    """Delete tags by policy. A tag is deleted when it is a candidate and no keep rule
    keeps it; `latest` is kept unless the policy names it. See docs/cleanup.md."""
    from ci_env.cleanup_view import ProgressView, show_outcome, show_policy
    from drivers.cleanup import cleanup as run_cleanup
    from drivers.cleanup import effective_policy
    from drivers.errors import InvalidInput, PortsideError

    effective = effective_policy(
        policy,
        keep_tags=keep_tag or (),
        keep_last=keep_last,
        keep_newer_than=keep_newer_than,
        delete_tags=delete_tag or (),
        git_repo=git_repo,
        with_referrers=with_referrers,
    )
    if print_policy:
        show_policy(effective, as_json=json_output)
        return
    if not repository:
        raise InvalidInput(
            "cleanup needs a repository", hint="portside cleanup REGISTRY/REPOSITORY [options]"
        )
    progress = ProgressView(quiet=quiet)
    try:
        outcome = run_cleanup(
            repository,
            effective,
            registry_options(docker_config, insecure_registry, repo_container_registry),
            dry_run=dry_run,
            jobs=jobs,
            all_repositories=all_repositories,
            git_repo=git_repo,
            progress=progress,
        )
    finally:
        progress.close()
    show_outcome(outcome, as_json=json_output, quiet=quiet)
    if outcome.failed:
        raise PortsideError(
            f"{len(outcome.failed)} deletion(s) failed; the report lists each error",
            hint="fix the cause and run again; what was kept or deleted stays as reported",
        )
