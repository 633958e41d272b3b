"""What the native drivers share: reading through the Registry v2 API.

A native driver (Harbor, Docker Hub, …) lists and deletes tags through its registry's own
API, but manifests, blobs and referrers are plain Registry v2 everywhere. It keeps a
`DefaultDriver` for those in `self.registry` (composition, not inheritance: the default
driver's deletion must never be reached by accident) and gets these four methods from here.
"""

from __future__ import annotations

from drivers.default import DefaultDriver
from drivers.manifest import Descriptor, Manifest
from drivers.reference import Reference, Repository


class ReadsThroughDefault:
    registry: DefaultDriver

    def resolve(self, reference: Reference) -> Descriptor:
        return self.registry.resolve(reference)

    def get_manifest(self, repository: Repository, reference: str) -> Manifest:
        return self.registry.get_manifest(repository, reference)

    def read_blob(self, repository: Repository, digest: str) -> bytes:
        return self.registry.read_blob(repository, digest)

    def list_referrers(self, repository: Repository, digest: str) -> list[Descriptor] | None:
        return self.registry.list_referrers(repository, digest)
