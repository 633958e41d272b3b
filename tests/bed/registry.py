"""Real `docker-registry` (distribution 2.8) processes for the test bed.

Each registry gets its own config, storage and log under a work directory, and listens on
127.0.0.1 on a free port. Quirks of 2.8 the tests rely on are listed in DESIGN.md ("Test bed").
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import bcrypt
import requests
import yaml

from .tokenserver import TokenServer

RegistryAuth = Literal["none", "htpasswd", "token"]

BINARY = "docker-registry"
START_TIMEOUT = 10.0
_running: set[RunningRegistry] = set()


def registry_available() -> bool:
    return shutil.which(BINARY) is not None


def free_port() -> int:
    """A port that was free a moment ago; the registry start retries if it is taken since."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(eq=False)
class RunningRegistry:
    host: str
    url: str
    auth: RegistryAuth
    users: dict[str, str]
    delete_enabled: bool
    workdir: Path
    token_server: TokenServer | None
    config_path: Path
    log_path: Path
    process: subprocess.Popen[bytes] = field(repr=False)
    owns_token_server: bool = field(default=False, repr=False)

    @property
    def port(self) -> int:
        return int(self.host.rsplit(":", 1)[1])

    def log_tail(self, lines: int = 30) -> str:
        return _tail(self.log_path, lines)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.owns_token_server and self.token_server is not None:
            self.token_server.stop()
        _running.discard(self)

    def __enter__(self) -> RunningRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_registry(
    workdir: Path,
    *,
    auth: RegistryAuth = "none",
    delete_enabled: bool = True,
    users: dict[str, str] | None = None,
    token_server: TokenServer | None = None,
    port: int | None = None,
) -> RunningRegistry:
    """Start `docker-registry serve` and wait until `/v2/` answers.

    For `auth="token"` without a `token_server`, one is started for `users` and stopped with
    the registry. A given token server is started if needed but left running on stop.
    """
    if not registry_available():
        raise RuntimeError(f"{BINARY} is not installed (make system-deps installs it)")
    from . import CANARY_PASSWORD, CANARY_USER

    workdir.mkdir(parents=True, exist_ok=True)
    owns_token_server = False
    if auth == "token":
        if token_server is None:
            token_server = TokenServer(users or {CANARY_USER: CANARY_PASSWORD})
            owns_token_server = True
        token_server.start()
        users = token_server.users
    elif auth == "htpasswd":
        users = dict(users or {CANARY_USER: CANARY_PASSWORD})
    else:
        users, token_server = {}, None

    attempts = 1 if port is not None else 3
    last_error: RuntimeError | None = None
    for _ in range(attempts):
        chosen = port if port is not None else free_port()
        config = _config(workdir, chosen, auth, delete_enabled, users, token_server)
        config_path = workdir / "config.yml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        log_path = workdir / "registry.log"
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                [BINARY, "serve", str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        registry = RunningRegistry(
            host=f"127.0.0.1:{chosen}",
            url=f"http://127.0.0.1:{chosen}",
            auth=auth,
            users=dict(users),
            delete_enabled=delete_enabled,
            workdir=workdir,
            token_server=token_server,
            config_path=config_path,
            log_path=log_path,
            process=process,
            owns_token_server=owns_token_server,
        )
        _running.add(registry)
        try:
            _wait_ready(registry)
            return registry
        except RuntimeError as error:
            last_error = error
            registry.owns_token_server = False
            registry.stop()
            if "address already in use" not in registry.log_tail():
                break
    if owns_token_server and token_server is not None:
        token_server.stop()
    assert last_error is not None
    raise last_error


def _config(
    workdir: Path,
    port: int,
    auth: RegistryAuth,
    delete_enabled: bool,
    users: dict[str, str],
    token_server: TokenServer | None,
) -> dict[str, Any]:
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "warn", "formatter": "text", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            # As in the stock config.yml distribution ships: blob descriptors are cached in
            # memory instead of stat-ing storage on every manifest and blob request.
            "cache": {"blobdescriptor": "inmemory"},
            "delete": {"enabled": delete_enabled},
            # The purger walks storage in the background; nothing here lives long enough.
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
        # Foreign (non-distributable) layers named by URL, as Docker Hub accepts them for
        # Windows images; distribution refuses every URL unless an allow list is given.
        "validation": {"manifests": {"urls": {"allow": ["^https://"]}}},
    }
    if auth == "htpasswd":
        # Distribution reads only bcrypt entries; cost 4 keeps every Basic request cheap.
        path = workdir / "htpasswd"
        path.write_text(
            "".join(
                f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode()}\n"
                for user, pw in users.items()
            )
        )
        config["auth"] = {"htpasswd": {"realm": "portside-test", "path": str(path)}}
    elif auth == "token":
        assert token_server is not None
        # A bare public key here makes 2.8 panic at start; it must be a certificate.
        bundle = token_server.write_bundle(workdir / "token-ca.pem")
        config["auth"] = {
            "token": {
                "realm": token_server.realm,
                "service": token_server.service,
                "issuer": token_server.issuer,
                "rootcertbundle": str(bundle),
            }
        }
    return config


def _wait_ready(registry: RunningRegistry) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if registry.process.poll() is not None:
            raise RuntimeError(
                f"{BINARY} exited with {registry.process.returncode}:\n{registry.log_tail()}"
            )
        try:
            response = requests.get(f"{registry.url}/v2/", timeout=1)
            if response.status_code in (200, 401):
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise RuntimeError(
        f"{BINARY} did not answer /v2/ within {START_TIMEOUT:.0f}s:\n{registry.log_tail()}"
    )


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


@atexit.register
def _stop_leftovers() -> None:
    for registry in list(_running):
        registry.stop()
