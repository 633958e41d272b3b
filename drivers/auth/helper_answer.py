"""A credential helper's answer, read the way docker's client reads it (pure, no I/O).

docker runs a helper through docker-credential-helpers' `client.Get`:

- On a non-zero exit, the helper holds nothing for the URL only when its stdout, trimmed
  (Go's `strings.TrimSpace`), is exactly "credentials not found in native keychain"
  (`credentials.IsErrCredentialsNotFoundMessage`). Any other failure is a failure, even
  one that mentions the phrase, or says it on stderr.
- On success, stdout is read with `json.NewDecoder(...).Decode` into
  `struct {ServerURL, Username, Secret string}`. That reads the first JSON value and leaves
  whatever follows it (a log line) unread; matches keys to fields without regard to case
  (Go's encoding/json, so "username" and "USERNAME" are Username, the last one given
  winning); ignores unknown keys; leaves a field empty for a missing key or `null` (a
  top-level `null` too, so `{}` and `null` are empty answers); and fails on any other
  type for a field, or on no value at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

NOT_FOUND_MESSAGE = "credentials not found in native keychain"
_FIELDS = ("ServerURL", "Username", "Secret")
# JSON's whitespace, which is all Go's decoder skips before a value.
_JSON_SPACE = " \t\r\n"
# Python's str.isspace() counts the ASCII separators U+001C..U+001F; Go's unicode.IsSpace
# does not, so strings.TrimSpace keeps them.
_NOT_GO_SPACE = "\x1c\x1d\x1e\x1f"


class _Object(list):
    """A JSON object as its (key, value) pairs in order, duplicates kept."""


class BadAnswer(ValueError):
    """The answer is not what docker's client would accept; the message names the reason
    and never quotes the answer (it may hold a secret)."""


@dataclass(frozen=True, repr=False)
class HelperAnswer:
    username: str = ""
    secret: str = ""

    def __repr__(self) -> str:
        return f"HelperAnswer(username={self.username!r}, secret=<redacted>)"


def go_trim_space(text: str) -> str:
    """Go's strings.TrimSpace: strip Unicode white space from both ends."""
    start, end = 0, len(text)
    while start < end and _is_go_space(text[start]):
        start += 1
    while end > start and _is_go_space(text[end - 1]):
        end -= 1
    return text[start:end]


def _is_go_space(char: str) -> bool:
    return char.isspace() and char not in _NOT_GO_SPACE


def is_not_found(stdout: str) -> bool:
    """Whether a failed helper said it holds nothing, as docker's client decides it."""
    return go_trim_space(stdout) == NOT_FOUND_MESSAGE


def _field(key: str) -> str | None:
    """The struct field a JSON key sets, by Go's rule: equal under simple case folding.

    Each character must fold to the field's character on its own, which is what separates
    Go's simple folding from Python's full casefold() ("ß" is "ss" there, not in Go); the
    Kelvin sign and the long s fold to "k" and "s" in both.
    """
    for name in _FIELDS:
        if len(key) == len(name) and all(
            c.casefold() == n.casefold() for c, n in zip(key, name, strict=True)
        ):
            return name
    return None


def _reject_constant(name: str) -> object:
    raise BadAnswer(f"it holds {name}, which is not JSON")


def _go_string(value: str) -> str:
    """A lone surrogate escape ("\\ud800") becomes U+FFFD, as Go decodes it."""
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def decode(stdout: str) -> HelperAnswer:
    """The helper's credentials from what a successful `get` printed; raises BadAnswer."""
    text = stdout.lstrip(_JSON_SPACE)
    if not text:
        raise BadAnswer("it printed nothing")
    decoder = json.JSONDecoder(object_pairs_hook=_Object, parse_constant=_reject_constant)
    try:
        value, _ = decoder.raw_decode(text)  # what follows the first value stays unread
    except json.JSONDecodeError as exc:
        raise BadAnswer(f"it is not JSON ({exc.msg} at character {exc.pos + 1})") from None
    if value is None:
        return HelperAnswer()
    if not isinstance(value, _Object):
        raise BadAnswer(f"it is a JSON {_kind(value)}, not an object")
    fields = {name: "" for name in _FIELDS}
    for key, item in value:
        name = _field(key)
        if name is None or item is None:
            continue
        if not isinstance(item, str):
            raise BadAnswer(f"its {name} is a JSON {_kind(item)}, not a string")
        fields[name] = _go_string(item)
    return HelperAnswer(fields["Username"], fields["Secret"])


def secrets_in(stdout: str) -> tuple[str, ...]:
    """The Secret of an answer on stdout, if there is one: a failing helper's message must
    not repeat it."""
    try:
        secret = decode(stdout).secret
    except BadAnswer:
        return ()
    return (secret,) if secret else ()


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, _Object) else "array"
