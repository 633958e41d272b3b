"""`portside pull` through the fault proxy (tests/faultproxy.py) in front of a real registry:
transient faults still give a correct pull; corruption fails naming the digest and leaves
no corrupt or partial blob behind."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from drivers.transfer.layout import TMP_PREFIX
from tests.bed import oci_image, schema2_image
from tests.cli import run_cli
from tests.faultproxy import Cut, FaultProxy, Flip, IgnoreRange, Status
from tests.transfer_helpers import blob_files, index_entries, layout_digest, push

pytestmark = pytest.mark.usefixtures("require_skopeo")

LAYER_SIZE = 3 * 1024 * 1024  # several chunks, so a cut lands mid-blob


@pytest.fixture
def proxy(registry_plain) -> Iterator[FaultProxy]:
    with FaultProxy(registry_plain.host) as running:
        yield running


@pytest.fixture
def image(registry_plain, unique_repo):
    built = schema2_image(f"{unique_repo}-faults", layers=2, layer_size=LAYER_SIZE)
    push(registry_plain, unique_repo, built, "v")
    return built


def _pull(capsys, proxy: FaultProxy, unique_repo: str, dest):
    return run_cli(capsys, "pull", f"{proxy.host}/{unique_repo}:v", "--dest", str(dest))


def _assert_clean(dest) -> None:
    """Only complete blobs whose content matches their name; no temp files."""
    for path in blob_files(dest):
        assert not path.name.startswith(TMP_PREFIX), path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name


def test_a_cut_mid_blob_resumes_with_range(
    capsys, docker_config, proxy, image, unique_repo, tmp_path
):
    layer = image.layers[0]
    proxy.add(Cut(digest=layer.digest, after=1_500_000))
    dest = tmp_path / "layout"

    result = _pull(capsys, proxy, unique_repo, dest)

    assert result.code == 0, result.err
    assert layout_digest(dest, "v") == image.digest
    gets = proxy.blob_gets(layer.digest)
    assert [g.fault for g in gets] == ["Cut", ""]
    assert gets[0].headers.get("Range") is None
    resumed_at = int(gets[1].headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= 1_500_000  # only what was lost is fetched again
    assert gets[1].status == 206
    assert "retrying from byte" in result.err
    _assert_clean(dest)


def test_a_registry_without_range_restarts_the_blob(
    capsys, docker_config, proxy, image, unique_repo, tmp_path
):
    layer = image.layers[1]
    proxy.add(Cut(digest=layer.digest, after=2_000_000), IgnoreRange(digest=layer.digest))
    dest = tmp_path / "layout"

    result = _pull(capsys, proxy, unique_repo, dest)

    assert result.code == 0, result.err
    assert layout_digest(dest, "v") == image.digest
    assert [(g.fault, g.status) for g in proxy.blob_gets(layer.digest)] == [
        ("Cut", 200),
        ("IgnoreRange", 200),
    ]
    assert (dest / "blobs/sha256" / layer.digest[7:]).read_bytes() == layer.data


def test_500_and_429_with_retry_after_are_retried(
    capsys, docker_config, proxy, image, unique_repo, tmp_path
):
    proxy.add(
        Status(digest=image.layers[0].digest, code=500, times=2),
        Status(digest=image.layers[1].digest, code=429, retry_after="1"),
    )
    dest = tmp_path / "layout"

    result = _pull(capsys, proxy, unique_repo, dest)

    assert result.code == 0, result.err
    assert layout_digest(dest, "v") == image.digest
    assert [g.status for g in proxy.blob_gets(image.layers[0].digest)] == [500, 500, 200]
    assert [g.status for g in proxy.blob_gets(image.layers[1].digest)] == [429, 200]
    _assert_clean(dest)


def test_a_flipped_byte_is_exit_1_naming_the_digest(
    capsys, docker_config, registry_plain, proxy, image, unique_repo, tmp_path
):
    good = oci_image(f"{unique_repo}-good")
    push(registry_plain, unique_repo, good, "good")
    dest = tmp_path / "layout"
    assert (
        run_cli(capsys, "pull", f"{proxy.host}/{unique_repo}:good", "--dest", str(dest)).code == 0
    )
    before = (dest / "index.json").read_bytes()
    layer = image.layers[0]
    proxy.add(Flip(digest=layer.digest, at=1_000_000, times=100))

    result = _pull(capsys, proxy, unique_repo, dest)

    assert result.code == 1
    assert f"blob {layer.digest}" in result.err and "Traceback" not in result.err
    assert not (dest / "blobs/sha256" / layer.digest[7:]).exists()
    assert (dest / "index.json").read_bytes() == before  # the old content, still valid
    assert layout_digest(dest, "good") == good.digest
    assert len(proxy.blob_gets(layer.digest)) == 1  # corruption is final, not retried
    _assert_clean(dest)


def test_a_connection_that_keeps_breaking_gives_up_within_the_budget(
    capsys, docker_config, proxy, image, unique_repo, tmp_path
):
    layer = image.layers[0]
    proxy.add(Cut(digest=layer.digest, after=300_000, times=100))
    dest = tmp_path / "layout"

    result = _pull(capsys, proxy, unique_repo, dest)

    assert result.code == 1
    assert f"blob {layer.digest}" in result.err and "kept breaking" in result.err
    assert len(proxy.blob_gets(layer.digest)) == 5  # the transport's retry budget
    assert index_entries(dest) == []
    _assert_clean(dest)


def test_bad_content_after_a_resume_restarts_the_blob_once(
    capsys, docker_config, proxy, image, unique_repo, tmp_path
):
    layer = image.layers[0]
    proxy.add(Cut(digest=layer.digest, after=1_000_000), Flip(digest=layer.digest, at=10))
    dest = tmp_path / "layout"

    result = _pull(capsys, proxy, unique_repo, dest)

    assert result.code == 0, result.err
    gets = proxy.blob_gets(layer.digest)
    assert [g.fault for g in gets] == ["Cut", "Flip", ""]
    assert "Range" in gets[1].headers and "Range" not in gets[2].headers
    assert layout_digest(dest, "v") == image.digest
    _assert_clean(dest)
