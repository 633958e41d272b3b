"""Bad input for `portside pull` and `portside copy`: one clear message and the right exit code,
with nothing changed on disk (DESIGN.md "Exit codes")."""

from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.transfer.layout import TMP_PREFIX
from tests.bed import oci_index, schema2_image
from tests.cli import run_cli
from tests.transfer_helpers import blob_files, index_entries, push


def _tree(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


def test_unknown_image_is_exit_1_naming_it(
    capsys, docker_config, registry_plain, unique_repo, tmp_path
):
    reference = f"{registry_plain.host}/{unique_repo}:nope"
    result = run_cli(capsys, "pull", reference, "--dest", str(tmp_path / "out"))
    assert result.code == 1
    assert f"{registry_plain.host}/{unique_repo}:nope" in result.err
    assert "not found" in result.err and "portside tags" in result.err
    assert "Traceback" not in result.err
    assert index_entries(tmp_path / "out") == []  # a valid, empty layout


def test_unknown_platform_is_exit_1_listing_the_platforms(
    capsys, docker_config, registry_plain, unique_repo, tmp_path
):
    push(registry_plain, unique_repo, oci_index(f"{unique_repo}-p"), "multi")
    result = run_cli(
        capsys,
        "pull",
        f"{registry_plain.host}/{unique_repo}:multi",
        "--platform",
        "linux/s390x",
        "--dest",
        str(tmp_path / "out"),
    )
    assert result.code == 1
    assert "no image for platform linux/s390x" in result.err
    assert "linux/amd64, linux/arm64" in result.err
    assert "--platform all" in result.err


def test_explicit_platform_must_match_a_single_image(
    capsys, docker_config, registry_plain, unique_repo, tmp_path
):
    push(
        registry_plain, unique_repo, schema2_image(f"{unique_repo}-1", platform="linux/amd64"), "x"
    )
    result = run_cli(
        capsys,
        "pull",
        f"{registry_plain.host}/{unique_repo}:x",
        "--platform",
        "linux/arm64",
        "--dest",
        str(tmp_path / "out"),
    )
    assert result.code == 1
    assert "it has linux/amd64" in result.err


@pytest.mark.parametrize("what", ["directory", "file"])
def test_dest_that_is_not_a_layout_is_exit_2_and_untouched(
    capsys, docker_config, registry_plain, unique_repo, tmp_path, what
):
    push(registry_plain, unique_repo, schema2_image(f"{unique_repo}-d"), "v")
    dest = tmp_path / "dest"
    if what == "directory":
        dest.mkdir()
        (dest / "notes.txt").write_text("mine")
    else:
        dest.write_text("mine")
    before = _tree(tmp_path)

    result = run_cli(capsys, "pull", f"{registry_plain.host}/{unique_repo}:v", "--dest", str(dest))

    assert result.code == 2
    assert f"--dest {dest} exists and is not" in result.err
    assert "hint:" in result.err
    assert _tree(tmp_path) == before


def test_dockerfile_without_from_is_exit_2(capsys, docker_config, tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("# just a comment\nARG X=1\nRUN echo hi\n")
    result = run_cli(
        capsys, "pull", "--from-dockerfile", str(dockerfile), "--dest", str(tmp_path / "out")
    )
    assert result.code == 2
    assert f"{dockerfile} has no FROM line" in result.err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pull", "--dest", "{tmp}/o"], "no image to pull"),
        (["pull", "a/b", "--dest", "{tmp}/o", "--format", "zip"], "unknown --format 'zip'"),
        (["pull", "a/b", "--dest", "{tmp}/o", "--platform", "linux"], "invalid platform"),
        (["pull", "group/UPPER", "--dest", "{tmp}/o"], "lowercase"),
        (
            [
                "pull",
                "a/b",
                "--dest",
                "{tmp}/o.tar",
                "--format",
                "docker-archive",
                "--platform",
                "all",
            ],
            "cannot go there",
        ),
        (["copy", "oci:{tmp}/a:x", "oci:{tmp}/b:y"], "copy between two layouts"),
        (["copy", "oci:{tmp}/missing:x", "localhost:1/a:b"], "not an OCI image layout"),
        (["copy", "docker-archive:x.tar", "localhost:1/a:b"], "only registries and oci:"),
    ],
)
def test_bad_arguments_are_exit_2(capsys, docker_config, tmp_path, args, message):
    result = run_cli(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.code == 2, result.text
    assert message in result.err
    assert "Traceback" not in result.err


def _limit_file_size() -> None:
    # Python ignores SIGXFSZ, so a write past the limit fails with EFBIG, as a full disk
    # fails with ENOSPC: both end in the same error path.
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))


def test_a_full_disk_is_exit_1_and_leaves_no_partial_blob(
    docker_config, registry_plain, unique_repo, tmp_path
):
    small = schema2_image(f"{unique_repo}-small", layers=1, layer_size=1024)
    big = schema2_image(f"{unique_repo}-big", layers=2, layer_size=600 * 1024)
    push(registry_plain, unique_repo, small, "small")
    push(registry_plain, unique_repo, big, "big")
    dest = tmp_path / "layout"
    portside = [sys.executable, "-m", "ci_env"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)}
    first = subprocess.run(
        [*portside, "pull", f"{registry_plain.host}/{unique_repo}:small", "--dest", str(dest)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert first.returncode == 0, first.stderr
    before = _tree(dest)

    result = subprocess.run(
        [*portside, "pull", f"{registry_plain.host}/{unique_repo}:big", "--dest", str(dest)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        preexec_fn=_limit_file_size,
    )

    assert result.returncode == 1, result.stderr
    assert "no space left on the device" in result.stderr
    assert "Traceback" not in result.stderr
    assert not [p for p in blob_files(dest) if p.name.startswith(TMP_PREFIX)]
    for path in blob_files(dest):  # complete, verified blobs only
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
    assert (dest / "index.json").read_bytes() == before["index.json"]  # the old content


@pytest.mark.parametrize("digest", ["sha256:../../../etc/passwd", "sha256:/abs", "../x:y", "x"])
def test_a_digest_never_names_a_path_outside_the_layout(tmp_path, digest):
    from drivers.errors import ProtocolError
    from drivers.transfer.layout import Layout

    with pytest.raises(ProtocolError, match="invalid digest"):
        Layout(tmp_path).blob_path(digest)
    assert Layout(tmp_path).blob_path("sha256:" + "a" * 64).parent == tmp_path / "blobs/sha256"
