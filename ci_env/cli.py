"""The `portside` entry point: runs the typer app, the only parser of portside's command
lines, and maps errors to exit codes (the only place that does; see `ci_env.errors`)."""

from __future__ import annotations

import os
import sys

from ci_env.errors import exit_code_for, format_error


def _command():
    """The click command of the typer app. Its group builds a command when it is looked up
    (`ci_env.app.CommandGroup`); register a command in `ci_env.commands.COMMANDS`."""
    import typer

    from ci_env.app import app

    return typer.main.get_command(app)


def _cienv_arguments(args: list[str]) -> list[str] | None:
    """The arguments after `ci-env` when the command is ci-env, else None. The root options
    take no value, so the first word that is not an option names the command."""
    for i, arg in enumerate(args):
        if not arg.startswith("-"):
            return args[i + 1 :] if arg == "ci-env" else None
    return None


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map every error to its exit code (DESIGN.md "Exit codes")."""
    from ci_env.app import Session

    args = sys.argv[1:] if argv is None else argv
    session = Session()
    try:
        # Standalone mode lets click report its own usage errors (exit 2) and handle
        # --help, typer.Exit and Ctrl-C (130); everything portside raises comes through to us.
        _command().main(args=args, prog_name="portside", standalone_mode=True, obj=session)
    except SystemExit as exc:
        cienv_args = _cienv_arguments(args)
        if exc.code == 2 and cienv_args is not None:
            # click's usage errors exit 2: the evaluating shell must stop too
            # (ci_env.cienv_failure). A run that failed (an error, Ctrl-C: 130) printed its
            # script already, in ci_env.cienv_options._run.
            from ci_env.cienv_failure import print_usage_failure

            print_usage_failure(cienv_args, os.environ, exc.code)
        raise
    except Exception as exc:
        if session.debug:
            import traceback

            traceback.print_exc()
        sys.stderr.write(format_error(exc))
        sys.exit(exit_code_for(exc))
    sys.exit(0)
