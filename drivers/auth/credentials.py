"""Credential sources: one precedence, written down once (DESIGN.md, "Credentials").

For a repository on a registry host the credential comes from, first non-anonymous answer wins:

1. the explicit option or its `PORTSIDE_...` env twin (`StaticCredentials`);
2. DOCKER_AUTH_CONFIG's entry for it (`envconfig.EnvCredentials`), as docker ≥ 28.3 puts it in
   front of the config's own store;
3. the Docker config directory (`dockerconfig.config_dir`), within it
   `credHelpers[host]` > `credsStore` > `auths` (`DockerConfigCredentials`), where the most
   specific namespaced key (`host/ns/app`) beats the host's key (`authkeys`);
4. anonymous.

`default_keychain()` builds that chain. Sources take the repository path as well as the host
(`resolve(registry, repository)`); helpers are asked for the host only.

Credential helpers speak the docker-credential-helpers protocol: the executable
`docker-credential-<name>` on PATH, an action as its argument, the server URL (or a JSON
document for `store`) on stdin, JSON on stdout; their answers are read as docker's client
reads them (drivers/auth/helper_answer.py).

Secrets never reach a repr, a message or a log: `Credential.secrets()` lists them for redaction.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from drivers.auth import authkeys, helper_answer
from drivers.auth.dockerconfig import (
    AuthEntry,
    DockerConfig,
    config_dir,
    load,
    normalize_key,
    save,
    server_url,
)
from drivers.auth.envconfig import ENV_VARIABLE, env_auths
from drivers.errors import ConfigError, CredentialError

HELPER_PREFIX = "docker-credential-"
HELPER_TIMEOUT = 30.0
# What every docker-credential-helpers implementation prints when it holds nothing for a URL.
HELPER_NOT_FOUND = helper_answer.NOT_FOUND_MESSAGE
# Username a helper returns when Secret is an identity (OAuth2 refresh) token.
TOKEN_USERNAME = "<token>"
_HELPER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_MAX_DETAIL = 200


@dataclass(frozen=True, repr=False)
class Credential:
    """What a source knows for one registry. `source` says where it came from, for messages."""

    username: str = ""
    password: str = field(default="", repr=False)
    # OAuth2 refresh token, exchanged with the refresh_token grant by the transport.
    identity_token: str = field(default="", repr=False)
    # A bearer token, sent as-is.
    registry_token: str = field(default="", repr=False)
    source: str = "anonymous"

    @property
    def is_anonymous(self) -> bool:
        """True when nothing is set; a bare username counts as an answer (Basic `user:`)."""
        return not (self.username or self.password or self.identity_token or self.registry_token)

    def secrets(self) -> tuple[str, ...]:
        """Every non-empty secret value, including the Basic `user:password` base64 form."""
        values = [self.password, self.identity_token, self.registry_token]
        if self.password:
            pair = f"{self.username}:{self.password}".encode()
            values.append(base64.b64encode(pair).decode("ascii"))
        return tuple(v for v in values if v)

    def __repr__(self) -> str:
        parts = [f"username={self.username!r}"]
        for name in ("password", "identity_token", "registry_token"):
            if getattr(self, name):
                parts.append(f"{name}=<redacted>")
        parts.append(f"source={self.source!r}")
        return f"Credential({', '.join(parts)})"

    __str__ = __repr__


ANONYMOUS = Credential()


class CredentialSource(Protocol):
    def resolve(self, registry: str, repository: str | None = None) -> Credential: ...


class StaticCredentials:
    """A fixed credential (an explicit option or its env twin), optionally for some hosts only."""

    def __init__(self, credential: Credential, registries: Iterable[str] | None = None) -> None:
        self.credential = credential
        self.hosts = None if registries is None else frozenset(map(normalize_key, registries))

    def resolve(self, registry: str, repository: str | None = None) -> Credential:
        if self.hosts is not None and normalize_key(registry) not in self.hosts:
            return ANONYMOUS
        return self.credential

    def __repr__(self) -> str:
        return f"StaticCredentials({self.credential!r}, hosts={self.hosts!r})"


class DockerConfigCredentials:
    """A Docker config: `credHelpers[host]` > `credsStore` > `auths` > anonymous.

    Only one helper is asked: the host's `credHelpers` entry if there is one, else `credsStore`,
    once per host (its answer is kept: helpers can be slow, and serve whole hosts). When it
    answers "not found", `auths` is still consulted (a config may keep some registries in the
    file next to a store), for the repository's most specific key.
    """

    def __init__(self, config: DockerConfig) -> None:
        self.config = config
        self._helped: dict[str, Credential] = {}

    def resolve(self, registry: str, repository: str | None = None) -> Credential:
        helper = self.config.helper_for(registry)
        if helper:
            host = normalize_key(registry)
            if host not in self._helped:
                url = server_url(registry)
                self._helped[host] = helper_get(helper, url, config_path=self.config.path)
            if not self._helped[host].is_anonymous:
                return self._helped[host]
        match = self.config.find_auth(registry, repository)
        if match is None or match[1].is_empty:
            return ANONYMOUS
        key, entry = match
        return entry_credential(entry, f"auths[{key!r}] in {self.config.path}")

    def __repr__(self) -> str:
        return f"DockerConfigCredentials({self.config.path})"


def entry_credential(entry: AuthEntry, source: str) -> Credential:
    return Credential(
        username=entry.username,
        password=entry.password,
        identity_token=entry.identity_token,
        registry_token=entry.registry_token,
        source=source,
    )


class EnvCredentials:
    """DOCKER_AUTH_CONFIG's entries (`envconfig`), read on first use: a broken value fails the
    first lookup, as a broken config.json does."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self._entries: dict[str, AuthEntry] | None = None

    def resolve(self, registry: str, repository: str | None = None) -> Credential:
        if self._entries is None:
            self._entries = env_auths(self.environ)
        match = authkeys.find(self._entries, registry, repository)
        if match is None:
            return ANONYMOUS
        return entry_credential(match[1], f"{ENV_VARIABLE} auths[{match[0]!r}]")

    def __repr__(self) -> str:
        return f"EnvCredentials({ENV_VARIABLE})"


class _LazyDockerConfig:
    """DockerConfigCredentials for a directory, loaded on first use and then kept."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._source: DockerConfigCredentials | None = None

    def resolve(self, registry: str, repository: str | None = None) -> Credential:
        if self._source is None:
            self._source = DockerConfigCredentials(load(self.directory))
        return self._source.resolve(registry, repository)

    def __repr__(self) -> str:
        return f"DockerConfigCredentials({self.directory / 'config.json'}, lazy)"


class Chain:
    """Sources asked in order; the first answer that is not anonymous wins."""

    def __init__(self, *sources: CredentialSource) -> None:
        self.sources = sources

    def resolve(self, registry: str, repository: str | None = None) -> Credential:
        for source in self.sources:
            found = source.resolve(registry, repository)
            if not found.is_anonymous:
                return found
        return ANONYMOUS

    def __repr__(self) -> str:
        return f"Chain({', '.join(map(repr, self.sources))})"


def default_keychain(
    docker_config: str | os.PathLike[str] | None = None,
    explicit: Credential | None = None,
    environ: Mapping[str, str] | None = None,
) -> Chain:
    """explicit > DOCKER_AUTH_CONFIG > Docker config (`config_dir` precedence) > anonymous;
    the variable and the file are each read once, on first use."""
    env = os.environ if environ is None else environ
    sources: list[CredentialSource] = []
    if explicit is not None and not explicit.is_anonymous:
        sources.append(StaticCredentials(explicit))
    sources.append(EnvCredentials(env))
    sources.append(_LazyDockerConfig(config_dir(docker_config, env)))
    return Chain(*sources)


# --- the docker-credential-helpers protocol ---------------------------------------------------


def _executable(name: str, config_path: Path | None) -> str:
    where = str(config_path) if config_path else "the Docker config"
    hint = f"install {HELPER_PREFIX}{name}, or remove it from credHelpers/credsStore in {where}"
    if not _HELPER_NAME.fullmatch(name):
        raise ConfigError(f"credential helper name {name!r} is not valid", hint=hint)
    found = shutil.which(HELPER_PREFIX + name)
    if found is None:
        raise ConfigError(f"credential helper {HELPER_PREFIX}{name} not found on PATH", hint=hint)
    return found


def _run(
    name: str, action: str, stdin: str, config_path: Path | None
) -> subprocess.CompletedProcess[str]:
    executable = _executable(name, config_path)
    try:
        return subprocess.run(
            [executable, action],
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CredentialError(
            f"credential helper {HELPER_PREFIX}{name} {action}: no answer in {HELPER_TIMEOUT:g} s",
            hint="unlock the keychain or credential store it uses, then retry",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"credential helper {executable} cannot be run: {exc.strerror or exc}",
            hint="check that it is an executable file",
        ) from None


def _not_found(result: subprocess.CompletedProcess[str]) -> bool:
    # Only the whole of stdout counts, as in docker's client: a helper that fails for
    # another reason may still mention the phrase, and that failure must be reported.
    return helper_answer.is_not_found(result.stdout)


def _failure(
    name: str, action: str, result: subprocess.CompletedProcess[str], *secrets: str
) -> CredentialError:
    """CredentialError for a helper's non-zero exit, with the first line of what it said."""
    # A failing helper may still have printed an answer: that stdout is not shown (its secret
    # could be there in some JSON escape), and the secret is not repeated from stderr either.
    answered = helper_answer.secrets_in(result.stdout)
    detail = ""
    for text in (result.stderr,) if answered else (result.stderr, result.stdout):
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if lines:
            detail = lines[0]
            break
    for secret in (*secrets, *answered):
        if secret:
            detail = detail.replace(secret, "<redacted>")
    if len(detail) > _MAX_DETAIL:
        detail = detail[:_MAX_DETAIL] + "..."
    message = f"credential helper {HELPER_PREFIX}{name} {action} failed (exit {result.returncode})"
    return CredentialError(
        f"{message}: {detail}" if detail else message,
        hint=f"run '{HELPER_PREFIX}{name} {action}' by hand to see why",
    )


def helper_get(name: str, server_url: str, *, config_path: Path | None = None) -> Credential:
    """Ask `docker-credential-<name> get` for a server URL; ANONYMOUS when it has none."""
    result = _run(name, "get", server_url, config_path)
    if result.returncode != 0:
        if _not_found(result):
            return ANONYMOUS
        raise _failure(name, "get", result)
    try:
        answer = helper_answer.decode(result.stdout)
    except helper_answer.BadAnswer as bad:
        raise ConfigError(
            f"credential helper {HELPER_PREFIX}{name} get did not answer with "
            f'{{"ServerURL", "Username", "Secret"}} JSON: {bad}',
            hint=f"check that {HELPER_PREFIX}{name} speaks the docker-credential-helpers protocol",
        ) from None
    username, secret = answer.username, answer.secret
    source = f"credential helper {HELPER_PREFIX}{name}"
    if username == TOKEN_USERNAME:
        return Credential(identity_token=secret, source=source) if secret else ANONYMOUS
    credential = Credential(username=username, password=secret, source=source)
    return ANONYMOUS if credential.is_anonymous else credential


def helper_store(
    name: str,
    server_url: str,
    username: str,
    secret: str,
    *,
    config_path: Path | None = None,
) -> None:
    """`docker-credential-<name> store` with {"ServerURL", "Username", "Secret"} on stdin."""
    document = json.dumps({"ServerURL": server_url, "Username": username, "Secret": secret})
    result = _run(name, "store", document, config_path)
    if result.returncode != 0:
        raise _failure(name, "store", result, secret, document)


def helper_erase(name: str, server_url: str, *, config_path: Path | None = None) -> bool:
    """`docker-credential-<name> erase`. True if erased, False if the helper held nothing."""
    result = _run(name, "erase", server_url, config_path)
    if result.returncode != 0:
        if _not_found(result):
            return False
        raise _failure(name, "erase", result)
    return True


def _helper_description(config: DockerConfig, registry: str, name: str) -> str:
    if config.cred_helper(registry):
        return f"credential helper {HELPER_PREFIX}{name}"
    return f"credsStore {name!r}"


def store_login(config: DockerConfig, registry: str, username: str, password: str) -> str:
    """Store a login as `docker login` does, and say where it went.

    `credHelpers[host]` > `credsStore` > `auths`. When a helper takes it, the host's `auths`
    entries are replaced by the empty placeholder Docker writes, so no password stays in the file.
    """
    name = config.helper_for(registry)
    key = server_url(registry)
    if name:
        helper_store(name, key, username, password, config_path=config.path)
        config.remove_auth(registry)
        config.auths[key] = AuthEntry()
        save(config)
        return _helper_description(config, registry, name)
    config.set_auth(registry, username, password)
    save(config)
    return f"auths[{key!r}] in {config.path}"


def erase_login(config: DockerConfig, registry: str) -> bool:
    """Remove a login as `docker logout` does: from `auths` and from the helper or store.

    The file is cleaned first, so a failing helper cannot leave a stale entry behind.
    Returns whether anything was removed.
    """
    removed = config.remove_auth(registry)
    if removed:
        save(config)
    name = config.helper_for(registry)
    if name and helper_erase(name, server_url(registry), config_path=config.path):
        removed = True
    return removed
