"""`portside pull` against real registries; every layout and archive is read back by skopeo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.transfer.layout import IMAGE_NAME, REF_NAME
from tests.bed import (
    CANARY_PASSWORD,
    docker_manifest_list,
    oci_image,
    oci_index,
    schema2_image,
)
from tests.bed.skopeo import skopeo
from tests.cli import run_cli
from tests.transfer_helpers import (
    blob_files,
    host_child,
    index_entries,
    layout_digest,
    layout_raw,
    login,
    push,
    registry_digest,
)

pytestmark = pytest.mark.usefixtures("require_skopeo")


def _pull(capsys, *args: str):
    result = run_cli(capsys, "pull", "--json", *args)
    assert result.code == 0, result.err
    return json.loads(result.out)


@pytest.mark.parametrize("kind", ["schema2", "oci", "oci-index", "docker-list"], ids=lambda k: k)
def test_pull_by_tag_gives_the_registry_digest(
    capsys, docker_config, registry_plain, unique_repo, tmp_path, kind
):
    image = {
        "schema2": lambda: schema2_image(f"{unique_repo}-s2", layers=3),
        "oci": lambda: oci_image(f"{unique_repo}-oci", layers=2),
        "oci-index": lambda: oci_index(f"{unique_repo}-idx"),
        "docker-list": lambda: docker_manifest_list(f"{unique_repo}-dl"),
    }[kind]()
    push(registry_plain, unique_repo, image, "v1")
    reference = f"{registry_plain.host}/{unique_repo}:v1"
    dest = tmp_path / "layout"

    summary = _pull(capsys, reference, "--dest", str(dest))

    expected = host_child(image) if image.is_index else image
    assert layout_digest(dest, "v1") == expected.digest == summary[0]["digest"]
    if not image.is_index:
        assert expected.digest == registry_digest(registry_plain, reference)
    assert summary[0]["blobsFetched"] == len(expected.blobs)
    (entry,) = index_entries(dest)
    assert entry["annotations"] == {IMAGE_NAME: reference, REF_NAME: "v1"}
    assert json.loads((dest / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    for blob in expected.blobs:
        assert (dest / "blobs/sha256" / blob.digest[7:]).read_bytes() == blob.data
    # skopeo reads the whole image back, not just the manifest.
    config = skopeo("inspect", "--config", "--raw", f"oci:{dest}:v1", text=False).stdout
    assert config == expected.config.data


def test_pull_by_digest_with_token_auth(
    capsys, docker_config, registry_token, unique_repo, tmp_path
):
    image = schema2_image(f"{unique_repo}-tok")
    digest = push(registry_token, unique_repo, image, "t")
    login(docker_config, registry_token)
    reference = f"{registry_token.host}/{unique_repo}@{digest}"
    dest = tmp_path / "layout"

    result = run_cli(capsys, "pull", reference, "--dest", str(dest))

    assert result.code == 0, result.err
    assert CANARY_PASSWORD not in result.text
    assert layout_digest(dest, digest) == digest == registry_digest(registry_token, reference)
    (entry,) = index_entries(dest)
    assert entry["annotations"] == {IMAGE_NAME: reference, REF_NAME: digest}


def test_platform_choice_and_all(capsys, docker_config, registry_plain, unique_repo, tmp_path):
    image = docker_manifest_list(f"{unique_repo}-plat", ["linux/amd64", "linux/arm64/v8"])
    push(registry_plain, unique_repo, image, "multi")
    reference = f"{registry_plain.host}/{unique_repo}:multi"
    arm = tmp_path / "arm"
    every = tmp_path / "all"

    one = _pull(capsys, reference, "--dest", str(arm), "--platform", "linux/arm64")
    assert one[0]["platform"] == "linux/arm64/v8"
    assert layout_digest(arm, "multi") == image.children[1].digest
    assert index_entries(arm)[0]["platform"]["architecture"] == "arm64"

    both = _pull(capsys, reference, "--dest", str(every), "--platform", "all")
    assert both[0]["digest"] == image.digest == registry_digest(registry_plain, reference)
    assert layout_digest(every, "multi") == image.digest
    for child in image.children:
        assert layout_raw(every, "multi")  # the index itself
        assert (every / "blobs/sha256" / child.digest[7:]).read_bytes() == child.manifest_bytes
        for blob in child.blobs:
            assert (every / "blobs/sha256" / blob.digest[7:]).exists()


def test_pull_adds_to_a_layout_and_replaces_the_same_reference(
    capsys, docker_config, registry_plain, unique_repo, tmp_path
):
    first, second, third = (oci_image(f"{unique_repo}-{n}") for n in "abc")
    push(registry_plain, unique_repo, first, "one")
    push(registry_plain, unique_repo, second, "two")
    dest = tmp_path / "layout"
    host = registry_plain.host
    _pull(capsys, f"{host}/{unique_repo}:one", "--dest", str(dest))
    _pull(capsys, f"{host}/{unique_repo}:two", "--dest", str(dest))
    assert [e["annotations"][REF_NAME] for e in index_entries(dest)] == ["one", "two"]

    push(registry_plain, unique_repo, third, "one")  # the tag moves to another image
    again = _pull(
        capsys, f"{host}/{unique_repo}:one", f"{host}/{unique_repo}:two", "--dest", str(dest)
    )

    entries = {e["annotations"][REF_NAME]: e["digest"] for e in index_entries(dest)}
    assert entries == {"one": third.digest, "two": second.digest}  # replaced, not added
    assert layout_digest(dest, "one") == third.digest
    assert layout_digest(dest, "two") == second.digest
    assert again[1]["blobsFetched"] == 0 and again[1]["blobsSkipped"] == len(second.blobs)
    assert again[0]["blobsFetched"] == len(third.blobs)


def test_a_present_blob_is_fetched_again_unless_its_digest_checks_out(
    capsys, docker_config, registry_plain, unique_repo, tmp_path
):
    image = schema2_image(f"{unique_repo}-bad", layers=2, layer_size=4096)
    push(registry_plain, unique_repo, image, "v")
    reference = f"{registry_plain.host}/{unique_repo}:v"
    dest = tmp_path / "layout"
    _pull(capsys, reference, "--dest", str(dest))
    layer = dest / "blobs/sha256" / image.layers[0].digest[7:]
    data = bytearray(layer.read_bytes())
    data[10] ^= 0xFF  # same size, other content
    layer.write_bytes(bytes(data))

    again = _pull(capsys, reference, "--dest", str(dest))

    assert again[0]["blobsFetched"] == 1
    assert again[0]["blobsSkipped"] == len(image.blobs) - 1
    assert layer.read_bytes() == image.layers[0].data


def test_the_same_tag_from_another_repository_takes_the_tag_name(
    capsys, docker_config, registry_plain, unique_repo, tmp_path
):
    a, b = oci_image(f"{unique_repo}-ta"), oci_image(f"{unique_repo}-tb")
    push(registry_plain, f"{unique_repo}/a", a, "latest")
    push(registry_plain, f"{unique_repo}/b", b, "latest")
    dest = tmp_path / "layout"
    host = registry_plain.host
    result = run_cli(
        capsys, "pull", f"{host}/{unique_repo}/a", f"{host}/{unique_repo}/b", "--dest", str(dest)
    )
    assert result.code == 0, result.err
    assert "no longer carries the tag latest" in result.err
    entries = index_entries(dest)
    assert [e["annotations"].get(IMAGE_NAME) for e in entries] == [
        f"{host}/{unique_repo}/a:latest",
        f"{host}/{unique_repo}/b:latest",
    ]
    assert REF_NAME not in entries[0]["annotations"]
    assert layout_digest(dest, "latest") == b.digest


def test_docker_archive_is_read_by_skopeo(
    capsys, docker_config, registry_plain, unique_repo, tmp_path
):
    image = schema2_image(f"{unique_repo}-da", layers=2)
    index = oci_index(f"{unique_repo}-dai")
    push(registry_plain, unique_repo, image, "s2")
    push(registry_plain, unique_repo, index, "idx")
    archive = tmp_path / "out" / "images.tar"
    host = registry_plain.host

    _pull(
        capsys,
        f"{host}/{unique_repo}:s2",
        f"{host}/{unique_repo}:idx",
        "--format",
        "docker-archive",
        "--dest",
        str(archive),
    )

    for tag, expected in (("s2", image), ("idx", host_child(index))):
        ref = f"docker-archive:{archive}:{host}/{unique_repo}:{tag}"
        info = json.loads(skopeo("inspect", ref).stdout)
        config = json.loads(expected.config.data)
        assert info["Layers"] == config["rootfs"]["diff_ids"]
        assert info["Created"].startswith(config["created"][:19])
        raw_config = skopeo("inspect", "--config", "--raw", ref, text=False).stdout
        assert raw_config == expected.config.data
    assert [p.name for p in archive.parent.iterdir()] == ["images.tar"]  # no staging left


def test_oci_archive_is_read_by_skopeo(
    capsys, docker_config, registry_plain, unique_repo, tmp_path
):
    index = oci_index(f"{unique_repo}-oa")
    push(registry_plain, unique_repo, index, "multi")
    archive = tmp_path / "multi.tar"
    reference = f"{registry_plain.host}/{unique_repo}:multi"
    _pull(capsys, reference, "--format", "oci-archive", "--platform", "all", "--dest", str(archive))
    raw = skopeo("inspect", "--raw", f"oci-archive:{archive}:multi", text=False).stdout
    assert raw == index.manifest_bytes


def test_plain_progress_lines_and_quiet(
    capsys, docker_config, registry_plain, unique_repo, tmp_path
):
    image = oci_image(f"{unique_repo}-pg")
    push(registry_plain, unique_repo, image, "v")
    reference = f"{registry_plain.host}/{unique_repo}:v"
    shown = run_cli(capsys, "pull", reference, "--dest", str(tmp_path / "a"))
    assert shown.code == 0
    assert f"{reference}: {len(image.blobs)} blobs" in shown.err
    assert f"{image.layers[0].digest[:19]}" in shown.err and "fetched" in shown.err
    assert f"pulled {reference} -> oci:{tmp_path / 'a'}:v" in shown.out
    quiet = run_cli(capsys, "pull", reference, "--dest", str(tmp_path / "b"), "--quiet")
    assert quiet.code == 0 and quiet.out == "" and quiet.err == ""
    assert blob_files(tmp_path / "b") == sorted(
        (tmp_path / "b/blobs/sha256" / d[7:])
        for d in [*(b.digest for b in image.blobs), image.digest]
    )


def test_env_twins(capsys, docker_config, registry_plain, unique_repo, tmp_path, monkeypatch):
    image = docker_manifest_list(f"{unique_repo}-env")
    push(registry_plain, unique_repo, image, "e")
    monkeypatch.setenv("PORTSIDE_DEST", str(tmp_path / "envdest"))
    monkeypatch.setenv("PORTSIDE_PLATFORM", "linux/arm64")
    monkeypatch.setenv("PORTSIDE_JOBS", "2")
    monkeypatch.setenv("PORTSIDE_QUIET", "1")
    result = run_cli(capsys, "pull", f"{registry_plain.host}/{unique_repo}:e")
    assert result.code == 0, result.err
    assert result.text == ""
    assert layout_digest(Path(tmp_path / "envdest"), "e") == image.children[1].digest
