"""How transfer progress is rendered (ci_env.progress): plain lines for CI logs, rich bars on a
terminal, nothing with --quiet. Pure: events in, text out."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from ci_env import progress
from drivers.transfer.events import BlobDone, BytesMoved, ImageDone, ImageStarted, Note, Retrying

DIGEST = "sha256:" + "ab" * 32
EVENTS = [
    ImageStarted("reg/app:1", blobs=2, total_bytes=3 * 1024 * 1024),
    BytesMoved("reg/app:1", 1024 * 1024),
    Retrying("reg/app:1", DIGEST, offset=1048576, reason="connection closed mid-blob"),
    BytesMoved("reg/app:1", 2 * 1024 * 1024),
    BlobDone("reg/app:1", DIGEST, 3 * 1024 * 1024, "fetched"),
    BlobDone("reg/app:1", "sha256:" + "cd" * 32, 10, "present"),
    Note("reg/app:1", "other/app:1 no longer carries the tag 1 in /x"),
    ImageDone("reg/app:1", DIGEST, 0.25),
]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_for_logs():
    stream = io.StringIO()
    reporter = progress.reporter(quiet=False, stream=stream)
    assert type(reporter) is progress.Reporter
    for event in EVENTS:
        reporter(event)
    reporter.close()
    assert stream.getvalue().splitlines() == [
        "reg/app:1: 2 blobs, 3.0 MiB",
        "  sha256:abababababab retrying from byte 1048576: connection closed mid-blob",
        "  sha256:abababababab    3.0 MiB  fetched",
        "  sha256:cdcdcdcdcdcd       10 B  present",
        "  note: other/app:1 no longer carries the tag 1 in /x",
        f"reg/app:1: done, {DIGEST} in 0.25s",
    ]


def test_quiet_prints_nothing():
    stream = _Terminal()
    reporter = progress.reporter(quiet=True, stream=stream)
    for event in EVENTS:
        reporter(event)
    reporter.close()
    assert stream.getvalue() == ""


def test_bars_on_a_terminal_load_rich_only_then(monkeypatch):
    monkeypatch.delitem(sys.modules, "rich.progress", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    stream = _Terminal()
    reporter = progress.reporter(quiet=False, stream=stream)
    assert isinstance(reporter, progress.Bars)
    assert "rich.progress" in sys.modules
    for event in EVENTS:
        reporter(event)
    reporter.close()
    text = stream.getvalue()
    assert "reg/app:1" in text and "3.0/3.0 MiB" in text
    assert "retrying from byte 1048576" in text


def test_a_dumb_terminal_gets_plain_lines(monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    assert type(progress.reporter(quiet=False, stream=_Terminal())) is progress.Reporter


def test_a_pull_into_a_log_does_not_import_rich(
    docker_config, registry_plain, unique_repo, tmp_path
):
    from tests.bed import oci_image
    from tests.transfer_helpers import push

    push(registry_plain, unique_repo, oci_image(f"{unique_repo}-lean"), "v")
    script = (
        "import sys\n"
        "from ci_env.cli import main\n"
        "try:\n"
        f"    main(['pull', '{registry_plain.host}/{unique_repo}:v', '--dest', '{tmp_path}/l'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'rich', 'boto3', 'azure'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
