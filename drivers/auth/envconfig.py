"""DOCKER_AUTH_CONFIG: registry credentials in an environment variable, as docker ≥ 28.3 reads
it (docker/cli `cli/config/configfile/file.go`, `configEnv` and `GetCredentialsStore`).

The value is a JSON object `{"auths": {KEY: {"auth": BASE64}}}`; docker reads nothing else
from it (`credHelpers`, `credsStore`, `username`/`password` in it are ignored, and an entry
without `auth` is an error). Keys match case-insensitively, as in config.json.

Its place (docker's memory store in front of the config's own store): an entry for the
registry wins over `credHelpers[host]`, `credsStore` and the file's `auths`; a registry it does
not name falls back to those. portside reads its keys as it reads `auths` keys (any spelling
of the host, and namespaced keys for their repositories), where docker matches only the exact
server address it asks for.

Where docker prints a warning and ignores a value it cannot read, portside stops with exit 2
(`ConfigError`), as for a broken config.json: credentials silently dropped would only surface
later as a refusal. Messages name the variable and the key, never the value.
"""

from __future__ import annotations

from collections.abc import Mapping

from drivers.auth.configjson import decode_auth, field_of, members, merge_map, parse_document
from drivers.auth.dockerconfig import AuthEntry
from drivers.errors import ConfigError

ENV_VARIABLE = "DOCKER_AUTH_CONFIG"
_HINT = (
    f'fix {ENV_VARIABLE} (JSON: {{"auths": {{"HOST": {{"auth": "BASE64 of user:password"}}}}}}) '
    "or unset it"
)


def env_auths(environ: Mapping[str, str]) -> dict[str, AuthEntry]:
    """The entries of DOCKER_AUTH_CONFIG by key, as written; {} when it is unset or empty."""
    value = environ.get(ENV_VARIABLE, "")
    if not value:
        return {}
    doc = parse_document(value, ENV_VARIABLE, _HINT)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise ConfigError(f"{ENV_VARIABLE}: the value is not a JSON object", hint=_HINT)
    entries: dict[str, object] = {}
    for name, value in members(doc):
        if field_of(name, ("auths",)) is not None:
            merge_map(entries, value, f"{ENV_VARIABLE}: auths", _HINT)
    return {key: _entry(key, value) for key, value in entries.items()}


def _entry(key: str, value: object) -> AuthEntry:
    where = f"{ENV_VARIABLE}: auths[{key!r}]"
    if value is not None and not isinstance(value, dict):
        raise ConfigError(f"{where} is not a JSON object", hint=_HINT)
    auth = ""
    for name, item in members(value or {}):
        if field_of(name, ("auth",)) and item is not None:
            if not isinstance(item, str):
                raise ConfigError(f"{where}.{name} is not a string", hint=_HINT)
            auth = item
    if not auth:
        raise ConfigError(f"{where} has no auth (docker reads only auth here)", hint=_HINT)
    try:
        username, password = decode_auth(auth)
    except ValueError as exc:
        raise ConfigError(f"{where}.auth {exc}", hint=_HINT) from None
    return AuthEntry(username=username, password=password)
