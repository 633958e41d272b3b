"""Pulling again into the same layout: the verified-blob record spares re-hashing blobs that
did not change, and never vouches for one that did. Layouts are read back by skopeo."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from drivers.transfer import layout as layout_module
from drivers.transfer.verified import cache_dir
from tests.bed import docker_manifest_list, schema2_image
from tests.bed.skopeo import skopeo
from tests.cli import run_cli
from tests.faultproxy import FaultProxy
from tests.transfer_helpers import host_child, layout_digest, push

pytestmark = pytest.mark.usefixtures("require_skopeo")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv("PORTSIDE_CACHE_DIR", str(directory))
    return directory


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files in a layout that portside hashes to check a present blob."""
    names: list[str] = []
    real = layout_module.hash_file

    def counting(file, algorithm="sha256"):
        names.append(Path(file.name).name)
        return real(file, algorithm)

    monkeypatch.setattr(layout_module, "hash_file", counting)
    return names


def _pull(capsys, *args: str) -> dict:
    result = run_cli(capsys, "pull", "--json", *args)
    assert result.code == 0, result.err
    (summary,) = json.loads(result.out)
    return summary


def _records(directory: Path) -> list[Path]:
    return sorted(directory.glob("verified-*.json"))


def _stored(dest: Path) -> set[str]:
    """The hex names of the blobs in a layout: configs, layers and manifests."""
    return {p.name for p in (dest / "blobs/sha256").iterdir()}


def _requests(proxy: FaultProxy) -> list[tuple[str, str]]:
    """The registry API calls seen, without the version check."""
    return [(s.method, s.path) for s in proxy.seen if s.path not in ("/v2/", "/v2")]


def _pulled(registry, repo: str, tag: str = "v", **shape: int):
    image = schema2_image(f"{repo}-{tag}", **shape)
    push(registry, repo, image, tag)
    return image, f"{registry.host}/{repo}:{tag}"


def test_pulling_again_hashes_no_unchanged_blob(
    capsys, docker_config, registry_plain, unique_repo, tmp_path, cache, hashed
):
    image, reference = _pulled(registry_plain, unique_repo, layers=3, layer_size=64 * 1024)
    dest = tmp_path / "layout"
    _pull(capsys, reference, "--dest", str(dest))
    assert hashed == []  # downloads are hashed as they stream, not read back
    index = (dest / "index.json").stat()

    again = _pull(capsys, reference, "--dest", str(dest))

    assert hashed == []
    assert again["blobsFetched"] == 0 and again["blobsSkipped"] == len(image.blobs)
    assert layout_digest(dest, "v") == image.digest
    after = (dest / "index.json").stat()  # unchanged, so not rewritten
    assert (after.st_ino, after.st_mtime_ns) == (index.st_ino, index.st_mtime_ns)
    (record,) = _records(cache)
    # Without the record, the same pull checks every present blob by hashing it.
    record.unlink()
    _pull(capsys, reference, "--dest", str(dest))
    assert sorted(hashed) == sorted(_stored(dest))


def test_a_blob_rewritten_in_place_with_its_mtime_restored_is_fetched_again(
    capsys, docker_config, registry_plain, unique_repo, tmp_path, cache, hashed
):
    image, reference = _pulled(registry_plain, unique_repo, layers=2, layer_size=4096)
    dest = tmp_path / "layout"
    _pull(capsys, reference, "--dest", str(dest))
    layer = dest / "blobs/sha256" / image.layers[0].digest[7:]
    before = layer.stat()
    with layer.open("r+b") as file:  # same inode, same size, other content
        file.seek(10)
        file.write(bytes([image.layers[0].data[10] ^ 0xFF]))
    os.utime(layer, ns=(before.st_atime_ns, before.st_mtime_ns))
    tampered = layer.stat()
    assert (tampered.st_ino, tampered.st_size, tampered.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )

    again = _pull(capsys, reference, "--dest", str(dest))

    assert hashed == [layer.name]  # only the changed file was read
    assert again["blobsFetched"] == 1 and again["blobsSkipped"] == len(image.blobs) - 1
    assert layer.read_bytes() == image.layers[0].data
    assert layout_digest(dest, "v") == image.digest
    config = skopeo("inspect", "--config", "--raw", f"oci:{dest}:v", text=False).stdout
    assert config == image.config.data
    hashed.clear()  # the fetched blob is recorded in turn
    _pull(capsys, reference, "--dest", str(dest))
    assert hashed == []


@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[]", b'{"format": 1, "layout": "/elsewhere", "blobs": {}}', b"\xff" * 64],
    ids=["garbage", "a-list", "another-layout", "binary"],
)
def test_a_corrupt_record_is_ignored_and_replaced(
    capsys, docker_config, registry_plain, unique_repo, tmp_path, cache, hashed, content
):
    image, reference = _pulled(registry_plain, unique_repo)
    dest = tmp_path / "layout"
    _pull(capsys, reference, "--dest", str(dest))
    (record,) = _records(cache)
    record.write_bytes(content)

    again = run_cli(capsys, "pull", reference, "--dest", str(dest))

    assert again.code == 0, again.err
    assert "Traceback" not in again.err and "record" not in again.err
    assert sorted(hashed) == sorted(_stored(dest))  # every blob checked the long way
    assert layout_digest(dest, "v") == image.digest
    assert json.loads(record.read_text())["layout"] == str(dest.resolve())
    hashed.clear()
    _pull(capsys, reference, "--dest", str(dest))
    assert hashed == []


def test_a_record_entry_of_another_shape_is_not_trusted(
    capsys, docker_config, registry_plain, unique_repo, tmp_path, cache, hashed
):
    _, reference = _pulled(registry_plain, unique_repo)
    dest = tmp_path / "layout"
    _pull(capsys, reference, "--dest", str(dest))
    (record,) = _records(cache)
    doc = json.loads(record.read_text())
    digest = next(iter(doc["blobs"]))
    doc["blobs"][digest] = [str(v) for v in doc["blobs"][digest]]  # strings, not numbers
    record.write_text(json.dumps(doc))

    _pull(capsys, reference, "--dest", str(dest))

    assert sorted(hashed) == sorted(_stored(dest))


def test_the_cache_directory_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PORTSIDE_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("PORTSIDE_CACHE_DIR")
    assert cache_dir() == tmp_path / "xdg" / "portside"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the XDG spec says: ignore it
    assert cache_dir() == tmp_path / "home" / ".cache" / "portside"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == tmp_path / "home" / ".cache" / "portside"


def test_records_go_to_portside_cache_dir_else_xdg_cache_home(
    capsys, docker_config, registry_plain, unique_repo, tmp_path, monkeypatch
):
    _, reference = _pulled(registry_plain, unique_repo)
    explicit, xdg = tmp_path / "explicit", tmp_path / "xdg"
    monkeypatch.setenv("PORTSIDE_CACHE_DIR", str(explicit))
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    _pull(capsys, reference, "--dest", str(tmp_path / "one"))
    assert len(_records(explicit)) == 1 and not xdg.exists()

    monkeypatch.delenv("PORTSIDE_CACHE_DIR")
    _pull(capsys, reference, "--dest", str(tmp_path / "two"))
    assert len(_records(xdg / "portside")) == 1
    assert len(_records(explicit)) == 1  # one record per layout


def test_the_layout_holds_nothing_but_the_image(
    capsys, docker_config, registry_plain, unique_repo, tmp_path, monkeypatch, hashed
):
    image, reference = _pulled(registry_plain, unique_repo)
    dest = tmp_path / "layout"
    # Even a cache directory named inside the layout is not used: it would not be pure OCI.
    monkeypatch.setenv("PORTSIDE_CACHE_DIR", str(dest / "cache"))
    _pull(capsys, reference, "--dest", str(dest))
    _pull(capsys, reference, "--dest", str(dest))

    files = {str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()}
    blobs = {f"blobs/sha256/{name}" for name in _stored(dest)}
    assert files == {"oci-layout", "index.json", *blobs}
    assert len(blobs) == len(image.blobs) + 1  # and the manifest
    assert sorted(hashed) == sorted(_stored(dest))  # no record, so checked by hashing
    assert layout_digest(dest, "v") == image.digest


def test_an_unwritable_cache_never_fails_a_pull(
    capsys, docker_config, registry_plain, unique_repo, tmp_path, monkeypatch
):
    image, reference = _pulled(registry_plain, unique_repo)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("PORTSIDE_CACHE_DIR", str(blocker / "cache"))
    dest = tmp_path / "layout"

    for _ in range(2):
        result = run_cli(capsys, "pull", reference, "--dest", str(dest))
        assert result.code == 0, result.err
        assert "Traceback" not in result.err and "record" not in result.err

    assert layout_digest(dest, "v") == image.digest


def test_an_archive_pull_leaves_no_record(
    capsys, docker_config, registry_plain, unique_repo, tmp_path, cache
):
    _, reference = _pulled(registry_plain, unique_repo)
    _pull(capsys, reference, "--format", "oci-archive", "--dest", str(tmp_path / "image.tar"))
    assert not cache.exists() or _records(cache) == []  # its staging layout is gone


def test_pulling_again_reads_by_digest_from_the_layout_and_the_tag_from_the_registry(
    capsys, docker_config, registry_plain, unique_repo, tmp_path, cache
):
    first = docker_manifest_list(f"{unique_repo}-l1", ["linux/amd64", "linux/arm64"])
    second = docker_manifest_list(f"{unique_repo}-l2", ["linux/amd64", "linux/arm64"])
    push(registry_plain, unique_repo, first, "multi")
    dest = tmp_path / "layout"
    with FaultProxy(registry_plain.host) as proxy:  # only to watch the requests
        reference = f"{proxy.host}/{unique_repo}:multi"
        _pull(capsys, reference, "--dest", str(dest))

        proxy.seen.clear()
        _pull(capsys, reference, "--dest", str(dest))
        assert _requests(proxy) == [("GET", f"/v2/{unique_repo}/manifests/multi")]

        push(registry_plain, unique_repo, second, "multi")  # the tag moves
        proxy.seen.clear()
        moved = _pull(capsys, reference, "--dest", str(dest))
        child = host_child(second)
        assert ("GET", f"/v2/{unique_repo}/manifests/{child.digest}") in _requests(proxy)
        assert moved["digest"] == child.digest and moved["blobsFetched"] == len(child.blobs)

        # A stored child manifest that no longer matches its digest is read again.
        stored = dest / "blobs/sha256" / child.digest[7:]
        stored.write_bytes(stored.read_bytes().replace(b"schemaVersion", b"schemaVersioN"))
        proxy.seen.clear()
        _pull(capsys, reference, "--dest", str(dest))
        assert _requests(proxy) == [
            ("GET", f"/v2/{unique_repo}/manifests/multi"),
            ("GET", f"/v2/{unique_repo}/manifests/{child.digest}"),
        ]
    assert stored.read_bytes() == child.manifest_bytes
    assert layout_digest(dest, "multi") == child.digest


def test_copy_into_a_layout_again_hashes_no_unchanged_blob(
    capsys, docker_config, registry_plain, unique_repo, tmp_path, cache, hashed
):
    image, reference = _pulled(registry_plain, unique_repo, layers=2)
    target = f"oci:{tmp_path / 'layout'}:copied"
    for _ in range(2):
        result = run_cli(capsys, "copy", reference, target)
        assert result.code == 0, result.err
    assert hashed == []
    assert layout_digest(tmp_path / "layout", "copied") == image.digest
