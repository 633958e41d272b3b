"""Registry commands: tags, inspect, registries, login, logout."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ci_env import output
from ci_env.app import app
from ci_env.commands.shared import (
    DockerConfigOpt,
    ImplementationOpt,
    InsecureOpt,
    JsonOpt,
    with_credential_options,
)
from ci_env.options import registry_options


def tags(
    repository: Annotated[str, typer.Argument(help="Repository, e.g. registry:5000/group/app")],
    json_output: JsonOpt = False,
    docker_config: DockerConfigOpt = None,
    insecure_registry: InsecureOpt = None,
    repo_container_registry: ImplementationOpt = None,
    credentials: dict[str, str] | None = None,
) -> None:
    """List a repository's tags, sorted."""
    from drivers.operations import list_tags

    options = registry_options(
        docker_config, insecure_registry, repo_container_registry, credentials
    )
    output.tags(list_tags(repository, options), as_json=json_output)


# Tags are listed by the driver, which may list through the registry's own API (Harbor,
# Quay, Docker Hub) with the native credentials: the command has the specs' options too.
app.command("tags")(with_credential_options(tags))


@app.command()
def inspect(
    image: Annotated[str, typer.Argument(help="Image reference: name[:tag][@digest]")],
    json_output: JsonOpt = False,
    docker_config: DockerConfigOpt = None,
    insecure_registry: InsecureOpt = None,
    repo_container_registry: ImplementationOpt = None,
) -> None:
    """Show an image's digest, media type, platforms, total size and creation time."""
    from drivers.operations import inspect

    info = inspect(
        image, registry_options(docker_config, insecure_registry, repo_container_registry)
    )
    output.image(info, as_json=json_output)


@app.command()
def registries(
    json_output: JsonOpt = False,
    detect: Annotated[
        str | None,
        typer.Option(
            "--detect",
            envvar="PORTSIDE_DETECT",
            help="Say which implementation HOST is, and why (pings it).",
            show_default=False,
        ),
    ] = None,
    docker_config: DockerConfigOpt = None,
    insecure_registry: InsecureOpt = None,
    repo_container_registry: ImplementationOpt = None,
) -> None:
    """List the supported registry implementations, or detect one host's."""
    from drivers import operations

    options = registry_options(docker_config, insecure_registry, repo_container_registry)
    if detect:
        output.detection(operations.detect_host(detect, options), as_json=json_output)
    else:
        output.implementations(operations.implementations(), as_json=json_output)


@app.command()
def login(
    registry: Annotated[str, typer.Argument(help="Registry host, e.g. ghcr.io")] = "docker.io",
    username: Annotated[
        str,
        typer.Option("-u", "--username", envvar="PORTSIDE_USERNAME", help="User name."),
    ] = "",
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            envvar="PORTSIDE_PASSWORD_STDIN",
            help="Read the password or token from stdin.",
        ),
    ] = False,
    docker_config: DockerConfigOpt = None,
    insecure_registry: InsecureOpt = None,
) -> None:
    """Check credentials against a registry, then store them as `docker login` does."""
    from drivers.errors import InvalidInput
    from drivers.operations import login as do_login

    if not username:
        raise InvalidInput("login needs a user name", hint="pass -u USER (or PORTSIDE_USERNAME)")
    if not password_stdin:
        raise InvalidInput(
            "login reads the password from stdin only",
            hint='pipe it in: echo "$TOKEN" | portside login REGISTRY -u USER --password-stdin',
        )
    password = sys.stdin.read().rstrip("\r\n")
    if not password:
        raise InvalidInput("no password on stdin", hint="pipe the password or token into stdin")
    where = do_login(
        registry, username, password, registry_options(docker_config, insecure_registry, None)
    )
    output.message(f"Login Succeeded: credentials stored in {where}")


@app.command()
def logout(
    registry: Annotated[str, typer.Argument(help="Registry host")] = "docker.io",
    docker_config: DockerConfigOpt = None,
) -> None:
    """Remove stored credentials for a registry."""
    from drivers.operations import logout as do_logout

    if do_logout(registry, registry_options(docker_config, None, None)):
        output.message(f"Removed login credentials for {registry}")
    else:
        output.message(f"Not logged in to {registry}")
