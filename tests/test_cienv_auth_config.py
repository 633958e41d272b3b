"""ci-env carries DOCKER_AUTH_CONFIG into the job's config (issue 13), so tools that read only
the job config (podman, skopeo and buildah through REGISTRY_AUTH_FILE or DOCKER_CONFIG, docker
before 28.3) see its entries.

When the variable names a CI registry, docker ≥ 28.3 and portside would take it over the job's
login (docker/cli#6156), so the printed script unsets it; `KEY=VALUE` output never empties it.

Tested as users run it: `eval $(portside ci-env gitlab)` (and the other forms, in bash, dash and
fish) in a GitLab-like job whose DOCKER_AUTH_CONFIG names the test bed's registries, then
portside and skopeo in that shell.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.bed import CANARY_PASSWORD, CANARY_USER
from tests.cienv_support import (  # noqa: F401  (the `ci` fixture)
    GITHUB_JOB,
    GITLAB_JOB,
    ci_fixture,
)
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


# An entry for CI_REGISTRY (registry.example:5000 in GITLAB_JOB), under another spelling.
SHADOWING = {"HTTPS://Registry.Example:5000/v1/": auth("deploy", WRONG)}
UNSET_LINES = {
    "sh": "unset DOCKER_AUTH_CONFIG;\n",
    "fish": "set -e -g DOCKER_AUTH_CONFIG;\n",
    "powershell": "$env:DOCKER_AUTH_CONFIG = $null\n",
}


def assert_no_secret(result) -> None:
    assert WRONG not in result.text and b64(f"deploy:{WRONG}") not in result.text


@pytest.mark.parametrize("shell", UNSET_LINES)
def test_an_entry_for_the_ci_registry_is_unset_after_the_login(capsys, ci, shell):
    """docker ≥ 28.3 and portside take DOCKER_AUTH_CONFIG over config.json (docker/cli#6156), so
    a deploy token in it would serve `docker push $CI_REGISTRY_IMAGE`; its entries are all in the
    job's config, so the script unsets it."""
    ci.set({**GITLAB_JOB, "DOCKER_AUTH_CONFIG": docker_auth_config(SHADOWING)})
    result = run_cli(capsys, "ci-env", "--shell", shell, "--tmp-dir", str(ci.tmp))
    assert result.code == 0, result.err
    assert job_config(ci)["auths"] == {
        "registry.example:5000": auth("gitlab-ci-user", CANARY_PASSWORD)
    }
    assert UNSET_LINES[shell] in result.out
    notes = [line for line in result.err.splitlines() if "DOCKER_AUTH_CONFIG" in line]
    assert len(notes) == 1, result.err
    assert "unset" in notes[0] and "registry.example:5000" in notes[0]
    assert "job's config" in notes[0]
    assert_no_secret(result)


def test_the_unset_reaches_an_output_file_too(capsys, ci):
    ci.set({**GITLAB_JOB, "DOCKER_AUTH_CONFIG": docker_auth_config(SHADOWING)})
    result = run_cli(capsys, "ci-env", "--as-file", "--tmp-dir", str(ci.tmp))
    assert result.code == 0, result.err
    script = Path(result.out.strip()).read_text()
    assert script.endswith(UNSET_LINES["sh"])


def test_a_variable_naming_other_hosts_is_left_alone(capsys, ci):
    """testcontainers and other tools read it too, and nothing in it shadows the job's login."""
    ci.set(
        {
            **GITLAB_JOB,
            "DOCKER_AUTH_CONFIG": docker_auth_config(
                {
                    "registry.example:5001": auth("other", "port"),
                    "registry.example": auth("other", "no-port"),
                }
            ),
        }
    )
    result = run_cli(capsys, "ci-env", "--tmp-dir", str(ci.tmp))
    assert result.code == 0, result.err
    assert "DOCKER_AUTH_CONFIG" not in result.out + result.err


def test_without_the_login_nothing_is_shadowed_and_nothing_unset(capsys, ci):
    ci.set({**GITLAB_JOB, "DOCKER_AUTH_CONFIG": docker_auth_config(SHADOWING)})
    result = run_cli(capsys, "ci-env", "--no-login", "--tmp-dir", str(ci.tmp))
    assert result.code == 0, result.err
    assert "DOCKER_AUTH_CONFIG" not in result.out + result.err


def test_an_env_file_never_empties_the_variable(capsys, ci):
    """A dotenv report passes its variables to later jobs, and GitLab's runner pulls their
    private images with DOCKER_AUTH_CONFIG: the file must not hold an empty one."""
    ci.set({**GITLAB_JOB, "DOCKER_AUTH_CONFIG": docker_auth_config(SHADOWING)})
    result = run_cli(capsys, "ci-env", "--as-env-file", "--tmp-dir", str(ci.tmp))
    assert result.code == 0, result.err
    assert "DOCKER_AUTH_CONFIG" not in result.out
    assert "registry.example:5000" in result.err
    assert "unset DOCKER_AUTH_CONFIG" in result.err and "script" in result.err
    assert_no_secret(result)


def test_github_env_never_empties_the_variable(capsys, ci):
    """$GITHUB_ENV can set a variable for later steps but not unset it; the printed script
    unsets it in this step, and the note says what later steps must do."""
    env_file = ci.root / "github_env"
    ci.set(
        {
            **GITHUB_JOB,
            "GITHUB_ENV": str(env_file),
            "DOCKER_AUTH_CONFIG": docker_auth_config({"ghcr.io": auth("deploy", WRONG)}),
        }
    )
    result = run_cli(capsys, "ci-env", "--tmp-dir", str(ci.tmp))
    assert result.code == 0, result.err
    assert UNSET_LINES["sh"] in result.out
    assert "DOCKER_AUTH_CONFIG" not in env_file.read_text()
    assert "later steps" in result.err and "ghcr.io" in result.err
    assert_no_secret(result)


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


def job_env(
    tmp_path: Path, ci_registry, repo: str, **extra: str
) -> tuple[dict[str, str], Path, Path]:
    """A GitLab-like job on `ci_registry`: its environment, and the user's (empty) Docker config
    directory and HOME."""
    source = tmp_path / "user-docker"
    source.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    env = gitlab_env(
        ci_registry, repo, source, HOME=str(home), PORTSIDE_TMP_DIR=str(tmp_path), **extra
    )
    return env, source, home


def test_skopeo_in_the_job_authenticates_with_the_carried_entries(
    registry_token, registry_htpasswd, unique_repo, tmp_path, require_skopeo
):
    """CI_REGISTRY is the token registry (the job's login); DOCKER_AUTH_CONFIG holds the
    htpasswd registry's credentials, and the user's own config a wrong password for it."""
    seed(registry_token, unique_repo, "ci")
    seed(registry_htpasswd, unique_repo, "private")
    env, source, home = job_env(
        tmp_path,
        registry_token,
        unique_repo,
        DOCKER_AUTH_CONFIG=docker_auth_config(
            {registry_htpasswd.host: auth(CANARY_USER, CANARY_PASSWORD)}
        ),
    )
    (source / "config.json").write_text(
        json.dumps({"auths": {registry_htpasswd.host: auth(CANARY_USER, WRONG)}})
    )
    before = (source / "config.json").read_bytes()
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


# -- as users run it: the eval'ed line, then tools in that shell --------------------------------

POSIX_STATE = (
    'if [ -z "${DOCKER_AUTH_CONFIG+set}" ]; then echo auth-config=unset; '
    'elif [ "$DOCKER_AUTH_CONFIG" = "$ORIGINAL_AUTH_CONFIG" ]; then echo auth-config=kept; '
    "else echo auth-config=changed; fi"
)
FISH_STATE = (
    "if not set -q DOCKER_AUTH_CONFIG; echo auth-config=unset; "
    'else if test "$DOCKER_AUTH_CONFIG" = "$ORIGINAL_AUTH_CONFIG"; echo auth-config=kept; '
    "else; echo auth-config=changed; end"
)
# The same lines in bash, dash and fish: the job's repository (CI_REGISTRY), skopeo through the
# exported REGISTRY_AUTH_FILE, a repository on the other host (only DOCKER_AUTH_CONFIG has its
# credentials), and the control: the same command with the variable as it was.
TOOLS = (
    'portside tags "$PORTSIDE_REPO"\n'
    f'skopeo inspect {SKOPEO_TLS} "docker://$PORTSIDE_REPO:ci" >/dev/null && echo skopeo=ok\n'
    'portside tags "$OTHER_REPO"\n'
    'env DOCKER_AUTH_CONFIG="$ORIGINAL_AUTH_CONFIG" portside tags "$PORTSIDE_REPO" >/dev/null 2>&1'
    " && echo with-original=ok || echo with-original=refused\n"
)
BASH = ("bash", "-euo", "pipefail")
JOB_SHELLS = {
    "bash-eval-unquoted": (BASH, "eval $(portside ci-env gitlab)", POSIX_STATE),
    "bash-eval-quoted": (BASH, 'eval "$(portside ci-env gitlab)"', POSIX_STATE),
    "bash-dot-file": (BASH, '. "$(portside ci-env gitlab --as-file)"', POSIX_STATE),
    "dash-eval-unquoted": (("dash", "-e"), "eval $(portside ci-env gitlab)", POSIX_STATE),
    "fish-eval": (
        ("fish", "--no-config"),
        "eval (portside ci-env gitlab --shell fish)",
        FISH_STATE,
    ),
}


# What DOCKER_AUTH_CONFIG names besides the other registry -> what the job shell then shows:
# the variable's state, and the control (the job's repository with the variable as it was).
CASES = {
    "ci-registry": ("unset", "refused"),  # a deploy token for CI_REGISTRY: used, if not unset
    "other-host-only": ("kept", "ok"),  # shadows nothing: testcontainers and others read it
}


@pytest.mark.parametrize("form", JOB_SHELLS)
@pytest.mark.parametrize("case", CASES)
def test_the_job_shell_after_the_eval_line(
    registry_htpasswd, registry_token, unique_repo, tmp_path, require_skopeo, case, form
):
    """CI_REGISTRY is the htpasswd registry. DOCKER_AUTH_CONFIG holds the token registry's
    credentials, and in the first case also a refused (read-only) one for CI_REGISTRY, as a
    GitLab deploy token for private job images. After the eval'ed line every tool in that shell
    uses the job's login, the other registry's entry still works, and the variable is gone only
    when it named CI_REGISTRY."""
    seed(registry_htpasswd, unique_repo, "ci")
    seed(registry_token, unique_repo, "other")
    entries = {registry_token.host: auth(CANARY_USER, CANARY_PASSWORD)}
    if case == "ci-registry":
        entries[registry_htpasswd.host] = auth(CANARY_USER, WRONG)
    value = docker_auth_config(entries)
    env, _, _ = job_env(
        tmp_path,
        registry_htpasswd,
        unique_repo,
        DOCKER_AUTH_CONFIG=value,
        ORIGINAL_AUTH_CONFIG=value,
        OTHER_REPO=f"{registry_token.host}/{unique_repo}",
    )
    shell, line, show_state = JOB_SHELLS[form]
    result = in_job(f"{line}\n{show_state}\n{TOOLS}", env, tmp_path, shell=shell)
    assert result.returncode == 0, result.stderr
    state, control = CASES[case]
    assert result.stdout.splitlines() == [
        f"auth-config={state}",
        "ci",
        "skopeo=ok",
        "other",
        f"with-original={control}",
    ]
    assert ("DOCKER_AUTH_CONFIG" in result.stderr) == (case == "ci-registry"), result.stderr
    assert CANARY_PASSWORD not in result.stdout + result.stderr
    assert WRONG not in result.stderr
