"""The `github` implementation: GitHub Packages (ghcr.io). No native driver yet: `default`
reads and untags. `--repo-github-token` is declared now, parsed and handed to the driver;
the native driver (Packages REST API at $GITHUB_API_URL) will use it. `portside ci-env`'s
option of the same name (ci_env/cienv_options.py) is the same token, for the ghcr.io login."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from drivers.registries.spec import CredentialOption, RegistrySpec, host_pattern

if TYPE_CHECKING:
    from drivers.credentials import Credential

TOKEN = CredentialOption(
    "--repo-github-token",
    "GitHub token for the Packages API, used by the native github driver "
    "(read:packages, write:packages, delete:packages); else the Docker config's ghcr.io token.",
    secret=True,
)


def _from_docker_config(credential: Credential) -> Mapping[str, str]:
    # The token stored for ghcr.io (`docker login ghcr.io -u USER -p TOKEN`) is its password.
    return {TOKEN.flag: credential.password} if credential.password else {}


SPEC = RegistrySpec(
    "github",
    "GitHub Packages",
    "ghcr.io, docker.pkg.github.com",
    "REST: find the package version by tag, DELETE the version",
    host_pattern(r"^(ghcr\.io|docker\.pkg\.github\.com)$"),
    extra="github",
    sdk=("github",),
    credentials=(TOKEN,),
    from_docker_config=_from_docker_config,
)
