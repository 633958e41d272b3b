"""Reference parsing: worked examples, bad input, and properties of the grammar."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import InvalidReference
from drivers.reference import (
    DOCKER_HUB,
    DOCKER_HUB_ALIASES,
    Reference,
    Repository,
    is_loopback,
    normalize_registry,
    parse_digest,
    parse_reference,
    parse_repository,
    split_host_port,
)

SHA256 = "sha256:" + "0123456789abcdef" * 4
SHA512 = "sha512:" + "0123456789abcdef" * 8


# --- examples --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alpine", "docker.io/library/alpine:latest"),
        ("alpine:3.20", "docker.io/library/alpine:3.20"),
        ("user/app", "docker.io/user/app:latest"),
        ("docker.io/alpine", "docker.io/library/alpine:latest"),
        ("index.docker.io/alpine", "docker.io/library/alpine:latest"),
        ("registry-1.docker.io/library/alpine", "docker.io/library/alpine:latest"),
        ("registry.hub.docker.com/user/app:1", "docker.io/user/app:1"),
        ("Docker.IO/library/alpine", "docker.io/library/alpine:latest"),
        ("library/a/b", "docker.io/library/a/b:latest"),
        ("ghcr.io/owner/app:1.0", "ghcr.io/owner/app:1.0"),
        (
            "registry.example.com:5000/group/sub/app",
            "registry.example.com:5000/group/sub/app:latest",
        ),
        ("Example.COM:05000/x", "example.com:5000/x:latest"),
        ("localhost/app", "localhost/app:latest"),
        ("localhost:5000/a/b:tag", "localhost:5000/a/b:tag"),
        ("127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"),
        ("[::1]:5000/app:v1", "[::1]:5000/app:v1"),
        ("[::1]/app", "[::1]/app:latest"),
        ("[FE80::1]:443/app", "[fe80::1]:443/app:latest"),
        ("org/a.b-c__d---e_f", "docker.io/org/a.b-c__d---e_f:latest"),
        (f"alpine@{SHA256}", f"docker.io/library/alpine@{SHA256}"),
        (f"h.io/a:t@{SHA256}", f"h.io/a:t@{SHA256}"),
        (f"h.io/a@{SHA512}", f"h.io/a@{SHA512}"),
        (f"h.io/a@blake3+x:{'ab' * 16}", f"h.io/a@blake3+x:{'ab' * 16}"),
    ],
)
def test_parse_reference_normalises(text: str, expected: str) -> None:
    assert str(parse_reference(text)) == expected


def test_parts_of_a_parsed_reference() -> None:
    ref = parse_reference(f"localhost:5000/a/b:tag@{SHA256}")
    assert ref.repository == Repository("localhost:5000", "a/b")
    assert (ref.registry, ref.path, ref.tag, ref.digest) == ("localhost:5000", "a/b", "tag", SHA256)
    assert ref.identifier == SHA256

    ipv6 = parse_reference("[::1]:5000/app:v1")
    assert (ipv6.registry, ipv6.path, ipv6.tag, ipv6.digest) == ("[::1]:5000", "app", "v1", None)
    assert split_host_port(ipv6.registry) == ("::1", 5000)


def test_default_tag_only_without_tag_or_digest() -> None:
    assert parse_reference("alpine").tag == "latest"
    assert parse_reference("alpine", default_tag="edge").tag == "edge"
    assert parse_reference("alpine:3", default_tag="edge").tag == "3"
    assert parse_reference(f"alpine@{SHA256}").tag is None
    bare = parse_reference("alpine", default_tag=None)
    assert bare.tag is None and bare.digest is None
    assert bare.identifier == "latest"
    assert str(bare) == "docker.io/library/alpine"


def test_identifier_prefers_digest_then_tag() -> None:
    repo = Repository("ghcr.io", "o/app")
    assert Reference(repo, tag="v1").identifier == "v1"
    assert Reference(repo, digest=SHA256).identifier == SHA256
    assert Reference(repo, tag="v1", digest=SHA256).identifier == SHA256


def test_with_tag_and_with_digest() -> None:
    ref = parse_reference("ghcr.io/o/app:v1")
    pinned = ref.with_digest(SHA256)
    assert str(pinned) == f"ghcr.io/o/app:v1@{SHA256}"
    assert pinned.identifier == SHA256
    retagged = pinned.with_tag("v2")
    assert str(retagged) == "ghcr.io/o/app:v2"
    assert retagged.identifier == "v2"
    with pytest.raises(InvalidReference, match="tag"):
        ref.with_tag(".bad")
    with pytest.raises(InvalidReference, match="64 hex"):
        ref.with_digest("sha256:abc")


def test_hub_references_name_docker_io() -> None:
    # Which host serves Hub's /v2/ is tested with the registry table (test_cli_registry.py),
    # which key holds its credentials with the Docker config (test_dockerconfig.py).
    assert parse_reference("alpine").repository.registry == DOCKER_HUB
    assert parse_reference("localhost:5000/app").repository.registry == "localhost:5000"


@pytest.mark.parametrize(
    ("text", "familiar"),
    [
        ("alpine", "alpine"),
        ("docker.io/library/alpine", "alpine"),
        ("index.docker.io/user/app", "user/app"),
        ("library/a/b", "library/a/b"),
        ("ghcr.io/owner/app", "ghcr.io/owner/app"),
        ("localhost:5000/app", "localhost:5000/app"),
    ],
)
def test_familiar_name(text: str, familiar: str) -> None:
    assert parse_repository(text).familiar == familiar


def test_repository_constructor_normalises() -> None:
    assert Repository("Index.Docker.io", "alpine") == Repository("docker.io", "library/alpine")
    assert str(Repository("GHCR.io", "o/app")) == "ghcr.io/o/app"
    with pytest.raises(InvalidReference, match="lowercase"):
        Repository("ghcr.io", "O/app")


def test_parse_repository() -> None:
    assert parse_repository("alpine") == Repository("docker.io", "library/alpine")
    assert str(parse_repository("localhost:5000/group/app")) == "localhost:5000/group/app"


@pytest.mark.parametrize(
    ("host", "normal"),
    [
        ("GHCR.IO", "ghcr.io"),
        ("Index.Docker.IO", "docker.io"),
        ("registry.hub.docker.com", "docker.io"),
        ("docker.io:443", "docker.io:443"),
        ("localhost:05000", "localhost:5000"),
        ("[::1]", "[::1]"),
        ("[FE80::1]:5000", "[fe80::1]:5000"),
        ("myregistry", "myregistry"),
    ],
)
def test_normalize_registry(host: str, normal: str) -> None:
    assert normalize_registry(host) == normal


@pytest.mark.parametrize(
    ("registry", "parts"),
    [
        ("[::1]:5000", ("::1", 5000)),
        ("[::1]", ("::1", None)),
        ("::1", ("::1", None)),
        ("localhost", ("localhost", None)),
        ("Example.com:443", ("example.com", 443)),
    ],
)
def test_split_host_port(registry: str, parts: tuple[str, int | None]) -> None:
    assert split_host_port(registry) == parts


@pytest.mark.parametrize(
    ("registry", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST:5000", True),
        ("127.0.0.1", True),
        ("127.255.0.9:5000", True),
        ("::1", True),
        ("[::1]", True),
        ("[::1]:5000", True),
        ("128.0.0.1", False),
        ("example.com", False),
        ("[::2]:5000", False),
        ("localhost.example.com", False),
        ("not a host", False),
        ("", False),
    ],
)
def test_is_loopback(registry: str, loopback: bool) -> None:
    assert is_loopback(registry) is loopback


def test_parse_digest() -> None:
    assert parse_digest(SHA256) == SHA256
    assert parse_digest(SHA512) == SHA512


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("UPPER/case", "repository name must be lowercase"),
        ("ghcr.io/Owner/app", "repository name must be lowercase"),
        ("a:b:c", "more than one ':'"),
        ("[::1]:5000", "more than one ':'"),
        ("", "empty"),
        (" alpine", "whitespace"),
        ("alpine latest", "whitespace"),
        ("alpine:", "no tag"),
        ("alpine@", "no digest"),
        ("a@b@c", "more than one '@'"),
        ("//a", "starts with '/'"),
        ("/alpine", "starts with '/'"),
        ("a//b", "'//'"),
        ("alpine/", "ends with '/'"),
        (":tag", "repository name is missing"),
        (f"@{SHA256}", "repository name is missing"),
        ("a" * 300, "is 318 characters long"),
        ("ghcr.io/" + "a" * 250, "is 258 characters long"),
        ("alpine@sha256:abc", "needs 64 hex characters, got 3"),
        ("alpine@sha256:" + "A" * 64, "lowercase hex"),
        ("alpine@sha512:" + "a" * 64, "needs 128 hex characters, got 64"),
        ("alpine@md5:abcd", "at least 32 hex characters"),
        ("alpine@sha256:" + "g" * 64, "not hex"),
        ("alpine@SHA256:" + "a" * 64, 'algorithm "SHA256" must be lowercase'),
        ("alpine@sha256" + "a" * 64, "not algorithm:hex"),
        ("alpine:" + "x" * 129, "tag is 129 characters long"),
        ("alpine:.hidden", "must start with a letter, digit or '_'"),
        ("alpine:-x", "must start with a letter, digit or '_'"),
        ("alpine:a+b", "outside A-Za-z0-9_.-"),
        ("localhost:0/app", "outside 1..65535"),
        ("localhost:65536/app", "outside 1..65535"),
        ("localhost:" + "9" * 5000 + "/app", "outside 1..65535"),
        ("localhost:http/app", "is not a number"),
        ("localhost:/app", "no port"),
        ("::1/app", "more than one ':'"),
        ("[::1/app", "not a valid [ipv6]:port"),
        ("[12345::1]/app", "not an IPv6 address"),
        ("[zz::1]/app", "not a valid [ipv6]:port"),
        ("-bad.com/app", "not a valid domain name"),
        ("bad..com/app", "not a valid domain name"),
        ("a.com/a__-b", "is not valid"),
        ("a.com/_a", "is not valid"),
    ],
)
def test_parse_reference_rejects(text: str, problem: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        parse_reference(text)
    message = str(caught.value)
    assert message.startswith("invalid reference ")
    assert problem in message
    assert "\n" not in message
    assert caught.value.hint


def test_messages_name_the_input_and_hint_the_fix() -> None:
    with pytest.raises(InvalidReference) as caught:
        parse_reference("UPPER/case")
    assert str(caught.value) == 'invalid reference "UPPER/case": repository name must be lowercase'
    assert caught.value.hint == 'use lower case: "upper/case"'


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a:tag", "cannot have a tag"),
        ("localhost:5000", "cannot have a tag"),
        (f"a@{SHA256}", "cannot have a digest"),
        ("", "empty"),
        ("UPPER/case", "must be lowercase"),
    ],
)
def test_parse_repository_rejects(text: str, problem: str) -> None:
    with pytest.raises(InvalidReference, match="invalid repository") as caught:
        parse_repository(text)
    assert problem in str(caught.value)


def test_port_without_path_hint() -> None:
    with pytest.raises(InvalidReference) as caught:
        parse_repository("localhost:5000")
    assert "localhost:5000/NAME" in (caught.value.hint or "")


@pytest.mark.parametrize(
    "text", ["", "sha256", "sha256:", "sha256:abc", "sha256:" + "A" * 64, "sha1024:ab", " :x"]
)
def test_parse_digest_rejects(text: str) -> None:
    with pytest.raises(InvalidReference, match="invalid digest"):
        parse_digest(text)


@pytest.mark.parametrize(
    "host", ["", "a:b:c", "::1", "[::1", "host:0", "host:x", "-a.com", "a b", "a/b"]
)
def test_normalize_registry_rejects(host: str) -> None:
    with pytest.raises(InvalidReference, match="invalid registry"):
        normalize_registry(host)


def test_reference_constructor_checks_tag_and_digest() -> None:
    repo = Repository("ghcr.io", "o/app")
    with pytest.raises(InvalidReference, match="tag"):
        Reference(repo, tag="")
    with pytest.raises(InvalidReference, match="digest"):
        Reference(repo, digest="sha256:")


# --- properties ------------------------------------------------------------------------------

# No example database: the suite runs in a shared tree and must leave no files behind.
_fast = settings(deadline=None, database=None)

_LOWER = "abcdefghijklmnopqrstuvwxyz0123456789"
_TAG_CHARS = _LOWER + "ABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_alnum = st.text(_LOWER, min_size=1, max_size=4)
# Domain labels: alphanumeric at both ends, '-' only inside.
_label = st.builds(
    lambda a, dashes, b: a + dashes + b, _alnum, st.sampled_from(["", "-", "--"]), _alnum
)
_port = st.none() | st.integers(1, 65535)


def _with_port(host: str, port: int | None) -> str:
    return host if port is None else f"{host}:{port}"


_domains = st.lists(_label, min_size=2, max_size=3).map(".".join)
_ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
_ipv6 = st.sampled_from(["::1", "fe80::1", "2001:db8::42", "::ffff:10.0.0.1"]).map("[{}]".format)
registries = st.one_of(
    st.builds(_with_port, _domains | _ipv4 | _ipv6 | st.just("localhost"), _port),
    st.sampled_from(sorted(DOCKER_HUB_ALIASES)),
)

_separator = st.sampled_from([".", "_", "__", "-", "--"])
_components = st.builds(
    lambda first, rest: first + "".join(sep + part for sep, part in rest),
    _alnum,
    st.lists(st.tuples(_separator, _alnum), max_size=2),
)
paths = st.lists(_components, min_size=1, max_size=3).map("/".join)
tags = st.builds(str.__add__, st.sampled_from(_TAG_CHARS), st.text(_TAG_CHARS + ".-", max_size=20))
digests = st.one_of(
    st.binary(min_size=32, max_size=32).map(lambda b: f"sha256:{b.hex()}"),
    st.binary(min_size=64, max_size=64).map(lambda b: f"sha512:{b.hex()}"),
)
references = st.builds(
    Reference,
    st.builds(Repository, registries, paths),
    tag=st.none() | tags,
    digest=st.none() | digests,
)


def _random_case(data: st.DataObject, text: str) -> str:
    flips = data.draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    return "".join(c.upper() if flip else c for c, flip in zip(text, flips, strict=True))


@settings(_fast, max_examples=150)
@given(references)
def test_round_trip(ref: Reference) -> None:
    assert parse_reference(str(ref), default_tag=None) == ref
    if ref.tag is not None or ref.digest is not None:
        assert parse_reference(str(ref)) == ref


@settings(_fast, max_examples=150)
@given(st.builds(Repository, registries, paths))
def test_repository_round_trip(repo: Repository) -> None:
    assert parse_repository(str(repo)) == repo
    assert parse_repository(repo.familiar) == repo


_reference_alphabet = st.sampled_from("aZ09:/@.[]-_ \t" + "sha256" + "é")


@settings(_fast, max_examples=200)
@given(st.text() | st.text(_reference_alphabet, max_size=30))
def test_parse_only_raises_invalid_reference(text: str) -> None:
    for parse in (parse_reference, parse_repository, parse_digest, normalize_registry):
        try:
            parse(text)
        except InvalidReference as error:
            assert "\n" not in str(error)
            assert error.hint
    assert isinstance(is_loopback(text), bool)


@settings(_fast, max_examples=200)
@given(st.text(_reference_alphabet, max_size=30))
def test_parsed_references_are_already_normal(text: str) -> None:
    try:
        ref = parse_reference(text)
    except InvalidReference:
        return
    assert parse_reference(str(ref)) == ref
    assert str(parse_reference(str(ref))) == str(ref)


@settings(_fast, max_examples=150)
@given(st.data(), registries)
def test_normalize_registry_is_idempotent(data: st.DataObject, registry: str) -> None:
    once = normalize_registry(_random_case(data, registry))
    assert once == once.lower()
    assert normalize_registry(once) == once
    assert once == normalize_registry(registry)


@settings(_fast, max_examples=100)
@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), _port)
def test_loopback_covers_127_8(b: int, c: int, d: int, port: int | None) -> None:
    assert is_loopback(_with_port(f"127.{b}.{c}.{d}", port))
    assert not is_loopback(_with_port(f"10.{b}.{c}.{d}", port))
