"""What a registry implementation declares about itself, once, in its own module.

A `RegistrySpec` is a value: the table (`table.py`), detection, the driver factory
(`connect.py`), `portside registries` and the CLI's `--repo-…` options are all built from
the specs. Spec modules stay light (this module, `re`, `drivers.reference`): the CLI reads
every spec to build its options, and must not load the HTTP stack or an SDK to do so. A
driver lives in its own module, named by `driver` and imported only when it serves a command.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drivers.auth.credentials import Credential
    from drivers.distribution import Ping

# "module:Class", imported when first used, or the callable itself (a test's driver).
Factory = str | Callable[..., Any]


@dataclass(frozen=True)
class CredentialOption:
    """A native driver's credential option: `--repo-…` on the command line, its env twin
    `PORTSIDE_REPO_…`. Options with the same `group` go together: all of them or none."""

    flag: str
    help: str
    secret: bool = False
    group: str = ""
    envvar: str = ""  # empty: PORTSIDE_ + the flag, the twin every option has
    # Other variables read after the twin, in turn (GITHUB_TOKEN, which GitHub Actions sets).
    fallback_env: tuple[str, ...] = ()
    # A setting of the driver (GitHub's pause between mutations), not a credential: setting
    # it does not stop the Docker config's credential from being used.
    setting: bool = False

    def __post_init__(self) -> None:
        if not self.flag.startswith("--repo-"):
            raise ValueError(f"a credential option is --repo-…, not {self.flag}")
        if not self.envvar:
            twin = "PORTSIDE_" + self.flag[2:].replace("-", "_").upper()
            object.__setattr__(self, "envvar", twin)

    @property
    def name(self) -> str:
        """The option as a Python name: `--repo-quay-token` -> `repo_quay_token`."""
        return self.flag[2:].replace("-", "_")


@dataclass(frozen=True)
class RegistrySpec:
    """One registry implementation.

    `sniff` looks at the unauthenticated `/v2/` answer and returns why it shows this
    implementation (None when it does not); it is asked only when the host name does not
    decide. `driver` and `login` are factories: the driver is built as
    `driver(client, options, credentials)`; `login` is a `CredentialSource` asked after the
    Docker config found nothing for the host (ECR: a token from the AWS API). Without a
    driver, `default` serves the implementation under its name. `extra` is the install extra
    that brings the SDK modules `sdk` the driver imports. `from_docker_config` fills
    credential options from the registry's Docker config entry when none is given (see
    `options.resolve_native_credentials`).
    """

    name: str
    title: str
    detected_from: str  # what the host name (or ping) looks like, for humans
    deletes_by: str  # how a tag is deleted, for humans
    host_pattern: re.Pattern[str] | None = None
    sniff: Callable[[Ping], str | None] | None = None
    driver: Factory | None = None
    login: Factory | None = None
    extra: str | None = None  # `aws`, `azure`, `github`, `gitlab`: pip install 'portside[…]'
    sdk: tuple[str, ...] = ()
    # Registry names whose /v2/ API is served by another host (Docker Hub's docker.io is
    # served by registry-1.docker.io). Applied to the host whatever driver is chosen.
    v2_hosts: Mapping[str, str] = field(default_factory=dict)
    credentials: tuple[CredentialOption, ...] = ()
    from_docker_config: Callable[[Credential], Mapping[str, str]] | None = None

    @property
    def native(self) -> bool:
        return self.driver is not None


def host_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def resolve_factory(factory: Factory) -> Callable[..., Any]:
    """The callable a factory names ("module:Class" is imported now)."""
    if callable(factory):
        return factory
    import importlib

    module, _, attribute = factory.partition(":")
    return getattr(importlib.import_module(module), attribute)


def header(ping: Ping, name: str) -> str:
    """A header of the `/v2/` answer, by case-insensitive name; empty when absent."""
    return next((v for k, v in ping.headers.items() if k.lower() == name.lower()), "")


def username_and_password(
    username: CredentialOption, password: CredentialOption
) -> Callable[[Credential], Mapping[str, str]]:
    """`from_docker_config` for a login pair: the entry's username and password, when it has
    both (what `docker login` stores)."""

    def fill(credential: Credential) -> Mapping[str, str]:
        if credential.username and credential.password:
            return {username.flag: credential.username, password.flag: credential.password}
        return {}

    return fill
