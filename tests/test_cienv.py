"""`portside ci-env`: detection, the isolated config, the exports and their formats, bad input.

Runs the CLI in-process against a simulated job environment; the real-registry, parallel,
quoting and GitHub-file tests live in test_cienv_*.py and test_shell_quoting.py.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from drivers.auth import dockerconfig
from tests.cienv_support import (
    CANARY,
    GITHUB_JOB,
    GITLAB_JOB,
    PORTSIDE,
    CiSetup,
    ci_fixture,  # noqa: F401  (fixture)
    clean_environ,
    exported_values,
)
from tests.cli import Result, run_cli, run_cli_listing_modules


def ci_env(capsys, ci: CiSetup, *args: str) -> Result:
    return run_cli(capsys, "ci-env", *args, "--tmp-dir", str(ci.tmp))


def the_job_dir(ci: CiSetup) -> Path:
    dirs = ci.job_dirs()
    assert len(dirs) == 1, dirs
    return dirs[0]


def assert_error(result: Result, code: int, *needles: str) -> None:
    assert result.code == code, (result.out, result.err)
    assert result.err.startswith("portside: error: "), result.err
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) <= 2, result.err
    for needle in needles:
        assert needle in result.err
    assert CANARY not in result.text


# -- detection and missing variables -----------------------------------------------------


def test_outside_ci_is_bad_input(capsys, ci):
    result = ci_env(capsys, ci)
    assert_error(result, 2, "GITLAB_CI=true", "GITHUB_ACTIONS=true")
    assert ci.job_dirs() == []


def test_detects_gitlab_and_github(capsys, ci):
    ci.set(GITLAB_JOB)
    assert ci_env(capsys, ci).code == 0
    assert the_job_dir(ci).name.startswith("portside-ci-env-gitlab-4242-")
    for name in GITLAB_JOB:
        ci.monkeypatch.delenv(name)
    ci.set(GITHUB_JOB)
    assert ci_env(capsys, ci).code == 0
    assert any(p.name.startswith("portside-ci-env-github-9001-1-build-") for p in ci.job_dirs())


@pytest.mark.parametrize(
    ("platform", "variables", "missing"),
    [
        ("gitlab", {}, ["CI_JOB_ID", "CI_REGISTRY", "CI_REGISTRY_PASSWORD (or CI_JOB_TOKEN)"]),
        ("gitlab", {"CI_JOB_ID": "1", "CI_REGISTRY": "r.example"}, ["CI_JOB_TOKEN"]),
        (
            "gitlab",
            {**GITLAB_JOB, "CI_DEPENDENCY_PROXY_SERVER": "gitlab.example:443"},
            ["CI_DEPENDENCY_PROXY_USER", "CI_DEPENDENCY_PROXY_PASSWORD"],
        ),
        ("github", {}, ["GITHUB_RUN_ID", "GITHUB_ACTOR", "GITHUB_TOKEN"]),
        ("github", {"GITHUB_RUN_ID": "1", "GITHUB_TOKEN": CANARY}, ["GITHUB_ACTOR"]),
    ],
)
def test_each_missing_variable_is_named(capsys, ci, platform, variables, missing):
    ci.set(variables)
    result = ci_env(capsys, ci, platform)
    assert_error(result, 2, *missing)
    assert ci.job_dirs() == []


def test_no_login_needs_only_the_job_id(capsys, ci):
    ci.set({"CI_JOB_ID": "17"})
    result = ci_env(capsys, ci, "gitlab", "--no-login")
    assert result.code == 0, result.err
    config = json.loads((the_job_dir(ci) / "config.json").read_text())
    assert config["auths"] == {}


def test_no_login_env_twin(capsys, ci):
    ci.set({**GITLAB_JOB, "PORTSIDE_LOGIN_TO_REGISTRY": "false"})
    assert ci_env(capsys, ci).code == 0
    assert json.loads((the_job_dir(ci) / "config.json").read_text())["auths"] == {}


# -- the isolated directory and its config -----------------------------------------------


def test_job_directory_and_config(capsys, ci):
    ci.set(GITLAB_JOB)
    result = ci_env(capsys, ci)
    assert result.code == 0, result.err
    job_dir = the_job_dir(ci)
    assert "4242" in job_dir.name
    assert stat.S_IMODE(job_dir.stat().st_mode) == 0o700
    config_file = job_dir / "config.json"
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    config = dockerconfig.load(job_dir)
    assert list(config.auths) == ["registry.example:5000"]
    entry = config.auths["registry.example:5000"]
    assert (entry.username, entry.password) == ("gitlab-ci-user", CANARY)
    assert CANARY not in result.text


def test_job_token_fallback_and_dependency_proxy(capsys, ci):
    variables = {k: v for k, v in GITLAB_JOB.items() if not k.startswith("CI_REGISTRY_")}
    ci.set(
        {
            **variables,
            "CI_REGISTRY": "registry.example:5000",
            "CI_JOB_TOKEN": CANARY,
            "CI_DEPENDENCY_PROXY_SERVER": "gitlab.example:443",
            "CI_DEPENDENCY_PROXY_USER": "proxy-user",
            "CI_DEPENDENCY_PROXY_PASSWORD": "proxy-" + CANARY,
        }
    )
    assert ci_env(capsys, ci).code == 0
    auths = dockerconfig.load(the_job_dir(ci)).auths
    assert (auths["registry.example:5000"].username, auths["registry.example:5000"].password) == (
        "gitlab-ci-token",
        CANARY,
    )
    assert auths["gitlab.example:443"].username == "proxy-user"
    assert auths["gitlab.example:443"].password == "proxy-" + CANARY


def test_tmp_dir_precedence(capsys, ci, tmp_path):
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    ci.monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    ci.set({**GITHUB_JOB, "RUNNER_TEMP": str(runner_temp)})
    assert run_cli(capsys, "ci-env").code == 0
    assert [p.name[:22] for p in runner_temp.iterdir()] == ["portside-ci-env-github"]
    ci.set({"PORTSIDE_TMP_DIR": str(ci.tmp)})
    assert run_cli(capsys, "ci-env").code == 0
    assert len(ci.job_dirs()) == 1
    ci.monkeypatch.delenv("PORTSIDE_TMP_DIR")
    ci.monkeypatch.delenv("RUNNER_TEMP")
    assert run_cli(capsys, "ci-env").code == 0
    assert len(list(system_temp.iterdir())) == 1


def test_copies_the_source_but_never_changes_it(capsys, ci):
    before = ci.write_source({"auths": {"other.example": {"auth": "dXNlcjpwdw=="}}, "x": [1]})
    (ci.source / "ca.pem").write_text("certificate")
    (ci.source / "trust").mkdir()
    (ci.source / "trust" / "key.json").write_text("{}")
    for bulky in ("cli-plugins", "buildx", "contexts"):
        (ci.source / bulky).mkdir()
        (ci.source / bulky / "big").write_bytes(b"x" * 1000)
    os.mkfifo(ci.source / "a-fifo")  # would block a naive copy
    listing = sorted(str(p.relative_to(ci.source)) for p in ci.source.rglob("*"))
    ci.set(GITLAB_JOB)
    assert ci_env(capsys, ci).code == 0
    job_dir = the_job_dir(ci)
    copied = sorted(str(p.relative_to(job_dir)) for p in job_dir.rglob("*"))
    assert copied == [".portside-ci-env", "ca.pem", "config.json", "trust", "trust/key.json"]
    config = json.loads((job_dir / "config.json").read_text())
    assert config["x"] == [1]
    assert config["auths"]["other.example"] == {"auth": "dXNlcjpwdw=="}
    # The cli-plugins directory is not copied; docker still finds the plugins in it.
    assert config["cliPluginsExtraDirs"] == [str(ci.source / "cli-plugins")]
    assert (ci.source / "config.json").read_bytes() == before
    assert sorted(str(p.relative_to(ci.source)) for p in ci.source.rglob("*")) == listing


def test_symlinked_source_config_is_not_written_through(capsys, ci, tmp_path):
    real = tmp_path / "real-config.json"
    real.write_text('{"auths": {}}')
    (ci.source / "config.json").symlink_to(real)
    ci.set(GITLAB_JOB)
    assert ci_env(capsys, ci).code == 0
    assert real.read_text() == '{"auths": {}}'
    assert not (the_job_dir(ci) / "config.json").is_symlink()


def test_cred_helpers_and_creds_store_do_not_shadow_the_ci_login(capsys, ci):
    ci.write_source(
        {
            "auths": {"store.example": {}, "registry.example:5000": {}, "plain.example": {}},
            "credsStore": "desktop",
            "credHelpers": {"https://registry.example:5000": "ecr-login", "gcr.io": "gcloud"},
            "currentContext": "remote",
        }
    )
    ci.set(GITLAB_JOB)
    assert ci_env(capsys, ci).code == 0
    config = json.loads((the_job_dir(ci) / "config.json").read_text())
    assert "credsStore" not in config
    assert "currentContext" not in config
    # Logins the store held stay reachable through it, per host; the CI registry is in auths.
    assert config["credHelpers"] == {
        "gcr.io": "gcloud",
        "store.example": "desktop",
        "plain.example": "desktop",
    }
    assert set(config["auths"]) == {"store.example", "plain.example", "registry.example:5000"}
    assert config["auths"]["registry.example:5000"]["auth"]


def test_malformed_source_config_is_bad_input(capsys, ci):
    (ci.source / "config.json").write_text('{"auths": [')
    ci.set(GITLAB_JOB)
    assert_error(ci_env(capsys, ci), 2, str(ci.source / "config.json"))
    assert ci.job_dirs() == []


def test_unwritable_temp_dir_fails_clearly(capsys, ci, tmp_path):
    if os.geteuid() == 0:
        unwritable = Path("/sys")  # sysfs refuses mkdir even to root
    else:
        unwritable = tmp_path / "read-only"
        unwritable.mkdir(mode=0o500)
    ci.set(GITLAB_JOB)
    result = run_cli(capsys, "ci-env", "--tmp-dir", str(unwritable))
    assert_error(result, 1, f"cannot create the job's Docker config directory in {unwritable}")
    assert "--tmp-dir" in result.err


def test_without_verify_there_is_no_network_io(ci, tmp_path):
    """A closed port as the registry: ci-env still succeeds, and loads no HTTP stack at all."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{sock.getsockname()[1]}"
    env = clean_environ(
        **{**GITLAB_JOB, "CI_REGISTRY": closed, "CI_REGISTRY_IMAGE": f"{closed}/group/app"},
        DOCKER_CONFIG=str(ci.source),
    )
    heavy = ["requests", "urllib3", "socket", "ssl", "http.client", "rich", "pydantic"]
    heavy += ["boto3", "botocore", "gitlab", "github", "azure"]
    result, loaded = run_cli_listing_modules(
        ["ci-env", "--tmp-dir", str(ci.tmp)], env=env, roots=heavy
    )
    assert result.code == 0, result.err
    assert loaded == [], loaded
    assert exported_values(result.out.encode())["PORTSIDE_REPO"] == f"{closed}/group/app"


# -- exports -------------------------------------------------------------------------------


def test_exports_from_a_gitlab_job(capsys, ci):
    ci.set({**GITLAB_JOB, "CI_ENVIRONMENT_SLUG": "review-x", "CI_COMMIT_TAG": ""})
    result = ci_env(capsys, ci)
    values = exported_values(result.out.encode())
    job_dir = str(the_job_dir(ci))
    assert values == {
        "DOCKER_CONFIG": job_dir,
        "PORTSIDE_DOCKER_CONFIG": job_dir,
        "REGISTRY_AUTH_FILE": job_dir + "/config.json",
        "PORTSIDE_REPO": "registry.example:5000/group/app",
        "PORTSIDE_CI_REGISTRY": "registry.example:5000",
        "PORTSIDE_CI_REGISTRY_IMPLEMENTATION": "gitlab",
        "PORTSIDE_ENV": "review-x",
        "PORTSIDE_GIT_COMMIT": GITLAB_JOB["CI_COMMIT_SHA"],
        "PORTSIDE_GIT_BRANCH": "main",
        "PORTSIDE_CI_JOB_URL": GITLAB_JOB["CI_JOB_URL"],
        "PORTSIDE_CI_PIPELINE_URL": GITLAB_JOB["CI_PIPELINE_URL"],
    }


def test_tag_pipeline_exports_the_tag_not_a_branch(capsys, ci):
    ci.set({**GITLAB_JOB, "CI_COMMIT_TAG": "v1.2.3", "CI_COMMIT_REF_NAME": "v1.2.3"})
    values = exported_values(ci_env(capsys, ci).out.encode())
    assert values["PORTSIDE_GIT_TAG"] == "v1.2.3"
    assert "PORTSIDE_GIT_BRANCH" not in values


def test_exports_from_a_github_job(capsys, ci):
    ci.set({**GITHUB_JOB, "GITHUB_REF_TYPE": "tag", "GITHUB_REF_NAME": "v2"})
    values = exported_values(ci_env(capsys, ci).out.encode())
    assert values["PORTSIDE_REPO"] == "ghcr.io/octo-org/hello-world"
    assert values["PORTSIDE_CI_REGISTRY"] == "ghcr.io"
    assert values["PORTSIDE_CI_REGISTRY_IMPLEMENTATION"] == "github"
    assert "PORTSIDE_REPO_CONTAINER_REGISTRY" not in values  # it would force every host
    assert values["PORTSIDE_GIT_TAG"] == "v2"
    assert "PORTSIDE_GIT_BRANCH" not in values
    assert values["PORTSIDE_CI_PIPELINE_URL"] == (
        "https://github.com/Octo-Org/Hello-World/actions/runs/9001"
    )
    auths = dockerconfig.load(the_job_dir(ci)).auths
    assert (auths["ghcr.io"].username, auths["ghcr.io"].password) == ("octocat", CANARY)


def test_github_token_option_wins_over_github_token(capsys, ci):
    ci.set({**GITHUB_JOB, "PORTSIDE_REPO_GITHUB_TOKEN": "option-" + CANARY})
    assert ci_env(capsys, ci).code == 0
    assert dockerconfig.load(the_job_dir(ci)).auths["ghcr.io"].password == "option-" + CANARY


def test_user_set_variables_are_kept_except_the_config_ones(capsys, ci):
    ci.set(
        {
            **GITLAB_JOB,
            "PORTSIDE_REPO": "elsewhere.example/team/app",
            "PORTSIDE_GIT_BRANCH": "mine",
            "DOCKER_CONFIG": str(ci.source),
            "REGISTRY_AUTH_FILE": "/somewhere/auth.json",
        }
    )
    result = ci_env(capsys, ci)
    values = exported_values(result.out.encode())
    # Notes go to stderr: a comment line on stdout would swallow the rest of `eval $(…)`.
    assert "portside: PORTSIDE_REPO is already set; kept" in result.err
    assert "portside: PORTSIDE_GIT_BRANCH is already set; kept" in result.err
    assert "#" not in result.out
    assert "PORTSIDE_REPO" not in values and "PORTSIDE_GIT_BRANCH" not in values
    assert values["DOCKER_CONFIG"] == values["PORTSIDE_DOCKER_CONFIG"] == str(the_job_dir(ci))
    assert values["REGISTRY_AUTH_FILE"] == str(the_job_dir(ci) / "config.json")


def test_shells(capsys, ci):
    ci.set(GITLAB_JOB)
    fish = ci_env(capsys, ci, "--shell", "fish").out
    assert "set -gx PORTSIDE_REPO 'registry.example:5000/group/app';\n" in fish
    powershell = ci_env(capsys, ci, "--shell", "powershell").out
    assert "$env:PORTSIDE_REPO = 'registry.example:5000/group/app'\n" in powershell
    result = ci_env(capsys, ci, "--shell", "csh")
    assert result.code == 2 and "csh" in result.err


# -- output formats --------------------------------------------------------------------------


def test_env_file(capsys, ci):
    ci.set({**GITLAB_JOB, "PORTSIDE_ENV": "kept-by-user", "CI_ENVIRONMENT_SLUG": "prod"})
    result = ci_env(capsys, ci, "--as-env-file")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert all("=" in line and not line.startswith("#") for line in lines)
    values = dict(line.split("=", 1) for line in lines)
    assert values["PORTSIDE_REPO"] == "registry.example:5000/group/app"
    assert values["DOCKER_CONFIG"] == str(the_job_dir(ci))
    assert "PORTSIDE_ENV" not in values
    assert "PORTSIDE_ENV is already set; kept" in result.err


@pytest.mark.parametrize(
    ("branch", "problem"),
    [("a\nb", "line break"), ("a\rb", "line break"), (" lead", "whitespace"), ("x$y", "'$'")],
)
def test_env_file_refuses_values_it_cannot_hold(capsys, ci, branch, problem):
    ci.set({**GITLAB_JOB, "CI_COMMIT_REF_NAME": branch})
    result = ci_env(capsys, ci, "--as-env-file")
    assert_error(result, 2, "PORTSIDE_GIT_BRANCH", problem)
    assert ci.job_dirs() == []  # nothing is left behind


def test_as_file_can_be_sourced(ci):
    env = clean_environ(**GITLAB_JOB, DOCKER_CONFIG=str(ci.source))
    script = 'set -eu; . "$("$1" ci-env --as-file --tmp-dir "$2")"; '
    script += 'printf "%s\\n" "$PORTSIDE_REPO" "$DOCKER_CONFIG"'
    result = subprocess.run(
        ["sh", "-c", script, "sh", PORTSIDE, str(ci.tmp)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    repo, docker_config = result.stdout.splitlines()
    assert repo == "registry.example:5000/group/app"
    script_file = Path(docker_config) / "env.sh"
    assert stat.S_IMODE(script_file.stat().st_mode) == 0o600


def test_output_file_is_truncated_and_private(capsys, ci, tmp_path):
    target = tmp_path / "ci.env"
    target.write_text("old content that is much longer than anything\n" * 100)
    target.chmod(0o644)
    ci.set(GITLAB_JOB)
    result = ci_env(capsys, ci, "--as-env-file", "-o", str(target))
    assert result.code == 0, result.err
    assert result.out == ""
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    text = target.read_text()
    assert "old content" not in text
    assert "PORTSIDE_REPO=registry.example:5000/group/app\n" in text


def test_output_file_that_cannot_be_written(capsys, ci, tmp_path):
    ci.set(GITLAB_JOB)
    result = ci_env(capsys, ci, "-o", str(tmp_path / "missing" / "out.sh"))
    assert_error(result, 1, "out.sh")
    assert ci.job_dirs() == []


def test_as_file_with_output_writes_there_and_prints_the_path(capsys, ci, tmp_path):
    target = tmp_path / "job-env.sh"
    ci.set(GITLAB_JOB)
    result = ci_env(capsys, ci, "--as-file", "-o", str(target))
    assert result.code == 0, result.err
    assert result.out == f"{target}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert exported_values(target.read_bytes())["PORTSIDE_REPO"] == GITLAB_JOB["CI_REGISTRY_IMAGE"]
