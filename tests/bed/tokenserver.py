"""A Docker token server for the test bed: what `auth.token` in distribution 2.8 trusts.

It speaks both halves of the token protocol:

- `GET /token?service=..&scope=..` with optional Basic auth
  (https://distribution.github.io/distribution/spec/auth/token/);
- `POST /token` with the OAuth2 `password` and `refresh_token` grants
  (https://distribution.github.io/distribution/spec/auth/oauth/).

The registry never calls this server; it only checks the JWT signature against the certificate
written by `write_bundle`. Distribution 2.8 is strict about the token's shape: the header needs a
libtrust `kid` (or an `x5c` chain), `aud` must be a string and `exp`/`nbf`/`iat` integers.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.bed.quietserver import QuietHTTPServer

TokenField = Literal["both", "token", "access_token"]

DEFAULT_ISSUER = "portside-test-token-issuer"
DEFAULT_SERVICE = "portside-test-registry"
GRANTABLE = ("pull", "push", "delete", "*")


@dataclass(frozen=True)
class SeenRequest:
    """One request the token server answered, for assertions on scopes and credentials."""

    method: str
    path: str
    params: dict[str, list[str]]
    auth_sent: bool
    user: str | None
    status: int

    @property
    def scopes(self) -> list[str]:
        return [s for value in self.params.get("scope", []) for s in value.split()]

    @property
    def grant_type(self) -> str | None:
        values = self.params.get("grant_type")
        return values[0] if values else None


@dataclass(frozen=True)
class Access:
    type: str
    name: str
    actions: tuple[str, ...]

    def claim(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "actions": list(self.actions)}


def parse_scope(scope: str) -> Access | None:
    """`repository:team/app:pull,push` -> Access; the name itself may hold a `:` (a port)."""
    parts = scope.split(":")
    if len(parts) < 3:
        return None
    actions = tuple(a for a in parts[-1].split(",") if a)
    return Access(parts[0], ":".join(parts[1:-1]), actions)


def libtrust_kid(public_key: rsa.RSAPublicKey) -> str:
    """The key id docker/libtrust derives from a key, which distribution 2.8 matches on."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def _self_signed(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )


def _new_key() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, _self_signed(key, "portside test token server")


@functools.cache
def _shared_key() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    return _new_key()


class TokenServer:
    """Threaded token server on 127.0.0.1 and a free port.

    `users` maps username to password. `user_actions` optionally narrows what a user may be
    granted (e.g. `{"reader": {"pull"}}`), for tests of insufficient scope. Servers share one
    signing key per process (RSA generation is slow); `fresh_key=True` gives a server its own,
    for tests where a registry must refuse another server's token.
    """

    def __init__(
        self,
        users: dict[str, str] | None = None,
        *,
        issuer: str = DEFAULT_ISSUER,
        service: str = DEFAULT_SERVICE,
        anonymous_pull: bool = False,
        token_field: TokenField = "both",
        expires_in: int = 300,
        user_actions: dict[str, set[str]] | None = None,
        fresh_key: bool = False,
    ) -> None:
        self.users = dict(users or {})
        self.issuer = issuer
        self.service = service
        self.anonymous_pull = anonymous_pull
        self.token_field: TokenField = token_field
        self.expires_in = expires_in
        self.user_actions = {u: set(a) for u, a in (user_actions or {}).items()}
        self.requests_seen: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._refresh_tokens: dict[str, str] = {}
        self._key, self.certificate = _new_key() if fresh_key else _shared_key()
        self.kid = libtrust_kid(self._key.public_key())
        self._server: QuietHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> TokenServer:
        if self._server is not None:
            return self
        server = QuietHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="token-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> TokenServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("token server is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    def write_bundle(self, path: Path) -> Path:
        """Write the PEM certificate for the registry's `rootcertbundle`."""
        path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        return path

    # -- tokens ------------------------------------------------------------------------------

    def issue_token(
        self, user: str | None, access: list[Access], service: str | None = None
    ) -> str:
        """Sign a registry token; tests may call this directly to hand-craft an access list."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": service or self.service,
            "exp": now + self.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": [a.claim() for a in access],
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

    def issue_refresh_token(self, username: str) -> str:
        """An identity token (what `docker login` stores as `identitytoken`) for `username`."""
        token = "rt-" + secrets.token_urlsafe(24)
        with self._lock:
            self._refresh_tokens[token] = username
        return token

    def grant(self, user: str | None, scopes: list[str]) -> list[Access]:
        """The access a caller gets: everything asked for when known, pull when anonymous."""
        granted: list[Access] = []
        for scope in scopes:
            wanted = parse_scope(scope)
            if wanted is None:
                continue
            if user is None:
                allowed = {"pull"} if self.anonymous_pull and wanted.type == "repository" else set()
            elif wanted.type == "repository" or (wanted.type, wanted.name) == (
                "registry",
                "catalog",
            ):
                allowed = self.user_actions.get(user, set(GRANTABLE))
            else:
                allowed = set()
            actions = tuple(a for a in wanted.actions if a in allowed and a in GRANTABLE)
            if actions:
                granted.append(Access(wanted.type, wanted.name, actions))
        return granted

    def clear_requests(self) -> None:
        with self._lock:
            self.requests_seen.clear()

    def _record(self, seen: SeenRequest) -> None:
        with self._lock:
            self.requests_seen.append(seen)

    def _refresh_user(self, token: str) -> str | None:
        with self._lock:
            return self._refresh_tokens.get(token)


def _now_iso() -> str:
    return (
        dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )


def _handler_for(bed: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            params = parse_qs(url.query)
            if url.path != "/token":
                self._answer(url.path, params, False, None, 404, {"error": "not found"})
                return
            auth_sent, user, ok = self._basic_user()
            if not ok:
                self._unauthorized(url.path, params, user)
                return
            scopes = [s for value in params.get("scope", []) for s in value.split()]
            service = params.get("service", [bed.service])[0]
            token = bed.issue_token(user, bed.grant(user, scopes), service)
            body: dict[str, Any] = {"expires_in": bed.expires_in, "issued_at": _now_iso()}
            if bed.token_field in ("both", "token"):
                body["token"] = token
            if bed.token_field in ("both", "access_token"):
                body["access_token"] = token
            self._answer(url.path, params, auth_sent, user, 200, body)

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"))
            auth_sent = "Authorization" in self.headers
            if url.path != "/token":
                self._answer(url.path, form, auth_sent, None, 404, {"error": "not found"})
                return
            first = {k: v[0] for k, v in form.items()}
            grant_type = first.get("grant_type")
            # client_id is REQUIRED by the OAuth2 half of the spec; docker's own server enforces it.
            if "client_id" not in first:
                error = {"error": "invalid_request", "error_description": "client_id missing"}
                self._answer(url.path, form, auth_sent, None, 400, error)
                return
            user: str | None
            if grant_type == "password":
                user = first.get("username")
                if user is None or bed.users.get(user) != first.get("password"):
                    self._unauthorized(url.path, form, user)
                    return
            elif grant_type == "refresh_token":
                user = bed._refresh_user(first.get("refresh_token", ""))
                if user is None:
                    self._unauthorized(url.path, form, None)
                    return
            else:
                self._answer(
                    url.path, form, auth_sent, None, 400, {"error": "unsupported_grant_type"}
                )
                return
            scopes = [s for value in form.get("scope", []) for s in value.split()]
            granted = bed.grant(user, scopes)
            token = bed.issue_token(user, granted, first.get("service"))
            body: dict[str, Any] = {
                "access_token": token,
                "scope": " ".join(scopes),
                "expires_in": bed.expires_in,
                "issued_at": _now_iso(),
            }
            if grant_type == "password" and first.get("access_type") == "offline":
                body["refresh_token"] = bed.issue_refresh_token(user)
            self._answer(url.path, form, auth_sent, user, 200, body)

        def _basic_user(self) -> tuple[bool, str | None, bool]:
            """(auth sent, user, credentials valid); no Authorization is a valid anonymous call."""
            header = self.headers.get("Authorization")
            if header is None:
                return False, None, True
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "basic":
                return True, None, False
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return True, None, False
            return True, user, bed.users.get(user) == password

        def _unauthorized(self, path: str, params: dict[str, list[str]], user: str | None) -> None:
            body = {
                "errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}],
                "error": "invalid_grant",
            }
            self._answer(path, params, True, user, 401, body)

        def _answer(
            self,
            path: str,
            params: dict[str, list[str]],
            auth_sent: bool,
            user: str | None,
            status: int,
            body: dict[str, Any],
        ) -> None:
            # The password is the one field a test never needs to see again.
            shown = {k: (["***"] if k == "password" else v) for k, v in params.items()}
            bed._record(SeenRequest(self.command, path, shown, auth_sent, user, status))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
