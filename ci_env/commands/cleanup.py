"""`portside cleanup`: delete tags by policy, never touching what the policy keeps. Generated
from the table in `ci_env.cleanup`, whose body it runs."""

from __future__ import annotations

from ci_env.app import app
from ci_env.cleanup import CLEANUP
from ci_env.table import typer_command

app.command(CLEANUP.name)(typer_command(CLEANUP))
