"""DOCKER_AUTH_CONFIG, read as docker/cli ≥ 28.3 reads it (cli/config/configfile/file.go,
`configEnv` and `GetCredentialsStore`; cli/config/memorystore/store.go).

Its entries come first: docker wraps the config's own store (credHelpers[host], else
credsStore, else the file's auths) in a memory store that answers from the variable and falls
back to that store for any server it does not list.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from drivers.auth.credentials import default_keychain
from drivers.auth.dockerconfig import DOCKER_HUB_CREDENTIAL_KEY, AuthEntry
from drivers.auth.envconfig import ENV_VARIABLE, env_auths
from drivers.errors import ConfigError

CANARY = "canary-S3cr3t-4242"
FILE_HELPER = "portside-file"  # tests/helpers/docker-credential-portside-file


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def env_value(auths: dict[str, str]) -> str:
    return json.dumps({"auths": {key: {"auth": b64(pair)} for key, pair in auths.items()}})


def keychain_user(
    docker_config: Path, env: str, registry: str, repository: str | None = None
) -> str:
    environ = {"DOCKER_CONFIG": str(docker_config), ENV_VARIABLE: env, "PATH": os.environ["PATH"]}
    return default_keychain(environ=environ).resolve(registry, repository).username


# --- parsing ---------------------------------------------------------------------------------


def test_unset_or_empty_gives_nothing() -> None:
    assert env_auths({}) == {}
    assert env_auths({ENV_VARIABLE: ""}) == {}


def test_entries_are_decoded() -> None:
    value = env_value(
        {"registry.example:5000": "ci:" + CANARY, DOCKER_HUB_CREDENTIAL_KEY: "hub:pw"}
    )
    assert env_auths({ENV_VARIABLE: value}) == {
        "registry.example:5000": AuthEntry("ci", CANARY),
        DOCKER_HUB_CREDENTIAL_KEY: AuthEntry("hub", "pw"),
    }


def test_only_auth_is_read_and_other_keys_are_ignored() -> None:
    """docker's configEnv has `auths` and, per entry, `auth`: credHelpers, credsStore,
    username/password are not read from the variable (Go's field matching is case-insensitive)."""
    value = json.dumps(
        {
            "Auths": {"r.example": {"Auth": b64("u:p"), "username": "ignored", "email": "e"}},
            "credHelpers": {"r.example": "portside-fail"},
            "credsStore": "portside-fail",
        }
    )
    assert env_auths({ENV_VARIABLE: value}) == {"r.example": AuthEntry("u", "p")}


def test_wrapped_auth_is_decoded() -> None:
    encoded = b64("user:" + "x" * 80 + CANARY)
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    value = json.dumps({"auths": {"r.example": {"auth": wrapped}}})
    assert env_auths({ENV_VARIABLE: value})["r.example"].password == "x" * 80 + CANARY


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ('{"auths": {"r.example": {"auth": "' + b64("u:" + CANARY) + '"}', "invalid JSON"),
        ("auths=" + CANARY, "invalid JSON"),
        ('{"auths": {}} {"auths": {}}', "invalid JSON"),  # docker: more than one JSON object
        ("[]", "not a JSON object"),
        ('{"auths": ["' + CANARY + '"]}', "auths is not a JSON object"),
        ('{"auths": {"r.example": "' + CANARY + '"}}', "auths['r.example'] is not a JSON object"),
        ('{"auths": {"r.example": {"username": "u", "password": "' + CANARY + '"}}}', "no auth"),
        ('{"auths": {"r.example": {"auth": ""}}}', "no auth"),
        ('{"auths": {"r.example": {"auth": "' + CANARY + '!"}}}', "not valid base64"),
        ('{"auths": {"r.example": {"auth": "' + b64(CANARY) + '"}}}', "username:password"),
    ],
)
def test_errors_name_the_variable_never_its_content(value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        env_auths({ENV_VARIABLE: value})
    message, hint = str(info.value), info.value.hint
    assert message.startswith(ENV_VARIABLE)
    assert fragment in message
    assert "\n" not in message and hint
    for text in (message, hint, repr(info.value)):
        assert CANARY not in text and b64(CANARY) not in text and b64("u:" + CANARY) not in text


def test_error_surfaces_through_the_keychain(docker_config: Path) -> None:
    with pytest.raises(ConfigError, match=ENV_VARIABLE):
        keychain_user(docker_config, "{not json", "r.example")


# --- precedence ------------------------------------------------------------------------------


def test_env_entry_beats_the_file_auths(docker_config: Path) -> None:
    (docker_config / "config.json").write_text(
        json.dumps({"auths": {"r.example": {"auth": b64("file:1")}}})
    )
    assert keychain_user(docker_config, env_value({"r.example": "env:1"}), "r.example") == "env"


def test_env_entry_beats_cred_helpers_and_creds_store(docker_config: Path) -> None:
    store = {
        "r.example": {"Username": "helper", "Secret": "s"},
        "s.example": {"Username": "store", "Secret": "s"},
    }
    Path(os.environ["PORTSIDE_TEST_HELPER_FILE"]).write_text(json.dumps(store))
    (docker_config / "config.json").write_text(
        json.dumps({"credHelpers": {"r.example": FILE_HELPER}, "credsStore": FILE_HELPER})
    )
    env = env_value({"r.example": "env:1", "s.example": "env:2"})
    assert keychain_user(docker_config, env, "r.example") == "env"
    assert keychain_user(docker_config, env, "s.example") == "env"


def test_file_store_still_serves_hosts_the_variable_does_not_name(docker_config: Path) -> None:
    store = {"helped.example": {"Username": "helper", "Secret": "s"}}
    Path(os.environ["PORTSIDE_TEST_HELPER_FILE"]).write_text(json.dumps(store))
    (docker_config / "config.json").write_text(
        json.dumps(
            {
                "credHelpers": {"helped.example": FILE_HELPER},
                "auths": {"file.example": {"auth": b64("file:1")}},
            }
        )
    )
    env = env_value({"r.example": "env:1"})
    assert keychain_user(docker_config, env, "helped.example") == "helper"
    assert keychain_user(docker_config, env, "file.example") == "file"
    assert keychain_user(docker_config, env, "nothing.example") == ""


def test_env_docker_hub_key(docker_config: Path) -> None:
    env = env_value({DOCKER_HUB_CREDENTIAL_KEY: "hub:1"})
    assert keychain_user(docker_config, env, "docker.io") == "hub"
    assert keychain_user(docker_config, env, "registry-1.docker.io") == "hub"


def test_env_namespaced_key_serves_its_repository_only(docker_config: Path) -> None:
    (docker_config / "config.json").write_text(
        json.dumps({"auths": {"quay.io": {"auth": b64("file:1")}}})
    )
    env = env_value({"quay.io/ns/app": "env:1"})
    assert keychain_user(docker_config, env, "quay.io", "ns/app") == "env"
    assert keychain_user(docker_config, env, "quay.io", "other") == "file"
    assert keychain_user(docker_config, env, "quay.io") == "file"


def test_explicit_credentials_still_come_first(docker_config: Path) -> None:
    from drivers.auth.credentials import Credential

    environ = {"DOCKER_CONFIG": str(docker_config), ENV_VARIABLE: env_value({"r.example": "env:1"})}
    chain = default_keychain(explicit=Credential("flag", "pw", source="flag"), environ=environ)
    assert chain.resolve("r.example").username == "flag"
