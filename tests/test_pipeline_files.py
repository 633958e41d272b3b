""".gitlab-ci-template.yml: its shell steps, run as GitLab would run them, against a real
token-auth registry. (The Action's tests are in tests/test_action.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from drivers.credentials import Credential
from drivers.distribution import DistributionClient
from drivers.transport import Transport
from tests.bed import CANARY_PASSWORD, CANARY_USER, push_image, schema2_image

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


class _GitLabLoader(yaml.SafeLoader):
    """GitLab's `!reference [job, key]` tag, kept as a list."""


_GitLabLoader.add_constructor(
    "!reference", lambda loader, node: ["!reference", *loader.construct_sequence(node)]
)


def _gitlab_template() -> dict:
    return yaml.load((ROOT / ".gitlab-ci-template.yml").read_text(), Loader=_GitLabLoader)


def _expand(template: dict, lines: list) -> list[str]:
    out: list[str] = []
    for line in lines:
        if isinstance(line, list) and line[0] == "!reference":
            out += _expand(template, template[line[1]][line[2]])
        else:
            out.append(line)
    return out


def _seed(registry, path: str) -> None:
    cred = Credential(CANARY_USER, CANARY_PASSWORD, source="seed")
    push_image(DistributionClient(Transport(registry.host, cred)), path, schema2_image(path), "v1")


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


def test_gitlab_template_ci_env_job(registry_token, unique_repo, tmp_path):
    _seed(registry_token, unique_repo)
    template = _gitlab_template()
    job = template[".portside-ci-env"]
    before = _expand(template, job["before_script"])
    script = "\n".join([*before, 'portside tags "$PORTSIDE_REPO"', 'echo "config=$DOCKER_CONFIG"'])
    env = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "GITLAB_CI": "true",
        "CI_JOB_ID": "4242",
        "CI_REGISTRY": registry_token.host,
        "CI_REGISTRY_IMAGE": f"{registry_token.host}/{unique_repo}",
        "CI_REGISTRY_USER": CANARY_USER,
        "CI_REGISTRY_PASSWORD": CANARY_PASSWORD,
        "PORTSIDE_PIP_SPEC": "portside-is-already-installed",
    }
    result = _bash(script, env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "v1" in result.stdout.splitlines()
    assert CANARY_PASSWORD not in result.stdout + result.stderr
    config_dir = result.stdout.strip().splitlines()[-1].removeprefix("config=")
    assert Path(config_dir).is_dir()

    after = _bash("\n".join(job["after_script"]), env, tmp_path)
    assert after.returncode == 0, after.stderr
    assert not Path(config_dir).exists(), "after_script removes the job's config"


def test_gitlab_template_scheduled_cleanup_only_runs_on_schedule():
    template = _gitlab_template()
    rules = template["portside-cleanup"]["rules"]
    assert rules == [{"if": '$CI_PIPELINE_SOURCE == "schedule" && $PORTSIDE_CLEANUP == "true"'}]
    assert template[".portside-cleanup"]["variables"]["GIT_DEPTH"] == "0"
