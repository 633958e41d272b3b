"""The `artifactory` implementation: JFrog Artifactory. Cloud hosts are `*.jfrog.io`; a
self-hosted one shows itself by the `X-Artifactory-*` or `X-JFrog-Version` headers of its
`/v2/` answer. No native driver yet: `default` serves it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drivers.registries.spec import RegistrySpec, host_pattern

if TYPE_CHECKING:
    from drivers.distribution import Ping


def sniff(ping: Ping) -> str | None:
    names = [k.lower() for k in ping.headers]
    if any(k.startswith("x-artifactory-") for k in names) or "x-jfrog-version" in names:
        return "the /v2/ answer carries X-Artifactory headers"
    return None


SPEC = RegistrySpec(
    "artifactory",
    "JFrog Artifactory",
    "*.jfrog.io, or an X-Artifactory-* response header",
    "Artifactory REST API, or Registry v2 where accepted",
    host_pattern(r"\.jfrog\.io$"),
    sniff=sniff,
)
