"""The test bed: real registries, a token server, test images and a skopeo helper.

Plain modules, so pytest fixtures (tests/conftest.py) and the demo (`python -m tests.bed serve`)
share them. See DESIGN.md, "Test bed".
"""

from __future__ import annotations

# The canary: a secret no output, log or exception text may ever contain.
CANARY_USER = "alice"
CANARY_PASSWORD = "canary-S3cr3t-4242"

from .images import (  # noqa: E402
    Blob,
    Image,
    buildx_index,
    docker_manifest_list,
    nested_index,
    oci_image,
    oci_index,
    push_image,
    push_image_raw,
    schema2_image,
    with_windows,
)
from .registry import RunningRegistry, registry_available, start_registry  # noqa: E402
from .skopeo import skopeo, skopeo_available, skopeo_inspect_digest  # noqa: E402
from .tokenserver import TokenServer  # noqa: E402

__all__ = [
    "CANARY_PASSWORD",
    "CANARY_USER",
    "Blob",
    "Image",
    "RunningRegistry",
    "TokenServer",
    "buildx_index",
    "docker_manifest_list",
    "nested_index",
    "oci_image",
    "oci_index",
    "push_image",
    "push_image_raw",
    "registry_available",
    "schema2_image",
    "skopeo",
    "skopeo_available",
    "skopeo_inspect_digest",
    "start_registry",
    "with_windows",
]
