"""The library functions behind the registry commands. Each takes the user's text and
`RegistryOptions`, and returns values; the CLI only renders them."""

from __future__ import annotations

from typing import Any

from drivers.auth import dockerconfig
from drivers.auth.credentials import Credential, StaticCredentials, erase_login, store_login
from drivers.inspect import ImageInfo, inspect_image
from drivers.reference import normalize_registry, parse_reference, parse_repository
from drivers.registries.connect import client_for, connect, driver_for
from drivers.registries.options import RegistryOptions
from drivers.registries.table import SPECS


def list_tags(repository_text: str, options: RegistryOptions) -> list[str]:
    repository = parse_repository(repository_text)
    driver = driver_for(repository.registry, options)
    return sorted(t.tag for t in driver.list_tags(repository))


def inspect(image_text: str, options: RegistryOptions) -> ImageInfo:
    reference = parse_reference(image_text)
    return inspect_image(client_for(reference.registry, options), reference)


def implementations() -> list[dict[str, Any]]:
    return [
        {
            "name": spec.name,
            "title": spec.title,
            "detected_from": spec.detected_from,
            "deletes_by": spec.deletes_by,
            "native": spec.native,
            "status": _status(spec.native),
            "extra": spec.extra,
            "credential_options": [
                {
                    "flag": option.flag,
                    "env": option.envvar,
                    "secret": option.secret,
                    "group": option.group or None,
                    "help": option.help,
                }
                for option in spec.credentials
            ],
        }
        for spec in SPECS.values()
    ]


def _status(native: bool) -> str:
    return "native" if native else "reads via default"


def detect_host(host_text: str, options: RegistryOptions) -> dict[str, Any]:
    """Detect a host's implementation as every command does (`connect`): the override, the
    CI platform, the host name, then the `/v2/` answer when those do not decide."""
    registry = registry_host(host_text)
    connection = connect(registry, options)
    spec, found = connection.spec, connection.detection
    return {
        "host": registry,
        "name": spec.name,
        "reason": found.reason,
        "native": spec.native,
        "status": _status(spec.native),
    }


def registry_host(text: str) -> str:
    """A registry as users write it (`https://ghcr.io/`, `localhost:5000`) → its host."""
    return normalize_registry(dockerconfig.normalize_key(text.strip()))


def login(registry_text: str, username: str, password: str, options: RegistryOptions) -> str:
    """Verify the credentials against the registry, then store them as `docker login` does.

    Returns where they were stored. Nothing is written when the registry refuses them.
    """
    registry = registry_host(registry_text)
    config = dockerconfig.load(dockerconfig.config_dir(options.docker_config))
    credential = Credential(username=username, password=password, source="the login command")
    checking = RegistryOptions(
        docker_config=options.docker_config,
        insecure_registries=options.insecure_registries,
        credentials=StaticCredentials(credential),
    )
    client_for(registry, checking).check_login()
    return store_login(config, registry, username, password)


def logout(registry_text: str, options: RegistryOptions) -> bool:
    registry = registry_host(registry_text)
    config = dockerconfig.load(dockerconfig.config_dir(options.docker_config))
    return erase_login(config, registry)
