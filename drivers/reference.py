"""Image references: parsing and Docker Hub normalisation (pure, no I/O). STUB - being written."""

from __future__ import annotations

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_CREDENTIAL_KEY = "https://index.docker.io/v1/"
# Every host name that means Docker Hub; all normalise to DOCKER_HUB.
DOCKER_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
