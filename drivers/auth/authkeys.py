"""`auths` and `credHelpers` keys: which registry (and which repositories) each one serves.

Two kinds of key live side by side in `auths`:

- **host keys**, docker's: `quay.io`, `https://quay.io`, `localhost:5000/v2/`,
  `https://index.docker.io/v1/`. A key with a scheme serves its host whatever its path, as
  docker's `ConvertToHostname` reads it; so does a bare `host`, `host/`, `host/v1/` or
  `host/v2/` (legacy spellings docker wrote or accepted).
- **namespaced keys**, containers/image's (podman, skopeo and buildah write them to
  `REGISTRY_AUTH_FILE`): `quay.io/ns/app` or `quay.io/ns`, with no scheme. One serves that
  repository and every repository below it on `/` boundaries, never the rest of the host.

For a repository the most specific namespaced key wins, then the host key, as
containers/image's `authKeyLookupOrder` has it. Among host keys, as docker's file store: the
key docker itself uses (`https://index.docker.io/v1/` for Docker Hub, else the host), then
any other spelling of the host, in file order. A namespaced key is never asked without a
repository (a credential helper or `/v2/` check names only the host).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from drivers.reference import DOCKER_HUB, DOCKER_HUB_ALIASES

# The key under which docker writes Docker Hub's credentials (and passes to helpers).
DOCKER_HUB_CREDENTIAL_KEY = "https://index.docker.io/v1/"
_SCHEMES = ("https://", "http://")
# Paths after a bare host that docker's old writers used for the whole host.
_HOST_PATHS = frozenset({"", "v1", "v2"})

T = TypeVar("T")


@dataclass(frozen=True)
class AuthKey:
    """What a key serves: a host, and a repository path prefix ("" for the whole host)."""

    host: str
    namespace: str = ""


def normalize_key(key: str) -> str:
    """An `auths`/`credHelpers` key or a registry host, reduced to a comparable host.

    `https://localhost:5000`, `localhost:5000/v2/` and `LOCALHOST:5000` all give
    `localhost:5000`; every Docker Hub alias (`https://index.docker.io/v1/` included) gives
    `docker.io`. This mirrors the docker CLI's `ConvertToHostname`, plus lower-casing.
    """
    return parse_key(key).host


def parse_key(key: str) -> AuthKey:
    text = key.strip()
    lowered = text.lower()
    scheme = next((s for s in _SCHEMES if lowered.startswith(s)), "")
    host, _, path = text[len(scheme) :].partition("/")
    host = host.lower()
    host = DOCKER_HUB if host in DOCKER_HUB_ALIASES else host
    path = path.strip("/").lower()
    if scheme or path in _HOST_PATHS:
        return AuthKey(host)
    return AuthKey(host, path)


def server_url(registry: str) -> str:
    """The key Docker uses for a registry in `auths` and passes to credential helpers."""
    host = normalize_key(registry)
    return DOCKER_HUB_CREDENTIAL_KEY if host == DOCKER_HUB else host


def find(
    entries: Mapping[str, T], registry: str, repository: str | None = None
) -> tuple[str, T] | None:
    """The entry that serves `repository` (a path) on `registry` as (key, entry), or None."""
    host = normalize_key(registry)
    keys = {key: parse_key(key) for key in entries}
    if repository:
        path = repository.strip("/").lower()
        best: tuple[int, str] | None = None
        for key, parsed in keys.items():
            namespace = parsed.namespace
            if parsed.host != host or not namespace or len(namespace) <= (best or (-1, ""))[0]:
                continue
            if path == namespace or path.startswith(namespace + "/"):
                best = (len(namespace), key)
        if best is not None:
            return best[1], entries[best[1]]
    # Docker Hub's own key first, even over the name asked for (`docker.io`), as docker does.
    exact = (registry, server_url(registry))
    for key in reversed(exact) if host == DOCKER_HUB else exact:
        if key in keys and not keys[key].namespace:
            return key, entries[key]
    for key, parsed in keys.items():
        if parsed == AuthKey(host):
            return key, entries[key]
    return None


def host_keys(keys: Mapping[str, object], registry: str) -> list[str]:
    """Every key that serves the whole of `registry` (not its namespaced keys)."""
    wanted = AuthKey(normalize_key(registry))
    return [key for key in keys if parse_key(key) == wanted]
