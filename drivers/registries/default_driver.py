"""The `default` driver: any registry that speaks the OCI distribution API.

Deleting one tag without touching the others that share its digest is the hard part.
The fallback chain, chosen by exception type:

1. OCI DELETE by tag (distribution-spec 1.1). A registry that does not accept it answers
   405 or UNSUPPORTED (Unsupported), or, as distribution 2.8 does, 400 DIGEST_INVALID: it
   reads the tag as a malformed digest (`refuses_delete_by_tag`).
2. The dummy-manifest untag: push a unique, tiny manifest to the tag, which moves the tag
   off the real image, then delete the tiny manifest by digest. Only that tag goes.

DELETE by digest of the real manifest takes every tag on it; only the cleanup engine,
which knows which tags are kept, may choose it (`delete_manifest`).

Step 2 moves the tag before anything is deleted, so it must never run where deleting by
digest cannot follow: with `storage.delete.enabled` off, distribution 2.8 answers 405 to
every DELETE, and the tag would be left on the throwaway manifest. `check_deletion`
finds that out first with a DELETE of a digest that does not exist (404 when deletion
works, 405 when it is disabled, 401/403 without the delete permission).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from typing import ClassVar

from drivers.auth.challenge import repository_scope
from drivers.distribution import DistributionClient
from drivers.errors import Forbidden, NotFound, RegistryError, Unauthorized, Unsupported
from drivers.http.transport import check_status, is_html
from drivers.manifest import OCI_INDEX, OCI_MANIFEST, Descriptor, Manifest, sha256_digest
from drivers.reference import Reference, Repository
from drivers.registries.contract import TagInfo

# The empty JSON object, the OCI "empty descriptor" config (image-spec 1.1).
_EMPTY_CONFIG = b"{}"
_EMPTY_CONFIG_TYPE = "application/vnd.oci.empty.v1+json"
_UNTAG_ATTEMPTS = 3
# What a registry that does not accept DELETE by tag may answer with 400 (distribution 2.8:
# DIGEST_INVALID, since it parses the tag as a digest).
_TAG_DELETE_REFUSALS = frozenset({"DIGEST_INVALID", "UNSUPPORTED"})
# A digest no registry holds: the deletion probe asks to delete it.
_PROBE_DIGEST = sha256_digest(b"portside: is deleting allowed here?")


class DefaultDriver:
    name: ClassVar[str] = "default"

    def __init__(self, client: DistributionClient, *_: object, name: str | None = None) -> None:
        # The options and native credentials every driver is built with: the Registry v2
        # behaviour needs nothing from them beyond what `client` already holds.
        self.client = client
        if name:
            self.name = name  # an implementation that still reads through `default`
        # What this registry turned out to accept; races between threads only cost a request.
        self._tag_delete_refused = False
        self._deletion_checked: set[str] = set()
        self._configs_uploaded: set[str] = set()
        self._lock = threading.Lock()

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

    def get_manifest(self, repository: Repository, reference: str) -> Manifest:
        return self.client.get_manifest(repository.path, reference)

    def read_blob(self, repository: Repository, digest: str) -> bytes:
        return self.client.read_blob(repository.path, digest)

    def list_referrers(self, repository: Repository, digest: str) -> list[Descriptor] | None:
        """`GET /v2/<name>/referrers/<digest>`; None where the registry has no such API.

        A registry with the API never answers 404 there (distribution-spec 1.1), so a 404,
        or an answer that is not an index, means the API is missing (distribution 2.8).
        """
        response = self.client.transport.request(
            "GET",
            f"/v2/{repository.path}/referrers/{digest}",
            scopes=(repository_scope(repository.path, "pull"),),
            headers={"Accept": OCI_INDEX},
        )
        if response.status_code in (404, 405) or is_html(response):
            return None
        check_status(response, 200, transport=self.client.transport, what="referrers")
        if not response.headers.get("Content-Type", "").startswith(OCI_INDEX):
            return None
        manifest = Manifest(OCI_INDEX, sha256_digest(response.content), response.content)
        return manifest.children

    def check_deletion(self, repository: Repository) -> None:
        """Raise what a DELETE here would meet, by deleting a digest that does not exist."""
        if repository.path in self._deletion_checked:
            return
        where = f"{repository.registry}/{repository.path}"
        try:
            self.client.delete_manifest(repository.path, _PROBE_DIGEST)
        except NotFound:
            pass
        except Unsupported as error:
            raise error.recast(
                Unsupported,
                f"{repository.registry} refuses to delete: deletion is disabled in the "
                "registry's configuration (storage.delete.enabled is false); nothing was deleted",
                hint="set storage.delete.enabled: true (REGISTRY_STORAGE_DELETE_ENABLED=true) "
                "in the registry's config and restart it",
            ) from None
        except (Unauthorized, Forbidden) as error:
            if self.client.transport.credential.is_anonymous:
                raise
            raise error.recast(
                Forbidden,
                f"the credentials from {self.client.transport.credential.source} may read "
                f"{where} but not delete from it; nothing was deleted",
                hint="use credentials whose token grants the `delete` action on the repository",
            ) from None
        self._deletion_checked.add(repository.path)

    def delete_tag(self, repository: Repository, tag: str) -> None:
        if not self._tag_delete_refused:
            try:
                self.client.delete_tag(repository.path, tag)
                return
            except RegistryError as error:
                if not refuses_delete_by_tag(error):
                    raise
                self._tag_delete_refused = True
        # The dummy untag moves the tag first: make sure the delete that follows can work.
        self.check_deletion(repository)
        self.untag_with_dummy(repository, tag)

    def untag_with_dummy(self, repository: Repository, tag: str) -> None:
        """Move `tag` onto a unique throwaway manifest, then delete that manifest.

        Distribution 2.8 deletes the manifest first and then looks up the tags on it; that
        lookup reads every tag's link file and fails (500, "invalid checksum digest format")
        when another request is rewriting one at that moment. The manifest is then gone but
        the tag still names it, and the transport's retry answers 404. So a 404 for our own
        throwaway manifest means: push it again under the tag and delete it again.
        """
        path = repository.path
        for attempt in range(_UNTAG_ATTEMPTS):
            digest = self.push_dummy(repository, tag)
            try:
                self.client.delete_manifest(path, digest)
                return
            except NotFound:
                if attempt + 1 == _UNTAG_ATTEMPTS:
                    raise

    def push_dummy(self, repository: Repository, tag: str) -> str:
        """Push a unique, tiny manifest to `tag` (which moves the tag off its image); its
        digest."""
        self._ensure_empty_config(repository.path)
        return self.client.put_manifest(repository.path, tag, _dummy_manifest(), OCI_MANIFEST)

    def _ensure_empty_config(self, path: str) -> None:
        # Once per repository, by one thread: distribution 2.8 can lose the repository link
        # of a blob that two uploads commit at the same time (MANIFEST_BLOB_UNKNOWN after).
        with self._lock:
            if path in self._configs_uploaded:
                return
            if not self.client.blob_exists(path, sha256_digest(_EMPTY_CONFIG)):
                self.client.upload_blob(path, _EMPTY_CONFIG, sha256_digest(_EMPTY_CONFIG))
            self._configs_uploaded.add(path)


def refuses_delete_by_tag(error: RegistryError) -> bool:
    """Whether an answer to OCI DELETE by tag means the registry does not accept it, so
    that the next means of the fallback chain is tried."""
    if isinstance(error, Unsupported):
        return True
    # A plain 400: not an HTML page (NotARegistry), which is a wrong host, not a refusal.
    return (
        type(error) is RegistryError and error.status == 400 and error.codes <= _TAG_DELETE_REFUSALS
    )


def _dummy_manifest() -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": _EMPTY_CONFIG_TYPE,
                "digest": sha256_digest(_EMPTY_CONFIG),
                "size": len(_EMPTY_CONFIG),
            },
            "layers": [],
            # A random annotation makes the digest unique, so deleting it can never take
            # another tag with it.
            "annotations": {"io.portside.untag": os.urandom(16).hex()},
        },
        separators=(",", ":"),
    ).encode()
