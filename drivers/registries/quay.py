"""The `quay` implementation: quay.io and self-hosted Quay, whose API v1 lists and deletes
tags (quay_driver.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from drivers.registries.spec import CredentialOption, RegistrySpec, host_pattern

if TYPE_CHECKING:
    from drivers.auth.credentials import Credential

TOKEN = CredentialOption(
    "--repo-quay-token",
    "Quay OAuth or robot token for deleting tags; prefer the env twin.",
    secret=True,
)
TOKEN_USERNAME = "$oauthtoken"  # `docker login -u '$oauthtoken' -p TOKEN quay.io`


def _from_docker_config(credential: Credential) -> Mapping[str, str]:
    # Quay's convention for `docker login` with a token: the user `$oauthtoken`.
    if credential.username == TOKEN_USERNAME and credential.password:
        return {TOKEN.flag: credential.password}
    return {}


SPEC = RegistrySpec(
    "quay",
    "Quay",
    "quay.io, quay.*",
    "Quay API DELETE /api/v1/repository/{repo}/tag/{tag}",
    host_pattern(r"^quay\."),
    driver="drivers.registries.quay_driver:QuayDriver",
    credentials=(TOKEN,),
    from_docker_config=_from_docker_config,
)
