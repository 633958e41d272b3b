"""Shared steps of the pull and copy tests: push test images, log in through a Docker
config, and read digests back with skopeo (the independent client)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from drivers.auth.credentials import Credential
from drivers.distribution import DistributionClient
from drivers.http.transport import Transport
from drivers.transfer.platforms import host_platform
from tests.bed import CANARY_PASSWORD, CANARY_USER, Image, push_image
from tests.bed.registry import RunningRegistry
from tests.bed.skopeo import skopeo, skopeo_inspect_digest


def creds(registry: RunningRegistry) -> tuple[str, str] | None:
    return None if registry.auth == "none" else (CANARY_USER, CANARY_PASSWORD)


def client(registry: RunningRegistry) -> DistributionClient:
    cred = Credential(CANARY_USER, CANARY_PASSWORD, source="test") if creds(registry) else None
    return DistributionClient(Transport(registry.host, cred))


def push(registry: RunningRegistry, path: str, image: Image, tag: str | None = None) -> str:
    return push_image(client(registry), path, image, tag)


def login(docker_config: Path, *registries: RunningRegistry) -> None:
    """Canary credentials for each registry in the Docker config's `auths`."""
    auth = base64.b64encode(f"{CANARY_USER}:{CANARY_PASSWORD}".encode()).decode()
    doc = {"auths": {r.host: {"auth": auth} for r in registries}}
    (docker_config / "config.json").write_text(json.dumps(doc))


def registry_digest(registry: RunningRegistry, reference: str) -> str:
    """The digest the registry serves for a reference, as skopeo reads it."""
    return skopeo_inspect_digest(reference, creds(registry))


def layout_raw(directory: Path, name: str) -> bytes:
    return skopeo("inspect", "--raw", f"oci:{directory}:{name}", text=False).stdout


def layout_digest(directory: Path, name: str) -> str:
    """The digest of what `oci:DIR:NAME` names, as skopeo reads the layout."""
    return "sha256:" + hashlib.sha256(layout_raw(directory, name)).hexdigest()


def host_child(image: Image) -> Image:
    """The child of a test index that a pull picks by default on this host."""
    wanted = host_platform()
    for child in image.children:
        platform = child.platform or {}
        if (platform.get("os"), platform.get("architecture")) == (wanted.os, wanted.architecture):
            return child
    raise AssertionError(f"the test index has no child for {wanted}")


def index_entries(directory: Path) -> list[dict]:
    return json.loads((directory / "index.json").read_text())["manifests"]


def blob_files(directory: Path) -> list[Path]:
    """Every file under blobs/, temp files included."""
    return sorted(p for p in (directory / "blobs").rglob("*") if p.is_file())
