"""`portside pull` and `portside copy` without typer: the lean parser and the typer command are
generated from one table (`ci_env.transfer`), so they must hand the drivers the same call for
every command line and environment, and the lean one must leave everything else to click."""

from __future__ import annotations

import os

import pytest

import drivers.transfer.copy
import drivers.transfer.pull
from ci_env.lean import parse
from ci_env.transfer import COPY, PULL
from drivers.transfer.pull import TransferResult
from tests.bed import oci_image
from tests.cli import run_cli, run_cli_both_paths, run_cli_listing_modules
from tests.transfer_helpers import layout_digest, push

PULL_CASES: list[tuple[list[str], dict[str, str]]] = [
    (["img", "--dest", "d"], {}),
    (["a", "b", "--dest=d", "--format", "oci-archive", "--platform", "linux/arm64", "-q"], {}),
    (["--dest", "d", "--from-dockerfile", "Df", "--build-arg", "A=1", "--build-arg", "B=2"], {}),
    (["-j4", "--json", "--docker-config", "/cfg", "--dest", "d", "x", "--jobs", "64"], {}),
    (["--insecure-registry", "h:1", "--insecure-registry", "h2,h3", "--dest", "d", "x"], {}),
    (["--dest", "-q", "--", "-x", "--json"], {}),
    (["-j", " +7 ", "--dest", "d", "x"], {}),
    (
        ["x"],
        {
            "PORTSIDE_DEST": "d",
            "PORTSIDE_FORMAT": "docker-archive",
            "PORTSIDE_PLATFORM": "all",
            "PORTSIDE_FROM_DOCKERFILE": "Df",
            "PORTSIDE_BUILD_ARG": "A=1  B=2",
            "PORTSIDE_JOBS": " 9 ",
            "PORTSIDE_QUIET": "yes",
            "PORTSIDE_JSON": "1",
            "PORTSIDE_DOCKER_CONFIG": "/c",
            "PORTSIDE_INSECURE_REGISTRY": "a:1,b:2 c",
        },
    ),
    (
        ["--dest", "d2", "-j", "2", "--build-arg", "C=3", "x"],
        {"PORTSIDE_DEST": "d", "PORTSIDE_JOBS": "9", "PORTSIDE_BUILD_ARG": "A=1"},
    ),
    ([], {"PORTSIDE_DEST": "d", "PORTSIDE_QUIET": "off", "PORTSIDE_JOBS": ""}),
]
COPY_CASES: list[tuple[list[str], dict[str, str]]] = [
    (["src", "dst"], {}),
    (["-q", "src", "--platform", "linux/amd64", "dst", "--jobs", "8", "--json"], {}),
    (["--", "src", "-dst"], {}),
    (["src", "dst"], {"PORTSIDE_JOBS": "2", "PORTSIDE_QUIET": "t", "PORTSIDE_JSON": "no"}),
]

# (argv, env, what click says): click's usage errors, which the lean parser must leave to it.
USAGE_ERRORS: list[tuple[list[str], dict[str, str], str]] = [
    (["pull", "img"], {}, "Missing option '--dest'"),
    (["pull", "--dest", "d", "-j", "0", "img"], {}, "0 is not in the range 1<=x<=64"),
    (["pull", "--dest", "d", "--jobs=65", "img"], {}, "65 is not in the range 1<=x<=64"),
    (["pull", "--dest", "d", "--jobs", "many", "img"], {}, "'many' is not a valid integer"),
    (["pull", "--dest", "d", "img"], {"PORTSIDE_JOBS": "2.5"}, "'2.5' is not a valid integer"),
    (["pull", "--dest", "d", "img"], {"PORTSIDE_QUIET": "maybe"}, "'maybe' is not a valid"),
    (["pull", "--dest", "d", "--bogus", "img"], {}, "No such option '--bogus'"),
    (["pull", "--dest", "d", "--quiet=1", "img"], {}, "Option '--quiet' does not take a value"),
    (["pull", "img", "--dest"], {}, "Option '--dest' requires an argument"),
    (["copy", "src"], {}, "Missing argument 'DESTINATION'"),
    (["copy", "a", "b", "c"], {}, "Got unexpected extra argument (c)"),
    (["copy", "a", "b", "-j", "x"], {}, "'x' is not a valid integer"),
]

HEAVY = ("typer", "click", "rich", "pydantic")


@pytest.fixture
def driver_calls(monkeypatch) -> list[tuple]:
    """Replace the drivers' pull and copy; record each call as the CLI made it."""
    calls: list[tuple] = []

    def result(source: str, destination: str, platform: str | None) -> TransferResult:
        return TransferResult(
            source, destination, "sha256:" + "0" * 64, "m", platform, 1, 1, 0, 1, 0
        )

    def record(name: str, *args, progress, **kwargs) -> None:
        calls.append((name, args, kwargs, type(progress).__name__))

    def pull(images, dest, **kwargs):
        record("pull", list(images), dest, **kwargs)
        return [result(image, dest, kwargs["platform"]) for image in images]

    def copy(source, destination, **kwargs):
        record("copy", source, destination, **kwargs)
        return result(source, destination, kwargs["platform"])

    monkeypatch.setattr(drivers.transfer.pull, "pull", pull)
    monkeypatch.setattr(drivers.transfer.copy, "copy", copy)
    return calls


@pytest.mark.parametrize(
    ("argv", "env"),
    [(["pull", *a], e) for a, e in PULL_CASES] + [(["copy", *a], e) for a, e in COPY_CASES],
)
def test_lean_and_typer_paths_call_the_drivers_alike(
    argv, env, portside_env, driver_calls, capsys, monkeypatch
):
    portside_env(env)
    lean, typer = run_cli_both_paths(capsys, monkeypatch, driver_calls, argv)
    assert lean[0], "the driver was not called"
    assert lean == typer


def test_the_lean_path_parses_values_as_click_does(portside_env):
    portside_env({"PORTSIDE_BUILD_ARG": "A=1  B=2", "PORTSIDE_JOBS": " 9 "})
    parsed = parse(PULL, ["-j", " +7 ", "x", "--dest", "d", "y", "--quiet"])
    assert parsed is not None
    assert (parsed.images, parsed.dest, parsed.jobs, parsed.quiet) == (("x", "y"), "d", 7, True)
    assert parsed.build_arg == ("A=1", "B=2")
    assert parse(COPY, ["s", "d"]).jobs == 9


@pytest.mark.parametrize(("argv", "env", "message"), USAGE_ERRORS)
def test_usage_errors_come_from_click(argv, env, message, portside_env, capsys):
    portside_env(env)
    command = PULL if argv[0] == "pull" else COPY
    assert parse(command, argv[1:]) is None
    result = run_cli(capsys, *argv)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("command", ["pull", "copy"])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_comes_from_click(command, flag, portside_env, capsys):
    spec = PULL if command == "pull" else COPY
    assert parse(spec, [flag]) is None
    result = run_cli(capsys, command, flag)
    assert result.code == 0
    assert f"Usage: portside {command}" in result.out
    for option in spec.options:
        assert option.flags[0] in result.out
        assert option.envvar in result.out


@pytest.mark.usefixtures("require_skopeo")
@pytest.mark.parametrize("command", ["pull", "copy"])
def test_the_cli_needs_neither_typer_click_nor_rich(
    command, docker_config, registry_plain, unique_repo, tmp_path
):
    """In CI (stderr not a terminal) a real pull or copy loads no CLI framework and no rich."""
    image = oci_image(f"{unique_repo}-lean")
    push(registry_plain, unique_repo, image, "v1")
    source = f"{registry_plain.host}/{unique_repo}:v1"
    dest = tmp_path / "layout"
    argv = (
        ["pull", "-q", source, "--dest", str(dest)]
        if command == "pull"
        else ["copy", source, f"oci:{dest}:v1"]  # not quiet: plain progress lines on stderr
    )
    env = {k: v for k, v in os.environ.items() if k != "PORTSIDE_DEBUG"}
    result, loaded = run_cli_listing_modules(argv, env=env, roots=HEAVY)
    assert result.code == 0, result.err
    assert loaded == []
    assert layout_digest(dest, "v1") == image.digest
    if command == "pull":
        assert result.text == ""
    else:
        assert "done, " + image.digest in result.err
        assert result.out.startswith(f"copied {source} -> oci:{dest}:v1")
