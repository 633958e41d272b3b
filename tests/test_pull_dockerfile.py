"""`portside pull --from-dockerfile`: which base images a Dockerfile names (pure parsing),
and one pull of them from a real registry."""

from __future__ import annotations

import json

import pytest

from drivers.errors import InvalidInput
from drivers.transfer.dockerfile import BaseImage, base_images, parse_build_args, substitute
from drivers.transfer.layout import REF_NAME
from drivers.transfer.platforms import host_platform
from tests.bed import oci_image, oci_index
from tests.cli import run_cli
from tests.transfer_helpers import index_entries, layout_digest, push


def _images(text: str, args: dict[str, str] | None = None, platform: str | None = None):
    return [(b.image, b.platform) for b in base_images(text, args or {}, platform, "Dockerfile")]


def test_args_stages_scratch_and_platform():
    text = """\
# syntax=docker/dockerfile:1
ARG REGISTRY=docker.io
ARG BASE=alpine
ARG TAG
FROM ${REGISTRY}/library/${BASE}:${TAG:-3.19} AS build
RUN echo FROM not-an-image
FROM --platform=$BUILDPLATFORM golang:1.22 as Tools
FROM build AS test
FROM tools
FROM scratch
COPY --from=build / /
FROM --platform=linux/arm64 $BASE
"""
    host = str(host_platform())
    assert _images(text) == [
        ("docker.io/library/alpine:3.19", None),
        ("golang:1.22", host),
        ("alpine", "linux/arm64"),
    ]
    assert _images(text, {"TAG": "3.20", "BASE": "debian"})[0] == (
        "docker.io/library/debian:3.20",
        None,
    )


def test_target_platform_follows_the_platform_option():
    text = "FROM --platform=$TARGETPLATFORM alpine\nFROM --platform=$TARGETOS/${TARGETARCH} bb\n"
    assert _images(text, platform="linux/arm64/v8") == [
        ("alpine", "linux/arm64/v8"),
        ("bb", "linux/arm64"),
    ]


def test_continuations_comments_heredocs_and_escape_directive():
    text = """\
# escape=`
ARG V=1
RUN <<EOF
FROM inside-a-heredoc
EOF
FROM `
  # a comment inside the continuation
  registry.example:5000/app:$V `
  AS base
RUN <<-'END' cat
\tFROM also-inside
\tEND
from base
"""
    assert _images(text) == [("registry.example:5000/app:1", None)]


def test_an_arg_after_the_first_from_does_not_change_later_from_lines():
    text = "ARG V=1\nFROM a:$V\nARG V=2\nFROM b:$V\n"
    assert _images(text) == [("a:1", None), ("b:1", None)]


def test_build_args_override_only_declared_args_and_read_the_environment(monkeypatch):
    monkeypatch.setenv("FROM_ENV", "3.18")
    args = parse_build_args(["TAG=2", "FROM_ENV", "UNSET_ANYWHERE"])
    assert args == {"TAG": "2", "FROM_ENV": "3.18"}
    text = (
        "ARG TAG=1\nARG FROM_ENV\n"
        "FROM alpine:$TAG\nFROM busybox:${FROM_ENV}\nFROM x:${UNDECLARED:-d}\n"
    )
    assert _images(text, {**args, "UNDECLARED": "z"}) == [
        ("alpine:2", None),
        ("busybox:3.18", None),
        ("x:d", None),
    ]


def test_substitution_forms():
    values = {"SET": "v", "EMPTY": ""}
    assert substitute("${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${NONE-d}", values) == "v d  d"
    assert substitute("${SET:+alt} ${EMPTY:+alt} ${NONE+alt} \\$SET $SET", values) == "alt   $SET v"
    with pytest.raises(InvalidInput, match="NONE is not set: needed"):
        substitute("${NONE:?needed}", values, "Dockerfile:3")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("RUN true\n", "has no FROM line"),
        ("", "has no FROM line"),
        ("ARG BASE\nFROM $BASE\n", "is empty once its variables are substituted"),
        ("FROM --platform=linux/amd64\n", "FROM names no image"),
        ("FROM Bad:Name\n", "Dockerfile:1"),
    ],
)
def test_bad_dockerfiles(text, message):
    with pytest.raises(InvalidInput, match=message):
        base_images(text, {}, None, "Dockerfile")


def test_base_image_value():
    assert base_images("FROM a\n", {}, None, "D") == [BaseImage("a", None, 1)]


def test_pull_from_dockerfile(capsys, docker_config, registry_plain, unique_repo, tmp_path):
    base = oci_image(f"{unique_repo}-base")
    tools = oci_index(f"{unique_repo}-tools")
    push(registry_plain, f"{unique_repo}/base", base, "1.0")
    push(registry_plain, f"{unique_repo}/tools", tools, "2.0")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        f"ARG REG={registry_plain.host}\nARG BASE_TAG=0.9\n"
        f"FROM $REG/{unique_repo}/base:$BASE_TAG AS build\n"
        f"FROM --platform=linux/arm64 ${{REG}}/{unique_repo}/tools:2.0\n"
        "FROM build\nFROM scratch\n"
    )
    dest = tmp_path / "layout"

    result = run_cli(
        capsys,
        "pull",
        "--from-dockerfile",
        str(dockerfile),
        "--build-arg",
        "BASE_TAG=1.0",
        "--dest",
        str(dest),
        "--json",
    )

    assert result.code == 0, result.err
    pulled = json.loads(result.out)
    assert [p["source"] for p in pulled] == [
        f"{registry_plain.host}/{unique_repo}/base:1.0",
        f"{registry_plain.host}/{unique_repo}/tools:2.0",
    ]
    assert pulled[1]["platform"] == "linux/arm64"
    assert layout_digest(dest, "1.0") == base.digest
    assert layout_digest(dest, "2.0") == tools.children[1].digest
    assert {e["annotations"][REF_NAME] for e in index_entries(dest)} == {"1.0", "2.0"}
