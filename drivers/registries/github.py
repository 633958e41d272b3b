"""The `github` implementation: GitHub Packages (ghcr.io), whose REST Packages API (at
$GITHUB_API_URL) lists and deletes package versions (github_driver.py). The token is
`--repo-github-token`, else $PORTSIDE_REPO_GITHUB_TOKEN, else $GITHUB_TOKEN (what GitHub
Actions gives a job), else the Docker config's ghcr.io password. `portside ci-env`'s option
of the same name (ci_env/cienv_options.py) is the same token, for the ghcr.io login.

No SDK: PyGithub's Requester would bypass the Transport (auth, proxies, TLS, retries), so
the driver speaks REST itself and the Action installs no extra for ghcr.io."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from drivers.registries.spec import CredentialOption, RegistrySpec, host_pattern

if TYPE_CHECKING:
    from drivers.auth.credentials import Credential

TOKEN = CredentialOption(
    "--repo-github-token",
    "GitHub token for the Packages API, used by the native github driver "
    "(read:packages, write:packages, delete:packages); else $GITHUB_TOKEN, else the Docker "
    "config's ghcr.io token.",
    secret=True,
    fallback_env=("GITHUB_TOKEN",),
)
PAUSE = CredentialOption(
    "--repo-github-pause",
    "Seconds between the native github driver's mutating requests (DELETE, untag push), "
    "which it sends one at a time (default 1, as GitHub advises against its secondary rate "
    "limit; 0 against a local fake).",
    setting=True,
)
SCOPES_HINT = (
    "the token needs read:packages and delete:packages (write:packages to untag a tag that "
    "shares its image with a kept one); in GitHub Actions grant `permissions: packages: "
    "write` and give the repository Admin access to the package"
)


def _from_docker_config(credential: Credential) -> Mapping[str, str]:
    # The token stored for ghcr.io (`docker login ghcr.io -u USER -p TOKEN`) is its password.
    return {TOKEN.flag: credential.password} if credential.password else {}


SPEC = RegistrySpec(
    "github",
    "GitHub Packages",
    "ghcr.io, docker.pkg.github.com",
    "Packages API DELETE of the package version; a shared tag: tiny-manifest push, then DELETE",
    host_pattern(r"^(ghcr\.io|docker\.pkg\.github\.com)$"),
    driver="drivers.registries.github_driver:GithubDriver",
    credentials=(TOKEN, PAUSE),
    from_docker_config=_from_docker_config,
)
