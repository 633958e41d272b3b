"""`portside ci-env`: the typer command, generated from `ci_env.cienv_options.CI_ENV`, the
table that ci-env's failure script reads too."""

from __future__ import annotations

from ci_env.app import app
from ci_env.cienv_options import CI_ENV
from ci_env.table import typer_command

app.command(CI_ENV.name)(typer_command(CI_ENV))
