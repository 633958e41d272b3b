"""Docker config.json: locating, parsing every `auths` form, matching keys, saving safely."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from drivers.auth import dockerconfig
from drivers.auth.dockerconfig import (
    DOCKER_HUB_CREDENTIAL_KEY,
    AuthEntry,
    DockerConfig,
    config_dir,
    load,
    normalize_key,
    save,
    server_url,
)
from drivers.errors import ConfigError

CANARY = "canary-S3cr3t-4242"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write_config(directory: Path, doc: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc, indent=2))
    return path


def assert_no_canary(*texts: object) -> None:
    for text in texts:
        assert CANARY not in str(text)
        assert b64(CANARY) not in str(text)


# --- config_dir ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("explicit", "environ", "expected"),
    [
        ("/flag", {"PORTSIDE_DOCKER_CONFIG": "/ps", "DOCKER_CONFIG": "/dc"}, "/flag"),
        (None, {"PORTSIDE_DOCKER_CONFIG": "/ps", "DOCKER_CONFIG": "/dc"}, "/ps"),
        (None, {"DOCKER_CONFIG": "/dc"}, "/dc"),
        (None, {"PORTSIDE_DOCKER_CONFIG": "", "DOCKER_CONFIG": "/dc"}, "/dc"),
        ("", {"DOCKER_CONFIG": "/dc"}, "/dc"),
        (Path("/flag-path"), {}, "/flag-path"),
    ],
)
def test_config_dir_precedence(explicit: Any, environ: dict[str, str], expected: str) -> None:
    assert config_dir(explicit, environ) == Path(expected)


def test_config_dir_defaults_to_home_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    assert config_dir(None, {}) == Path("/home/someone/.docker")
    assert config_dir("~/elsewhere", {}) == Path("/home/someone/elsewhere")


def test_config_dir_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORTSIDE_DOCKER_CONFIG", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", "/from-env")
    assert config_dir() == Path("/from-env")


# --- keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("localhost:5000", "localhost:5000"),
        ("https://localhost:5000", "localhost:5000"),
        ("http://localhost:5000/", "localhost:5000"),
        ("localhost:5000/v2/", "localhost:5000"),
        ("HTTPS://Registry.Example.COM/v1/", "registry.example.com"),
        ("https://index.docker.io/v1/", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("registry-1.docker.io", "docker.io"),
        ("registry.hub.docker.com", "docker.io"),
        ("docker.io", "docker.io"),
        ("ghcr.io", "ghcr.io"),
        ("  ghcr.io  ", "ghcr.io"),
    ],
)
def test_normalize_key(key: str, host: str) -> None:
    assert normalize_key(key) == host


@pytest.mark.parametrize(
    ("registry", "url"),
    [
        ("docker.io", DOCKER_HUB_CREDENTIAL_KEY),
        ("registry-1.docker.io", DOCKER_HUB_CREDENTIAL_KEY),
        ("https://index.docker.io/v1/", DOCKER_HUB_CREDENTIAL_KEY),
        ("https://localhost:5000/v2/", "localhost:5000"),
        ("ghcr.io", "ghcr.io"),
    ],
)
def test_server_url(registry: str, url: str) -> None:
    assert server_url(registry) == url


# --- load: every auths form ------------------------------------------------------------------


def test_missing_file_is_an_empty_config(tmp_path: Path) -> None:
    config = load(tmp_path / "nowhere")
    assert config.auths == {}
    assert config.cred_helpers == {}
    assert config.creds_store is None
    assert config.path == tmp_path / "nowhere" / "config.json"


def test_empty_file_is_an_empty_config(tmp_path: Path) -> None:
    write_config(tmp_path, "  \n")
    assert load(tmp_path).auths == {}


def test_every_auths_form(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        {
            "auths": {
                "https://localhost:5000": {"auth": b64("alice:pa:ss")},
                "plain.example:5000/v2/": {"username": "bob", "password": "hunter2"},
                "oauth.example": {"auth": b64("carol:"), "identitytoken": "refresh-tok"},
                "bearer.example": {"registrytoken": "bearer-tok"},
                "caps.example": {"Username": "dave", "Password": "pw", "IdentityToken": "it"},
                "unpadded.example": {"auth": b64("erin:x").rstrip("=")},
                DOCKER_HUB_CREDENTIAL_KEY: {"auth": b64("hubuser:hubpass")},
                "placeholder.example": {},
            }
        },
    )
    auths = load(tmp_path).auths
    assert auths["https://localhost:5000"] == AuthEntry("alice", "pa:ss")
    assert auths["plain.example:5000/v2/"] == AuthEntry("bob", "hunter2")
    assert auths["oauth.example"] == AuthEntry("carol", "", identity_token="refresh-tok")
    assert auths["bearer.example"] == AuthEntry(registry_token="bearer-tok")
    assert auths["caps.example"] == AuthEntry("dave", "pw", identity_token="it")
    assert auths["unpadded.example"] == AuthEntry("erin", "x")
    assert auths[DOCKER_HUB_CREDENTIAL_KEY] == AuthEntry("hubuser", "hubpass")
    assert auths["placeholder.example"].is_empty


def test_auth_overrides_username_and_password(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        {"auths": {"r.example": {"auth": b64("u1:p1"), "username": "u2", "password": "p2"}}},
    )
    assert load(tmp_path).auths["r.example"] == AuthEntry("u1", "p1")


@pytest.mark.parametrize(
    "registry",
    [
        "localhost:5000",
        "https://localhost:5000",
        "localhost:5000/v2/",
        "http://LOCALHOST:5000/v2/",
    ],
)
def test_find_auth_by_any_spelling(tmp_path: Path, registry: str) -> None:
    write_config(tmp_path, {"auths": {"https://localhost:5000/v2/": {"auth": b64("a:b")}}})
    assert load(tmp_path).find_auth(registry) == ("https://localhost:5000/v2/", AuthEntry("a", "b"))


@pytest.mark.parametrize(
    "registry", ["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]
)
def test_find_auth_docker_hub(tmp_path: Path, registry: str) -> None:
    write_config(tmp_path, {"auths": {DOCKER_HUB_CREDENTIAL_KEY: {"auth": b64("hub:pw")}}})
    key, entry = load(tmp_path).find_auth(registry) or ("", AuthEntry())
    assert key == DOCKER_HUB_CREDENTIAL_KEY
    assert entry == AuthEntry("hub", "pw")


def test_find_auth_prefers_exact_key(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        {
            "auths": {
                "https://localhost:5000": {"auth": b64("scheme:1")},
                "localhost:5000": {"auth": b64("exact:2")},
                "docker.io": {"auth": b64("alias:3")},
                DOCKER_HUB_CREDENTIAL_KEY: {"auth": b64("hubkey:4")},
            }
        },
    )
    config = load(tmp_path)
    assert config.find_auth("localhost:5000") == ("localhost:5000", AuthEntry("exact", "2"))
    assert config.find_auth("https://localhost:5000")[1].username == "scheme"  # type: ignore[index]
    # docker's own key for Docker Hub wins over the name asked for (issue 13).
    assert config.find_auth("docker.io")[1].username == "hubkey"  # type: ignore[index]
    assert config.find_auth("index.docker.io")[1].username == "hubkey"  # type: ignore[index]
    assert config.find_auth("other.example") is None


def test_helper_for(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        {
            "credHelpers": {"https://gcr.io": "gcloud", "ghcr.io": "pass"},
            "credsStore": "desktop",
        },
    )
    config = load(tmp_path)
    assert config.helper_for("gcr.io") == "gcloud"
    assert config.helper_for("GHCR.io/v2/") == "pass"
    assert config.helper_for("quay.io") == "desktop"
    assert config.cred_helper("quay.io") is None
    assert DockerConfig(directory=tmp_path).helper_for("quay.io") is None


# --- load: errors ----------------------------------------------------------------------------


def test_invalid_json_names_file_line_and_column(tmp_path: Path) -> None:
    path = write_config(tmp_path, '{\n  "auths": {\n    "x": {"auth": "' + CANARY + '"}\n  ,\n}')
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    message = str(info.value)
    assert str(path) in message
    assert "line 5, column 1" in message
    assert "column" in message
    assert info.value.hint
    assert_no_canary(message, info.value.hint)


@pytest.mark.parametrize(
    "auth",
    [CANARY, b64(CANARY), "!!!" + CANARY, base64.b64encode(b"\xff\xfe" + CANARY.encode()).decode()],
)
def test_bad_auth_names_the_key_never_the_value(tmp_path: Path, auth: str) -> None:
    path = write_config(tmp_path, {"auths": {"https://localhost:5000": {"auth": auth}}})
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    message = str(info.value)
    assert "https://localhost:5000" in message
    assert str(path) in message
    assert auth not in message
    assert_no_canary(message, info.value.hint, repr(info.value))


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ([], "not a JSON object"),
        ({"auths": []}, "auths is not a JSON object"),
        ({"auths": {"r.example": "user:pass"}}, "auths['r.example'] is not a JSON object"),
        ({"auths": {"r.example": {"password": 42}}}, "auths['r.example'].password"),
        ({"credHelpers": ["pass"]}, "credHelpers is not a JSON object"),
        ({"credHelpers": {"r.example": 1}}, "credHelpers['r.example']"),
        ({"credsStore": {"name": "desktop"}}, "credsStore is not a string"),
    ],
)
def test_wrong_types_give_config_error(tmp_path: Path, doc: Any, fragment: str) -> None:
    path = write_config(tmp_path, doc)
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_unreadable_config_gives_config_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path)


# --- set/remove ------------------------------------------------------------------------------


def test_set_auth_replaces_every_spelling_of_the_host(tmp_path: Path) -> None:
    config = DockerConfig(
        directory=tmp_path,
        auths={
            "https://localhost:5000": AuthEntry("old", "1"),
            "localhost:5000/v2/": AuthEntry("old", "2"),
            "other.example": AuthEntry("keep", "3"),
        },
    )
    config.set_auth("http://LOCALHOST:5000", "new", "pw")
    assert config.auths == {
        "other.example": AuthEntry("keep", "3"),
        "localhost:5000": AuthEntry("new", "pw"),
    }


def test_set_auth_uses_docker_hub_key(tmp_path: Path) -> None:
    config = DockerConfig(directory=tmp_path, auths={"docker.io": AuthEntry("old", "x")})
    config.set_auth("registry-1.docker.io", "hub", "pw")
    assert config.auths == {DOCKER_HUB_CREDENTIAL_KEY: AuthEntry("hub", "pw")}


def test_remove_auth(tmp_path: Path) -> None:
    config = DockerConfig(
        directory=tmp_path,
        auths={"https://ghcr.io": AuthEntry("a", "b"), "ghcr.io/v2/": AuthEntry("c", "d")},
    )
    assert config.remove_auth("ghcr.io") is True
    assert config.auths == {}
    assert config.remove_auth("ghcr.io") is False


# --- save ------------------------------------------------------------------------------------


def test_save_creates_private_directory_and_file(tmp_path: Path) -> None:
    directory = tmp_path / "fresh" / "docker"
    config = DockerConfig(directory=directory)
    config.set_auth("localhost:5000", "alice", "pw")
    save(config)
    assert stat.S_IMODE(directory.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE(config.path.stat().st_mode) == 0o600
    assert json.loads(config.path.read_text()) == {
        "auths": {"localhost:5000": {"auth": b64("alice:pw")}}
    }
    assert load(directory).auths == {"localhost:5000": AuthEntry("alice", "pw")}


def test_save_tightens_an_existing_loose_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, {"auths": {}})
    path.chmod(0o644)
    save(load(tmp_path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_keeps_unknown_keys_and_other_entries(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        {
            "auths": {
                "keep.example": {"auth": b64("k:v"), "email": "k@example.com"},
                "https://change.example": {"username": "old", "password": "old"},
            },
            "credHelpers": {"gcr.io": "gcloud"},
            "HttpHeaders": {"User-Agent": "custom"},
            "proxies": {"default": {"httpProxy": "http://proxy:3128"}},
            "currentContext": "remote",
        },
    )
    config = load(tmp_path)
    config.set_auth("change.example", "new", "pw")
    config.auths["oauth.example"] = AuthEntry("u", identity_token="it")
    config.auths["bearer.example"] = AuthEntry(registry_token="rt")
    save(config)
    doc = json.loads(config.path.read_text())
    assert doc["HttpHeaders"] == {"User-Agent": "custom"}
    assert doc["proxies"] == {"default": {"httpProxy": "http://proxy:3128"}}
    assert doc["currentContext"] == "remote"
    assert doc["credHelpers"] == {"gcr.io": "gcloud"}
    assert "credsStore" not in doc
    assert doc["auths"] == {
        "keep.example": {"auth": b64("k:v"), "email": "k@example.com"},
        "change.example": {"auth": b64("new:pw")},
        "oauth.example": {"auth": b64("u:"), "identitytoken": "it"},
        "bearer.example": {"registrytoken": "rt"},
    }
    again = load(tmp_path)
    assert again.auths == config.auths


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, {"auths": {"a.example": {"auth": b64("a:b")}}})
    before = path.read_text()
    config = load(tmp_path)
    config.set_auth("b.example", "c", "d")

    def broken_replace(src: Any, dst: Any) -> None:
        # The temp file is complete and private in the same directory when it is renamed.
        assert Path(src).parent == tmp_path
        assert stat.S_IMODE(os.stat(src).st_mode) == 0o600
        assert "b.example" in Path(src).read_text()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dockerconfig.os, "replace", broken_replace)
    with pytest.raises(ConfigError, match="No space left"):
        save(config)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_save_leaves_no_temp_files(tmp_path: Path) -> None:
    config = load(tmp_path)
    for i in range(3):
        config.set_auth(f"r{i}.example", "u", "p")
        save(config)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_save_through_a_symlink_replaces_the_target(tmp_path: Path) -> None:
    real = write_config(tmp_path / "real", {"auths": {}})
    link_dir = tmp_path / "link"
    link_dir.mkdir()
    (link_dir / "config.json").symlink_to(real)
    config = load(link_dir)
    config.set_auth("r.example", "u", "p")
    save(config)
    assert (link_dir / "config.json").is_symlink()
    assert load(tmp_path / "real").auths == {"r.example": AuthEntry("u", "p")}


# --- secrets never shown ---------------------------------------------------------------------


def test_reprs_never_show_secrets(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        {
            "auths": {
                "a.example": {"auth": b64("user:" + CANARY)},
                "b.example": {"username": "user", "password": CANARY},
                "c.example": {"identitytoken": CANARY},
                "d.example": {"registrytoken": CANARY},
            }
        },
    )
    config = load(tmp_path)
    assert_no_canary(repr(config), str(config), *(repr(e) for e in config.auths.values()))
    assert "user" in repr(config.auths["a.example"])
