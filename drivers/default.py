"""The `default` driver: any registry that speaks the OCI distribution API.

Deleting one tag without touching the others that share its digest is the hard part.
The fallback chain, chosen by exception type:

1. OCI DELETE by tag (distribution-spec 1.1). Distribution 2.8 refuses it with 400
   DIGEST_INVALID, which the client raises as Unsupported.
2. The dummy-manifest untag: push a unique, tiny manifest to the tag, which moves the tag
   off the real image, then delete the tiny manifest by digest. Only that tag goes.

DELETE by digest of the real manifest takes every tag on it; only the cleanup engine,
which knows which tags are kept, may choose it (`delete_manifest`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import ClassVar

from drivers.contract import TagInfo
from drivers.distribution import DistributionClient
from drivers.errors import Unsupported
from drivers.manifest import OCI_MANIFEST, Descriptor, sha256_digest
from drivers.reference import Reference, Repository

# The empty JSON object, the OCI "empty descriptor" config (image-spec 1.1).
_EMPTY_CONFIG = b"{}"
_EMPTY_CONFIG_TYPE = "application/vnd.oci.empty.v1+json"


class DefaultDriver:
    name: ClassVar[str] = "default"

    def __init__(self, client: DistributionClient, *, name: str | None = None) -> None:
        self.client = client
        if name:
            self.name = name  # an implementation that still reads through `default`

    def list_tags(self, repository: Repository) -> list[TagInfo]:
        return [TagInfo(tag) for tag in self.client.list_tags(repository.path)]

    def resolve(self, reference: Reference) -> Descriptor:
        return self.client.head_manifest(reference.path, reference.identifier)

    def list_repositories(self, prefix: str = "") -> Iterator[str]:
        for path in self.client.catalog():
            if path.startswith(prefix):
                yield path

    def delete_manifest(self, repository: Repository, digest: str) -> None:
        self.client.delete_manifest(repository.path, digest)

    def delete_tag(self, repository: Repository, tag: str) -> None:
        try:
            self.client.delete_tag(repository.path, tag)
        except Unsupported:
            self.untag_with_dummy(repository, tag)

    def untag_with_dummy(self, repository: Repository, tag: str) -> None:
        """Move `tag` onto a unique throwaway manifest, then delete that manifest."""
        path = repository.path
        if not self.client.blob_exists(path, sha256_digest(_EMPTY_CONFIG)):
            self.client.upload_blob(path, _EMPTY_CONFIG, sha256_digest(_EMPTY_CONFIG))
        body = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {
                    "mediaType": _EMPTY_CONFIG_TYPE,
                    "digest": sha256_digest(_EMPTY_CONFIG),
                    "size": len(_EMPTY_CONFIG),
                },
                "layers": [],
                # A random annotation makes the digest unique, so deleting it can never
                # take another tag with it.
                "annotations": {"io.portside.untag": os.urandom(16).hex()},
            },
            separators=(",", ":"),
        ).encode()
        digest = self.client.put_manifest(path, tag, body, OCI_MANIFEST)
        self.client.delete_manifest(path, digest)
