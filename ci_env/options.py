"""Options shared by the registry commands, and the `RegistryOptions` they build.

Every option has an environment twin, `PORTSIDE_<OPTION>`; the option wins. The options are
`ci_env.table` entries, so that the tables of `pull`, `copy` and `cleanup` can hold them; the
typer annotations of the commands written by hand are in `ci_env.commands.shared`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from ci_env.table import OptionSpec

DOCKER_CONFIG = OptionSpec(
    "docker_config",
    ("--docker-config",),
    "PORTSIDE_DOCKER_CONFIG",
    "Docker config directory (else $DOCKER_CONFIG, else ~/.docker).",
)
INSECURE_REGISTRY = OptionSpec(
    "insecure_registry",
    ("--insecure-registry",),
    "PORTSIDE_INSECURE_REGISTRY",
    "Allow plain HTTP and unverified TLS for this host (repeatable). "
    "Loopback hosts are always allowed plain HTTP.",
    kind="values",
)
IMPLEMENTATION = OptionSpec(
    "repo_container_registry",
    ("--repo-container-registry",),
    "PORTSIDE_REPO_CONTAINER_REGISTRY",
    "Force the registry implementation (see `portside registries`).",
)
JSON = OptionSpec(
    "json_output", ("--json",), "PORTSIDE_JSON", "Machine-readable output.", kind="flag"
)


def credential_options() -> tuple[OptionSpec, ...]:
    """The `--repo-…` options of every registry spec registered now (drivers/registries), as
    table entries. typer takes them from the command line only: their env
    twins, and every other source, are read by `resolve_native_credentials`, the one place of
    their precedence, so the help names each twin itself."""
    from drivers.registries.table import credential_options as declared

    return tuple(
        OptionSpec(option.name, (option.flag,), "", f"{option.help} Env: {option.envvar}.")
        for option in declared()
    )


def given_credentials(values: Mapping[str, object]) -> dict[str, str]:
    """The credential options set on the command line, by flag, out of a command's parsed
    values (by option name)."""
    from drivers.registries.table import credential_options as declared

    return {o.flag: str(values[o.name]) for o in declared() if values.get(o.name)}


def registry_options(
    docker_config: str | None,
    insecure: Iterable[str] | None,
    implementation: str | None,
    credential_options: Mapping[str, str] | None = None,
):
    """The `RegistryOptions` for what the user passed; an unknown implementation is bad input.
    `credential_options`: the native drivers' options given on the command line, by flag."""
    from drivers.registries.options import RegistryOptions
    from drivers.registries.table import spec_named
    from integrations.platform import registry_hints

    if implementation:
        spec_named(implementation)  # an unknown name is bad input before any network I/O
    hosts = frozenset(h for value in insecure or [] for h in value.replace(",", " ").split())
    return RegistryOptions(
        docker_config=docker_config,
        insecure_registries=hosts,
        implementation=implementation,
        known_hosts=registry_hints(os.environ),
        credential_options=dict(credential_options or {}),
    )
