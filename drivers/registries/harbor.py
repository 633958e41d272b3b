"""The `harbor` implementation: Harbor, whose API v2.0 removes one tag and leaves the
artifact (harbor_driver.py). Known by its host name, or by its token service's realm,
`…/service/token`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drivers.registries.spec import (
    CredentialOption,
    RegistrySpec,
    header,
    host_pattern,
    username_and_password,
)

USERNAME = CredentialOption(
    "--repo-harbor-username",
    "Harbor user or robot account, for the Harbor API (with the password).",
    group="login",
)
PASSWORD = CredentialOption(
    "--repo-harbor-password",
    "Harbor password or robot secret; prefer the env twin.",
    secret=True,
    group="login",
)

if TYPE_CHECKING:
    from drivers.distribution import Ping


def sniff(ping: Ping) -> str | None:
    from drivers.auth.challenge import parse_challenge  # after a ping: the HTTP stack is loaded

    challenge = parse_challenge(header(ping, "WWW-Authenticate"))
    if challenge and challenge.realm.rstrip("/").endswith("/service/token"):
        return "token realm ends in /service/token"
    return None


SPEC = RegistrySpec(
    "harbor",
    "Harbor",
    "harbor.*, or a token realm ending in /service/token",
    "Harbor API v2.0 DELETE …/artifacts/{ref}/tags/{tag}",
    host_pattern(r"^harbor\."),
    sniff=sniff,
    driver="drivers.registries.harbor_driver:HarborDriver",
    credentials=(USERNAME, PASSWORD),
    from_docker_config=username_and_password(USERNAME, PASSWORD),
)
