"""What the drivers of a registry's own tag API share (dockerhub, harbor, quay).

Such a driver lists and deletes tags through the registry's own API, and leaves the rest to
the Registry v2 API through the `default` driver it wraps, `self.registry`. Its API calls go
through a Transport (`api_transport`) whose auth strategy (drivers/auth/strategies.py) carries the
driver's credentials (`NativeCredentials`, resolved from its spec's options by
`resolve_native_credentials`): the driver never sets `Authorization` itself, and every call
honours `--insecure-registry`, proxies, certs.d and retries.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from urllib.parse import urlsplit

from drivers.auth.strategies import Auth
from drivers.distribution import DistributionClient
from drivers.errors import (
    CredentialError,
    Forbidden,
    NotFound,
    ProtocolError,
    RateLimited,
    RegistryError,
    Unauthorized,
    error_for_status,
    redact_url,
)
from drivers.http.client import Response
from drivers.http.transport import Transport
from drivers.manifest import Descriptor, Manifest
from drivers.reference import Reference, Repository, normalize_registry
from drivers.registries.contract import TagInfo
from drivers.registries.default_driver import DefaultDriver
from drivers.registries.options import NativeCredentials

_DETAIL_LIMIT = 200  # characters of an API's own error text kept in a message


def api_transport(
    client: DistributionClient, options: object, base: str, auth: Auth
) -> tuple[str, Transport]:
    """(base, transport) for a registry's own API at `base`, with `auth`.

    A path ("/api/v1"), or a URL on the registry's host, is the registry's own host: its
    transport with `auth` instead, so the scheme, TLS settings and `--insecure-registry`
    are the registry's. Another host (hub.docker.com, or a test's fake) gets a transport of
    its own, insecure when `--insecure-registry` names that host.
    """
    base = base.rstrip("/")
    host = urlsplit(base).netloc if "://" in base else ""
    if not host or normalize_registry(host) == client.transport.host:
        return base, client.transport.with_auth(auth)
    is_insecure = getattr(options, "is_insecure", None)
    insecure = bool(is_insecure(host)) if callable(is_insecure) else False
    return base, Transport(host, auth=auth, insecure=insecure)


class ThroughRegistryV2:
    """A driver of a registry's own tag API. It is built from the class's settings: the API's
    base (`api_path` on the registry's host, or another URL) and the env variable that
    replaces it (`api_env`, for the tests' fakes); `_auth` turns the credentials its spec's
    options resolved to into the auth strategy.

    Resolving tags and reading manifests, blobs and referrers go through `self.registry`;
    `check_deletion` is a harmless probe (deleting a tag that does not exist); `_call` is one
    call to the API, through `self.transport`, whose errors `hints` tells how to fix.
    """

    name: ClassVar[str]
    api_path: ClassVar[str]
    api_env: ClassVar[str]
    hints: ClassVar[ApiHints]

    def __init__(
        self,
        client: DistributionClient,
        options: object = None,
        credentials: NativeCredentials | None = None,
    ) -> None:
        self.registry = DefaultDriver(client, name=self.name)
        credentials = credentials or NativeCredentials()
        self.credentials = credentials  # a driver's settings are among its options (github)
        base = self._api_base(client, credentials).rstrip("/")
        auth = self._auth(credentials, base)
        self.api, self.transport = api_transport(client, options, base, auth)
        self._deletion_checked: set[str] = set()

    def _api_base(self, client: DistributionClient, credentials: NativeCredentials) -> str:
        """The API's base: `api_env` when set (a test's fake), else `api_path`."""
        return os.environ.get(self.api_env) or self.api_path

    def _auth(self, credentials: NativeCredentials, api: str) -> Auth:
        raise NotImplementedError  # the driver's credentials as a strategy

    def resolve(self, reference: Reference) -> Descriptor:
        return self.registry.resolve(reference)

    def get_manifest(self, repository: Repository, reference: str) -> Manifest:
        return self.registry.get_manifest(repository, reference)

    def read_blob(self, repository: Repository, digest: str) -> bytes:
        return self.registry.read_blob(repository, digest)

    def list_referrers(self, repository: Repository, digest: str) -> list[Descriptor] | None:
        return self.registry.list_referrers(repository, digest)

    def check_deletion(self, repository: Repository) -> None:
        """Delete a tag that does not exist: 404 when deleting can work, 401/403 for
        credentials that may not delete, before the cleanup has touched anything."""
        if repository.path in self._deletion_checked:
            return
        probe = f"portside-deletion-probe-{os.urandom(8).hex()}"
        with contextlib.suppress(NotFound):
            self._delete_probe(repository, probe, "; nothing was deleted")
        self._deletion_checked.add(repository.path)

    def _delete_probe(self, repository: Repository, tag: str, after: str) -> None:
        self._delete(repository, tag, str(repository), after)

    def _delete(self, repository: Repository, tag: str, what: str, after: str = "") -> None:
        raise NotImplementedError  # each driver's own API call: `_delete_call`

    def _call(self, method: str, url: str, what: str, *expect: int) -> Response:
        """One API call. A 401 that outlives the auth strategy's one retry is its refusal
        (exit 3) with the driver's hint; any other unexpected answer is `api_error`'s."""
        response = self._request(method, url)
        if response.status_code in expect:
            return response
        if response.status_code != 401:
            raise api_error(response, what, self.hints)
        response.close()
        error = self.transport.refused(401)
        error.message = f"{what}: {error.message}"
        error.method, error.url = method, redact_url(response.url)
        raise error

    def _request(self, method: str, url: str) -> Response:
        """The HTTP exchange of `_call` (a driver may add headers or wait out a limit)."""
        return self.transport.request(method, url, headers={"Accept": "application/json"})

    def _delete_call(
        self,
        url: str,
        what: str,
        expect: int,
        after: str,
        *,
        hint: str,
        refusals: tuple[type[RegistryError], ...] = (Forbidden,),
    ) -> None:
        """DELETE through the API, which needs credentials (none: stop before the call). A
        refusal of the DELETE (`refusals`; a login refused on the way stays what it is)
        says "refused to delete" with `hint`. `after` ends the message ("; nothing was
        deleted", for the probe)."""
        auth = self.transport.auth
        if auth.is_anonymous:
            raise CredentialError(
                f"{what}: deleting tags through {auth.service} needs credentials, "
                "and none were found",
                hint=auth.hint,
            )
        try:
            self._call("DELETE", url, what, expect)
        except refusals as error:
            if error.method != "DELETE":
                raise
            message = f"{what}: {auth.service} refused to delete with the {auth.kind} from "
            message += f"{auth.source} (HTTP {error.status}){after}"
            raise error.recast(Forbidden, message, hint) from None
        except Unauthorized as error:  # the credentials themselves were refused
            error.message += after
            raise


def json_body(response: Response) -> dict:
    """The answer's JSON object; {} for anything else (an error page, say)."""
    try:
        doc = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def json_object(response: Response, api: str, api_env: str) -> dict:
    """The answer's JSON object, which a successful call must have. `api_env` names the
    variable that can point the driver at another API, the likely cause of anything else."""
    try:
        doc = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        raise ProtocolError(
            f"the {api} answered with something other than a JSON object",
            url=response.url,
            hint=f"check ${api_env}, if set: it must name the {api}",
        )
    return doc


def listed_tag(name: str, digest: object, pushed: datetime | None) -> TagInfo:
    """A tag as an API lists it; without a digest the engine resolves it through the
    registry."""
    return TagInfo(name, digest if isinstance(digest, str) and digest else None, pushed)


@dataclass(frozen=True)
class ApiHints:
    """What to do when a registry's own API refuses, by kind of refusal; and where its
    error answers put their own words (`said`, JSON fields tried in turn), which often say
    what to do."""

    not_found: str
    unauthorized: str  # 401: credentials missing or refused
    forbidden: str  # 403: not allowed
    rate_limited: str = "the API limits calls: wait, then run again"
    said: tuple[str, ...] = ()


def api_error(response: Response, what: str, hints: ApiHints) -> RegistryError:
    """The error for an API's answer: its class from the status and any Registry v2
    `errors[]` in the body, the API's own words (shortened) and the hint for its kind."""
    error = error_for_status(
        response.status_code, response.method, response.url, response.content[:2000], what=what
    )
    doc = json_body(response)
    said = (doc[key] for key in hints.said if isinstance(doc.get(key), str))
    words = next((text.strip() for text in said if text.strip()), "")
    if words:
        error.message += f": {words[:_DETAIL_LIMIT]}"
    for kind, hint in (
        (NotFound, hints.not_found),
        (Unauthorized, hints.unauthorized),
        (Forbidden, hints.forbidden),
        (RateLimited, hints.rate_limited),
    ):
        if isinstance(error, kind):
            error.hint = hint
            break
    return error
