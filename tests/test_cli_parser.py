"""One parser: typer parses every command, built from its module only when it is run, and
PORTSIDE_DEBUG is read once, as the --debug option's env twin."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

import ci_env.cienv as cienv_module
import drivers.transfer.pull
from ci_env.commands import COMMANDS
from tests.cienv_support import GITLAB_JOB, PORTSIDE, clean_environ
from tests.cli import command_tree, run_cli, run_cli_listing_modules

ROOT = Path(__file__).resolve().parent.parent


def test_root_help_lists_every_command_in_order_with_its_short_help(portside_env, capsys):
    portside_env({})
    result = run_cli(capsys, "--help")
    assert result.code == 0
    tree = command_tree()
    positions = []
    for name in COMMANDS:
        line = next(line for line in result.out.splitlines() if f"│ {name} " in line)
        positions.append(result.out.index(line))
        short = tree[(name,)].get_short_help_str(limit=200)
        assert short.split()[:4] == line.split("│")[1].split()[1:5], (name, line)
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    ("argv", "modules"),
    [
        (["ci-env", "--help"], ["ci_env.commands.cienv"]),
        (["cleanup", "--help"], ["ci_env.commands.cleanup", "ci_env.commands.shared"]),
        (["pull", "--help"], ["ci_env.commands.transfer"]),
        (["tags", "--help"], ["ci_env.commands.registry", "ci_env.commands.shared"]),
        (["--version"], []),
        (["--help"], sorted({*COMMANDS.values(), "ci_env.commands.shared"})),  # lists them all
    ],
)
def test_a_command_builds_from_its_own_module_only(argv, modules):
    result, loaded = run_cli_listing_modules(
        argv, env=clean_environ(COLUMNS="100"), roots=("ci_env.commands",)
    )
    assert result.code == 0, result.err
    assert loaded == ["ci_env.commands", *modules]


def test_ci_env_in_a_job_builds_only_its_own_command():
    env = clean_environ(**GITLAB_JOB)
    result, loaded = run_cli_listing_modules(
        ["ci-env", "--no-login", "--as-env-file"], env=env, roots=("ci_env.commands", "rich")
    )
    assert result.code == 0, result.err
    assert loaded == ["ci_env.commands", "ci_env.commands.cienv"]


def _portside(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PORTSIDE, *argv],
        env=clean_environ(COLUMNS="200", **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("value", "debug"),
    [("on", True), ("TRUE", True), ("1", True), ("Yes", True), ("OFF", False), ("0", False)],
)
def test_portside_debug_turns_on_tracebacks_as_click_reads_it(value, debug):
    """One reading: the entry point used to read PORTSIDE_DEBUG itself (1/true/yes only),
    beside click's BOOL, so PORTSIDE_DEBUG=on logged HTTP but printed no traceback."""
    done = _portside("tags", "not a ref", PORTSIDE_DEBUG=value)
    assert done.returncode == 2
    assert 'portside: error: invalid repository "not a ref"' in done.stderr
    assert ("Traceback" in done.stderr) is debug


def test_an_unreadable_portside_debug_stops_ci_env_and_its_shell():
    """The entry point used to read PORTSIDE_DEBUG=maybe as off and run ci-env anyway."""
    done = _portside("ci-env", "gitlab", PORTSIDE_DEBUG="maybe", **GITLAB_JOB)
    assert done.returncode == 2
    assert "(env var: 'PORTSIDE_DEBUG'): 'maybe' is not a valid boolean" in done.stderr
    assert done.stdout == "exit 2;\n"


def test_ctrl_c_exits_130(portside_env, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    portside_env({})
    monkeypatch.setattr(drivers.transfer.pull, "pull", interrupted)
    assert run_cli(capsys, "pull", "img", "--dest", "d").code == 130


def test_ctrl_c_in_ci_env_prints_one_failure_script(portside_env, capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    portside_env({})
    monkeypatch.setattr(cienv_module, "run", interrupted)
    result = run_cli(capsys, "ci-env", "gitlab")
    assert result.code == 130
    assert result.out == "exit 130;\n"


# Modules that may read sys.argv: the entry point, and the Action's helper, whose first word
# says which of its two steps runs (`extras` or `run`).
READS_ARGV = {"ci_env/cli.py", "integrations/github_action.py"}
PARSERS = {"argparse", "getopt", "optparse", "click", "typer"}
# The modules that may import the parser: the app, its commands, and the table's generator.
USE_THE_PARSER = {"ci_env/app.py", "ci_env/cli.py", "ci_env/table.py"}


def test_there_is_no_second_argument_parser():
    for path in sorted(
        p for d in ("ci_env", "integrations", "drivers") for p in ROOT.glob(f"{d}/**/*.py")
    ):
        name = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                roots = {
                    (alias.name if isinstance(node, ast.Import) else node.module or "").split(".")[
                        0
                    ]
                    for alias in node.names
                }
                found = roots & PARSERS
                allowed = name in USE_THE_PARSER or name.startswith("ci_env/commands/")
                assert not found or (allowed and found <= {"click", "typer"}), (name, found)
            if isinstance(node, ast.Attribute) and node.attr == "argv":
                assert name in READS_ARGV, name
    assert not (ROOT / "ci_env" / "lean.py").exists()
