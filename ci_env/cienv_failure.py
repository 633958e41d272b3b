"""What `portside ci-env` prints when it fails: a script that stops the shell evaluating it.

`eval "$(portside ci-env gitlab)"` of an empty output succeeds, even under `set -e`, so a job
whose ci-env failed would run on with the shared Docker config, the race ci-env exists to
remove. So besides its error on stderr, a failing ci-env prints `exit CODE;` (its exit code, in
the `--shell`'s syntax), as werf's `ci-env` does:

- on stdout, for `eval $(…)` and `eval "$(…)"`: the shell runs `exit CODE`, with or without -e;
- into the `-o FILE`, so a later `. FILE` does not source what an earlier run left there;
- with `--as-file`, the path of that `-o FILE` when it could be written, else FAILED_PATH: a
  path no shell can open (`/dev/null` is not a directory), so `.` fails. dash and busybox ash
  then exit even without -e (`.` is a special built-in); bash and zsh stop under -e, which
  GitLab's and GitHub's shells always set. No file is written in the temp dir: it may be the
  very thing that failed;
- nothing for `--as-env-file` and `--cleanup`: they run as commands, whose exit code already
  fails the job.

The script is fixed text with no part of the error in it, so no secret or value reaches it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ci_env.cienv_options import SHELL_CHOICES, CiEnvArgs
from ci_env.shell import render_failure
from drivers.errors import PortsideError

FAILED_PATH = "/dev/null/portside-ci-env-failed"


def print_failure(args: CiEnvArgs, exc: BaseException) -> None:
    """The failure script for `exc`, raised by a ci-env run with `args`."""
    from ci_env.errors import exit_code_for

    emit(args, 130 if isinstance(exc, KeyboardInterrupt) else exit_code_for(exc))


def print_usage_failure(argv: Sequence[str], environ: Mapping[str, str], code: int) -> None:
    """The failure script for a usage error in `portside ci-env ARGV`. The arguments did not
    parse, so the output form is read leniently from the flags present; `-o` is not written."""
    words = list(argv[: argv.index("--")] if "--" in argv else argv)
    shell = environ.get("PORTSIDE_SHELL", "sh")
    for i, word in enumerate(words):
        if word.startswith("--shell="):
            shell = word.partition("=")[2]
        elif word == "--shell" and i + 1 < len(words):
            shell = words[i + 1]
    args = CiEnvArgs(
        shell=shell if shell in SHELL_CHOICES else "sh",
        as_file="--as-file" in words,
        as_env_file="--as-env-file" in words,
        cleanup="--cleanup" in words,
    )
    emit(args, code)


def emit(args: CiEnvArgs, code: int) -> None:
    from ci_env.cienv import write_private, write_stdout

    if args.cleanup or args.as_env_file:
        return
    script = render_failure(args.shell, code)
    written = None
    if args.output:
        try:
            write_private(args.output, script)
            written = args.output
        except PortsideError:
            pass  # the error already on stderr may be this very file
    if args.as_file:
        write_stdout((written or FAILED_PATH) + "\n")
    elif not args.output:
        write_stdout(script)
