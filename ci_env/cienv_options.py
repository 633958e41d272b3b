"""The table of `portside ci-env`: its options, written down once, and what they parse into.

The typer command (`ci_env.commands.cienv`) is generated from `CI_ENV` by
`ci_env.table.typer_command`; the failure script (`ci_env.cienv_failure`) reads the same table.
"""

from __future__ import annotations

from typing import NamedTuple

from ci_env.table import CommandSpec, OptionSpec, argument

PLATFORM_CHOICES = ("gitlab", "github")
SHELL_CHOICES = ("sh", "fish", "powershell")


# NamedTuples rather than dataclasses: ci-env's start-up time is budgeted (docs/benchmarks.md)
# and a NamedTuple class costs a fraction of a dataclass to create.
class CiEnvArgs(NamedTuple):
    """Everything `portside ci-env` was asked to do."""

    platform: str | None = None
    shell: str = "sh"
    as_env_file: bool = False
    as_file: bool = False
    output: str | None = None
    login: bool = True
    verify: bool = False
    tmp_dir: str | None = None
    cleanup: bool = False
    docker_config: str | None = None
    repo_github_token: str | None = None
    insecure_registry: tuple[str, ...] = ()


# Options without an environment twin: they choose what this one invocation does with its
# output (print exports, a KEY=VALUE file, a path to source, or clean up instead), which the
# line the user writes decides. As twins they were a hazard: GitLab's scheduled-cleanup trigger
# PORTSIDE_CLEANUP=true turned `eval "$(portside ci-env)"` into a cleanup that printed nothing,
# and PORTSIDE_OUTPUT or PORTSIDE_AS_FILE, set for anything else in the job, would make the
# documented eval line evaluate nothing, or a file path.
NO_TWIN = ""

OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "shell",
        ("--shell",),
        "PORTSIDE_SHELL",
        "Script syntax: sh (POSIX: bash, dash, zsh), fish or powershell.",
        choices=SHELL_CHOICES,
    ),
    OptionSpec(
        "as_env_file",
        ("--as-env-file",),
        NO_TWIN,
        "Print KEY=VALUE lines (GitLab artifacts:reports:dotenv, docker --env-file) "
        "instead of a script.",
        kind="flag",
    ),
    OptionSpec(
        "as_file",
        ("--as-file",),
        NO_TWIN,
        "Write the script to a 0600 file in the job directory and print its path: "
        '. "$(portside ci-env --as-file)".',
        kind="flag",
    ),
    OptionSpec(
        "output",
        ("-o", "--output"),
        NO_TWIN,
        "Write to FILE (truncated, mode 0600) instead of stdout.",
        metavar="FILE",
    ),
    OptionSpec(
        "login",
        ("--login",),
        "PORTSIDE_LOGIN_TO_REGISTRY",
        "Put the CI registry credentials into the job's config (--no-login skips it).",
        kind="switch",
        off_flags=("--no-login",),
    ),
    OptionSpec(
        "verify",
        ("--verify",),
        "PORTSIDE_VERIFY",
        "Check the credentials against the registry (a pull-scoped token); exit 3 if refused.",
        kind="flag",
    ),
    OptionSpec(
        "tmp_dir",
        ("--tmp-dir",),
        "PORTSIDE_TMP_DIR",
        "Where job directories go (else $RUNNER_TEMP on GitHub, else the system temp dir).",
        metavar="DIR",
    ),
    OptionSpec(
        "cleanup",
        ("--cleanup",),
        NO_TWIN,
        "Remove this job's directory (and portside's own ones older than 24 h) instead.",
        kind="flag",
    ),
    OptionSpec(
        "docker_config",
        ("--docker-config",),
        "PORTSIDE_DOCKER_CONFIG",
        "Docker config directory to copy (else $DOCKER_CONFIG, else ~/.docker); "
        "with --cleanup, the job directory to remove.",
        metavar="DIR",
    ),
    OptionSpec(
        "repo_github_token",
        ("--repo-github-token",),
        "PORTSIDE_REPO_GITHUB_TOKEN",
        "Token for ghcr.io on GitHub (else $GITHUB_TOKEN).",
        metavar="TOKEN",
    ),
    OptionSpec(
        "insecure_registry",
        ("--insecure-registry",),
        "PORTSIDE_INSECURE_REGISTRY",
        "With --verify: allow plain HTTP and unverified TLS for this host (repeatable).",
        kind="values",
        metavar="HOST",
    ),
)


def _run(args: CiEnvArgs) -> None:
    # Imported per call: ci_env.cienv imports this module, and tests replace its `run`.
    from ci_env.cienv import run

    try:
        run(args)
    except SystemExit:
        raise
    except BaseException as exc:
        from ci_env.cienv_failure import print_failure

        print_failure(args, exc)
        raise


CI_ENV = CommandSpec(
    name="ci-env",
    doc="""Give this CI job its own Docker config, and print the exports that use it.

GitLab: eval $(portside ci-env gitlab) (quoted or not) or
. "$(portside ci-env gitlab --as-file)" in before_script, and
portside ci-env --cleanup in after_script. GitHub Actions: portside ci-env github
(also writes $GITHUB_ENV). On failure it prints `exit CODE` for the shell to run.
See docs/ci-env.md.
""",
    arguments=(
        argument(
            "platform",
            "gitlab or github; detected from GITLAB_CI / GITHUB_ACTIONS.",
            required=False,
            choices=PLATFORM_CHOICES,
        ),
    ),
    options=OPTIONS,
    args=CiEnvArgs,
    run=_run,
)
