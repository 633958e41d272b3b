"""Commands written down as tables, from which their typer commands are generated.

A table is a declaration, not a parser: typer (click underneath) parses every command line
and every `PORTSIDE_*` env twin. Tables exist so that what is declared once (a flag, its env
twin, its help) can be read by more than the command itself: `ci-env`'s failure script reads
the output options, and options are generated from other declarations (the registries'
credential options). `typer_command` turns a table into the typer command function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


# Plain classes: start-up is budgeted (docs/benchmarks.md), and a plain class costs a fraction
# of a NamedTuple (let alone a dataclass) to create. The tables are never compared.
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
    the one body that typer's parsed values are given to."""

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


# -- the typer side ------------------------------------------------------------------------
# typer is imported inside these functions: the tables are read without it (ci-env's failure
# script, `portside --help`'s command list).


def typer_option(spec: OptionSpec, default: object = None) -> Any:
    """`Annotated[type, typer.Option(...)]` for one option: help, env twin, metavar, range."""
    from typing import Annotated

    import typer

    if spec.kind in ("flag", "switch"):
        kind: Any = bool if default is not None else bool | None  # None: a tri-state switch
    elif spec.kind == "values":
        kind = list[str] | None
    elif spec.kind == "int":
        kind = int | None
    elif spec.choices:
        kind = str
    else:
        kind = str | None
    decls = "/".join([*spec.flags[-1:], *spec.off_flags]) if spec.kind == "switch" else None
    extra = _choice(spec)
    if spec.metavar:
        extra["metavar"] = spec.metavar
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


def _choice(spec: OptionSpec) -> dict[str, Any]:
    """The click Choice of a value with choices. The same type typer makes of a `Literal`, but
    typer imports typing_extensions to recognise a Literal (about 5 ms of every start-up)."""
    if not spec.choices:
        return {}
    import click

    return {"click_type": click.Choice(spec.choices)}


def typer_command(command: CommandSpec) -> Callable[..., None]:
    """The typer command function for a table: its signature is generated, its body turns
    typer's values into `command.args` and calls `command.run`."""
    import inspect
    from typing import Annotated

    import typer

    defaults = command.args._field_defaults
    parameters = []
    for argument in command.arguments:
        kind: Any = list[str] if argument.kind == "values" else str
        parameters.append(
            inspect.Parameter(
                argument.name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=... if argument.required else None,
                annotation=Annotated[
                    kind if argument.required else kind | None,
                    typer.Argument(
                        help=argument.help,
                        envvar=argument.envvar or None,
                        show_default=False,
                        **_choice(argument),
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
