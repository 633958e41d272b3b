"""Image references: parsing and Docker Hub normalisation (pure, no I/O).

The grammar and the normalisation are distribution/reference's `ParseNormalizedNamed`
(v0.6.0), which docker uses for every reference typed on its command line:

    reference  := name [":" tag] ["@" digest]
    name       := [host "/"] path
    host       := domain [":" port] | "[" ipv6 "]" [":" port]
    path       := component ("/" component)*

The first component of a name is a registry host when it contains "." or ":", is
"localhost", is a bracketed IPv6 literal, or has an upper-case letter (a path is always
lower case, so "LOCALDOMAIN/debian" names the host LOCALDOMAIN, as in docker). Otherwise
the image lives on Docker Hub, and a one-component Hub path gets "library/" in front of it
("alpine" is docker.io/library/alpine). The repository path (without the host) is at most
255 characters, counted after "library/" is added. Digests are checked by drivers/digest.py:
sha256, sha384 and sha512, all of which portside verifies.

Where portside deliberately reads a reference differently from docker, and why:

- A bare 64-hex name ("1a3f...3a", no host, tag or digest) is a Hub repository here, as
  the grammar says; docker refuses it because its CLI reads such a string as the ID of a
  local image. portside has no local images, so there is nothing to confuse it with.
- Host names are lower-cased, so two references to the same registry compare equal (DNS
  names are case-insensitive); docker keeps the case as typed. A single-label host that
  is only a host because of its upper case ("LOCALDOMAIN") keeps its case: lower-cased it
  would read back as a Hub namespace.
- Every Docker Hub alias ("index.docker.io", "registry-1.docker.io",
  "registry.hub.docker.com", in any case) becomes "docker.io"; docker folds only
  "index.docker.io", so a reference to the others would miss Hub's credentials and the
  "library/" prefix. Which host serves Hub's /v2/ is the `dockerhub` implementation's
  (drivers/registries/dockerhub.py), and which key holds Hub credentials the Docker config's
  (drivers/auth/dockerconfig.py).
- A port must be 1..65535 and loses leading zeros, and an IPv6 literal must be an IPv6
  address; docker's pattern takes any digits and any run of hex digits and ':'. Neither
  names a registry anyone can reach, so portside says so at parse time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from drivers import digest as _digest
from drivers.errors import InvalidReference
from drivers.errors import quote_input as _quote

if TYPE_CHECKING:
    import ipaddress

DOCKER_HUB = "docker.io"
# Every host name that means Docker Hub; all normalise to DOCKER_HUB.
DOCKER_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)

# Docker Hub's official images live under this namespace; "alpine" means "library/alpine".
_HUB_OFFICIAL = "library"
_DEFAULT_TAG = "latest"
# distribution/reference's RepositoryNameTotalLengthMax: since v0.6.0 it limits the path alone.
PATH_LENGTH_MAX = 255
TAG_LENGTH_MAX = 128

_DOMAIN_COMPONENT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_DIGITS = re.compile(r"[0-9]+")
# Hex digits and ':' only, as distribution's ipv6address: no embedded IPv4 part, no zone.
_IPV6_BRACKETED = re.compile(r"\[([0-9A-Fa-f:]+)\](?::(.*))?")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")

_REFERENCE_HINT = "expected [registry/]path[:tag][@digest], e.g. ghcr.io/owner/app:1.0"
_PATH_HINT = (
    "path components are lower-case letters and digits, separated inside a component by "
    "'.', '_', '__' or '-', and joined by '/', e.g. group/sub-app"
)
_TAG_HINT = "a tag is 1 to 128 of A-Z a-z 0-9 _ . - and does not start with '.' or '-'"
_DIGEST_HINT = _digest.HINT
_HOST_HINT = "a registry is host[:port] or [ipv6][:port], e.g. ghcr.io or localhost:5000"


class _Problem(Exception):
    """What is wrong with one part of the input; the public function names the whole input."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


def _invalid(kind: str, text: str, problem: _Problem) -> InvalidReference:
    return InvalidReference(f"invalid {kind} {_quote(text)}: {problem.problem}", hint=problem.hint)


# --- hosts -----------------------------------------------------------------------------------


def _check_port(port: str, host: str) -> int:
    if not port:
        raise _Problem(f"registry {_quote(host)} has ':' but no port after it", _HOST_HINT)
    if not _DIGITS.fullmatch(port):
        raise _Problem(
            f"port {_quote(port)} of registry {_quote(host)} is not a number", _HOST_HINT
        )
    # The length goes first: Python refuses to convert very long digit strings.
    number = int(port) if len(port) <= 5 else 0
    if not 1 <= number <= 65535:
        raise _Problem(
            f"port {_quote(port)} of registry {_quote(host)} is outside 1..65535", _HOST_HINT
        )
    return number


def _ipv6(address: str, host: str) -> ipaddress.IPv6Address:
    import ipaddress  # here, not at the top: `portside ci-env` start-up is budgeted

    try:
        return ipaddress.IPv6Address(address)
    except ValueError:
        raise _Problem(
            f"{_quote(address)} in {_quote(host)} is not an IPv6 address", _HOST_HINT
        ) from None


def _parse_host(host: str, *, bare_ipv6: bool) -> tuple[str, int | None, bool]:
    """Split and check host[:port]; answer (host in lower case, port, is_ipv6).

    `bare_ipv6` accepts an unbracketed IPv6 address (as urlsplit().hostname gives it), which
    then has no port.
    """
    if not host:
        raise _Problem("registry host is empty", _HOST_HINT)
    if host.startswith("["):
        match = _IPV6_BRACKETED.fullmatch(host)
        if not match and "." in host.partition("]")[0]:
            raise _Problem(
                f"registry {_quote(host)} has an IPv6 address with an IPv4 part",
                "write it in hex only, as docker requires, e.g. [::ffff:a00:1]",
            )
        if not match:
            raise _Problem(f"registry {_quote(host)} is not a valid [ipv6]:port", _HOST_HINT)
        _ipv6(match[1], host)
        port = None if match[2] is None else _check_port(match[2], host)
        return match[1].lower(), port, True
    if host.count(":") > 1:
        if bare_ipv6:
            _ipv6(host, host)
            return host.lower(), None, True
        raise _Problem(
            f"registry {_quote(host)} has more than one ':'",
            "write an IPv6 address in brackets, e.g. [::1]:5000",
        )
    name, colon, port_text = host.partition(":")
    port = _check_port(port_text, host) if colon else None
    if not name:
        raise _Problem(f"registry {_quote(host)} has a port but no host name", _HOST_HINT)
    for component in name.split("."):
        if not _DOMAIN_COMPONENT.fullmatch(component):
            raise _Problem(
                f"registry host {_quote(name)} is not a valid domain name",
                "host name labels are letters, digits and inner '-', joined by '.'",
            )
    return name.lower(), port, False


def _normalise_host(host: str) -> str:
    name, port, is_ipv6 = _parse_host(host, bare_ipv6=False)
    if is_ipv6:
        name = f"[{name}]"
    elif port is None and name in DOCKER_HUB_ALIASES:
        return DOCKER_HUB
    elif port is None and not _looks_like_host(name) and host != name:
        # "LOCALDOMAIN" is a host only by its upper case; "localdomain/x" would be Hub's.
        return host
    return name if port is None else f"{name}:{port}"


def normalize_registry(host: str) -> str:
    """The canonical form of a registry host: lower case, Docker Hub aliases as "docker.io".

    The port is kept (without leading zeros) and IPv6 literals keep their brackets. A
    single-label host without a port keeps an upper case it has ("LOCALDOMAIN"): only that
    case makes it a host in a reference. Raises
    InvalidReference when `host` is not host[:port] or [ipv6][:port].
    """
    try:
        return _normalise_host(host)
    except _Problem as problem:
        raise _invalid("registry", host, problem) from None


def split_host_port(registry: str) -> tuple[str, int | None]:
    """("[::1]:5000" -> ("::1", 5000), "localhost" -> ("localhost", None)); host in lower case.

    An unbracketed IPv6 address is accepted too, and has no port.
    """
    try:
        name, port, _ = _parse_host(registry, bare_ipv6=True)
    except _Problem as problem:
        raise _invalid("registry", registry, problem) from None
    return name, port


def is_loopback(registry: str) -> bool:
    """Whether the registry's host is localhost, in 127.0.0.0/8, or ::1; the port is ignored.

    Anything that is not a valid registry host is simply not loopback.
    """
    try:
        name, _, is_ipv6 = _parse_host(registry, bare_ipv6=True)
    except _Problem:
        return False
    if name == "localhost":
        return True
    import ipaddress

    if is_ipv6:
        return ipaddress.IPv6Address(name) == ipaddress.IPv6Address("::1")
    try:
        return ipaddress.IPv4Address(name).is_loopback
    except ValueError:
        return False


# --- repositories ----------------------------------------------------------------------------


def _check_path(path: str, host: str = "") -> None:
    """Check a repository path; `host` ("ghcr.io/" or "") is what the lower-case hint shows
    in front of the path."""
    if not path:
        raise _Problem("repository path is empty", _PATH_HINT)
    for component in path.split("/"):
        if _PATH_COMPONENT.fullmatch(component):
            continue
        if not component:
            raise _Problem("repository path has an empty component", _PATH_HINT)
        if _PATH_COMPONENT.fullmatch(component.lower()):
            raise _Problem(
                "repository name must be lowercase",
                f"use lower case: {_quote(host + path.lower())}",
            )
        raise _Problem(f"repository path component {_quote(component)} is not valid", _PATH_HINT)


def _normalise_repository(registry: str, path: str, typed_host: str = "") -> tuple[str, str]:
    """`typed_host` is the host as the user wrote it ("" when it is Hub's by default)."""
    registry = _normalise_host(registry)
    _check_path(path, typed_host and f"{typed_host}/")
    if registry == DOCKER_HUB and "/" not in path:
        path = f"{_HUB_OFFICIAL}/{path}"
    if len(path) > PATH_LENGTH_MAX:
        raise _Problem(
            f"repository path is {len(path)} characters long, more than {PATH_LENGTH_MAX}",
            "use a shorter repository path",
        )
    return registry, path


def _looks_like_host(component: str) -> bool:
    """Whether the first component of a name is a registry host (splitDockerDomain's rule)."""
    return (
        "." in component
        or ":" in component
        or component.startswith("[")
        or component.lower() == "localhost"
        # Paths are lower case, so an upper-case first component can only be a host.
        or component != component.lower()
    )


def _parse_name(name: str) -> tuple[str, str]:
    """[host/]path -> (normalised registry, normalised path)."""
    if not name:
        raise _Problem("repository name is missing", _REFERENCE_HINT)
    if name.startswith("/"):
        raise _Problem("it starts with '/'", "drop the leading '/'")
    if name.endswith("/"):
        raise _Problem("it ends with '/'", "drop the trailing '/' or add the repository name")
    if "//" in name:
        raise _Problem("it has an empty path component ('//')", "use one '/' between parts")
    first, slash, rest = name.partition("/")
    if slash and _looks_like_host(first):
        return _normalise_repository(first, rest, first)
    return _normalise_repository(DOCKER_HUB, name)


def _check_tag(tag: str) -> None:
    if not tag:
        raise _Problem("tag is empty", _TAG_HINT)
    if len(tag) > TAG_LENGTH_MAX:
        raise _Problem(f"tag is {len(tag)} characters long, more than {TAG_LENGTH_MAX}", _TAG_HINT)
    if not _TAG.fullmatch(tag):
        if _TAG.fullmatch("_" + tag[1:]):
            raise _Problem(f"tag {_quote(tag)} must start with a letter, digit or '_'", _TAG_HINT)
        raise _Problem(f"tag {_quote(tag)} has a character outside A-Za-z0-9_.-", _TAG_HINT)


def _check_digest(digest: str) -> None:
    found = _digest.problem(digest)
    if found is not None:
        raise _Problem(*found)


@dataclass(frozen=True)
class Repository:
    """A repository on a registry: `registry` is normalised host[:port], `path` has no tag.

    The constructor normalises too: Repository("Index.Docker.io", "alpine") equals
    Repository("docker.io", "library/alpine"). Invalid fields raise InvalidReference.
    """

    registry: str
    path: str

    def __post_init__(self) -> None:
        try:
            registry, path = _normalise_repository(self.registry, self.path, self.registry)
        except _Problem as problem:
            raise _invalid("repository", f"{self.registry}/{self.path}", problem) from None
        object.__setattr__(self, "registry", registry)
        object.__setattr__(self, "path", path)

    @property
    def familiar(self) -> str:
        """The short name people type: "alpine", "user/app", or "ghcr.io/owner/app"."""
        # A Hub namespace that looks like a host ("my.org/app") would re-parse as a registry.
        if self.registry != DOCKER_HUB or _looks_like_host(self.path.partition("/")[0]):
            return str(self)
        namespace, _, rest = self.path.partition("/")
        if namespace == _HUB_OFFICIAL and "/" not in rest:
            return rest
        return self.path

    def __str__(self) -> str:
        return f"{self.registry}/{self.path}"


@dataclass(frozen=True)
class Reference:
    """A manifest in a repository, named by tag, digest, or both (the digest then wins)."""

    repository: Repository
    tag: str | None = None
    digest: str | None = None

    def __post_init__(self) -> None:
        try:
            if self.tag is not None:
                _check_tag(self.tag)
            if self.digest is not None:
                _check_digest(self.digest)
        except _Problem as problem:
            raise _invalid("reference", str(self), problem) from None

    @property
    def registry(self) -> str:
        return self.repository.registry

    @property
    def path(self) -> str:
        return self.repository.path

    @property
    def identifier(self) -> str:
        """What goes in /v2/<path>/manifests/<identifier>: the digest, else the tag, else latest."""
        return self.digest or self.tag or _DEFAULT_TAG

    def with_tag(self, tag: str) -> Reference:
        """The same repository at `tag`; any digest is dropped, so `identifier` is the tag."""
        return replace(self, tag=tag, digest=None)

    def with_digest(self, digest: str) -> Reference:
        """The same reference pinned to `digest`; the tag is kept for display."""
        return replace(self, digest=digest)

    def __str__(self) -> str:
        text = str(self.repository)
        if self.tag is not None:
            text += f":{self.tag}"
        if self.digest is not None:
            text += f"@{self.digest}"
        return text


# --- parsing ---------------------------------------------------------------------------------


def _check_text(text: str) -> None:
    if not text:
        raise _Problem("it is empty", _REFERENCE_HINT)
    if any(char.isspace() for char in text):
        raise _Problem("it contains whitespace", "remove the spaces; quote the name in shells")


def _tag_colon(name: str) -> int:
    """The index of the ':' that starts a tag (the last ':' after the last '/'), or -1."""
    colon = name.rfind(":")
    return colon if colon > name.rfind("/") else -1


def _split_reference(text: str) -> tuple[str, str | None, str | None]:
    """reference -> (name, tag, digest), with the tag and digest checked."""
    _check_text(text)
    name, at, digest = text.partition("@")
    if not at:
        digest = None
    elif not digest:
        raise _Problem("it ends with '@' but has no digest after it", _DIGEST_HINT)
    elif "@" in digest:
        raise _Problem("it has more than one '@'", _REFERENCE_HINT)
    else:
        _check_digest(digest)
    tag = None
    colon = _tag_colon(name)
    if colon >= 0:
        name, tag = name[:colon], name[colon + 1 :]
        if not tag:
            raise _Problem("it has ':' but no tag after it", _TAG_HINT)
        if ":" in name[name.rfind("/") + 1 :]:
            raise _Problem(
                "it has more than one ':' after the last '/'",
                "write name:tag; a registry with a port needs a path after it, e.g. "
                "localhost:5000/app:1.0",
            )
        _check_tag(tag)
    return name, tag, digest


def parse_reference(text: str, *, default_tag: str | None = _DEFAULT_TAG) -> Reference:
    """Parse an image reference such as "alpine", "ghcr.io/o/app:1.0" or "h:5000/a@sha256:…".

    `default_tag` is used only when the reference has neither a tag nor a digest; pass None to
    keep such a reference without a tag.
    """
    try:
        name, tag, digest = _split_reference(text)
        if tag is None and digest is None and default_tag is not None:
            _check_tag(default_tag)
            tag = default_tag
        registry, path = _parse_name(name)
    except _Problem as problem:
        raise _invalid("reference", text, problem) from None
    return Reference(Repository(registry, path), tag=tag, digest=digest)


def parse_repository(text: str) -> Repository:
    """Parse a repository name such as "alpine" or "localhost:5000/group/app" (no tag or digest)."""
    try:
        _check_text(text)
        name, at, digest = text.partition("@")
        if at:
            raise _Problem("a repository name cannot have a digest", f"drop {_quote(at + digest)}")
        colon = _tag_colon(name)
        if colon >= 0:
            hint = f"drop {_quote(name[colon:])}"
            if name[colon + 1 :].isdigit():
                hint += f"; a registry needs a repository path after it: {name}/NAME"
            raise _Problem("a repository name cannot have a tag", hint)
        registry, path = _parse_name(name)
    except _Problem as problem:
        raise _invalid("repository", text, problem) from None
    return Repository(registry, path)


def parse_digest(text: str) -> str:
    """Check a digest ("sha256:<64 hex>", sha384, sha512) and return it unchanged."""
    try:
        _check_digest(text)
    except _Problem as problem:
        raise _invalid("digest", text, problem) from None
    return text
