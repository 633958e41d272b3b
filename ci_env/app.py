"""The typer application and its root options. Command modules in `ci_env.commands`
register themselves on `app`; `ci_env.cli` imports them all and runs it."""

from __future__ import annotations

from typing import Annotated

import typer

from ci_env import __version__

app = typer.Typer(
    name="portside",
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
    ctx.obj = {"debug": debug}
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")
