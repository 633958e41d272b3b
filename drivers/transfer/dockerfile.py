"""The base images a Dockerfile names in its FROM lines, so a build can run offline.

Follows the Dockerfile reference where it matters for FROM: parser directives (`escape`),
line continuations, comments, heredocs (skipped), global `ARG`s before the first FROM with
`--build-arg` overrides, the automatic platform args (`TARGETPLATFORM`, `BUILDPLATFORM`, …),
`${var:-default}`-style substitution, `FROM --platform=…`, stage names (`AS name`, case
insensitive) and `scratch`.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from drivers.errors import InvalidInput, InvalidReference
from drivers.manifest import Platform
from drivers.reference import parse_reference
from drivers.transfer.platforms import ALL, host_platform

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"<<(-?)\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_VARIABLE = re.compile(
    r"\\\$|\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-+?])(?P<word>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass(frozen=True)
class BaseImage:
    """An image a FROM line names, with the platform the line asks for (if any)."""

    image: str
    platform: str | None
    line: int


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, instruction text) with continuations joined, comments dropped."""
    escape = "\\"
    lines = text.splitlines()
    index, in_directives = 0, True
    while index < len(lines):
        number, line = index + 1, lines[index]
        index += 1
        if in_directives:
            match = _DIRECTIVE.match(line.strip())
            if match:
                if match.group(1).lower() == "escape" and match.group(2) in ("\\", "`"):
                    escape = match.group(2)
                continue
            in_directives = False
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = []
        while line.rstrip().endswith(escape) and index < len(lines):
            parts.append(line.rstrip()[:-1])
            line = lines[index]
            index += 1
            while index < len(lines) and (not line.strip() or line.lstrip().startswith("#")):
                line = lines[index]
                index += 1
        parts.append(line)
        logical = " ".join(p.strip() for p in parts)
        yield number, logical
        index = _skip_heredocs(logical, lines, index)


def _skip_heredocs(logical: str, lines: list[str], index: int) -> int:
    keyword = logical.split(None, 1)[0].upper() if logical.split() else ""
    if keyword in ("FROM", "ARG"):
        return index
    for strip_tabs, _, word in _HEREDOC.findall(logical):
        while index < len(lines):
            body = lines[index].lstrip("\t") if strip_tabs else lines[index]
            index += 1
            if body == word:
                break
    return index


def substitute(text: str, variables: Mapping[str, str], where: str = "") -> str:
    """Expand `$name`, `${name}`, `${name:-word}`, `${name:+word}`, `${name:?message}`."""

    def expand(match: re.Match[str]) -> str:
        if match.group(0) == "\\$":
            return "$"
        name = match.group("braced") or match.group("bare")
        value = variables.get(name)
        op, word = match.group("op"), match.group("word") or ""
        if op is None:
            return value or ""
        unset = value is None or (op.startswith(":") and value == "")
        if op.endswith("-"):
            return substitute(word, variables, where) if unset else value or ""
        if op.endswith("+"):
            return "" if unset else substitute(word, variables, where)
        if unset:
            raise InvalidInput(f"{where}: {name} is not set: {word or 'required'}")
        return value or ""

    return _VARIABLE.sub(expand, text)


def _platform_args(target: Platform, build: Platform) -> dict[str, str]:
    args = {}
    for prefix, platform in (("TARGET", target), ("BUILD", build)):
        args[f"{prefix}PLATFORM"] = str(platform)
        args[f"{prefix}OS"] = platform.os
        args[f"{prefix}ARCH"] = platform.architecture
        args[f"{prefix}VARIANT"] = platform.variant
    return args


def parse_build_args(values: Sequence[str]) -> dict[str, str]:
    """`K=V` pairs; a bare `K` takes its value from the environment, as `docker build` does."""
    args = {}
    for value in values:
        name, equals, text = value.partition("=")
        if not name.strip():
            raise InvalidInput(f"--build-arg {value!r} has no name", hint="write NAME=VALUE")
        if equals:
            args[name.strip()] = text
        elif name.strip() in os.environ:
            args[name.strip()] = os.environ[name.strip()]
    return args


def base_images(
    text: str, build_args: Mapping[str, str], platform: str | None, source: str
) -> list[BaseImage]:
    """Every pullable image the FROM lines name, in order, each once."""
    host = host_platform()
    target = host if not platform or platform.strip().lower() == ALL else Platform.parse(platform)
    variables = {**_platform_args(target, host)}
    stages: set[str] = set()
    found: list[BaseImage] = []
    seen_from = False
    for number, line in _logical_lines(text):
        keyword, _, rest = line.partition(" ")
        keyword, where = keyword.upper(), f"{source}:{number}"
        if keyword == "ARG" and not seen_from:
            for item in _split(rest, where):
                name, equals, default = item.partition("=")
                if name in build_args:
                    variables[name] = build_args[name]
                elif equals:
                    variables[name] = substitute(default, variables, where)
                else:
                    variables.setdefault(name, "")
        elif keyword == "FROM":
            seen_from = True
            image = _from_line(rest, variables, stages, where, number)
            if image is not None and all(
                (image.image, image.platform) != (f.image, f.platform) for f in found
            ):
                found.append(image)
    if not seen_from:
        raise InvalidInput(
            f"{source} has no FROM line", hint="a Dockerfile needs FROM IMAGE to name its base"
        )
    return found


def _split(rest: str, where: str) -> list[str]:
    try:
        return shlex.split(rest, posix=True)
    except ValueError as exc:
        raise InvalidInput(f"{where}: cannot parse {rest!r}: {exc}") from None


def _from_line(
    rest: str, variables: Mapping[str, str], stages: set[str], where: str, number: int
) -> BaseImage | None:
    words = _split(rest, where)
    platform = None
    while words and words[0].startswith("--"):
        flag = words.pop(0)
        name, equals, value = flag[2:].partition("=")
        if not equals and words:
            value = words.pop(0)
        if name.lower() == "platform":
            platform = substitute(value, variables, where) or None
    if not words:
        raise InvalidInput(f"{where}: FROM names no image", hint="write FROM IMAGE [AS NAME]")
    image = substitute(words[0], variables, where).strip()
    earlier_stage = image.lower() in stages
    if len(words) >= 3 and words[1].lower() == "as":
        stages.add(words[2].lower())
    if not image:
        raise InvalidInput(
            f"{where}: FROM {words[0]} is empty once its variables are substituted",
            hint="set the ARG before the first FROM, or pass --build-arg NAME=VALUE",
        )
    if image.lower() == "scratch" or earlier_stage:
        return None
    try:
        parse_reference(image)
    except InvalidReference as exc:
        raise InvalidInput(f"{where}: {exc.message}", hint=exc.hint) from None
    return BaseImage(image, platform, number)


def from_dockerfile(
    path: str, build_args: Sequence[str], platform: str | None = None
) -> list[BaseImage]:
    """Read a Dockerfile and list its base images; a missing file is bad input."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InvalidInput(
            f"cannot read Dockerfile {path}: {exc.strerror or exc}",
            hint="pass the path of an existing Dockerfile to --from-dockerfile",
        ) from None
    return base_images(text, parse_build_args(build_args), platform, path)
