"""The typer application and its root options. Command modules in `ci_env.commands` register
themselves on `app`; `ci_env.cli` runs it.

The root is a click group that imports a command's module only when that command is looked
up (`CommandGroup`), so `portside ci-env` does not pay for importing and building `cleanup`
or the registry commands. `portside --help` looks up every command, and lists them all.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from ci_env import __version__
from ci_env.commands import COMMANDS


class Session:
    """What the root options decided, for the entry point: it outlives the click context, and
    `ci_env.cli.main` reads `debug` from here when a command fails (so PORTSIDE_DEBUG is read
    once, by click, as the --debug option's env twin)."""

    def __init__(self) -> None:
        self.debug = False


class CommandGroup(TyperGroup):
    """The root group: each command is built from its module's registration when looked up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(COMMANDS[cmd_name])
            for info in app.registered_commands:
                name = info.name or typer.main.get_command_name(info.callback.__name__)
                if name == cmd_name:
                    self.commands[name] = typer.main.get_command_from_info(
                        info,
                        pretty_exceptions_short=app.pretty_exceptions_short,
                        rich_markup_mode=app.rich_markup_mode,
                    )
        return self.commands.get(cmd_name)


app = typer.Typer(
    name="portside",
    cls=CommandGroup,
    help="Container-registry work for CI jobs, without a Docker daemon.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"portside {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", envvar="PORTSIDE_DEBUG", help="Tracebacks and HTTP debug logs."),
    ] = False,
) -> None:
    ctx.ensure_object(Session).debug = debug
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
