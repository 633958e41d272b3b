"""Detection where it matters (drivers/registries/detection.py, connect.py): when the host
name does not decide, the commands that need a driver choose it from the one `/v2/` answer,
as `portside registries --detect` does, and `--debug` says which and why. The registry is a
real docker-registry behind a proxy that signs its `/v2/` answer as another product would."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from tests.bed import oci_image, push_image_raw
from tests.cli import run_cli
from tests.faultproxy import FaultProxy

NEXUS = {"Server": "Nexus/3.68.1-02 (OSS)"}
ARTIFACTORY = {"X-JFrog-Version": "Artifactory/7.77.5 77705900", "X-Artifactory-Id": "a1b2c3"}


@pytest.fixture
def signed(registry_plain, docker_config, monkeypatch):
    """A proxy in front of the plain registry; the test sets the headers of its `/v2/`."""
    monkeypatch.delenv("PORTSIDE_REPO_CONTAINER_REGISTRY", raising=False)
    with FaultProxy(registry_plain.host) as proxy:
        yield proxy


def seed(registry_plain, path: str, *tags: str) -> None:
    for tag in tags:
        push_image_raw(registry_plain.url, path, oci_image(f"{path}-{tag}"), tag)


def pings(proxy: FaultProxy) -> int:
    return sum(1 for s in proxy.seen if s.method == "GET" and s.path == "/v2/")


def portside(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "ci_env", *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cleanup_on_a_nexus_is_served_by_the_nexus_implementation(
    signed, registry_plain, unique_repo
):
    seed(registry_plain, unique_repo, "v1", "ci-1", "ci-2")
    signed.ping_headers = NEXUS
    done = portside(
        "--debug", "cleanup", f"{signed.host}/{unique_repo}", "--delete-tag", "ci-.*", "--json"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    chosen = f"{signed.host}: the nexus implementation serves it"
    assert f"{chosen} (the /v2/ answer says Server: Nexus)" in done.stderr
    assert sorted(e["tag"] for e in json.loads(done.stdout)["deleted"]) == ["ci-1", "ci-2"]
    assert pings(signed) == 1  # detection's look is the one /v2/ request
    listed = run_cli_tags(registry_plain.host, unique_repo)
    assert listed == ["v1"]


def run_cli_tags(host: str, path: str) -> list[str]:
    done = portside("tags", f"{host}/{path}", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_tags_on_an_artifactory_is_served_by_the_artifactory_implementation(
    capsys, caplog, signed, registry_plain, unique_repo
):
    seed(registry_plain, unique_repo, "v1", "v2")
    signed.ping_headers = ARTIFACTORY
    caplog.set_level(logging.DEBUG, logger="portside.registries")
    listed = run_cli(capsys, "--debug", "tags", f"{signed.host}/{unique_repo}")
    assert listed.code == 0, listed.text
    assert listed.out.split() == ["v1", "v2"]
    assert "the artifactory implementation serves it (the /v2/ answer carries X-Artifactory" in (
        caplog.text
    )
    assert pings(signed) == 1


def test_registries_detect_and_the_commands_agree(
    capsys, caplog, signed, registry_plain, unique_repo
):
    """Without a product's signature the proxy is `default`, for --detect and for pull."""
    seed(registry_plain, unique_repo, "v1")
    caplog.set_level(logging.DEBUG, logger="portside.registries")
    for headers, name in (({}, "default"), (NEXUS, "nexus"), (ARTIFACTORY, "artifactory")):
        signed.ping_headers = headers
        detected = run_cli(capsys, "registries", "--detect", signed.host, "--json")
        assert json.loads(detected.out)["name"] == name, detected.text
        caplog.clear()
        inspected = run_cli(capsys, "inspect", f"{signed.host}/{unique_repo}:v1", "--json")
        assert inspected.code == 0, inspected.text
        assert f"the {name} implementation serves it" in caplog.text


def test_a_host_name_that_decides_needs_no_ping(capsys, caplog, docker_config, monkeypatch):
    """ECR is known by its name: --detect makes no request at all (the host does not exist)."""
    caplog.set_level(logging.DEBUG, logger="portside.registries")
    detected = run_cli(
        capsys, "registries", "--detect", "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "--json"
    )
    assert detected.code == 0, detected.text
    assert json.loads(detected.out)["name"] == "ecr"
