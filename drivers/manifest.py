"""Manifest media types, descriptors and platforms (pure, no I/O).

Manifests stay as the exact bytes the registry sent: the digest is a hash over those
bytes (sha256, or the algorithm of the digest it was fetched by), so they are never
re-serialised. This module only reads fields out of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from drivers.digest import digest_of
from drivers.errors import InvalidInput, ProtocolError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
# Sent as Accept on every manifest request: without it, registries may down-convert to
# schema1 or pick one platform out of an index.
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST))


def sha256_digest(data: bytes) -> str:
    return digest_of(data, "sha256")


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    @classmethod
    def parse(cls, text: str) -> Platform:
        """`os/arch[/variant]`, as `docker pull --platform` takes it."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidInput(
                f"invalid platform {text!r}", hint="write it as os/arch[/variant], e.g. linux/arm64"
            )
        return cls(*parts)

    @classmethod
    def from_json(cls, doc: Any) -> Platform | None:
        if not isinstance(doc, dict) or not doc.get("os") or not doc.get("architecture"):
            return None
        return cls(str(doc["os"]), str(doc["architecture"]), str(doc.get("variant") or ""))


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: dict[str, str] = field(default_factory=dict, compare=False)

    @classmethod
    def from_json(cls, doc: Any) -> Descriptor:
        if not isinstance(doc, dict) or not isinstance(doc.get("digest"), str):
            raise ProtocolError("a manifest holds a descriptor without a digest")
        return cls(
            media_type=str(doc.get("mediaType") or ""),
            digest=doc["digest"],
            size=int(doc.get("size") or 0),
            platform=Platform.from_json(doc.get("platform")),
            annotations=dict(doc.get("annotations") or {}),
        )


@dataclass(frozen=True)
class Manifest:
    """A manifest or index exactly as the registry served it."""

    media_type: str
    digest: str
    body: bytes = field(repr=False)

    @property
    def document(self) -> dict[str, Any]:
        try:
            doc = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise ProtocolError(f"manifest {self.digest} is not valid JSON") from None
        if not isinstance(doc, dict):
            raise ProtocolError(f"manifest {self.digest} is not a JSON object")
        return doc

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def children(self) -> list[Descriptor]:
        """The manifests an index lists (empty for an image manifest)."""
        if not self.is_index:
            return []
        return [Descriptor.from_json(d) for d in self.document.get("manifests") or []]

    @property
    def config(self) -> Descriptor | None:
        doc = self.document
        return Descriptor.from_json(doc["config"]) if "config" in doc else None

    @property
    def layers(self) -> list[Descriptor]:
        return [Descriptor.from_json(d) for d in self.document.get("layers") or []]

    @property
    def subject(self) -> Descriptor | None:
        doc = self.document
        return (
            Descriptor.from_json(doc["subject"]) if isinstance(doc.get("subject"), dict) else None
        )

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.body))


def media_type_of(body: bytes, header: str | None) -> str:
    """The manifest's media type: the `mediaType` field, else the Content-Type header."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and isinstance(doc.get("mediaType"), str):
            return doc["mediaType"]
        if isinstance(doc, dict) and "manifests" in doc:
            return OCI_INDEX  # OCI allows mediaType to be absent
    except (ValueError, UnicodeDecodeError):
        pass
    return (header or "").split(";")[0].strip()
