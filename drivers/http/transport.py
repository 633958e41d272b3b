"""HTTP to one host: scheme choice, auth strategy, retries, redirects.

A `Transport` sends requests to one registry (or to a registry's own API) and takes an
auth strategy (drivers/auth/strategies.py) that sets `Authorization`; by default the registry's
challenge flow (drivers/auth/challenge.py) with the given credentials. Rules (DESIGN.md
"Transport rules"):

* TLS is verified. Loopback registries, and hosts named with `--insecure-registry`, may
  fall back to plain HTTP, as the Docker daemon allows; insecure hosts skip verification.
* Every request an auth flow makes (token and login calls included) is retried on
  connection errors and the temporary statuses (drivers/errors.py) with exponential
  backoff and jitter, honouring `Retry-After` (seconds or an HTTP date) up to a cap. A
  request whose body is a stream is never retried; bytes bodies are replayed.
* Credentials go to the transport's own host only: a request to another host gets no
  auth flow, and redirects are followed by hand so that `Authorization` never leaves the
  host it was set for (blob downloads are often redirected to object storage).
"""

from __future__ import annotations

import copy
import http.client
import logging
import ssl
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from drivers.auth.challenge import RegistryChallengeAuth
from drivers.auth.credentials import Credential, CredentialSource
from drivers.auth.strategies import Anonymous, Auth, Request
from drivers.errors import (
    NotARegistry,
    ProtocolError,
    TLSError,
    Unauthorized,
    Unreachable,
    error_for_status,
    redact_url,
)
from drivers.http.client import HTTPClient, ProxyError, Response
from drivers.http.retry import RetryPolicy
from drivers.reference import is_loopback, normalize_registry

log = logging.getLogger("portside.transport")

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 10
_NO_AUTH = Anonymous()


def user_agent() -> str:
    from drivers import __version__

    return f"portside/{__version__}"


# Headers that carry credentials: never sent on to another host by a redirect.
_CREDENTIALS = frozenset({"authorization", "private-token", "job-token"})


class Transport:
    """An authenticating, retrying HTTP client for one host.

    `registry` names the registry (credentials, messages); `host` is the host[:port] that
    serves it, when that differs (Docker Hub's /v2/ is on registry-1.docker.io). `auth` is
    the strategy; without one, the registry's challenge flow with `credentials`.
    """

    def __init__(
        self,
        registry: str,
        credentials: CredentialSource | Credential | None = None,
        *,
        auth: Auth | None = None,
        host: str | None = None,
        insecure: bool = False,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.registry = normalize_registry(registry)
        self.host = host or self.registry
        self.auth = auth or RegistryChallengeAuth(self.registry, credentials)
        self.insecure = insecure
        self.plain_http_allowed = insecure or is_loopback(self.host)
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.http = HTTPClient(verify=not insecure, timeout=timeout)
        self.user_agent = user_agent()
        self._base_url: str | None = None

    def with_auth(self, auth: Auth) -> Transport:
        """This transport with another auth strategy, sharing its host, scheme, TLS
        settings, retries and connections: for a registry's own API on the registry host."""
        other = copy.copy(self)
        other.auth = auth
        return other

    @property
    def credential(self) -> Credential:
        """The registry credential the auth strategy uses (ANONYMOUS when it uses none)."""
        return self.auth.credential

    def refused(self, status: int = 401) -> Unauthorized:
        """The error for credentials the host (or its token service) refused."""
        return self.auth.refused(status)

    # -- base URL ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """`https://host`, or `http://host` for a loopback/insecure host that lacks TLS."""
        if self._base_url is None:
            self._base_url = self._probe_scheme()
        return self._base_url

    def _probe_scheme(self) -> str:
        https = f"https://{self.host}"
        # A bare handshake, without loading the CA store: the answer only picks the scheme.
        # Certificates are verified by the real requests, so a loopback registry that speaks
        # TLS keeps its certificate checked. Refused or timed out means no HTTPS here.
        if not self.plain_http_allowed or self.http.speaks_tls(self.host):
            return https
        log.debug("%s: no TLS, using plain HTTP", self.host)
        return f"http://{self.host}"

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
        """Send a request through the auth strategy, retrying transient failures.

        Returns the final response whatever its status, its body unread; callers check it
        with `check_status`. `scopes` are the token scopes the operation needs;
        `authenticate=False` sends no credentials (the unauthenticated `/v2/` ping).
        """
        url = self.url(path)
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        request = Request(method, url, dict(headers or {}), data, tuple(scopes))
        own_host = urlsplit(url).netloc.lower() == self.host.lower()
        return self.send(request, self.auth if authenticate and own_host else _NO_AUTH)

    def send(self, request: Request, auth: Auth) -> Response:
        """Run `auth`'s flow for `request`: send each request it yields (retried, redirects
        followed) and hand it the response; the last response is the answer."""
        flow = auth.auth_flow(request)
        try:
            outgoing = next(flow)
            while True:
                response = self._retrying(outgoing)
                try:
                    outgoing = flow.send(response)
                except StopIteration:
                    return response
                except BaseException:
                    response.close()  # hand the connection back rather than abandon it
                    raise
                response.close()
        finally:
            flow.close()  # a flow holding a lock (a token fetch) lets go of it

    def _retrying(self, request: Request) -> Response:
        """Send until the answer is not worth retrying, or tries run out."""
        attempts = self.retry.attempts if request.replayable else 1
        for attempt in range(attempts):
            last_try = attempt + 1 >= attempts
            try:
                response = self._send(request)
            except Unreachable:
                if last_try:
                    raise
                time.sleep(self.retry.delay(attempt, None))
                continue
            if response.status_code not in self.retry.statuses or last_try:
                return response
            log.debug(
                "%s: HTTP %s, retry %d", redact_url(response.url), response.status_code, attempt
            )
            response.close()
            time.sleep(self.retry.delay(attempt, response.headers.get("Retry-After")))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, request: Request) -> Response:
        """One request, following redirects by hand; `Authorization` stays on the host the
        request was for."""
        method, url, data = request.method, request.url, request.data
        origin = urlsplit(url).netloc
        for _ in range(_MAX_REDIRECTS + 1):
            headers = {"User-Agent": self.user_agent, **request.headers}
            if urlsplit(url).netloc != origin:
                headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIALS}
            response = self._raw(method, url, request.service or self.host, headers, data)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            url = urljoin(url, location)
            response.close()
            if response.status_code == 303:
                method, data = "GET", None
        raise ProtocolError(f"{self.host}: too many redirects", method=method, url=url)

    def _raw(
        self, method: str, url: str, service: str, headers: Mapping[str, str], data: Any
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
