"""GitHub Actions workflow files and commands: `$GITHUB_ENV`, `$GITHUB_OUTPUT`,
`$GITHUB_STEP_SUMMARY` and `::add-mask::`.

The runner reads `$GITHUB_ENV` and `$GITHUB_OUTPUT` line by line: `NAME=VALUE`, or the
multi-line form `NAME<<DELIMITER`, the value's lines, then a line that is exactly `DELIMITER`
(actions/runner `SetEnvFileCommand`). We always write the multi-line form with a random
delimiter that does not occur in the value, so no value can end its own block early and smuggle
in another variable.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from typing import TextIO

from drivers.errors import InvalidInput, PortsideError


def delimiter_for(value: str) -> str:
    """A random delimiter that does not occur in `value` (so it cannot match one of its lines)."""
    while True:
        candidate = f"ghadelimiter_{os.urandom(16).hex()}"
        if candidate not in value:
            return candidate


def heredoc(name: str, value: str) -> str:
    """One `NAME<<DELIMITER` block, as the runner parses it back to exactly `value`."""
    if not name or "=" in name or "<<" in name or "\n" in name or "\r" in name:
        raise InvalidInput(f"{name!r} cannot be a GitHub Actions variable or output name")
    delimiter = delimiter_for(value)
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def _append(path: str, text: str, what: str) -> None:
    # One write on an O_APPEND descriptor: another writer's block cannot land inside ours.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, text.encode("utf-8", "surrogateescape"))
        finally:
            os.close(fd)
    except OSError as exc:
        raise PortsideError(
            f"cannot append to {what} ({path}): {exc.strerror or exc}",
            hint=f"check that ${what} names a writable file",
        ) from None


def append_env(path: str, values: Iterable[tuple[str, str]]) -> None:
    """Append variables to `$GITHUB_ENV`, so later steps of the job see them."""
    text = "".join(heredoc(name, value) for name, value in values)
    if text:
        _append(path, text, "GITHUB_ENV")


def set_output(path: str, name: str, value: str) -> None:
    """Append one step output to `$GITHUB_OUTPUT`."""
    _append(path, heredoc(name, value), "GITHUB_OUTPUT")


def add_masks(secrets: Iterable[str], stream: TextIO | None = None) -> None:
    """Ask the runner to mask each secret in the log (`::add-mask::`).

    The runner applies workflow commands from stderr as well as stdout; we use stderr so that the
    commands never mix with the script on stdout that a shell evaluates. The runner masks line by
    line, so a multi-line secret is masked one line at a time.
    """
    out = stream or sys.stderr
    for secret in secrets:
        for line in secret.splitlines():
            if line.strip():
                out.write(f"::add-mask::{line}\n")
    out.flush()


def append_step_summary(markdown: str, environ: Mapping[str, str] | None = None) -> bool:
    """Append Markdown to the job summary (`$GITHUB_STEP_SUMMARY`). False outside Actions."""
    env = os.environ if environ is None else environ
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    _append(path, markdown if markdown.endswith("\n") else markdown + "\n", "GITHUB_STEP_SUMMARY")
    return True
