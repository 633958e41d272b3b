"""action.yml, run step by step as the runner runs it (tests/action_runner.py), for every
command against a real registry, always with a job-level `env:` set; effects are checked
with skopeo or the registry's tag list."""

from __future__ import annotations

import base64
import json
import os
import sys
import uuid
from pathlib import Path

import pytest

from drivers.auth.credentials import Credential
from drivers.distribution import DistributionClient
from drivers.http.transport import Transport
from integrations.github_action import ActionError, command_line, lines
from tests.action_runner import ActionRunner, read_commands_file
from tests.bed import (
    CANARY_PASSWORD,
    CANARY_USER,
    oci_image,
    push_image,
    push_image_raw,
    schema2_image,
    skopeo,
    skopeo_inspect_digest,
)
from tests.github_support import FULL_SCOPES, FakeGhcr, serve

VENV_PYTHON = str(Path(sys.executable))
# Set in every job here: the action must leave a job's env as it found it.
JOB_ENV = {"PORTSIDE_JOBS": "2", "NO_COLOR": "1"}


@pytest.fixture
def job(tmp_path):
    """A job on the emulated runner, with portside from this checkout standing in for the
    install step (the install step's own tests run it)."""

    def make(**env: str) -> ActionRunner:
        return ActionRunner(tmp_path, job_env={**JOB_ENV, **env}, installed_python=VENV_PYTHON)

    return make


def _seed(registry, path: str, *tags: str, cred: Credential | None = None) -> None:
    client = DistributionClient(Transport(registry.host, cred))
    for tag in tags:
        push_image(client, path, schema2_image(f"{path}:{tag}"), tag)


def _tags(registry, path: str) -> set[str]:
    answer = skopeo("list-tags", f"docker://{registry.host}/{path}").stdout
    return set(json.loads(answer)["Tags"])


def _cleanup(runner: ActionRunner, registry, path: str, **inputs: str):
    """A `command: cleanup` step of `path`; the run, and the tags left afterwards."""
    run = runner.use(command="cleanup", repository=f"{registry.host}/{path}", **inputs)
    return run, _tags(registry, path)


def _write(directory: Path, name: str, text: str) -> str:
    (directory / name).write_text(text)
    return name


# --- the argument rules, unit by unit -----------------------------------------------------


def test_args_are_one_per_non_empty_line_as_written():
    assert lines("a b\n\n  \n--json\n") == ["a b", "--json"]
    assert lines("") == []


def test_inputs_are_options_only_when_set():
    argv, env = command_line({"command": "cleanup", "dry-run": "false", "login": "true"}, {})
    assert argv == ["cleanup"] and env == {}


def test_an_input_for_another_command_is_refused():
    with pytest.raises(ActionError, match="keep-tags: applies only to command: cleanup"):
        command_line({"command": "copy", "keep-tags": "v1"}, {})


def test_keep_last_and_keep_newer_than_take_the_larger_of_input_and_job_env():
    argv, _ = command_line(
        {"command": "cleanup", "keep-last": "3", "keep-newer-than": "2d"},
        {"PORTSIDE_KEEP_LAST": "5", "PORTSIDE_KEEP_NEWER_THAN": "36h"},
    )
    assert argv == ["cleanup", "--keep-last", "5", "--keep-newer-than", "2d"]


def test_the_job_env_token_wins_over_the_default_input_only():
    default = {"command": "ci-env", "github-token": "ghs_x", "default-token": "ghs_x"}
    assert command_line(default, {"PORTSIDE_REPO_GITHUB_TOKEN": "pat"})[1] == {}
    given = {**default, "github-token": "pat2"}
    assert command_line(given, {"PORTSIDE_REPO_GITHUB_TOKEN": "pat"})[1] == {
        "PORTSIDE_REPO_GITHUB_TOKEN": "pat2"
    }


def test_cleanup_gets_the_jobs_token_for_the_packages_api():
    inputs = {"command": "cleanup", "github-token": "ghs_x", "default-token": "ghs_x"}
    assert command_line(inputs, {})[1] == {"PORTSIDE_REPO_GITHUB_TOKEN": "ghs_x"}


def test_commands_file_forms():
    text = "A=1\nB<<EOF\nline 1\nline=2\nEOF\nC=x=y\n"
    assert read_commands_file(text) == {"A": "1", "B": "line 1\nline=2", "C": "x=y"}


# --- defect 11: the job's env is never clobbered ------------------------------------------


def test_cleanup_keeps_the_job_env_dry_run_and_policy(job, registry_plain, unique_repo):
    """Job env PORTSIDE_DRY_RUN=true and a keep-everything PORTSIDE_POLICY, action input
    keep-tags: v1 (issue 9, defect 11: this deleted v2)."""
    _seed(registry_plain, unique_repo, "v1", "v2")
    runner = job(PORTSIDE_DRY_RUN="true", PORTSIDE_POLICY="keep-all.yml")
    _write(runner.workspace, "keep-all.yml", "keep:\n  - tags: '.*'\n")
    run, left = _cleanup(runner, registry_plain, unique_repo, keep_tags="v1")
    assert run.returncode == 0, run.stdout + run.stderr
    assert left == {"v1", "v2"}


def test_dry_run_false_input_does_not_override_the_job_env(job, registry_plain, unique_repo):
    _seed(registry_plain, unique_repo, "v1", "v2")
    runner = job(PORTSIDE_DRY_RUN="true")
    run, left = _cleanup(runner, registry_plain, unique_repo, keep_last="1", dry_run="false")
    assert run.returncode == 0, run.stdout + run.stderr
    assert left == {"v1", "v2"}


@pytest.mark.parametrize(
    "given", [{"keep_tags": "v1"}, {"args": "--keep-tag\nv1"}], ids=["input", "args"]
)
def test_keep_tags_are_a_union_of_the_step_and_job_env(job, registry_plain, unique_repo, given):
    """A keep rule given by an input or in args adds to the job env's PORTSIDE_KEEP_TAG."""
    _seed(registry_plain, unique_repo, "v1", "v2", "v3")
    runner = job(PORTSIDE_KEEP_TAG="v2")
    run, left = _cleanup(runner, registry_plain, unique_repo, **given)
    assert run.returncode == 0, run.stdout + run.stderr
    assert left == {"v1", "v2"}


def test_delete_tags_input_with_a_job_env_filter_is_refused(job, registry_plain, unique_repo):
    _seed(registry_plain, unique_repo, "v1", "pr-1")
    runner = job(PORTSIDE_DELETE_TAG="pr-.*")
    run, left = _cleanup(runner, registry_plain, unique_repo, delete_tags=".*")
    assert run.returncode == 2
    assert "PORTSIDE_DELETE_TAG" in run.stdout and "input delete-tags:" in run.stdout
    assert left == {"v1", "pr-1"}


# --- defect 12: an option given twice is refused ------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "args", "names"),
    [
        ({"keep_tags": "v1"}, "--keep-tag=v2", ("keep-tags:", "--keep-tag")),
        ({"delete_tags": "pr-.*"}, "--delete-tag\n.*", ("delete-tags:", "--delete-tag")),
        ({"keep_last": "5"}, "--keep-last\n1", ("keep-last:", "--keep-last")),
    ],
)
def test_input_and_args_setting_one_option_is_refused(
    job, registry_plain, unique_repo, inputs, args, names
):
    _seed(registry_plain, unique_repo, "v1", "v2", "pr-1")
    run, left = _cleanup(job(), registry_plain, unique_repo, args=args, **inputs)
    assert run.returncode == 2
    assert all(name in run.stdout for name in names), run.stdout
    assert left == {"v1", "v2", "pr-1"}


# --- defects 13 and 14: lines --------------------------------------------------------------


def test_copy_with_a_block_of_args_ending_in_a_newline(job, registry_plain, unique_repo):
    _seed(registry_plain, unique_repo, "rc")
    source = f"{registry_plain.host}/{unique_repo}:rc"
    target = f"{registry_plain.host}/{unique_repo}:1.0"
    run = job().use(command="copy", args=f"{source}\n\n{target}\n")
    assert run.returncode == 0, run.stdout + run.stderr
    assert skopeo_inspect_digest(target) == skopeo_inspect_digest(source)


def test_keep_tags_are_one_regex_per_line(job, registry_plain, unique_repo):
    _seed(registry_plain, unique_repo, "v1", "v2", "v3")
    run, left = _cleanup(job(), registry_plain, unique_repo, keep_tags="(?x) v 1 | v 2\n")
    assert run.returncode == 0, run.stdout + run.stderr
    assert left == {"v1", "v2"}


def test_hostile_args_never_run(job, registry_plain, unique_repo, tmp_path):
    canary = tmp_path / "pwned"
    hostile = f"$(touch {canary})\n`touch {canary}`; touch {canary}"
    run = job().use(command="tags", args=hostile)
    assert run.returncode == 2
    assert not canary.exists()


def test_an_unknown_command_is_refused(job):
    run = job().use(command="rm")
    assert run.returncode == 2
    assert "::error::portside action: unknown command 'rm'" in run.stdout


# --- every command, against a real registry, with job env set ------------------------------


def _login_config(directory: Path, registry) -> Path:
    directory.mkdir()
    auth = base64.b64encode(f"{CANARY_USER}:{CANARY_PASSWORD}".encode()).decode()
    (directory / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
    return directory


def test_every_command_in_one_job(job, registry_token, unique_repo, tmp_path):
    """ci-env, then tags/inspect/pull/copy/cleanup through the exported config, then
    ci-env-cleanup: each a `uses:` step of one job."""
    cred = Credential(CANARY_USER, CANARY_PASSWORD, source="seed")
    _seed(registry_token, unique_repo, "v1", "v2", "old", cred=cred)
    repo = f"{registry_token.host}/{unique_repo}"
    creds = (CANARY_USER, CANARY_PASSWORD)
    source = _login_config(tmp_path / "user-docker", registry_token)
    runner = job(DOCKER_CONFIG=str(source), PORTSIDE_KEEP_TAG="v1")

    run = runner.use(github_token="ghs_" + "x" * 20)
    assert run.returncode == 0, run.stdout + run.stderr
    config = run.outputs["docker-config"]
    assert runner.exported["DOCKER_CONFIG"] == config != str(source)
    assert runner.exported["PORTSIDE_REPO"] == "ghcr.io/me/app"
    assert CANARY_PASSWORD not in run.stdout + run.stderr
    assert runner.job_env["DOCKER_CONFIG"] == str(source), "the job env is left as it was"

    run = runner.use(command="tags", args=f"{repo}\n--json\n")
    assert run.returncode == 0, run.stderr
    assert set(json.loads(run.stdout)) == {"v1", "v2", "old"}

    run = runner.use(command="inspect", args=f"{repo}:v1\n--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["digest"] == skopeo_inspect_digest(f"{repo}:v1", creds)

    run = runner.use(command="pull", args=f"{repo}:v2\n--dest\nimages dir\n")
    assert run.returncode == 0, run.stderr
    assert (runner.workspace / "images dir" / "index.json").is_file()

    run = runner.use(command="copy", args=f"{repo}:v2\n{repo}:release\n")
    assert run.returncode == 0, run.stderr
    assert skopeo_inspect_digest(f"{repo}:release", creds) == skopeo_inspect_digest(
        f"{repo}:v2", creds
    )

    run = runner.use(command="cleanup", repository=repo, keep_tags="release", dry_run="true")
    assert run.returncode == 0, run.stderr
    run = runner.use(command="cleanup", repository=repo, keep_tags="release")
    assert run.returncode == 0, run.stderr
    listed = skopeo("list-tags", f"--creds={CANARY_USER}:{CANARY_PASSWORD}", f"docker://{repo}")
    # v1 kept by the job env's PORTSIDE_KEEP_TAG, release by the input; v2 shares release's
    # digest, so distribution deletes only what it can without touching release.
    assert {"v1", "release"} <= set(json.loads(listed.stdout)["Tags"])
    assert "old" not in json.loads(listed.stdout)["Tags"]

    run = runner.use(command="ci-env-cleanup")
    assert run.returncode == 0, run.stderr
    assert not Path(config).exists()


# --- issue 11: the cleanup command on GitHub Packages, with the job's token ---------------


def test_cleanup_on_github_packages_with_the_jobs_token(job, registry_plain):
    """A scheduled workflow's step, as docs/cleanup.md shows it: `command: cleanup` on the
    job's own package with no token input, so `github-token` defaults to `github.token`;
    the runner's GITHUB_API_URL names the Packages API (the fake, as on GHES). The registry
    refuses DELETE, so what goes went through the Packages API, with the job's token."""
    runner = job(PORTSIDE_REPO_CONTAINER_REGISTRY="github", PORTSIDE_REPO_GITHUB_PAUSE="0")
    fake = FakeGhcr(registry_plain.url, {runner.token: FULL_SCOPES})
    with serve(fake):
        runner.runner["GITHUB_API_URL"] = fake.url
        fake.owners["me"] = "User"
        path = f"me/app-{uuid.uuid4().hex[:8]}"
        release = push_image_raw(fake.url, path, oci_image(f"{path}-r"), "release")
        old = push_image_raw(fake.url, path, oci_image(f"{path}-o"), "ci-1")
        repository = f"{fake.url.removeprefix('http://')}/{path}"
        step = {"repository": repository, "keep_tags": "release", "delete_tags": "ci-.*"}

        run = runner.use(command="cleanup", dry_run="true", **step)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "ci-1" in run.stdout and fake.api_calls("DELETE") == []
        assert fake.tags_of(path) == {"release": release, "ci-1": old}

        run = runner.use(command="cleanup", **step)
        assert run.returncode == 0, run.stdout + run.stderr
        assert fake.tags_of(path) == {"release": release}
        assert [c for c in fake.api_calls("DELETE") if "/versions/" in c]
        assert runner.token not in run.stdout + run.stderr

        # A token the job does not have is refused by the API: the default really was used.
        other = job(PORTSIDE_REPO_CONTAINER_REGISTRY="github", PORTSIDE_REPO_GITHUB_PAUSE="0")
        other.runner["GITHUB_API_URL"] = fake.url
        push_image_raw(fake.url, path, oci_image(f"{path}-o2"), "ci-2")
        run = other.use(command="cleanup", github_token="ghs_not_the_jobs", **step)
        assert run.returncode == 3, run.stdout + run.stderr
        assert "ci-2" in fake.tags_of(path)


# --- defects 15 and 16: what gets installed, where ------------------------------------------


def test_the_extra_follows_the_cleanup_repository(job):
    runner = job()
    ecr = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app"
    assert (
        runner.use(command="cleanup", repository=ecr, args="--help").steps["prepare"]["extras"]
        == "aws"
    )
    for inputs in ({"command": "ci-env"}, {"command": "cleanup", "repository": "ghcr.io/a/b"}):
        assert runner.use(**inputs, args="--help").steps["prepare"]["extras"] == ""
    assert (
        runner.use(command="pull", extras="gitlab, aws", args="--help").steps["prepare"]["extras"]
        == "aws,gitlab"
    )
    run = runner.use(command="pull", extras="boto3")
    assert run.returncode == 2 and "unknown extra boto3" in run.stdout


def test_windows_runners_are_refused(tmp_path):
    runner = ActionRunner(
        tmp_path, job_env=JOB_ENV, base_env={"RUNNER_OS": "Windows"}, installed_python=VENV_PYTHON
    )
    run = runner.use()
    assert run.returncode == 2
    assert "::error::portside action: Windows runners are not supported" in run.stdout
    assert "run" not in run.steps


def test_install_never_trusts_a_planted_venv(tmp_path):
    """An earlier step plants `$RUNNER_TEMP/portside-venv/bin/portside` (where the old action
    looked) and a `portside` first on PATH; the action installs its own (really: uv from
    PyPI, pinned) and runs that, each use in a directory of its own."""
    runner = ActionRunner(tmp_path, job_env=JOB_ENV)
    stolen = tmp_path / "stolen-token"
    for bin_dir in (runner.temp / "portside-venv" / "bin", tmp_path / "planted"):
        bin_dir.mkdir(parents=True)
        (bin_dir / "portside").write_text(f'#!/bin/sh\nenv > "{stolen}"\n')
        (bin_dir / "portside").chmod(0o755)
    runner.paths = [str(tmp_path / "planted")]
    first = runner.use(github_token="ghs_" + "y" * 20, version_check="true")
    assert first.returncode == 0, first.stdout + first.stderr
    assert not stolen.exists()
    python = Path(first.steps["install"]["python"])
    assert python.parent.parent.parent.parent == runner.temp
    assert python.parent.parent.parent.name.startswith("portside-action.")
    installed = [p.name.lower() for p in python.parent.parent.glob("lib/python*/site-packages/*")]
    assert any(name.startswith("typer") for name in installed)
    assert not any(name.startswith(("boto3", "azure", "github", "gitlab")) for name in installed)
    second = runner.use(command="ci-env-cleanup")
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.steps["install"]["python"] != str(python)
    assert not stolen.exists()


def test_the_run_step_never_imports_from_the_workspace(job):
    runner = job()
    shadow = runner.workspace / "integrations"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("")
    (shadow / "github_action.py").write_text("raise SystemExit(99)\n")
    run = runner.use(command="ci-env-cleanup")
    assert run.returncode == 0, run.stdout + run.stderr


def test_action_step_envs_never_name_a_portside_twin():
    """The run step passes inputs as INPUT_*; a PORTSIDE_* name in a step's `env:` would
    override the job's own."""
    import yaml

    action = yaml.safe_load((Path(__file__).parent.parent / "action.yml").read_text())
    for step in action["runs"]["steps"]:
        for name in step.get("env") or {}:
            assert not name.startswith("PORTSIDE_"), name


@pytest.fixture(autouse=True)
def _no_outer_github_env(monkeypatch):
    # The emulator builds each step's env itself; nothing of the outer runner leaks in.
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "RUNNER_", "INPUT_")):
            monkeypatch.delenv(name)
