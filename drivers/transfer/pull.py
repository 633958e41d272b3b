"""`portside pull`: images from registries into an OCI layout, an oci-archive or a
docker-archive.

Per image: the manifest the reference names is read from the registry (a tag may have
moved), and a plan made for the platform choice, taking the manifests and configs it names
by digest from the layout when it holds them; the blobs are fetched in parallel (skipping
those already in the layout whose digest checks out, see `verified`); the manifests are
stored; `index.json` is updated last (left alone when nothing in it changed). Archives are
built from a temporary layout beside the archive file, then renamed into place.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from drivers.distribution import DistributionClient
from drivers.errors import InvalidInput, NotFound
from drivers.manifest import Descriptor, Manifest
from drivers.reference import Reference, parse_reference
from drivers.registries import RegistryOptions, client_for
from drivers.transfer.events import BytesMoved, ImageDone, ImageStarted, Note, Progress, silent
from drivers.transfer.fetch import BlobTask, Fetcher
from drivers.transfer.layout import TMP_PREFIX, Layout, write_error
from drivers.transfer.plan import RegistrySource, StoredFirst, plan_image
from drivers.transfer.platforms import PlatformChoice

FORMATS = ("oci", "oci-archive", "docker-archive")


@dataclass(frozen=True)
class ImageRequest:
    """One image to pull; `platform` overrides the run's choice (a FROM --platform)."""

    image: str
    platform: str | None = None


@dataclass(frozen=True)
class TransferResult:
    """What one image transfer did; `--json` prints these."""

    source: str
    destination: str
    digest: str
    media_type: str
    platform: str | None  # the chosen platform, "all", or None for a single image
    size: int  # manifests and blobs of the image, in bytes
    blobs_fetched: int  # moved over the network (fetched, uploaded or mounted)
    blobs_skipped: int  # already at the destination
    bytes_fetched: int
    seconds: float
    blobs_mounted: int = 0  # copy on one registry: moved by cross-repository mount
    manifests_fetched: int = 0  # stored or pushed (the index and its children count each)
    manifests_skipped: int = 0  # already at the destination

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "destination": self.destination,
            "digest": self.digest,
            "mediaType": self.media_type,
            "platform": self.platform,
            "size": self.size,
            "manifestsFetched": self.manifests_fetched,
            "manifestsSkipped": self.manifests_skipped,
            "blobsFetched": self.blobs_fetched,
            "blobsSkipped": self.blobs_skipped,
            "blobsMounted": self.blobs_mounted,
            "bytesFetched": self.bytes_fetched,
            "seconds": round(self.seconds, 3),
        }


class Clients:
    """One distribution client per registry host, made on first use."""

    def __init__(self, options: RegistryOptions) -> None:
        self.options = options
        self._clients: dict[str, DistributionClient] = {}

    def __call__(self, registry: str) -> DistributionClient:
        if registry not in self._clients:
            self._clients[registry] = client_for(registry, self.options)
        return self._clients[registry]


def get_top(client: DistributionClient, reference: Reference) -> Manifest:
    """The manifest a reference names; an unknown image says which and how to look."""
    try:
        return client.get_manifest(reference.path, reference.identifier)
    except NotFound as exc:
        exc.hint = exc.hint or (
            f"check the name and tag; `portside tags {reference.repository}` lists its tags"
        )
        raise


def pull(
    images: Sequence[str | ImageRequest],
    dest: str | Path,
    *,
    options: RegistryOptions,
    fmt: str = "oci",
    platform: str | None = None,
    dockerfile: str | None = None,
    build_args: Sequence[str] = (),
    jobs: int | None = None,
    progress: Progress = silent,
) -> list[TransferResult]:
    """Pull the images, and a Dockerfile's base images, into `dest` in the format asked for.

    Bad input (a reference, a platform, the Dockerfile, `dest`) fails before any transfer.
    """
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown --format {fmt!r}", hint="use one of: " + ", ".join(FORMATS))
    requested = [i if isinstance(i, ImageRequest) else ImageRequest(i) for i in images]
    if dockerfile:
        from drivers.transfer.dockerfile import from_dockerfile

        bases = from_dockerfile(dockerfile, build_args, platform)
        requested += [ImageRequest(b.image, b.platform) for b in bases]
    if not requested:
        raise InvalidInput("no image to pull", hint="name an image, or pass --from-dockerfile")
    wanted = [
        (parse_reference(r.image), PlatformChoice.parse(r.platform or platform)) for r in requested
    ]
    if fmt == "docker-archive" and any(choice.every for _, choice in wanted):
        raise InvalidInput(
            "a docker-archive holds single-platform images, so --platform all cannot go there",
            hint="pick one --platform, or use --format oci or oci-archive",
        )
    target = Path(dest)
    if fmt == "oci":
        return _pull_all(Layout.create(target, remember=True), wanted, options, jobs, progress)
    if target.is_dir():
        raise InvalidInput(
            f"--dest {target} is a directory; --format {fmt} writes one archive file",
            hint="give a file name such as image.tar",
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=target.parent))
    except OSError as exc:
        raise write_error(exc, "the archive", target) from None
    try:
        results = _pull_all(Layout.create(staging), wanted, options, jobs, progress)
        from drivers.transfer import archive

        writer = archive.write_oci_archive if fmt == "oci-archive" else archive.write_docker_archive
        writer(Layout.open(staging), target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [_at(r, str(target)) for r in results]


def platform_label(top: Manifest, entry: Descriptor, choice: PlatformChoice) -> str | None:
    """The platform a transfer took: the child chosen, "all" for an index kept whole, the
    platform asked for and checked on a single image, else None (not looked at)."""
    if entry.platform is not None:
        return str(entry.platform)
    if top.is_index:
        return str(choice)
    return str(choice.platform) if choice.explicit and choice.platform else None


def _at(result: TransferResult, destination: str) -> TransferResult:
    return replace(result, destination=destination)


def _pull_all(
    layout: Layout,
    wanted: list[tuple[Reference, PlatformChoice]],
    options: RegistryOptions,
    jobs: int | None,
    progress: Progress,
) -> list[TransferResult]:
    clients = Clients(options)
    with layout, Fetcher(layout, jobs=jobs, progress=progress) as fetcher:
        return [
            pull_image(fetcher, clients, reference, choice, name=str(reference))
            for reference, choice in wanted
        ]


def pull_image(
    fetcher: Fetcher,
    clients: Callable[[str], DistributionClient],
    reference: Reference,
    choice: PlatformChoice,
    *,
    name: str,
    tag: str | None = None,
    foreign: bool = True,
) -> TransferResult:
    """Pull one image into the fetcher's layout, recorded under `name` and `tag`.

    `tag` defaults to the reference's tag, else its digest: what `oci:DIR:TAG` names.
    `foreign=False` leaves foreign layers unfetched (see `plan_image`).
    """
    started = time.monotonic()
    layout, progress = fetcher.layout, fetcher.progress
    client = clients(reference.registry)
    what = str(reference)
    source = StoredFirst(layout, RegistrySource(client, reference.path))
    plan = plan_image(source, get_top(client, reference), choice, what, foreign=foreign)
    progress(ImageStarted(what, len(plan.blobs), plan.total_bytes))
    outcomes = fetcher.fetch_all(
        client, [BlobTask(what, reference.path, blob) for blob in plan.blobs]
    )
    stored = 0
    for manifest in plan.manifests:
        stored += layout.put_bytes(manifest.digest, manifest.body)
        progress(BytesMoved(what, len(manifest.body)))
    tag = tag or reference.tag or reference.digest
    for other in layout.add(plan.entry, name, tag):
        progress(Note(what, f"{other} no longer carries the tag {tag} in {layout.root}"))
    seconds = time.monotonic() - started
    progress(ImageDone(what, plan.top.digest, seconds))
    fetched = [b for b, how in zip(plan.blobs, outcomes, strict=True) if how == "fetched"]
    return TransferResult(
        source=what,
        destination=f"oci:{layout.root}:{tag}",
        digest=plan.top.digest,
        media_type=plan.top.media_type,
        platform=platform_label(plan.top, plan.entry, choice),
        size=plan.total_bytes,
        blobs_fetched=len(fetched),
        blobs_skipped=len(outcomes) - len(fetched),
        bytes_fetched=sum(b.size for b in fetched),
        seconds=seconds,
        manifests_fetched=stored,
        manifests_skipped=len(plan.manifests) - stored,
    )
