"""`portside copy SRC DST`: registry -> registry, layout -> registry, registry -> layout.

A multi-platform image is copied whole by default (the index, every child, attestations and
nested indexes too), as `crane copy` and `regctl image copy` do: a promoted image keeps the
digest it was tested, pinned and signed under. `platform` picks one image instead.

Manifests are pushed as the exact bytes read, so digests are preserved. A manifest the
destination already has (HEAD by digest; the tag first) is not pushed again, and neither
are its children and blobs. Other blobs the destination has are skipped after a HEAD; on
the same registry they are mounted from the source repository (one POST, no data);
otherwise they stream from the source straight into the upload, never held whole in
memory. Children go before the index, and the tag is written last.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from drivers.distribution import DistributionClient
from drivers.errors import DigestMismatch, InvalidInput, NotFound
from drivers.manifest import Descriptor, Manifest
from drivers.reference import Reference
from drivers.registries import RegistryOptions
from drivers.transfer.endpoints import LayoutEndpoint, find_entry, parse_endpoint
from drivers.transfer.events import BlobDone, BytesMoved, ImageDone, ImageStarted, Progress, silent
from drivers.transfer.fetch import CHUNK, Fetcher
from drivers.transfer.layout import Layout
from drivers.transfer.plan import (
    ImagePlan,
    LayoutSource,
    ManifestSource,
    RegistrySource,
    accounted_for,
    plan_image,
)
from drivers.transfer.platforms import ALL, PlatformChoice
from drivers.transfer.pull import Clients, TransferResult, get_top, platform_label, pull_image
from drivers.transfer.workers import Workers


def copy(
    source: str,
    destination: str,
    *,
    options: RegistryOptions,
    platform: str | None = None,
    jobs: int | None = None,
    progress: Progress = silent,
) -> TransferResult:
    src, dst = parse_endpoint(source), parse_endpoint(destination)
    choice = PlatformChoice.parse(platform or ALL)
    clients = Clients(options)
    if isinstance(src, LayoutEndpoint) and isinstance(dst, LayoutEndpoint):
        raise InvalidInput(
            "copy between two layouts is not supported",
            hint="copy one end through a registry, or copy the directory itself",
        )
    if isinstance(dst, LayoutEndpoint):
        assert isinstance(src, Reference)
        src = src if src.tag or src.digest else src.with_tag("latest")
        tag = dst.tag or src.tag or src.digest
        layout = Layout.create(dst.root, remember=True)
        with layout, Fetcher(layout, jobs=jobs, progress=progress) as fetcher:
            result = pull_image(
                fetcher,
                clients,
                src,
                choice,
                name=f"{src.repository}:{tag}",
                tag=tag,
                foreign=False,
            )
        return replace(result, destination=str(LayoutEndpoint(dst.root, tag)))
    if isinstance(src, LayoutEndpoint):
        layout = Layout.open(src.root)
        source_of: ManifestSource = LayoutSource(layout)
        top = source_of.manifest(find_entry(layout, src))
        reader: Callable[[Descriptor], _Stream] = lambda d: _FileStream(layout, d)  # noqa: E731
        mount_from = None
        src_tag = src.tag
    else:
        src = src if src.tag or src.digest else src.with_tag("latest")
        client = clients(src.registry)
        source_of = RegistrySource(client, src.path)
        top = get_top(client, src)
        reader = lambda d: _RegistryStream(client, src.path, d)  # noqa: E731
        mount_from = src.path if src.registry == dst.registry else None
        src_tag = src.tag
    if not dst.tag and not dst.digest and src_tag:
        dst = dst.with_tag(src_tag)  # else pushed by digest, once the platform is chosen
    with Workers(jobs) as workers:
        return _to_registry(
            _Copy(str(src), source_of, reader, mount_from, clients(dst.registry), dst, progress),
            top,
            choice,
            workers,
        )


@dataclass(frozen=True)
class _Copy:
    what: str
    source: ManifestSource
    reader: Callable[[Descriptor], _Stream]
    mount_from: str | None  # the source repository, when it is on the destination registry
    client: DistributionClient
    destination: Reference
    progress: Progress


def _to_registry(
    job: _Copy, top: Manifest, choice: PlatformChoice, workers: Workers
) -> TransferResult:
    started = time.monotonic()
    plan = plan_image(job.source, top, choice, job.what, foreign=False)
    destination = job.destination
    if not destination.tag and not destination.digest:
        destination = destination.with_digest(plan.top.digest)
    tagged, present = _present(job.client, destination, plan, workers)
    have_manifests, have_blobs = accounted_for(plan, present)
    job.progress(ImageStarted(job.what, len(plan.blobs), plan.total_bytes))
    outcomes = workers.run(
        [lambda b=blob: _copy_blob(job, b, workers, b.digest in have_blobs) for blob in plan.blobs]
    )
    path = destination.path
    pushed = 0
    for manifest in plan.manifests[:-1]:  # children, by digest, before the index naming them
        if manifest.digest not in have_manifests:
            job.client.put_manifest(path, manifest.digest, manifest.body, manifest.media_type)
            pushed += 1
        job.progress(BytesMoved(job.what, len(manifest.body)))
    if not tagged:
        job.client.put_manifest(path, destination.identifier, plan.top.body, plan.top.media_type)
        pushed += 1
    job.progress(BytesMoved(job.what, len(plan.top.body)))
    seconds = time.monotonic() - started
    job.progress(ImageDone(job.what, plan.top.digest, seconds))
    moved = [b for b, how in zip(plan.blobs, outcomes, strict=True) if how != "present"]
    return TransferResult(
        source=job.what,
        destination=str(destination),
        digest=plan.top.digest,
        media_type=plan.top.media_type,
        platform=platform_label(plan.top, plan.entry, choice),
        size=plan.total_bytes,
        blobs_fetched=len(moved),
        blobs_skipped=len(outcomes) - len(moved),
        bytes_fetched=sum(
            b.size for b, how in zip(plan.blobs, outcomes, strict=True) if how == "uploaded"
        ),
        seconds=seconds,
        blobs_mounted=sum(1 for how in outcomes if how == "mounted"),
        manifests_fetched=pushed,
        manifests_skipped=len(plan.manifests) - pushed,
    )


def _present(
    client: DistributionClient, destination: Reference, plan: ImagePlan, workers: Workers
) -> tuple[bool, set[str]]:
    """Whether `destination` already names the image, and which of the plan's manifests the
    destination has. Copying again what is there costs a HEAD or two."""
    path, top = destination.path, plan.top.digest

    def digest_at(reference: str) -> str:
        try:
            return client.head_manifest(path, reference).digest
        except NotFound:
            return ""

    tagged = digest_at(destination.identifier) == top
    if tagged or (destination.identifier != top and digest_at(top) == top):
        return tagged, {top}
    children = plan.manifests[:-1]
    found = workers.run([lambda m=m: digest_at(m.digest) for m in children])
    return False, {
        m.digest for m, digest in zip(children, found, strict=True) if digest == m.digest
    }


def _copy_blob(job: _Copy, blob: Descriptor, workers: Workers, known: bool) -> str:
    """Copy one blob unless the destination has it: `known` (a manifest there names it), or
    a HEAD says so."""
    path = job.destination.path
    if known or job.client.blob_exists(path, blob.digest):
        how = "present"
    else:
        stream = job.reader(blob)
        stream.check = workers.check
        stream.on_chunk = lambda count: job.progress(BytesMoved(job.what, count))
        try:
            job.client.upload_blob(
                path, stream, blob.digest, size=blob.size, mount_from=job.mount_from
            )
        finally:
            stream.close()
        how = "uploaded" if stream.opened else "mounted"
    if how != "uploaded":  # an upload reports its bytes as they go
        job.progress(BytesMoved(job.what, blob.size))
    job.progress(BlobDone(job.what, blob.digest, blob.size, how))
    return how


class _Stream:
    """A blob body for an upload, opened only when the upload iterates it, so a mount that
    succeeds never reads it. It has a length (the upload sends Content-Length) and no
    `read`, so the HTTP client sends our 1 MiB chunks as they are. The destination
    registry checks the digest when the upload completes."""

    def __init__(self, descriptor: Descriptor) -> None:
        self.descriptor = descriptor
        self.opened = False
        self.check: Callable[[], None] = lambda: None
        self.on_chunk: Callable[[int], None] = lambda count: None
        self._close: Callable[[], None] = lambda: None

    def __len__(self) -> int:
        return self.descriptor.size

    def __iter__(self) -> Iterator[bytes]:
        self.opened = True
        sent = 0
        for chunk in self._chunks():
            self.check()
            self.on_chunk(len(chunk))
            sent += len(chunk)
            if sent > self.descriptor.size:
                break
            yield chunk
        if sent != self.descriptor.size:
            raise DigestMismatch(
                f"blob {self.descriptor.digest}: the source has {sent} bytes, "
                f"its descriptor says {self.descriptor.size}",
                hint="the source copy of this blob is corrupt or incomplete",
            )

    def _chunks(self) -> Iterator[bytes]:
        raise NotImplementedError

    def close(self) -> None:
        self._close()


class _RegistryStream(_Stream):
    def __init__(self, client: DistributionClient, path: str, descriptor: Descriptor) -> None:
        super().__init__(descriptor)
        self.client, self.path = client, path

    def _chunks(self) -> Iterator[bytes]:
        with self.client.open_blob(self.path, self.descriptor.digest) as blob:
            self._close = blob.response.close
            yield from blob.response.iter_content(CHUNK)


class _FileStream(_Stream):
    def __init__(self, layout: Layout, descriptor: Descriptor) -> None:
        super().__init__(descriptor)
        self.layout = layout

    def _chunks(self) -> Iterator[bytes]:
        path = self.layout.blob_path(self.descriptor.digest)
        try:
            file = path.open("rb", buffering=0)
        except FileNotFoundError:
            raise InvalidInput(
                f"{self.layout.root} lacks blob {self.descriptor.digest}",
                hint="the layout is incomplete; pull the image into it again",
            ) from None
        self._close = file.close
        with file:
            while chunk := file.read(CHUNK):
                yield chunk
