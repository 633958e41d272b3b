"""What ci-env's exports do to the commands that run after it in the job, ci-env included.

- It names the CI registry (PORTSIDE_CI_REGISTRY, PORTSIDE_CI_REGISTRY_IMPLEMENTATION) without
  forcing that implementation on other hosts, as PORTSIDE_REPO_CONTAINER_REGISTRY did.
- Variables in the job's environment do not switch what `ci-env` does with its output
  (PORTSIDE_CLEANUP=true is the trigger of the GitLab template's scheduled cleanup).
- A second ci-env in the same shell reads back what the first exported, harmlessly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.errors import InvalidInput
from integrations.platform import registry_hints
from tests.cienv_support import GITLAB_JOB, clean_environ, run_shell

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
JOB = {
    **GITLAB_JOB,
    "CI_REGISTRY": "registry.example.com",
    "CI_REGISTRY_IMAGE": "registry.example.com/group/app",
}


def in_job(tmp_path: Path, program: str, names: list[str], **extra: str):
    source = tmp_path / "runner-docker"
    source.mkdir(exist_ok=True)
    env = clean_environ(**JOB, DOCKER_CONFIG=str(source), PORTSIDE_TMP_DIR=str(tmp_path), **extra)
    done = run_shell(["bash"], "set -e\n" + program, names, tmp_path, env=env)
    assert done.code == 0 and done.values is not None, done.stderr
    return done


@pytest.mark.parametrize("platform_variables", ["kept", "gone"])
def test_the_ci_registry_is_named_and_other_hosts_are_detected(tmp_path, platform_variables):
    """`gone`: a later step that sees only ci-env's exports (a GitHub step reading $GITHUB_ENV;
    GITLAB_CI unset)."""
    program = 'eval "$(portside ci-env gitlab)"\n'
    if platform_variables == "gone":
        program += "unset GITLAB_CI CI_REGISTRY\n"
    for host in ("registry.example.com", "docker.io", ECR, "ghcr.io"):
        program += f"echo ---; portside registries --detect {host} --json\n"
    done = in_job(tmp_path, program, ["PORTSIDE_REPO_CONTAINER_REGISTRY"])
    found = [json.loads(doc) for doc in done.stdout.decode().split("---\n")[1:]]
    assert [f["name"] for f in found] == ["gitlab", "dockerhub", "ecr", "github"]
    assert found[0]["reason"] == "registry.example.com is the CI platform's registry"
    assert done.values == {"PORTSIDE_REPO_CONTAINER_REGISTRY": None}


def test_an_unknown_ci_registry_implementation_is_bad_input():
    environ = {"PORTSIDE_CI_REGISTRY": "r.example", "PORTSIDE_CI_REGISTRY_IMPLEMENTATION": "nope"}
    with pytest.raises(InvalidInput, match="PORTSIDE_CI_REGISTRY_IMPLEMENTATION='nope'"):
        registry_hints(environ)
    assert registry_hints({**environ, "PORTSIDE_CI_REGISTRY_IMPLEMENTATION": "harbor"}) == {
        "r.example": "harbor"
    }


@pytest.mark.parametrize(
    "variable", ["PORTSIDE_CLEANUP", "PORTSIDE_OUTPUT", "PORTSIDE_AS_FILE", "PORTSIDE_AS_ENV_FILE"]
)
def test_output_mode_variables_leave_the_eval_alone(tmp_path, variable):
    names = ["DOCKER_CONFIG", "PORTSIDE_REPO"]
    done = in_job(tmp_path, 'eval "$(portside ci-env gitlab)"', names, **{variable: "true"})
    assert done.values["PORTSIDE_REPO"] == JOB["CI_REGISTRY_IMAGE"].encode()  # exported
    docker_config = done.values["DOCKER_CONFIG"]
    assert docker_config is not None and (Path(docker_config.decode()) / "config.json").is_file()
    assert not (tmp_path / "true").exists()  # PORTSIDE_OUTPUT=true wrote no file either


def test_a_second_ci_env_copies_the_runner_config_not_the_first_job_directory(tmp_path):
    """The first ci-env exported PORTSIDE_DOCKER_CONFIG and DOCKER_CONFIG, which the second reads
    as its source: it copies what the first copied (not the first's env.sh)."""
    runner = tmp_path / "runner-docker"
    runner.mkdir()
    (runner / "config.json").write_text(json.dumps({"auths": {"other.example": {"auth": "eDp5"}}}))
    (runner / "trust.pem").write_text("certificate")
    program = (
        ". $(portside ci-env gitlab --as-file)\n"
        "first=$DOCKER_CONFIG\n"
        "eval $(portside ci-env gitlab 2>/dev/null)\n"
        'test "$DOCKER_CONFIG" != "$first"\n'
    )
    done = in_job(tmp_path, program, ["DOCKER_CONFIG"])
    docker_config = done.values["DOCKER_CONFIG"]
    assert docker_config is not None
    second = Path(docker_config.decode())
    auths = json.loads((second / "config.json").read_text())["auths"]
    assert set(auths) == {"other.example", "registry.example.com"}
    assert sorted(p.name for p in second.iterdir()) == [
        ".portside-ci-env",
        "config.json",
        "trust.pem",
    ]


def test_a_second_ci_env_after_the_cleanup_says_what_is_wrong(tmp_path):
    """The first directory is gone, and with it the record of the runner's config: rather than
    start the job from an empty config, say so (exit 2)."""
    program = (
        "eval $(portside ci-env gitlab)\n"
        "portside ci-env --cleanup >/dev/null\n"
        "eval $(portside ci-env gitlab)\n"
    )
    source = tmp_path / "runner-docker"
    source.mkdir()
    env = clean_environ(**JOB, DOCKER_CONFIG=str(source), PORTSIDE_TMP_DIR=str(tmp_path))
    done = run_shell(["bash"], program, [], tmp_path, env=env)
    assert done.code == 2 and done.values is None
    assert "was removed by ci-env --cleanup" in done.stderr, done.stderr
