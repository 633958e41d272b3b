"""Content digests: the algorithms portside accepts, and checking content against them.

A digest is `algorithm:hex`. portside accepts exactly the algorithms docker does, which are
go-digest's built-in set (distribution/reference parses a reference's digest with
`digest.Parse`, and docker/cli links crypto/sha256 and crypto/sha512): sha256, sha384 and
sha512, each in lower-case hex of its fixed length. The OCI image-spec registers sha256
(which implementations MUST verify) and sha512 (MAY). Every accepted algorithm is also
verified, wherever content is read by digest: a digest portside cannot check is refused
up front instead of being fetched unverified.

Pure, no I/O; `hashlib` is imported where it is used (`portside ci-env` start-up is
budgeted, and it never hashes).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from drivers.errors import ProtocolError
from drivers.errors import quote_input as _quote

if TYPE_CHECKING:
    import hashlib

# algorithm -> length of its hex encoding
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha384": 96, "sha512": 128}
CANONICAL = "sha256"  # what registries compute, and what portside names content by
HINT = "a digest is algorithm:hex in lower case, e.g. sha256:<64 hex characters>"
SUPPORTED = "portside verifies sha256, sha384 and sha512 digests, as docker does"

_ALGORITHM = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*")
_HEX = re.compile(r"[0-9a-fA-F]*")


def problem(digest: str) -> tuple[str, str] | None:
    """What is wrong with `digest` as (problem, hint), or None when portside accepts it."""
    algorithm, colon, encoded = digest.partition(":")
    quoted = _quote(digest)
    if not colon:
        return f"digest {quoted} is not algorithm:hex", HINT
    if not _ALGORITHM.fullmatch(algorithm):
        if _ALGORITHM.fullmatch(algorithm.lower()):
            return f"digest algorithm {_quote(algorithm)} must be lowercase", HINT
        return f"digest algorithm {_quote(algorithm)} is not valid", HINT
    want = ALGORITHMS.get(algorithm)
    if want is None:
        return f"digest algorithm {_quote(algorithm)} is not supported", SUPPORTED
    if not _HEX.fullmatch(encoded):
        return f"{algorithm} digest has characters that are not hex", HINT
    if encoded != encoded.lower():
        return f"{algorithm} digest must be lowercase hex", HINT
    if len(encoded) != want:
        return f"{algorithm} digest needs {want} hex characters, got {len(encoded)}", HINT
    return None


def algorithm_of(digest: str) -> str:
    """The algorithm of `digest` (or a bare algorithm name), if portside can verify it.

    Raises ProtocolError otherwise: such a digest comes from a registry's manifest
    (references are checked when parsed), and content must not be taken unchecked.
    """
    algorithm = digest.partition(":")[0]
    if algorithm not in ALGORITHMS:
        raise ProtocolError(
            f"a manifest names {_quote(digest)}, a digest portside cannot verify",
            hint=SUPPORTED,
        )
    return algorithm


def new_hash(digest: str) -> hashlib._Hash:
    """A fresh hash for the algorithm of `digest` (or a bare algorithm name)."""
    import hashlib

    return hashlib.new(algorithm_of(digest))


def digest_of(data: bytes, algorithm: str = CANONICAL) -> str:
    """`algorithm:hex` of `data`."""
    hashed = new_hash(algorithm)
    hashed.update(data)
    return f"{algorithm}:{hashed.hexdigest()}"


def matches(data: bytes, digest: str) -> bool:
    """Whether `data` hashes to `digest` with the digest's own algorithm."""
    return digest_of(data, algorithm_of(digest)) == digest
