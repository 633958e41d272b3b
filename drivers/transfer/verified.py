"""The verified-blob record: which blob files of a layout portside has checked already.

A pull must not trust a blob in the layout by its name or size, but hashing hundreds of
MiB again costs as much as downloading them. So once a blob's digest has been checked
(downloaded and verified, or hashed where it lies), the identity of its file is remembered:
device, inode, size, mtime and ctime (in ns). A later pull that finds the same identity
counts the blob as verified without reading it; any difference means hashing it again.

Why a matching identity means the content is unchanged: every write to a file, and every
rename, chmod or utime of it, sets its ctime to the current time, and no system call lets a
user set ctime (utime sets atime and mtime only, and itself moves ctime). A blob rewritten
in place, even with its size and mtime restored, gets a new ctime; a blob replaced by
another file has another inode. One gap is timestamp granularity: a change within the same
clock tick as the recorded ctime keeps that ctime (git's "racy clean" entries). Two rules
close it:
- a blob hashed where it lies is recorded only if its ctime is older than the start of the
  pull, so every change that left that ctime happened before it was read;
- before saving, the record waits (briefly) until the layout's filesystem clock has moved
  past the newest recorded ctime, and drops any entry still not older: every change after
  the pull gets a later ctime than any recorded one.
What is left is a writer racing the pull on the same blob, which no pull guards against
(it could as well write after the check), or someone resetting the system clock.

The records live outside the layout, so the layout stays a pure OCI layout: one JSON file
per layout, named by a hash of its resolved path, in `$PORTSIDE_CACHE_DIR`, else
`$XDG_CACHE_HOME/portside`, else `~/.cache/portside`. It is read once when a pull opens the
layout and written once at the end, by rename. It is never needed: a missing, corrupt or
unwritable record only means hashing again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import astuple, dataclass
from pathlib import Path

log = logging.getLogger("portside.transfer.verified")

CACHE_ENV = "PORTSIDE_CACHE_DIR"
_FORMAT = 1
# Linux stamps files from a clock that ticks every 1-10 ms; a filesystem with coarser
# timestamps is not waited for: its newest entries are dropped and hashed next time.
_SETTLE_SECONDS = 0.05


@dataclass(frozen=True)
class FileIdentity:
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result) -> FileIdentity:
        return cls(stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def cache_dir() -> Path | None:
    """`$PORTSIDE_CACHE_DIR`, else `$XDG_CACHE_HOME/portside`, else `~/.cache/portside`."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):  # the XDG spec says to ignore a relative path
        return Path(xdg) / "portside"
    try:
        return Path.home() / ".cache" / "portside"
    except RuntimeError:  # no home directory to be found
        return None


class VerifiedBlobs:
    """The record of one layout. Thread-safe: pull workers check blobs in parallel.

    `clock()` is the current time as the layout's filesystem stamps files.
    """

    def __init__(self, file: Path, root: str, clock: Callable[[], int]) -> None:
        self.file = file
        self.root = root
        self.clock = clock
        self.started_ns = clock()
        self._saved: dict[str, FileIdentity] = {}
        self._entries: dict[str, FileIdentity] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, root: Path, clock: Callable[[], int]) -> VerifiedBlobs | None:
        """The record of the layout at `root`, or None when there is nowhere to keep one."""
        directory, resolved = cache_dir(), root.resolve()
        if directory is None:
            return None
        directory = directory.resolve()
        if directory == resolved or resolved in directory.parents:
            log.debug("cache dir %s is inside the layout; blobs are hashed every time", directory)
            return None
        name = hashlib.sha256(os.fsencode(resolved)).hexdigest()[:32]
        try:
            record = cls(directory / f"verified-{name}.json", str(resolved), clock)
        except OSError as exc:
            log.debug("cannot stamp the time in %s: %s", root, exc)
            return None
        record._saved = record._read()
        record._entries = dict(record._saved)
        return record

    def _read(self) -> dict[str, FileIdentity]:
        try:
            doc = json.loads(self.file.read_bytes())
            if doc["format"] != _FORMAT or doc["layout"] != self.root:
                raise ValueError("another format or layout")
            entries = {}
            for digest, values in doc["blobs"].items():
                if len(values) != 5 or not all(type(v) is int for v in values):
                    raise ValueError(f"a malformed entry for {digest}")
                entries[str(digest)] = FileIdentity(*values)
            return entries
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.debug("ignoring the verified-blob record %s: %s", self.file, exc)
            return {}

    def matches(self, digest: str, stat: os.stat_result) -> bool:
        with self._lock:
            return self._entries.get(digest) == FileIdentity.of(stat)

    def hashed(self, digest: str, stat: os.stat_result) -> None:
        """The file whose stat (taken before reading it) is `stat` hashed to `digest`."""
        if stat.st_ctime_ns < self.started_ns:
            with self._lock:
                self._entries[digest] = FileIdentity.of(stat)

    def written(self, digest: str, stat: os.stat_result) -> None:
        """The blob was written by this pull, verified, and renamed into place."""
        with self._lock:
            self._entries[digest] = FileIdentity.of(stat)

    def forget(self, digest: str) -> None:
        with self._lock:
            self._entries.pop(digest, None)

    def save(self, current: Callable[[str], os.stat_result | None]) -> None:
        """Write the record, keeping the entries whose file `current(digest)` still matches."""
        with self._lock:
            entries = {
                digest: identity
                for digest, identity in self._entries.items()
                if (stat := current(digest)) is not None and FileIdentity.of(stat) == identity
            }
        try:
            entries = self._settle(entries)
        except OSError as exc:
            log.debug("cannot stamp the time in %s: %s", self.root, exc)
            return
        if entries == self._saved:
            return
        doc = {
            "format": _FORMAT,
            "layout": self.root,
            "blobs": {digest: list(astuple(identity)) for digest, identity in entries.items()},
        }
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=self.file.parent)
            try:
                with os.fdopen(fd, "w") as out:
                    json.dump(doc, out, separators=(",", ":"))
                os.replace(temp, self.file)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp)
        except OSError as exc:
            log.debug("cannot save the verified-blob record %s: %s", self.file, exc)
            return
        self._saved = entries

    def _settle(self, entries: dict[str, FileIdentity]) -> dict[str, FileIdentity]:
        """The entries whose ctime is older than the filesystem's clock, after a short wait
        for it to move past them (see the module docstring)."""
        newest = max((identity.ctime_ns for identity in entries.values()), default=0)
        deadline = time.monotonic() + _SETTLE_SECONDS
        now = self.clock()
        while newest >= now and time.monotonic() < deadline:
            time.sleep(0.002)
            now = self.clock()
        return {digest: i for digest, i in entries.items() if i.ctime_ns < now}
