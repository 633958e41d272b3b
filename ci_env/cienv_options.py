"""The options of `portside ci-env`, written down once, and a lean parser for them.

`OPTIONS` is the one source of truth: the typer command (`ci_env.commands.cienv`) is generated
from it, and so is `parse_lean`, which the entry point uses for `portside ci-env ...` so that
the command starts without importing typer (issue 3 "Speed"; see docs/benchmarks.md).

`parse_lean` only handles what it understands exactly as click would. For anything else
(`--help`, an unknown option, a missing value, an environment value it cannot read) it returns
None and the caller runs the typer app, which gives the usual help text and usage errors.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import NamedTuple

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


class OptionSpec(NamedTuple):
    """One option. `kind`: `flag` (on only), `switch` (`--x/--no-x`), `value`, `values`
    (repeatable; its env twin is split on whitespace)."""

    name: str
    flags: tuple[str, ...]
    envvar: str
    help: str
    kind: str = "value"
    off_flags: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    metavar: str = ""


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
        "PORTSIDE_AS_ENV_FILE",
        "Print KEY=VALUE lines (GitLab artifacts:reports:dotenv, docker --env-file) "
        "instead of a script.",
        kind="flag",
    ),
    OptionSpec(
        "as_file",
        ("--as-file",),
        "PORTSIDE_AS_FILE",
        "Write the script to a 0600 file in the job directory and print its path: "
        '. "$(portside ci-env --as-file)".',
        kind="flag",
    ),
    OptionSpec(
        "output",
        ("-o", "--output"),
        "PORTSIDE_OUTPUT",
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
        "PORTSIDE_CLEANUP",
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

# What click's boolean type accepts from an environment variable. Anything else goes to click,
# which reports it as a usage error.
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
_DEFAULTS = CiEnvArgs._field_defaults


class _NotLean(Exception):
    """The arguments need the full parser (help, an error, something unusual)."""


def _by_flag() -> dict[str, tuple[OptionSpec, bool]]:
    table: dict[str, tuple[OptionSpec, bool]] = {}
    for spec in OPTIONS:
        for flag in spec.flags:
            table[flag] = (spec, True)
        for flag in spec.off_flags:
            table[flag] = (spec, False)
    return table


def _bool_from_env(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _NotLean


def _check_choice(spec: OptionSpec, value: str) -> str:
    if spec.choices and value not in spec.choices:
        raise _NotLean
    return value


def _parse(argv: Sequence[str], environ: Mapping[str, str]) -> CiEnvArgs:
    table = _by_flag()
    given: dict[str, object] = {}
    positional: list[str] = []
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token == "--":
            positional.extend(tokens[i:])
            break
        if not token.startswith("-") or token == "-":
            positional.append(token)
            continue
        name, eq, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        if name not in table and len(token) > 2 and token[:2] in table and token[1] != "-":
            name, eq, inline = token[:2], "=", token[2:]  # -oFILE
        if name not in table:
            raise _NotLean  # --help, -h, unknown options: click answers those
        spec, on = table[name]
        if spec.kind in ("flag", "switch"):
            if eq:
                raise _NotLean
            given[spec.name] = on
            continue
        if not eq:
            if i >= len(tokens):
                raise _NotLean
            inline = tokens[i]
            i += 1
        if spec.kind == "values":
            given[spec.name] = (*given.get(spec.name, ()), inline)  # type: ignore[misc]
        else:
            given[spec.name] = _check_choice(spec, inline)
    if len(positional) > 1:
        raise _NotLean
    if positional:
        given["platform"] = _check_choice(
            OptionSpec("platform", (), "", "", choices=PLATFORM_CHOICES), positional[0]
        )
    for spec in OPTIONS:
        if spec.name in given:
            continue
        text = environ.get(spec.envvar)
        if not text:
            continue  # click, too, treats an empty variable as unset
        if spec.kind in ("flag", "switch"):
            given[spec.name] = _bool_from_env(text)
        elif spec.kind == "values":
            given[spec.name] = tuple(text.split())
        else:
            given[spec.name] = _check_choice(spec, text)
    return CiEnvArgs(**{**_DEFAULTS, **given})  # type: ignore[arg-type]


def parse_lean(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> CiEnvArgs | None:
    """`CiEnvArgs` for the arguments after `ci-env`, or None when click must parse them."""
    try:
        return _parse(argv, os.environ if environ is None else environ)
    except _NotLean:
        return None
