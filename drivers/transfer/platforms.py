"""Which platform to take out of an index.

`pull` takes the host's by default, as `docker pull` does; `copy` keeps the whole index, as
`crane copy` and `regctl image copy` do, so a promoted image keeps its digest (callers pass
`ALL` as their default). `--platform os/arch[/variant]` picks one image; `--platform all`
keeps the index and every child. An image for another platform is an error that lists what
the index has.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass

from drivers.errors import NotFound
from drivers.manifest import Descriptor, Manifest, Platform

ALL = "all"

# `uname -m` to the OCI (GOARCH) architecture and variant.
_MACHINES = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", ""),
    "arm64": ("arm64", ""),
    "armv8l": ("arm", "v8"),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "armv5tel": ("arm", "v5"),
    "i386": ("386", ""),
    "i686": ("386", ""),
    "ppc64le": ("ppc64le", ""),
    "s390x": ("s390x", ""),
    "riscv64": ("riscv64", ""),
    "loongarch64": ("loong64", ""),
}


def host_platform() -> Platform:
    """The platform `docker pull` would choose here. Docker on macOS and Windows runs Linux
    containers in a VM, so the OS is linux unless this is Windows itself."""
    machine = os.uname().machine.lower() if hasattr(os, "uname") else "amd64"
    architecture, variant = _MACHINES.get(machine, (machine, ""))
    return Platform("windows" if sys.platform == "win32" else "linux", architecture, variant)


@dataclass(frozen=True)
class PlatformChoice:
    """One platform, or every platform (`platform is None`). `explicit` is False for the
    host default, which a single-platform image is accepted for whatever its platform."""

    platform: Platform | None
    explicit: bool = True

    @property
    def every(self) -> bool:
        return self.platform is None

    @classmethod
    def parse(cls, text: str | None) -> PlatformChoice:
        if text is None or not text.strip():
            return cls(host_platform(), explicit=False)
        if text.strip().lower() == ALL:
            return cls(None)
        return cls(Platform.parse(text))

    def __str__(self) -> str:
        return ALL if self.platform is None else str(self.platform)


def _variant(platform: Platform) -> str:
    # arm64 images usually omit the variant, which then means v8.
    if platform.architecture == "arm64" and platform.variant in ("", "v8"):
        return "v8"
    return platform.variant


def matches(candidate: Platform, wanted: Platform) -> bool:
    if (candidate.os, candidate.architecture) != (wanted.os, wanted.architecture):
        return False
    return not wanted.variant or _variant(candidate) == _variant(wanted)


def available(index: Manifest) -> list[str]:
    """The platforms an index offers, in its order, without attestation entries."""
    seen: list[str] = []
    for child in index.children:
        if child.platform is not None and child.platform.os != "unknown":
            text = str(child.platform)
            if text not in seen:
                seen.append(text)
    return seen


def select(index: Manifest, wanted: Platform, what: str) -> Descriptor:
    """The child of `index` for `wanted`; one without a variant wins when none is asked for."""
    found = [
        child
        for child in index.children
        if child.platform is not None and matches(child.platform, wanted)
    ]
    if not found:
        raise NotFound(
            f"{what} has no image for platform {wanted}; it has "
            + (", ".join(available(index)) or "no platform-specific images"),
            hint="pass --platform with one of those, or --platform all to keep the whole index",
        )
    exact = [c for c in found if c.platform is not None and c.platform.variant == wanted.variant]
    return (exact or found)[0]


def config_platform(config: bytes) -> Platform | None:
    """The platform an image config declares (`os`, `architecture`, `variant`)."""
    try:
        doc = json.loads(config)
    except (ValueError, UnicodeDecodeError):
        return None
    return Platform.from_json(doc)


def check_image(config: bytes, choice: PlatformChoice, what: str) -> None:
    """An explicitly chosen platform must match a single-platform image's config."""
    if choice.platform is None or not choice.explicit:
        return
    found = config_platform(config)
    if found is not None and not matches(found, choice.platform):
        raise NotFound(
            f"{what} has no image for platform {choice.platform}; it has {found}",
            hint=f"pass --platform {found}, or leave --platform out",
        )
