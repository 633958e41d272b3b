"""Commands written down once, as tables, from which both the typer command and a lean parser
are generated.

Importing typer and click costs about 0.1 s of start-up (docs/benchmarks.md), more than a
whole `portside ci-env` run is allowed and a large share of a CI pull. So the entry point
(`ci_env.cli`) parses the commands that have a table (`ci-env`, `pull`, `copy`, `cleanup`)
with `parse` and runs them without typer.

`parse` only handles what it reads exactly as click would. For anything else (`--help`, an
unknown option, a missing value or argument, an integer or choice click would refuse, an
environment value it cannot read) it returns None and the caller runs the typer app, which
gives the usual help text and usage errors (exit 2). `typer_command` builds the typer side from
the same table, so the two cannot drift apart; tests compare them argv by argv.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any


# Plain classes: the lean start-up is budgeted (docs/benchmarks.md), and a plain class costs a
# fraction of a NamedTuple (let alone a dataclass) to create. The tables are never compared.
class OptionSpec:
    """One option and its `PORTSIDE_*` environment twin, or (made by `argument`, without flags,
    its twin optional: used when the argument is absent) one positional argument.

    `kind`: `flag` (on only), `switch` (`--x/--no-x`; a default of None leaves it unset),
    `value`, `values` (an option: repeatable, its env twin split on whitespace; an argument:
    every remaining one, click's nargs=-1, so only the last argument may have it), `int`
    (within `bounds`, inclusive, when given).
    """

    def __init__(
        self,
        name: str,
        flags: tuple[str, ...],
        envvar: str,
        help: str,
        *,
        kind: str = "value",
        off_flags: tuple[str, ...] = (),
        choices: tuple[str, ...] = (),
        metavar: str = "",
        bounds: tuple[int, int] | None = None,
        required: bool = False,
    ) -> None:
        self.name = name
        self.flags = flags
        self.envvar = envvar
        self.help = help
        self.kind = kind
        self.off_flags = off_flags
        self.choices = choices
        self.metavar = metavar
        self.bounds = bounds
        self.required = required


def argument(
    name: str,
    help: str,
    *,
    required: bool = True,
    many: bool = False,
    choices: tuple[str, ...] = (),
    envvar: str = "",
) -> OptionSpec:
    """A positional argument; `many` takes every remaining one; `envvar` is read when the
    argument is absent."""
    kind = "values" if many else "value"
    return OptionSpec(name, (), envvar, help, kind=kind, choices=choices, required=required)


class CommandSpec:
    """A command: its tables (positional `arguments`, then `options`); `args`, the NamedTuple
    class of parsed values (a field per argument and option, with the defaults); and `run`,
    the one body that both parsers' results are given to."""

    def __init__(
        self,
        *,
        name: str,
        doc: str,
        arguments: tuple[OptionSpec, ...],
        options: tuple[OptionSpec, ...],
        args: Any,
        run: Callable[[Any], None],
    ) -> None:
        self.name, self.doc = name, doc
        self.arguments, self.options = arguments, options
        self.args, self.run = args, run


# What click's boolean type accepts from an environment variable. Anything else goes to click,
# which reports it as a usage error.
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


class _NotLean(Exception):
    """The arguments need the full parser (help, an error, something unusual)."""


def _by_flag(options: Sequence[OptionSpec]) -> dict[str, tuple[OptionSpec, bool]]:
    table: dict[str, tuple[OptionSpec, bool]] = {}
    for spec in options:
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


def _value(spec: OptionSpec, text: str) -> object:
    """The value click would give, or _NotLean where click would report a usage error."""
    if spec.choices and text not in spec.choices:
        raise _NotLean
    if spec.kind == "int":
        try:
            number = int(text)  # what click's INT does, whitespace, sign and `_` included
        except ValueError:
            raise _NotLean from None
        if spec.bounds and not spec.bounds[0] <= number <= spec.bounds[1]:
            raise _NotLean
        return number
    return text


def _tokens(
    argv: Sequence[str], options: Sequence[OptionSpec]
) -> tuple[dict[str, object], list[str]]:
    """The options given on the command line, by name, and the positional arguments."""
    table = _by_flag(options)
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
            name, eq, inline = token[:2], "=", token[2:]  # -oFILE, -j4
        if name not in table:
            raise _NotLean  # --help, -h, unknown options, -qj4: click answers those
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
            given[spec.name] = _value(spec, inline)
    return given, positional


def _arguments(arguments: Sequence[OptionSpec], positional: list[str]) -> dict[str, object]:
    """The arguments given on the command line; an absent one is left to its env twin."""
    values: dict[str, object] = {}
    rest = list(positional)
    for spec in arguments:
        if spec.kind == "values":
            if rest:  # click reads the env twin of an nargs=-1 argument when none is given
                values[spec.name] = tuple(_value(spec, text) for text in rest)
            rest = []
        elif rest:
            values[spec.name] = _value(spec, rest.pop(0))
    if rest:
        raise _NotLean
    return values


def _from_environment(
    specs: Sequence[OptionSpec], given: dict[str, object], environ: Mapping[str, str]
) -> None:
    """Fill in from the env twins what the command line left out; options and arguments."""
    for spec in specs:
        if spec.name in given:
            continue
        text = environ.get(spec.envvar) if spec.envvar else None
        if not text:
            if spec.required:
                raise _NotLean  # click reports the missing option or argument
            continue  # click, too, treats an empty variable as unset
        if spec.kind in ("flag", "switch"):
            given[spec.name] = _bool_from_env(text)
        elif spec.kind == "values":
            given[spec.name] = tuple(_value(spec, part) for part in text.split())
        else:
            given[spec.name] = _value(spec, text)


def parse(
    command: CommandSpec, argv: Sequence[str], environ: Mapping[str, str] | None = None
) -> Any | None:
    """`command.args` for the arguments after the command's name, or None when click must
    parse them."""
    try:
        given, positional = _tokens(argv, command.options)
        given.update(_arguments(command.arguments, positional))
        _from_environment(
            (*command.arguments, *command.options),
            given,
            os.environ if environ is None else environ,
        )
    except _NotLean:
        return None
    return command.args(**{**command.args._field_defaults, **given})


# -- the typer side ------------------------------------------------------------------------
# typer is imported inside these functions: this module is also on the lean path.


def typer_option(spec: OptionSpec, default: object = None) -> Any:
    """`Annotated[type, typer.Option(...)]` for one option: help, env twin, metavar, range."""
    from typing import Annotated, Literal

    import typer

    if spec.kind in ("flag", "switch"):
        kind: Any = bool if default is not None else bool | None  # None: a tri-state switch
    elif spec.kind == "values":
        kind = list[str] | None
    elif spec.kind == "int":
        kind = int | None
    elif spec.choices:
        kind = Literal[spec.choices]  # typer turns a Literal into a click Choice
    else:
        kind = str | None
    decls = "/".join([*spec.flags[-1:], *spec.off_flags]) if spec.kind == "switch" else None
    extra: dict[str, Any] = {"metavar": spec.metavar} if spec.metavar else {}
    if spec.kind == "int" and spec.bounds:
        extra.update(min=spec.bounds[0], max=spec.bounds[1])
    option = typer.Option(
        *([decls] if decls else spec.flags),
        envvar=spec.envvar or None,
        help=spec.help,
        # Only a default worth reading is shown: a switch's, or a value's like `oci`.
        show_default=(spec.kind == "switch" and default is not None) or isinstance(default, str),
        **extra,
    )
    return Annotated[kind, option]


def typer_command(command: CommandSpec) -> Callable[..., None]:
    """The typer command function for a table: its signature is generated, its body turns
    typer's values into `command.args` and calls `command.run`."""
    import inspect
    from typing import Annotated, Literal

    import typer

    defaults = command.args._field_defaults
    parameters = []
    for argument in command.arguments:
        if argument.kind == "values":
            kind: Any = list[str]
        elif argument.choices:
            kind = Literal[argument.choices]
        else:
            kind = str
        parameters.append(
            inspect.Parameter(
                argument.name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=... if argument.required else None,
                annotation=Annotated[
                    kind if argument.required else kind | None,
                    typer.Argument(
                        help=argument.help, envvar=argument.envvar or None, show_default=False
                    ),
                ],
            )
        )
    for spec in command.options:
        default = ... if spec.required else defaults[spec.name]
        parameters.append(
            inspect.Parameter(
                spec.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=None if spec.kind == "values" else default,
                annotation=typer_option(spec, default),
            )
        )
    sequences = [s.name for s in (*command.arguments, *command.options) if s.kind == "values"]

    def run(**values: Any) -> None:
        for name in sequences:
            values[name] = tuple(values.get(name) or ())
        command.run(command.args(**values))

    run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run.__doc__ = command.doc
    run.__name__ = command.name.replace("-", "_")
    return run
