"""An in-memory model of one repository, behind the real driver contract.

Not a fake of any SaaS: it is the registry semantics the cleanup engine must be safe
against, as distribution 2.8 has them. A DELETE by digest removes the manifest and every tag
on it; an index's children and a manifest's referrers stay. `tag_delete` switches on a
registry that can remove a single tag (OCI DELETE by tag); without it, `delete_tag` does the
dummy-manifest untag through the model's own push and delete. Every call can be observed
(`hooks`), so tests can change the repository at the worst moment and check invariants at
the moment each deletion is issued.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from drivers.errors import NotFound, RegistryError, Unsupported
from drivers.manifest import OCI_INDEX, OCI_MANIFEST, Descriptor, Manifest, sha256_digest
from drivers.reference import Reference, Repository
from drivers.registries.contract import TagDeletion, TagInfo

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


@dataclass
class ModelRepository:
    repository: Repository
    tag_delete: bool = False
    referrers_api: bool = False
    delete_enabled: bool = True
    manifests: dict[str, Manifest] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)  # digests whose DELETE answers 500
    # Digests whose DELETE removes the manifest but leaves its tags, then answers 404: what
    # distribution 2.8 does when its tag lookup meets a concurrent tag write (500), and the
    # transport's retry finds the manifest gone.
    lossy: set[str] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)
    hooks: list[Callable[[str, str], None]] = field(default_factory=list)
    _count: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- building --------------------------------------------------------------------------

    def _put(self, doc: dict, media_type: str) -> str:
        body = json.dumps(doc, sort_keys=True).encode()
        digest = sha256_digest(body)
        self.manifests[digest] = Manifest(media_type, digest, body)
        return digest

    def _descriptor(self, digest: str) -> dict:
        manifest = self.manifests[digest]
        return {"mediaType": manifest.media_type, "digest": digest, "size": len(manifest.body)}

    def add_image(self, created: datetime | None, subject: str | None = None) -> str:
        self._count += 1
        config: dict = {"architecture": "amd64", "os": "linux", "n": self._count}
        if created is not None:
            config["created"] = created.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        blob = json.dumps(config).encode()
        self.blobs[sha256_digest(blob)] = blob
        doc: dict = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(blob), "size": len(blob)},
            "layers": [],
        }
        if subject is not None:
            doc["subject"] = self._descriptor(subject)
        return self._put(doc, OCI_MANIFEST)

    def add_index(self, children: list[str]) -> str:
        self._count += 1
        doc = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [self._descriptor(c) for c in children],
            "annotations": {"n": str(self._count)},
        }
        return self._put(doc, OCI_INDEX)

    def children(self, digest: str) -> list[str]:
        manifest = self.manifests.get(digest)
        return [c.digest for c in manifest.children] if manifest else []

    def referrers_of(self, digest: str) -> list[str]:
        return [d for d, m in self.manifests.items() if (s := m.subject) and s.digest == digest]

    def _event(self, name: str, arg: str) -> None:
        self.calls.append((name, arg))
        for hook in list(self.hooks):
            hook(name, arg)


class ModelDriver:
    """The `Driver` contract (with every capability cleanup uses) over a ModelRepository."""

    name: ClassVar[str] = "model"

    def __init__(self, model: ModelRepository) -> None:
        self.model = model

    def __getattribute__(self, name: str):
        # The executor calls from several threads; the model answers one call at a time.
        attr = object.__getattribute__(self, name)
        if name.startswith("_") or not callable(attr):
            return attr
        lock = object.__getattribute__(self, "model").lock

        def locked(*args, **kwargs):
            with lock:
                return attr(*args, **kwargs)

        return locked

    def list_tags(self, repository: Repository) -> list[TagInfo]:
        self.model._event("list_tags", "")
        return [TagInfo(t) for t in sorted(self.model.tags)]

    def _lookup(self, reference: str) -> Manifest:
        digest = reference if reference.startswith("sha256:") else self.model.tags.get(reference)
        if digest is None or digest not in self.model.manifests:
            raise NotFound(f"manifest {reference}: not found", status=404)
        return self.model.manifests[digest]

    def resolve(self, reference: Reference) -> Descriptor:
        self.model._event("resolve", reference.identifier)
        return self._lookup(reference.identifier).descriptor()

    def get_manifest(self, repository: Repository, reference: str) -> Manifest:
        self.model._event("get_manifest", reference)
        return self._lookup(reference)

    def read_blob(self, repository: Repository, digest: str) -> bytes:
        if digest not in self.model.blobs:
            raise NotFound(f"blob {digest}: not found", status=404)
        return self.model.blobs[digest]

    def list_referrers(self, repository: Repository, digest: str) -> list[Descriptor] | None:
        if not self.model.referrers_api:
            return None
        return [self.model.manifests[d].descriptor() for d in self.model.referrers_of(digest)]

    def check_deletion(self, repository: Repository) -> None:
        if not self.model.delete_enabled:
            raise Unsupported("deletion is disabled in the registry's configuration", status=405)

    def delete_manifest(self, repository: Repository, digest: str) -> None:
        self.model._event("delete_manifest", digest)
        if not self.model.delete_enabled:
            raise Unsupported("deletion is disabled", status=405)
        if digest in self.model.failing:
            raise RegistryError(f"delete {digest}: registry answered HTTP 500", status=500)
        if digest not in self.model.manifests:
            raise NotFound(f"manifest {digest}: not found", status=404)
        del self.model.manifests[digest]
        if digest in self.model.lossy:
            self.model.lossy.discard(digest)
            raise NotFound(f"manifest {digest}: not found (after a lost untag)", status=404)
        for tag in [t for t, d in self.model.tags.items() if d == digest]:
            del self.model.tags[tag]
        self.model._event("deleted", digest)

    def delete_tag(self, repository: Repository, tag: str) -> None:
        self.model._event("delete_tag", tag)
        if tag not in self.model.tags:
            raise NotFound(f"tag {tag}: not found", status=404)
        if self.model.tags[tag] in self.model.failing:
            raise RegistryError(f"delete tag {tag}: registry answered HTTP 500", status=500)
        if self.model.tag_delete:
            del self.model.tags[tag]
            self.model._event("deleted", tag)
            return
        # The dummy-manifest untag, as the default driver does it.
        dummy = self.model.add_image(None)
        self.model.tags[tag] = dummy
        self.delete_manifest(repository, dummy)


class BulkModelDriver(ModelDriver):
    """A registry that deletes many tags in one call (as ECR and GitLab do), each tag only."""

    def delete_tags(self, repository: Repository, tags: list[str]) -> list[TagDeletion]:
        self.model._event("delete_tags", ",".join(tags))
        answers = []
        for tag in tags:
            if tag not in self.model.tags:
                answers.append(TagDeletion(tag, "tag not found"))
            elif self.model.tags[tag] in self.model.failing:
                answers.append(TagDeletion(tag, "refused"))
            else:
                del self.model.tags[tag]
                answers.append(TagDeletion(tag))
        self.model._event("deleted", ",".join(tags))
        return answers
