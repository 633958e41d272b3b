"""typer annotations for the shared options of `ci_env.options`, for the commands whose
signatures are written by hand (the registry commands); and the commands whose `--repo-…`
credential options come from the registry specs."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ci_env.options import (
    DOCKER_CONFIG,
    IMPLEMENTATION,
    INSECURE_REGISTRY,
    JSON,
    credential_options,
    given_credentials,
)
from ci_env.table import typer_option

DockerConfigOpt = typer_option(DOCKER_CONFIG)
InsecureOpt = typer_option(INSECURE_REGISTRY)
ImplementationOpt = typer_option(IMPLEMENTATION)
JsonOpt = typer_option(JSON, False)


class LiveCommand:
    """A typer command whose signature is made when typer builds the app (it reads
    `__signature__` then), not when the module is imported: the `--repo-…` options of the
    registry specs registered at that moment are in it (a spec registered later, by a plugin
    or a test, too). `build` returns the command function of the moment."""

    def __init__(self, name: str, doc: str, build: Callable[[], Callable[..., None]]) -> None:
        self.__name__ = name
        self.__doc__ = doc
        self.__annotations__: dict[str, Any] = {}  # typer's get_type_hints reads them
        self._build = build

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self._build())

    def __call__(self, **values: Any) -> None:
        self._build()(**values)


def with_credential_options(func: Callable[..., None]) -> LiveCommand:
    """A hand-written command `func(..., credentials)` with the specs' `--repo-…` options
    added; `credentials` gets the ones given on the command line, by flag."""

    def build() -> Callable[..., None]:
        own = inspect.signature(func, eval_str=True)
        parameters = [p for p in own.parameters.values() if p.name != "credentials"]
        for spec in credential_options():
            kind = inspect.Parameter.KEYWORD_ONLY
            parameters.append(
                inspect.Parameter(spec.name, kind, default=None, annotation=typer_option(spec))
            )
        names = {spec.name for spec in credential_options()}

        def run(**values: Any) -> None:
            given = given_credentials(values)
            func(**{k: v for k, v in values.items() if k not in names}, credentials=given)

        run.__signature__ = own.replace(parameters=parameters)  # type: ignore[attr-defined]
        return run

    return LiveCommand(func.__name__, func.__doc__ or "", build)
