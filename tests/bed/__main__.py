"""Run the test bed by hand or from `make demo`.

    python -m tests.bed serve --auth token|htpasswd|none [--port N] [--workdir DIR]
    python -m tests.bed seed REGISTRY/REPOSITORY
    python -m tests.bed ghcr [--workdir DIR] [--owner NAME]

`ghcr` serves the fake GitHub Packages API (tests/github_support.py) in front of its own
plain docker-registry, which refuses client DELETE as ghcr.io does; it prints host, url,
token (the GITHUB_TOKEN it accepts, with every packages scope) and ready=1.

Prints `KEY=VALUE` lines (host, url, auth, user, password, realm, pid_file, then ready=1) on
stdout, writes a pid file and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path

from . import CANARY_PASSWORD, CANARY_USER
from .registry import registry_available, start_registry
from .tokenserver import TokenServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.bed")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start a registry and serve until SIGTERM/SIGINT")
    serve.add_argument("--auth", choices=["none", "htpasswd", "token"], default="none")
    serve.add_argument("--port", type=int, default=None, help="registry port (default: free)")
    serve.add_argument("--workdir", type=Path, default=None, help="default: a temporary dir")
    serve.add_argument("--pid-file", type=Path, default=None, help="default: WORKDIR/bed.pid")
    serve.add_argument("--no-delete", action="store_true", help="storage.delete.enabled: false")
    ghcr = commands.add_parser("ghcr", help="the fake GitHub Packages API, until SIGTERM")
    ghcr.add_argument("--workdir", type=Path, default=None, help="default: a temporary dir")
    ghcr.add_argument("--owner", action="append", default=None, help="an organisation")
    seed = commands.add_parser(
        "seed", help="push test images (credentials from the Docker config, as portside reads it)"
    )
    seed.add_argument("repository", help="e.g. 127.0.0.1:5000/demo/app")
    return parser


def seed(args: argparse.Namespace) -> int:
    """Push a schema2 image, an OCI image and a two-platform index, tagged by kind."""
    from drivers.reference import parse_repository
    from drivers.registries import RegistryOptions, client_for

    from .images import oci_image, oci_index, push_image, schema2_image

    repository = parse_repository(args.repository)
    client = client_for(repository.registry, RegistryOptions())
    images = {
        "1.0.0": schema2_image("demo-schema2"),
        "1.1.0": oci_image("demo-oci"),
        "latest": oci_index("demo-index", ["linux/amd64", "linux/arm64"]),
    }
    for tag, image in images.items():
        digest = push_image(client, repository.path, image, tag)
        print(f"pushed {repository}:{tag} {digest}")
    return 0


def serve(args: argparse.Namespace) -> int:
    if not registry_available():
        print("docker-registry is not installed; `make system-deps` installs it", file=sys.stderr)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    temporary = args.workdir is None
    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="portside-bed-"))
    workdir = workdir.resolve()
    pid_file: Path = (args.pid_file or workdir / "bed.pid").resolve()
    users = {CANARY_USER: CANARY_PASSWORD} if args.auth != "none" else {}
    token_server = TokenServer(users).start() if args.auth == "token" else None
    try:
        registry = start_registry(
            workdir,
            auth=args.auth,
            delete_enabled=not args.no_delete,
            users=users or None,
            token_server=token_server,
            port=args.port,
        )
    except RuntimeError as error:
        if token_server is not None:
            token_server.stop()
        print(error, file=sys.stderr)
        return 1
    try:
        pid_file.write_text(f"{os.getpid()}\n")
        lines = {
            "host": registry.host,
            "url": registry.url,
            "auth": args.auth,
            "user": CANARY_USER if users else "",
            "password": CANARY_PASSWORD if users else "",
            "realm": token_server.realm if token_server else "",
            "workdir": str(workdir),
            "pid_file": str(pid_file),
            "ready": "1",
        }
        for key, value in lines.items():
            print(f"{key}={shlex.quote(value)}")
        sys.stdout.flush()
        while not stop.wait(0.5):
            if registry.process.poll() is not None:
                print(f"docker-registry exited:\n{registry.log_tail()}", file=sys.stderr)
                return 1
        return 0
    finally:
        registry.stop()
        if token_server is not None:
            token_server.stop()
        pid_file.unlink(missing_ok=True)
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)


def ghcr(args: argparse.Namespace) -> int:
    import secrets

    from tests.github_support import FULL_SCOPES, FakeGhcr
    from tests.github_support import serve as serve_fake

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    workdir: Path = (args.workdir or Path(tempfile.mkdtemp(prefix="portside-ghcr-"))).resolve()
    token = f"ghp_demo{secrets.token_hex(12)}"
    with start_registry(workdir / "registry") as registry:
        owners = {owner: "Organization" for owner in args.owner or ["demo"]}
        fake = FakeGhcr(registry.url, {token: FULL_SCOPES}, owners, page_size=100)
        with serve_fake(fake):
            host = fake.url.removeprefix("http://")
            for key, value in {"host": host, "url": fake.url, "token": token}.items():
                print(f"{key}={shlex.quote(value)}")
            print("ready=1")
            sys.stdout.flush()
            while not stop.wait(0.5):
                if registry.process.poll() is not None:
                    return 1
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "ghcr":
        return ghcr(args)
    if args.command == "serve":
        return serve(args)
    if args.command == "seed":
        return seed(args)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
