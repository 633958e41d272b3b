"""Credential resolution: the precedence, real credential-helper executables, login/logout."""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from drivers.auth import credentials
from drivers.auth.credentials import (
    ANONYMOUS,
    Chain,
    Credential,
    DockerConfigCredentials,
    StaticCredentials,
    default_keychain,
    erase_login,
    helper_erase,
    helper_get,
    helper_store,
    store_login,
)
from drivers.auth.dockerconfig import DOCKER_HUB_CREDENTIAL_KEY, AuthEntry, DockerConfig, load
from drivers.errors import ConfigError, CredentialError

CANARY = "canary-S3cr3t-4242"
HELPERS = Path(__file__).parent.parent / "helpers"
FILE_HELPER = "portside-file"  # tests/helpers/docker-credential-portside-file


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write_config(directory: Path, doc: dict[str, Any]) -> DockerConfig:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(doc))
    return load(directory)


def assert_no_canary(*texts: object) -> None:
    for text in texts:
        assert CANARY not in str(text)
        assert b64(CANARY) not in str(text)


class HelperStore:
    """The JSON file behind docker-credential-portside-file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def put(self, url: str, username: str, secret: str) -> None:
        data = self.read()
        data[url] = {"Username": username, "Secret": secret}
        self.path.write_text(json.dumps(data))

    def read(self) -> dict[str, dict[str, str]]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HelperStore:
    # The python running the tests comes first, so the helpers' `env python3` skips slow shims.
    path = [str(HELPERS), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    path = tmp_path / "helper-store.json"
    monkeypatch.setenv("PORTSIDE_TEST_HELPER_FILE", str(path))
    return HelperStore(path)


# --- Credential ------------------------------------------------------------------------------


def test_credential_repr_and_str_hide_secrets() -> None:
    for credential in (
        Credential("bob", CANARY, source="x"),
        Credential(identity_token=CANARY),
        Credential(registry_token=CANARY),
    ):
        assert_no_canary(repr(credential), str(credential), f"{credential}")
        assert "<redacted>" in repr(credential)
    assert "bob" in repr(Credential("bob", CANARY))


def test_credential_secrets_and_anonymity() -> None:
    assert ANONYMOUS.is_anonymous
    assert ANONYMOUS.secrets() == ()
    assert ANONYMOUS.source == "anonymous"
    basic = Credential("bob", CANARY)
    assert not basic.is_anonymous
    assert set(basic.secrets()) == {CANARY, b64("bob:" + CANARY)}
    assert Credential(identity_token="it", registry_token="rt").secrets() == ("it", "rt")


# --- sources and the chain -------------------------------------------------------------------


def test_static_credentials_for_some_hosts() -> None:
    cred = Credential("u", "p", source="--repo-quay-token option")
    assert StaticCredentials(cred).resolve("anything.example") is cred
    only_quay = StaticCredentials(cred, ["https://quay.io/v2/"])
    assert only_quay.resolve("QUAY.io") is cred
    assert only_quay.resolve("ghcr.io") is ANONYMOUS


def test_chain_first_non_anonymous_wins() -> None:
    first = Credential("first", "1")
    second = Credential("second", "2")
    assert Chain(StaticCredentials(ANONYMOUS), StaticCredentials(first)).resolve("r") is first
    assert Chain(StaticCredentials(first), StaticCredentials(second)).resolve("r") is first
    assert (
        Chain(StaticCredentials(second, ["other"]), StaticCredentials(first)).resolve("r") is first
    )
    assert Chain().resolve("r") is ANONYMOUS


def test_docker_config_auths_forms(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        {
            "auths": {
                "https://localhost:5000/v2/": {"auth": b64("alice:pw")},
                "plain.example": {"username": "bob", "password": "pw2"},
                "oauth.example": {"auth": b64("carol:"), "identitytoken": "refresh"},
                "bearer.example": {"registrytoken": "bearer"},
                DOCKER_HUB_CREDENTIAL_KEY: {"auth": b64("hub:hubpw")},
                "placeholder.example": {},
            }
        },
    )
    source = DockerConfigCredentials(config)
    found = source.resolve("localhost:5000")
    assert (found.username, found.password) == ("alice", "pw")
    assert found.source == f"auths['https://localhost:5000/v2/'] in {config.path}"
    assert source.resolve("plain.example").password == "pw2"
    oauth = source.resolve("oauth.example")
    assert (oauth.username, oauth.password, oauth.identity_token) == ("carol", "", "refresh")
    assert source.resolve("bearer.example").registry_token == "bearer"
    assert source.resolve("registry-1.docker.io").username == "hub"
    assert source.resolve("placeholder.example") is ANONYMOUS
    assert source.resolve("unknown.example") is ANONYMOUS


def test_cred_helpers_beat_creds_store_beat_auths(tmp_path: Path, store: HelperStore) -> None:
    store.put("ghcr.io", "from-helper", "h")
    store.put("quay.io", "from-store", "s")
    config = write_config(
        tmp_path,
        {
            # credsStore would fail loudly if it were asked for ghcr.io.
            "credHelpers": {"ghcr.io": FILE_HELPER, "https://fallback.example": FILE_HELPER},
            "credsStore": "portside-fail",
            "auths": {
                "ghcr.io": {"auth": b64("from-auths:a")},
                "fallback.example": {"auth": b64("from-auths:b")},
            },
        },
    )
    source = DockerConfigCredentials(config)
    ghcr = source.resolve("https://ghcr.io")
    assert (ghcr.username, ghcr.password) == ("from-helper", "h")
    assert ghcr.source == "credential helper docker-credential-portside-file"
    # The helper answers "not found": Docker semantics fall through to auths.
    assert source.resolve("fallback.example").username == "from-auths"

    config.cred_helpers.clear()
    config.creds_store = FILE_HELPER
    assert source.resolve("quay.io").username == "from-store"
    assert source.resolve("ghcr.io").username == "from-helper"
    assert source.resolve("fallback.example").username == "from-auths"
    assert source.resolve("nothing.example") is ANONYMOUS


def test_helper_token_username_means_identity_token(store: HelperStore) -> None:
    store.put("gcr.io", "<token>", "refresh-token")
    found = helper_get(FILE_HELPER, "gcr.io")
    assert found.username == ""
    assert found.identity_token == "refresh-token"
    assert found.password == ""


def test_docker_hub_helper_gets_the_index_url(tmp_path: Path, store: HelperStore) -> None:
    store.put(DOCKER_HUB_CREDENTIAL_KEY, "hub", "pw")
    config = write_config(tmp_path, {"credsStore": FILE_HELPER})
    assert DockerConfigCredentials(config).resolve("docker.io").username == "hub"


def test_explicit_beats_docker_config(tmp_path: Path) -> None:
    write_config(tmp_path, {"auths": {"ghcr.io": {"auth": b64("config:c")}}})
    explicit = Credential(registry_token="tok", source="--repo-github-token option")
    assert default_keychain(tmp_path, explicit=explicit).resolve("ghcr.io") is explicit
    assert default_keychain(tmp_path, explicit=ANONYMOUS).resolve("ghcr.io").username == "config"
    assert default_keychain(tmp_path).resolve("ghcr.io").username == "config"
    assert default_keychain(tmp_path).resolve("quay.io") is ANONYMOUS


def test_default_keychain_follows_config_dir_precedence(tmp_path: Path) -> None:
    for name in ("flag", "portside", "docker"):
        write_config(tmp_path / name, {"auths": {"r.example": {"auth": b64(f"{name}:x")}}})
    environ = {
        "PORTSIDE_DOCKER_CONFIG": str(tmp_path / "portside"),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
    }
    assert default_keychain(tmp_path / "flag", environ=environ).resolve("r.example").username == (
        "flag"
    )
    assert default_keychain(environ=environ).resolve("r.example").username == "portside"
    del environ["PORTSIDE_DOCKER_CONFIG"]
    assert default_keychain(environ=environ).resolve("r.example").username == "docker"


def test_default_keychain_loads_lazily_once(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{not json")
    keychain = default_keychain(tmp_path)  # no error yet: nothing has been asked
    with pytest.raises(ConfigError, match="invalid JSON"):
        keychain.resolve("r.example")
    write_config(tmp_path, {"auths": {"r.example": {"auth": b64("first:x")}}})
    keychain = default_keychain(tmp_path)
    assert keychain.resolve("r.example").username == "first"
    write_config(tmp_path, {"auths": {"r.example": {"auth": b64("second:x")}}})
    assert keychain.resolve("r.example").username == "first"


def test_keychain_repr_hides_secrets(tmp_path: Path) -> None:
    keychain = default_keychain(tmp_path, explicit=Credential("u", CANARY))
    assert_no_canary(repr(keychain))


# --- helper failures -------------------------------------------------------------------------


def test_missing_helper_is_a_config_error(tmp_path: Path, store: HelperStore) -> None:
    config = write_config(tmp_path, {"credsStore": "portside-absent"})
    with pytest.raises(ConfigError) as info:
        DockerConfigCredentials(config).resolve("r.example")
    assert (
        str(info.value) == "credential helper docker-credential-portside-absent not found on PATH"
    )
    assert str(config.path) in (info.value.hint or "")


@pytest.mark.parametrize("name", ["../portside-file", "", "a/b", "-rf"])
def test_helper_name_must_be_plain(name: str, store: HelperStore) -> None:
    with pytest.raises(ConfigError, match="not valid"):
        helper_get(name, "r.example")


def test_failing_helper_is_a_credential_error(store: HelperStore) -> None:
    with pytest.raises(CredentialError) as info:
        helper_get("portside-fail", "r.example")
    message = str(info.value)
    assert "docker-credential-portside-fail get failed (exit 1)" in message
    assert "the keychain is locked" in message
    assert "second line" not in message
    assert "\n" not in message


def test_failing_store_never_echoes_the_secret(store: HelperStore) -> None:
    with pytest.raises(CredentialError) as info:
        helper_store("portside-fail", "r.example", "user", CANARY)
    assert "cannot store" in str(info.value)
    assert_no_canary(str(info.value), repr(info.value), info.value.hint)


def test_junk_helper_is_a_config_error(store: HelperStore) -> None:
    with pytest.raises(ConfigError, match="did not answer with") as info:
        helper_get("portside-junk", "r.example")
    assert "html" not in str(info.value)


def test_slow_helper_times_out(store: HelperStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(credentials, "HELPER_TIMEOUT", 0.3)
    with pytest.raises(CredentialError, match=r"no answer in 0\.3 s"):
        helper_get("portside-slow", "r.example")


def test_helper_round_trip(store: HelperStore) -> None:
    assert helper_get(FILE_HELPER, "r.example") is ANONYMOUS
    helper_store(FILE_HELPER, "r.example", "u", CANARY)
    found = helper_get(FILE_HELPER, "r.example")
    assert (found.username, found.password) == ("u", CANARY)
    assert_no_canary(repr(found))
    assert helper_erase(FILE_HELPER, "r.example") is True
    assert helper_erase(FILE_HELPER, "r.example") is False
    assert helper_get(FILE_HELPER, "r.example") is ANONYMOUS


# --- login / logout --------------------------------------------------------------------------


def test_login_logout_through_auths(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"auths": {"https://localhost:5000": {"auth": b64("o:x")}}})
    where = store_login(config, "localhost:5000/v2/", "alice", CANARY)
    assert where == f"auths['localhost:5000'] in {config.path}"
    assert_no_canary(where)
    reloaded = load(tmp_path)
    assert reloaded.auths == {"localhost:5000": AuthEntry("alice", CANARY)}
    assert DockerConfigCredentials(reloaded).resolve("localhost:5000").password == CANARY

    assert erase_login(reloaded, "https://localhost:5000") is True
    assert load(tmp_path).auths == {}
    assert erase_login(reloaded, "localhost:5000") is False


def test_login_docker_hub_through_auths(tmp_path: Path) -> None:
    config = load(tmp_path)
    store_login(config, "docker.io", "hub", "pw")
    assert list(load(tmp_path).auths) == [DOCKER_HUB_CREDENTIAL_KEY]


@pytest.mark.parametrize(
    ("doc", "description"),
    [
        ({"credsStore": FILE_HELPER}, "credsStore 'portside-file'"),
        (
            {"credsStore": "portside-fail", "credHelpers": {"localhost:5000": FILE_HELPER}},
            "credential helper docker-credential-portside-file",
        ),
    ],
)
def test_login_logout_through_a_helper(
    tmp_path: Path, store: HelperStore, doc: dict[str, Any], description: str
) -> None:
    # A stale entry from before the helper was configured must not keep its password.
    doc = {**doc, "auths": {"https://localhost:5000/v2/": {"auth": b64("old:" + CANARY)}}}
    config = write_config(tmp_path, doc)
    assert store_login(config, "localhost:5000", "alice", CANARY) == description
    assert store.read() == {"localhost:5000": {"Username": "alice", "Secret": CANARY}}
    text = config.path.read_text()
    assert_no_canary(text)
    assert json.loads(text)["auths"] == {"localhost:5000": {}}
    found = DockerConfigCredentials(load(tmp_path)).resolve("localhost:5000")
    assert (found.username, found.password) == ("alice", CANARY)

    assert erase_login(load(tmp_path), "localhost:5000") is True
    assert store.read() == {}
    assert json.loads(config.path.read_text())["auths"] == {}
    assert erase_login(load(tmp_path), "localhost:5000") is False


def test_logout_cleans_the_file_even_when_the_helper_fails(
    tmp_path: Path, store: HelperStore
) -> None:
    config = write_config(
        tmp_path,
        {"credsStore": "portside-fail", "auths": {"r.example": {"auth": b64("u:" + CANARY)}}},
    )
    with pytest.raises(CredentialError) as info:
        erase_login(config, "r.example")
    assert_no_canary(str(info.value), config.path.read_text())
    assert load(tmp_path).auths == {}


def test_login_helper_failure_leaves_the_file_alone(tmp_path: Path, store: HelperStore) -> None:
    config = write_config(tmp_path, {"credsStore": "portside-fail"})
    before = config.path.read_text()
    with pytest.raises(CredentialError) as info:
        store_login(config, "r.example", "u", CANARY)
    assert_no_canary(str(info.value))
    assert config.path.read_text() == before
