"""How `portside ci-env` reads its command line and environment: typer parses both, from the
option table `CI_ENV`; a usage error is click's (exit 2), and ci-env prints its failure script
for the evaluating shell."""

from __future__ import annotations

import os

import pytest

import ci_env.cienv as cienv_module
from ci_env.cienv_options import OPTIONS, CiEnvArgs
from ci_env.cli import main
from tests.cienv_support import is_ci_variable

# (argv, env, what ci-env is asked to do): every way of giving each option.
CASES: list[tuple[list[str], dict[str, str], CiEnvArgs]] = [
    ([], {}, CiEnvArgs()),
    (["gitlab"], {}, CiEnvArgs(platform="gitlab")),
    (["github", "--shell", "fish"], {}, CiEnvArgs(platform="github", shell="fish")),
    (["--shell=powershell", "gitlab"], {}, CiEnvArgs(platform="gitlab", shell="powershell")),
    (["--as-env-file", "-o", "out.env"], {}, CiEnvArgs(as_env_file=True, output="out.env")),
    (["-oout.env", "--as-file"], {}, CiEnvArgs(as_file=True, output="out.env")),
    (["--output=x", "--output", "y"], {}, CiEnvArgs(output="y")),
    (["--no-login", "--login", "--no-login"], {}, CiEnvArgs(login=False)),
    (
        ["--verify", "--insecure-registry", "a:5000", "--insecure-registry", "b"],
        {},
        CiEnvArgs(verify=True, insecure_registry=("a:5000", "b")),
    ),
    (
        ["--tmp-dir", "/t", "--docker-config", "/d", "--repo-github-token", "-tok-"],
        {},
        CiEnvArgs(tmp_dir="/t", docker_config="/d", repo_github_token="-tok-"),
    ),
    (["--cleanup"], {}, CiEnvArgs(cleanup=True)),
    (["--", "gitlab"], {}, CiEnvArgs(platform="gitlab")),
    (
        [],
        {"PORTSIDE_LOGIN_TO_REGISTRY": "false", "PORTSIDE_VERIFY": "1"},
        CiEnvArgs(login=False, verify=True),
    ),
    ([], {"PORTSIDE_LOGIN_TO_REGISTRY": "No", "PORTSIDE_AS_FILE": "yes"}, CiEnvArgs(login=False)),
    ([], {"PORTSIDE_LOGIN_TO_REGISTRY": "off", "PORTSIDE_CLEANUP": "ON"}, CiEnvArgs(login=False)),
    (["--login"], {"PORTSIDE_LOGIN_TO_REGISTRY": "false"}, CiEnvArgs(login=True)),
    (
        [],
        {"PORTSIDE_SHELL": "fish", "PORTSIDE_OUTPUT": "f", "PORTSIDE_TMP_DIR": "/x"},
        CiEnvArgs(shell="fish", tmp_dir="/x"),
    ),
    (
        [],
        {"PORTSIDE_INSECURE_REGISTRY": "a:1  b:2", "PORTSIDE_AS_ENV_FILE": "t"},
        CiEnvArgs(insecure_registry=("a:1", "b:2")),
    ),
    (
        ["--insecure-registry", "c"],
        {"PORTSIDE_INSECURE_REGISTRY": "a:1 b:2"},
        CiEnvArgs(insecure_registry=("c",)),
    ),
    (
        [],
        {"PORTSIDE_DOCKER_CONFIG": "/cfg", "PORTSIDE_REPO_GITHUB_TOKEN": "tok"},
        CiEnvArgs(docker_config="/cfg", repo_github_token="tok"),
    ),
    ([], {"PORTSIDE_VERIFY": ""}, CiEnvArgs()),
]

# (argv, env, what click says): usage errors, exit 2, with the failure script on stdout.
USAGE_ERRORS: list[tuple[list[str], dict[str, str], str]] = [
    (["--bogus"], {}, "No such option"),  # click 8.3: "…: --bogus", 8.4: "… '--bogus'."
    (["gitlab", "github"], {}, "Got unexpected extra argument (github)"),
    (["jenkins"], {}, "'jenkins' is not one of 'gitlab', 'github'"),
    (["--shell", "csh"], {}, "'csh' is not one of 'sh', 'fish', 'powershell'"),
    (["--shell"], {}, "Option '--shell' requires an argument"),
    (["--verify=yes"], {}, "Option '--verify' does not take a value"),
    (["--no-login=1"], {}, "Option '--no-login' does not take a value"),
    ([], {"PORTSIDE_VERIFY": "maybe"}, "(env var: 'PORTSIDE_VERIFY'): 'maybe' is not a valid"),
    ([], {"PORTSIDE_SHELL": "Fish"}, "(env var: 'PORTSIDE_SHELL'): 'Fish' is not one of"),
]


@pytest.fixture
def environment(monkeypatch):
    for name in [n for n in os.environ if is_ci_variable(n)]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "250")  # click's messages on one line of its error box

    def apply(values: dict[str, str]) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return apply


def parsed(argv: list[str], monkeypatch) -> CiEnvArgs:
    """What `portside ci-env ARGV` asks ci-env to do, through the real entry point."""
    seen: list[CiEnvArgs] = []
    monkeypatch.setattr(cienv_module, "run", seen.append)
    with pytest.raises(SystemExit) as exited:
        main(["ci-env", *argv])
    assert exited.value.code == 0
    assert len(seen) == 1
    return seen[0]


@pytest.mark.parametrize(("argv", "env", "expected"), CASES)
def test_the_command_line_and_env_twins_reach_ci_env(argv, env, expected, environment, monkeypatch):
    environment(env)
    assert parsed(argv, monkeypatch) == expected


@pytest.mark.parametrize(("argv", "env", "message"), USAGE_ERRORS)
def test_usage_errors_are_clicks_and_stop_the_shell(argv, env, message, environment, capsys):
    environment(env)
    with pytest.raises(SystemExit) as exited:
        main(["ci-env", *argv])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == "exit 2;\n"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_is_not_a_failure(flag, environment, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["ci-env", flag])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.lstrip().startswith("Usage: portside ci-env [OPTIONS] [PLATFORM]")
    assert "exit 2;" not in out


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
def test_output_mode_variables_do_not_change_what_ci_env_does(variable, environment, monkeypatch):
    environment({variable: "true"})
    assert parsed(["gitlab"], monkeypatch) == CiEnvArgs(platform="gitlab")
