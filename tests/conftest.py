"""Thin fixtures over the test bed in tests/bed (the logic lives there, not here)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bed import CANARY_PASSWORD, CANARY_USER
from tests.bed.registry import RegistryAuth, RunningRegistry, registry_available, start_registry
from tests.bed.skopeo import skopeo_available
from tests.bed.tokenserver import TokenServer
from tests.scripted import Answer, ScriptedServer

REGISTRY_FIXTURES = frozenset(
    {
        "registry_plain",
        "registry_htpasswd",
        "registry_token",
        "registry_nodelete",
        "fresh_registry",
        "require_registry",
    }
)


def _require(available: bool, what: str) -> None:
    """Fail under CI (the suite must not silently shrink there); skip elsewhere."""
    if available:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is not installed; run `make test`, which installs it", pytrace=False)
    pytest.skip(f"{what} is not installed (`make test` installs it)")


def pytest_configure(config: pytest.Config) -> None:
    # drivers.http.client silences urllib3's InsecureRequestWarning when it is imported (only
    # --insecure-registry hosts go unverified), but pytest resets warning filters per test.
    config.addinivalue_line("filterwarnings", "ignore::urllib3.exceptions.InsecureRequestWarning")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REGISTRY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.registry)


@pytest.fixture(scope="session", autouse=True)
def portside_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Pulls keep their verified-blob records here, never in the real home's ~/.cache.

    Set in os.environ itself so that portside run as a subprocess inherits it; a test
    that looks at the records sets its own PORTSIDE_CACHE_DIR with monkeypatch.
    """
    directory = tmp_path_factory.mktemp("portside-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PORTSIDE_CACHE_DIR", str(directory))
        # Nor the machine's /etc/docker/certs.d: a test that wants one sets its own.
        patch.setenv("PORTSIDE_CERTS_D", "")
        yield directory


@pytest.fixture(scope="session")
def canary_users() -> dict[str, str]:
    return {CANARY_USER: CANARY_PASSWORD}


@pytest.fixture(scope="session")
def token_server(canary_users: dict[str, str]) -> Iterator[TokenServer]:
    with TokenServer(canary_users) as server:
        yield server


def _session_registry(
    factory: pytest.TempPathFactory, name: str, **options: Any
) -> Iterator[RunningRegistry]:
    _require(registry_available(), "docker-registry")
    with start_registry(factory.mktemp(name), **options) as registry:
        yield registry


@pytest.fixture(scope="session")
def registry_plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    yield from _session_registry(tmp_path_factory, "registry-plain")


@pytest.fixture(scope="session")
def registry_htpasswd(
    tmp_path_factory: pytest.TempPathFactory, canary_users: dict[str, str]
) -> Iterator[RunningRegistry]:
    yield from _session_registry(
        tmp_path_factory, "registry-htpasswd", auth="htpasswd", users=canary_users
    )


@pytest.fixture(scope="session")
def registry_token(
    tmp_path_factory: pytest.TempPathFactory, token_server: TokenServer
) -> Iterator[RunningRegistry]:
    yield from _session_registry(
        tmp_path_factory, "registry-token", auth="token", token_server=token_server
    )


@pytest.fixture(scope="session")
def registry_nodelete(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    yield from _session_registry(tmp_path_factory, "registry-nodelete", delete_enabled=False)


@pytest.fixture
def unique_repo() -> str:
    return f"test/{uuid.uuid4().hex[:10]}"


@pytest.fixture
def require_registry() -> None:
    _require(registry_available(), "docker-registry")


@pytest.fixture
def require_skopeo() -> None:
    _require(skopeo_available(), "skopeo")


FreshRegistry = Callable[..., RunningRegistry]


@pytest.fixture
def fresh_registry(tmp_path: Path, canary_users: dict[str, str]) -> Iterator[FreshRegistry]:
    """A factory for registries with clean storage, stopped after the test.

    `fresh_registry(auth="token", anonymous_pull=True)`: extra keywords configure the token
    server made for a token registry when none is passed.
    """
    _require(registry_available(), "docker-registry")
    started: list[RunningRegistry] = []
    servers: list[TokenServer] = []

    def start(
        auth: RegistryAuth = "none",
        *,
        delete_enabled: bool = True,
        users: dict[str, str] | None = None,
        token_server: TokenServer | None = None,
        **token_options: Any,
    ) -> RunningRegistry:
        users = dict(users if users is not None else canary_users)
        if auth == "token" and token_server is None:
            token_server = TokenServer(users, **token_options).start()
            servers.append(token_server)
        elif token_options:
            raise TypeError(f"token server options without a new token server: {token_options}")
        registry = start_registry(
            tmp_path / f"registry-{len(started)}",
            auth=auth,
            delete_enabled=delete_enabled,
            users=users,
            token_server=token_server,
        )
        started.append(registry)
        return registry

    yield start
    for registry in started:
        registry.stop()
    for server in servers:
        server.stop()


HELPERS = Path(__file__).parent / "helpers"


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Docker config dir, selected through DOCKER_CONFIG.

    The test credential helpers (tests/helpers) are on PATH, and the file-backed one keeps
    its store in PORTSIDE_TEST_HELPER_FILE.
    """
    directory = tmp_path / "docker"
    directory.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    monkeypatch.delenv("PORTSIDE_DOCKER_CONFIG", raising=False)
    monkeypatch.setenv("PATH", f"{HELPERS}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PORTSIDE_TEST_HELPER_FILE", str(tmp_path / "helper-store.json"))
    return directory


@pytest.fixture
def no_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy variables, in either case: every connection is direct."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The transport's waits between retries, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr("drivers.http.transport.time.sleep", recorded.append)
    return recorded


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A scripted HTTP server on 127.0.0.1 (tests/scripted.py)."""
    with ScriptedServer() as scripted:
        yield scripted


@pytest.fixture
def other_server() -> Iterator[ScriptedServer]:
    """A second one, for another host: a token service, object storage."""
    with ScriptedServer() as scripted:
        yield scripted


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[ScriptedServer]:
    """A scripted HTTPS server on 127.0.0.1 with a self-signed certificate (`.cert`, the PEM
    path), answering `/v2/` with 200."""
    import ssl

    from tests.bed.tls import self_signed

    cert, key = self_signed(tmp_path, "127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with ScriptedServer(tls_context=context) as server:
        server.always("/v2/", Answer(200, b"{}"))
        server.cert = cert  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def portside_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], None]:
    """No `PORTSIDE_*` variables but those the test sets with the returned function; wide
    COLUMNS, so that click's messages stay on one line of its error box."""
    for name in [n for n in os.environ if n.startswith("PORTSIDE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "250")

    def apply(values: dict[str, str]) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return apply
