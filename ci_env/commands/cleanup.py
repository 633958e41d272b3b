"""`portside cleanup`: delete tags by policy, never touching what the policy keeps. Generated
from the table in `ci_env.cleanup`, whose body it runs. The command is generated when typer
builds it, so its `--repo-…` options are those of the registry specs registered then."""

from __future__ import annotations

from ci_env.app import app
from ci_env.cleanup import CLEANUP
from ci_env.commands.shared import LiveCommand
from ci_env.table import typer_command

app.command(CLEANUP.name)(LiveCommand(CLEANUP.name, CLEANUP.doc, lambda: typer_command(CLEANUP)))
