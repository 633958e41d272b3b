"""Transfer commands: pull (into an OCI layout or an archive) and copy.

Only typer is imported at module level: `portside pull` pays for what it uses, and
`drivers.transfer` is loaded when the command runs.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ci_env.app import app
from ci_env.options import DockerConfigOpt, InsecureOpt, JsonOpt, registry_options

PlatformOpt = Annotated[
    str | None,
    typer.Option(
        "--platform",
        envvar="PORTSIDE_PLATFORM",
        help="os/arch or os/arch/variant to take out of a multi-platform image "
        "(default: this host's), or `all` to keep the whole index.",
        show_default=False,
    ),
]
JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        envvar="PORTSIDE_JOBS",
        min=1,
        max=64,
        help="Blobs transferred in parallel (default: 2 per CPU, between 4 and 8).",
        show_default=False,
    ),
]
QuietOpt = Annotated[
    bool,
    typer.Option("--quiet", "-q", envvar="PORTSIDE_QUIET", help="No progress, no summary."),
]


@app.command()
def pull(
    images: Annotated[
        list[str] | None,
        typer.Argument(help="Images: name, name:tag or name@digest", show_default=False),
    ] = None,
    dest: Annotated[
        str,
        typer.Option(
            "--dest",
            envvar="PORTSIDE_DEST",
            help="OCI layout directory, or archive file for the archive formats.",
        ),
    ] = ...,  # type: ignore[assignment]
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            envvar="PORTSIDE_FORMAT",
            help="oci (a layout directory), oci-archive or docker-archive (a tar file).",
        ),
    ] = "oci",
    platform: PlatformOpt = None,
    from_dockerfile: Annotated[
        str | None,
        typer.Option(
            "--from-dockerfile",
            envvar="PORTSIDE_FROM_DOCKERFILE",
            help="Also pull every base image this Dockerfile's FROM lines name.",
            show_default=False,
        ),
    ] = None,
    build_arg: Annotated[
        list[str] | None,
        typer.Option(
            "--build-arg",
            envvar="PORTSIDE_BUILD_ARG",
            help="NAME=VALUE for an ARG the FROM lines use (repeatable).",
            show_default=False,
        ),
    ] = None,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    json_output: JsonOpt = False,
    docker_config: DockerConfigOpt = None,
    insecure_registry: InsecureOpt = None,
) -> None:
    """Pull images into an OCI image layout (or an oci-archive / docker-archive)."""
    from ci_env import progress
    from drivers.transfer.pull import pull as do_pull

    progress.run_transfer(
        lambda report: do_pull(
            images or [],
            dest,
            options=registry_options(docker_config, insecure_registry, None),
            fmt=fmt,
            platform=platform,
            dockerfile=from_dockerfile,
            build_args=build_arg or [],
            jobs=jobs,
            progress=report,
        ),
        quiet=quiet,
        as_json=json_output,
        verb="pulled",
    )


@app.command()
def copy(
    source: Annotated[str, typer.Argument(help="Registry reference, oci:DIR or oci:DIR:TAG")],
    destination: Annotated[str, typer.Argument(help="Registry reference, oci:DIR or oci:DIR:TAG")],
    platform: PlatformOpt = None,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    json_output: JsonOpt = False,
    docker_config: DockerConfigOpt = None,
    insecure_registry: InsecureOpt = None,
) -> None:
    """Copy an image between registries and OCI layouts, keeping its digest."""
    from ci_env import progress
    from drivers.transfer.copy import copy as do_copy

    progress.run_transfer(
        lambda report: [
            do_copy(
                source,
                destination,
                options=registry_options(docker_config, insecure_registry, None),
                platform=platform,
                jobs=jobs,
                progress=report,
            )
        ],
        quiet=quiet,
        as_json=json_output,
        verb="copied",
    )
