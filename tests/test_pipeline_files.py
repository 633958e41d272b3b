"""action.yml: its shell steps, run as the CI platform would run them, against a real
registry. (.gitlab-ci-template.yml: tests/test_gitlab_template.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from drivers.distribution import DistributionClient
from drivers.transport import Transport
from tests.bed import CANARY_PASSWORD, push_image, schema2_image

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def _bash(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _action_step(name_prefix: str) -> str:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        if step["name"].startswith(name_prefix):
            return step["run"]
    raise AssertionError(f"no step {name_prefix!r} in action.yml")


@pytest.fixture
def runner(tmp_path):
    """A simulated GitHub runner: RUNNER_TEMP holds the action's venv (ours), and the
    GITHUB_ENV / GITHUB_OUTPUT files."""
    runner_temp = tmp_path / "runner"
    (runner_temp / "portside-venv").mkdir(parents=True)
    (runner_temp / "portside-venv" / "bin").symlink_to(VENV_BIN, target_is_directory=True)
    github_env, github_output = tmp_path / "github_env", tmp_path / "github_output"
    github_env.touch()
    github_output.touch()
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "RUNNER_TEMP": str(runner_temp),
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_ENV": str(github_env),
        "GITHUB_OUTPUT": str(github_output),
        "GITHUB_PATH": str(tmp_path / "github_path"),
        "GITHUB_REPOSITORY": "Me/App",
        "GITHUB_ACTOR": "me",
        "GITHUB_RUN_ID": "77",
        "GITHUB_SERVER_URL": "https://github.com",
    }


def _inputs(**values: str) -> dict[str, str]:
    """The env the composite step maps its inputs to, with action.yml's defaults."""
    env = {
        "INPUT_COMMAND": "ci-env",
        "INPUT_ARGS": "",
        "INPUT_REPOSITORY": "",
        "PORTSIDE_REPO_GITHUB_TOKEN": CANARY_PASSWORD,
        "PORTSIDE_LOGIN_TO_REGISTRY": "true",
        "PORTSIDE_VERIFY": "false",
        "PORTSIDE_POLICY": "",
        "PORTSIDE_KEEP_LAST": "",
        "PORTSIDE_KEEP_NEWER_THAN": "",
        "PORTSIDE_KEEP_TAG": "",
        "PORTSIDE_DELETE_TAG": "",
        "PORTSIDE_DRY_RUN": "false",
    }
    env.update(values)
    return env


def test_action_ci_env_step_exports_to_later_steps(runner, tmp_path):
    result = _bash(_action_step("Run portside"), {**runner, **_inputs()}, tmp_path)
    assert result.returncode == 0, result.stderr
    exported = Path(runner["GITHUB_ENV"]).read_text()
    assert "DOCKER_CONFIG<<" in exported and "REGISTRY_AUTH_FILE<<" in exported
    assert "ghcr.io/me/app" in exported
    assert CANARY_PASSWORD not in exported + result.stdout
    assert "docker-config" in Path(runner["GITHUB_OUTPUT"]).read_text()


def test_action_args_are_one_per_line_and_never_run(registry_plain, unique_repo, runner, tmp_path):
    _seed_plain = DistributionClient(Transport(registry_plain.host))
    push_image(_seed_plain, unique_repo, schema2_image(unique_repo), "v1")
    canary = tmp_path / "pwned"
    args = f"{registry_plain.host}/{unique_repo}\n--json"
    result = _bash(
        _action_step("Run portside"),
        {**runner, **_inputs(INPUT_COMMAND="tags", INPUT_ARGS=args)},
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[\n  "v1"\n]'
    hostile = f"$(touch {canary})\n`touch {canary}`; touch {canary}"
    result = _bash(
        _action_step("Run portside"),
        {**runner, **_inputs(INPUT_COMMAND="tags", INPUT_ARGS=hostile)},
        tmp_path,
    )
    assert result.returncode == 2
    assert not canary.exists()


def test_action_rejects_an_unknown_command(runner, tmp_path):
    result = _bash(
        _action_step("Run portside"), {**runner, **_inputs(INPUT_COMMAND="rm")}, tmp_path
    )
    assert result.returncode == 2
    assert "unknown command 'rm'" in result.stdout
