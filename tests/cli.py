"""Run the portside CLI in-process, as a user would, and capture what it prints."""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass

import pytest

from ci_env.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run_cli(capsys: pytest.CaptureFixture[str], *args: str, stdin: str = "") -> Result:
    """`portside ARGS...`; the environment is whatever the test monkeypatched."""
    capsys.readouterr()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin = old_stdin
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)
