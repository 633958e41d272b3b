"""portside: container-registry work for CI jobs, without a Docker daemon.

`ci_env` is the front door: the typer application (every command) and the ci-env
bootstrapper. Imports flow one way: ci_env -> integrations -> drivers.
"""

from __future__ import annotations

from drivers import __version__

__all__ = ["__version__"]
