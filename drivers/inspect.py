"""`portside inspect`: what an image reference points at, without pulling layers."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from drivers.distribution import DistributionClient
from drivers.errors import ProtocolError
from drivers.manifest import Manifest
from drivers.reference import Reference


@dataclass(frozen=True)
class ImageSummary:
    """One image manifest: its platform, size (config + layers) and creation time."""

    digest: str
    media_type: str
    platform: str | None
    size: int
    created: str | None


@dataclass(frozen=True)
class ImageInfo:
    reference: str
    digest: str
    media_type: str
    is_index: bool
    size: int  # the manifest(s), configs and layers, each counted once
    created: str | None  # the newest `created` among the images
    platforms: list[str] = field(default_factory=list)
    images: list[ImageSummary] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "reference": self.reference,
            "digest": self.digest,
            "mediaType": self.media_type,
            "isIndex": self.is_index,
            "platforms": self.platforms,
            "size": self.size,
            "created": self.created,
            "images": [
                {
                    "digest": i.digest,
                    "mediaType": i.media_type,
                    "platform": i.platform,
                    "size": i.size,
                    "created": i.created,
                }
                for i in self.images
            ],
        }


def inspect_image(client: DistributionClient, reference: Reference, jobs: int = 8) -> ImageInfo:
    top = client.get_manifest(reference.path, reference.identifier)
    if top.is_index:
        children = top.children
        with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(children)))) as pool:
            manifests = list(
                pool.map(lambda d: client.get_manifest(reference.path, d.digest), children)
            )
            images = list(
                pool.map(
                    lambda pair: _summarise(client, reference.path, pair[1], pair[0].platform),
                    zip(children, manifests, strict=True),
                )
            )
        blobs = {b.digest: b.size for m in manifests for b in _blobs(m)}
        size = len(top.body) + sum(len(m.body) for m in manifests) + sum(blobs.values())
    else:
        images = [_summarise(client, reference.path, top, None)]
        size = len(top.body) + sum(b.size for b in _blobs(top))
    created = max((i.created for i in images if i.created), default=None)
    return ImageInfo(
        reference=str(reference),
        digest=top.digest,
        media_type=top.media_type,
        is_index=top.is_index,
        size=size,
        created=created,
        platforms=[i.platform for i in images if i.platform],
        images=images,
    )


def _blobs(manifest: Manifest):
    config = manifest.config
    return ([config] if config else []) + manifest.layers


def _summarise(client: DistributionClient, path: str, manifest: Manifest, platform) -> ImageSummary:
    config_descriptor = manifest.config
    created = None
    platform_text = str(platform) if platform else None
    # Attestation manifests (BuildKit's unknown/unknown) and artifacts have no image config.
    if config_descriptor and "json" in config_descriptor.media_type:
        try:
            config = json.loads(client.read_blob(path, config_descriptor.digest))
        except ValueError:
            raise ProtocolError(f"image config {config_descriptor.digest} is not JSON") from None
        if isinstance(config, dict):
            created = config.get("created") if isinstance(config.get("created"), str) else None
            if platform_text is None and config.get("os") and config.get("architecture"):
                parts = (config["os"], config["architecture"], config.get("variant") or "")
                platform_text = "/".join(p for p in parts if p)
    return ImageSummary(
        digest=manifest.digest,
        media_type=manifest.media_type,
        platform=platform_text,
        size=sum(b.size for b in _blobs(manifest)),
        created=created,
    )
