"""`portside copy` registry -> registry, layout -> registry and registry -> layout against real
registries: digests are preserved (skopeo reads both ends), present blobs are skipped after a
HEAD, and blobs on one registry are mounted, not uploaded."""

from __future__ import annotations

import json

import pytest

from tests.bed import CANARY_PASSWORD, docker_manifest_list, oci_index, schema2_image
from tests.cli import run_cli
from tests.faultproxy import FaultProxy
from tests.transfer_helpers import host_child, layout_digest, login, push, registry_digest

pytestmark = pytest.mark.usefixtures("require_skopeo")


def _copy(capsys, *args: str) -> dict:
    result = run_cli(capsys, "copy", "--json", *args)
    assert result.code == 0, result.err
    assert CANARY_PASSWORD not in result.text
    (summary,) = json.loads(result.out)
    return summary


def test_same_registry_mounts_every_blob_and_keeps_the_index_digest(
    capsys, docker_config, registry_plain, unique_repo
):
    index = oci_index(f"{unique_repo}-m", ["linux/amd64", "linux/arm64", "linux/arm/v7"])
    push(registry_plain, unique_repo, index, "1.0")
    with FaultProxy(registry_plain.host) as proxy:  # only to watch the requests
        source = f"{proxy.host}/{unique_repo}:1.0"
        target = f"{proxy.host}/{unique_repo}-copy"

        summary = _copy(capsys, source, target, "--platform", "all")

        uploads = [s for s in proxy.seen if s.method in ("PUT", "PATCH") and "/blobs/" in s.path]
        mounts = [s for s in proxy.seen if s.method == "POST" and "mount=" in s.path]
    blobs = {b.digest for child in index.children for b in child.blobs}
    assert summary["blobsMounted"] == len(blobs) == len(mounts)
    assert uploads == []
    assert summary["digest"] == index.digest
    assert summary["destination"] == f"{target}:1.0"  # the source tag, when none is given
    copied = f"{registry_plain.host}/{unique_repo}-copy:1.0"
    assert registry_digest(registry_plain, copied) == index.digest
    for child in index.children:
        assert registry_digest(registry_plain, f"{copied[:-4]}@{child.digest}") == child.digest


def test_across_registries_with_auth_then_everything_is_skipped(
    capsys, docker_config, registry_plain, registry_token, unique_repo
):
    image = docker_manifest_list(f"{unique_repo}-x")
    push(registry_plain, unique_repo, image, "latest")
    login(docker_config, registry_token)
    source = f"{registry_plain.host}/{unique_repo}:latest"
    target = f"{registry_token.host}/{unique_repo}/promoted:stable"

    first = _copy(capsys, source, target, "--platform", "all")
    again = _copy(capsys, source, target, "--platform", "all")

    blobs = {b.digest for child in image.children for b in child.blobs}
    assert first["blobsFetched"] == len(blobs) and first["blobsMounted"] == 0
    assert first["bytesFetched"] == sum(b.size for child in image.children for b in child.blobs)
    assert again["blobsFetched"] == 0 and again["blobsSkipped"] == len(blobs)
    assert registry_digest(registry_token, target) == image.digest
    assert registry_digest(registry_plain, source) == image.digest


def test_default_platform_copies_the_host_image_by_its_own_digest(
    capsys, docker_config, registry_plain, unique_repo
):
    index = oci_index(f"{unique_repo}-h")
    push(registry_plain, unique_repo, index, "multi")
    target = f"{registry_plain.host}/{unique_repo}/one:multi"
    summary = _copy(capsys, f"{registry_plain.host}/{unique_repo}:multi", target)
    assert summary["digest"] == host_child(index).digest
    assert registry_digest(registry_plain, target) == host_child(index).digest


def test_layout_to_registry_and_back(capsys, docker_config, registry_plain, unique_repo, tmp_path):
    image = schema2_image(f"{unique_repo}-l", layers=3)
    push(registry_plain, unique_repo, image, "src")
    layout = tmp_path / "layout"
    pulled = run_cli(
        capsys, "pull", f"{registry_plain.host}/{unique_repo}:src", "--dest", str(layout)
    )
    assert pulled.code == 0, pulled.err

    up = _copy(capsys, f"oci:{layout}:src", f"{registry_plain.host}/{unique_repo}/fromdisk:v2")
    assert up["digest"] == image.digest and up["blobsFetched"] == len(image.blobs)
    assert registry_digest(registry_plain, f"{registry_plain.host}/{unique_repo}/fromdisk:v2") == (
        image.digest
    )

    back = tmp_path / "back"
    down = _copy(capsys, f"{registry_plain.host}/{unique_repo}/fromdisk:v2", f"oci:{back}:mine")
    assert down["destination"] == f"oci:{back}:mine"
    assert layout_digest(back, "mine") == image.digest


def test_copy_by_digest_keeps_it(capsys, docker_config, registry_plain, unique_repo):
    image = schema2_image(f"{unique_repo}-dg")
    digest = push(registry_plain, unique_repo, image, "t")
    target = f"{registry_plain.host}/{unique_repo}/bydigest"
    summary = _copy(capsys, f"{registry_plain.host}/{unique_repo}@{digest}", target)
    assert summary["destination"] == f"{target}@{digest}"
    assert registry_digest(registry_plain, f"{target}@{digest}") == digest


def test_unknown_source_is_exit_1(capsys, docker_config, registry_plain, unique_repo, tmp_path):
    result = run_cli(
        capsys, "copy", f"{registry_plain.host}/{unique_repo}:gone", f"oci:{tmp_path}/x:y"
    )
    assert result.code == 1
    assert f"{registry_plain.host}/{unique_repo}:gone" in result.err
    missing_tag = run_cli(capsys, "copy", f"oci:{tmp_path}/x:nope", f"{registry_plain.host}/a:b")
    assert missing_tag.code == 1
    assert "no image is tagged nope" in missing_tag.err


def test_copy_of_an_index_by_digest_pushes_the_chosen_image_by_its_digest(
    capsys, docker_config, registry_plain, unique_repo
):
    index = oci_index(f"{unique_repo}-idg")
    digest = push(registry_plain, unique_repo, index, "t")
    target = f"{registry_plain.host}/{unique_repo}/child"
    summary = _copy(capsys, f"{registry_plain.host}/{unique_repo}@{digest}", target)
    child = host_child(index).digest
    assert summary["destination"] == f"{target}@{child}"
    assert registry_digest(registry_plain, f"{target}@{child}") == child
