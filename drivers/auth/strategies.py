"""How a transport authenticates: one strategy object per transport, in the manner of httpx.Auth.

This is the only code that sets `Authorization`. A strategy's `auth_flow(request)` is a
generator: it yields the requests to send and receives each one's response, so that a flow
can answer a challenge, fetch a token from another host, or log in again, while the
transport (drivers/http/transport.py) does the sending: scheme, TLS, proxies, retries and
redirects apply to every request a flow makes. The flow ends after its last request; that
request's response is the answer. A flow sets headers on the request it was given; it does
not read or close responses it passes on (the transport closes those), but it may read the
body of a request it made itself (a token answer) before yielding the next one.

The strategies:

* `Anonymous`: no credentials.
* `RegistryChallengeAuth` (drivers/auth/challenge.py): the registry's Basic and Bearer
  challenges, with the Docker config's credential.
* `BasicAuth`: a fixed username and password, sent with every request (Harbor's API).
* `StaticToken`: a fixed `Authorization: Bearer|token …` (Quay's OAuth token, a Hub JWT).
* `HeaderToken`: a fixed token in an API's own header (GitLab's `PRIVATE-TOKEN`, `JOB-TOKEN`).
* `LoginExchange`: a token from a login call, cached, and fetched again once when a
  request is refused with 401 (Docker Hub's JWT from `/v2/users/login`).

Each strategy says how its refusal reads (`refused`): whose credentials, from where, and the
driver's hint. None of them ever puts a secret in a message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

from drivers.auth.credentials import ANONYMOUS, Credential
from drivers.errors import Unauthorized
from drivers.http.client import Response, basic_authorization


@dataclass
class Request:
    """One request as a flow sees it. `scopes` are the token scopes it needs (registry
    challenges only); `service` names the far end in network errors ("" for the
    transport's own host)."""

    method: str
    url: str
    # Never in a repr: they carry credentials (Authorization, a login's body).
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    data: bytes | Iterable[bytes] | Any | None = field(default=None, repr=False)
    scopes: tuple[str, ...] = ()
    service: str = ""

    @property
    def replayable(self) -> bool:
        """Whether the body can be sent again (a stream can be sent once)."""
        return self.data is None or isinstance(self.data, bytes | bytearray)


# Yields requests, receives their responses; see the module docstring.
Flow = Generator[Request, Response, None]


class Auth:
    """The strategy interface, and what every strategy shares: how a refusal reads.

    `service` names who refuses ("the Quay API"), `source` where the credentials came from
    ("$PORTSIDE_REPO_QUAY_TOKEN"), `hint` how to fix a refusal.
    """

    kind = "credentials"  # what the refusal says was refused
    refusal = "{service} refused the {kind} from {source} (HTTP {status})"

    def __init__(self, *, service: str = "the registry", source: str = "", hint: str = ""):
        self.service, self.source, self.hint = service, source, hint

    @property
    def credential(self) -> Credential:
        """The registry credential (Docker config chain) this auth uses; ANONYMOUS for one
        that uses none."""
        return ANONYMOUS

    @property
    def is_anonymous(self) -> bool:
        return isinstance(self, Anonymous)

    def auth_flow(self, request: Request) -> Flow:
        yield request

    def refused(self, status: int = 401) -> Unauthorized:
        """The error for a request still refused after this auth's one retry."""
        text = self.refusal.format(
            service=self.service, kind=self.kind, source=self.source, status=status
        )
        return Unauthorized(text, status=status, hint=self.hint)


class Anonymous(Auth):
    """No credentials: requests go as they are."""

    refusal = "{service} requires authentication and no credentials were found"


class _FixedHeader(Auth):
    """The same `Authorization` on every request."""

    _header: str

    def auth_flow(self, request: Request) -> Flow:
        request.headers["Authorization"] = self._header
        yield request


class BasicAuth(_FixedHeader):
    """HTTP Basic with a fixed username and password."""

    def __init__(self, username: str, password: str, **refusal: str) -> None:
        super().__init__(**refusal)
        self._header = basic_authorization(username, password)


class StaticToken(_FixedHeader):
    """A fixed token, sent as `Authorization: <scheme> <token>`."""

    kind = "token"

    def __init__(self, token: str, *, scheme: str = "Bearer", **refusal: str) -> None:
        super().__init__(**refusal)
        self._header = f"{scheme} {token}"


class HeaderToken(Auth):
    """A fixed token in a header of the API's own instead of `Authorization` (GitLab:
    `PRIVATE-TOKEN` for an access token, `JOB-TOKEN` for a CI job's token). The transport
    drops it on a redirect to another host, as it drops `Authorization`."""

    kind = "token"

    def __init__(self, header: str, token: str, **refusal: str) -> None:
        super().__init__(**refusal)
        self.header, self._token = header, token

    def auth_flow(self, request: Request) -> Flow:
        request.headers[self.header] = self._token
        yield request


class LoginExchange(Auth):
    """A bearer token from a login call: made on first use and cached for every thread; made
    again once when a request with the cached token is refused with 401 (it expired).

    `login()` builds the login request; `token_from(response)` reads the token from its
    answer, or raises the error that fits (wrong password, a second factor needed).
    """

    def __init__(
        self,
        login: Callable[[], Request],
        token_from: Callable[[Response], str],
        **refusal: str,
    ) -> None:
        super().__init__(**refusal)
        self._login, self._token_from = login, token_from
        self._token: str | None = None
        self._lock = threading.Lock()

    def auth_flow(self, request: Request) -> Flow:
        token = yield from self._current(refused=None)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        token = yield from self._current(refused=token)
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def _current(self, *, refused: str | None) -> Generator[Request, Response, str]:
        """The cached token, or a new one when there is none or `refused` is still the
        cached one (another thread may have logged in again already). One thread logs in;
        the others wait for its token."""
        with self._lock:
            if self._token is None or self._token == refused:
                self._token = self._token_from((yield self._login()))
            return self._token
