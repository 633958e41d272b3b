"""`portside tags | inspect | login | logout` against real registries, cross-checked by skopeo.

Credentials reach the CLI only through a Docker config, in each form a user has them:
`auths`, `credHelpers` and `credsStore` (through a real credential-helper executable).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from drivers.auth.credentials import Credential
from drivers.distribution import DistributionClient
from drivers.http.transport import Transport
from tests.bed import CANARY_PASSWORD, CANARY_USER, oci_image, oci_index, push_image, schema2_image
from tests.bed.registry import RunningRegistry
from tests.bed.skopeo import skopeo_inspect_digest
from tests.cli import run_cli

HELPERS = Path(__file__).parent / "helpers"
FILE_HELPER = "portside-file"  # tests/helpers/docker-credential-portside-file


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _creds(registry: RunningRegistry) -> tuple[str, str] | None:
    return None if registry.auth == "none" else (CANARY_USER, CANARY_PASSWORD)


def _seed(registry: RunningRegistry, path: str) -> dict[str, str]:
    """Push a schema2 image, an OCI image and an OCI index; return tag -> digest."""
    cred = Credential(CANARY_USER, CANARY_PASSWORD, source="seed") if _creds(registry) else None
    client = DistributionClient(Transport(registry.host, cred))
    images = {
        "schema2": schema2_image(f"{path}-s2"),
        "oci": oci_image(f"{path}-oci"),
        "multi": oci_index(f"{path}-idx", ["linux/amd64", "linux/arm64"]),
    }
    return {tag: push_image(client, path, image, tag) for tag, image in images.items()}


def _write_config(directory: Path, doc: dict) -> None:
    (directory / "config.json").write_text(json.dumps(doc))


def _configure(directory: Path, registry: RunningRegistry, source: str) -> None:
    """Put the canary credentials for `registry` where `source` says."""
    if source == "auths":
        entry = {"auth": _b64(f"{CANARY_USER}:{CANARY_PASSWORD}")}
        _write_config(directory, {"auths": {registry.host: entry}})
        return
    store = {registry.host: {"Username": CANARY_USER, "Secret": CANARY_PASSWORD}}
    Path(os.environ["PORTSIDE_TEST_HELPER_FILE"]).write_text(json.dumps(store))
    if source == "credHelpers":
        _write_config(directory, {"credHelpers": {registry.host: FILE_HELPER}})
    else:
        _write_config(directory, {"credsStore": FILE_HELPER})


REGISTRIES = ["registry_plain", "registry_htpasswd", "registry_token"]


@pytest.mark.parametrize("source", ["auths", "credHelpers", "credsStore"])
@pytest.mark.parametrize("registry_fixture", REGISTRIES)
def test_tags_and_inspect_agree_with_skopeo(
    request, capsys, docker_config, unique_repo, registry_fixture, source
):
    registry: RunningRegistry = request.getfixturevalue(registry_fixture)
    digests = _seed(registry, unique_repo)
    if registry.auth != "none":
        _configure(docker_config, registry, source)

    listed = run_cli(capsys, "tags", f"{registry.host}/{unique_repo}")
    assert listed.code == 0, listed.err
    assert listed.out.splitlines() == sorted(digests)

    for tag, digest in digests.items():
        ref = f"{registry.host}/{unique_repo}:{tag}"
        shown = run_cli(capsys, "inspect", "--json", ref)
        assert shown.code == 0, shown.err
        info = json.loads(shown.out)
        assert info["digest"] == digest
        assert info["digest"] == skopeo_inspect_digest(ref, _creds(registry))
    assert CANARY_PASSWORD not in listed.text + shown.text


def test_tags_json_is_a_sorted_array(capsys, docker_config, registry_plain, unique_repo):
    _seed(registry_plain, unique_repo)
    result = run_cli(capsys, "tags", "--json", f"{registry_plain.host}/{unique_repo}")
    assert result.code == 0
    assert json.loads(result.out) == ["multi", "oci", "schema2"]


def test_inspect_reports_platforms_size_and_created(
    capsys, docker_config, registry_plain, unique_repo
):
    _seed(registry_plain, unique_repo)
    ref = f"{registry_plain.host}/{unique_repo}:multi"
    info = json.loads(run_cli(capsys, "inspect", "--json", ref).out)
    assert info["isIndex"] and info["platforms"] == ["linux/amd64", "linux/arm64"]
    assert info["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert info["size"] > sum(child["size"] for child in info["images"]) > 0
    assert info["created"]
    text = run_cli(capsys, "inspect", ref).out
    assert "linux/arm64" in text and info["digest"] in text

    by_digest = run_cli(
        capsys,
        "inspect",
        "--json",
        f"{registry_plain.host}/{unique_repo}@" + info["images"][0]["digest"],
    )
    assert json.loads(by_digest.out)["platforms"] == ["linux/amd64"]


def test_identitytoken_in_auths_uses_the_refresh_grant(
    capsys, docker_config, registry_token, token_server, unique_repo
):
    _seed(registry_token, unique_repo)
    refresh = token_server.issue_refresh_token(CANARY_USER)
    _write_config(docker_config, {"auths": {registry_token.host: {"identitytoken": refresh}}})
    token_server.clear_requests()
    result = run_cli(capsys, "tags", f"{registry_token.host}/{unique_repo}")
    assert result.code == 0, result.err
    assert any(r.grant_type == "refresh_token" for r in token_server.requests_seen)


@pytest.mark.parametrize("registry_fixture", ["registry_htpasswd", "registry_token"])
def test_wrong_password_is_exit_3_naming_registry_and_config(
    request, capsys, docker_config, unique_repo, registry_fixture
):
    registry: RunningRegistry = request.getfixturevalue(registry_fixture)
    wrong = "wrong-" + CANARY_PASSWORD
    _write_config(docker_config, {"auths": {registry.host: {"auth": _b64(f"alice:{wrong}")}}})
    result = run_cli(capsys, "--debug", "tags", f"{registry.host}/{unique_repo}")
    assert result.code == 3
    assert registry.host in result.err
    assert str(docker_config / "config.json") in result.err
    assert CANARY_PASSWORD not in result.text
    assert _b64(f"alice:{wrong}") not in result.text


def test_no_credentials_for_a_private_registry_is_exit_3(
    capsys, docker_config, registry_htpasswd, unique_repo
):
    result = run_cli(capsys, "tags", f"{registry_htpasswd.host}/{unique_repo}")
    assert result.code == 3
    assert "portside login" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("registry_fixture", ["registry_htpasswd", "registry_token"])
def test_login_checks_then_stores_in_auths_and_logout_removes(
    request, capsys, docker_config, unique_repo, registry_fixture
):
    registry: RunningRegistry = request.getfixturevalue(registry_fixture)
    _seed(registry, unique_repo)
    bad = run_cli(
        capsys, "login", registry.host, "-u", CANARY_USER, "--password-stdin", stdin="nope\n"
    )
    assert bad.code == 3
    assert not (docker_config / "config.json").exists(), "a refused login writes nothing"

    good = run_cli(
        capsys,
        "login",
        registry.host,
        "-u",
        CANARY_USER,
        "--password-stdin",
        stdin=CANARY_PASSWORD + "\n",
    )
    assert good.code == 0, good.err
    assert CANARY_PASSWORD not in good.text
    stored = json.loads((docker_config / "config.json").read_text())
    assert stored["auths"][registry.host]["auth"] == _b64(f"{CANARY_USER}:{CANARY_PASSWORD}")
    assert (docker_config / "config.json").stat().st_mode & 0o777 == 0o600
    assert run_cli(capsys, "tags", f"{registry.host}/{unique_repo}").code == 0

    assert run_cli(capsys, "logout", registry.host).code == 0
    stored = json.loads((docker_config / "config.json").read_text())
    assert registry.host not in stored.get("auths", {})
    assert run_cli(capsys, "tags", f"{registry.host}/{unique_repo}").code == 3


def test_login_stores_through_creds_store(capsys, docker_config, registry_htpasswd):
    _write_config(docker_config, {"credsStore": FILE_HELPER})
    result = run_cli(
        capsys,
        "login",
        registry_htpasswd.host,
        "-u",
        CANARY_USER,
        "--password-stdin",
        stdin=CANARY_PASSWORD,
    )
    assert result.code == 0, result.err
    assert CANARY_PASSWORD not in (docker_config / "config.json").read_text()
    store = json.loads(Path(os.environ["PORTSIDE_TEST_HELPER_FILE"]).read_text())
    assert any(v["Secret"] == CANARY_PASSWORD for v in store.values())
    assert run_cli(capsys, "logout", registry_htpasswd.host).code == 0
    store = json.loads(Path(os.environ["PORTSIDE_TEST_HELPER_FILE"]).read_text())
    assert not any(v.get("Secret") == CANARY_PASSWORD for v in store.values())


def test_registries_lists_all_eleven_and_detects(capsys, registry_plain):
    table = json.loads(run_cli(capsys, "registries", "--json").out)
    assert [row["name"] for row in table] == [
        "default", "ecr", "acr", "dockerhub", "gcr", "github",
        "gitlab", "harbor", "quay", "artifactory", "nexus",
    ]  # fmt: skip
    assert {row["name"] for row in table if row["native"]} == {
        "default",
        "dockerhub",
        "ecr",
        "github",
        "gitlab",
        "harbor",
        "quay",
    }
    assert "reads via default" in run_cli(capsys, "registries").out

    ghcr = json.loads(run_cli(capsys, "registries", "--json", "--detect", "ghcr.io").out)
    assert ghcr["name"] == "github" and "ghcr.io" in ghcr["reason"]
    local = run_cli(capsys, "registries", "--detect", registry_plain.host)
    assert local.code == 0 and "default" in local.out
    forced = json.loads(
        run_cli(
            capsys, "registries", "--json", "--detect", registry_plain.host,
            "--repo-container-registry", "harbor",
        ).out
    )  # fmt: skip
    assert forced["name"] == "harbor" and "forced" in forced["reason"]


def test_override_env_twin_is_validated(capsys, monkeypatch, registry_plain, unique_repo):
    monkeypatch.setenv("PORTSIDE_REPO_CONTAINER_REGISTRY", "nosuch")
    result = run_cli(capsys, "tags", f"{registry_plain.host}/{unique_repo}")
    assert result.code == 2
    assert "nosuch" in result.err and "default, ecr" in result.err


def test_docker_config_option_beats_env(capsys, docker_config, tmp_path, registry_htpasswd):
    other = tmp_path / "other"
    other.mkdir()
    _write_config(other, {"auths": {registry_htpasswd.host: {
        "auth": _b64(f"{CANARY_USER}:{CANARY_PASSWORD}")}}})  # fmt: skip
    _write_config(docker_config, {"auths": {}})
    repo = f"{registry_htpasswd.host}/test/none"
    assert run_cli(capsys, "tags", repo).code == 3
    result = run_cli(capsys, "tags", "--docker-config", str(other), repo)
    assert result.code == 1 and "not found" in result.err  # authenticated; repo absent


def test_debug_logs_each_http_exchange_without_secrets(docker_config, registry_htpasswd):
    import subprocess
    import sys

    auth = _b64(f"{CANARY_USER}:{CANARY_PASSWORD}")
    _write_config(docker_config, {"auths": {registry_htpasswd.host: {"auth": auth}}})
    done = subprocess.run(
        [sys.executable, "-m", "ci_env", "--debug", "tags", f"{registry_htpasswd.host}/none/such"],
        env={**os.environ, "DOCKER_CONFIG": str(docker_config)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    url = f"http://{registry_htpasswd.host}/v2/none/such/tags/list"
    # Detection's /v2/ ping meets the Basic challenge; the listing answers it at once.
    assert f"portside.http: GET http://{registry_htpasswd.host}/v2/ -> 401 (" in done.stderr
    assert f"portside.http: GET {url}?n=1000 -> 404 (reused connection)" in done.stderr
    assert f"portside.http: GET {url}?n=1000 -> 401" not in done.stderr
    assert done.returncode == 1, done.stderr
    assert CANARY_PASSWORD not in done.stdout + done.stderr
    assert auth not in done.stdout + done.stderr
