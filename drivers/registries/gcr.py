"""The `gcr` implementation: Google Container Registry and Artifact Registry, which delete
through Registry v2, so `default` serves them."""

from __future__ import annotations

from drivers.registries.spec import RegistrySpec, host_pattern

SPEC = RegistrySpec(
    "gcr",
    "Google Container Registry / Artifact Registry",
    "gcr.io, *.gcr.io, *-docker.pkg.dev",
    "Registry v2 DELETE by tag, then the digest when untagged",
    host_pattern(r"(^|\.)gcr\.io$|-docker\.pkg\.dev$"),
)
