"""Options shared by the registry commands, and the `RegistryOptions` they build.

Every option has an environment twin, `PORTSIDE_<OPTION>`; the option wins.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

DockerConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--docker-config",
        envvar="PORTSIDE_DOCKER_CONFIG",
        help="Docker config directory (else $DOCKER_CONFIG, else ~/.docker).",
        show_default=False,
    ),
]
InsecureOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--insecure-registry",
        envvar="PORTSIDE_INSECURE_REGISTRY",
        help="Allow plain HTTP and unverified TLS for this host (repeatable). "
        "Loopback hosts are always allowed plain HTTP.",
        show_default=False,
    ),
]
ImplementationOpt = Annotated[
    str | None,
    typer.Option(
        "--repo-container-registry",
        envvar="PORTSIDE_REPO_CONTAINER_REGISTRY",
        help="Force the registry implementation (see `portside registries`).",
        show_default=False,
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", envvar="PORTSIDE_JSON", help="Machine-readable output.")
]


def registry_options(
    docker_config: str | None, insecure: list[str] | None, implementation: str | None
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
    )
