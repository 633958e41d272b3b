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


def registry_options(
    docker_config: str | None,
    insecure: Iterable[str] | None,
    implementation: str | None,
    native_credentials: Mapping[str, str | None] | None = None,
):
    """The `RegistryOptions` for what the user passed; an unknown implementation is bad input."""
    from drivers.registries import RegistryOptions
    from drivers.registries import implementation as check_name
    from integrations.platform import registry_hints

    if implementation:
        check_name(implementation)  # an unknown name is bad input before any network I/O
    hosts = frozenset(h for value in insecure or [] for h in value.replace(",", " ").split())
    return RegistryOptions(
        docker_config=docker_config,
        insecure_registries=hosts,
        implementation=implementation,
        known_hosts=registry_hints(os.environ),
        native_credentials={k: v for k, v in (native_credentials or {}).items() if v},
    )
