"""The `nexus` implementation: Sonatype Nexus Repository. Its host name says nothing; its
`/v2/` answer carries `Server: Nexus/…`. No native driver yet: `default` serves it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drivers.registries.spec import RegistrySpec, header

if TYPE_CHECKING:
    from drivers.distribution import Ping


def sniff(ping: Ping) -> str | None:
    server = header(ping, "Server")
    return "the /v2/ answer says Server: Nexus" if server.lower().startswith("nexus") else None


SPEC = RegistrySpec(
    "nexus",
    "Sonatype Nexus",
    "a `Server: Nexus` response header",
    "Registry v2 DELETE by digest (listing skips Nexus's null tags)",
    sniff=sniff,
)
