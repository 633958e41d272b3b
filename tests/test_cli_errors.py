"""Bad input: each case is one or two lines on stderr, the exit code DESIGN.md gives, and
no traceback. Secrets never appear."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli import Result, run_cli
from tests.scripted import Answer, ScriptedServer

HELPERS = Path(__file__).parent / "helpers"
CANARY = "canary-S3cr3t-4242"


def assert_clean_error(result: Result, code: int, *needles: str) -> None:
    assert result.code == code, result.err
    lines = result.err.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.err
    assert lines[0].startswith("portside: error: ")
    assert "Traceback" not in result.err
    for needle in needles:
        assert needle in result.err
    assert CANARY not in result.text


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("group/UPPER", "lowercase"),
        ("a:b:c", "a:b:c"),
        ("", "empty"),
        ("registry.example/" + "a" * 300, "characters"),
    ],
)
def test_malformed_references(capsys, docker_config, text, needle):
    for command in ("tags", "inspect"):
        assert_clean_error(run_cli(capsys, command, text), 2, needle)


def test_invalid_json_in_config(capsys, docker_config):
    (docker_config / "config.json").write_text('{"auths": {')
    result = run_cli(capsys, "tags", "registry.example/app")
    assert_clean_error(result, 2, str(docker_config / "config.json"))


def test_bad_base64_in_config_names_the_key_not_the_value(capsys, docker_config):
    (docker_config / "config.json").write_text(
        json.dumps({"auths": {"registry.example": {"auth": CANARY + "!!"}}})
    )
    assert_clean_error(run_cli(capsys, "tags", "registry.example/app"), 2, "registry.example")


@pytest.mark.parametrize(
    ("helper", "code", "needle"),
    [
        ("nosuchhelper", 2, "docker-credential-nosuchhelper"),
        ("portside-fail", 3, "docker-credential-portside-fail"),
        ("portside-junk", 2, "docker-credential-portside-junk"),
    ],
)
def test_broken_credential_helpers(capsys, docker_config, helper, code, needle):
    (docker_config / "config.json").write_text(
        json.dumps({"credHelpers": {"registry.example": helper}})
    )
    assert_clean_error(run_cli(capsys, "tags", "registry.example/app"), code, needle)


def test_html_page_instead_of_a_registry(capsys, docker_config):
    with ScriptedServer() as server:
        server.always("/", Answer(200, b"<html>shop</html>", {"Content-Type": "text/html"}))
        result = run_cli(capsys, "tags", f"{server.host}/app")
    assert_clean_error(result, 2, "HTML", server.host)


def test_tls_failure(capsys, docker_config, tmp_path):
    from tests.bed.tls import self_signed

    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with ScriptedServer(tls_context=context) as server:
        server.always("/v2/", Answer(200, b'{"tags":["v1"],"name":"app"}'))
        result = run_cli(capsys, "tags", f"{server.host}/app")
        assert_clean_error(result, 2, "TLS", "--insecure-registry")
        insecure = run_cli(capsys, "tags", "--insecure-registry", server.host, f"{server.host}/app")
        assert insecure.code == 0 and insecure.out == "v1\n"


def test_unknown_implementation(capsys, docker_config):
    result = run_cli(capsys, "tags", "--repo-container-registry", "nexxus", "r.example/app")
    assert_clean_error(result, 2, "nexxus")


def test_usage_error_is_exit_2(capsys, docker_config):
    assert run_cli(capsys, "tags").code == 2
    assert run_cli(capsys, "no-such-command").code == 2


def test_login_without_password_stdin_is_bad_input(capsys, docker_config):
    result = run_cli(capsys, "login", "r.example", "-u", "alice")
    assert_clean_error(result, 2, "--password-stdin")


def test_entry_points():
    """The console script and `python -m ci_env` both run."""
    module = subprocess.run(
        [sys.executable, "-m", "ci_env", "--version"], capture_output=True, text=True, check=False
    )
    assert module.returncode == 0 and module.stdout.startswith("portside ")
    script = Path(sys.executable).parent / "portside"
    result = subprocess.run([script, "--version"], capture_output=True, text=True, check=False)
    assert result.stdout == module.stdout
