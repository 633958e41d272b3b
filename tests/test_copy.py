"""`portside copy` registry -> registry, layout -> registry and registry -> layout against real
registries: a multi-platform image is copied whole by default, byte for byte (skopeo reads both
ends, and `skopeo copy --all` gives the same digests), present manifests and blobs are skipped,
and blobs on one registry are mounted, not uploaded."""

from __future__ import annotations

import json
import re

import pytest

from tests.bed import (
    CANARY_PASSWORD,
    CANARY_USER,
    Image,
    buildx_index,
    docker_manifest_list,
    nested_index,
    oci_index,
    schema2_image,
    skopeo,
    with_windows,
)
from tests.bed.registry import RunningRegistry
from tests.bed.skopeo import skopeo_inspect_raw
from tests.cli import run_cli
from tests.faultproxy import FaultProxy
from tests.transfer_helpers import (
    creds,
    host_child,
    layout_digest,
    layout_raw,
    login,
    push,
    registry_digest,
)

pytestmark = pytest.mark.usefixtures("require_skopeo")


def _copy(capsys, *args: str) -> dict:
    result = run_cli(capsys, "copy", "--json", *args)
    assert result.code == 0, result.err
    assert CANARY_PASSWORD not in result.text
    (summary,) = json.loads(result.out)
    return summary


def _same_bytes(
    image: Image, source: tuple[RunningRegistry, str], target: tuple[RunningRegistry, str]
) -> None:
    """skopeo reads the same bytes at both ends: for the reference and, at the destination, for
    every manifest below it, by digest."""
    (src_registry, src), (dst_registry, dst) = source, target
    assert skopeo_inspect_raw(src, creds(src_registry)) == image.manifest_bytes
    assert skopeo_inspect_raw(dst, creds(dst_registry)) == image.manifest_bytes
    parent, _, name = dst.split("@")[0].rpartition("/")
    repository = f"{parent}/{name.split(':')[0]}"
    for manifest in image.walk():
        raw = skopeo_inspect_raw(f"{repository}@{manifest.digest}", creds(dst_registry))
        assert raw == manifest.manifest_bytes


@pytest.mark.parametrize(
    "build", [docker_manifest_list, oci_index, buildx_index], ids=["docker-list", "oci", "buildx"]
)
def test_default_copies_the_whole_index_across_registries_as_skopeo_copy_all_does(
    build, capsys, docker_config, registry_token, registry_htpasswd, unique_repo
):
    image = build(f"{unique_repo}-whole")
    push(registry_token, unique_repo, image, "1.0")
    login(docker_config, registry_token, registry_htpasswd)
    source = f"{registry_token.host}/{unique_repo}:1.0"
    target = f"{registry_htpasswd.host}/{unique_repo}/promoted:1.0"

    summary = _copy(capsys, source, target)

    assert summary["digest"] == image.digest and summary["platform"] == "all"
    assert summary["mediaType"] == image.media_type
    assert summary["manifestsFetched"] == len(image.walk()) and summary["manifestsSkipped"] == 0
    assert summary["blobsFetched"] == len(image.all_blobs()) and summary["blobsSkipped"] == 0
    _same_bytes(image, (registry_token, source), (registry_htpasswd, target))
    # skopeo's own copy of every platform lands on the same digest.
    by_skopeo = f"{registry_htpasswd.host}/{unique_repo}/skopeo:1.0"
    user = f"{CANARY_USER}:{CANARY_PASSWORD}"
    skopeo(
        "copy", "--all", "--preserve-digests", f"--src-creds={user}", f"--dest-creds={user}",
        f"docker://{source}", f"docker://{by_skopeo}",
    )  # fmt: skip
    assert registry_digest(registry_htpasswd, by_skopeo) == summary["digest"]


def test_attestations_and_nested_indexes_are_copied_as_they_are(
    capsys, docker_config, registry_plain, registry_htpasswd, unique_repo
):
    login(docker_config, registry_htpasswd)
    for tag, image in (
        ("attested", buildx_index(f"{unique_repo}-a")),
        ("nested", nested_index(unique_repo)),
    ):
        push(registry_plain, unique_repo, image, tag)
        source = f"{registry_plain.host}/{unique_repo}:{tag}"
        target = f"{registry_htpasswd.host}/{unique_repo}:{tag}"
        summary = _copy(capsys, source, target)
        assert summary["digest"] == image.digest
        assert summary["manifestsFetched"] == len(image.walk())
        _same_bytes(image, (registry_plain, source), (registry_htpasswd, target))


def test_foreign_layers_stay_where_their_urls_point(
    capsys, docker_config, registry_plain, registry_htpasswd, unique_repo, tmp_path
):
    image = with_windows(unique_repo)  # the source holds no foreign layer, as Docker Hub
    push(registry_plain, unique_repo, image, "win")
    login(docker_config, registry_htpasswd)
    source = f"{registry_plain.host}/{unique_repo}:win"
    target = f"{registry_htpasswd.host}/{unique_repo}:win"
    summary = _copy(capsys, source, target)
    held = [b for b in image.all_blobs() if not b.urls]
    assert summary["blobsFetched"] == len(held) < len(image.all_blobs())
    _same_bytes(image, (registry_plain, source), (registry_htpasswd, target))
    layout = tmp_path / "layout"
    into_layout = _copy(capsys, source, f"oci:{layout}:win")  # as skopeo's oci: leaves it
    assert into_layout["blobsFetched"] == len(held)
    assert layout_raw(layout, "win") == image.manifest_bytes


def test_same_registry_mounts_every_blob_and_keeps_the_index_digest(
    capsys, docker_config, registry_plain, unique_repo
):
    index = oci_index(f"{unique_repo}-m", ["linux/amd64", "linux/arm64", "linux/arm/v7"])
    push(registry_plain, unique_repo, index, "1.0")
    with FaultProxy(registry_plain.host) as proxy:  # only to watch the requests
        source = f"{proxy.host}/{unique_repo}:1.0"
        target = f"{proxy.host}/{unique_repo}-copy"

        summary = _copy(capsys, source, target)

        uploads = [s for s in proxy.seen if s.method in ("PUT", "PATCH") and "/blobs/" in s.path]
        mounts = [s for s in proxy.seen if s.method == "POST" and "mount=" in s.path]
    blobs = index.all_blobs()
    assert summary["blobsMounted"] == len(blobs) == len(mounts)
    assert uploads == []
    assert summary["digest"] == index.digest
    assert summary["destination"] == f"{target}:1.0"  # the source tag, when none is given
    copied = f"{registry_plain.host}/{unique_repo}-copy:1.0"
    _same_bytes(
        index,
        (registry_plain, f"{registry_plain.host}/{unique_repo}:1.0"),
        (registry_plain, copied),
    )


def _answered(proxy: FaultProxy) -> list[tuple[str, str]]:
    """The registry requests a proxy saw, without the ping and the challenges (401)."""
    return [(s.method, s.path) for s in proxy.seen if s.path != "/v2/" and s.status != 401]


def test_copying_again_costs_one_head_and_moves_nothing(
    capsys, docker_config, registry_plain, registry_token, unique_repo
):
    image = docker_manifest_list(f"{unique_repo}-x")
    push(registry_plain, unique_repo, image, "latest")
    with FaultProxy(registry_plain.host) as src, FaultProxy(registry_token.host) as dst:
        login(docker_config, dst)  # the proxy forwards Basic and Bearer alike
        source = f"{src.host}/{unique_repo}:latest"
        target = f"{dst.host}/{unique_repo}/promoted:stable"
        first = _copy(capsys, source, target)
        src.seen.clear()
        dst.seen.clear()
        again = _copy(capsys, source, target)
        source_requests = [(s.method, s.path) for s in src.seen]
        target_requests = _answered(dst)
        dst.seen.clear()
        retagged = _copy(capsys, source, f"{target}-2")
        retag_requests = _answered(dst)

    blobs = image.all_blobs()
    assert first["blobsFetched"] == len(blobs) and first["blobsMounted"] == 0
    assert first["bytesFetched"] == sum(b.size for b in blobs)
    assert first["manifestsFetched"] == len(image.walk())
    assert again["blobsFetched"] == 0 and again["blobsSkipped"] == len(blobs)
    assert again["manifestsFetched"] == 0 and again["manifestsSkipped"] == len(image.walk())
    # The destination is asked once, about the tag; the source gives only its manifests,
    # after the one /v2/ answer that detection reads (the host name does not decide).
    assert target_requests == [("HEAD", f"/v2/{unique_repo}/promoted/manifests/stable")]
    assert sorted(source_requests) == sorted(
        [("GET", "/v2/"), ("GET", f"/v2/{unique_repo}/manifests/latest")]
        + [("GET", f"/v2/{unique_repo}/manifests/{c.digest}") for c in image.children]
    )
    # The index is there under another tag: only that tag is written, no blob is asked about.
    assert retagged["manifestsFetched"] == 1 and retagged["blobsFetched"] == 0
    assert [m for m, p in retag_requests if "/blobs/" in p] == []
    assert ("PUT", f"/v2/{unique_repo}/promoted/manifests/stable-2") in retag_requests
    for tag in ("stable", "stable-2"):
        reference = f"{registry_token.host}/{unique_repo}/promoted:{tag}"
        assert registry_digest(registry_token, reference) == image.digest


def test_platform_picks_one_image_by_its_own_digest_and_all_is_the_default_spelled_out(
    capsys, docker_config, registry_plain, unique_repo
):
    index = oci_index(f"{unique_repo}-h")
    push(registry_plain, unique_repo, index, "multi")
    source = f"{registry_plain.host}/{unique_repo}:multi"
    one, every = (f"{registry_plain.host}/{unique_repo}/{name}:multi" for name in ("one", "all"))

    summary = _copy(capsys, source, one, "--platform", "linux/arm64")
    arm = index.children[1]
    assert summary["digest"] == arm.digest and summary["platform"] == "linux/arm64"
    assert summary["manifestsFetched"] == 1 and summary["blobsFetched"] == len(arm.blobs)
    assert registry_digest(registry_plain, one) == arm.digest

    summary = _copy(capsys, source, every, "--platform", "all")
    assert summary["digest"] == index.digest == registry_digest(registry_plain, every)


def test_help_says_what_copy_and_pull_take_by_default(capsys):
    def text(command: str) -> str:  # the help's words, without rich's panel borders
        return " ".join(re.sub(r"[│╭╮╰╯─]", " ", run_cli(capsys, command, "--help").out).split())

    assert "Default: the whole index" in text("copy")
    assert "default: this host's" in text("pull")


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


def test_copy_of_an_index_by_digest_pushes_the_whole_index_by_its_digest(
    capsys, docker_config, registry_plain, unique_repo
):
    index = buildx_index(f"{unique_repo}-idg")
    digest = push(registry_plain, unique_repo, index, "t")
    source = f"{registry_plain.host}/{unique_repo}@{digest}"
    target = f"{registry_plain.host}/{unique_repo}/whole"
    summary = _copy(capsys, source, target)
    assert summary["destination"] == f"{target}@{digest}"
    assert summary["manifestsFetched"] == len(index.walk())
    _same_bytes(index, (registry_plain, source), (registry_plain, f"{target}@{digest}"))


def test_copy_by_digest_with_a_platform_pushes_that_image_by_its_digest(
    capsys, docker_config, registry_plain, unique_repo
):
    index = oci_index(f"{unique_repo}-pdg")
    digest = push(registry_plain, unique_repo, index, "t")
    target = f"{registry_plain.host}/{unique_repo}/child"
    child = host_child(index)
    platform = f"{child.platform['os']}/{child.platform['architecture']}"
    summary = _copy(
        capsys, f"{registry_plain.host}/{unique_repo}@{digest}", target, "--platform", platform
    )
    assert summary["destination"] == f"{target}@{child.digest}"
    assert registry_digest(registry_plain, f"{target}@{child.digest}") == child.digest


def test_an_index_goes_whole_into_a_layout_and_back(
    capsys, docker_config, registry_plain, unique_repo, tmp_path
):
    index = docker_manifest_list(f"{unique_repo}-li")
    push(registry_plain, unique_repo, index, "v1")
    layout = tmp_path / "layout"
    down = _copy(capsys, f"{registry_plain.host}/{unique_repo}:v1", f"oci:{layout}:v1")
    assert down["digest"] == index.digest and down["platform"] == "all"
    assert layout_raw(layout, "v1") == index.manifest_bytes
    target = f"{registry_plain.host}/{unique_repo}/back:v1"
    up = _copy(capsys, f"oci:{layout}:v1", target)
    assert up["digest"] == index.digest
    _same_bytes(
        index, (registry_plain, f"{registry_plain.host}/{unique_repo}:v1"), (registry_plain, target)
    )


def test_a_pull_platform_in_the_job_env_leaves_copy_whole(
    capsys, monkeypatch, docker_config, registry_plain, unique_repo
):
    # A job that sets PORTSIDE_PLATFORM for its pulls still promotes the index it tested;
    # copy's own twin is PORTSIDE_COPY_PLATFORM.
    index = oci_index(f"{unique_repo}-env")
    push(registry_plain, unique_repo, index, "multi")
    source = f"{registry_plain.host}/{unique_repo}:multi"
    whole, one = (f"{registry_plain.host}/{unique_repo}/{name}:multi" for name in ("whole", "one"))
    monkeypatch.setenv("PORTSIDE_PLATFORM", "linux/arm64")
    assert _copy(capsys, source, whole)["digest"] == index.digest
    monkeypatch.setenv("PORTSIDE_COPY_PLATFORM", "linux/arm64")
    assert _copy(capsys, source, one)["digest"] == index.children[1].digest
