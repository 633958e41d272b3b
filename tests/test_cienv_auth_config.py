"""ci-env carries DOCKER_AUTH_CONFIG into the job's config (issue 13), so tools that read only
the job config (podman, skopeo and buildah through REGISTRY_AUTH_FILE or DOCKER_CONFIG, docker
before 28.3) see its entries.

Tested as users run it: `eval $(portside ci-env gitlab)` in a GitLab-like job whose
DOCKER_AUTH_CONFIG names the test bed's htpasswd registry, then skopeo pointed at the job config.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

from tests.bed import CANARY_PASSWORD, CANARY_USER
from tests.cienv_support import GITLAB_JOB, ci_fixture  # noqa: F401  (the `ci` fixture)
from tests.cli import run_cli
from tests.test_cienv_registry import SKOPEO_TLS, gitlab_env, in_job, seed

WRONG = "wrong-password"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def auth(user: str, password: str) -> dict[str, str]:
    return {"auth": b64(f"{user}:{password}")}


def docker_auth_config(entries: dict[str, dict[str, str]]) -> str:
    return json.dumps({"auths": entries})


def job_config(ci) -> dict:
    (job,) = ci.job_dirs()
    return json.loads((job / "config.json").read_text())


def test_entries_are_carried_and_win_over_the_source_file(capsys, ci):
    ci.write_source(
        {
            "auths": {
                "env.example": auth("file", "1"),
                "https://env.example/v1/": auth("legacy", "1"),
                "stored.example": {},
                "file.example": auth("file", "2"),
                "quay.io/ns/app": auth("ns", "file"),
            },
            "credHelpers": {"env.example": "portside-fail", "helped.example": "gcloud"},
            "credsStore": "desktop",
        }
    )
    ci.set(GITLAB_JOB)
    ci.set(
        {
            "DOCKER_AUTH_CONFIG": docker_auth_config(
                {
                    "env.example": auth("env", "1"),
                    "stored.example": auth("env", "2"),
                    "quay.io/ns/app": auth("ns", "env"),
                }
            )
        }
    )
    result = run_cli(capsys, "ci-env", "--tmp-dir", str(ci.tmp))
    assert result.code == 0, result.err
    doc = job_config(ci)
    assert doc["auths"] == {
        "file.example": auth("file", "2"),
        "env.example": auth("env", "1"),
        "stored.example": auth("env", "2"),
        "quay.io/ns/app": auth("ns", "env"),
        "registry.example:5000": auth("gitlab-ci-user", CANARY_PASSWORD),
    }
    # A host's helper would be asked before auths: the carried entries must not be shadowed,
    # as they are not in docker (DOCKER_AUTH_CONFIG comes before every helper).
    assert doc["credHelpers"] == {"helped.example": "gcloud"}
    assert "credsStore" not in doc


def test_the_ci_login_wins_over_an_entry_for_the_ci_registry(capsys, ci):
    ci.set(GITLAB_JOB)
    ci.set(
        {"DOCKER_AUTH_CONFIG": docker_auth_config({"registry.example:5000": auth("deploy", WRONG)})}
    )
    result = run_cli(capsys, "ci-env", "--tmp-dir", str(ci.tmp))
    assert result.code == 0, result.err
    assert job_config(ci)["auths"] == {
        "registry.example:5000": auth("gitlab-ci-user", CANARY_PASSWORD)
    }
    # docker ≥ 28.3 (and portside) still read the variable first: say so, and how to avoid it.
    assert "DOCKER_AUTH_CONFIG" in result.err and "registry.example:5000" in result.err
    assert WRONG not in result.text and b64(f"deploy:{WRONG}") not in result.text


def test_with_no_login_the_entries_are_carried_alone(capsys, ci):
    ci.set(GITLAB_JOB)
    ci.set(
        {"DOCKER_AUTH_CONFIG": docker_auth_config({"registry.example:5000": auth("deploy", "x")})}
    )
    assert run_cli(capsys, "ci-env", "--no-login", "--tmp-dir", str(ci.tmp)).code == 0
    assert job_config(ci)["auths"] == {"registry.example:5000": auth("deploy", "x")}


def test_a_broken_docker_auth_config_stops_ci_env(capsys, ci):
    ci.set(GITLAB_JOB)
    secret = b64(f"{CANARY_USER}:{CANARY_PASSWORD}")
    ci.set({"DOCKER_AUTH_CONFIG": '{"auths": {"x": {"auth": "' + secret + '"}}'})
    result = run_cli(capsys, "ci-env", "--tmp-dir", str(ci.tmp))
    assert result.code == 2
    assert "DOCKER_AUTH_CONFIG" in result.err
    assert secret not in result.text and CANARY_PASSWORD not in result.text
    assert ci.job_dirs() == []


def test_skopeo_in_the_job_authenticates_with_the_carried_entries(
    registry_token, registry_htpasswd, unique_repo, tmp_path, require_skopeo
):
    """CI_REGISTRY is the token registry (the job's login); DOCKER_AUTH_CONFIG holds the
    htpasswd registry's credentials, and the user's own config a wrong password for it."""
    seed(registry_token, unique_repo, "ci")
    seed(registry_htpasswd, unique_repo, "private")
    source = tmp_path / "user-docker"
    source.mkdir()
    (source / "config.json").write_text(
        json.dumps({"auths": {registry_htpasswd.host: auth(CANARY_USER, WRONG)}})
    )
    before = (source / "config.json").read_bytes()
    home = tmp_path / "home"
    home.mkdir()
    env = gitlab_env(
        registry_token,
        unique_repo,
        source,
        HOME=str(home),
        PORTSIDE_TMP_DIR=str(tmp_path),
        DOCKER_AUTH_CONFIG=docker_auth_config(
            {registry_htpasswd.host: auth(CANARY_USER, CANARY_PASSWORD)}
        ),
    )
    private = f"docker://{registry_htpasswd.host}/{unique_repo}:private"
    ci_image = f"docker://{registry_token.host}/{unique_repo}:ci"
    script = (
        "eval $(portside ci-env gitlab)\n"
        f"skopeo inspect {SKOPEO_TLS} {private} >/dev/null && echo auth-file-private\n"
        f"skopeo inspect {SKOPEO_TLS} {ci_image} >/dev/null && echo auth-file-ci\n"
        # DOCKER_CONFIG alone: containers/image then reads $DOCKER_CONFIG/config.json.
        f"env -u REGISTRY_AUTH_FILE skopeo inspect {SKOPEO_TLS} {private} >/dev/null"
        " && echo docker-config-private\n"
        'portside tags "$PORTSIDE_REPO"\n'
        'echo "job=$DOCKER_CONFIG"\n'
    )
    result = in_job(script, env, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:4] == ["auth-file-private", "auth-file-ci", "docker-config-private", "ci"]
    assert CANARY_PASSWORD not in result.stdout + result.stderr
    assert (source / "config.json").read_bytes() == before

    # The control: skopeo with the user's own config (wrong password) is refused, so the
    # carried entry did the work.
    job = Path(lines[4].removeprefix("job="))
    refused = subprocess.run(
        ["skopeo", "inspect", SKOPEO_TLS, "--authfile", str(source / "config.json"), private],
        env={"PATH": os.environ["PATH"], "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
    carried = json.loads((job / "config.json").read_text())["auths"]
    assert carried[registry_htpasswd.host] == auth(CANARY_USER, CANARY_PASSWORD)
