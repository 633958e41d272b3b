"""The lean `ci-env` parser and the typer command are built from one option table; they must
read every command line and environment the same way, and the lean one must hand anything it
does not understand to click."""

from __future__ import annotations

import os

import pytest

import ci_env.cienv as cienv_module
from ci_env.cienv_options import OPTIONS, CiEnvArgs, parse_lean
from ci_env.cli import _command, main
from tests.cienv_support import is_ci_variable

CASES: list[tuple[list[str], dict[str, str]]] = [
    ([], {}),
    (["gitlab"], {}),
    (["github", "--shell", "fish"], {}),
    (["--shell=powershell", "gitlab"], {}),
    (["--as-env-file", "-o", "out.env"], {}),
    (["-oout.env", "--as-file"], {}),
    (["--output=x", "--output", "y"], {}),
    (["--no-login", "--login", "--no-login"], {}),
    (["--verify", "--insecure-registry", "a:5000", "--insecure-registry", "b"], {}),
    (["--tmp-dir", "/t", "--docker-config", "/d", "--repo-github-token", "-tok-"], {}),
    (["--cleanup"], {}),
    (["--", "gitlab"], {}),
    ([], {"PORTSIDE_LOGIN_TO_REGISTRY": "false", "PORTSIDE_VERIFY": "1"}),
    ([], {"PORTSIDE_LOGIN_TO_REGISTRY": "No", "PORTSIDE_AS_FILE": "yes"}),
    ([], {"PORTSIDE_LOGIN_TO_REGISTRY": "off", "PORTSIDE_CLEANUP": "ON"}),
    (["--login"], {"PORTSIDE_LOGIN_TO_REGISTRY": "false"}),
    ([], {"PORTSIDE_SHELL": "fish", "PORTSIDE_OUTPUT": "f", "PORTSIDE_TMP_DIR": "/x"}),
    ([], {"PORTSIDE_INSECURE_REGISTRY": "a:1  b:2", "PORTSIDE_AS_ENV_FILE": "t"}),
    (["--insecure-registry", "c"], {"PORTSIDE_INSECURE_REGISTRY": "a:1 b:2"}),
    ([], {"PORTSIDE_DOCKER_CONFIG": "/cfg", "PORTSIDE_REPO_GITHUB_TOKEN": "tok"}),
    ([], {"PORTSIDE_VERIFY": ""}),
]

# Arguments the lean parser must leave to click (help, usage errors, unreadable values).
NOT_LEAN: list[tuple[list[str], dict[str, str]]] = [
    (["--help"], {}),
    (["-h"], {}),
    (["--bogus"], {}),
    (["gitlab", "github"], {}),
    (["jenkins"], {}),
    (["--shell", "csh"], {}),
    (["--shell"], {}),
    (["--verify=yes"], {}),
    (["--no-login=1"], {}),
    ([], {"PORTSIDE_VERIFY": "maybe"}),
    ([], {"PORTSIDE_SHELL": "Fish"}),
]


@pytest.fixture
def environment(monkeypatch):
    for name in [n for n in os.environ if is_ci_variable(n)]:
        monkeypatch.delenv(name)

    def apply(values: dict[str, str]) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return apply


def typer_parse(argv: list[str], monkeypatch) -> CiEnvArgs:
    seen: list[CiEnvArgs] = []
    monkeypatch.setattr(cienv_module, "run", seen.append)
    _command().main(args=["ci-env", *argv], prog_name="portside", standalone_mode=False)
    assert len(seen) == 1
    return seen[0]


@pytest.mark.parametrize(("argv", "env"), CASES)
def test_lean_and_typer_agree(argv, env, environment, monkeypatch):
    environment(env)
    lean = parse_lean(argv)
    assert lean is not None
    assert lean == typer_parse(argv, monkeypatch)


@pytest.mark.parametrize(("argv", "env"), NOT_LEAN)
def test_lean_parser_defers_to_click(argv, env, environment):
    environment(env)
    assert parse_lean(argv) is None


@pytest.mark.parametrize(("argv", "env"), NOT_LEAN[2:])
def test_deferred_arguments_are_usage_errors(argv, env, environment, capsys):
    environment(env)
    with pytest.raises(SystemExit) as exited:
        main(["ci-env", *argv])
    assert exited.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


# What this one invocation does with its output is decided by the line the user writes, never
# by the environment (PORTSIDE_CLEANUP=true is GitLab's scheduled-cleanup trigger).
NO_TWIN = ("as_env_file", "as_file", "output", "cleanup")


def test_every_option_but_the_output_modes_has_an_env_twin_and_appears_in_help(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")
    with pytest.raises(SystemExit):
        main(["ci-env", "--help"])
    text = capsys.readouterr().out
    for spec in OPTIONS:
        if spec.name in NO_TWIN:
            assert spec.envvar == ""
        else:
            assert spec.envvar == "PORTSIDE_" + spec.name.upper() or spec.name == "login"
        assert spec.flags[-1] in text
    assert "PORTSIDE_LOGIN_TO_REGISTRY" in text
    for name in NO_TWIN:
        assert f"PORTSIDE_{name.upper()}" not in text


@pytest.mark.parametrize(
    "variable", ["PORTSIDE_CLEANUP", "PORTSIDE_OUTPUT", "PORTSIDE_AS_FILE", "PORTSIDE_AS_ENV_FILE"]
)
def test_output_mode_variables_do_not_change_what_ci_env_does(variable, environment):
    environment({variable: "true"})
    assert parse_lean(["gitlab"]) == CiEnvArgs(platform="gitlab")
