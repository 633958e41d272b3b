"""`portside cleanup` without typer: the lean parser and the typer command are generated from one
table (`ci_env.cleanup`), so they must build the same policy and hand the engine the same call
for every command line and environment, and the lean one must leave everything else to click."""

from __future__ import annotations

import os

import pytest

import ci_env.cli as cli
import drivers.cleanup
from ci_env.cleanup import CLEANUP
from ci_env.lean import parse
from drivers.cleanup.outcome import Outcome
from tests.bed import oci_image, push_image_raw
from tests.cli import run_cli, run_cli_both_paths, run_cli_listing_modules

CASES: list[tuple[list[str], dict[str, str]]] = [
    (["r:5000/app", "--keep-last", "3"], {}),
    (["--keep-tag", "^v", "--keep-tag=main", "r/app", "--delete-tag", "ci-.*", "--dry-run"], {}),
    (["r/app", "--keep-newer-than", "7d", "--no-with-referrers", "--jobs", "0", "--quiet"], {}),
    (["r/app", "--keep-last", " +2 ", "--with-referrers", "--jobs=-3", "--json"], {}),
    (["r/app", "--git-repo", ".", "--all-repositories", "--keep-last", "-1"], {}),
    (["--keep-last", "5"], {"PORTSIDE_REPO": "env:5000/app"}),
    (["cli/app", "--keep-last", "5"], {"PORTSIDE_REPO": "env:5000/app"}),
    (["--keep-last", "5"], {"PORTSIDE_REPO": ""}),  # empty is unset: the body says so, exit 2
    (["--print-policy", "--keep-tag", "^v"], {}),
    (["--print-policy", "--json"], {"PORTSIDE_KEEP_LAST": "4", "PORTSIDE_WITH_REFERRERS": "no"}),
    (
        ["r/app", "--docker-config", "/cfg", "--insecure-registry", "h:1,h2"],
        {"PORTSIDE_INSECURE_REGISTRY": "ignored:1", "PORTSIDE_KEEP_TAG": "a  b"},
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
            "PORTSIDE_REPO_CONTAINER_REGISTRY": "distribution",
        },
    ),
    (["--keep-last", "1", "--", "-odd/app"], {"PORTSIDE_KEEP_LAST": "9"}),
]

# (argv, env, what click says): click's usage errors, which the lean parser must leave to it.
USAGE_ERRORS: list[tuple[list[str], dict[str, str], str]] = [
    (["r/app", "--keep-last", "many"], {}, "'many' is not a valid integer"),
    (["r/app", "--jobs", "2.5"], {}, "'2.5' is not a valid integer"),
    (["r/app"], {"PORTSIDE_JOBS": "x"}, "'x' is not a valid integer"),
    (["r/app"], {"PORTSIDE_WITH_REFERRERS": "maybe"}, "'maybe' is not a valid boolean"),
    (["r/app", "--bogus"], {}, "No such option '--bogus'"),
    (["r/app", "-q"], {}, "No such option '-q'"),
    (["r/app", "--dry-run=1"], {}, "Option '--dry-run' does not take a value"),
    (["r/app", "--keep-tag"], {}, "Option '--keep-tag' requires an argument"),
    (["r/app", "other/app"], {}, "Got unexpected extra argument (other/app)"),
]

HEAVY = ("typer", "click", "rich", "pydantic")


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
        calls.append(("cleanup", repository, policy, options, kwargs, type(progress).__name__))
        return Outcome(repository=repository, dry_run=kwargs["dry_run"])

    monkeypatch.setattr(drivers.cleanup, "effective_policy", effective_policy)
    monkeypatch.setattr(drivers.cleanup, "cleanup", cleanup)
    return calls


@pytest.mark.parametrize(("argv", "env"), CASES)
def test_lean_and_typer_paths_run_cleanup_alike(
    argv, env, portside_env, engine_calls, capsys, monkeypatch
):
    portside_env(env)
    lean, typer = run_cli_both_paths(capsys, monkeypatch, engine_calls, ["cleanup", *argv])
    assert lean[0], "the policy was not built"
    assert lean == typer


def test_the_lean_path_parses_values_as_click_does(portside_env):
    portside_env({"PORTSIDE_REPO": "env/app", "PORTSIDE_KEEP_TAG": "a  b", "PORTSIDE_JOBS": "3"})
    parsed = parse(CLEANUP, ["--keep-last", " +2 ", "--no-with-referrers", "--jobs", "-1"])
    assert parsed is not None
    assert (parsed.repository, parsed.keep_last, parsed.jobs) == ("env/app", 2, -1)
    assert (parsed.keep_tag, parsed.with_referrers) == (("a", "b"), False)
    assert parse(CLEANUP, ["cli/app"]).repository == "cli/app"
    unset = parse(CLEANUP, [], {})
    assert (unset.repository, unset.with_referrers, unset.jobs) == (None, None, 8)


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_a_bad_jobs_count_is_the_engines_error_on_both_paths(
    jobs, portside_env, capsys, monkeypatch
):
    """click takes any integer (no range, as before the lean path); the engine refuses it."""
    portside_env({})
    argv = ["cleanup", "127.0.0.1:1/app", "--dry-run", "--delete-tag", "x", "--jobs", jobs]
    assert parse(CLEANUP, argv[1:]) is not None
    for lean in (True, False):
        with monkeypatch.context() as patch:
            if not lean:  # (not PORTSIDE_DEBUG, which would print the traceback)
                patch.setattr(cli, "_lean_command", lambda name: None)
            result = run_cli(capsys, *argv)
        assert result.code == 2
        assert "--jobs must be at least 1" in result.err
        assert "Traceback" not in result.err


@pytest.mark.parametrize(("argv", "env", "message"), USAGE_ERRORS)
def test_usage_errors_come_from_click(argv, env, message, portside_env, capsys):
    portside_env(env)
    assert parse(CLEANUP, argv) is None
    result = run_cli(capsys, "cleanup", *argv)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_comes_from_click(flag, portside_env, capsys):
    assert parse(CLEANUP, [flag]) is None
    result = run_cli(capsys, "cleanup", flag)
    assert result.code == 0
    assert "Usage: portside cleanup [OPTIONS] [REPOSITORY]" in result.out
    assert "PORTSIDE_REPO]" in result.out
    assert "--no-with-referrers" in result.out
    for option in CLEANUP.options:
        assert option.flags[0] in result.out
        assert option.envvar in result.out


def test_the_cli_needs_neither_typer_click_nor_rich(docker_config, registry_plain, unique_repo):
    """In CI (stderr not a terminal) a real dry run loads no CLI framework and no rich."""
    for tag in ("v1", "ci-1"):
        push_image_raw(registry_plain.url, unique_repo, oci_image(f"{unique_repo}-{tag}"), tag)
    argv = ["cleanup", "--dry-run", "--quiet", "--delete-tag", "ci-.*"]
    env = {k: v for k, v in os.environ.items() if k != "PORTSIDE_DEBUG"}
    env["PORTSIDE_REPO"] = f"{registry_plain.host}/{unique_repo}"
    result, loaded = run_cli_listing_modules(argv, env=env, roots=HEAVY)
    assert result.code == 0, result.err
    assert loaded == []
    assert result.out == "dry run: 1 to delete, 1 kept (nothing was deleted)\n"
    assert result.err == ""
