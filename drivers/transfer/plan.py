"""What one image transfer needs: the manifests to store and the blobs they name.

A plan is made before any blob moves, from a source of manifests (a registry repository
or a layout). With one platform, an index gives way to its matching child; with
`--platform all`, the index and every child (attestation manifests and nested indexes too)
are kept as they are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

from drivers.digest import matches
from drivers.distribution import DistributionClient
from drivers.errors import DigestMismatch
from drivers.manifest import Descriptor, Manifest, media_type_of
from drivers.transfer.layout import Layout
from drivers.transfer.platforms import PlatformChoice, check_image, select


class ManifestSource(Protocol):
    """Where manifests and small blobs (configs) are read from."""

    def manifest(self, descriptor: Descriptor) -> Manifest: ...

    def small_blob(self, digest: str) -> bytes: ...


@dataclass(frozen=True)
class RegistrySource:
    client: DistributionClient
    path: str

    def manifest(self, descriptor: Descriptor) -> Manifest:
        return self.client.get_manifest(self.path, descriptor.digest)

    def small_blob(self, digest: str) -> bytes:
        return self.client.read_blob(self.path, digest)


@dataclass(frozen=True)
class LayoutSource:
    layout: Layout

    def manifest(self, descriptor: Descriptor) -> Manifest:
        body = self.small_blob(descriptor.digest)
        return Manifest(media_type_of(body, descriptor.media_type), descriptor.digest, body)

    def small_blob(self, digest: str) -> bytes:
        body = self.layout.read_bytes(digest)
        if not matches(body, digest):
            raise DigestMismatch(
                f"blob {digest} in {self.layout.root} does not match its digest",
                hint="the layout is corrupt; pull the image into it again",
            )
        return body


@dataclass(frozen=True)
class StoredFirst:
    """A source read through a layout: what the layout already holds is not asked for again.

    Manifests and configs are named by digest, so a stored copy whose content hashes to it
    is the same bytes; one that does not (or none) is read from `source`. A tag is not
    content-addressed, so the manifest a tag names always comes from the registry.
    """

    layout: Layout
    source: ManifestSource

    def manifest(self, descriptor: Descriptor) -> Manifest:
        body = self._stored(descriptor.digest, descriptor.size)
        if body is None:
            return self.source.manifest(descriptor)
        return Manifest(media_type_of(body, descriptor.media_type), descriptor.digest, body)

    def small_blob(self, digest: str) -> bytes:
        body = self._stored(digest)
        return self.source.small_blob(digest) if body is None else body

    def _stored(self, digest: str, size: int | None = None) -> bytes | None:
        try:
            with self.layout.blob_path(digest).open("rb") as file:
                if size is not None and os.fstat(file.fileno()).st_size != size:
                    return None  # not what the descriptor says: never read a layer whole
                body = file.read()
        except OSError:
            return None
        return body if matches(body, digest) else None


@dataclass(frozen=True)
class ImagePlan:
    top: Manifest  # what the tag will point at: the chosen child, or the index for `all`
    entry: Descriptor  # `top` as a descriptor, with the platform it was chosen for
    manifests: tuple[Manifest, ...]  # every manifest to store, children before parents
    blobs: tuple[Descriptor, ...]  # configs and layers, each digest once

    @property
    def total_bytes(self) -> int:
        return sum(b.size for b in self.blobs) + sum(len(m.body) for m in self.manifests)


def plan_image(
    source: ManifestSource,
    top: Manifest,
    choice: PlatformChoice,
    what: str,
    *,
    foreign: bool = True,
) -> ImagePlan:
    """The plan for `top` and `choice`; `foreign=False` leaves foreign layers out of `blobs`
    (a copy leaves them at their URLs; a pull still fetches them, from a registry that
    holds them)."""
    entry = top.descriptor()
    if top.is_index and choice.platform is not None:
        while top.is_index:
            child = select(top, choice.platform, what)
            top = source.manifest(child)
            entry = Descriptor(top.media_type, top.digest, len(top.body), child.platform)
    elif not top.is_index and choice.explicit and top.config is not None:
        config = top.config
        if "json" in config.media_type:
            check_image(source.small_blob(config.digest), choice, what)
    manifests: list[Manifest] = []
    blobs: dict[str, Descriptor] = {}
    _collect(source, top, manifests, blobs)
    kept = tuple(b for b in blobs.values() if foreign or _distributable(b))
    return ImagePlan(top, entry, tuple(manifests), kept)


def _collect(
    source: ManifestSource,
    manifest: Manifest,
    manifests: list[Manifest],
    blobs: dict[str, Descriptor],
) -> None:
    if manifest.is_index:
        for child in manifest.children:
            if all(m.digest != child.digest for m in manifests):
                _collect(source, source.manifest(child), manifests, blobs)
    else:
        for blob in _blobs_of(manifest):
            blobs.setdefault(blob.digest, blob)
    manifests.append(manifest)


def _blobs_of(manifest: Manifest) -> list[Descriptor]:
    config = manifest.config
    return ([config] if config else []) + manifest.layers


# Layers a registry does not hold: clients fetch them from the descriptor's `urls` (Windows base
# layers). Copies leave them there, as `docker push` ("Skipped foreign layer") and crane do.
_FOREIGN = (
    "application/vnd.docker.image.rootfs.foreign.",
    "application/vnd.oci.image.layer.nondistributable.",
)


def _distributable(blob: Descriptor) -> bool:
    return not blob.media_type.startswith(_FOREIGN)


def accounted_for(plan: ImagePlan, present: set[str]) -> tuple[set[str], set[str]]:
    """The manifests and blobs that the manifests in `present` (digests a destination has)
    account for: each of those, everything below it and every blob they name.

    A registry stores a manifest only once what it names is there (distribution checks
    blobs and children on every PUT), so what it has need not be asked about again; crane
    and regctl skip a manifest the destination has in the same way.
    """
    by_digest = {m.digest: m for m in plan.manifests}
    manifests: set[str] = set()
    blobs: set[str] = set()
    pending = [digest for digest in present if digest in by_digest]
    while pending:
        digest = pending.pop()
        if digest in manifests:
            continue
        manifests.add(digest)
        manifest = by_digest[digest]
        pending += [c.digest for c in manifest.children if c.digest in by_digest]
        blobs.update(b.digest for b in _blobs_of(manifest))
    return manifests, blobs
