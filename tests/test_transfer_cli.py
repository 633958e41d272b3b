"""`portside pull` and `portside copy` as typer parses them, from their tables
(`ci_env.transfer`): each option and env twin reaches the drivers as given, usage errors are
click's, the help lists every option, and a real pull or copy imports neither rich nor another
command's module."""

from __future__ import annotations

import json
import os

import pytest

import drivers.transfer.copy
import drivers.transfer.pull
from ci_env.transfer import COPY, PULL
from drivers.transfer.pull import TransferResult
from tests.bed import oci_image
from tests.cli import run_cli, run_cli_listing_modules
from tests.transfer_helpers import layout_digest, push

PULL_DEFAULTS = {"fmt": "oci", "platform": None, "dockerfile": None, "build_args": []}
PULL_DEFAULTS |= {"jobs": None, "docker_config": None, "insecure": frozenset()}
COPY_DEFAULTS = {"platform": None, "jobs": None, "docker_config": None, "insecure": frozenset()}

# (argv after the command, env, what the driver is given)
PULL_CASES: list[tuple[list[str], dict[str, str], dict]] = [
    (["img", "--dest", "d"], {}, {"images": ["img"], "dest": "d"}),
    (
        ["a", "b", "--dest=d", "--format", "oci-archive", "--platform", "linux/arm64", "-q"],
        {},
        {"images": ["a", "b"], "fmt": "oci-archive", "platform": "linux/arm64"},
    ),
    (
        ["--dest", "d", "--from-dockerfile", "Df", "--build-arg", "A=1", "--build-arg", "B=2"],
        {},
        {"images": [], "dockerfile": "Df", "build_args": ["A=1", "B=2"]},
    ),
    (
        ["-j4", "--json", "--docker-config", "/cfg", "--dest", "d", "x", "--jobs", "64"],
        {},
        {"jobs": 64, "docker_config": "/cfg"},
    ),
    (
        ["--insecure-registry", "h:1", "--insecure-registry", "h2,h3", "--dest", "d", "x"],
        {},
        {"insecure": frozenset({"h:1", "h2", "h3"})},
    ),
    (["--dest", "-q", "--", "-x", "--json"], {}, {"images": ["-x", "--json"], "dest": "-q"}),
    (["-j", " +7 ", "--dest", "d", "x"], {}, {"jobs": 7}),
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
        {
            "images": ["x"],
            "dest": "d",
            "fmt": "docker-archive",
            "platform": "all",
            "dockerfile": "Df",
            "build_args": ["A=1", "B=2"],
            "jobs": 9,
            "docker_config": "/c",
            "insecure": frozenset({"a:1", "b:2", "c"}),
        },
    ),
    (
        ["--dest", "d2", "-j", "2", "--build-arg", "C=3", "x"],
        {"PORTSIDE_DEST": "d", "PORTSIDE_JOBS": "9", "PORTSIDE_BUILD_ARG": "A=1"},
        {"dest": "d2", "jobs": 2, "build_args": ["C=3"]},
    ),
    (
        [],
        {"PORTSIDE_DEST": "d", "PORTSIDE_QUIET": "off", "PORTSIDE_JOBS": ""},
        {"images": [], "dest": "d", "jobs": None},
    ),
]
COPY_CASES: list[tuple[list[str], dict[str, str], dict]] = [
    (["src", "dst"], {}, {"source": "src", "destination": "dst"}),
    (
        ["-q", "src", "--platform", "linux/amd64", "dst", "--jobs", "8", "--json"],
        {},
        {"source": "src", "destination": "dst", "platform": "linux/amd64", "jobs": 8},
    ),
    (["--", "src", "-dst"], {}, {"destination": "-dst"}),
    (
        ["src", "dst"],
        {"PORTSIDE_JOBS": "2", "PORTSIDE_QUIET": "t", "PORTSIDE_JSON": "no"},
        {"jobs": 2},
    ),
    # copy's platform has its own twin: a job's PORTSIDE_PLATFORM is for its pulls.
    (
        ["src", "dst"],
        {"PORTSIDE_PLATFORM": "linux/arm64", "PORTSIDE_COPY_PLATFORM": "linux/amd64"},
        {"platform": "linux/amd64"},
    ),
]

# (argv, env, what click says): usage errors, exit 2.
USAGE_ERRORS: list[tuple[list[str], dict[str, str], str]] = [
    (["pull", "img"], {}, "Missing option '--dest' (env var: 'PORTSIDE_DEST')"),
    (["pull", "--dest", "d", "-j", "0", "img"], {}, "0 is not in the range 1<=x<=64"),
    (["pull", "--dest", "d", "--jobs=65", "img"], {}, "65 is not in the range 1<=x<=64"),
    (["pull", "--dest", "d", "--jobs", "many", "img"], {}, "'many' is not a valid integer"),
    (["pull", "--dest", "d", "img"], {"PORTSIDE_JOBS": "2.5"}, "'2.5' is not a valid integer"),
    (["pull", "--dest", "d", "img"], {"PORTSIDE_QUIET": "maybe"}, "'maybe' is not a valid"),
    (["pull", "--dest", "d", "--bogus", "img"], {}, "--bogus"),
    (["pull", "--dest", "d", "--quiet=1", "img"], {}, "Option '--quiet' does not take a value"),
    (["pull", "img", "--dest"], {}, "Option '--dest' requires an argument"),
    (["copy", "src"], {}, "Missing argument 'DESTINATION'"),
    (["copy", "a", "b", "c"], {}, "Got unexpected extra argument (c)"),
    (["copy", "a", "b", "-j", "x"], {}, "'x' is not a valid integer"),
]


@pytest.fixture
def driver_calls(monkeypatch) -> list[dict]:
    """Replace the drivers' pull and copy; record what each call was given."""
    calls: list[dict] = []

    def result(source: str, destination: str, platform: str | None) -> TransferResult:
        return TransferResult(
            source, destination, "sha256:" + "0" * 64, "m", platform, 1, 1, 0, 1, 0
        )

    def record(options, progress, **given) -> None:
        insecure = options.insecure_registries
        calls.append({**given, "docker_config": options.docker_config, "insecure": insecure})

    def pull(images, dest, *, options, progress, **kwargs):
        record(options, progress, images=list(images), dest=dest, **kwargs)
        return [result(image, dest, kwargs["platform"]) for image in images]

    def copy(source, destination, *, options, progress, **kwargs):
        record(options, progress, source=source, destination=destination, **kwargs)
        return result(source, destination, kwargs["platform"])

    monkeypatch.setattr(drivers.transfer.pull, "pull", pull)
    monkeypatch.setattr(drivers.transfer.copy, "copy", copy)
    return calls


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [(["pull", *a], e, {**PULL_DEFAULTS, **x}) for a, e, x in PULL_CASES]
    + [(["copy", *a], e, {**COPY_DEFAULTS, **x}) for a, e, x in COPY_CASES],
)
def test_options_and_twins_reach_the_drivers(
    argv, env, expected, portside_env, driver_calls, capsys
):
    portside_env(env)
    result = run_cli(capsys, *argv)
    assert result.code == 0, result.err
    [got] = driver_calls
    assert {key: got[key] for key in expected} == expected


@pytest.mark.parametrize("command", [["pull", "img", "--dest", "d"], ["copy", "src", "dst"]])
@pytest.mark.parametrize(
    ("env", "shape"),
    [
        ({}, "lines"),
        ({"PORTSIDE_QUIET": "Yes"}, "nothing"),
        ({"PORTSIDE_QUIET": "OFF"}, "lines"),
        ({"PORTSIDE_JSON": "TRUE"}, "json"),
        ({"PORTSIDE_JSON": "0", "PORTSIDE_QUIET": "0"}, "lines"),
    ],
)
def test_the_quiet_and_json_twins_shape_the_output(
    command, env, shape, portside_env, driver_calls, capsys
):
    portside_env(env)
    result = run_cli(capsys, *command)
    assert result.code == 0, result.err
    if shape == "json":
        assert json.loads(result.out)
    elif shape == "nothing":
        assert result.out == ""
    else:
        assert result.out.startswith(("pulled ", "copied "))


@pytest.mark.parametrize(("argv", "env", "message"), USAGE_ERRORS)
def test_usage_errors_are_clicks(argv, env, message, portside_env, driver_calls, capsys):
    portside_env(env)
    result = run_cli(capsys, *argv)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err
    assert driver_calls == []


@pytest.mark.parametrize("command", ["pull", "copy"])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_every_option_and_twin(command, flag, portside_env, capsys):
    portside_env({})
    spec = PULL if command == "pull" else COPY
    result = run_cli(capsys, command, flag)
    assert result.code == 0
    assert f"Usage: portside {command}" in result.out
    for option in spec.options:
        assert option.flags[0] in result.out
        assert option.envvar in result.out


# Imported by a pull or copy in CI (stderr not a terminal): none of these.
NOT_NEEDED = ("rich", "pydantic", "ci_env.commands.registry", "ci_env.commands.cleanup")
NOT_NEEDED += ("ci_env.commands.cienv", "drivers.cleanup")


@pytest.mark.usefixtures("require_skopeo")
@pytest.mark.parametrize("command", ["pull", "copy"])
def test_a_transfer_imports_neither_rich_nor_other_commands(
    command, docker_config, registry_plain, unique_repo, tmp_path
):
    image = oci_image(f"{unique_repo}-cli")
    push(registry_plain, unique_repo, image, "v1")
    source = f"{registry_plain.host}/{unique_repo}:v1"
    dest = tmp_path / "layout"
    argv = (
        ["pull", "-q", source, "--dest", str(dest)]
        if command == "pull"
        else ["copy", source, f"oci:{dest}:v1"]  # not quiet: plain progress lines on stderr
    )
    env = {k: v for k, v in os.environ.items() if k != "PORTSIDE_DEBUG"}
    result, loaded = run_cli_listing_modules(argv, env=env, roots=NOT_NEEDED)
    assert result.code == 0, result.err
    assert loaded == []
    assert layout_digest(dest, "v1") == image.digest
    if command == "pull":
        assert result.text == ""
    else:
        assert "done, " + image.digest in result.err
        assert result.out.startswith(f"copied {source} -> oci:{dest}:v1")
