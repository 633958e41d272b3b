"""Archive writers: oci-archive (a tar of the layout) and docker-archive (what `docker load`
takes: `manifest.json`, `repositories`, the config and the layers).

Both stream files from a finished layout into a temp file beside the archive, renamed into
place at the end, so an interrupted pull never leaves a half-written archive under the
name asked for. Layers stay compressed in a docker-archive: `docker load` decompresses
them itself, as it does for the tarballs crane writes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from drivers.errors import InvalidInput
from drivers.manifest import Manifest, media_type_of
from drivers.reference import parse_reference
from drivers.transfer.layout import IMAGE_NAME, INDEX_FILE, OCI_LAYOUT_FILE, TMP_PREFIX, Layout
from drivers.transfer.layout import write_error as _write_error

_COPY_BUFFER = 1 << 20


@contextmanager
def _archive(target: Path) -> Iterator[tarfile.TarFile]:
    fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=target.parent)
    temp = Path(name)
    try:
        with (
            os.fdopen(fd, "wb") as file,
            tarfile.open(fileobj=file, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            tar.copybufsize = _COPY_BUFFER  # the 16 KiB default makes big layers slow
            yield tar
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except OSError as exc:
        raise _write_error(exc, "the archive", target) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o644
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> None:
    info = tar.gettarinfo(str(path), arcname=name)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o644
    with path.open("rb") as file:
        tar.addfile(info, file)


def write_oci_archive(layout: Layout, target: Path) -> None:
    """The layout as a tar: `oci-layout`, `index.json`, `blobs/<alg>/<hex>`."""
    with _archive(target) as tar:
        _add_file(tar, OCI_LAYOUT_FILE, layout.root / OCI_LAYOUT_FILE)
        _add_file(tar, INDEX_FILE, layout.root / INDEX_FILE)
        _add_dir(tar, "blobs")
        for directory in sorted(p for p in (layout.root / "blobs").iterdir() if p.is_dir()):
            _add_dir(tar, f"blobs/{directory.name}")
            for blob in sorted(directory.iterdir()):
                if not blob.name.startswith(TMP_PREFIX):
                    _add_file(tar, f"blobs/{directory.name}/{blob.name}", blob)


def _layer_suffix(media_type: str) -> str:
    if "zstd" in media_type:
        return ".tar.zst"
    if "gzip" in media_type:
        return ".tar.gz"
    return ".tar"


def _chain_id(diff_ids: list[str]) -> str:
    """Docker's ChainID of the layer stack, the ID `repositories` names the image by."""
    chain = ""
    for diff_id in diff_ids:
        chain = diff_id if not chain else _sha256(f"{chain} {diff_id}".encode())
    return chain


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_docker_archive(layout: Layout, target: Path) -> None:
    """Every image of the layout's index as `docker load` expects it, tagged by reference."""
    entries: list[dict[str, object]] = []
    repositories: dict[str, dict[str, str]] = {}
    with _archive(target) as tar:
        written: set[str] = set()
        for descriptor in layout.entries():
            body = layout.read_bytes(descriptor.digest)
            manifest = Manifest(media_type_of(body, descriptor.media_type), descriptor.digest, body)
            config = manifest.config
            if manifest.is_index or config is None:
                raise InvalidInput(
                    f"{descriptor.digest} is not a single-platform image; "
                    "a docker-archive cannot hold it",
                    hint="pick one --platform, or use --format oci or oci-archive",
                )
            config_name = f"{config.digest.partition(':')[2]}.json"
            layer_names = [
                f"{layer.digest.partition(':')[2]}{_layer_suffix(layer.media_type)}"
                for layer in manifest.layers
            ]
            for name, blob in zip(
                [config_name, *layer_names], [config, *manifest.layers], strict=True
            ):
                if name not in written:
                    _add_file(tar, name, layout.blob_path(blob.digest))
                    written.add(name)
            repo_tags = []
            reference_text = descriptor.annotations.get(IMAGE_NAME)
            if reference_text:
                reference = parse_reference(reference_text, default_tag=None)
                if reference.tag:
                    repo_tags.append(f"{reference.repository.familiar}:{reference.tag}")
                    diff_ids = _diff_ids(layout.read_bytes(config.digest))
                    top = _chain_id(diff_ids).partition(":")[2]
                    if top:
                        repositories.setdefault(reference.repository.familiar, {})[
                            reference.tag
                        ] = top
            entries.append({"Config": config_name, "RepoTags": repo_tags, "Layers": layer_names})
        _add_bytes(tar, "manifest.json", json.dumps(entries, separators=(",", ":")).encode())
        _add_bytes(tar, "repositories", json.dumps(repositories, separators=(",", ":")).encode())


def _diff_ids(config: bytes) -> list[str]:
    try:
        doc = json.loads(config)
        return [str(d) for d in doc["rootfs"]["diff_ids"]]
    except (ValueError, KeyError, TypeError):
        return []
