"""Run the portside CLI as a user would, in-process or in a fresh interpreter, and capture what
it prints."""

from __future__ import annotations

import ast
import io
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import click
import pytest

from ci_env.cli import _command, main


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


def command_tree() -> dict[tuple[str, ...], click.Command]:
    """Every command of the real app by its path (`()` is the root, `("cleanup",)` a command),
    each built through the root group's lookup, as `portside CMD` builds it."""
    root = _command()
    ctx = click.Context(root, info_name="portside")
    tree: dict[tuple[str, ...], click.Command] = {(): root}
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        assert command is not None, f"{name} is listed but cannot be built"
        tree[(name,)] = command
    return tree
