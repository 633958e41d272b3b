"""The table of registry implementations: every spec, collected from its module.

The one list of implementation modules is `MODULES`; each module declares `SPEC`. The order
is the order of detection (host patterns, then ping sniffing) and of `portside registries`.
`register` adds a spec from elsewhere (a test's throwaway implementation, a plugin): the CLI
builds its `--repo-…` options from whatever is registered when it builds a command.
"""

from __future__ import annotations

import importlib

from drivers.errors import InvalidInput
from drivers.reference import normalize_registry
from drivers.registries.spec import CredentialOption, RegistrySpec

MODULES = (
    "default",
    "ecr",
    "acr",
    "dockerhub",
    "gcr",
    "github",
    "gitlab",
    "harbor",
    "quay",
    "artifactory",
    "nexus",
)

SPECS: dict[str, RegistrySpec] = {}


def register(spec: RegistrySpec) -> RegistrySpec:
    """Add an implementation to the table; its name and its options' flags must be new."""
    if spec.name in SPECS:
        raise ValueError(f"a registry implementation named {spec.name!r} is registered already")
    taken = {option.flag for option in credential_options()}
    clash = [option.flag for option in spec.credentials if option.flag in taken]
    if clash:
        raise ValueError(f"{spec.name}: {', '.join(clash)} belongs to another implementation")
    SPECS[spec.name] = spec
    return spec


def spec_named(name: str) -> RegistrySpec:
    """The implementation called `name`; an unknown name is bad input."""
    try:
        return SPECS[name.strip().lower()]
    except KeyError:
        raise InvalidInput(
            f"unknown registry implementation {name!r}",
            hint="use one of: " + ", ".join(SPECS),
        ) from None


def credential_options() -> tuple[CredentialOption, ...]:
    """Every implementation's credential options, in table order."""
    return tuple(option for spec in SPECS.values() for option in spec.credentials)


def v2_host(registry: str) -> str:
    """The host that serves a registry's /v2/ API: the registry's own name, unless an
    implementation says otherwise (`RegistrySpec.v2_hosts`)."""
    name = normalize_registry(registry)
    for spec in SPECS.values():
        if name in spec.v2_hosts:
            return spec.v2_hosts[name]
    return name


for _module in MODULES:
    register(importlib.import_module(f"drivers.registries.{_module}").SPEC)
