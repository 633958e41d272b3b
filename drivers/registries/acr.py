"""The `acr` implementation: Azure Container Registry. No native driver yet: `default` reads
and untags; the native one will use azure-identity and azure-containerregistry."""

from __future__ import annotations

from drivers.registries.spec import RegistrySpec, host_pattern

SPEC = RegistrySpec(
    "acr",
    "Azure Container Registry",
    "*.azurecr.io",
    "ACR data plane DELETE /acr/v1/{repo}/_tags/{tag}",
    host_pattern(r"\.azurecr\.io$"),
    extra="azure",
    sdk=("azure.identity", "azure.containerregistry"),
)
