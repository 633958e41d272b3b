"""Which implementation serves a registry, and why.

Order: the override (`--repo-container-registry`); hosts the CI platform names (GitLab's
`$CI_REGISTRY`, passed in as `known_hosts`); the specs' host-name patterns; then, where none
of these decides, the unauthenticated `/v2/` answer, which each spec's `sniff` reads (Harbor's
token realm, Artifactory's headers, Nexus's `Server:`). `connect.connect` makes that one
request only when it is needed; `portside registries --detect` reports the same `Detection`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drivers.reference import normalize_registry, split_host_port
from drivers.registries.table import SPECS, spec_named

if TYPE_CHECKING:
    from drivers.distribution import Ping


@dataclass(frozen=True)
class Detection:
    name: str
    reason: str
    # False when nothing but the fallback chose `default`: a look at the /v2/ answer may.
    decided: bool = True


def detect(
    registry: str,
    *,
    ping: Ping | None = None,
    override: str | None = None,
    known_hosts: Mapping[str, str] | None = None,
) -> Detection:
    """Choose the implementation for a registry host, and say why."""
    if override:
        return Detection(spec_named(override).name, "forced by --repo-container-registry")
    host = normalize_registry(registry)
    for known, name in (known_hosts or {}).items():
        if normalize_registry(known) == host:
            return Detection(name, f"{known} is the CI platform's registry")
    bare = split_host_port(host)[0]
    for spec in SPECS.values():
        pattern = spec.host_pattern
        if pattern is not None and (pattern.search(bare) or pattern.search(registry)):
            return Detection(spec.name, f"host name matches {spec.detected_from}")
    if ping is None:
        return Detection("default", "no other implementation matched", decided=False)
    for spec in SPECS.values():
        reason = spec.sniff(ping) if spec.sniff else None
        if reason:
            return Detection(spec.name, reason)
    return Detection("default", "neither the host name nor the /v2/ answer matched another")
