"""Registry implementations: what each declares, how one is chosen, and their drivers.

    spec          RegistrySpec, CredentialOption: what an implementation declares (light)
    table         every spec, from the modules in `MODULES`; `register` adds one (light)
    detection     detect(): override -> CI platform -> host name -> the /v2/ answer (light)
    options       RegistryOptions; NativeCredentials and resolve_native_credentials, the one
                  precedence of a native driver's credentials (light)
    contract      the Driver protocol and the capability protocols
    connect       connect, client_for, driver_for: detection (one /v2/ request at most),
                  credentials, the driver factory
    native        what the drivers of a registry's own tag API share
    default, ecr, acr, dockerhub, gcr, github, gitlab, harbor, quay, artifactory, nexus
                  one spec module per implementation (light)
    default_driver, ecr_driver, ecr_aws, dockerhub_driver, harbor_driver, quay_driver
                  the native drivers, imported only when their implementation serves a command

"Light" modules load neither the HTTP stack nor an SDK: the CLI reads every spec to build
its `--repo-…` options, and start-up must not pay for the drivers. For the same reason the
names below are imported from their modules on first use (PEP 562), not here.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RegistrySpec": "spec",
    "CredentialOption": "spec",
    "SPECS": "table",
    "register": "table",
    "spec_named": "table",
    "credential_options": "table",
    "v2_host": "table",
    "Detection": "detection",
    "detect": "detection",
    "RegistryOptions": "options",
    "NativeCredentials": "options",
    "resolve_native_credentials": "options",
    "Connection": "connect",
    "connect": "connect",
    "client_for": "connect",
    "driver_for": "connect",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'drivers.registries' has no attribute {name!r}")
    return getattr(importlib.import_module(f"drivers.registries.{module}"), name)


__all__ = sorted(_EXPORTS)
