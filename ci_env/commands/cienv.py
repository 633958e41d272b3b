"""`portside ci-env`: the typer command, generated from `ci_env.cienv_options.CI_ENV`.

The options are written down once, in that table, because the entry point parses
`portside ci-env ...` without typer (for start-up time) and both parsers must agree.
"""

from __future__ import annotations

from ci_env.app import app
from ci_env.cienv_options import CI_ENV
from ci_env.lean import typer_command

app.command(CI_ENV.name)(typer_command(CI_ENV))
