"""Transfer commands: pull (into an OCI layout or an archive) and copy, generated from the
tables in `ci_env.transfer`, whose bodies they run."""

from __future__ import annotations

from ci_env.app import app
from ci_env.table import typer_command
from ci_env.transfer import COPY, PULL

for _command in (PULL, COPY):
    app.command(_command.name)(typer_command(_command))
