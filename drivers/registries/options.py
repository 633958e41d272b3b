"""How to reach registries (`RegistryOptions`), and the native drivers' credentials: the
typed value a driver receives (`NativeCredentials`) and the one function that decides where
each value comes from (`resolve_native_credentials`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from drivers.errors import InvalidInput
from drivers.reference import normalize_registry

if TYPE_CHECKING:
    from drivers.auth.credentials import Credential, CredentialSource
    from drivers.registries.spec import CredentialOption, RegistrySpec


@dataclass(frozen=True)
class RegistryOptions:
    """How to reach registries: where credentials come from, which hosts are insecure."""

    docker_config: str | None = None
    insecure_registries: frozenset[str] = frozenset()
    implementation: str | None = None  # the --repo-container-registry override
    known_hosts: Mapping[str, str] = field(default_factory=dict)
    credentials: CredentialSource | None = None  # replaces the default keychain (tests, login)
    # The native drivers' credential options given on the command line, by flag
    # ({"--repo-quay-token": ...}); their env twins are read by resolve_native_credentials.
    credential_options: Mapping[str, str] = field(default_factory=dict, repr=False)

    def is_insecure(self, registry: str) -> bool:
        host = normalize_registry(registry)
        return any(normalize_registry(h) == host for h in self.insecure_registries)


@dataclass(frozen=True, repr=False)
class NativeCredentials:
    """The values of one implementation's credential options (by flag), each with where it
    came from (by flag). Frozen; its repr shows which options are set and from where, never a
    secret value."""

    options: tuple[CredentialOption, ...] = ()
    values: Mapping[str, str] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = MappingProxyType({k: v for k, v in self.values.items() if v})
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))

    def __getitem__(self, option: CredentialOption) -> str:
        """The option's value; empty when it is not set."""
        return self.values.get(option.flag, "")

    def source(self, *options: CredentialOption) -> str:
        """Where the options' values came from: `--repo-x`, `$PORTSIDE_REPO_X`, or the Docker
        config entry."""
        sources = dict.fromkeys(self.sources[o.flag] for o in options if o.flag in self.sources)
        return " and ".join(sources)

    def __bool__(self) -> bool:
        return bool(self.values)

    def __repr__(self) -> str:
        shown = []
        for option in self.options:
            if option.flag in self.values:
                value = "***" if option.secret else repr(self.values[option.flag])
                shown.append(f"{option.flag}={value} from {self.sources[option.flag]}")
        return f"NativeCredentials({', '.join(shown)})"


def resolve_native_credentials(
    spec: RegistrySpec,
    given: Mapping[str, str],
    docker: Credential,
    environ: Mapping[str, str] | None = None,
) -> NativeCredentials:
    """The values of `spec`'s credential options. The one place of their precedence:

    1. the option on the command line (`given`, by flag);
    2. else its env twin (`PORTSIDE_REPO_…`, in `environ`, default `os.environ`), then the
       option's `fallback_env` variables in turn;
    3. else, when neither gave any of the spec's options (settings aside), the registry's
       credential from the Docker config (`docker`, already resolved for the host), as far
       as the spec's `from_docker_config` maps it to options (a login's username and
       password, Quay's `$oauthtoken` password);
    4. else nothing: the driver goes anonymous (and says how to give credentials when it
       needs them).

    Empty values are unset, as click treats an empty env twin. Options of one `group` go
    together: one of them set and another empty is bad input (exit 2).
    """
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for option in spec.credentials:
        if given.get(option.flag):
            values[option.flag], sources[option.flag] = given[option.flag], option.flag
        else:
            name = next((n for n in (option.envvar, *option.fallback_env) if env.get(n)), "")
            if name:
                values[option.flag], sources[option.flag] = env[name], f"${name}"
    _check_groups(spec.credentials, values)
    settings = {o.flag for o in spec.credentials if o.setting}
    if not set(values) - settings and spec.from_docker_config is not None:
        for flag, value in spec.from_docker_config(docker).items():
            if value:
                values[flag], sources[flag] = value, docker.source
    return NativeCredentials(spec.credentials, values, sources)


def _check_groups(options: tuple[CredentialOption, ...], values: Mapping[str, str]) -> None:
    groups: dict[str, list[CredentialOption]] = {}
    for option in options:
        if option.group:
            groups.setdefault(option.group, []).append(option)
    for members in groups.values():
        missing = [o for o in members if o.flag not in values]
        if missing and len(missing) < len(members):
            both = " and ".join(f"{o.flag} (${o.envvar})" for o in members)
            raise InvalidInput(
                f"{both} go together; {', '.join(o.flag for o in missing)} is empty",
                hint="set both, or neither" if len(members) == 2 else "set all, or none",
            )
