"""A `requests.Session` whose every request goes out through portside's own HTTP layer, for
an SDK built on requests (python-gitlab, the `gitlab` driver's).

The SDK builds the requests, pages, retries and reads the answers; the bytes travel through a
`Transport` (drivers/http/transport.py), so its rules hold for the SDK's API as for the
registry: the proxies of the environment as `drivers.http.proxies` reads them (lower case
wins, `ALL_PROXY`, `NO_PROXY` with ports and CIDRs, loopback direct, SOCKS), the TLS settings
of `drivers.http.tls` (`REQUESTS_CA_BUNDLE`, the host's `certs.d` CAs and client
certificate, `--insecure-registry`), redirects followed by hand, and messages that carry no
secret. requests' own environment handling (`trust_env`) is off, so it decides nothing.

What the transport does not do here is retry an HTTP answer: every status goes back to the
SDK, which retries 429 and 5xx itself (python-gitlab reads `Retry-After` and
`RateLimit-Reset`). Connection failures are retried by the transport, which knows which are
worth it; what outlives that comes out as `TransportFailure`, carrying portside's error.

Credential headers (`Authorization`, `PRIVATE-TOKEN`, `JOB-TOKEN`) go to the API's own host
only: a request the SDK sends elsewhere (a next-page link naming another host) goes without.
This module imports requests, which the core does not depend on: only a driver whose extra
brings requests imports it.
"""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from drivers.auth.strategies import Anonymous, Request
from drivers.errors import RegistryError, Unreachable
from drivers.http.transport import Transport

_CREDENTIALS = frozenset({"authorization", "private-token", "job-token"})


class TransportFailure(requests.exceptions.RequestException):
    """The transport could not get an answer (TLS, unreachable, a proxy's refusal): `error`
    is portside's error for it. Not a `requests.ConnectionError`, so an SDK does not retry
    what the transport has already retried."""

    def __init__(self, error: RegistryError, request: requests.PreparedRequest) -> None:
        super().__init__(error.message, request=request)
        self.error = error


class TransportAdapter(BaseAdapter):
    """requests' adapter interface over a portside `Transport` for one API host."""

    def __init__(self, transport: Transport) -> None:
        super().__init__()
        # The SDK sets its own credential headers; the transport adds none. Statuses are the
        # SDK's to retry; connection failures stay the transport's.
        self.transport = transport.with_auth(Anonymous(service=f"the API at {transport.host}"))
        self.transport.retry = replace(transport.retry, statuses=frozenset())

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        url = request.url or ""
        headers = dict(request.headers)
        if urlsplit(url).netloc.lower() != self.transport.host.lower():
            headers = {k: v for k, v in headers.items() if k.lower() not in _CREDENTIALS}
        body = request.body.encode() if isinstance(request.body, str) else request.body
        outgoing = Request(request.method or "GET", url, headers, body)
        try:
            answer = self.transport.send(outgoing, self.transport.auth)
            try:
                content = answer.content
            except OSError as exc:  # the connection died in the body
                raise Unreachable(
                    f"{self.transport.host}: the answer broke off ({type(exc).__name__})",
                    method=outgoing.method,
                    url=url,
                ) from None
        except RegistryError as error:
            raise TransportFailure(error, request) from None
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers.items())
        response.raw = io.BytesIO(content)
        response.reason = getattr(answer.raw, "reason", "") or ""
        response.url = answer.url
        response.request = request
        response.encoding = get_encoding_from_headers(response.headers)
        response.connection = self
        return response

    def close(self) -> None:
        pass  # the transport's connections are pooled for the whole run


def requests_session(transport: Transport) -> requests.Session:
    """A Session for the API on `transport`'s host (use the transport of that host: for
    another host than the registry's, one built with that host's `--insecure-registry`)."""
    session = requests.Session()
    session.trust_env = False  # proxies, CAs and .netrc come from portside's own settings
    adapter = TransportAdapter(transport)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
