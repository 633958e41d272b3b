"""Run the test bed by hand or from `make demo`.

    python -m tests.bed serve --auth token|htpasswd|none [--port N] [--workdir DIR]
    python -m tests.bed seed REGISTRY/REPOSITORY
    python -m tests.bed ghcr [--workdir DIR] [--owner NAME] [--registry URL --user U]

`ghcr` serves the fake GitHub Packages API (tests/github_support.py) in front of a
docker-registry: the one at `--registry` (the demo's token-auth one; the password for
`--user` comes on stdin, for the fake's own DELETEs), else a plain one of its own. The fake
refuses client DELETE as ghcr.io does; it prints host, url, token (the GITHUB_TOKEN it
accepts, with every packages scope) and ready=1.

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
    ghcr.add_argument("--registry", default=None, help="a running registry's URL")
    ghcr.add_argument("--user", default=None, help="its user (password on stdin)")
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
    from contextlib import nullcontext

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    workdir: Path = (args.workdir or Path(tempfile.mkdtemp(prefix="portside-ghcr-"))).resolve()
    auth = (args.user, sys.stdin.read().strip()) if args.user else None
    given = nullcontext(None) if args.registry else start_registry(workdir / "registry")
    with given as registry:
        url = args.registry or registry.url
        alive = (lambda: True) if registry is None else (lambda: registry.process.poll() is None)
        code = _serve_ghcr(url, auth, args.owner or ["demo"], stop, alive, secrets.token_hex(12))
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return code


def _serve_ghcr(url, auth, owners, stop, alive, secret) -> int:
    from tests.github_support import FULL_SCOPES, FakeGhcr
    from tests.github_support import serve as serve_fake

    token = f"ghp_demo{secret}"
    kinds = {owner: "Organization" for owner in owners}
    fake = FakeGhcr(url, {token: FULL_SCOPES}, kinds, page_size=100, registry_auth=auth)
    with serve_fake(fake):
        host = fake.url.removeprefix("http://")
        for key, value in {"host": host, "url": fake.url, "token": token}.items():
            print(f"{key}={shlex.quote(value)}")
        print("ready=1")
        sys.stdout.flush()
        while not stop.wait(0.5):
            if not alive():
                return 1
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
