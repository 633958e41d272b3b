"""The env twin of every boolean option of every command reads as users expect.

The options are found in the click command tree the app builds, so a new boolean option is
covered without an edit here. Each case runs the real entry point (`ci_env.cli.main`) and
its parser; only the command's body is replaced by a recorder of what it was given.

The truth table (docs/commands.md, "Environment twins"):
- true: `true`, `1`, `yes`, `on` (also `t`, `y`), in any case, surrounding spaces ignored;
- false: `false`, `0`, `no`, `off` (also `f`, `n`), the same way;
- empty: as if unset, so the option's default (a switch's `--x/--no-x` default included);
- anything else: a usage error, exit 2, naming the variable and the value;
- the option on the command line wins over its twin, either way.
"""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest

import ci_env.cli as cli
from tests.cli import command_tree, run_cli

TRUE = ("true", "TRUE", "True", "tRuE", "1", "yes", "YES", "Yes", "on", "ON", "On", " true ")
TRUE += ("t", "T", "y", "Y")
FALSE = ("false", "FALSE", "False", "fAlSe", "0", "no", "NO", "No", "off", "OFF", "Off", " off ")
FALSE += ("f", "F", "n", "N")
GARBAGE = ("maybe", "2", "-1", "tru", "enabled", "yes please", "none", "0x1")
# A root option is tried with this command after it (its body replaced too).
ROOT_PARTNER = "registries"


def _boolean_options() -> Iterator[tuple[tuple[str, ...], str]]:
    for path, command in command_tree().items():
        for param in command.params:
            if isinstance(param, click.Option) and param.is_flag and param.envvar:
                yield path, param.name


BOOLEAN_OPTIONS = sorted(set(_boolean_options()))


def _id(case: tuple[tuple[str, ...], str]) -> str:
    path, name = case
    return " ".join(["portside", *path, name])


class Recorder:
    """The real app, each command's body replaced by a recorder of the values it was given."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, path: tuple[str, ...], name: str):
        tree = command_tree()
        self.seen: list[dict] = []
        self.command = tree[path]
        self.option = next(p for p in self.command.params if p.name == name)
        assert isinstance(self.option, click.Option)
        for command in tree.values():
            command.callback = self._record if command is self.command else _ignore
        monkeypatch.setattr(cli, "_command", lambda: tree[()])
        self.is_root = not path
        self.argv = [*path, *_required(self.command)] if path else [ROOT_PARTNER]

    def _record(self, **values: object) -> None:
        self.seen.append(values)

    @property
    def envvar(self) -> str:
        envvar = self.option.envvar
        assert isinstance(envvar, str), envvar
        return envvar

    def value(self, capsys, monkeypatch, env: str | None, *flags: str) -> object:
        """What the body was given for the option, with its twin set to `env` (None: unset)
        and `flags` on the command line (a root option's before the command)."""
        with monkeypatch.context() as patch:
            if env is None:
                patch.delenv(self.envvar, raising=False)
            else:
                patch.setenv(self.envvar, env)
            argv = [*flags, *self.argv] if self.is_root else [*self.argv, *flags]
            result = run_cli(capsys, *argv)
        assert result.code == 0, result.err
        assert len(self.seen) == 1, self.seen
        return self.seen.pop()[self.option.name]


def _ignore(**values: object) -> None:
    pass


def _required(command: click.Command) -> list[str]:
    """Placeholder values for the command's required options and arguments."""
    argv: list[str] = []
    for param in command.params:
        if not param.required:
            continue
        argv += ["x"] if isinstance(param, click.Argument) else [param.opts[0], "x"]
    return argv


@pytest.fixture
def recorder(request, monkeypatch, portside_env):
    portside_env({})
    path, name = request.param
    return Recorder(monkeypatch, path, name)


def test_the_options_are_found():
    """The walk finds the boolean twins the docs name, on the root and in commands."""
    found = {(" ".join(path), name) for path, name in BOOLEAN_OPTIONS}
    for expected in [
        ("", "debug"),
        ("ci-env", "login"),
        ("ci-env", "verify"),
        ("cleanup", "all_repositories"),
        ("cleanup", "with_referrers"),
        ("cleanup", "dry_run"),
        ("cleanup", "quiet"),
        ("pull", "quiet"),
        ("copy", "json_output"),
        ("login", "password_stdin"),
    ]:
        assert expected in found


def _table(recorder: Recorder, capsys, monkeypatch, values, expected) -> dict[str, object]:
    return {
        value: got
        for value in values
        if (got := recorder.value(capsys, monkeypatch, value)) is not expected
    }


@pytest.mark.parametrize("recorder", BOOLEAN_OPTIONS, ids=_id, indirect=True)
def test_true_values(recorder, capsys, monkeypatch):
    assert _table(recorder, capsys, monkeypatch, TRUE, True) == {}


@pytest.mark.parametrize("recorder", BOOLEAN_OPTIONS, ids=_id, indirect=True)
def test_false_values(recorder, capsys, monkeypatch):
    assert _table(recorder, capsys, monkeypatch, FALSE, False) == {}


@pytest.mark.parametrize("recorder", BOOLEAN_OPTIONS, ids=_id, indirect=True)
def test_an_empty_value_is_unset(recorder, capsys, monkeypatch):
    unset = recorder.value(capsys, monkeypatch, None)
    assert unset in (False, True, None)  # a tri-state switch leaves the choice to later
    assert unset is (recorder.option.default if recorder.option.default is not None else None)
    assert recorder.value(capsys, monkeypatch, "") is unset


@pytest.mark.parametrize("recorder", BOOLEAN_OPTIONS, ids=_id, indirect=True)
def test_the_option_wins_over_its_twin(recorder, capsys, monkeypatch):
    option = recorder.option
    for flag in option.opts:
        assert recorder.value(capsys, monkeypatch, "false", flag) is True, flag
    for flag in option.secondary_opts:  # --no-x
        assert recorder.value(capsys, monkeypatch, "true", flag) is False, flag


@pytest.mark.parametrize("recorder", BOOLEAN_OPTIONS, ids=_id, indirect=True)
def test_garbage_is_a_usage_error_naming_the_variable(recorder, capsys, monkeypatch):
    for value in GARBAGE:
        with monkeypatch.context() as patch:
            patch.setenv(recorder.envvar, value)
            result = run_cli(capsys, *recorder.argv)
        assert result.code == 2, (value, result.err)
        assert f"(env var: '{recorder.envvar}'): {value!r} is not a valid boolean" in result.err
        assert "Traceback" not in result.err
        assert recorder.seen == []
        if recorder.argv[0] == "ci-env":
            assert result.out == "exit 2;\n"  # the evaluating shell stops too
