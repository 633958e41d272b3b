"""From a registry host to a client and a driver: detection, credentials, the factory.

`connect` is what every command that talks to a registry goes through (`client_for` for
pull, copy, inspect and ci-env's verify; `driver_for` for cleanup and tags), so they all use
the detection that `portside registries --detect` reports, with one `/v2/` request at most.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import partial
from importlib.util import find_spec

from drivers.auth.challenge import RegistryChallengeAuth
from drivers.auth.credentials import default_keychain
from drivers.distribution import DistributionClient, Ping
from drivers.errors import InvalidInput, RegistryError, TLSError, Unreachable
from drivers.http.transport import Transport
from drivers.reference import normalize_registry
from drivers.registries.contract import Driver
from drivers.registries.detection import Detection, detect
from drivers.registries.options import RegistryOptions, resolve_native_credentials
from drivers.registries.spec import RegistrySpec, header, resolve_factory
from drivers.registries.table import spec_named, v2_host

log = logging.getLogger("portside.registries")


@dataclass(frozen=True)
class Connection:
    """A registry's client, the implementation that serves it, and why."""

    client: DistributionClient
    spec: RegistrySpec
    detection: Detection


def connect(registry: str, options: RegistryOptions) -> Connection:
    """A client for `registry` and its implementation.

    The Docker config's credential is resolved first, before any request: a broken config or
    credential helper is bad input and stops the command before it touches the registry.
    When the override, the CI platform and the host name do not decide, the unauthenticated
    `GET /v2/` does (`detection.py`); its challenge is handed to the client's auth flow, so
    the first real request answers it at once instead of meeting its own 401, and the
    client keeps the answer for its own `ping()`.
    """
    name = normalize_registry(registry)
    found = detect(name, override=options.implementation, known_hosts=options.known_hosts)
    source = options.credentials or default_keychain(options.docker_config)
    credential = source.resolve(name)
    transport = Transport(name, host=v2_host(name), insecure=options.is_insecure(name))
    ping = None
    if not found.decided:
        ping = _ping(DistributionClient(transport))
        found = detect(name, ping=ping) if ping is not None else found
    spec = spec_named(found.name)
    log.debug("%s: the %s implementation serves it (%s)", name, spec.name, found.reason)
    if credential.is_anonymous and spec.login is not None and options.credentials is None:
        credential = resolve_factory(spec.login)().resolve(name)
    # The registry's credential, and per repository its own (a namespaced `auths` key) from
    # the same source.
    auth = RegistryChallengeAuth(name, credential, repositories=source)
    if ping is not None:
        auth.expect(header(ping, "WWW-Authenticate"))
    client = DistributionClient(transport.with_auth(auth), ping=ping)
    return Connection(client, spec, found)


def _ping(client: DistributionClient) -> Ping | None:
    """The `/v2/` answer, or None when it cannot be read as one: the command's own requests
    then meet the real error. A registry that cannot be reached at all stops here."""
    try:
        return client.ping()
    except (Unreachable, TLSError):
        raise
    except RegistryError as error:
        log.debug("%s: the /v2/ answer says nothing of the implementation: %s", client, error)
        return None


def client_for(registry: str, options: RegistryOptions) -> DistributionClient:
    return connect(registry, options).client


def driver_for(registry: str, options: RegistryOptions) -> Driver:
    """The driver for a registry: detected, or forced by the override.

    A native driver is built as `factory(client, options, credentials)`, its credentials
    resolved from its spec's options (`resolve_native_credentials`). An implementation
    without one reads (and untags) through the Registry v2 behaviour of `default`, under its
    own name; `portside registries` says which are native.
    """
    connection = connect(registry, options)
    spec, client = connection.spec, connection.client
    if spec.driver is None:
        from drivers.registries.default_driver import DefaultDriver

        factory = partial(DefaultDriver, name=spec.name)
    else:
        _check_sdk(spec)
        factory = resolve_factory(spec.driver)
    credentials = resolve_native_credentials(
        spec, options.credential_options, client.transport.credential, os.environ
    )
    return factory(client, options, credentials)


def _check_sdk(spec: RegistrySpec) -> None:
    """A driver whose SDK is not installed: exit 2 with the line that installs it."""
    missing = [module for module in spec.sdk if not _importable(module)]
    if missing:
        raise InvalidInput(
            f"the {spec.name} driver needs {', '.join(missing)}, which is not installed",
            hint=f"pip install 'portside[{spec.extra}]'" if spec.extra else "",
        )


def _importable(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except ImportError:  # a dotted name whose parent package is missing
        return False
