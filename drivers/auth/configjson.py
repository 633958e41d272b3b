"""The JSON of a Docker config, read as docker's Go code reads it into its structs.

Go's encoding/json differs from Python's json in three ways that decide what a config holds:

- an object key names a struct field case-insensitively (`Auths`, `CREDSSTORE`, `credhelpers`
  all fill docker's fields; Go folds the long s U+017F to `s` and the Kelvin sign U+212A to `k`);
- every member is decoded in document order, so when one field is named twice (`auths` and
  `Auths`, or the same key twice), a string takes the last value, a map gets the entries of
  both (later keys win), and a `null` resets a map and leaves a string alone;
- `base64.StdEncoding` skips `\\r` and `\\n` anywhere in the input (as `base64` wraps at 76
  columns), and nothing else.

`parse` keeps each object's members in order (`members`), duplicates included, so the readers
(`dockerconfig`, `envconfig`) can apply those rules. Error messages name where a value is, never
the value.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any

from drivers.errors import ConfigError

# Characters that are not ASCII letters but that Go's case folding maps onto one.
_GO_FOLD = {0x017F: "s", 0x212A: "k"}


class JsonObject(dict):  # type: ignore[type-arg]
    """A JSON object that also keeps its members in document order, duplicates included."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


def parse(text: str) -> Any:
    """`json.loads`, with every object a JsonObject. Raises json.JSONDecodeError."""
    return json.loads(text, object_pairs_hook=JsonObject)


def parse_document(text: str, where: str, hint: str) -> Any:
    """`parse`, with invalid JSON as a ConfigError naming `where`, the line and the column
    (exc.msg is the parser's description, "Expecting ',' delimiter", never the content)."""
    try:
        return parse(text)
    except json.JSONDecodeError as exc:
        message = f"{where}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise ConfigError(message, hint=hint) from None


def merge_map(target: dict[str, Any], value: Any, where: str, hint: str) -> None:
    """Decode one member that names a map field into `target`, as Go does: a later spelling
    adds its entries (later keys win), `null` empties the map."""
    if value is None:
        target.clear()
    elif not isinstance(value, dict):
        raise ConfigError(f"{where} is not a JSON object", hint=hint)
    else:
        target.update((key, plain(item)) for key, item in members(value))


def members(value: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """An object's members in document order (duplicates included, for a parsed one)."""
    return value.pairs if isinstance(value, JsonObject) else list(value.items())


def fold(name: str) -> str:
    """A key as Go compares it with a field name (which here are all ASCII)."""
    return name.translate(_GO_FOLD).lower()


def field_of(name: str, fields: Iterable[str]) -> str | None:
    """The field (by its canonical spelling) that the key `name` fills, or None."""
    folded = fold(name)
    for field in fields:
        if fold(field) == folded:
            return field
    return None


def plain(value: Any) -> Any:
    """A parsed value with its JsonObjects turned back into dicts (the last duplicate wins)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def pop_field(doc: dict[str, Any], field: str) -> Any:
    """Remove every spelling of `field` from `doc`; return the value Go would have read."""
    found = None
    for key in [k for k in doc if fold(k) == fold(field)]:
        value = doc.pop(key)
        found = value if value is not None else found
    return found


def decode_auth(value: str) -> tuple[str, str]:
    """The (username, password) of an `auth` value. ValueError says what is wrong with it
    ("is not valid base64", "does not decode to 'username:password'"), never what it holds.

    As Go's StdEncoding, `\\r` and `\\n` anywhere are skipped, and any other byte that is not
    base64 is refused. portside is lenient in two ways docker is not: whitespace around the
    value and missing `=` padding are accepted (some writers drop it). As docker, NULs around
    the password are trimmed.
    """
    data = value.replace("\r", "").replace("\n", "").strip()
    data += "=" * (-len(data) % 4)
    try:
        decoded = base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise ValueError("is not valid base64") from None
    username, sep, password = decoded.partition(":")
    if not sep:
        raise ValueError("does not decode to 'username:password'")
    return username, password.strip("\x00")
