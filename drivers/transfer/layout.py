"""An OCI image layout on disk: `oci-layout`, `index.json` and `blobs/<alg>/<hex>`.

Writes are atomic so that an interrupted pull leaves a valid layout with its old content:
every blob goes to a temp file in its final directory and is renamed into place only once
its digest and size are verified; `index.json` is replaced last, by rename. A new layout
gets its `oci-layout` and an empty `index.json` first, so it is valid from the start.

Blobs already present count only once their content hashes to their digest; the
verified-blob record (`verified`) spares re-hashing a file that has not changed since.

Each `index.json` entry written here carries two annotations: the tag as
`org.opencontainers.image.ref.name` (the convention of skopeo's `oci:DIR:TAG` and
BuildKit), and the full reference as `io.containerd.image.name` (containerd, nerdctl).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, BinaryIO

from drivers.digest import new_hash
from drivers.errors import InvalidInput, PortsideError, ProtocolError
from drivers.manifest import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
)
from drivers.transfer.verified import VerifiedBlobs

OCI_LAYOUT_FILE = "oci-layout"
INDEX_FILE = "index.json"
REF_NAME = "org.opencontainers.image.ref.name"
IMAGE_NAME = "io.containerd.image.name"
TMP_PREFIX = ".portside-tmp-"
_LAYOUT_DOC = {"imageLayoutVersion": "1.0.0"}
_STALE_SECONDS = 3600  # temp files older than this are left-overs of a killed pull
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
HASH_CHUNK = 1 << 20
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
# containers/image (skopeo, podman, buildah) looks a tag up in index.json only among entries
# typed as OCI manifests or indexes. A Docker manifest is stored byte for byte (its digest
# must not change) and listed under the OCI type of the same shape, so that they find it;
# containerd checks the shape, not the name, and the blob keeps its own `mediaType`.
_INDEX_TYPE = {DOCKER_MANIFEST: OCI_MANIFEST, DOCKER_MANIFEST_LIST: OCI_INDEX}


def write_error(exc: OSError, what: str, where: Path) -> PortsideError:
    """The error for a failed write: a full disk says so, with what was (not) left behind."""
    if exc.errno in _FULL:
        return PortsideError(
            f"no space left on the device writing {what} into {where}",
            hint="free some space or choose another --dest; no partial blob was left behind",
        )
    return PortsideError(
        f"cannot write {what} into {where}: {exc.strerror or exc}",
        hint="check that the destination is writable",
    )


def hash_file(file: BinaryIO, algorithm: str = "sha256") -> str:
    """`alg:hex` of an open file's content, read in chunks (hashlib releases the GIL on them)."""
    digest = new_hash(algorithm)
    buffer = bytearray(HASH_CHUNK)
    view = memoryview(buffer)
    while count := file.readinto(buffer):
        digest.update(view[:count])
    return f"{algorithm}:{digest.hexdigest()}"


class Layout:
    """One OCI image layout directory. `create` or `open` it; the constructor does no I/O."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._verified: set[str] = set()  # digests checked or written during this run
        self._record: VerifiedBlobs | None = None

    @classmethod
    def create(cls, root: Path, *, remember: bool = False) -> Layout:
        """Open a layout for writing, making it when `root` is missing or an empty directory.

        Anything else at `root` is bad input, and nothing is changed. With `remember`, the
        blobs verified are remembered across runs (see `verified`), written down by
        `save_verified()` or on leaving `with layout:`. A layout made afresh each time (an
        archive's staging directory) has nothing worth remembering.
        """
        layout = cls(root)
        if root.exists() and not root.is_dir():
            raise InvalidInput(
                f"--dest {root} exists and is not a directory",
                hint="choose a new directory, or an existing OCI image layout",
            )
        if root.is_dir() and not (root / OCI_LAYOUT_FILE).exists() and any(root.iterdir()):
            raise InvalidInput(
                f"--dest {root} exists and is not an OCI image layout (it has no oci-layout)",
                hint="choose a new or empty directory, or an existing OCI image layout",
            )
        if layout.is_layout():
            layout._check_version()
            layout._remove_stale_temp_files()
        else:
            try:
                (root / "blobs").mkdir(parents=True, exist_ok=True)
                layout._replace(OCI_LAYOUT_FILE, json.dumps(_LAYOUT_DOC).encode())
                layout._write_index({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
            except OSError as exc:
                raise write_error(exc, "the layout", root) from None
        if remember:
            layout._record = VerifiedBlobs.load(root, layout._filesystem_now)
        return layout

    @classmethod
    def open(cls, root: Path) -> Layout:
        """Open an existing layout for reading."""
        layout = cls(root)
        if not layout.is_layout():
            raise InvalidInput(
                f"{root} is not an OCI image layout (no oci-layout file)",
                hint="give the directory that holds oci-layout and index.json",
            )
        layout._check_version()
        return layout

    def is_layout(self) -> bool:
        return (self.root / OCI_LAYOUT_FILE).is_file()

    def _check_version(self) -> None:
        try:
            doc = json.loads((self.root / OCI_LAYOUT_FILE).read_bytes())
            version = str(doc["imageLayoutVersion"])
        except (OSError, ValueError, KeyError, TypeError):
            raise InvalidInput(
                f"{self.root / OCI_LAYOUT_FILE} is not a valid oci-layout file",
                hint="repair or remove the layout directory",
            ) from None
        if not version.startswith("1."):
            raise InvalidInput(f"{self.root}: unsupported image layout version {version}")

    # -- blobs ---------------------------------------------------------------------------

    def blob_path(self, digest: str) -> Path:
        """Where a blob lives. The digest comes from a manifest, so it is checked against the
        OCI digest grammar first: it must never name a path outside the layout."""
        if not _DIGEST.fullmatch(digest):
            raise ProtocolError(f"a manifest names an invalid digest {digest[:80]!r}")
        algorithm, _, encoded = digest.partition(":")
        return self.root / "blobs" / algorithm / encoded

    def has_blob(self, digest: str, size: int | None = None) -> bool:
        """True when the blob is present and its content hashes to its digest.

        A file the verified-blob record vouches for is not read again. A blob of the wrong
        size or content is treated as absent, to be fetched again.
        """
        if digest in self._verified:
            return True
        record = self._record
        try:
            with self.blob_path(digest).open("rb", buffering=0) as file:
                stat = os.fstat(file.fileno())  # before reading: what the hash vouches for
                if size is not None and stat.st_size != size:
                    return False
                if record is None or not record.matches(digest, stat):
                    if hash_file(file, digest.partition(":")[0]) != digest:
                        if record is not None:
                            record.forget(digest)
                        return False
                    if record is not None:
                        record.hashed(digest, stat)
        except (OSError, ValueError):
            return False
        self._verified.add(digest)
        return True

    def temp_blob(self, digest: str) -> tuple[int, Path]:
        """A new temp file (fd, path) beside where `digest` will live."""
        directory = self.blob_path(digest).parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=directory)
        except OSError as exc:
            raise write_error(exc, f"blob {digest}", self.root) from None
        return fd, Path(name)

    def commit_blob(self, temp: Path, digest: str) -> None:
        """Move a verified temp file to its digest name."""
        path = self.blob_path(digest)
        try:
            os.chmod(temp, 0o644)
            written = os.stat(temp)
            os.replace(temp, path)
        except OSError as exc:
            raise write_error(exc, f"blob {digest}", self.root) from None
        self._verified.add(digest)
        if self._record is not None:
            with contextlib.suppress(OSError):
                stat = os.stat(path)  # the rename moved its ctime
                if (stat.st_dev, stat.st_ino) == (written.st_dev, written.st_ino):
                    self._record.written(digest, stat)

    def __enter__(self) -> Layout:
        return self

    def __exit__(self, *exc: object) -> None:
        """The end of a pull, even a failed one: what was verified stays verified."""
        self.save_verified()

    def save_verified(self) -> None:
        """Write down the verified-blob record, once, at the end of a pull. Never fails."""
        if self._record is not None:
            self._record.save(self._current_stat)

    def _current_stat(self, digest: str) -> os.stat_result | None:
        try:
            return os.stat(self.blob_path(digest))
        except (OSError, ProtocolError):
            return None

    def _filesystem_now(self) -> int:
        """The current time as this layout's filesystem stamps a file's ctime."""
        fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=self.root)
        try:
            return os.fstat(fd).st_ctime_ns
        finally:
            os.close(fd)
            os.unlink(name)

    def put_bytes(self, digest: str, data: bytes) -> bool:
        """Store a small blob (a manifest or config) that is already in memory and verified;
        False when the layout already had it."""
        if self.has_blob(digest, len(data)):
            return False
        fd, temp = self.temp_blob(digest)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            self.commit_blob(temp, digest)
        except OSError as exc:
            raise write_error(exc, f"blob {digest}", self.root) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        return True

    def read_bytes(self, digest: str) -> bytes:
        try:
            return self.blob_path(digest).read_bytes()
        except FileNotFoundError:
            raise InvalidInput(
                f"{self.root} lacks blob {digest} that its index refers to",
                hint="the layout is incomplete; pull the image into it again",
            ) from None

    def _remove_stale_temp_files(self) -> None:
        cutoff = time.time() - _STALE_SECONDS
        for temp in (self.root / "blobs").glob(f"*/{TMP_PREFIX}*"):
            with contextlib.suppress(OSError):
                if temp.stat().st_mtime < cutoff:
                    temp.unlink()

    # -- index.json ----------------------------------------------------------------------

    def _read_index(self) -> dict[str, Any]:
        path = self.root / INDEX_FILE
        try:
            doc = json.loads(path.read_bytes())
        except FileNotFoundError:
            return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        except ValueError:
            raise InvalidInput(f"{path} is not valid JSON", hint="repair or remove it") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("manifests", []), list):
            raise InvalidInput(f"{path} is not an image index", hint="repair or remove it")
        doc.setdefault("manifests", [])
        return doc

    def entries(self) -> list[Descriptor]:
        return [Descriptor.from_json(entry) for entry in self._read_index()["manifests"]]

    def add(self, descriptor: Descriptor, reference: str, tag: str | None) -> list[str]:
        """Point `reference` (and `tag`) at `descriptor`, replacing its previous entry.

        A tag names one entry (skopeo's `oci:DIR:TAG` takes the first match), so an entry
        of another reference with the same tag loses its tag annotation but keeps its
        reference name. Returns the references that lost their tag.
        """
        doc = self._read_index()
        before = doc["manifests"]
        kept, untagged = [], []
        for entry in doc["manifests"]:
            notes = entry.get("annotations") if isinstance(entry, dict) else None
            notes = notes if isinstance(notes, dict) else {}
            if notes.get(IMAGE_NAME) == reference:
                continue
            if tag is not None and notes.get(REF_NAME) == tag:
                if IMAGE_NAME not in notes:
                    continue  # nothing else names it: this tag was its only name
                notes = {k: v for k, v in notes.items() if k != REF_NAME}
                entry = {**entry, "annotations": notes}
                untagged.append(str(notes[IMAGE_NAME]))
            kept.append(entry)
        new: dict[str, Any] = {
            "mediaType": _INDEX_TYPE.get(descriptor.media_type, descriptor.media_type),
            "digest": descriptor.digest,
            "size": descriptor.size,
        }
        if descriptor.platform is not None:
            platform = descriptor.platform
            new["platform"] = {"architecture": platform.architecture, "os": platform.os}
            if platform.variant:
                new["platform"]["variant"] = platform.variant
        new["annotations"] = {IMAGE_NAME: reference, **({REF_NAME: tag} if tag else {})}
        doc["manifests"] = [*kept, new]
        if doc["manifests"] == before:
            return untagged  # pulled again, unchanged: leave index.json as it is
        try:
            self._write_index(doc)
        except OSError as exc:
            raise write_error(exc, INDEX_FILE, self.root) from None
        return untagged

    def _write_index(self, doc: dict[str, Any]) -> None:
        self._replace(INDEX_FILE, json.dumps(doc, separators=(",", ":")).encode())

    def _replace(self, name: str, data: bytes) -> None:
        """Write a top-level file atomically: temp file, then rename over the old one."""
        fd, temp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=self.root)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.chmod(temp, 0o644)
            os.replace(temp, self.root / name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
