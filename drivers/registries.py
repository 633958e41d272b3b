"""The table of registry implementations, their detection, and the driver factory.

Detection looks at the host name first. Where the name does not decide, a second look at
the `/v2/` ping is allowed: the Bearer realm (Harbor's ends in `/service/token`) and the
headers (`X-Artifactory-*`, `Server: Nexus`). `--repo-container-registry` overrides both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from drivers.challenge import parse_challenge
from drivers.contract import Driver
from drivers.credentials import Chain, CredentialSource, default_keychain
from drivers.distribution import DistributionClient, Ping
from drivers.errors import InvalidInput
from drivers.reference import DOCKER_HUB, DOCKER_HUB_ALIASES, normalize_registry, split_host_port
from drivers.transport import Transport


@dataclass(frozen=True)
class Implementation:
    name: str
    title: str
    detected_from: str  # what the host name (or ping) must look like, for humans
    deletes_by: str  # how a tag is deleted, for humans
    host_pattern: re.Pattern[str] | None = None
    # "module:Class" of the native driver, imported only when used (drivers load SDKs such as
    # boto3). None until the native driver lands: then `default` serves the implementation.
    driver: str | None = None
    # "module:Class" of a CredentialSource asked after the Docker config found nothing for
    # the host (ECR: a token from the AWS API), before going anonymous.
    login: str | None = None
    # Registry names whose /v2/ API is served by another host (Docker Hub's docker.io is
    # served by registry-1.docker.io). Applied to the host whatever driver is chosen.
    v2_hosts: Mapping[str, str] = field(default_factory=dict)
    # The SDK the native driver imports and the install extra it comes in: ("boto3", "aws").
    # Declared only where a driver imports one; acr, github and gitlab get theirs (azure,
    # github, gitlab in pyproject.toml) when their native drivers land.
    sdk: tuple[str, str] | None = None

    @property
    def native(self) -> bool:
        return self.driver is not None


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


IMPLEMENTATIONS: dict[str, Implementation] = {
    impl.name: impl
    for impl in (
        Implementation(
            "default",
            "Docker Registry v2 / OCI distribution",
            "any other host",
            "OCI DELETE by tag; else DELETE by digest when no kept tag shares it; "
            "else the dummy-manifest untag",
            driver="drivers.default:DefaultDriver",
        ),
        Implementation(
            "ecr",
            "AWS ECR",
            r"^\d{12}\.dkr\.ecr(-fips)?\.<region>\.amazonaws\.com(\.cn)?$",
            "boto3 batch_delete_image by imageTag (100 per call)",
            _rx(r"^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$"),
            login="drivers.ecr:EcrLogin",
            driver="drivers.ecr:EcrDriver",
            sdk=("boto3", "aws"),
        ),
        Implementation(
            "acr",
            "Azure Container Registry",
            "*.azurecr.io",
            "ACR data plane DELETE /acr/v1/{repo}/_tags/{tag}",
            _rx(r"\.azurecr\.io$"),
        ),
        Implementation(
            "dockerhub",
            "Docker Hub",
            "docker.io, index.docker.io, registry-1.docker.io, registry.hub.docker.com",
            "Hub API DELETE /v2/repositories/{ns}/{repo}/tags/{tag}/",
            _rx("^(" + "|".join(re.escape(h) for h in sorted(DOCKER_HUB_ALIASES)) + ")$"),
            driver="drivers.dockerhub:DockerHubDriver",
            v2_hosts={DOCKER_HUB: "registry-1.docker.io"},
        ),
        Implementation(
            "gcr",
            "Google Container Registry / Artifact Registry",
            "gcr.io, *.gcr.io, *-docker.pkg.dev",
            "Registry v2 DELETE by tag, then the digest when untagged",
            _rx(r"(^|\.)gcr\.io$|-docker\.pkg\.dev$"),
        ),
        Implementation(
            "github",
            "GitHub Packages",
            "ghcr.io, docker.pkg.github.com",
            "REST: find the package version by tag, DELETE the version",
            _rx(r"^(ghcr\.io|docker\.pkg\.github\.com)$"),
        ),
        Implementation(
            "gitlab",
            "GitLab Container Registry",
            "registry.gitlab.com, registry.gitlab.*, or $CI_REGISTRY in a GitLab job",
            "DELETE /v2/{repo}/tags/reference/{tag}, then OCI DELETE by tag",
            _rx(r"^registry\.gitlab\."),
        ),
        Implementation(
            "harbor",
            "Harbor",
            "harbor.*, or a token realm ending in /service/token",
            "Harbor API v2.0 DELETE …/artifacts/{ref}/tags/{tag}",
            _rx(r"^harbor\."),
            driver="drivers.harbor:HarborDriver",
        ),
        Implementation(
            "quay",
            "Quay",
            "quay.io, quay.*",
            "Quay API DELETE /api/v1/repository/{repo}/tag/{tag}",
            _rx(r"^quay\."),
            driver="drivers.quay:QuayDriver",
        ),
        Implementation(
            "artifactory",
            "JFrog Artifactory",
            "*.jfrog.io, or an X-Artifactory-* response header",
            "Artifactory REST API, or Registry v2 where accepted",
            _rx(r"\.jfrog\.io$"),
        ),
        Implementation(
            "nexus",
            "Sonatype Nexus",
            "a `Server: Nexus` response header",
            "Registry v2 DELETE by digest (listing skips Nexus's null tags)",
        ),
    )
}


@dataclass(frozen=True)
class Detection:
    name: str
    reason: str


def implementation(name: str) -> Implementation:
    """The implementation called `name`; an unknown name is bad input."""
    try:
        return IMPLEMENTATIONS[name.strip().lower()]
    except KeyError:
        raise InvalidInput(
            f"unknown registry implementation {name!r}",
            hint="use one of: " + ", ".join(IMPLEMENTATIONS),
        ) from None


def detect(
    registry: str,
    *,
    ping: Ping | None = None,
    override: str | None = None,
    known_hosts: Mapping[str, str] | None = None,
) -> Detection:
    """Choose the implementation for a registry host, and say why.

    Order: the override; hosts the CI platform names (e.g. GitLab's `$CI_REGISTRY`,
    passed in as `known_hosts`); the host-name patterns; then the ping's realm and headers.
    """
    if override:
        return Detection(implementation(override).name, "forced by --repo-container-registry")
    host = normalize_registry(registry)
    for known, name in (known_hosts or {}).items():
        if normalize_registry(known) == host:
            return Detection(name, f"{known} is the CI platform's registry")
    bare = split_host_port(host)[0]
    for impl in IMPLEMENTATIONS.values():
        if impl.host_pattern is not None and (
            impl.host_pattern.search(bare) or impl.host_pattern.search(registry)
        ):
            return Detection(impl.name, f"host name matches {impl.detected_from}")
    if ping is not None:
        found = _detect_from_ping(ping)
        if found:
            return found
    return Detection("default", "no other implementation matched")


def _detect_from_ping(ping: Ping) -> Detection | None:
    headers = {k.lower(): v for k, v in ping.headers.items()}
    challenge = parse_challenge(headers.get("www-authenticate", ""))
    if challenge and challenge.realm.rstrip("/").endswith("/service/token"):
        return Detection("harbor", "token realm ends in /service/token")
    if any(k.startswith("x-artifactory-") for k in headers) or "x-jfrog-version" in headers:
        return Detection("artifactory", "the /v2/ answer carries X-Artifactory headers")
    if headers.get("server", "").lower().startswith("nexus"):
        return Detection("nexus", "the /v2/ answer says Server: Nexus")
    return None


@dataclass(frozen=True)
class RegistryOptions:
    """How to reach registries: where credentials come from, which hosts are insecure."""

    docker_config: str | None = None
    insecure_registries: frozenset[str] = frozenset()
    implementation: str | None = None  # the --repo-container-registry override
    known_hosts: Mapping[str, str] = field(default_factory=dict)
    credentials: CredentialSource | None = None  # replaces the default keychain (tests, login)
    # The native drivers' own credentials (`--repo-docker-hub-token` and the like, or their
    # PORTSIDE_REPO_* twins), by option name: {"docker_hub_token": ...}. Never printed.
    native_credentials: Mapping[str, str] = field(default_factory=dict, repr=False)

    def is_insecure(self, registry: str) -> bool:
        host = normalize_registry(registry)
        return any(normalize_registry(h) == host for h in self.insecure_registries)


def v2_host(registry: str) -> str:
    """The host that serves a registry's /v2/ API: the registry's own name, unless an
    implementation says otherwise (`Implementation.v2_hosts`)."""
    name = normalize_registry(registry)
    for impl in IMPLEMENTATIONS.values():
        if name in impl.v2_hosts:
            return impl.v2_hosts[name]
    return name


def client_for(registry: str, options: RegistryOptions) -> DistributionClient:
    credentials = options.credentials or _keychain(registry, options)
    transport = Transport(
        registry, credentials, host=v2_host(registry), insecure=options.is_insecure(registry)
    )
    # Resolve now, before any request: a broken Docker config or credential helper is bad
    # input and must stop the command before it touches the registry.
    _ = transport.credential
    return DistributionClient(transport)


def _keychain(registry: str, options: RegistryOptions) -> CredentialSource:
    """The Docker config's credentials; then, for a host whose implementation has a native
    login (ECR), that login; then anonymous (DESIGN "Credentials")."""
    import importlib

    keychain = default_keychain(options.docker_config)
    found = detect(registry, override=options.implementation, known_hosts=options.known_hosts)
    path = IMPLEMENTATIONS[found.name].login
    if path is None:
        return keychain
    module, _, cls = path.partition(":")
    return Chain(keychain, getattr(importlib.import_module(module), cls)())


def driver_for(registry: str, options: RegistryOptions) -> Driver:
    """The driver for a registry: detected, or forced by the override.

    A native driver class is built as `cls(client, options)`. An implementation without one reads
    (and untags) through the Registry v2 behaviour of `default`, under its own name;
    `portside registries` says which are native.
    """
    import importlib

    from drivers.default import DefaultDriver

    client = client_for(registry, options)
    detection = detect(registry, override=options.implementation, known_hosts=options.known_hosts)
    impl = IMPLEMENTATIONS[detection.name]
    if impl.driver is None:
        return DefaultDriver(client, name=detection.name)
    require_sdk(impl)
    module, _, cls = impl.driver.partition(":")
    return getattr(importlib.import_module(module), cls)(client, options)


def require_sdk(impl: Implementation) -> None:
    """Stop with the install line when the native driver's SDK is not installed (the core
    install has none: DESIGN "Install extras")."""
    if impl.sdk is None:
        return
    import importlib

    module, extra = impl.sdk
    try:
        importlib.import_module(module)
    except ImportError:
        raise InvalidInput(
            f"the {impl.title} driver needs {module}, which is not installed",
            hint=f"pip install 'portside[{extra}]'",
        ) from None
