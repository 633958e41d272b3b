"""Credential-helper answers, read as docker's client reads them (docker-credential-helpers
`client.Get`, used by docker/cli's `credentials/native_store.go`).

Every helper here is a real executable: a small shell script written into a temp dir on
PATH, printing the stdout and stderr a test gives it and exiting with its code.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers.auth.credentials import (
    ANONYMOUS,
    DockerConfigCredentials,
    helper_erase,
    helper_get,
)
from drivers.auth.dockerconfig import load
from drivers.errors import ConfigError, CredentialError
from tests.bed import CANARY_PASSWORD, CANARY_USER, oci_image
from tests.cli import run_cli
from tests.transfer_helpers import push

CANARY = "canary-H3lp3r-7373"
# A secret JSON must escape: in a helper's raw stdout it is not the same string.
QUOTED_CANARY = 'canary-"qu0ted\\-7373'
NOT_FOUND = "credentials not found in native keychain"
Helper = Callable[..., str]


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Helper:
    """helper(stdout, stderr="", code=0) -> the NAME of a new docker-credential-NAME."""
    directory = tmp_path / "helper-bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ['PATH']}")
    count = 0

    def make(stdout: str, stderr: str = "", code: int = 0) -> str:
        nonlocal count
        count += 1
        name = f"answer{count}"
        (directory / f"{name}.out").write_text(stdout)
        (directory / f"{name}.err").write_text(stderr)
        script = directory / f"docker-credential-{name}"
        here = shlex.quote(str(directory))
        script.write_text(
            "#!/bin/sh\n"
            "cat >/dev/null\n"
            f"cat {here}/{name}.out\n"
            f"cat {here}/{name}.err >&2\n"
            f"exit {code}\n"
        )
        script.chmod(0o755)
        return name

    return make


def assert_no_canary(*texts: object) -> None:
    for text in texts:
        assert CANARY not in str(text)
        assert QUOTED_CANARY not in str(text)


# --- answers docker accepts --------------------------------------------------------------


@pytest.mark.parametrize(
    ("stdout", "username", "password"),
    [
        ('{"ServerURL":"r.example","Username":"u","Secret":"s"}', "u", "s"),
        ('{"username":"u","secret":"s"}', "u", "s"),  # Go matches field names without case
        ('{"USERNAME":"u","sEcReT":"s","serverurl":"r.example"}', "u", "s"),
        ('{"Username":"first","username":"last","Secret":"s"}', "last", "s"),  # last one wins
        ('{"Username":null,"Secret":"s"}', "", "s"),  # null leaves the field empty
        ('{"Username":"u"}', "u", ""),  # a missing field is empty
        ('{"Username":"u","Secret":"s","Expires":1700000000,"x":[1]}', "u", "s"),
        ('{"Username":"u","Secret":"s"}\nINFO refreshed the token\n', "u", "s"),
        ('  \n{"Username":"u","Secret":"s"}{"Username":"ignored"}', "u", "s"),
        ('{"Username":"u","Secret":"s"} trailing words, not JSON', "u", "s"),
        ('{"Username":"\\u00fcser","Secret":"s"}', "üser", "s"),
        ('{"uſername":"u","ſecret":"s"}', "u", "s"),  # U+017F folds to s, as in Go
    ],
)
def test_answers_docker_accepts(helper: Helper, stdout: str, username: str, password: str) -> None:
    found = helper_get(helper(stdout), "r.example")
    assert (found.username, found.password, found.identity_token) == (username, password, "")


def test_lower_case_token_answer_is_an_identity_token(helper: Helper) -> None:
    found = helper_get(helper('{"username":"<token>","secret":"refresh"}'), "r.example")
    assert (found.username, found.password, found.identity_token) == ("", "", "refresh")


@pytest.mark.parametrize("stdout", ["{}", "null", '{"Username":null,"Secret":null}', "{}\nlog"])
def test_empty_answers_are_no_credential(helper: Helper, tmp_path: Path, stdout: str) -> None:
    # docker takes these as empty credentials; portside then goes on to `auths`, as it does
    # for "not found" (docs/credentials.md, "Credential helpers").
    name = helper(stdout)
    assert helper_get(name, "r.example") is ANONYMOUS
    config_dir = tmp_path / "docker"
    config_dir.mkdir()
    entry = {"username": "from-auths", "password": "p"}
    (config_dir / "config.json").write_text(
        json.dumps({"credsStore": name, "auths": {"r.example": entry}})
    )
    assert DockerConfigCredentials(load(config_dir)).resolve("r.example").username == "from-auths"


# --- answers docker refuses ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("stdout", "why"),
    [
        ("", "it printed nothing"),
        (" \n", "it printed nothing"),
        ("[]", "a JSON array, not an object"),
        ('"u:s"', "a JSON string, not an object"),
        ("42", "a JSON number, not an object"),
        ('{"Username":5,"Secret":"s"}', "its Username is a JSON number, not a string"),
        ('{"Username":"u","secret":true}', "its Secret is a JSON boolean, not a string"),
        ('{"ServerURL":["r"],"Username":"u"}', "its ServerURL is a JSON array, not a string"),
        ('INFO starting\n{"Username":"u","Secret":"s"}', "it is not JSON"),
        ("NaN", "NaN, which is not JSON"),
        ("<html>not json</html>", "it is not JSON"),
        (f'{{"Username":"u","Secret":"{CANARY}"', "it is not JSON"),
    ],
)
def test_answers_docker_refuses_are_bad_input(helper: Helper, stdout: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        helper_get(helper(stdout), "r.example")
    message = str(caught.value)
    assert "did not answer with" in message and why in message, message
    assert "\n" not in message
    assert_no_canary(message, caught.value.hint)


# --- "credentials not found": only as the whole of stdout -----------------------------------


@pytest.mark.parametrize(
    "stdout", [NOT_FOUND, f"{NOT_FOUND}\n", f"\t {NOT_FOUND} \r\n", f"\u00a0{NOT_FOUND}\u2003"]
)
def test_not_found_is_the_trimmed_stdout(helper: Helper, stdout: str) -> None:
    name = helper(stdout, code=1)
    assert helper_get(name, "r.example") is ANONYMOUS
    assert helper_erase(name, "r.example") is False


@pytest.mark.parametrize(
    ("stdout", "stderr", "shown"),
    [
        ("", f"{NOT_FOUND}\n", NOT_FOUND),  # on stderr it is not docker's message
        (f"error: {NOT_FOUND}: the keychain is locked\n", "", "the keychain is locked"),
        (f"{NOT_FOUND}\nsecond line\n", "", NOT_FOUND),
        (f"{NOT_FOUND}.", "", f"{NOT_FOUND}."),
        ("", f"dbus: no secret service; {NOT_FOUND}\n", "dbus: no secret service"),
    ],
)
def test_any_other_failure_is_reported(
    helper: Helper, stdout: str, stderr: str, shown: str
) -> None:
    name = helper(stdout, stderr, code=1)
    for call in (helper_get, helper_erase):
        with pytest.raises(CredentialError) as caught:
            call(name, "r.example")
        message = str(caught.value)
        assert f"docker-credential-{name} " in message and "failed (exit 1)" in message
        assert shown in message
        assert "\n" not in message


def test_trim_space_is_gos() -> None:
    from drivers.auth.helper_answer import go_trim_space

    # strings.TrimSpace strips unicode.IsSpace, which leaves the ASCII separators alone.
    assert go_trim_space("\u0085\u00a0 x \u3000\v\f") == "x"
    assert go_trim_space("\x1cx\x1f") == "\x1cx\x1f"


# --- secrets never reach output ----------------------------------------------------------


@pytest.mark.parametrize("secret", [CANARY, QUOTED_CANARY])
def test_a_failing_helpers_message_never_repeats_its_secret(helper: Helper, secret: str) -> None:
    answer = json.dumps({"Username": "u", "Secret": secret})
    name = helper(f"{answer}\n", "", code=1)
    with pytest.raises(CredentialError) as caught:
        helper_get(name, "r.example")
    assert "failed (exit 1)" in str(caught.value)
    assert_no_canary(str(caught.value), repr(caught.value), caught.value.hint)

    logged = helper(f"{answer}\n", f"could not cache {secret} for later\n", code=1)
    with pytest.raises(CredentialError) as caught:
        helper_get(logged, "r.example")
    assert "could not cache <redacted> for later" in str(caught.value)
    assert_no_canary(str(caught.value))


def test_an_accepted_answer_keeps_its_secret_out_of_reprs(helper: Helper) -> None:
    found = helper_get(helper(f'{{"username":"u","secret":"{CANARY}"}}\nlog'), "r.example")
    assert found.password == CANARY
    assert_no_canary(repr(found), str(found))


# --- the way users run it ----------------------------------------------------------------


def test_cli_uses_a_lower_case_answer_with_a_log_line(
    capsys, docker_config, registry_htpasswd, unique_repo, helper: Helper
):
    push(registry_htpasswd, unique_repo, oci_image(f"{unique_repo}-helper"), "v1")
    answer = json.dumps({"username": CANARY_USER, "secret": CANARY_PASSWORD})
    name = helper(f"{answer}\ntime=now level=info msg=refreshed\n")
    (docker_config / "config.json").write_text(
        json.dumps({"credHelpers": {registry_htpasswd.host: name}})
    )

    result = run_cli(capsys, "tags", f"{registry_htpasswd.host}/{unique_repo}")

    assert result.code == 0, result.err
    assert result.out == "v1\n"
    assert CANARY_PASSWORD not in result.text


def test_cli_reports_a_helper_failure_that_mentions_the_phrase(
    capsys, docker_config, registry_htpasswd, unique_repo, helper: Helper
):
    name = helper("", f"{NOT_FOUND}: the login keyring is locked\n", code=1)
    (docker_config / "config.json").write_text(
        json.dumps({"credsStore": name, "auths": {registry_htpasswd.host: {}}})
    )

    result = run_cli(capsys, "tags", f"{registry_htpasswd.host}/{unique_repo}")

    assert result.code == 3, result.text
    assert f"docker-credential-{name} get failed (exit 1)" in result.err
    assert "the login keyring is locked" in result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) <= 2
