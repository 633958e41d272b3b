"""`portside ci-env`: the typer command, generated from `ci_env.cienv_options.OPTIONS`.

The options are written down once, in that table, because the entry point parses
`portside ci-env ...` without typer (for start-up time) and both parsers must agree. The command
itself only turns the parsed values into `CiEnvArgs` and calls `ci_env.cienv.run`.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, Literal

import typer

from ci_env.app import app
from ci_env.cienv_options import OPTIONS, PLATFORM_CHOICES, CiEnvArgs, OptionSpec

_DEFAULTS = CiEnvArgs()


def _annotation(spec: OptionSpec) -> Any:
    if spec.kind in ("flag", "switch"):
        kind: Any = bool
    elif spec.kind == "values":
        kind = list[str] | None
    elif spec.choices:
        kind = Literal[spec.choices]  # typer turns a Literal into a click Choice
    else:
        kind = str | None
    decls = "/".join([*spec.flags[-1:], *spec.off_flags]) if spec.kind == "switch" else None
    option = typer.Option(
        *([decls] if decls else spec.flags),
        envvar=spec.envvar,
        help=spec.help,
        **({"metavar": spec.metavar} if spec.metavar else {}),
        show_default=spec.kind in ("switch",) or bool(spec.choices),
    )
    return Annotated[kind, option]


def _signature() -> inspect.Signature:
    platform = inspect.Parameter(
        "platform",
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        default=None,
        annotation=Annotated[
            Literal[PLATFORM_CHOICES] | None,
            typer.Argument(help="gitlab or github; detected from GITLAB_CI / GITHUB_ACTIONS."),
        ],
    )
    options = [
        inspect.Parameter(
            spec.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None if spec.kind == "values" else getattr(_DEFAULTS, spec.name),
            annotation=_annotation(spec),
        )
        for spec in OPTIONS
    ]
    return inspect.Signature([platform, *options])


def ci_env(**values: Any) -> None:
    from ci_env.cienv import run

    values["insecure_registry"] = tuple(values.get("insecure_registry") or ())
    run(CiEnvArgs(**values))


ci_env.__signature__ = _signature()  # type: ignore[attr-defined]
ci_env.__doc__ = """Give this CI job its own Docker config, and print the exports that use it.

GitLab: eval "$(portside ci-env gitlab)" in before_script, and
portside ci-env --cleanup in after_script. GitHub Actions: portside ci-env github
(also writes $GITHUB_ENV). See docs/ci-env.md.
"""
app.command("ci-env")(ci_env)
