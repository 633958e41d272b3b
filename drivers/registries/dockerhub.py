"""The `dockerhub` implementation: Docker Hub, whose tags are listed and deleted through the
Hub API (dockerhub_driver.py). Its registry names (docker.io and aliases) are served by
registry-1.docker.io: `v2_hosts`, the one place of that rewrite, applied to every Docker Hub
reference whatever driver serves it (pull, copy and inspect too)."""

from __future__ import annotations

import re

from drivers.reference import DOCKER_HUB, DOCKER_HUB_ALIASES
from drivers.registries.spec import (
    CredentialOption,
    RegistrySpec,
    host_pattern,
    username_and_password,
)

TOKEN = CredentialOption(
    "--repo-docker-hub-token",
    "Docker Hub API token (JWT) for deleting tags; prefer the env twin.",
    secret=True,
)
USERNAME = CredentialOption(
    "--repo-docker-hub-username",
    "Docker Hub user, to log in to the Hub API (with the password).",
    group="login",
)
PASSWORD = CredentialOption(
    "--repo-docker-hub-password",
    "Docker Hub password or personal access token; prefer the env twin.",
    secret=True,
    group="login",
)


SPEC = RegistrySpec(
    "dockerhub",
    "Docker Hub",
    "docker.io, index.docker.io, registry-1.docker.io, registry.hub.docker.com",
    "Hub API DELETE /v2/repositories/{ns}/{repo}/tags/{tag}/",
    host_pattern("^(" + "|".join(re.escape(h) for h in sorted(DOCKER_HUB_ALIASES)) + ")$"),
    driver="drivers.registries.dockerhub_driver:DockerHubDriver",
    v2_hosts={DOCKER_HUB: "registry-1.docker.io"},
    credentials=(TOKEN, USERNAME, PASSWORD),
    # What `docker login` stored for Docker Hub: the account and its password (or token).
    from_docker_config=username_and_password(USERNAME, PASSWORD),
)
