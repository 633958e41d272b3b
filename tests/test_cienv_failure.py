"""A failing `portside ci-env` fails the job, in every documented form and shell.

`eval "$(…)"` of an empty output succeeds even under `set -e`; so on any error ci-env prints,
besides its error on stderr, `exit CODE;` for the evaluating shell (or, with `--as-file`, a
path that no shell can source). Each program here runs the literal line a user writes, then
`echo CONTINUED` and an environment dump: neither may be reached.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cienv_support import (
    CANARY,
    GITLAB_JOB,
    SH_FORMS,
    SH_SHELLS,
    clean_environ,
    run_portside,
    run_shell,
)

# A GitLab job without its job id: ci-env exits 2 (a missing CI variable), naming it.
NO_JOB_ID = {k: v for k, v in GITLAB_JOB.items() if k != "CI_JOB_ID"}
EVAL_FORMS = ("eval-unquoted", "eval-quoted")
FAILED_PATH = "/dev/null/portside-ci-env-failed"  # what --as-file prints when it fails


def unwritable(tmp_path: Path) -> Path:
    if os.geteuid() == 0:
        return Path("/sys")  # sysfs refuses mkdir even to root
    directory = tmp_path / "read-only"
    directory.mkdir(mode=0o500)
    return directory


def job_stops(
    shell: list[str], line: str, tmp_path: Path, env: dict[str, str], *, errexit: bool
) -> int:
    """Run `line` in `shell` (under `set -e` when `errexit`); assert the shell stopped there,
    with portside's error on stderr and no secret anywhere; return the shell's exit code."""
    program = ("set -e\n" if errexit else "") + line + "\necho CONTINUED"
    done = run_shell(shell, program, ["DOCKER_CONFIG"], tmp_path, env=env)
    assert done.code != 0
    assert b"CONTINUED" not in done.stdout and done.values is None, done.stderr
    assert "portside: error: " in done.stderr or "Usage:" in done.stderr, done.stderr
    assert CANARY not in done.stderr and CANARY.encode() not in done.stdout
    return done.code


def stops_without_errexit(shell: str, form: str) -> bool:
    # dash and busybox ash exit when `.` cannot open its file (a special built-in's error);
    # bash and zsh go on unless -e is set, which GitLab's and GitHub's shells always set.
    return form in EVAL_FORMS or shell in ("dash", "ash")


CASES = [
    (shell, form, errexit)
    for shell in SH_SHELLS
    for form in SH_FORMS
    for errexit in (True, False)
    if errexit or stops_without_errexit(shell, form)
]


@pytest.mark.parametrize(("shell", "form", "errexit"), CASES)
def test_a_missing_ci_variable_stops_the_shell(tmp_path, shell, form, errexit):
    env = clean_environ(**NO_JOB_ID, PORTSIDE_TMP_DIR=str(tmp_path))
    line = SH_FORMS[form].format(args="gitlab")
    code = job_stops(SH_SHELLS[shell], line, tmp_path, env, errexit=errexit)
    if form in EVAL_FORMS:
        assert code == 2  # portside's own exit code: the shell ran `exit 2`


@pytest.mark.parametrize("form", SH_FORMS)
@pytest.mark.parametrize(("cause", "code"), [("unwritable-tmp", 1), ("usage", 2)])
def test_every_kind_of_failure_stops_the_shell(tmp_path, form, cause, code):
    """dash without -e: the strictest test of what ci-env prints, when the job directory
    cannot be made, and for a usage error (found by click, before ci-env runs)."""
    args = {"unwritable-tmp": "gitlab", "usage": "gitlab --no-such-option"}
    env = clean_environ(**GITLAB_JOB, PORTSIDE_TMP_DIR=str(tmp_path))
    if cause == "unwritable-tmp":
        env["PORTSIDE_TMP_DIR"] = str(unwritable(tmp_path))
    got = job_stops(["dash"], SH_FORMS[form].format(args=args[cause]), tmp_path, env, errexit=False)
    assert got == (code if form in EVAL_FORMS else 2)  # 2: dash's own, for `. FAILED_PATH`


def test_the_failure_output_is_fixed_text(tmp_path):
    env = clean_environ(**NO_JOB_ID, PORTSIDE_TMP_DIR=str(tmp_path))
    printed = {
        shell: run_portside("ci-env", "gitlab", "--shell", shell, env=env).stdout
        for shell in ("sh", "fish", "powershell")
    }
    assert printed == {"sh": b"exit 2;\n", "fish": b"exit 2;\n", "powershell": b"exit 2\n"}
    as_file = run_portside("ci-env", "gitlab", "--as-file", env=env)
    assert (as_file.returncode, as_file.stdout) == (2, f"{FAILED_PATH}\n".encode())
    # Commands that are run, not evaluated, print nothing: their exit code fails the job.
    for args in (["--as-env-file"], ["--cleanup", "--docker-config", str(tmp_path)]):
        done = run_portside("ci-env", "gitlab", *args, env=env)
        assert done.returncode == 2 and done.stdout == b"", args


def test_an_output_file_gets_the_failure_instead_of_stale_exports(tmp_path):
    """`-o FILE` then `. FILE`: a failed run must not leave an earlier run's exports there."""
    target = tmp_path / "ci-env.sh"
    good = clean_environ(**GITLAB_JOB, PORTSIDE_TMP_DIR=str(tmp_path))
    assert run_portside("ci-env", "gitlab", "-o", str(target), env=good).returncode == 0
    assert b"DOCKER_CONFIG" in target.read_bytes()
    bad = clean_environ(**NO_JOB_ID, PORTSIDE_TMP_DIR=str(tmp_path))
    done = run_portside("ci-env", "gitlab", "-o", str(target), env=bad)
    assert (done.returncode, done.stdout, target.read_bytes()) == (2, b"", b"exit 2;\n")
    line = f"portside ci-env gitlab -o {target} --as-file"
    code = job_stops(["dash"], f'. "$({line})"', tmp_path, bad, errexit=False)
    assert code == 2  # the file ran `exit 2`


@pytest.mark.parametrize(
    "line",
    [
        "portside ci-env gitlab --shell fish | source; or exit",
        "eval (portside ci-env gitlab --shell fish)",
    ],
)
def test_fish_stops(tmp_path, line):
    env = clean_environ(**NO_JOB_ID, PORTSIDE_TMP_DIR=str(tmp_path))
    done = run_shell(
        ["fish", "--no-config"], f"{line}\necho CONTINUED", [], tmp_path, env=env, fish=True
    )
    assert done.code == 2 and b"CONTINUED" not in done.stdout, done.stderr
