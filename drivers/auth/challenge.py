"""The registry's own challenge flow (DESIGN.md "Transport rules"), as an auth strategy.

A request goes out with what this registry asked for last time, if anything. On a 401 the
`WWW-Authenticate` challenge says how to authenticate, and the request is sent once more:

* Basic: the resolved username and password.
* Bearer: a token from the challenge's realm for the smallest scope the operation asked
  for (plus any scope the challenge names), cached per scope until shortly before it
  expires. The token answer may carry `token` or `access_token`. An `identitytoken` is
  exchanged with the OAuth2 `refresh_token` grant; a `registrytoken` is sent as the bearer
  token itself.

A 401 to credentials just sent for the same challenge is a refusal: the response goes back
to the caller, whose `check_status` raises `refused()`.

The credential is chosen per request, for the repository its first `repository:` scope names
(a namespaced `auths` key serves only its repositories: drivers.auth.authkeys), so one client
serves every repository of a registry; a request without one (`/v2/`, the catalog) uses the
registry's own credential.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from drivers.auth.credentials import ANONYMOUS, Credential, CredentialSource
from drivers.auth.strategies import Auth, Flow, Request
from drivers.errors import ProtocolError, Unauthorized, error_for_status
from drivers.http.client import Response, basic_authorization

CATALOG_SCOPE = "registry:catalog:*"
_MIN_LIFETIME = 60  # seconds a token is taken to live when the answer says less, or nothing


def _repository_of(scopes: tuple[str, ...]) -> str | None:
    """The repository path of the first `repository:PATH:ACTIONS` scope, if any."""
    for scope in scopes:
        if scope.startswith("repository:"):
            return scope[len("repository:") :].rpartition(":")[0] or None
    return None


def _basic_header(cred: Credential) -> str | None:
    if not cred.username and not cred.password:
        return None
    return basic_authorization(cred.username, cred.password)


def repository_scope(path: str, *actions: str) -> str:
    """`repository:<path>:<actions>`, the token scope for one repository."""
    return f"repository:{path}:{','.join(actions or ('pull',))}"


@dataclass(frozen=True)
class Challenge:
    """A parsed `WWW-Authenticate` header."""

    scheme: str  # "basic" or "bearer", lower case
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


_PARAM = re.compile(r'([A-Za-z][\w-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)')


def parse_challenge(header: str) -> Challenge | None:
    """Parse `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {}
    for key, raw in _PARAM.findall(rest):
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[key.lower()] = raw
    return Challenge(scheme.lower(), params)


@dataclass
class _Token:
    header: str
    expires_at: float


Header = Generator[Request, Response, str | None]


class RegistryChallengeAuth(Auth):
    """Basic and Bearer challenges with the registry's credential, resolved once from
    `credentials` (a source such as the Docker config chain, a fixed credential, or None).

    `repositories` (else `credentials` when it is a source) is asked for each repository's
    own credential; when it has none, the registry's is used.
    """

    def __init__(
        self,
        registry: str,
        credentials: CredentialSource | Credential | None = None,
        *,
        repositories: CredentialSource | None = None,
    ) -> None:
        super().__init__(service=registry)
        self.registry = registry
        self._credentials = credentials
        self._credential: Credential | None = None
        if repositories is None and not isinstance(credentials, Credential | None):
            repositories = credentials
        self._repositories = repositories
        self._per_repository: dict[str, Credential] = {}
        self._resolving = threading.Lock()
        self._last = threading.local()  # the credential this thread's last request used
        self._challenge: Challenge | None = None
        self._tokens: dict[tuple[str, ...], _Token] = {}
        self._lock = threading.Lock()

    @property
    def credential(self) -> Credential:
        """The credential for this registry, resolved once (helpers can be slow)."""
        if self._credential is None:
            source = self._credentials
            if source is None:
                self._credential = ANONYMOUS
            elif isinstance(source, Credential):
                self._credential = source
            else:
                self._credential = source.resolve(self.registry)
        return self._credential

    def credential_for(self, scopes: tuple[str, ...]) -> Credential:
        """The credential for a request with these scopes: its repository's, else the
        registry's."""
        path = _repository_of(scopes)
        if path is None or self._repositories is None:
            return self.credential
        with self._resolving:
            if path not in self._per_repository:
                found = self._repositories.resolve(self.registry, path)
                self._per_repository[path] = self.credential if found.is_anonymous else found
            return self._per_repository[path]

    @property
    def is_anonymous(self) -> bool:
        return self.credential.is_anonymous

    def refused(self, status: int = 401) -> Unauthorized:
        cred = getattr(self._last, "credential", None) or self.credential
        if cred.is_anonymous:
            return Unauthorized(
                f"{self.registry} requires authentication and no credentials were found",
                status=status,
                hint=f"run `portside login {self.registry}` or add them to the Docker config",
            )
        return Unauthorized(
            f"{self.registry} refused the credentials from {cred.source}",
            status=status,
            hint=f"check the user and password, then `portside login {self.registry}` again",
        )

    def expect(self, header: str) -> None:
        """Take the `WWW-Authenticate` of the unauthenticated `/v2/` answer as this registry's
        challenge, before any request: the first one then answers it at once rather than
        after its own 401, so the ping that detection makes costs no extra round trip."""
        challenge = parse_challenge(header)
        if self._challenge is None and challenge and challenge.scheme in ("basic", "bearer"):
            self._challenge = challenge

    def auth_flow(self, request: Request) -> Flow:
        key = tuple(sorted(request.scopes))
        cred = self._last.credential = self.credential_for(request.scopes)
        header = yield from self._cached(key, cred)
        if header:
            request.headers["Authorization"] = header
        response = yield request
        if response.status_code != 401:
            return
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge is None or challenge.scheme not in ("basic", "bearer"):
            return
        if header is not None and self._challenge == challenge:
            return  # our credentials were just refused for this scope
        self._challenge = challenge
        wanted = key
        if challenge.scheme == "bearer" and challenge.params.get("scope"):
            wanted = tuple(sorted({*key, *challenge.params["scope"].split(" ")}))
        header = yield from self._header(challenge, wanted, cred)
        if header is None:
            return  # Basic, and nothing to answer it with: the 401 stands
        if wanted != key:
            self._tokens[key] = self._tokens[wanted]
        request.headers["Authorization"] = header
        yield request

    def _cached(self, key: tuple[str, ...], cred: Credential) -> Header:
        """What this registry's last challenge asks for, for this scope; None before any."""
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return _basic_header(cred)
        token = self._tokens.get(key)
        if token is not None and token.expires_at > time.monotonic():
            return token.header
        return (yield from self._header(challenge, key, cred))

    def _header(self, challenge: Challenge, key: tuple[str, ...], cred: Credential) -> Header:
        if challenge.scheme == "basic":
            return _basic_header(cred)
        # One thread fetches a scope's token; the others wait for it (the lock is held
        # across the token request, which the transport always finishes or closes).
        with self._lock:
            token = self._tokens.get(key)
            if token is None or token.expires_at <= time.monotonic():
                token = yield from self._fetch_token(challenge, key, cred)
                self._tokens[key] = token
            return token.header

    def _fetch_token(
        self, challenge: Challenge, scopes: tuple[str, ...], cred: Credential
    ) -> Generator[Request, Response, _Token]:
        if cred.registry_token:
            return _Token(f"Bearer {cred.registry_token}", float("inf"))
        realm = challenge.realm
        if not realm.startswith(("https://", "http://")):
            raise ProtocolError(f"{self.registry} sent a Bearer challenge without a usable realm")
        service = challenge.params.get("service", "")
        what = f"the token service of {self.registry}"
        if cred.identity_token:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": cred.identity_token,
                "service": service,
                "client_id": "portside",
            }
            if scopes:
                form["scope"] = " ".join(scopes)
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            request = Request("POST", realm, headers, urlencode(form).encode(), service=what)
        else:
            query: list[tuple[str, str]] = [("service", service)] if service else []
            query += [("scope", s) for s in scopes]
            url = realm + (("&" if "?" in realm else "?") + urlencode(query) if query else "")
            basic = _basic_header(cred)
            request = Request("GET", url, {"Authorization": basic} if basic else {}, service=what)
        response = yield request
        return self._parse_token_answer(response, request.url)

    def _parse_token_answer(self, response: Response, url: str) -> _Token:
        if response.status_code in (401, 403):
            raise self.refused(response.status_code)
        if response.status_code != 200:
            raise error_for_status(
                response.status_code, response.method, url, response.content, what="token request"
            )
        try:
            doc = response.json()
        except ValueError:
            raise ProtocolError(
                f"the token service of {self.registry} answered with something other than JSON",
                url=url,
            ) from None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise ProtocolError(
                f"the token service of {self.registry} answered without a token", url=url
            )
        try:
            lifetime = max(int(doc.get("expires_in") or _MIN_LIFETIME), _MIN_LIFETIME)
        except (TypeError, ValueError):
            lifetime = _MIN_LIFETIME
        # Renew 10% early, so a token never expires between our check and the registry's.
        return _Token(f"Bearer {token}", time.monotonic() + lifetime * 0.9)
