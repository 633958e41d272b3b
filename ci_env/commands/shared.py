"""typer annotations for the shared options of `ci_env.options`, for the commands whose
signatures are written by hand (the registry commands)."""

from __future__ import annotations

from ci_env.options import DOCKER_CONFIG, IMPLEMENTATION, INSECURE_REGISTRY, JSON
from ci_env.table import typer_option

DockerConfigOpt = typer_option(DOCKER_CONFIG)
InsecureOpt = typer_option(INSECURE_REGISTRY)
ImplementationOpt = typer_option(IMPLEMENTATION)
JsonOpt = typer_option(JSON, False)
