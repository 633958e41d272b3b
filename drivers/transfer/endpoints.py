"""The two ends of a copy: `oci:DIR[:TAG]` (an OCI image layout) or a registry reference
(optionally written `docker://REF`, as skopeo spells it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from drivers.errors import InvalidInput, NotFound
from drivers.manifest import Descriptor
from drivers.reference import Reference, parse_reference
from drivers.transfer.layout import REF_NAME, Layout


@dataclass(frozen=True)
class LayoutEndpoint:
    root: Path
    tag: str | None = None

    def __str__(self) -> str:
        return f"oci:{self.root}" + (f":{self.tag}" if self.tag else "")


Endpoint = Reference | LayoutEndpoint


def parse_endpoint(text: str) -> Endpoint:
    """`oci:DIR[:TAG]` (the first ':' after the directory starts the tag, as in skopeo),
    `docker://REF`, or a plain reference. A reference keeps no default tag here: the copy
    decides it from the other end."""
    text = text.strip()
    if text.startswith("oci:"):
        directory, _, tag = text[len("oci:") :].partition(":")
        if not directory:
            raise InvalidInput(f"{text!r} names no directory", hint="write oci:DIR[:TAG]")
        return LayoutEndpoint(Path(directory), tag or None)
    if text.startswith("docker://"):
        text = text[len("docker://") :]
    elif "://" in text or text.startswith(("oci-archive:", "docker-archive:", "dir:")):
        raise InvalidInput(
            f"cannot copy {text!r}: only registries and oci:DIR[:TAG] layouts are supported",
            hint="pull into an archive with `portside pull --format`",
        )
    return parse_reference(text, default_tag=None)


def find_entry(layout: Layout, endpoint: LayoutEndpoint) -> Descriptor:
    """The index.json entry `oci:DIR:TAG` names; without a tag, the only entry there is."""
    entries = layout.entries()
    tags = [e.annotations.get(REF_NAME) for e in entries]
    if endpoint.tag is None:
        if len(entries) == 1:
            return entries[0]
        raise InvalidInput(
            f"{endpoint} holds {len(entries)} images; name one",
            hint="write oci:DIR:TAG with one of: " + ", ".join(t for t in tags if t),
        )
    for entry, tag in zip(entries, tags, strict=True):
        if tag == endpoint.tag:
            return entry
    raise NotFound(
        f"{endpoint}: no image is tagged {endpoint.tag} in that layout",
        hint="it has: " + (", ".join(t for t in tags if t) or "no tagged images"),
    )
