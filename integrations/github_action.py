"""The GitHub Action's steps (action.yml): which extra to install, and the one portside
command line its inputs, its `args` and the job's own `env:` make together.

The inputs reach us as `INPUT_*` variables that the step sets. They become command-line
options, and only when they are set: never `PORTSIDE_*` env twins, so the job's `env:` stays
visible to portside. Where an input (or an `args` option) and the job's env twin say
different things, the reading that deletes less wins (docs/integrations.md, "Merging"):

- dry run and verify: either one says true;
- keep rules: both keep (tag regexes are added up; keep-last and keep-newer-than take the
  larger);
- the policy file, the deletion filter and the git repo: refused (exit 2) unless equal, since
  neither can be merged without widening or guessing what the user meant.

An option given both as an input and in `args` is refused (exit 2), naming both.

Imported by the runner's own `python3` before portside is installed (`extras`): standard
library only at import time.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

COMMANDS: dict[str, tuple[str, ...]] = {
    "ci-env": ("ci-env", "github"),
    "ci-env-cleanup": ("ci-env", "--cleanup"),
    "pull": ("pull",),
    "copy": ("copy",),
    "cleanup": ("cleanup",),
    "tags": ("tags",),
    "inspect": ("inspect",),
}
EXTRAS = frozenset({"aws", "azure", "github", "gitlab", "all"})


class ActionError(Exception):
    """Bad input to the action: printed as a `::error::` line, exit 2."""


@dataclass(frozen=True)
class Rule:
    """A portside option that an input sets, and how it merges with its env twin."""

    flag: str
    envvar: str
    merge: str  # "union" (repeatable), "max_int", "max_duration", "equal", "either"
    input: str = ""  # the action input that sets it, if any
    command: str = "cleanup"
    value: bool = True  # takes a value (else a flag that an input "true" turns on)


RULES: tuple[Rule, ...] = (
    Rule("--policy", "PORTSIDE_POLICY", "equal", "policy"),
    Rule("--keep-tag", "PORTSIDE_KEEP_TAG", "union", "keep-tags"),
    Rule("--keep-last", "PORTSIDE_KEEP_LAST", "max_int", "keep-last"),
    Rule("--keep-newer-than", "PORTSIDE_KEEP_NEWER_THAN", "max_duration", "keep-newer-than"),
    Rule("--delete-tag", "PORTSIDE_DELETE_TAG", "equal", "delete-tags"),
    Rule("--git-repo", "PORTSIDE_GIT_REPO", "equal"),
    Rule("--dry-run", "PORTSIDE_DRY_RUN", "either", "dry-run", value=False),
    Rule("--verify", "PORTSIDE_VERIFY", "either", "verify", "ci-env", value=False),
)
_LINES = frozenset({"keep-tags", "delete-tags"})  # one regex per line


def lines(text: str) -> list[str]:
    """One value per line, exactly as written; empty and whitespace-only lines are skipped
    (a `|` block ends with a newline, and a blank line means nothing)."""
    return [line for line in text.split("\n") if line.strip()]


def _env_values(rule: Rule, text: str) -> list[str]:
    # As portside reads the twin: a repeatable option's is split on whitespace.
    return text.split() if rule.merge == "union" else [text]


def _boolean(name: str, text: str, default: bool) -> bool:
    lowered = text.strip().lower()
    if lowered == "":
        return default
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ActionError(f'input {name}: is {text!r}; write "true" or "false"')


def _occurrences(args: Sequence[str], flag: str) -> list[int]:
    """Where `flag` (or `flag=value`) stands among the options of `args`."""
    found = []
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == flag or arg.startswith(flag + "="):
            found.append(index)
    return found


def _take(args: list[str], rule: Rule) -> list[str]:
    """Remove every occurrence of a rule's option from `args`; return the values given."""
    values = []
    for index in reversed(_occurrences(args, rule.flag)):
        arg = args.pop(index)
        if not rule.value:
            values.append("true")
        elif "=" in arg:
            values.append(arg.partition("=")[2])
        elif index < len(args):
            values.append(args.pop(index))
        else:
            raise ActionError(f"args: {rule.flag} needs a value on the next line")
    return values[::-1]


def _larger(rule: Rule, mine: str, theirs: str) -> str:
    if rule.merge == "max_int":
        try:
            return mine if int(mine) >= int(theirs) else theirs
        except ValueError:
            raise ActionError(
                f"{rule.flag} {mine!r} and {rule.envvar}={theirs!r} in the job env: "
                "both must be whole numbers to keep the larger"
            ) from None
    from drivers.cleanup.policy import Duration

    try:
        return mine if Duration.parse(mine).seconds >= Duration.parse(theirs).seconds else theirs
    except ValueError as error:
        raise ActionError(f"{rule.flag} and {rule.envvar} in the job env: {error}") from None


def _merge(rule: Rule, given: list[str], environ: Mapping[str, str], where: str) -> list[str]:
    """The values to pass for `rule` when the command line gives `given` (non-empty)."""
    twin = environ.get(rule.envvar, "")
    if not twin.strip() or rule.merge == "either":
        return given
    theirs = _env_values(rule, twin)
    if rule.merge == "union":
        return given + [v for v in theirs if v not in given]
    if rule.merge == "equal":
        if sorted(set(given)) == sorted(set(theirs)):
            return given
        raise ActionError(
            f"{where} and {rule.envvar} in the job env both set {rule.flag}; together they "
            f"could widen what is deleted: give it in one place"
        )
    return [_larger(rule, given[-1], theirs[0])]


def command_line(
    inputs: Mapping[str, str], environ: Mapping[str, str]
) -> tuple[list[str], dict[str, str]]:
    """portside's arguments and the environment changes, from the inputs and the job env."""
    command = inputs.get("command", "").strip() or "ci-env"
    if command not in COMMANDS:
        raise ActionError(
            f"unknown command '{command}' (use ci-env, ci-env-cleanup, pull, copy, cleanup, "
            "tags or inspect)"
        )
    args = lines(inputs.get("args", ""))
    options: list[str] = []
    for rule in RULES:
        name = rule.input
        raw = inputs.get(name, "") if name else ""
        if rule.value:
            given = (lines(raw) if name in _LINES else [raw.strip()]) if raw.strip() else []
        else:
            given = ["true"] if name and _boolean(name, raw, False) else []
        if given and command != rule.command:
            raise ActionError(f"input {name}: applies only to command: {rule.command}")
        in_args = _take(args, rule) if command == rule.command else []
        if given and in_args:
            raise ActionError(
                f"input {name}: and {rule.flag} in args set the same option: give it once"
            )
        given = given or in_args
        if not given:
            continue
        where = f"input {name}:" if name and not in_args else f"{rule.flag} in args"
        for value in _merge(rule, given, environ, where):
            options += [rule.flag, value] if rule.value else [rule.flag]
    if not _boolean("login", inputs.get("login", ""), True):
        if command != "ci-env":
            raise ActionError("input login: applies only to command: ci-env")
        options.append("--no-login")
    repository = inputs.get("repository", "").strip()
    if repository and command != "cleanup":
        raise ActionError("input repository: applies only to command: cleanup")
    argv = [*COMMANDS[command], *([repository] if repository else []), *options, *args]
    return argv, _token_env(command, inputs, environ)


def _token_env(command: str, inputs: Mapping[str, str], environ: Mapping[str, str]) -> dict:
    """The ghcr.io token (ci-env's login, cleanup's Packages API), in the environment (never
    on a command line). A token the job's env gives portside is kept unless the input names
    another than the default one."""
    token = inputs.get("github-token", "")
    default = inputs.get("default-token", "")
    if command not in ("ci-env", "cleanup") or not token:
        return {}
    if environ.get("PORTSIDE_REPO_GITHUB_TOKEN") and token == default:
        return {}
    return {"PORTSIDE_REPO_GITHUB_TOKEN": token}


def extras_for(command: str, requested: str, repository: str) -> str:
    """The extras the install step adds: `requested` when given (`none` for the core), else
    the SDK extra of the cleanup repository's registry implementation."""
    requested = requested.strip().lower()
    if requested and requested != "auto":
        chosen = sorted({e.strip() for e in requested.split(",") if e.strip()} - {"none"})
        unknown = [e for e in chosen if e not in EXTRAS]
        if unknown:
            raise ActionError(
                f"input extras: unknown extra {', '.join(unknown)} (use auto, none, "
                + ", ".join(sorted(EXTRAS))
                + ")"
            )
        return ",".join(chosen)
    if command != "cleanup" or not repository.strip():
        return ""
    from drivers.registries.detection import detect
    from drivers.registries.table import SPECS

    spec = SPECS[detect(repository.strip().split("/")[0]).name]
    # Only a native driver imports its SDK; without one, `default` serves the registry.
    return (spec.extra or "") if spec.driver else ""


def _inputs(environ: Mapping[str, str]) -> dict[str, str]:
    prefix = "INPUT_"
    return {
        key[len(prefix) :].lower().replace("_", "-"): value
        for key, value in environ.items()
        if key.startswith(prefix)
    }


def main(argv: Sequence[str] | None = None) -> int:
    """`extras` prints the extras to install; `run` replaces itself with portside."""
    what = (sys.argv[1:] if argv is None else list(argv)) or ["run"]
    environ = dict(os.environ)
    inputs = _inputs(environ)
    try:
        if what[0] == "extras":
            repository = inputs.get("repository", "") or environ.get("PORTSIDE_REPO", "")
            print(extras_for(inputs.get("command", ""), inputs.get("extras", ""), repository))
            return 0
        arguments, changes = command_line(inputs, environ)
    except ActionError as error:
        print(f"::error::portside action: {error}", flush=True)
        return 2
    env = {k: v for k, v in environ.items() if not k.startswith("INPUT_")}
    env.update(changes)
    portside = os.path.join(os.path.dirname(sys.executable), "portside")
    sys.stdout.flush()
    if arguments[0] == "ci-env" and arguments[1] == "github":
        # On GitHub ci-env writes $GITHUB_ENV itself; its script on stdout is for shells.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
    os.execve(portside, [portside, *arguments], env)
    return 1  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
