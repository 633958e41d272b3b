"""Test images built in memory: bytes, digests and descriptors, no network.

Every builder is deterministic in its seed, so a digest is stable across runs, and different
seeds give different digests. Layers are real gzipped tar archives and configs carry real
`diff_ids`, so skopeo and podman can read what the tests push.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import random
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urljoin

import requests

if TYPE_CHECKING:
    from .tokenserver import TokenServer

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)

_EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Blob:
    """A config or layer. One with `urls` is a foreign (non-distributable) layer: registries
    do not hold it, pushes skip it, as `docker push` does ("Skipped foreign layer")."""

    media_type: str
    data: bytes
    urls: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        return sha256_digest(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self) -> dict[str, Any]:
        descriptor: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.urls:
            descriptor["urls"] = list(self.urls)
        return descriptor


@dataclass(frozen=True)
class Image:
    """A manifest (with its config and layers) or an index (with its child images)."""

    media_type: str
    manifest_bytes: bytes
    config: Blob | None = None
    layers: tuple[Blob, ...] = ()
    children: tuple[Image, ...] = ()
    platform: dict[str, str] | None = None
    created: str | None = None
    annotations: dict[str, str] | None = None  # on the descriptor an index lists it by

    @property
    def digest(self) -> str:
        return sha256_digest(self.manifest_bytes)

    @property
    def size(self) -> int:
        return len(self.manifest_bytes)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def blobs(self) -> tuple[Blob, ...]:
        """Config then layers; empty for an index (its blobs belong to `children`)."""
        return ((self.config,) if self.config else ()) + self.layers

    def descriptor(self) -> dict[str, Any]:
        descriptor: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        }
        if self.platform:
            descriptor["platform"] = dict(self.platform)
        if self.annotations:
            descriptor["annotations"] = dict(self.annotations)
        return descriptor

    def walk(self) -> tuple[Image, ...]:
        """This image and every manifest below it, children before parents, each once."""
        seen: dict[str, Image] = {}
        for child in self.children:
            for image in child.walk():
                seen.setdefault(image.digest, image)
        seen.setdefault(self.digest, self)
        return tuple(seen.values())

    def all_blobs(self) -> tuple[Blob, ...]:
        """Every config and layer this image or its children name, each once."""
        found: dict[str, Blob] = {}
        for image in self.walk():
            for blob in image.blobs:
                found.setdefault(blob.digest, blob)
        return tuple(found.values())


def _dumps(value: object) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True).encode()


def _rng(seed: object) -> random.Random:
    return random.Random(hashlib.sha256(repr(seed).encode()).digest())


def _platform(spec: str) -> dict[str, str]:
    parts = spec.split("/")
    platform = {"os": parts[0], "architecture": parts[1]}
    if len(parts) > 2:
        platform["variant"] = parts[2]
    return platform


def _layer(rng: random.Random, name: str, size: int, mtime: int) -> tuple[bytes, bytes]:
    """(uncompressed tar, gzipped tar) holding one small random file."""
    payload = rng.randbytes(size)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(payload), mtime, 0o644
        info.uname = info.gname = "root"
        tar.addfile(info, io.BytesIO(payload))
    raw = buffer.getvalue()
    return raw, gzip.compress(raw, mtime=0)


def _image(
    seed: object,
    *,
    oci: bool,
    layers: int,
    layer_size: int,
    platform: str,
    created: dt.datetime | None,
) -> Image:
    rng = _rng(seed)
    when = created or _EPOCH + dt.timedelta(seconds=rng.randrange(3 * 365 * 86400))
    created_text = when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    mtime = int(when.timestamp())
    layer_type = OCI_LAYER if oci else DOCKER_LAYER
    blobs: list[Blob] = []
    diff_ids: list[str] = []
    for index in range(layers):
        raw, compressed = _layer(rng, f"portside/layer-{index}.bin", layer_size, mtime)
        blobs.append(Blob(layer_type, compressed))
        diff_ids.append(sha256_digest(raw))
    target = _platform(platform)
    config_doc: dict[str, Any] = {
        **target,
        "created": created_text,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Labels": {"org.portside.test.seed": str(seed)},
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": created_text, "created_by": f"portside test layer {i}"}
            for i in range(layers)
        ],
    }
    config = Blob(OCI_CONFIG if oci else DOCKER_CONFIG, _dumps(config_doc))
    media_type = OCI_MANIFEST if oci else DOCKER_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": config.descriptor(),
        "layers": [b.descriptor() for b in blobs],
    }
    return Image(
        media_type=media_type,
        manifest_bytes=_dumps(manifest),
        config=config,
        layers=tuple(blobs),
        platform=target,
        created=created_text,
    )


def schema2_image(
    seed: object,
    layers: int = 2,
    layer_size: int = 256,
    *,
    platform: str = "linux/amd64",
    created: dt.datetime | None = None,
) -> Image:
    """A Docker image manifest v2 schema 2."""
    return _image(
        seed, oci=False, layers=layers, layer_size=layer_size, platform=platform, created=created
    )


def oci_image(
    seed: object,
    layers: int = 1,
    layer_size: int = 256,
    *,
    platform: str = "linux/amd64",
    created: dt.datetime | None = None,
) -> Image:
    """An OCI image manifest."""
    return _image(
        seed, oci=True, layers=layers, layer_size=layer_size, platform=platform, created=created
    )


def _index(seed: object, platforms: Sequence[str], *, oci: bool, layer_size: int) -> Image:
    children = tuple(
        _image(
            f"{seed}/{spec}",
            oci=oci,
            layers=1,
            layer_size=layer_size,
            platform=spec,
            created=None,
        )
        for spec in platforms
    )
    return _index_of(children, oci=oci)


def oci_index(
    seed: object,
    platforms: Sequence[str] = ("linux/amd64", "linux/arm64"),
    layer_size: int = 256,
) -> Image:
    """An OCI image index whose children are OCI manifests, one per platform."""
    return _index(seed, platforms, oci=True, layer_size=layer_size)


def docker_manifest_list(
    seed: object,
    platforms: Sequence[str] = ("linux/amd64", "linux/arm64"),
    layer_size: int = 256,
) -> Image:
    """A Docker manifest list whose children are schema 2 manifests."""
    return _index(seed, platforms, oci=False, layer_size=layer_size)


def _index_of(children: Sequence[Image], *, oci: bool = True) -> Image:
    media_type = OCI_INDEX if oci else DOCKER_MANIFEST_LIST
    document = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [child.descriptor() for child in children],
    }
    return Image(media_type=media_type, manifest_bytes=_dumps(document), children=tuple(children))


def _attestation(seed: object, subject: Image) -> Image:
    """What `docker buildx build --provenance` adds for `subject`: an OCI manifest whose
    layer is an in-toto statement, listed as platform unknown/unknown with the annotations
    that name the image it attests."""
    statement = _dumps(
        {
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://slsa.dev/provenance/v0.2",
            "subject": [{"name": "_", "digest": {"sha256": subject.digest[7:]}}],
            "predicate": {"builder": {"id": f"portside-test/{seed}"}},
        }
    )
    layer = Blob("application/vnd.in-toto+json", statement)
    config_doc = {
        "architecture": "unknown",
        "os": "unknown",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer.digest]},
    }
    config = Blob(OCI_CONFIG, _dumps(config_doc))
    layer_descriptor = {
        **layer.descriptor(),
        "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
    }
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer_descriptor],
    }
    return Image(
        media_type=OCI_MANIFEST,
        manifest_bytes=_dumps(manifest),
        config=config,
        layers=(layer,),
        platform={"architecture": "unknown", "os": "unknown"},
        annotations={
            "vnd.docker.reference.digest": subject.digest,
            "vnd.docker.reference.type": "attestation-manifest",
        },
    )


def with_windows(seed: object) -> Image:
    """A Docker manifest list of a linux/amd64 image and a windows/amd64 one whose base
    layer is foreign (named by URL, as Windows base layers on Docker Hub are)."""
    linux = schema2_image(f"{seed}/linux", layers=1)
    windows = schema2_image(f"{seed}/windows", layers=1, platform="windows/amd64")
    base = Blob(
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        _rng(f"{seed}/base").randbytes(512),
        urls=(f"https://windows-base.invalid/v2/servercore/blobs/{seed}",),
    )
    manifest = json.loads(windows.manifest_bytes)
    manifest["layers"].insert(0, base.descriptor())
    windows = Image(
        media_type=DOCKER_MANIFEST,
        manifest_bytes=_dumps(manifest),
        config=windows.config,
        layers=(base, *windows.layers),
        platform=windows.platform,
        created=windows.created,
    )
    return _index_of([linux, windows], oci=False)


def buildx_index(seed: object, platforms: Sequence[str] = ("linux/amd64", "linux/arm64")) -> Image:
    """An OCI index as `docker buildx build --platform ... --push` writes it: one image per
    platform, then one attestation manifest (unknown/unknown) per image."""
    images = oci_index(seed, platforms).children
    return _index_of([*images, *(_attestation(seed, image) for image in images)])


def nested_index(seed: object) -> Image:
    """An OCI index listing an image and another index (with its own two platforms)."""
    inner = oci_index(f"{seed}/inner", ("linux/arm64", "linux/arm/v7"))
    return _index_of([oci_image(f"{seed}/outer", platform="linux/amd64"), inner])


class DistributionClient(Protocol):
    """The part of `drivers.distribution`'s client that pushing needs."""

    def blob_exists(self, path: str, digest: str) -> bool: ...

    def upload_blob(self, path: str, data: bytes, digest: str) -> None: ...

    def put_manifest(self, path: str, reference: str, body: bytes, media_type: str) -> str: ...


def push_image(
    client: DistributionClient, repository_path: str, image: Image, tag: str | None = None
) -> str:
    """Push through the project's own client: blobs, children by digest, then the manifest."""
    for child in image.children:
        push_image(client, repository_path, child, None)
    for blob in image.blobs:
        if not blob.urls and not client.blob_exists(repository_path, blob.digest):
            client.upload_blob(repository_path, blob.data, blob.digest)
    return client.put_manifest(
        repository_path, tag or image.digest, image.manifest_bytes, image.media_type
    )


def push_image_raw(
    registry_url: str,
    repository_path: str,
    image: Image,
    tag: str | None = None,
    auth: tuple[str, str] | None = None,
    token_server: TokenServer | None = None,
) -> str:
    """Push with plain `requests`, independent of portside, to seed registries in tests.

    With `token_server`, a push token is fetched from it with `auth` as Basic credentials;
    otherwise `auth` goes to the registry as Basic.
    """
    session = requests.Session()
    if token_server is not None:
        scope = f"repository:{repository_path}:pull,push"
        answer = requests.get(
            token_server.realm,
            params={"service": token_server.service, "scope": scope},
            auth=auth,
            timeout=10,
        )
        answer.raise_for_status()
        body = answer.json()
        session.headers["Authorization"] = f"Bearer {body.get('token') or body['access_token']}"
    elif auth is not None:
        session.auth = auth
    with session:
        return _push_raw(session, registry_url.rstrip("/"), repository_path, image, tag)


def _push_raw(
    session: requests.Session, base: str, path: str, image: Image, tag: str | None
) -> str:
    for child in image.children:
        _push_raw(session, base, path, child, None)
    for blob in image.blobs:
        if blob.urls:
            continue
        if session.head(f"{base}/v2/{path}/blobs/{blob.digest}", timeout=10).status_code == 200:
            continue
        started = session.post(f"{base}/v2/{path}/blobs/uploads/", timeout=10)
        _expect(started, 202)
        location = urljoin(f"{base}/", started.headers["Location"])
        separator = "&" if "?" in location else "?"
        done = session.put(
            f"{location}{separator}digest={blob.digest}",
            data=blob.data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=30,
        )
        _expect(done, 201)
    reference = tag or image.digest
    put = session.put(
        f"{base}/v2/{path}/manifests/{reference}",
        data=image.manifest_bytes,
        headers={"Content-Type": image.media_type},
        timeout=10,
    )
    _expect(put, 201)
    return put.headers.get("Docker-Content-Digest", image.digest)


def _expect(response: requests.Response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.url} answered {response.status_code}, "
            f"expected {status}: {response.text[:500]}"
        )
