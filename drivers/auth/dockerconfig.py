"""Docker's `config.json`: the one module that reads and writes it.

The file is normalised once into `DockerConfig` and `AuthEntry` values; everything else in
portside (credential resolution, the ci-env writer) goes through them. Unknown keys are kept in
`DockerConfig.raw` so that a save never drops what another tool wrote.

Secrets (passwords, tokens, the `auth` base64) never appear in a repr or an error message:
errors name the file and the `auths` key, never the value.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.auth import authkeys
from drivers.auth.authkeys import DOCKER_HUB_CREDENTIAL_KEY, normalize_key, server_url
from drivers.auth.configjson import (
    decode_auth,
    field_of,
    members,
    merge_map,
    parse_document,
    plain,
    pop_field,
)
from drivers.errors import ConfigError

__all__ = [
    "CONFIG_FILENAME",
    "DOCKER_HUB_CREDENTIAL_KEY",
    "AuthEntry",
    "DockerConfig",
    "config_dir",
    "decode_entry",
    "load",
    "normalize_key",
    "pop_field",
    "relocated",
    "save",
    "server_url",
]

CONFIG_FILENAME = "config.json"
# The fields of an `auths` entry that hold credentials (docker's AuthConfig, which also has
# `email` and `serveraddress`; those are kept as they are).
_CREDENTIAL_FIELDS = ("auth", "username", "password", "identitytoken", "registrytoken")
# The top-level fields portside reads and writes; every other key is kept as it is.
_AUTHS, _HELPERS, _STORE = "auths", "credHelpers", "credsStore"
_HINT_FIX_FILE = "fix or remove {path}, or point --docker-config at another directory"


def config_dir(
    explicit: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """The Docker config directory, chosen in this order (the first that is set wins):

    1. `explicit`, the `--docker-config` option;
    2. `PORTSIDE_DOCKER_CONFIG`;
    3. `DOCKER_CONFIG` (what the docker CLI itself reads);
    4. `~/.docker`.

    Empty values count as unset. `~` is expanded.
    """
    env = os.environ if environ is None else environ
    for candidate in (explicit, env.get("PORTSIDE_DOCKER_CONFIG"), env.get("DOCKER_CONFIG")):
        if candidate is not None and os.fspath(candidate) != "":
            return Path(os.fspath(candidate)).expanduser()
    return Path("~/.docker").expanduser()


@dataclass(frozen=True)
class AuthEntry:
    """One `auths` entry, decoded. `auth` base64 is split into username and password."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)
    registry_token: str = field(default="", repr=False)

    @property
    def is_empty(self) -> bool:
        """True for the `{}` placeholder Docker leaves when a credential store holds the secret."""
        return not (self.username or self.password or self.identity_token or self.registry_token)


@dataclass
class DockerConfig:
    """A parsed Docker config directory. `auths` keys are exactly as written in the file."""

    directory: Path
    auths: dict[str, AuthEntry] = field(default_factory=dict)
    cred_helpers: dict[str, str] = field(default_factory=dict)
    creds_store: str | None = None
    # The whole document, so unknown keys survive a save. It holds the `auth` base64: no repr.
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def path(self) -> Path:
        return self.directory / CONFIG_FILENAME

    def find_auth(
        self, registry: str, repository: str | None = None
    ) -> tuple[str, AuthEntry] | None:
        """The `auths` entry for a repository path on a registry (or for the registry alone)
        as (key, entry), or None: the most specific namespaced key, then the host's key
        (`drivers.auth.authkeys`)."""
        return authkeys.find(self.auths, registry, repository)

    def cred_helper(self, registry: str) -> str | None:
        """The `credHelpers` entry for a registry (exact key first), ignoring `credsStore`.
        Helpers serve whole hosts: a namespaced `credHelpers` key is never used."""
        if registry in self.cred_helpers and not authkeys.parse_key(registry).namespace:
            return self.cred_helpers[registry]
        keys = authkeys.host_keys(self.cred_helpers, registry)
        return self.cred_helpers[keys[0]] if keys else None

    def helper_for(self, registry: str) -> str | None:
        """The credential helper name for a registry: `credHelpers[host]`, else `credsStore`."""
        return self.cred_helper(registry) or self.creds_store

    def set_auth(self, registry: str, username: str, password: str) -> None:
        """Store username and password in `auths` under Docker's key for the registry.

        Every other key that names the whole host (`https://host`, `host/v2/`) is removed, so
        exactly one host entry is left; namespaced keys (`host/ns/app`) are kept.
        """
        self.remove_auth(registry)
        self.auths[server_url(registry)] = AuthEntry(username=username, password=password)

    def replace_entry(self, key: str, entry: AuthEntry) -> None:
        """Put `entry` under `key` as written, removing every other key that serves the same
        host (for a host key) or the same repository namespace (for a namespaced key)."""
        serves = authkeys.parse_key(key)
        for other in [k for k in self.auths if authkeys.parse_key(k) == serves]:
            del self.auths[other]
        self.auths[key] = entry

    def remove_auth(self, registry: str) -> bool:
        """Remove every `auths` key that names the whole registry host (namespaced keys stay).
        True if any was removed."""
        doomed = authkeys.host_keys(self.auths, registry)
        for key in doomed:
            del self.auths[key]
        return bool(doomed)


def load(directory: Path) -> DockerConfig:
    """Read `directory/config.json`. A missing (or empty) file gives an empty config.

    Keys are matched as docker's Go decoder matches them (`drivers.auth.configjson`): `Auths`
    fills `auths`, two spellings of a map merge, the last string wins.

    Raises ConfigError for a file that cannot be read, is not JSON (with line and column), has
    the wrong shape, or holds an `auth` value that is not base64 of `user:password` (naming the
    `auths` key, never the value).
    """
    directory = Path(directory)
    path = directory / CONFIG_FILENAME
    hint = _HINT_FIX_FILE.format(path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return DockerConfig(directory=directory)
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text", hint=hint) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}", hint=hint) from None
    if not text.strip():
        return DockerConfig(directory=directory)
    doc = parse_document(text, str(path), hint)
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: the document is not a JSON object", hint=hint)

    raw: dict[str, Any] = {}
    for name, value in members(doc):
        known = field_of(name, (_AUTHS, _HELPERS, _STORE))
        if known is None:
            raw[name] = plain(value)
        elif known == _STORE:
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{path}: credsStore is not a string", hint=hint)
            raw.setdefault(_STORE, None)
            raw[_STORE] = value if value is not None else raw[_STORE]
        else:
            merge_map(raw.setdefault(known, {}), value, f"{path}: {known}", hint)
    if raw.get(_STORE) is None:
        raw.pop(_STORE, None)
    auths = {
        key: decode_entry(value, where=f"{path}: auths[{key!r}]", hint=hint)
        for key, value in raw.get(_AUTHS, {}).items()
    }
    cred_helpers: dict[str, str] = {}
    for key, name in raw.get(_HELPERS, {}).items():
        if not isinstance(name, str):
            raise ConfigError(f"{path}: credHelpers[{key!r}] is not a string", hint=hint)
        cred_helpers[key] = name
    return DockerConfig(
        directory=directory,
        auths=auths,
        cred_helpers=cred_helpers,
        creds_store=raw.get(_STORE) or None,
        raw=raw,
    )


def decode_entry(value: Any, *, where: str, hint: str) -> AuthEntry:
    """One `auths` entry as docker's AuthConfig reads it. `where` names it in errors
    (`FILE: auths['KEY']`); a non-empty `auth` overrides `username`/`password`, as in docker."""
    if value is None:
        return AuthEntry()
    if not isinstance(value, dict):
        raise ConfigError(f"{where} is not a JSON object", hint=hint)
    fields: dict[str, str] = {}
    for name, item in members(value):
        known = field_of(name, _CREDENTIAL_FIELDS)
        if known is None or item is None:
            continue  # Go: null leaves the field as it was
        if not isinstance(item, str):
            raise ConfigError(f"{where}.{name} is not a string", hint=hint)
        fields[known] = item
    username, password = fields.get("username", ""), fields.get("password", "")
    if fields.get("auth", "").strip():
        try:
            username, password = decode_auth(fields["auth"])
        except ValueError as exc:
            raise ConfigError(f"{where}.auth {exc}", hint=_login_hint(where)) from None
    return AuthEntry(
        username=username,
        password=password,
        identity_token=fields.get("identitytoken", ""),
        registry_token=fields.get("registrytoken", ""),
    )


def _login_hint(where: str) -> str:
    file, _, key = where.partition(": ")
    return f"log in again (portside or docker login) or fix {key} in {file}"


def _encode_entry(entry: AuthEntry, previous: Any) -> dict[str, Any]:
    """An `auths` entry in Docker's form, keeping non-credential fields of the old entry."""
    out: dict[str, Any] = {}
    if isinstance(previous, dict):
        out = {k: v for k, v in previous.items() if field_of(k, _CREDENTIAL_FIELDS) is None}
    if entry.username or entry.password:
        pair = f"{entry.username}:{entry.password}".encode()
        out["auth"] = base64.b64encode(pair).decode("ascii")
    if entry.identity_token:
        out["identitytoken"] = entry.identity_token
    if entry.registry_token:
        out["registrytoken"] = entry.registry_token
    return out


def save(config: DockerConfig) -> None:
    """Write `config.json` atomically (temp file in the same directory, then os.replace).

    The file gets mode 0600; a missing directory is created with 0700. Unknown top-level keys
    and non-credential fields of `auths` entries are kept. If `config.json` is a symlink, its
    target is replaced, as the docker CLI does.
    """
    old_auths = config.raw.get(_AUTHS)
    old_auths = old_auths if isinstance(old_auths, dict) else {}
    # Docker's own spelling of its fields, once (another spelling would be read again, and
    # merged, on the next load); every other key as it was.
    ours = (_AUTHS, _HELPERS, _STORE)
    doc = {k: v for k, v in config.raw.items() if field_of(k, ours) in (None, k)}
    doc[_AUTHS] = {
        key: _encode_entry(entry, old_auths.get(key)) for key, entry in config.auths.items()
    }
    if config.cred_helpers or _HELPERS in doc:
        doc[_HELPERS] = dict(config.cred_helpers)
    if config.creds_store:
        doc[_STORE] = config.creds_store
    else:
        doc.pop(_STORE, None)
    payload = json.dumps(doc, indent="\t") + "\n"

    target = config.path
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    hint = f"check the permissions of {target.parent}, or point --docker-config elsewhere"
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".config.json.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ConfigError(f"{target}: cannot write: {exc.strerror or exc}", hint=hint) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError):
            message = f"{target}: cannot write: {exc.strerror or exc}"
            raise ConfigError(message, hint=hint) from None
        raise
    config.raw = doc


def relocated(config: DockerConfig, directory: Path) -> DockerConfig:
    """A deep copy of `config` that `save` writes under `directory` instead.

    ci-env uses it to give a job its own copy of the user's config: changes to the copy (and its
    save) never touch the source file, so the source stays byte for byte as it was.
    """
    import copy

    return DockerConfig(
        directory=Path(directory),
        auths=dict(config.auths),
        cred_helpers=dict(config.cred_helpers),
        creds_store=config.creds_store,
        raw=copy.deepcopy(config.raw),
    )
