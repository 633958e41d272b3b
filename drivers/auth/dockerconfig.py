"""Docker's `config.json`: the one module that reads and writes it.

The file is normalised once into `DockerConfig` and `AuthEntry` values; everything else in
portside (credential resolution, the ci-env writer) goes through them. Unknown keys are kept in
`DockerConfig.raw` so that a save never drops what another tool wrote.

Secrets (passwords, tokens, the `auth` base64) never appear in a repr or an error message:
errors name the file and the `auths` key, never the value.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.errors import ConfigError
from drivers.reference import DOCKER_HUB, DOCKER_HUB_ALIASES

CONFIG_FILENAME = "config.json"
# The key under which docker writes Docker Hub's credentials (and passes to helpers).
DOCKER_HUB_CREDENTIAL_KEY = "https://index.docker.io/v1/"

# The fields of an `auths` entry that hold credentials. Go's encoding/json matches object keys
# case-insensitively, so Docker accepts `IdentityToken` as well as `identitytoken`; so do we.
_CREDENTIAL_FIELDS = frozenset({"auth", "username", "password", "identitytoken", "registrytoken"})
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


def normalize_key(key: str) -> str:
    """An `auths`/`credHelpers` key or a registry host, reduced to a comparable host.

    `https://localhost:5000`, `localhost:5000/v2/` and `LOCALHOST:5000` all give
    `localhost:5000`; every Docker Hub alias (`https://index.docker.io/v1/` included) gives
    `docker.io`. This mirrors the docker CLI's `ConvertToHostname`, plus lower-casing.
    """
    host = key.strip()
    lowered = host.lower()
    for scheme in ("https://", "http://"):
        if lowered.startswith(scheme):
            host = host[len(scheme) :]
            break
    host = host.split("/", 1)[0].lower()
    return DOCKER_HUB if host in DOCKER_HUB_ALIASES else host


def server_url(registry: str) -> str:
    """The key Docker uses for a registry in `auths` and passes to credential helpers."""
    host = normalize_key(registry)
    return DOCKER_HUB_CREDENTIAL_KEY if host == DOCKER_HUB else host


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

    def find_auth(self, registry: str) -> tuple[str, AuthEntry] | None:
        """The `auths` entry for a registry as (key, entry), or None.

        An exact key wins (the registry as given, then Docker's key for it), then the first key
        in file order that normalises to the same host.
        """
        for exact in (registry, server_url(registry)):
            if exact in self.auths:
                return exact, self.auths[exact]
        host = normalize_key(registry)
        for key, entry in self.auths.items():
            if normalize_key(key) == host:
                return key, entry
        return None

    def cred_helper(self, registry: str) -> str | None:
        """The `credHelpers` entry for a registry (exact key first), ignoring `credsStore`."""
        if registry in self.cred_helpers:
            return self.cred_helpers[registry]
        host = normalize_key(registry)
        for key, name in self.cred_helpers.items():
            if normalize_key(key) == host:
                return name
        return None

    def helper_for(self, registry: str) -> str | None:
        """The credential helper name for a registry: `credHelpers[host]`, else `credsStore`."""
        return self.cred_helper(registry) or self.creds_store

    def set_auth(self, registry: str, username: str, password: str) -> None:
        """Store username and password in `auths` under Docker's key for the registry.

        Any other key that names the same host (`https://host`, `host/v2/`) is removed, so
        exactly one entry is left for it.
        """
        self.remove_auth(registry)
        self.auths[server_url(registry)] = AuthEntry(username=username, password=password)

    def remove_auth(self, registry: str) -> bool:
        """Remove every `auths` key that names the registry's host. True if any was removed."""
        host = normalize_key(registry)
        doomed = [key for key in self.auths if normalize_key(key) == host]
        for key in doomed:
            del self.auths[key]
        return bool(doomed)


def load(directory: Path) -> DockerConfig:
    """Read `directory/config.json`. A missing (or empty) file gives an empty config.

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
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        # exc.msg is the parser's description ("Expecting ',' delimiter"), never file content.
        raise ConfigError(
            f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            hint=hint,
        ) from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: the document is not a JSON object", hint=hint)

    auths = {
        key: _decode_entry(path, key, value)
        for key, value in _object(path, doc, "auths", hint).items()
    }
    cred_helpers: dict[str, str] = {}
    for key, name in _object(path, doc, "credHelpers", hint).items():
        if not isinstance(name, str):
            raise ConfigError(f"{path}: credHelpers[{key!r}] is not a string", hint=hint)
        cred_helpers[key] = name
    creds_store = doc.get("credsStore")
    if creds_store is not None and not isinstance(creds_store, str):
        raise ConfigError(f"{path}: credsStore is not a string", hint=hint)
    return DockerConfig(
        directory=directory,
        auths=auths,
        cred_helpers=cred_helpers,
        creds_store=creds_store or None,
        raw=doc,
    )


def _object(path: Path, doc: dict[str, Any], name: str, hint: str) -> dict[str, Any]:
    value = doc.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {name} is not a JSON object", hint=hint)
    return value


def _decode_entry(path: Path, key: str, value: Any) -> AuthEntry:
    hint = _HINT_FIX_FILE.format(path=path)
    if value is None:
        return AuthEntry()
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: auths[{key!r}] is not a JSON object", hint=hint)
    fields: dict[str, str] = {}
    for name, item in value.items():
        lowered = name.lower()
        if lowered not in _CREDENTIAL_FIELDS or item is None:
            continue
        if not isinstance(item, str):
            raise ConfigError(f"{path}: auths[{key!r}].{name} is not a string", hint=hint)
        fields[lowered] = item
    username, password = fields.get("username", ""), fields.get("password", "")
    if fields.get("auth", "").strip():
        # As in the docker CLI, a non-empty `auth` overrides `username`/`password`.
        username, password = _decode_auth(path, key, fields["auth"])
    return AuthEntry(
        username=username,
        password=password,
        identity_token=fields.get("identitytoken", ""),
        registry_token=fields.get("registrytoken", ""),
    )


def _decode_auth(path: Path, key: str, value: str) -> tuple[str, str]:
    hint = f"log in again (portside or docker login) or fix auths[{key!r}] in {path}"
    data = value.strip()
    # Some writers drop the base64 padding; the docker CLI's decoder would reject those, we
    # accept them.
    data += "=" * (-len(data) % 4)
    try:
        decoded = base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise ConfigError(f"{path}: auths[{key!r}].auth is not valid base64", hint=hint) from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise ConfigError(
            f"{path}: auths[{key!r}].auth does not decode to 'username:password'", hint=hint
        )
    return username, password


def _encode_entry(entry: AuthEntry, previous: Any) -> dict[str, Any]:
    """An `auths` entry in Docker's form, keeping non-credential fields of the old entry."""
    out: dict[str, Any] = {}
    if isinstance(previous, dict):
        out = {k: v for k, v in previous.items() if k.lower() not in _CREDENTIAL_FIELDS}
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
    old_auths = config.raw.get("auths")
    old_auths = old_auths if isinstance(old_auths, dict) else {}
    doc: dict[str, Any] = dict(config.raw)
    doc["auths"] = {
        key: _encode_entry(entry, old_auths.get(key)) for key, entry in config.auths.items()
    }
    if config.cred_helpers or "credHelpers" in doc:
        doc["credHelpers"] = dict(config.cred_helpers)
    if config.creds_store:
        doc["credsStore"] = config.creds_store
    else:
        doc.pop("credsStore", None)
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
