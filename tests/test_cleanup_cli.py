"""`portside cleanup` as typer parses it, from its table (`ci_env.cleanup`): each option and env
twin reaches the policy and the engine as given, usage errors are click's, the help lists every
option, and a real dry run imports neither rich nor another command's module."""

from __future__ import annotations

import json
import os

import pytest

import drivers.cleanup
from ci_env.cleanup import CLEANUP
from drivers.cleanup.outcome import Outcome
from tests.bed import oci_image, push_image_raw
from tests.cli import run_cli, run_cli_listing_modules

DEFAULTS = {"dry_run": False, "jobs": 8, "all_repositories": False, "with_referrers": None}

# (argv, env, what the policy and the engine are given; None: the engine is not called)
CASES: list[tuple[list[str], dict[str, str], dict | None]] = [
    (["r:5000/app", "--keep-last", "3"], {}, {"repository": "r:5000/app", "keep_last": 3}),
    (
        ["--keep-tag", "^v", "--keep-tag=main", "r/app", "--delete-tag", "ci-.*", "--dry-run"],
        {},
        {"keep_tags": ("^v", "main"), "delete_tags": ("ci-.*",), "dry_run": True},
    ),
    (
        ["r/app", "--keep-newer-than", "7d", "--no-with-referrers", "--jobs", "0", "--quiet"],
        {},
        {"keep_newer_than": "7d", "with_referrers": False, "jobs": 0, "progress": "quiet"},
    ),
    (
        ["r/app", "--keep-last", " +2 ", "--with-referrers", "--jobs=-3", "--json"],
        {},
        {"keep_last": 2, "with_referrers": True, "jobs": -3},
    ),
    (
        ["r/app", "--git-repo", ".", "--all-repositories", "--keep-last", "1"],
        {},
        {"git_repo": ".", "engine_git_repo": ".", "all_repositories": True},
    ),
    (["--keep-last", "5"], {"PORTSIDE_REPO": "env:5000/app"}, {"repository": "env:5000/app"}),
    (["cli/app", "--keep-last", "5"], {"PORTSIDE_REPO": "env:5000/app"}, {"repository": "cli/app"}),
    (["--print-policy", "--keep-tag", "^v"], {}, None),
    (
        ["--print-policy", "--json"],
        {"PORTSIDE_KEEP_LAST": "4", "PORTSIDE_WITH_REFERRERS": "no"},
        None,
    ),
    (
        ["r/app", "--docker-config", "/cfg", "--insecure-registry", "h:1,h2"],
        {"PORTSIDE_INSECURE_REGISTRY": "ignored:1", "PORTSIDE_KEEP_TAG": "a  b"},
        {"docker_config": "/cfg", "insecure": frozenset({"h:1", "h2"}), "keep_tags": ("a", "b")},
    ),
    (
        [],
        {
            "PORTSIDE_REPO": "env/app",
            "PORTSIDE_POLICY": "",
            "PORTSIDE_KEEP_TAG": "^v ^release",
            "PORTSIDE_KEEP_LAST": " 7 ",
            "PORTSIDE_KEEP_NEWER_THAN": "2w",
            "PORTSIDE_DELETE_TAG": "ci-.*",
            "PORTSIDE_WITH_REFERRERS": "off",
            "PORTSIDE_DRY_RUN": "yes",
            "PORTSIDE_JSON": "1",
            "PORTSIDE_JOBS": "3",
            "PORTSIDE_ALL_REPOSITORIES": "t",
            "PORTSIDE_QUIET": "on",
            "PORTSIDE_DOCKER_CONFIG": "/c",
            "PORTSIDE_INSECURE_REGISTRY": "a:1,b:2 c",
            "PORTSIDE_REPO_CONTAINER_REGISTRY": "nexus",
        },
        {
            "repository": "env/app",
            "policy": None,
            "keep_tags": ("^v", "^release"),
            "keep_last": 7,
            "keep_newer_than": "2w",
            "delete_tags": ("ci-.*",),
            "with_referrers": False,
            "dry_run": True,
            "jobs": 3,
            "all_repositories": True,
            "progress": "quiet",
            "docker_config": "/c",
            "insecure": frozenset({"a:1", "b:2", "c"}),
            "implementation": "nexus",
        },
    ),
    (
        ["--keep-last", "1", "--", "-odd/app"],
        {"PORTSIDE_KEEP_LAST": "9"},
        {"repository": "-odd/app", "keep_last": 1},
    ),
]

# (argv, env, what click says): usage errors, exit 2.
USAGE_ERRORS: list[tuple[list[str], dict[str, str], str]] = [
    (["r/app", "--keep-last", "many"], {}, "'many' is not a valid integer"),
    (["r/app", "--jobs", "2.5"], {}, "'2.5' is not a valid integer"),
    (["r/app"], {"PORTSIDE_JOBS": "x"}, "(env var: 'PORTSIDE_JOBS'): 'x' is not a valid integer"),
    (["r/app"], {"PORTSIDE_WITH_REFERRERS": "maybe"}, "'maybe' is not a valid boolean"),
    (["r/app", "--bogus"], {}, "--bogus"),
    (["r/app", "-q"], {}, "-q"),
    (["r/app", "--dry-run=1"], {}, "Option '--dry-run' does not take a value"),
    (["r/app", "--keep-tag"], {}, "Option '--keep-tag' requires an argument"),
    (["r/app", "other/app"], {}, "Got unexpected extra argument (other/app)"),
]


@pytest.fixture
def engine_calls(monkeypatch) -> list[tuple]:
    """Record the policy the CLI asked for and the engine call it made; the policy is built for
    real (its errors are part of the behaviour), the engine does nothing."""
    calls: list[tuple] = []
    real_policy = drivers.cleanup.effective_policy

    def effective_policy(path, **flags):
        calls.append(("policy", path, flags))
        return real_policy(path, **flags)

    def cleanup(repository, policy, options, *, progress, **kwargs):
        calls.append(("cleanup", repository, options, kwargs, progress))
        return Outcome(repository=repository, dry_run=kwargs["dry_run"])

    monkeypatch.setattr(drivers.cleanup, "effective_policy", effective_policy)
    monkeypatch.setattr(drivers.cleanup, "cleanup", cleanup)
    return calls


def given(calls: list[tuple]) -> dict | None:
    """What the policy and the engine were given, as one flat dict; None without an engine
    call."""
    (_, path, flags), *engine = calls
    if not engine:
        return None
    [(_, repository, options, kwargs, progress)] = engine
    return {
        "policy": path,
        **flags,
        "repository": repository,
        **{k: v for k, v in kwargs.items() if k != "git_repo"},
        "engine_git_repo": kwargs["git_repo"],
        "progress": "quiet" if progress.quiet else "shown",
        "docker_config": options.docker_config,
        "insecure": options.insecure_registries,
        "implementation": options.implementation,
    }


@pytest.mark.parametrize(("argv", "env", "expected"), CASES)
def test_options_and_twins_reach_the_policy_and_the_engine(
    argv, env, expected, portside_env, engine_calls, capsys
):
    portside_env(env)
    result = run_cli(capsys, "cleanup", *argv)
    assert engine_calls, "the policy was not built"
    got = given(engine_calls)
    if expected is None:
        assert got is None
        assert result.code == (0 if "--print-policy" in argv else 2), result.err
        return
    assert result.code == 0, result.err
    expected = {**DEFAULTS, **expected}
    assert {key: got[key] for key in expected} == expected
    if "--json" in argv or env.get("PORTSIDE_JSON"):
        assert json.loads(result.out)["repository"] == got["repository"]


def test_print_policy_shows_the_twins_rules(portside_env, engine_calls, capsys):
    portside_env({"PORTSIDE_KEEP_LAST": "4", "PORTSIDE_WITH_REFERRERS": "no"})
    result = run_cli(capsys, "cleanup", "--print-policy", "--keep-tag", "^v")
    assert result.code == 0, result.err
    assert "--keep-tag" in result.out and "--keep-last" in result.out
    assert engine_calls[0][2]["with_referrers"] is False


def test_an_empty_repository_twin_is_unset(portside_env, engine_calls, capsys):
    portside_env({"PORTSIDE_REPO": ""})
    result = run_cli(capsys, "cleanup", "--keep-last", "5")
    assert result.code == 2
    assert "cleanup needs a repository" in result.err


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_a_bad_jobs_count_is_the_engines_error(jobs, portside_env, capsys):
    """click takes any integer for cleanup's --jobs (no range); the engine refuses it."""
    portside_env({})
    argv = ["cleanup", "127.0.0.1:1/app", "--dry-run", "--delete-tag", "x", "--jobs", jobs]
    result = run_cli(capsys, *argv)
    assert result.code == 2
    assert "--jobs must be at least 1" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(("argv", "env", "message"), USAGE_ERRORS)
def test_usage_errors_are_clicks(argv, env, message, portside_env, engine_calls, capsys):
    portside_env(env)
    result = run_cli(capsys, "cleanup", *argv)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err
    assert engine_calls == []


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_lists_every_option_and_twin(flag, portside_env, capsys):
    portside_env({})
    result = run_cli(capsys, "cleanup", flag)
    assert result.code == 0
    assert "Usage: portside cleanup [OPTIONS] [REPOSITORY]" in result.out
    assert "PORTSIDE_REPO]" in result.out
    assert "--no-with-referrers" in result.out
    for option in CLEANUP.options:
        assert option.flags[0] in result.out
        assert option.envvar in result.out


# Imported by a dry run in CI (stderr not a terminal): none of these.
NOT_NEEDED = ("rich", "pydantic", "ci_env.commands.registry", "ci_env.commands.transfer")
NOT_NEEDED += ("ci_env.commands.cienv",)


def test_a_dry_run_imports_neither_rich_nor_other_commands(
    docker_config, registry_plain, unique_repo
):
    for tag in ("v1", "ci-1"):
        push_image_raw(registry_plain.url, unique_repo, oci_image(f"{unique_repo}-{tag}"), tag)
    argv = ["cleanup", "--dry-run", "--quiet", "--delete-tag", "ci-.*"]
    env = {k: v for k, v in os.environ.items() if k != "PORTSIDE_DEBUG"}
    env["PORTSIDE_REPO"] = f"{registry_plain.host}/{unique_repo}"
    result, loaded = run_cli_listing_modules(argv, env=env, roots=NOT_NEEDED)
    assert result.code == 0, result.err
    assert loaded == []
    assert result.out == "dry run: 1 to delete, 1 kept (nothing was deleted)\n"
    assert result.err == ""
