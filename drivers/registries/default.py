"""The `default` implementation: any Registry v2 / OCI distribution registry, and the reads
(and untag) of every implementation without a native driver (default_driver.py)."""

from __future__ import annotations

from drivers.registries.spec import RegistrySpec

SPEC = RegistrySpec(
    "default",
    "Docker Registry v2 / OCI distribution",
    "any other host",
    "OCI DELETE by tag; else DELETE by digest when no kept tag shares it; "
    "else the dummy-manifest untag",
    driver="drivers.registries.default_driver:DefaultDriver",
)
