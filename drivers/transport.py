"""HTTP to one registry: scheme choice, auth challenges, token cache, retries, redirects.

This is the one place that sets `Authorization`. Drivers and the distribution client ask
for a request with the scopes it needs; the transport answers the registry's challenge:

* Basic: the resolved username and password.
* Bearer: a token from the challenge's realm, for the smallest scope asked for, cached per
  scope until shortly before it expires. The token answer may carry `token` or
  `access_token`. An `identitytoken` is exchanged with the OAuth2 `refresh_token` grant;
  a `registrytoken` is sent as the bearer token itself.

Other rules (DESIGN.md "Transport rules"):

* TLS is verified. Loopback registries, and hosts named with `--insecure-registry`, may
  fall back to plain HTTP, as the Docker daemon allows; insecure hosts skip verification.
* Retries on connection errors, 408, 429 and 5xx with exponential backoff and jitter,
  honouring `Retry-After` (seconds or an HTTP date) up to a cap. A request whose body is a
  stream is never retried; bytes bodies are replayed.
* Redirects are followed by hand so that `Authorization` never reaches another host (blob
  downloads are often redirected to object storage).
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from drivers.credentials import ANONYMOUS, Credential, CredentialSource
from drivers.errors import (
    NotARegistry,
    ProtocolError,
    TLSError,
    Unauthorized,
    Unreachable,
    error_for_status,
    redact_url,
)
from drivers.httpclient import HTTPClient, ProxyError, Response, basic_authorization
from drivers.reference import DOCKER_HUB, DOCKER_HUB_API, is_loopback, normalize_registry

log = logging.getLogger("portside.transport")

CATALOG_SCOPE = "registry:catalog:*"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_MAX_REDIRECTS = 10


def repository_scope(path: str, *actions: str) -> str:
    """`repository:<path>:<actions>`, the token scope for one repository."""
    return f"repository:{path}:{','.join(actions or ('pull',))}"


def user_agent() -> str:
    from drivers import __version__

    return f"portside/{__version__}"


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # total tries, the first included
    backoff: float = 0.5  # seconds; doubled each retry, with jitter
    max_delay: float = 30.0  # cap for backoff and for Retry-After

    def delay(self, attempt: int, retry_after: str | None) -> float:
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.max_delay)
        base = self.backoff * (2**attempt)
        return min(base * (0.5 + random.random()), self.max_delay)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from now: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


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


class Transport:
    """An authenticated, retrying HTTP client for one registry."""

    def __init__(
        self,
        registry: str,
        credentials: CredentialSource | Credential | None = None,
        *,
        insecure: bool = False,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.registry = normalize_registry(registry)
        self.api_host = DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry
        self._credentials = credentials
        self._credential: Credential | None = None
        self.insecure = insecure
        self.plain_http_allowed = insecure or is_loopback(self.registry)
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.http = HTTPClient(verify=not insecure, timeout=timeout)
        self.user_agent = user_agent()
        self._base_url: str | None = None
        self._challenge: Challenge | None = None
        self._tokens: dict[tuple[str, ...], _Token] = {}
        self._lock = threading.Lock()

    # -- credentials ---------------------------------------------------------------------

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

    # -- base URL ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """`https://host`, or `http://host` for a loopback/insecure host that lacks TLS."""
        if self._base_url is None:
            self._base_url = self._probe_scheme()
        return self._base_url

    def _probe_scheme(self) -> str:
        https = f"https://{self.api_host}"
        # A bare handshake, without loading the CA store: the answer only picks the scheme.
        # Certificates are verified by the real requests, so a loopback registry that speaks
        # TLS keeps its certificate checked. Refused or timed out means no HTTPS here.
        if not self.plain_http_allowed or self.http.speaks_tls(self.api_host):
            return https
        log.debug("%s: no TLS, using plain HTTP", self.api_host)
        return f"http://{self.api_host}"

    def url(self, path: str) -> str:
        return path if "://" in path else f"{self.base_url}{path}"

    # -- requests ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        scopes: Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        data: bytes | Iterable[bytes] | Any | None = None,
        authenticate: bool = True,
    ) -> Response:
        """Send a request, answering auth challenges and retrying transient failures.

        Returns the final response whatever its status, its body unread; callers check it
        with `check_status`. `scopes` are the token scopes the operation needs;
        `authenticate=False` sends no credentials and answers no challenge.
        """
        replayable = data is None or isinstance(data, bytes | bytearray)
        url = self.url(path)
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)

        def send() -> Response:
            if authenticate:
                return self._send_authorized(method, url, scopes, headers, data)
            return self._send(method, url, headers, data, None)

        return self._retrying(send, self.retry.attempts if replayable else 1)

    def _retrying(self, send: Callable[[], Response], attempts: int) -> Response:
        """Call `send` until it answers with a status not worth retrying, or tries run out."""
        for attempt in range(attempts):
            last_try = attempt + 1 >= attempts
            try:
                response = send()
            except Unreachable:
                if last_try:
                    raise
                time.sleep(self.retry.delay(attempt, None))
                continue
            if response.status_code not in _RETRY_STATUSES or last_try:
                return response
            log.debug(
                "%s: HTTP %s, retry %d", redact_url(response.url), response.status_code, attempt
            )
            response.close()
            time.sleep(self.retry.delay(attempt, response.headers.get("Retry-After")))
        raise AssertionError("unreachable")  # pragma: no cover

    def _raw(
        self,
        method: str,
        url: str,
        *,
        service: str,
        headers: Mapping[str, str],
        data: bytes | Iterable[bytes] | Any | None = None,
    ) -> Response:
        """One HTTP exchange; network failures become TLSError or Unreachable."""
        try:
            return self.http.request(method, url, headers, data)
        except ssl.SSLError as exc:
            raise TLSError(
                f"TLS handshake with {service} failed: {_short_reason(exc)}",
                method=method,
                url=url,
                hint=(
                    f"trust its CA (REQUESTS_CA_BUNDLE=/path/ca.pem), or pass "
                    f"--insecure-registry {self.registry} if the host is trusted"
                ),
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            raise Unreachable(
                f"cannot reach {service}: {_short_reason(exc)}",
                method=method,
                url=url,
                hint="check the registry host name, port and network access",
            ) from None

    def _send_authorized(self, method, url, scopes, headers, data):
        key = tuple(sorted(scopes))
        auth = self._cached_authorization(key)
        response = self._send(method, url, headers, data, auth)
        if response.status_code != 401:
            return response
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge is None or challenge.scheme not in ("basic", "bearer"):
            return response
        if auth is not None and self._challenge == challenge:
            return response  # our credentials were just refused for this scope
        response.close()
        self._challenge = challenge
        wanted = key
        if challenge.scheme == "bearer" and challenge.params.get("scope"):
            wanted = tuple(sorted({*key, *challenge.params["scope"].split(" ")}))
        auth = self._authorization(challenge, wanted)
        if wanted != key:
            self._tokens[key] = self._tokens[wanted]
        return self._send(method, url, headers, data, auth)

    def _send(self, method, url, headers, data, authorization):
        """One request, following redirects by hand. Authorization stays on the registry, and
        an `Authorization` the caller set stays on the host it was meant for."""
        registry_netloc = urlsplit(self.base_url).netloc
        origin = urlsplit(url).netloc
        for _ in range(_MAX_REDIRECTS + 1):
            netloc = urlsplit(url).netloc
            sent_headers = {"User-Agent": self.user_agent, **(headers or {})}
            if netloc != origin:
                sent_headers = {
                    k: v for k, v in sent_headers.items() if k.lower() != "authorization"
                }
            if authorization and netloc == registry_netloc:
                sent_headers["Authorization"] = authorization
            response = self._raw(
                method, url, service=self.api_host, headers=sent_headers, data=data
            )
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            url = urljoin(url, location)
            response.close()
            if response.status_code == 303:
                method, data = "GET", None
        raise ProtocolError(f"{self.api_host}: too many redirects", method=method, url=url)

    # -- authorization -------------------------------------------------------------------

    def _cached_authorization(self, key: tuple[str, ...]) -> str | None:
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return self._basic_header()
        token = self._tokens.get(key)
        if token is not None and token.expires_at > time.monotonic():
            return token.header
        return self._authorization(challenge, key)

    def _authorization(self, challenge: Challenge, key: tuple[str, ...]) -> str | None:
        if challenge.scheme == "basic":
            return self._basic_header()
        with self._lock:
            token = self._tokens.get(key)
            if token is None or token.expires_at <= time.monotonic():
                token = self._fetch_token(challenge, key)
                self._tokens[key] = token
            return token.header

    def _basic_header(self) -> str | None:
        cred = self.credential
        if not cred.username and not cred.password:
            return None
        return basic_authorization(cred.username, cred.password)

    def _fetch_token(self, challenge: Challenge, scopes: tuple[str, ...]) -> _Token:
        cred = self.credential
        if cred.registry_token:
            return _Token(f"Bearer {cred.registry_token}", float("inf"))
        realm = challenge.realm
        if not realm.startswith(("https://", "http://")):
            raise ProtocolError(
                f"{self.api_host} sent a Bearer challenge without a usable realm",
                url=self.base_url + "/v2/",
            )
        service = challenge.params.get("service", "")
        if cred.identity_token:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": cred.identity_token,
                "service": service,
                "client_id": "portside",
            }
            if scopes:
                form["scope"] = " ".join(scopes)
            answer = self._token_request(
                "POST",
                realm,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                data=urlencode(form).encode(),
            )
        else:
            query: list[tuple[str, str]] = [("service", service)] if service else []
            query += [("scope", s) for s in scopes]
            basic = self._basic_header()
            answer = self._token_request(
                "GET", realm, params=query, headers={"Authorization": basic} if basic else {}
            )
        return self._parse_token_answer(answer, realm)

    def _token_request(
        self,
        method: str,
        realm: str,
        *,
        headers: Mapping[str, str],
        params: Sequence[tuple[str, str]] = (),
        data: bytes | None = None,
    ) -> Response:
        sent = {"User-Agent": self.user_agent, **headers}
        service = f"the token service of {self.registry}"
        url = realm + (("&" if "?" in realm else "?") + urlencode(params) if params else "")
        return self._retrying(
            lambda: self._raw(method, url, service=service, headers=sent, data=data),
            self.retry.attempts,
        )

    def _parse_token_answer(self, response: Response, realm: str) -> _Token:
        if response.status_code in (401, 403):
            response.close()  # hand the connection back rather than abandon it
            raise self.refused(response.status_code)
        if response.status_code != 200:
            raise error_for_status(
                response.status_code, "GET", realm, response.content, what="token request"
            )
        try:
            doc = response.json()
        except ValueError:
            raise ProtocolError(
                f"the token service of {self.api_host} answered with something other than JSON",
                url=realm,
            ) from None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise ProtocolError(
                f"the token service of {self.api_host} answered without a token", url=realm
            )
        try:
            lifetime = max(int(doc.get("expires_in") or 60), 60)
        except (TypeError, ValueError):
            lifetime = 60
        # Renew 10% early, so a token never expires between our check and the registry's.
        return _Token(f"Bearer {token}", time.monotonic() + lifetime * 0.9)

    def refused(self, status: int = 401) -> Unauthorized:
        """The error for credentials the registry (or its token service) refused."""
        cred = self.credential
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


def check_status(
    response: Response, *expected: int, transport: Transport | None = None, what: str = ""
) -> Response:
    """Return the response when its status is one of `expected`; raise the fitting error."""
    if response.status_code in expected:
        return response
    if is_html(response):
        raise not_a_registry(response)
    try:
        body = response.content
    except (OSError, http.client.HTTPException):
        body = b""
    error = error_for_status(response.status_code, response.method, response.url, body, what=what)
    if response.status_code == 401 and transport is not None:
        refused = transport.refused(401)
        refused.errors, refused.url = error.errors, error.url
        raise refused
    raise error


def is_html(response: Response) -> bool:
    return "html" in (response.headers.get("Content-Type") or "").lower()


def not_a_registry(response: Response) -> NotARegistry:
    """A web page where the registry API should be: a wrong host name or path."""
    host = urlsplit(response.url).netloc
    return NotARegistry(
        f"{host} answered {urlsplit(response.url).path} with an HTML page "
        f"(HTTP {response.status_code}): it does not look like a container registry",
        status=response.status_code,
        method=response.method,
        url=response.url,
        hint="check the registry host name; the registry API answers under /v2/ with JSON",
    )


def _short_reason(exc: BaseException) -> str:
    """A one-line reason for a low-level network failure, without URLs or secrets."""
    if isinstance(exc, ProxyError):  # the proxy failed, not the registry: name it
        return f"{exc.proxy}: {_short_reason(exc.reason)}"
    text = str(exc)
    if text.startswith("Tunnel connection failed:"):  # http.client: the proxy said no
        status = text.partition(":")[2].strip()[:60]
        return f"the proxy refused the tunnel ({status}); check HTTPS_PROXY and its credentials"
    for marker in ("CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER", "hostname mismatch"):
        if marker in text:
            return {
                "CERTIFICATE_VERIFY_FAILED": "certificate verify failed",
                "WRONG_VERSION_NUMBER": "the host does not speak TLS on this port",
                "hostname mismatch": "certificate hostname mismatch",
            }[marker]
    for marker, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "host name not found"),
        ("nodename nor servname", "host name not found"),
        ("Temporary failure in name resolution", "host name not found"),
        ("timed out", "timed out"),
        ("mismatch", "certificate hostname mismatch"),
        ("Connection reset", "connection reset"),
    ):
        if marker in text:
            return reason
    return type(exc).__name__
