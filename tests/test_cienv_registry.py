"""ci-env against a real token-auth docker-registry standing in for `$CI_REGISTRY`.

After `eval "$(portside ci-env gitlab)"`, `portside tags "$PORTSIDE_REPO"` works through the
isolated config, and skopeo works with nothing but the exported REGISTRY_AUTH_FILE.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from drivers.auth.credentials import Credential
from drivers.distribution import DistributionClient
from drivers.http.transport import Transport
from tests.bed import CANARY_PASSWORD, CANARY_USER, push_image, schema2_image
from tests.bed.registry import RunningRegistry
from tests.cienv_support import GITLAB_JOB, PORTSIDE, clean_environ, run_portside

HELPERS = Path(__file__).parent / "helpers"
SKOPEO_TLS = "--tls-verify=false"  # the bed registries speak plain HTTP


def seed(registry: RunningRegistry, path: str, *tags: str) -> None:
    client = DistributionClient(
        Transport(registry.host, Credential(CANARY_USER, CANARY_PASSWORD, source="seed"))
    )
    for tag in tags:
        push_image(client, path, schema2_image(f"{path}-{tag}"), tag)


def gitlab_env(registry: RunningRegistry, repo: str, source: Path, **extra: str) -> dict[str, str]:
    job = {
        **GITLAB_JOB,
        "CI_REGISTRY": registry.host,
        "CI_REGISTRY_IMAGE": f"{registry.host}/{repo}",
        "CI_REGISTRY_USER": CANARY_USER,
        "CI_REGISTRY_PASSWORD": CANARY_PASSWORD,
    }
    return clean_environ(**job, DOCKER_CONFIG=str(source), **extra)


@pytest.fixture
def source(tmp_path) -> Path:
    directory = tmp_path / "user-docker"
    directory.mkdir()
    return directory


def in_job(
    script: str,
    env: dict[str, str],
    cwd: Path,
    shell: tuple[str, ...] = ("bash", "-euo", "pipefail"),
) -> subprocess.CompletedProcess[str]:
    """Run a job script in `shell` with `portside` on PATH, as a CI runner would."""
    env = {**env, "PATH": f"{Path(PORTSIDE).parent}{os.pathsep}{env['PATH']}"}
    return subprocess.run(
        [*shell, "-c", script],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_eval_then_tags_and_skopeo(registry_token, unique_repo, source, tmp_path, require_skopeo):
    seed(registry_token, unique_repo, "1.0", "latest")
    env = gitlab_env(registry_token, unique_repo, source, PORTSIDE_TMP_DIR=str(tmp_path))
    script = (
        "eval $(portside ci-env gitlab)\n"  # the usage line, unquoted'
        'portside tags "$PORTSIDE_REPO"\n'
        'echo "auth-file=$REGISTRY_AUTH_FILE"\n'
    )
    result = in_job(script, env, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["1.0", "latest"]
    auth_file = lines[2].removeprefix("auth-file=")
    assert CANARY_PASSWORD not in result.stdout + result.stderr

    # skopeo, with nothing but REGISTRY_AUTH_FILE: no Docker config, no XDG auth, empty HOME.
    home = tmp_path / "empty-home"
    home.mkdir()
    bare = {"PATH": os.environ["PATH"], "HOME": str(home)}
    target = f"docker://{registry_token.host}/{unique_repo}"
    listing = subprocess.run(
        ["skopeo", "list-tags", SKOPEO_TLS, target],
        env={**bare, "REGISTRY_AUTH_FILE": auth_file},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listing.returncode == 0, listing.stderr
    assert sorted(json.loads(listing.stdout)["Tags"]) == ["1.0", "latest"]
    # The control: the same call without the file is refused, so the file did the work.
    refused = subprocess.run(
        ["skopeo", "list-tags", SKOPEO_TLS, target],
        env=bare,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0


def test_verify_asks_for_a_pull_scoped_token(registry_token, unique_repo, source, tmp_path):
    seed(registry_token, unique_repo, "v1")
    server = registry_token.token_server
    assert server is not None
    server.clear_requests()
    env = gitlab_env(registry_token, unique_repo, source)
    result = run_portside("ci-env", "--verify", "--tmp-dir", str(tmp_path), env=env)
    assert result.returncode == 0, result.stderr.decode()
    scopes = [s for r in server.requests_seen if r.status == 200 for s in r.scopes]
    assert f"repository:{unique_repo}:pull" in scopes
    assert all(s.endswith(":pull") for s in scopes)


def test_verify_accepts_a_repository_not_pushed_yet(registry_token, unique_repo, source, tmp_path):
    env = gitlab_env(registry_token, unique_repo, source)
    result = run_portside("ci-env", "--verify", "--tmp-dir", str(tmp_path), env=env)
    assert result.returncode == 0, result.stderr.decode()


def test_verify_with_a_wrong_token_exits_3(registry_token, unique_repo, source, tmp_path):
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    env = gitlab_env(registry_token, unique_repo, source)
    env.pop("CI_REGISTRY_USER")
    env.pop("CI_REGISTRY_PASSWORD")
    env["CI_JOB_TOKEN"] = "wrong-token"
    result = run_portside("ci-env", "--verify", "--tmp-dir", str(jobs), env=env)
    err = result.stderr.decode()
    assert result.returncode == 3, err
    assert "refused the job's credentials (CI_JOB_TOKEN)" in err
    assert "wrong-token" not in err and "Traceback" not in err
    assert list(jobs.iterdir()) == []  # nothing was created


@pytest.mark.parametrize(
    "line", ["eval $(portside ci-env gitlab --verify)", 'eval "$(portside ci-env gitlab --verify)"']
)
def test_refused_credentials_stop_the_job(registry_token, unique_repo, source, tmp_path, line):
    """The job's script stops at the eval with exit 3, even without -e."""
    env = gitlab_env(registry_token, unique_repo, source, PORTSIDE_TMP_DIR=str(tmp_path))
    env["CI_REGISTRY_PASSWORD"] = "wrong-password"
    for shell in (("sh", "-e"), ("sh",)):
        done = in_job(f"{line}; echo CONTINUED", env, tmp_path, shell)
        assert done.returncode == 3, done.stderr
        assert "CONTINUED" not in done.stdout
        assert "refused the job's credentials" in done.stderr
        assert "wrong-password" not in done.stdout + done.stderr


def test_copied_helpers_do_not_shadow_the_ci_login(
    registry_token, fresh_registry, unique_repo, source, tmp_path, require_skopeo
):
    """The user's config sends the CI registry to a credential helper holding a wrong password
    (credHelpers and credsStore both). The job must still use the CI credentials, and a second
    registry whose login lives in the store must keep working through it."""
    other = fresh_registry(auth="htpasswd")
    seed(registry_token, unique_repo, "ci")
    seed(other, unique_repo, "other")
    store_file = tmp_path / "helper-store.json"
    store_file.write_text(
        json.dumps(
            {
                registry_token.host: {"Username": CANARY_USER, "Secret": "stale-password"},
                other.host: {"Username": CANARY_USER, "Secret": CANARY_PASSWORD},
            }
        )
    )
    (source / "config.json").write_text(
        json.dumps(
            {
                "auths": {registry_token.host: {}, other.host: {}},
                "credHelpers": {registry_token.host: "portside-file"},
                "credsStore": "portside-file",
            }
        )
    )
    before = (source / "config.json").read_bytes()
    env = gitlab_env(
        registry_token,
        unique_repo,
        source,
        PORTSIDE_TEST_HELPER_FILE=str(store_file),
    )
    env["PATH"] = f"{HELPERS}{os.pathsep}{env['PATH']}"
    script = (
        'eval "$(portside ci-env gitlab --tmp-dir "$PWD")"\n'
        'portside tags "$PORTSIDE_REPO"\n'
        f"portside tags {other.host}/{unique_repo}\n"
        f"skopeo list-tags {SKOPEO_TLS} docker://$PORTSIDE_REPO\n"
    )
    result = in_job(script, env, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["ci", "other"]
    assert json.loads("\n".join(lines[2:]))["Tags"] == ["ci"]
    assert (source / "config.json").read_bytes() == before
