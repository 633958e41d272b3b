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
SHA384 = "sha384:" + "0123456789abcdef" * 6
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
        (f"h.io/a@{SHA384}", f"h.io/a@{SHA384}"),
        ("LOCALDOMAIN/debian", "LOCALDOMAIN/debian:latest"),
        ("Foo/bar:1", "Foo/bar:1"),
        ("LOCALHOST:5000/app", "localhost:5000/app:latest"),
        ("ghcr.io/" + "a" * 255, "ghcr.io/" + "a" * 255 + ":latest"),
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
        ("Upper:case", "repository name must be lowercase"),
        ("docker/Docker", "repository name must be lowercase"),
        ("ghcr.io/Owner/app", "repository name must be lowercase"),
        ("Foo/Bar", "repository name must be lowercase"),
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
        ("a" * 300, "repository path is 308 characters long, more than 255"),
        ("a" * 248, "repository path is 256 characters long"),  # counted with "library/"
        ("ghcr.io/" + "a" * 256, "repository path is 256 characters long"),
        ("alpine@sha256:abc", "needs 64 hex characters, got 3"),
        ("alpine@sha256:" + "A" * 64, "lowercase hex"),
        ("alpine@sha512:" + "a" * 64, "needs 128 hex characters, got 64"),
        ("alpine@md5:" + "a" * 32, 'digest algorithm "md5" is not supported'),
        ("alpine@blake3:" + "a" * 64, 'digest algorithm "blake3" is not supported'),
        ("alpine@sha384:" + "a" * 64, "needs 96 hex characters, got 64"),
        ("[::ffff:10.0.0.1]:5000/app", "an IPv6 address with an IPv4 part"),
        ("Foo_bar/app", "not a valid domain name"),
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
        parse_reference("Upper:case")
    assert str(caught.value) == 'invalid reference "Upper:case": repository name must be lowercase'
    assert caught.value.hint == 'use lower case: "upper"'


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("ghcr.io/Owner/app", 'use lower case: "ghcr.io/owner/app"'),
        ("Foo/Bar", 'use lower case: "Foo/bar"'),  # Foo is the host, as in docker
        ("docker/Docker:1", 'use lower case: "docker/docker"'),
    ],
)
def test_lower_case_hint_keeps_the_host(text: str, hint: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        parse_reference(text)
    assert caught.value.hint == hint


@pytest.mark.parametrize(
    ("text", "registry", "path"),
    [
        ("LOCALDOMAIN/debian", "LOCALDOMAIN", "debian"),
        ("Foo/bar", "Foo", "bar"),
        ("FOO/bar/baz:1", "FOO", "bar/baz"),
        ("MyRegistry:5000/app", "myregistry:5000", "app"),  # the port makes it a host
        ("Registry.Example/app", "registry.example", "app"),
        ("LocalHost/app", "localhost", "app"),
    ],
)
def test_upper_case_first_component_is_a_registry_host(text: str, registry: str, path: str) -> None:
    # distribution/reference's splitDockerDomain: paths are lower case, so a first component
    # with an upper-case letter can only be a host (docker pulls LOCALDOMAIN/debian from
    # the host LOCALDOMAIN, not from Docker Hub).
    ref = parse_reference(text)
    assert (ref.registry, ref.path) == (registry, path)
    assert parse_reference(str(ref)) == ref
    assert parse_repository(ref.repository.familiar) == ref.repository
    assert normalize_registry(registry) == registry


def test_only_the_repository_path_is_limited_to_255() -> None:
    # distribution/reference v0.6.0: RepositoryNameTotalLengthMax applies to the path alone.
    long_host = "h" * 60 + ".example.com:5000"
    ref = parse_reference(f"{long_host}/{'p' * 255}:t")
    assert len(ref.path) == 255 and len(str(ref.repository)) > 255
    assert parse_reference("a/" * 127 + "a").path == "a/" * 127 + "a"
    with pytest.raises(InvalidReference, match="repository path is 256 characters long"):
        parse_reference(f"{long_host}/{'p' * 256}")
    with pytest.raises(InvalidReference, match="more than 255"):
        Repository("ghcr.io", "p" * 256)


@pytest.mark.parametrize(("algorithm", "length"), [("sha256", 64), ("sha384", 96), ("sha512", 128)])
def test_every_digest_algorithm_docker_accepts(algorithm: str, length: int) -> None:
    digest = f"{algorithm}:{'a' * length}"
    assert parse_digest(digest) == digest
    assert parse_reference(f"h.io/a@{digest}").digest == digest


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "blake3", "sha3-256", "multihash+base58"])
def test_digest_algorithms_portside_cannot_verify_are_refused(algorithm: str) -> None:
    with pytest.raises(InvalidReference) as caught:
        parse_reference(f"h.io/a@{algorithm}:{'a' * 64}")
    assert f'digest algorithm "{algorithm}" is not supported' in str(caught.value)
    assert (
        caught.value.hint == "portside verifies sha256, sha384 and sha512 digests, as docker does"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a:tag", "cannot have a tag"),
        ("localhost:5000", "cannot have a tag"),
        (f"a@{SHA256}", "cannot have a digest"),
        ("", "empty"),
        ("docker/Upper", "must be lowercase"),
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
    "text",
    ["", "sha256", "sha256:", "sha256:abc", "sha256:" + "A" * 64, "sha1024:" + "a" * 64, " :x"],
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
_ipv6 = st.sampled_from(["::1", "fe80::1", "2001:db8::42", "::ffff:a00:1"]).map("[{}]".format)
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
    st.binary(min_size=48, max_size=48).map(lambda b: f"sha384:{b.hex()}"),
    st.binary(min_size=64, max_size=64).map(lambda b: f"sha512:{b.hex()}"),
)
# Hosts that are hosts only by their upper case ("LOCALDOMAIN"); they keep that case.
_upper_hosts = _label.map(str.upper).filter(lambda host: host != host.lower())
reference_registries = registries | _upper_hosts
references = st.builds(
    Reference,
    st.builds(Repository, reference_registries, paths),
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
@given(st.builds(Repository, reference_registries, paths))
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
