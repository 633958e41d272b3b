"""The `portside` command line. Each command parses its options and calls one library
function; rendering lives in `ci_env.output`, and errors become exit codes only here.

Every option has an environment twin, `PORTSIDE_<OPTION>`; the option wins.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from ci_env import __version__, output
from ci_env.errors import exit_code_for, format_error

app = typer.Typer(
    name="portside",
    help="Container-registry work for CI jobs, without a Docker daemon.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# -- options shared by the registry commands ------------------------------------------------

DockerConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--docker-config",
        envvar="PORTSIDE_DOCKER_CONFIG",
        help="Docker config directory (else $DOCKER_CONFIG, else ~/.docker).",
        show_default=False,
    ),
]
InsecureOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--insecure-registry",
        envvar="PORTSIDE_INSECURE_REGISTRY",
        help="Allow plain HTTP and unverified TLS for this host (repeatable). "
        "Loopback hosts are always allowed plain HTTP.",
        show_default=False,
    ),
]
ImplementationOpt = Annotated[
    str | None,
    typer.Option(
        "--repo-container-registry",
        envvar="PORTSIDE_REPO_CONTAINER_REGISTRY",
        help="Force the registry implementation (see `portside registries`).",
        show_default=False,
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", envvar="PORTSIDE_JSON", help="Machine-readable output.")
]


def _options(docker_config, insecure, implementation):
    from drivers.registries import RegistryOptions
    from drivers.registries import implementation as check_name
    from integrations.platform import registry_hints

    if implementation:
        check_name(implementation)  # an unknown name is bad input before any network I/O
    hosts = frozenset(h for value in insecure or [] for h in value.replace(",", " ").split())
    return RegistryOptions(
        docker_config=docker_config,
        insecure_registries=hosts,
        implementation=implementation,
        known_hosts=registry_hints(os.environ),
    )


# -- commands --------------------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        typer.echo(f"portside {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option("--debug", envvar="PORTSIDE_DEBUG", help="Tracebacks and HTTP debug logs."),
    ] = False,
) -> None:
    ctx.obj = {"debug": debug}
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s")


@app.command()
def tags(
    repository: Annotated[str, typer.Argument(help="Repository, e.g. registry:5000/group/app")],
    json_output: JsonOpt = False,
    docker_config: DockerConfigOpt = None,
    insecure_registry: InsecureOpt = None,
    repo_container_registry: ImplementationOpt = None,
) -> None:
    """List a repository's tags, sorted."""
    from drivers.operations import list_tags

    names = list_tags(
        repository, _options(docker_config, insecure_registry, repo_container_registry)
    )
    output.tags(names, as_json=json_output)


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

    info = inspect(image, _options(docker_config, insecure_registry, repo_container_registry))
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

    options = _options(docker_config, insecure_registry, repo_container_registry)
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
        typer.Option("--password-stdin", help="Read the password or token from stdin."),
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
    where = do_login(registry, username, password, _options(docker_config, insecure_registry, None))
    output.message(f"Login Succeeded: credentials stored in {where}")


@app.command()
def logout(
    registry: Annotated[str, typer.Argument(help="Registry host")] = "docker.io",
    docker_config: DockerConfigOpt = None,
) -> None:
    """Remove stored credentials for a registry."""
    from drivers.operations import logout as do_logout

    if do_logout(registry, _options(docker_config, None, None)):
        output.message(f"Removed login credentials for {registry}")
    else:
        output.message(f"Not logged in to {registry}")


# -- entry point -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map every error to its exit code (DESIGN.md "Exit codes")."""
    command = typer.main.get_command(app)
    debug = os.environ.get("PORTSIDE_DEBUG", "").lower() in ("1", "true", "yes")
    args = sys.argv[1:] if argv is None else argv
    debug = debug or "--debug" in args
    try:
        # Standalone mode lets click report its own usage errors (exit 2) and handle
        # --help and typer.Exit; everything portside raises comes through to us.
        command.main(args=args, prog_name="portside", standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if debug:
            import traceback

            traceback.print_exc()
        sys.stderr.write(format_error(exc))
        sys.exit(exit_code_for(exc))
    sys.exit(0)
