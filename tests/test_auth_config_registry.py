"""Issue 13 against a real htpasswd docker-registry, through the CLI as users run it:
namespaced `auths` keys (per repository), DOCKER_AUTH_CONFIG, and login/logout leaving the
entries they do not own in place."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from drivers.auth.credentials import Credential
from drivers.distribution import DistributionClient
from drivers.http.transport import Transport
from tests.bed import CANARY_PASSWORD, CANARY_USER, push_image, schema2_image
from tests.bed.registry import RunningRegistry
from tests.cli import run_cli

WRONG = "wrong-password"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def good() -> dict[str, str]:
    return {"auth": b64(f"{CANARY_USER}:{CANARY_PASSWORD}")}


def bad() -> dict[str, str]:
    return {"auth": b64(f"{CANARY_USER}:{WRONG}")}


def seed(registry: RunningRegistry, *paths: str) -> None:
    client = DistributionClient(
        Transport(registry.host, Credential(CANARY_USER, CANARY_PASSWORD, source="seed"))
    )
    for path in paths:
        push_image(client, path, schema2_image(path), "1.0")


def write(directory: Path, doc: dict) -> None:
    (directory / "config.json").write_text(json.dumps(doc))


def test_the_namespaced_key_serves_its_repository_and_not_the_host(
    capsys, docker_config, registry_htpasswd, unique_repo
):
    host = registry_htpasswd.host
    mine, other = f"{unique_repo}/app", f"{unique_repo}-other/app"
    seed(registry_htpasswd, mine, other)
    write(docker_config, {"auths": {f"{host}/{mine}": good(), host: bad()}})
    assert run_cli(capsys, "tags", f"{host}/{mine}").code == 0
    refused = run_cli(capsys, "tags", f"{host}/{other}")
    assert refused.code == 3 and f"auths['{host}']" in refused.err

    # Without a host key, the namespaced key is not used for another repository at all.
    write(docker_config, {"auths": {f"{host}/{mine}": good()}})
    assert run_cli(capsys, "tags", f"{host}/{mine}").code == 0
    anonymous = run_cli(capsys, "tags", f"{host}/{other}")
    assert anonymous.code == 3 and "no credentials were found" in anonymous.err


def test_one_pull_uses_each_repositorys_own_key(
    capsys, docker_config, registry_htpasswd, unique_repo, tmp_path
):
    """Both images come through one client for the registry: the credential is chosen per
    repository on each request, not once per registry."""
    host = registry_htpasswd.host
    first, second = f"{unique_repo}/a", f"{unique_repo}/b"
    seed(registry_htpasswd, first, second)
    write(
        docker_config,
        {"auths": {host: bad(), f"{host}/{first}": good(), f"{host}/{second}": good()}},
    )
    result = run_cli(
        capsys,
        "pull",
        f"{host}/{first}:1.0",
        f"{host}/{second}:1.0",
        "--dest",
        str(tmp_path / "out"),
    )
    assert result.code == 0, result.err


def test_docker_auth_config_comes_before_the_file(
    capsys, docker_config, registry_htpasswd, unique_repo, monkeypatch
):
    host = registry_htpasswd.host
    seed(registry_htpasswd, unique_repo)
    write(docker_config, {"auths": {host: bad()}})
    monkeypatch.setenv("DOCKER_AUTH_CONFIG", json.dumps({"auths": {host: good()}}))
    assert run_cli(capsys, "tags", f"{host}/{unique_repo}").code == 0

    monkeypatch.setenv("DOCKER_AUTH_CONFIG", json.dumps({"auths": {host: bad()}}))
    write(docker_config, {"auths": {host: good()}})
    refused = run_cli(capsys, "tags", f"{host}/{unique_repo}")
    assert refused.code == 3 and "DOCKER_AUTH_CONFIG" in refused.err


def test_a_broken_docker_auth_config_is_bad_input(
    capsys, docker_config, registry_htpasswd, unique_repo, monkeypatch
):
    secret = b64(f"{CANARY_USER}:{CANARY_PASSWORD}")
    monkeypatch.setenv("DOCKER_AUTH_CONFIG", '{"auths": {"x": {"auth": "' + secret + '"}')
    result = run_cli(capsys, "tags", f"{registry_htpasswd.host}/{unique_repo}")
    assert result.code == 2
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2 and "DOCKER_AUTH_CONFIG" in lines[0]
    assert secret not in result.text and CANARY_PASSWORD not in result.text
    assert "Traceback" not in result.err


def test_login_and_logout_leave_namespaced_entries_and_other_keys(
    capsys, docker_config, registry_htpasswd
):
    host = registry_htpasswd.host
    others = {
        "proxies": {"default": {"httpProxy": "http://proxy.example:3128"}},
        "currentContext": "remote",
        "HttpHeaders": {"X-Meta": "kept"},
        "x-unknown": {"deep": [1, None, "two"]},
    }
    namespaced = {f"{host}/ns/app": {"auth": b64("ns:app"), "email": "ns@example.com"}}
    write(docker_config, {**others, "auths": {**namespaced, host: bad()}})

    login = run_cli(
        capsys, "login", host, "-u", CANARY_USER, "--password-stdin", stdin=CANARY_PASSWORD + "\n"
    )
    assert login.code == 0, login.err
    doc = json.loads((docker_config / "config.json").read_text())
    assert doc["auths"] == {**namespaced, host: good()}
    assert {key: doc[key] for key in others} == others

    assert run_cli(capsys, "logout", host).code == 0
    doc = json.loads((docker_config / "config.json").read_text())
    assert doc["auths"] == namespaced
    assert {key: doc[key] for key in others} == others


@pytest.mark.parametrize("spelling", ["Auths", "AUTHS"])
def test_other_spellings_of_auths_are_read(
    capsys, docker_config, registry_htpasswd, unique_repo, spelling
):
    seed(registry_htpasswd, unique_repo)
    write(docker_config, {spelling: {registry_htpasswd.host: {"Auth": good()["auth"]}}})
    assert run_cli(capsys, "tags", f"{registry_htpasswd.host}/{unique_repo}").code == 0
