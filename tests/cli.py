"""Run the portside CLI as a user would, in-process or in a fresh interpreter, and capture what
it prints."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pytest

import ci_env.cli as cli
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


def run_cli_listing_modules(
    args: Sequence[str], *, env: Mapping[str, str], roots: Sequence[str]
) -> tuple[Result, list[str]]:
    """`portside ARGS...` in a fresh interpreter, and the modules it had loaded when it exited
    that are, or are under, one of `roots` (`ssl`, `http.client`): what start-up paid for."""
    code = (
        "import atexit, sys\n"
        f"roots = {tuple(roots)!r}\n"
        "atexit.register(lambda: sys.stderr.write('\\nloaded: ' + repr(sorted(\n"
        "    m for m in sys.modules if any(m == r or m.startswith(r + '.') for r in roots)))))\n"
        "from ci_env.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    err, marker, loaded = done.stderr.rpartition("\nloaded: ")
    assert marker, f"the CLI did not exit normally: {done.stderr}"
    return Result(done.returncode, done.stdout, err), ast.literal_eval(loaded)


def run_cli_both_paths(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    calls: list[tuple],
    argv: Sequence[str],
) -> list[tuple[list[tuple], int, str]]:
    """(calls recorded, exit code, stdout) of `portside ARGV` on the lean path (failing if it
    builds the typer app), then on typer's; `calls` is what the test's fakes record."""

    def no_typer():
        raise AssertionError("the lean path built the typer app")

    outcomes = []
    with monkeypatch.context() as patch:
        patch.setattr(cli, "_command", no_typer)
        result = run_cli(capsys, *argv)
    outcomes.append((list(calls), result.code, result.out))
    calls.clear()
    with monkeypatch.context() as patch:
        patch.setenv("PORTSIDE_DEBUG", "1")  # turns the lean path off
        result = run_cli(capsys, *argv)
    outcomes.append((list(calls), result.code, result.out))
    return outcomes
