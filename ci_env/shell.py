"""The exports ci-env prints, as a script for sh, fish or PowerShell, or as `KEY=VALUE` lines.

Every value is quoted so that the shell reads it back byte for byte and nothing in it can run:

- sh (POSIX, bash, dash, zsh): single quotes, where nothing is special; a `'` is written as
  `'\\''` (close, escaped quote, reopen).
- fish: single quotes, where only `\\\\` and `\\'` are escapes.
- PowerShell: single quotes, where only the quote is special, written twice. PowerShell also
  takes the typographic quotes U+2018..U+201B as single quotes, so those are doubled too.

Comment lines never carry a value (a newline in it would end the comment); they hold fixed text
and variable names, which are checked against `[A-Za-z_][A-Za-z0-9_]*`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from drivers.errors import InvalidInput

_POWERSHELL_QUOTES = ("'", "\u2018", "\u2019", "\u201a", "\u201b")


# NamedTuples rather than dataclasses: ci-env's start-up time is budgeted (docs/benchmarks.md)
# and a NamedTuple class costs a fraction of a dataclass to create. Neither holds a secret.
class Export(NamedTuple):
    """Set `name` to `value`."""

    name: str
    value: str


class Kept(NamedTuple):
    """`name` was already set by the user and is left alone."""

    name: str


Line = Export | Kept


def quote_sh(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def quote_fish(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_powershell(value: str) -> str:
    for quote in _POWERSHELL_QUOTES:
        value = value.replace(quote, quote * 2)
    return "'" + value + "'"


def _check_name(name: str) -> str:
    # `[A-Za-z_][A-Za-z0-9_]*`, without loading a regular expression at start-up.
    if not (name.isascii() and name.isidentifier()):
        raise InvalidInput(f"{name!r} is not a valid environment variable name")
    return name


def _assign_sh(name: str, value: str) -> str:
    return f"export {name}={quote_sh(value)}"


def _assign_fish(name: str, value: str) -> str:
    return f"set -gx {name} {quote_fish(value)}"


def _assign_powershell(name: str, value: str) -> str:
    return f"$env:{name} = {quote_powershell(value)}"


_ASSIGN = {"sh": _assign_sh, "fish": _assign_fish, "powershell": _assign_powershell}
SHELLS = tuple(_ASSIGN)


def render_script(lines: Sequence[Line], shell: str = "sh", *, header: str = "") -> str:
    """The script that sets every Export and notes every Kept, for `shell`."""
    assign = _ASSIGN.get(shell)
    if assign is None:
        raise InvalidInput(f"unknown shell {shell!r}", hint="use one of: " + ", ".join(SHELLS))
    out = [f"# {header}"] if header and "\n" not in header and "\r" not in header else []
    for line in lines:
        name = _check_name(line.name)
        if isinstance(line, Kept):
            out.append(f"# {name} is already set; kept")
        else:
            out.append(assign(name, line.value))
    return "".join(f"{text}\n" for text in out)


def env_file_problem(value: str) -> str | None:
    """Why `value` cannot be one `KEY=VALUE` line, or None when it can.

    The line must read back the same in both consumers: `docker --env-file` (the rest of the line,
    verbatim) and GitLab's `artifacts:reports:dotenv` (`^(.*?)=(.*)$`, stripped, and expanded
    like any non-raw CI variable, so `$` would be replaced).
    """
    if "\n" in value or "\r" in value:
        return "it holds a line break"
    if value != value.strip():
        return "it starts or ends with whitespace, which GitLab strips"
    if "$" in value:
        return "it holds '$', which GitLab expands as a variable reference"
    return None


def render_env_file(lines: Sequence[Line]) -> str:
    """`KEY=VALUE` lines for the Exports (the format has no comments, so Kept names are left out).

    Raises InvalidInput naming the variable when a value cannot be written.
    """
    out: list[str] = []
    for line in lines:
        if isinstance(line, Kept):
            continue
        name = _check_name(line.name)
        problem = env_file_problem(line.value)
        if problem:
            raise InvalidInput(
                f"{name} cannot be written as a KEY=VALUE line: {problem}",
                hint="use the shell script output instead (drop --as-env-file)",
            )
        out.append(f"{name}={line.value}\n")
    return "".join(out)
