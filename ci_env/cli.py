"""The `portside` entry point: registers every command module, runs the typer app, and
maps errors to exit codes (the only place that does; see `ci_env.errors`)."""

from __future__ import annotations

import os
import sys

import typer

from ci_env.app import app
from ci_env.commands import registry as _registry  # noqa: F401  (registers commands)
from ci_env.errors import exit_code_for, format_error


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map every error to its exit code (DESIGN.md "Exit codes")."""
    command = typer.main.get_command(app)
    debug = os.environ.get("PORTSIDE_DEBUG", "").lower() in ("1", "true", "yes")
    args = sys.argv[1:] if argv is None else argv
    debug = debug or "--debug" in args
    try:
        # Standalone mode lets click report its own usage errors (exit 2) and handle
        # --help and typer.Exit; everything portside raises comes through to us.
        command.main(args=args, prog_name="portside", standalone_mode=True)
    except SystemExit:
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
