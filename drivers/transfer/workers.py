"""A small pool for blob transfers: `jobs` threads, and the first failure stops the rest.

Workers call `check()` between chunks and `pause()` to back off, so that a failure (or
Ctrl-C) elsewhere stops them at the next chunk instead of after their whole blob.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait

from drivers.errors import PortsideError


def default_jobs() -> int:
    """Parallel blob transfers: I/O bound, so more than the cores, but bounded."""
    return max(4, min(8, 2 * (os.cpu_count() or 2)))


class Aborted(Exception):
    """Another transfer failed or the user interrupted: stop quietly and clean up."""


class Workers:
    """A pool of `jobs` threads where the first failure stops the rest."""

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = max(1, jobs or default_jobs())
        self._pool = ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="blob")
        self._abort = threading.Event()

    def check(self) -> None:
        """Called by workers between chunks: stop when another one failed."""
        if self._abort.is_set():
            raise Aborted()

    def pause(self, seconds: float) -> None:
        """A backoff that ends early, with Aborted, when another worker failed."""
        if self._abort.wait(seconds):
            raise Aborted()

    def run(self, work: Iterable[Callable[[], str]]) -> list[str]:
        """Run the callables; return their results in order, or raise the first failure."""
        futures: list[Future[str]] = [self._pool.submit(job) for job in work]
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in futures if f in done and f.exception() is not None]
            if failed:
                raise _first_real_error(failed)
            return [f.result() for f in futures]
        except BaseException:
            self._abort.set()  # KeyboardInterrupt too: workers stop at their next chunk
            for future in futures:
                future.cancel()
            wait(futures)
            self._abort.clear()
            raise

    def close(self) -> None:
        self._abort.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_real_error(failed: list[Future[str]]) -> BaseException:
    """The error to report: an abort is only the echo of another failure."""
    errors = [f.exception() for f in failed]
    for error in errors:
        if error is not None and not isinstance(error, Aborted):
            return error
    return errors[0] or PortsideError("transfer aborted")
