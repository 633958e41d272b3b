"""config.json read as the docker CLI and containers/image read it (issue 13).

Upstream cases are used as data, with their source named:

- docker/cli `cli/config/credentials/file_store_test.go` (`TestConvertToHostname`) and
  `cli/config/configfile/file_test.go` (`TestLoadFromReaderWithUsernamePassword`);
- containers/image `pkg/docker/config/testdata/refpath.json`, `full.json`, `legacy.json` and the
  `TestGetAuth` / `TestGetAuthFromLegacyFile` tables of `pkg/docker/config/config_test.go`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from drivers.auth.credentials import DockerConfigCredentials, erase_login, store_login
from drivers.auth.dockerconfig import (
    DOCKER_HUB_CREDENTIAL_KEY,
    AuthEntry,
    load,
    normalize_key,
    save,
)
from drivers.errors import ConfigError
from tests.auth.test_dockerconfig import CANARY, b64
from tests.auth.test_dockerconfig import write_config as write


def user_of(config: Any, registry: str, repository: str | None = None) -> str | None:
    found = config.find_auth(registry, repository)
    return None if found is None else found[1].username


# --- Docker Hub: `https://index.docker.io/v1/` beats `docker.io` ------------------------------


@pytest.mark.parametrize("order", ["alias-first", "hub-key-first"])
@pytest.mark.parametrize(
    "registry", ["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"]
)
def test_docker_hub_key_beats_the_docker_io_key(tmp_path: Path, registry: str, order: str) -> None:
    entries = [
        ("docker.io", {"auth": b64("alias:1")}),
        (DOCKER_HUB_CREDENTIAL_KEY, {"auth": b64("hub:2")}),
    ]
    if order == "hub-key-first":
        entries.reverse()
    write(tmp_path, {"auths": dict(entries)})
    config = load(tmp_path)
    assert config.find_auth(registry) == (DOCKER_HUB_CREDENTIAL_KEY, AuthEntry("hub", "2"))
    assert DockerConfigCredentials(config).resolve(registry).username == "hub"


def test_docker_io_key_still_serves_hub_alone(tmp_path: Path) -> None:
    """portside's deliberate leniency: docker itself ignores a lone `docker.io` key."""
    write(tmp_path, {"auths": {"docker.io": {"auth": b64("alias:1")}}})
    assert user_of(load(tmp_path), "docker.io") == "alias"


# --- `auth` wrapped as `base64` writes it -----------------------------------------------------


def _wrapped(text: str, newline: str) -> str:
    encoded = b64(text)
    return newline.join(encoded[i : i + 76] for i in range(0, len(encoded), 76)) + newline


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_auth_wrapped_at_76_columns_decodes(tmp_path: Path, newline: str) -> None:
    password = "p" * 40 + CANARY + "q" * 40
    auth = _wrapped(f"wrapped-user:{password}", newline)
    assert newline in auth.rstrip(newline)  # more than one line
    write(tmp_path, {"auths": {"r.example": {"auth": auth}}})
    assert load(tmp_path).auths["r.example"] == AuthEntry("wrapped-user", password)


@pytest.mark.parametrize("junk", ["\t", " ", "\v", "\f", "\x00"])
def test_auth_with_other_whitespace_inside_is_refused_as_go_does(tmp_path: Path, junk: str) -> None:
    """Go's StdEncoding skips only \\r and \\n; any other byte inside is corrupt input."""
    encoded = b64("user:" + CANARY)
    write(tmp_path, {"auths": {"r.example": {"auth": encoded[:8] + junk + encoded[8:]}}})
    with pytest.raises(ConfigError) as info:
        load(tmp_path)
    assert "auths['r.example'].auth is not valid base64" in str(info.value)
    assert CANARY not in str(info.value) and encoded not in str(info.value)


# --- Go's encoding/json: case-insensitive keys, merged maps, last value wins ------------------


@pytest.mark.parametrize(
    ("doc", "auths", "helpers", "store"),
    [
        ({"Auths": {"a.example": {"auth": b64("a:1")}}}, {"a.example": "a"}, {}, None),
        ({"AUTHS": {"a.example": {"auth": b64("a:1")}}}, {"a.example": "a"}, {}, None),
        ({"CredsStore": "desktop"}, {}, {}, "desktop"),
        ({"credsstore": "desktop"}, {}, {}, "desktop"),
        ({"credhelpers": {"gcr.io": "gcloud"}}, {}, {"gcr.io": "gcloud"}, None),
        ({"CREDHELPERS": {"gcr.io": "gcloud"}}, {}, {"gcr.io": "gcloud"}, None),
        # Go folds the long s (U+017F) to s and the Kelvin sign (U+212A) to k.
        ({"cred\u017fStore": "desktop"}, {}, {}, "desktop"),
        # Two spellings of one map: Go decodes both into the same map, later keys win.
        (
            {
                "auths": {"a.example": {"auth": b64("a:1")}, "b.example": {"auth": b64("b:1")}},
                "Auths": {"b.example": {"auth": b64("b2:2")}, "c.example": {"auth": b64("c:1")}},
            },
            {"a.example": "a", "b.example": "b2", "c.example": "c"},
            {},
            None,
        ),
        # A later null resets a map to nil, and is a no-op for a string.
        (
            {
                "auths": {"a.example": {"auth": b64("a:1")}},
                "Auths": None,
                "credsStore": "x",
                "CredsStore": None,
            },
            {},
            {},
            "x",
        ),
        # Two spellings of one string: the last one wins.
        ({"credsStore": "first", "CredsStore": "second"}, {}, {}, "second"),
        ({"CredsStore": "first", "credsStore": "second"}, {}, {}, "second"),
        (
            {"credHelpers": {"gcr.io": "a", "ghcr.io": "b"}, "CredHelpers": {"gcr.io": "c"}},
            {},
            {"gcr.io": "c", "ghcr.io": "b"},
            None,
        ),
    ],
)
def test_top_level_keys_match_as_go_json_does(
    tmp_path: Path, doc: dict, auths: dict, helpers: dict, store: str | None
) -> None:
    write(tmp_path, doc)
    config = load(tmp_path)
    assert {key: entry.username for key, entry in config.auths.items()} == auths
    assert config.cred_helpers == helpers
    assert config.creds_store == store


def test_duplicate_keys_in_one_object_merge_as_go_does(tmp_path: Path) -> None:
    """JSON text with the same key twice: Python's json keeps only the last; Go decodes both."""
    first, second = b64("a:1"), b64("b:1")
    one = json.dumps({"a.example": {"auth": first}})
    two = json.dumps({"b.example": {"auth": second}})
    text = f'{{"auths": {one}, "auths": {two}}}'
    write(tmp_path, text)
    assert sorted(load(tmp_path).auths) == ["a.example", "b.example"]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"Auth": b64("u:p")}, AuthEntry("u", "p")),
        ({"AUTH": b64("u:p")}, AuthEntry("u", "p")),
        ({"Username": "u", "Password": "p"}, AuthEntry("u", "p")),
        ({"IdentityToken": "it"}, AuthEntry(identity_token="it")),
        ({"identityto\u212aen": "it"}, AuthEntry(identity_token="it")),  # Kelvin sign
        ({"RegistryToken": "rt"}, AuthEntry(registry_token="rt")),
        # Two spellings of one field: the last wins; a null leaves the earlier value.
        ({"auth": b64("first:1"), "Auth": b64("second:2")}, AuthEntry("second", "2")),
        ({"Auth": b64("first:1"), "auth": None}, AuthEntry("first", "1")),
        ({"username": "a", "USERNAME": "b", "password": "p"}, AuthEntry("b", "p")),
    ],
)
def test_entry_keys_match_as_go_json_does(tmp_path: Path, entry: dict, expected: AuthEntry) -> None:
    write(tmp_path, {"auths": {"r.example": entry}})
    assert load(tmp_path).auths["r.example"] == expected


def test_save_after_other_spellings_writes_docker_names_once(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "Auths": {"a.example": {"Auth": b64("a:1"), "email": "a@example.com"}},
            "auths": {"b.example": {"auth": b64("b:1")}},
            "CredHelpers": {"gcr.io": "gcloud"},
            "CredsStore": "desktop",
            "psFormat": "table {{.ID}}",
        },
    )
    config = load(tmp_path)
    config.set_auth("c.example", "c", "1")
    save(config)
    doc = json.loads((tmp_path / "config.json").read_text())
    assert sorted(doc) == ["auths", "credHelpers", "credsStore", "psFormat"]
    assert doc["auths"] == {
        "a.example": {"auth": b64("a:1"), "email": "a@example.com"},
        "b.example": {"auth": b64("b:1")},
        "c.example": {"auth": b64("c:1")},
    }
    assert doc["credHelpers"] == {"gcr.io": "gcloud"} and doc["credsStore"] == "desktop"
    assert load(tmp_path).auths == config.auths


# --- login and logout keep what they do not own ----------------------------------------------

OTHER_KEYS = {
    "proxies": {"default": {"httpProxy": "http://proxy:3128", "noProxy": "*.local"}},
    "currentContext": "remote",
    "HttpHeaders": {"X-Meta": "kept"},
    "psFormat": "table {{.ID}}\\t{{.Image}}",
    "features": {"hooks": "true"},
    "aliases": {"builder": "buildx"},
    "plugins": {"plugin1": {"data1": "some string"}},
    "x-unknown-tool": [1, {"nested": None}, "two"],
}
NAMESPACED = {
    "quay.io/ns/app": {"auth": b64("ns-app:1"), "email": "ns@example.com"},
    "quay.io/ns": {"auth": b64("ns:2")},
    "quay.io/other/team/app": {"auth": b64("other:3")},
    "docker.io/library/busybox": {"auth": b64("library:busybox")},
}


def _doc_with_everything() -> dict:
    return {
        **OTHER_KEYS,
        "auths": {
            **NAMESPACED,
            "quay.io": {"auth": b64("old:host")},
            "https://quay.io/v1/": {"auth": b64("legacy:host")},
            "ghcr.io": {"auth": b64("gh:4")},
        },
    }


def test_login_keeps_namespaced_entries_and_every_other_key(tmp_path: Path) -> None:
    write(tmp_path, _doc_with_everything())
    store_login(load(tmp_path), "quay.io", "new", CANARY)
    doc = json.loads((tmp_path / "config.json").read_text())
    for key, value in OTHER_KEYS.items():
        assert doc[key] == value, key
    assert doc["auths"] == {
        **NAMESPACED,
        "ghcr.io": {"auth": b64("gh:4")},
        "quay.io": {"auth": b64("new:" + CANARY)},
    }


def test_logout_keeps_namespaced_entries_and_every_other_key(tmp_path: Path) -> None:
    write(tmp_path, _doc_with_everything())
    assert erase_login(load(tmp_path), "quay.io") is True
    doc = json.loads((tmp_path / "config.json").read_text())
    for key, value in OTHER_KEYS.items():
        assert doc[key] == value, key
    assert doc["auths"] == {**NAMESPACED, "ghcr.io": {"auth": b64("gh:4")}}
    # Nothing host-wide is left, so a repository without its own key is anonymous.
    assert load(tmp_path).find_auth("quay.io", "elsewhere/app") is None


def test_logout_of_docker_hub_keeps_namespaced_hub_entries(tmp_path: Path) -> None:
    write(
        tmp_path,
        _doc_with_everything()
        | {"auths": {**NAMESPACED, DOCKER_HUB_CREDENTIAL_KEY: {"auth": b64("h:1")}}},
    )
    assert erase_login(load(tmp_path), "docker.io") is True
    assert json.loads((tmp_path / "config.json").read_text())["auths"] == NAMESPACED


# --- namespaced keys: the most specific matching key wins ------------------------------------

# containers/image pkg/docker/config/testdata/refpath.json
REFPATH_JSON = {
    "auths": {
        "example.org/repo": {"auth": "ZXhhbXBsZTpvcmc="},
        "example.org": {"auth": "bG9jYWw6aG9zdA=="},
        "docker.io/vendor": {"auth": "Zmlyc3Q6bGV2ZWw="},
        "docker.io": {"auth": "dG9wOmxldmVs"},
        "docker.io/library/busybox": {"auth": "bGlicmFyeTpidXN5Ym94"},
        "docker.io/library": {"auth": "bGlicmFyeTpvdGhlcg=="},
    }
}


# containers/image pkg/docker/config/config_test.go, TestGetAuth (the refpath.json rows):
# (name, registry, repository path, expected username:password)
@pytest.mark.parametrize(
    ("registry", "repository", "expected"),
    [
        ("example.org", "repo/image", "example:org"),  # match ref image
        ("example.org", "repo", "example:org"),  # match ref repo
        ("example.org", "image", "local:host"),  # match ref host
        ("docker.io", "library/busybox", "library:busybox"),  # docker.io library repo match
        ("docker.io", "library/notbusybox", "library:other"),  # docker.io library namespace match
        ("docker.io", "vendor/product", "first:level"),  # docker.io vendor repo match
        ("docker.io", "vendor", "first:level"),  # docker.io vendor namespace match
        ("docker.io", "other-vendor/other-product", "top:level"),  # docker.io host-only match
        # Boundaries are `/`: `repository` is not under `repo`.
        ("example.org", "repository", "local:host"),
        ("example.org", "repo2/image", "local:host"),
        # No repository: host keys only.
        ("example.org", None, "local:host"),
    ],
)
def test_refpath_table(
    tmp_path: Path, registry: str, repository: str | None, expected: str
) -> None:
    write(tmp_path, REFPATH_JSON)
    config = load(tmp_path)
    found = config.find_auth(registry, repository)
    assert found is not None
    assert f"{found[1].username}:{found[1].password}" == expected
    credential = DockerConfigCredentials(config).resolve(registry, repository)
    assert f"{credential.username}:{credential.password}" == expected


def test_a_namespaced_key_never_serves_the_whole_host(tmp_path: Path) -> None:
    write(tmp_path, {"auths": {"quay.io/ns/app": {"auth": b64("ns:1")}}})
    config = load(tmp_path)
    assert config.find_auth("quay.io") is None
    assert config.find_auth("quay.io", "other/app") is None
    assert config.find_auth("quay.io", "ns") is None  # a parent of the key, not under it
    assert user_of(config, "quay.io", "ns/app") == "ns"
    assert user_of(config, "quay.io", "ns/app/sub") == "ns"
    assert DockerConfigCredentials(config).resolve("quay.io", "other/app").is_anonymous


def test_the_most_specific_key_wins_whatever_the_file_order(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "auths": {
                "quay.io/ns": {"auth": b64("ns:1")},
                "quay.io": {"auth": b64("host:1")},
                "quay.io/ns/app": {"auth": b64("app:1")},
                "quay.io/ns/app/deep": {"auth": b64("deep:1")},
            }
        },
    )
    config = load(tmp_path)
    assert user_of(config, "quay.io", "ns/app") == "app"
    assert user_of(config, "quay.io", "ns/app/deep/er") == "deep"
    assert user_of(config, "quay.io", "ns/tool") == "ns"
    assert user_of(config, "quay.io", "elsewhere") == "host"
    assert user_of(config, "quay.io") == "host"


# containers/image full.json and legacy.json, with TestGetAuth / TestGetAuthFromLegacyFile rows
# (for docker.io, portside follows docker: see test_docker_hub_key_beats_the_docker_io_key).
FULL_JSON = {
    "auths": {
        "example.org": {"auth": "ZXhhbXBsZTpvcmc="},
        "index.docker.io": {"auth": "aW5kZXg6ZG9ja2VyLmlv"},
        "docker.io": {"auth": "ZG9ja2VyOmlv"},
        "localhost": {"auth": "bG9jYWw6aG9zdA=="},
        "localhost:5000": {"auth": "bG9jYWw6aG9zdC01MDAw"},
        "10.10.30.45": {"auth": "MTAuMTA6MzAuNDU="},
        "10.10.30.45:5000": {"auth": "MTAuMTA6MzAuNDUtNTAwMA=="},
        "https://normalize.example.org/v1": {"auth": "bm9ybWFsaXplOmV4YW1wbGU="},
    }
}
LEGACY_KEYS = {
    "http://index.docker.io/v1": {"auth": "ZG9ja2VyOmlvLWxlZ2FjeQ=="},
    "https://localhost/v1": {"auth": "bG9jYWw6aG9zdC1sZWdhY3k="},
}


@pytest.mark.parametrize(
    ("doc", "registry", "expected"),
    [
        (FULL_JSON, "example.org", "example:org"),  # match one
        (FULL_JSON, "registry.example.org", None),  # match none
        (FULL_JSON, "normalize.example.org", "normalize:example"),  # normalize registry
        (FULL_JSON, "localhost", "local:host"),  # match localhost
        (FULL_JSON, "10.10.30.45:5000", "10.10:30.45-5000"),  # match ip
        (FULL_JSON, "localhost:5000", "local:host-5000"),  # match port
        ({"auths": LEGACY_KEYS}, "localhost", "local:host-legacy"),  # ignore schema and path
        ({"auths": LEGACY_KEYS}, "docker.io", "docker:io-legacy"),  # normalize registry
    ],
)
def test_containers_image_host_rows(
    tmp_path: Path, doc: dict, registry: str, expected: str | None
) -> None:
    write(tmp_path, doc)
    found = load(tmp_path).find_auth(registry, "some/repo")
    assert (None if found is None else f"{found[1].username}:{found[1].password}") == expected


# docker/cli cli/config/credentials/file_store_test.go, TestConvertToHostname (the rows that
# name a registry; portside also lower-cases and folds Docker Hub's aliases).
@pytest.mark.parametrize(
    ("key", "host"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("example.com", "example.com"),
        ("http://example.com", "example.com"),
        ("https://example.com", "example.com"),
        ("https://example.com/", "example.com"),
        ("https://example.com/v2/", "example.com"),
        ("127.0.0.1:6556", "127.0.0.1:6556"),
        ("[::1]:6556", "[::1]:6556"),
        ("example.com:6555", "example.com:6555"),
        ("https://127.0.0.1:6555/v2/", "127.0.0.1:6555"),
        ("https://[::1]:6555/v2/", "[::1]:6555"),
        ("http://example.com:6555", "example.com:6555"),
        ("https://example.com:6555", "example.com:6555"),
        ("https://example.com:6555/v2/", "example.com:6555"),
    ],
)
def test_convert_to_hostname_table(key: str, host: str) -> None:
    assert normalize_key(key) == host


# docker/cli cli/config/configfile/file_test.go, TestLoadFromReaderWithUsernamePassword: the
# same credential as username/password or as `auth`, under the key `example.com/foo`, which
# is a namespaced key for portside (it serves example.com/foo and below).
@pytest.mark.parametrize(
    "entry", [{"username": "user", "password": "pass"}, {"auth": b64("user:pass")}]
)
def test_load_from_reader_with_username_password(tmp_path: Path, entry: dict) -> None:
    write(tmp_path, {"auths": {"example.com/foo": entry}})
    assert load(tmp_path).find_auth("example.com", "foo") == (
        "example.com/foo",
        AuthEntry("user", "pass"),
    )
