"""Digests other than sha256 on the pull and copy paths, against the real docker-registry.

distribution 2.8 (the test bed) stores blobs under any digest go-digest knows: an upload
with `?digest=sha512:…` is linked under that digest too, and a manifest may name its config
and layers so. It stores manifests only under sha256: a PUT by a sha512 digest is refused
(DIGEST_INVALID) and a GET by one is MANIFEST_UNKNOWN, which the first test pins. A manifest
by a sha512 digest therefore comes through the fault proxy, which serves the registry's own
bytes for it (or, to test the check, another manifest's bytes).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from urllib.parse import urlencode, urljoin

import pytest
import requests

from tests.bed import oci_image
from tests.bed.images import OCI_MANIFEST, Blob
from tests.cli import run_cli
from tests.faultproxy import FaultProxy, Flip
from tests.transfer_helpers import blob_files, index_entries, push


def sha512(data: bytes) -> str:
    return "sha512:" + hashlib.sha512(data).hexdigest()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def proxy(registry_plain) -> Iterator[FaultProxy]:
    with FaultProxy(registry_plain.host) as running:
        yield running


def push_sha512_image(registry, repository: str, tag: str, seed: str) -> tuple[bytes, list[Blob]]:
    """Push, with plain requests, an OCI image whose config and layers are named by sha512."""
    image = oci_image(seed, layers=2, layer_size=4096)
    blobs = [b for b in image.blobs if b is not None]
    url = f"{registry.url}/v2/{repository}"
    for blob in blobs:
        started = requests.post(f"{url}/blobs/uploads/", timeout=10)
        location = urljoin(url, started.headers["Location"])
        separator = "&" if "?" in location else "?"
        query = urlencode({"digest": sha512(blob.data)})
        requests.put(f"{location}{separator}{query}", data=blob.data, timeout=10).raise_for_status()

    def named(blob: Blob) -> dict[str, object]:
        return {"mediaType": blob.media_type, "digest": sha512(blob.data), "size": blob.size}

    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": named(blobs[0]),
        "layers": [named(b) for b in blobs[1:]],
    }
    body = json.dumps(manifest).encode()
    headers = {"Content-Type": OCI_MANIFEST}
    answer = requests.put(f"{url}/manifests/{tag}", data=body, headers=headers, timeout=10)
    answer.raise_for_status()
    return body, blobs


def test_the_test_bed_keeps_manifests_under_sha256_only(registry_plain, unique_repo):
    image = oci_image(f"{unique_repo}-bed")
    push(registry_plain, unique_repo, image, "v")
    url = f"{registry_plain.url}/v2/{unique_repo}/manifests"
    by_sha512 = sha512(image.manifest_bytes)
    put = requests.put(
        f"{url}/{by_sha512}",
        data=image.manifest_bytes,
        headers={"Content-Type": image.media_type},
        timeout=10,
    )
    assert put.status_code == 400 and "DIGEST_INVALID" in put.text
    got = requests.get(f"{url}/{by_sha512}", headers={"Accept": image.media_type}, timeout=10)
    assert got.status_code == 404 and "MANIFEST_UNKNOWN" in got.text


def test_pull_verifies_sha512_blobs(capsys, docker_config, registry_plain, unique_repo, tmp_path):
    body, blobs = push_sha512_image(registry_plain, unique_repo, "v", f"{unique_repo}-512")
    dest = tmp_path / "layout"

    result = run_cli(capsys, "pull", f"{registry_plain.host}/{unique_repo}:v", "--dest", str(dest))

    assert result.code == 0, result.err
    for blob in blobs:
        assert (dest / "blobs/sha512" / sha512(blob.data)[7:]).read_bytes() == blob.data
    assert (dest / "blobs/sha256" / sha256(body)[7:]).read_bytes() == body
    # A second pull finds every blob verified where it lies, by its own algorithm.
    again = run_cli(capsys, "pull", f"{registry_plain.host}/{unique_repo}:v", "--dest", str(dest))
    assert again.code == 0, again.err


def test_a_corrupt_sha512_blob_fails_the_pull(
    capsys, docker_config, registry_plain, proxy, unique_repo, tmp_path
):
    _, blobs = push_sha512_image(registry_plain, unique_repo, "v", f"{unique_repo}-flip")
    layer = sha512(blobs[1].data)
    proxy.add(Flip(digest=layer, at=100, times=10))
    dest = tmp_path / "layout"

    result = run_cli(capsys, "pull", f"{proxy.host}/{unique_repo}:v", "--dest", str(dest))

    assert result.code == 1, result.text
    assert f"blob {layer}" in result.err and "Traceback" not in result.err
    assert not (dest / "blobs/sha512" / layer[7:]).exists()
    for path in blob_files(dest):  # whatever did land hashes to its name
        algorithm = path.parent.name
        assert hashlib.new(algorithm, path.read_bytes()).hexdigest() == path.name


def test_copy_keeps_sha512_blobs(capsys, docker_config, registry_plain, unique_repo):
    body, blobs = push_sha512_image(registry_plain, unique_repo, "v", f"{unique_repo}-copy")
    source = f"{registry_plain.host}/{unique_repo}:v"
    target = f"{registry_plain.host}/{unique_repo}-copied:v"

    result = run_cli(capsys, "copy", source, target)

    assert result.code == 0, result.err
    url = f"{registry_plain.url}/v2/{unique_repo}-copied"
    for blob in blobs:
        got = requests.get(f"{url}/blobs/{sha512(blob.data)}", timeout=10)
        assert got.status_code == 200 and got.content == blob.data
    manifest = requests.get(f"{url}/manifests/v", headers={"Accept": OCI_MANIFEST}, timeout=10)
    assert manifest.content == body


def _alias_sha512(proxy: FaultProxy, repository: str, served: bytes, named: bytes) -> str:
    """Make the proxy serve, for the sha512 digest of `named`, the registry's `served`."""
    digest = sha512(named)
    proxy.aliases[f"/v2/{repository}/manifests/{digest}"] = (
        f"/v2/{repository}/manifests/{sha256(served)}"
    )
    return digest


def test_pull_by_sha512_digest_verifies_the_manifest(
    capsys, docker_config, registry_plain, proxy, unique_repo, tmp_path
):
    image = oci_image(f"{unique_repo}-m512")
    push(registry_plain, unique_repo, image, "v")
    digest = _alias_sha512(proxy, unique_repo, image.manifest_bytes, image.manifest_bytes)
    dest = tmp_path / "layout"

    result = run_cli(capsys, "pull", f"{proxy.host}/{unique_repo}@{digest}", "--dest", str(dest))

    assert result.code == 0, result.err
    assert (dest / "blobs/sha512" / digest[7:]).read_bytes() == image.manifest_bytes
    assert [e["digest"] for e in index_entries(dest)] == [digest]
    inspect = run_cli(capsys, "inspect", f"{proxy.host}/{unique_repo}@{digest}", "--json")
    assert inspect.code == 0, inspect.err
    assert json.loads(inspect.out)["digest"] == digest


def test_copy_by_sha512_digest_verifies_the_manifest(
    capsys, docker_config, registry_plain, proxy, unique_repo
):
    image = oci_image(f"{unique_repo}-c512")
    push(registry_plain, unique_repo, image, "v")
    digest = _alias_sha512(proxy, unique_repo, image.manifest_bytes, image.manifest_bytes)

    result = run_cli(
        capsys, "copy", f"{proxy.host}/{unique_repo}@{digest}", f"{proxy.host}/{unique_repo}:c"
    )

    assert result.code == 0, result.err
    url = f"{registry_plain.url}/v2/{unique_repo}/manifests/c"
    copied = requests.get(url, headers={"Accept": image.media_type}, timeout=10)
    assert copied.content == image.manifest_bytes


@pytest.mark.parametrize("command", ["pull", "copy", "inspect"])
def test_a_manifest_that_does_not_match_its_sha512_digest_fails(
    capsys, docker_config, registry_plain, proxy, unique_repo, tmp_path, command
):
    wanted = oci_image(f"{unique_repo}-wanted")
    other = oci_image(f"{unique_repo}-other")
    push(registry_plain, unique_repo, other, "other")
    digest = _alias_sha512(proxy, unique_repo, other.manifest_bytes, wanted.manifest_bytes)
    source = f"{proxy.host}/{unique_repo}@{digest}"
    dest = tmp_path / "layout"
    args = {
        "pull": ["pull", source, "--dest", str(dest)],
        "copy": ["copy", source, f"{registry_plain.host}/{unique_repo}:copied"],
        "inspect": ["inspect", source],
    }[command]

    result = run_cli(capsys, *args)

    assert result.code == 1, result.text
    assert f"the registry sent content with digest {sha512(other.manifest_bytes)}" in result.err
    assert "Traceback" not in result.err
    assert not dest.exists() or not blob_files(dest)
    tags = requests.get(f"{registry_plain.url}/v2/{unique_repo}/tags/list", timeout=10).json()
    assert "copied" not in (tags.get("tags") or [])


def test_a_manifest_naming_an_unverifiable_digest_is_refused(
    capsys, docker_config, registry_plain, proxy, unique_repo, tmp_path
):
    # A registry can name what it likes in a manifest; md5 content is not taken on trust.
    blob = b"not checked with md5"
    md5 = "md5:" + hashlib.md5(blob).hexdigest()
    config = oci_image(f"{unique_repo}-md5").config
    assert config is not None
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": config.media_type, "digest": md5, "size": len(blob)},
        "layers": [],
    }
    body = json.dumps(manifest).encode()
    proxy.canned[f"/v2/{unique_repo}/manifests/v"] = (
        200,
        {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": sha256(body)},
        body,
    )
    dest = tmp_path / "layout"

    result = run_cli(capsys, "pull", f"{proxy.host}/{unique_repo}:v", "--dest", str(dest))

    assert result.code == 1, result.text
    assert "a digest portside cannot verify" in result.err and md5 in result.err
    assert not [g for g in proxy.seen if "/blobs/" in g.path]
    assert not dest.exists() or not blob_files(dest)
