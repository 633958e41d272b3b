"""Rendering of command results: plain text for people, JSON for machines."""

from __future__ import annotations

import json
import sys
from typing import Any


def _json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, sort_keys=False) + "\n")


def message(text: str) -> None:
    sys.stdout.write(text + "\n")


def tags(names: list[str], *, as_json: bool) -> None:
    if as_json:
        _json(names)
    else:
        sys.stdout.write("".join(f"{n}\n" for n in names))


def human_size(size: int) -> str:
    """1536 -> '1.5 KiB': sizes for people (every command shows them the same way)."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def image(info: Any, *, as_json: bool) -> None:
    if as_json:
        _json(info.to_json())
        return
    rows = [
        ("Name", info.reference),
        ("Digest", info.digest),
        ("MediaType", info.media_type),
        ("Platforms", ", ".join(info.platforms) or "-"),
        ("Size", f"{human_size(info.size)} ({info.size} bytes)"),
        ("Created", info.created or "-"),
    ]
    _rows(rows)
    if info.is_index:
        message("Manifests:")
        for child in info.images:
            message(f"  {child.platform or '-':<16} {child.digest}  {human_size(child.size)}")


def _rows(rows: list[tuple[str, str]]) -> None:
    width = max(len(k) for k, _ in rows) + 1
    for key, value in rows:
        message(f"{key + ':':<{width}} {value}")


def implementations(table: list[dict[str, Any]], *, as_json: bool) -> None:
    if as_json:
        _json(table)
        return
    message(f"{'NAME':<12} {'STATUS':<22} DETECTED FROM")
    for row in table:
        message(f"{row['name']:<12} {row['status']:<22} {row['detected_from']}")
    message("")
    message("Tag deletion:")
    for row in table:
        message(f"  {row['name']:<12} {row['deletes_by']}")
    message("")
    message("Credential options (each with its env twin):")
    for row in table:
        for option in row["credential_options"]:
            message(f"  {row['name']:<12} {option['flag']:<28} ${option['env']}")


def detection(result: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        _json(result)
        return
    message(f"{result['host']}: {result['name']} ({result['reason']})")
    message(f"status: {result['status']}")
