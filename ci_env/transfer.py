"""`portside pull` and `portside copy` as the CLI sees them: their tables, what they parse
into, and the body of each, which the typer commands generated from the tables
(`ci_env.commands.transfer`) run.

The drivers and the progress renderer are imported when a command runs; rich only when a bar
is drawn (`ci_env.progress`).
"""

from __future__ import annotations

from typing import NamedTuple

from ci_env.options import DOCKER_CONFIG, INSECURE_REGISTRY, JSON, registry_options
from ci_env.table import CommandSpec, OptionSpec, argument


class PullArgs(NamedTuple):
    dest: str
    images: tuple[str, ...] = ()
    fmt: str = "oci"
    platform: str | None = None
    from_dockerfile: str | None = None
    build_arg: tuple[str, ...] = ()
    jobs: int | None = None
    quiet: bool = False
    json_output: bool = False
    docker_config: str | None = None
    insecure_registry: tuple[str, ...] = ()


class CopyArgs(NamedTuple):
    source: str
    destination: str
    platform: str | None = None
    jobs: int | None = None
    quiet: bool = False
    json_output: bool = False
    docker_config: str | None = None
    insecure_registry: tuple[str, ...] = ()


def pull(args: PullArgs) -> None:
    from ci_env import progress
    from drivers.transfer.pull import pull as do_pull

    progress.run_transfer(
        lambda report: do_pull(
            list(args.images),
            args.dest,
            options=registry_options(args.docker_config, args.insecure_registry, None),
            fmt=args.fmt,
            platform=args.platform,
            dockerfile=args.from_dockerfile,
            build_args=list(args.build_arg),
            jobs=args.jobs,
            progress=report,
        ),
        quiet=args.quiet,
        as_json=args.json_output,
        verb="pulled",
    )


def copy(args: CopyArgs) -> None:
    from ci_env import progress
    from drivers.transfer.copy import copy as do_copy

    progress.run_transfer(
        lambda report: [
            do_copy(
                args.source,
                args.destination,
                options=registry_options(args.docker_config, args.insecure_registry, None),
                platform=args.platform,
                jobs=args.jobs,
                progress=report,
            )
        ],
        quiet=args.quiet,
        as_json=args.json_output,
        verb="copied",
    )


PLATFORM = OptionSpec(
    "platform",
    ("--platform",),
    "PORTSIDE_PLATFORM",
    "os/arch or os/arch/variant to take out of a multi-platform image "
    "(default: this host's, as docker pull does), or `all` to keep the whole index.",
)
# copy keeps a multi-platform image whole unless told otherwise, as crane and regctl do: a
# promotion that dropped platforms would change the digest that was tested and signed.
# Its own env twin: a job that sets PORTSIDE_PLATFORM for its pulls must not silently make its
# promotions drop platforms.
COPY_PLATFORM = OptionSpec(
    "platform",
    ("--platform",),
    "PORTSIDE_COPY_PLATFORM",
    "Copy only this os/arch or os/arch/variant out of a multi-platform image. Default: the "
    "whole index (every platform, attestations too), digest unchanged; `all` says so.",
)
JOBS = OptionSpec(
    "jobs",
    ("--jobs", "-j"),
    "PORTSIDE_JOBS",
    "Blobs transferred in parallel (default: 2 per CPU, between 4 and 8).",
    kind="int",
    bounds=(1, 64),
)
QUIET = OptionSpec(
    "quiet", ("--quiet", "-q"), "PORTSIDE_QUIET", "No progress, no summary.", kind="flag"
)
REFERENCE_HELP = "Registry reference, oci:DIR or oci:DIR:TAG"

PULL = CommandSpec(
    name="pull",
    doc="Pull images into an OCI image layout (or an oci-archive / docker-archive).",
    arguments=(
        argument("images", "Images: name, name:tag or name@digest", required=False, many=True),
    ),
    options=(
        OptionSpec(
            "dest",
            ("--dest",),
            "PORTSIDE_DEST",
            "OCI layout directory, or archive file for the archive formats.",
            required=True,
        ),
        OptionSpec(
            "fmt",
            ("--format",),
            "PORTSIDE_FORMAT",
            "oci (a layout directory), oci-archive or docker-archive (a tar file).",
        ),
        PLATFORM,
        OptionSpec(
            "from_dockerfile",
            ("--from-dockerfile",),
            "PORTSIDE_FROM_DOCKERFILE",
            "Also pull every base image this Dockerfile's FROM lines name.",
        ),
        OptionSpec(
            "build_arg",
            ("--build-arg",),
            "PORTSIDE_BUILD_ARG",
            "NAME=VALUE for an ARG the FROM lines use (repeatable).",
            kind="values",
        ),
        JOBS,
        QUIET,
        JSON,
        DOCKER_CONFIG,
        INSECURE_REGISTRY,
    ),
    args=PullArgs,
    run=pull,
)

COPY = CommandSpec(
    name="copy",
    doc="Copy an image between registries and OCI layouts, keeping its digest "
    "(a multi-platform image whole, unless --platform picks one).",
    arguments=(
        argument("source", REFERENCE_HELP),
        argument("destination", REFERENCE_HELP),
    ),
    options=(COPY_PLATFORM, JOBS, QUIET, JSON, DOCKER_CONFIG, INSECURE_REGISTRY),
    args=CopyArgs,
    run=copy,
)
