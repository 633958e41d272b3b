"""The verified-blob record's rules about time: an entry is kept only when every change
that could leave its ctime as recorded happened before portside read or wrote the blob.

The filesystem clock is faked here, to stand for a change within one timestamp tick; the
pull tests (test_pull_verified.py) show the record at work on real layouts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from drivers.transfer.verified import VerifiedBlobs

DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def blob(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PORTSIDE_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "layout").mkdir()
    path = tmp_path / "layout" / "blob"
    path.write_bytes(b"content")
    return path


def _clock(*times: int) -> Callable[[], int]:
    """A filesystem clock reading `times` in turn, then staying at the last one."""
    values: Iterator[int] = iter(times)
    last = [times[0]]

    def now() -> int:
        last[0] = next(values, last[0])
        return last[0]

    return now


def _load(blob: Path, clock: Callable[[], int]) -> VerifiedBlobs:
    record = VerifiedBlobs.load(blob.parent, clock)
    assert record is not None
    return record


def _saved(record: VerifiedBlobs) -> dict:
    return json.loads(record.file.read_text())["blobs"]


def test_a_blob_hashed_in_the_tick_the_pull_began_is_not_recorded(blob):
    ctime = blob.stat().st_ctime_ns
    # The blob changed in the same tick as the pull began: another change in that tick,
    # after the hash, would leave the same ctime. Nothing vouches for it.
    same_tick = _load(blob, _clock(ctime))
    same_tick.hashed(DIGEST, blob.stat())
    assert not same_tick.matches(DIGEST, blob.stat())

    later = _load(blob, _clock(ctime + 1))
    later.hashed(DIGEST, blob.stat())
    assert later.matches(DIGEST, blob.stat())


def test_a_blob_as_new_as_the_filesystem_clock_is_not_saved(blob):
    ctime = blob.stat().st_ctime_ns
    # The clock never moves past the blob's ctime (a coarse filesystem): a change right
    # after the pull could keep that ctime, so the entry is dropped, not saved.
    stuck = _load(blob, _clock(ctime))
    stuck.written(DIGEST, blob.stat())
    stuck.save(lambda digest: blob.stat())
    assert not stuck.file.exists()

    # The clock moves on while saving: the entry is saved.
    moving = _load(blob, _clock(ctime, ctime, ctime + 1))
    moving.written(DIGEST, blob.stat())
    moving.save(lambda digest: blob.stat())
    assert list(_saved(moving)) == [DIGEST]
    assert _load(blob, _clock(ctime + 2)).matches(DIGEST, blob.stat())


def test_saving_keeps_only_entries_whose_file_still_matches(blob):
    ctime = blob.stat().st_ctime_ns
    record = _load(blob, _clock(ctime + 1))
    record.written(DIGEST, blob.stat())
    record.written("sha256:" + "cd" * 32, blob.stat())
    record.save(lambda digest: blob.stat() if digest == DIGEST else None)  # one is gone
    assert list(_saved(record)) == [DIGEST]


def test_a_record_with_nothing_new_is_not_written_again(blob):
    ctime = blob.stat().st_ctime_ns
    first = _load(blob, _clock(ctime + 1))
    first.written(DIGEST, blob.stat())
    first.save(lambda digest: blob.stat())
    before = first.file.stat()

    again = _load(blob, _clock(ctime + 2))
    assert again.matches(DIGEST, blob.stat())
    again.save(lambda digest: blob.stat())

    after = again.file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
