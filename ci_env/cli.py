"""The `portside` entry point: registers every command module, runs the typer app, and
maps errors to exit codes (the only place that does; see `ci_env.errors`)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from ci_env.errors import exit_code_for, format_error

if TYPE_CHECKING:
    from ci_env.lean import CommandSpec


def _command():
    """The click command of the typer app, with every command module registered.

    Imported here rather than at module level so that the commands with a lean path run
    without typer (see `_lean`). Register a command module with ONE import line in this block.
    """
    import typer

    from ci_env.app import app
    from ci_env.commands import cienv as _cienv  # noqa: F401  (registers commands)
    from ci_env.commands import cleanup as _cleanup  # noqa: F401  (registers commands)
    from ci_env.commands import registry as _registry  # noqa: F401  (registers commands)
    from ci_env.commands import transfer as _transfer  # noqa: F401  (registers commands)

    return typer.main.get_command(app)


def _lean_command(name: str) -> CommandSpec | None:
    """The `ci_env.lean` table of a command that can run without typer, else None."""
    if name == "ci-env":
        from ci_env.cienv_options import CI_ENV

        return CI_ENV
    if name in ("pull", "copy"):
        from ci_env.transfer import COPY, PULL

        return PULL if name == "pull" else COPY
    if name == "cleanup":
        from ci_env.cleanup import CLEANUP

        return CLEANUP
    return None


def _lean(args: list[str]) -> bool:
    """Run `portside ci-env|pull|copy|cleanup ...` without building the typer app, when the lean
    parser (generated from the same table as the typer command) understands the arguments;
    False when click must parse them."""
    command = _lean_command(args[0]) if args else None
    if command is None:
        return False
    from ci_env.lean import parse

    parsed = parse(command, args[1:])
    if parsed is None:
        return False
    command.run(parsed)
    return True


def _cienv_arguments(args: list[str]) -> list[str] | None:
    """The arguments after `ci-env` when the command is ci-env (after root flags), else None."""
    for i, arg in enumerate(args):
        if not arg.startswith("-"):
            return args[i + 1 :] if arg == "ci-env" else None
    return None


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map every error to its exit code (DESIGN.md "Exit codes")."""
    debug = os.environ.get("PORTSIDE_DEBUG", "").lower() in ("1", "true", "yes")
    args = sys.argv[1:] if argv is None else argv
    debug = debug or "--debug" in args
    try:
        if not debug and _lean(args):
            sys.exit(0)
        command = _command()
        # Standalone mode lets click report its own usage errors (exit 2) and handle
        # --help and typer.Exit; everything portside raises comes through to us.
        command.main(args=args, prog_name="portside", standalone_mode=True)
    except SystemExit as exc:
        cienv_args = _cienv_arguments(args)
        if cienv_args is not None and exc.code not in (0, None):
            # A usage error: the evaluating shell must stop too (ci_env.cienv_failure). A
            # failed run printed its script already, and reaches us as an exception instead.
            from ci_env.cienv_failure import print_usage_failure

            code = exc.code if isinstance(exc.code, int) else 2
            print_usage_failure(cienv_args, os.environ, code)
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if debug:
            import traceback

            traceback.print_exc()
        sys.stderr.write(format_error(exc))
        sys.exit(exit_code_for(exc))
    sys.exit(0)
