"""The exports ci-env prints, as a script for sh, fish or PowerShell, or as `KEY=VALUE` lines.

A script sets each Export and removes each Unset: `unset NAME;` (sh), `set -e -g NAME;` (fish:
the global that an inherited variable is, never a universal one), `$env:NAME = $null`
(PowerShell: `''` no longer removes it since 7.5). `KEY=VALUE` lines cannot remove a variable.

Every value reads back byte for byte in the shell that evaluates the script, and nothing in a
value can run, whichever way the script is evaluated.

sh (bash, dash, busybox ash, zsh). Users write `eval $(portside ci-env gitlab)` unquoted, as
well as `eval "$(…)"` and `. "$(… --as-file)"`. Unquoted, the shell splits the output on IFS
(a run of spaces, tabs and newlines becomes one break), expands each word as a glob pattern,
and eval joins the words with single spaces before it parses them. So the script:

- has no comment lines (once joined, a `#` would comment out every later statement); notes
  about kept variables go to stderr instead;
- ends every statement with `;`, so the newlines between them may become spaces;
- holds no whitespace, tab or newline except the breaks between words, and no glob character
  (`* ? [`).

A value made only of SAFE characters is single-quoted: `export NAME='value';`. Any other value
is decoded at eval time by the shell's builtin printf, from a single-quoted format in which
every byte outside SAFE (of the value's UTF-8, or the raw byte that os.environ holds as a
surrogate) is an octal escape:

    NAME=`printf '\\101\\040\\052_'`; NAME=${NAME%_}; export NAME;

- `%`, `\\` and `'` are escaped too, so the format has no conversion and no quote in it, and
  so is a leading `-`, which printf would take for an option;
- the trailing `_` keeps trailing newlines, which command substitution would strip;
- backquotes rather than `$(…)`: unquoted, `NAME=$(printf` is a word of its own with an
  unbalanced `(`, which zsh with GLOB_SUBST reports as a bad pattern. Inside backquotes a
  backslash is literal unless `$`, a backquote or a backslash follows, and none ever does.

printf is a builtin in all four shells, so no program runs, and no part of a value is ever
parsed as shell code.

fish (`| source`, `eval (…)`): single quotes, where only `\\\\` and `\\'` are escapes; a newline
is written outside the quotes as fish's `\\n` (`eval (…)` splits the output into lines and
joins them with spaces), and statements end with `;`.

PowerShell: single quotes, where only the quote is special, written twice. PowerShell also
takes the typographic quotes U+2018..U+201B as single quotes, so those are doubled too.

Variable names are checked against `[A-Za-z_][A-Za-z0-9_]*`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from drivers.errors import InvalidInput

_POWERSHELL_QUOTES = ("'", "\u2018", "\u2019", "\u201a", "\u201b")
# Characters that mean nothing to any shell in any position of a word, and survive word
# splitting and pathname expansion: neither IFS whitespace nor a glob or quote character.
SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/._,:@%+=-")
_FORMAT_SAFE = SAFE - {"%"}  # `%` starts a printf conversion


# NamedTuples rather than dataclasses: ci-env's start-up time is budgeted (docs/benchmarks.md)
# and a NamedTuple class costs a fraction of a dataclass to create. Neither holds a secret.
class Export(NamedTuple):
    """Set `name` to `value`."""

    name: str
    value: str


class Kept(NamedTuple):
    """`name` was already set by the user and is left alone."""

    name: str


class Unset(NamedTuple):
    """Remove `name` from the environment of the shell that evaluates the script."""

    name: str


Line = Export | Kept | Unset


def is_safe(text: str) -> bool:
    """True when `text` survives unquoted command substitution (splitting and globbing) as one
    unchanged word."""
    return bool(text) and all(char in SAFE for char in text)


def quote_sh(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def quote_fish(value: str) -> str:
    quoted = "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return quoted.replace("\n", "'\\n'")


def quote_powershell(value: str) -> str:
    for quote in _POWERSHELL_QUOTES:
        value = value.replace(quote, quote * 2)
    return "'" + value + "'"


def printf_format(value: str) -> str:
    """`value` as a printf format that prints it: SAFE characters as they are (but `%`, and a
    leading `-`, which printf would read as an option), every other byte as `\\NNN`."""
    out: list[str] = []
    for i, char in enumerate(value):
        if char in _FORMAT_SAFE and (i or char != "-"):
            out.append(char)
        else:
            out.extend(f"\\{byte:03o}" for byte in char.encode("utf-8", "surrogateescape"))
    return "".join(out)


def _check_name(name: str) -> str:
    # `[A-Za-z_][A-Za-z0-9_]*`, without loading a regular expression at start-up.
    if not (name.isascii() and name.isidentifier()):
        raise InvalidInput(f"{name!r} is not a valid environment variable name")
    return name


def _assign_sh(name: str, value: str) -> str:
    if all(char in SAFE for char in value):
        return f"export {name}={quote_sh(value)};"
    return f"{name}=`printf '{printf_format(value)}_'`; {name}=${{{name}%_}}; export {name};"


def _assign_fish(name: str, value: str) -> str:
    return f"set -gx {name} {quote_fish(value)};"


def _assign_powershell(name: str, value: str) -> str:
    return f"$env:{name} = {quote_powershell(value)}"


_ASSIGN = {"sh": _assign_sh, "fish": _assign_fish, "powershell": _assign_powershell}
_UNSET = {"sh": "unset {};", "fish": "set -e -g {};", "powershell": "$env:{} = $null"}
SHELLS = tuple(_ASSIGN)


def _statement(line: Export | Unset, shell: str) -> str:
    if isinstance(line, Unset):
        return _UNSET[shell].format(_check_name(line.name))
    return _ASSIGN[shell](_check_name(line.name), line.value)


def render_script(lines: Sequence[Line], shell: str = "sh", *, header: str = "") -> str:
    """The script that sets every Export and removes every Unset, in order, for `shell` (Kept
    names are left out).

    `header` becomes a first comment line: only for a script that is sourced from a file,
    never for one printed to be evaluated (see the module's docstring).
    """
    if shell not in _ASSIGN:
        raise InvalidInput(f"unknown shell {shell!r}", hint="use one of: " + ", ".join(SHELLS))
    out = [f"# {header}"] if header and "\n" not in header and "\r" not in header else []
    out += [_statement(line, shell) for line in lines if not isinstance(line, Kept)]
    return "".join(f"{text}\n" for text in out)


def render_failure(shell: str, code: int) -> str:
    """The script printed instead of the exports when ci-env fails: it stops the shell that
    evaluates it with ci-env's exit code (the error itself is on stderr)."""
    return f"exit {int(code)}\n" if shell == "powershell" else f"exit {int(code)};\n"


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
    """`KEY=VALUE` lines for the Exports. The format has no comments, so Kept names are left
    out, and no way to remove a variable, so Unset ones are too: `NAME=` is not the same (GitLab
    passes an empty value on to later jobs, and its runner reads some of them, such as
    DOCKER_AUTH_CONFIG, to pull their images).

    Raises InvalidInput naming the variable when a value cannot be written.
    """
    out: list[str] = []
    for line in lines:
        if not isinstance(line, Export):
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
