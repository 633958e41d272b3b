"""Blob downloads into a layout: parallel, streamed, verified, resumable.

Each blob streams to a temp file beside its final name while its digest and size are checked;
only a verified blob is renamed into place, so no partial or corrupt file ever carries a
digest name. Large blobs hash and write on a second thread so that the next network read
overlaps them (hashlib and file writes release the GIL).

Retries are split with the transport: it retries a request that fails before the body
(connection errors, 429, 5xx, honouring Retry-After). A body cut part-way is ours: the
download resumes with `Range: bytes=N-` where the registry honours it (206 from offset N),
and restarts from zero where it does not, within the transport's retry budget.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from drivers.digest import algorithm_of, new_hash
from drivers.distribution import DistributionClient
from drivers.errors import DigestMismatch, Unreachable
from drivers.manifest import Descriptor
from drivers.transfer.events import BlobDone, BytesMoved, Progress, Retrying, silent
from drivers.transfer.layout import Layout, write_error
from drivers.transfer.workers import Workers

CHUNK = 1 << 20
PIPELINE_MIN = 8 << 20  # below this, a writer thread costs more than it saves
_QUEUE_DEPTH = 4  # chunks in flight per download: bounds memory at ~4 MiB each
_READ_ERRORS = (http.client.HTTPException, OSError)


class _Cut(Exception):
    """The body stopped before the end; resume or restart."""


@dataclass(frozen=True)
class BlobTask:
    image: str  # for progress events
    path: str  # the repository that holds the blob
    descriptor: Descriptor


class _Writer:
    """Hashes and writes one download to its temp file, optionally on a thread of its own.

    `received` counts bytes handed over; after `drain()` they are all hashed and on disk.
    """

    def __init__(self, fd: int, algorithm: str, threaded: bool) -> None:
        self.file = os.fdopen(fd, "wb", buffering=0)
        self.algorithm = algorithm
        self.hash = new_hash(algorithm)
        self.received = 0
        self._error: BaseException | None = None
        self._queue: queue.Queue[bytes | None] | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.Queue(_QUEUE_DEPTH)
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _write(self, chunk: bytes) -> None:
        self.hash.update(chunk)
        view = memoryview(chunk)
        while view:  # a raw write may be short (a full disk, a file size limit)
            view = view[self.file.write(view) :]

    def size_on_disk(self) -> int:
        return os.fstat(self.file.fileno()).st_size

    def _run(self) -> None:
        assert self._queue is not None
        while True:
            chunk = self._queue.get()
            try:
                if chunk is None:
                    return
                if self._error is None:
                    self._write(chunk)
            except BaseException as exc:  # re-raised on the reading thread
                self._error = exc
            finally:
                self._queue.task_done()

    def put(self, chunk: bytes) -> None:
        if self._error is not None:
            raise self._error
        self.received += len(chunk)
        if self._queue is None:
            self._write(chunk)
        else:
            self._queue.put(chunk)

    def drain(self) -> None:
        """Wait until every chunk put so far is written; raise a write error if one happened."""
        if self._queue is not None:
            self._queue.join()
        if self._error is not None:
            raise self._error

    def restart(self) -> None:
        self.drain()
        self.file.seek(0)
        self.file.truncate()
        self.hash = new_hash(self.algorithm)
        self.received = 0

    def close(self) -> None:
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self.file.close()

    @property
    def digest(self) -> str:
        return f"{self.algorithm}:{self.hash.hexdigest()}"


class Fetcher:
    """Fetches blobs into a layout on a pool of workers; one per pull."""

    def __init__(
        self, layout: Layout, *, jobs: int | None = None, progress: Progress = silent
    ) -> None:
        self.layout = layout
        self.progress = progress
        self.workers = Workers(jobs)

    def close(self) -> None:
        self.workers.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch_all(self, client: DistributionClient, tasks: Iterable[BlobTask]) -> list[str]:
        """Fetch blobs in parallel; returns "fetched" or "present" per task, in order."""
        return self.workers.run([lambda t=task: self.fetch(client, t) for task in tasks])

    # -- one blob ------------------------------------------------------------------------

    def fetch(self, client: DistributionClient, task: BlobTask) -> str:
        descriptor = task.descriptor
        digest, size = descriptor.digest, descriptor.size
        algorithm = algorithm_of(digest)  # before a temp file exists: one we cannot verify
        if self.layout.has_blob(digest, size):
            self.progress(BytesMoved(task.image, size))
            self.progress(BlobDone(task.image, digest, size, "present"))
            return "present"
        fd, temp = self.layout.temp_blob(digest)
        writer = _Writer(fd, algorithm, threaded=size >= PIPELINE_MIN)
        try:
            self._download(client, task, writer)
            writer.close()
            self.layout.commit_blob(temp, digest)
        except OSError as exc:
            raise write_error(exc, f"blob {digest}", self.layout.root) from None
        finally:
            writer.close()
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        self.progress(BlobDone(task.image, digest, size, "fetched"))
        return "fetched"

    def _download(self, client: DistributionClient, task: BlobTask, writer: _Writer) -> None:
        digest, size = task.descriptor.digest, task.descriptor.size
        retry = client.transport.retry
        failures, restarted_clean = 0, False
        while True:
            before = writer.received
            try:
                self._stream(client, task, writer)
                writer.drain()
                _verify(writer, digest, size, client, task.path)
                return
            except _Cut as cut:
                writer.drain()
                failures += 1
                if failures >= retry.attempts:
                    raise Unreachable(
                        f"blob {digest} of {client.registry}/{task.path}: the connection kept "
                        f"breaking ({failures} tries, last at byte {writer.received} of {size})",
                        hint="check the network to the registry, then pull again",
                    ) from None
                self.progress(Retrying(task.image, digest, writer.received, str(cut)))
                if writer.received == before:  # no progress: back off before the next try
                    self.workers.pause(retry.delay(failures - 1, None))
            except DigestMismatch:
                # A registry that resumed at the wrong offset looks like corruption; one
                # clean restart tells the two apart. Corruption from the start is final.
                if restarted_clean or failures == 0:
                    raise
                restarted_clean = True
                self.progress(BytesMoved(task.image, -writer.received))
                writer.restart()

    def _stream(self, client: DistributionClient, task: BlobTask, writer: _Writer) -> None:
        digest, size = task.descriptor.digest, task.descriptor.size
        offset = writer.received
        with client.open_blob(task.path, digest, offset=offset) as blob:
            response = blob.response
            if offset and not _resumes_at(response.status_code, response.headers, offset):
                writer.restart()  # Range not honoured: the full body comes again
                self.progress(BytesMoved(task.image, -offset))
            while True:
                self.workers.check()
                try:
                    chunk = response.read(CHUNK)
                except _READ_ERRORS as exc:
                    raise _Cut(_reason(exc)) from None
                if not chunk:
                    break
                writer.put(chunk)
                self.progress(BytesMoved(task.image, len(chunk)))
                if writer.received > size:
                    break  # _verify reports the oversize body
            writer.drain()
            if writer.received < size:
                raise _Cut(f"the body ended at byte {writer.received} of {size}")


def _verify(writer: _Writer, digest: str, size: int, client: DistributionClient, path: str) -> None:
    if writer.received != size or writer.digest != digest or writer.size_on_disk() != size:
        raise DigestMismatch(
            f"blob {digest} from {client.registry}/{path}: the registry sent "
            f"{writer.received} bytes with digest {writer.digest}, expected {size} bytes",
            hint="the registry's copy may be corrupt; nothing was written under this digest",
        )


def _resumes_at(status: int, headers, offset: int) -> bool:
    """A 206 whose Content-Range starts where our file ends."""
    if status != 206:
        return False
    content_range = headers.get("Content-Range", "")
    unit, _, span = content_range.partition(" ")
    return unit == "bytes" and span.partition("-")[0].strip() == str(offset)


def _reason(exc: BaseException) -> str:
    text = type(exc).__name__
    if "IncompleteRead" in str(exc) or "IncompleteRead" in text:
        return "connection closed mid-blob"
    if isinstance(exc, ConnectionResetError):
        return "connection reset mid-blob"
    return f"read failed mid-blob ({text})"


__all__ = ["BlobTask", "Fetcher"]
