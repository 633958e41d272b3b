"""The `dockerhub` driver: Docker Hub's own API for tags, Registry v2 for manifests.

Docker Hub's registry (registry-1.docker.io) does not delete tags through the Registry v2
API, so listing and deleting tags go through the Hub API at https://hub.docker.com:

* `GET /v2/repositories/{namespace}/{repo}/tags?page_size=100`, following the absolute
  `next` URL: every tag with its digest and push time (`tag_last_pushed`), which spares
  the cleanup engine a HEAD per tag and an image-config read per image.
* `DELETE /v2/repositories/{namespace}/{repo}/tags/{tag}/` (204): only that tag goes;
  the image stays for any other tag on it.

Hub API calls carry `Authorization: Bearer <JWT>`. The JWT is, in this order:
`PORTSIDE_REPO_DOCKER_HUB_TOKEN` as it is (the `StaticToken` auth strategy); or a
`POST /v2/users/login` with `PORTSIDE_REPO_DOCKER_HUB_USERNAME` and
`PORTSIDE_REPO_DOCKER_HUB_PASSWORD`, or with the username and password (or token) stored for
Docker Hub in the Docker config (the `LoginExchange` strategy, which logs in again once when
the JWT expires). The Hub API has its own transport (`--insecure-registry hub.docker.com`
applies to it); `PORTSIDE_DOCKER_HUB_API` points the driver at another Hub API (the tests'
fake).

The registry itself is served by registry-1.docker.io, not docker.io: that rewrite is the
`dockerhub` entry's `v2_hosts` in drivers/registries.py, applied to every Docker Hub
reference whatever driver serves it (pull, copy and inspect use no driver).

Resolving tags and reading manifests and blobs stay on the Registry v2 API, through the
`default` driver this one wraps. It does not offer `delete_manifest`: the Hub registry does
not delete by digest, so the cleanup engine deletes every tag through the Hub API.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import quote, urljoin, urlsplit

from drivers.auth import Anonymous, Auth, LoginExchange, Request, StaticToken
from drivers.contract import TagInfo, parse_created
from drivers.default import DefaultDriver
from drivers.distribution import DistributionClient
from drivers.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    ProtocolError,
    RateLimited,
    RegistryError,
    Unauthorized,
)
from drivers.httpclient import Response
from drivers.native import (
    ThroughRegistryV2,
    api_error,
    api_transport,
    json_body,
    json_object,
    option_settings,
    user_and_password,
)
from drivers.reference import Repository

HUB_API = "https://hub.docker.com"
API_ENV = "PORTSIDE_DOCKER_HUB_API"
TOKEN_ENV = "PORTSIDE_REPO_DOCKER_HUB_TOKEN"
USERNAME_ENV = "PORTSIDE_REPO_DOCKER_HUB_USERNAME"
PASSWORD_ENV = "PORTSIDE_REPO_DOCKER_HUB_PASSWORD"
PAGE_SIZE = 100  # the Hub API's largest page

PAT_HINT = (
    "a Docker Hub personal access token cannot delete unless its scope is "
    "Read, Write, Delete: use such a token, or the account's password "
    f"(${USERNAME_ENV} and ${PASSWORD_ENV})"
)
NO_CREDENTIALS_HINT = (
    f"pass --repo-docker-hub-token (${TOKEN_ENV}), or --repo-docker-hub-username and "
    f"--repo-docker-hub-password (${USERNAME_ENV}, ${PASSWORD_ENV}), "
    "or `portside login docker.io` with the account's username and password"
)

_SAID = ("detail", "message", "text")  # where the Hub's answers put their own words
_HINTS: dict[type[RegistryError], str] = {
    NotFound: "check the namespace, repository and tag on hub.docker.com",
    Unauthorized: NO_CREDENTIALS_HINT,
    Forbidden: NO_CREDENTIALS_HINT,
    RateLimited: "Docker Hub limits API calls per account: wait, then run again",
}


class DockerHubDriver(ThroughRegistryV2):
    name: ClassVar[str] = "dockerhub"

    def __init__(
        self,
        client: DistributionClient,
        options: object = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        settings = option_settings(
            options,
            env,
            {
                "docker_hub_token": TOKEN_ENV,
                "docker_hub_username": USERNAME_ENV,
                "docker_hub_password": PASSWORD_ENV,
            },
        )
        self.registry = DefaultDriver(client, name=self.name)
        api = (env.get(API_ENV) or HUB_API).rstrip("/")
        self.api, self.transport = api_transport(client, options, api, _auth(api, settings, client))
        self._deletion_checked: set[str] = set()

    # -- the Hub API ---------------------------------------------------------------------

    def list_tags(self, repository: Repository) -> list[TagInfo]:
        url: str | None = f"{self._tags_url(repository)}?page_size={PAGE_SIZE}"
        what = f"tags of {repository.familiar} (Docker Hub API)"
        tags: list[TagInfo] = []
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            doc = _json(self._call("GET", url, what, 200))
            for item in doc.get("results") or []:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    tags.append(_tag_info(item))
            url = urljoin(f"{self.api}/", doc["next"]) if doc.get("next") else None
            if url is not None and not self._on_api(url):
                raise ProtocolError(f"{what}: the next page is on another host, not followed")
        return tags

    def delete_tag(self, repository: Repository, tag: str) -> None:
        self._delete(repository, tag, f"deleting {repository.familiar}:{tag}")

    def _delete(self, repository: Repository, tag: str, what: str, after: str = "") -> None:
        self._needs_credentials(what)
        url = f"{self._tags_url(repository)}/{quote(tag, safe='')}/"
        try:
            self._call("DELETE", url, what, 204)
        except (Unauthorized, Forbidden) as error:
            if error.method != "DELETE":
                raise  # the login itself was refused
            # A JWT that lists but may not delete: a personal access token without Delete.
            raise Forbidden(
                f"{what}: Docker Hub refused to delete with the credentials from "
                f"{self.transport.auth.source} (HTTP {error.status}){after}",
                status=error.status,
                method=error.method,
                url=error.url,
                hint=PAT_HINT,
            ) from None

    def _tags_url(self, repository: Repository) -> str:
        namespace, _, name = repository.path.partition("/")
        if not name or "/" in name:
            raise InvalidInput(
                f"{repository}: a Docker Hub repository is NAMESPACE/NAME",
                hint="name the repository as docker.io/NAMESPACE/NAME",
            )
        return f"{self.api}/v2/repositories/{quote(namespace)}/{quote(name)}/tags"

    def _on_api(self, url: str) -> bool:
        return urlsplit(url).netloc == urlsplit(self.api).netloc

    def _api_error(self, response: Response, what: str) -> RegistryError:
        """The error for a Hub API answer, with the Hub's own words ({"detail"} or
        {"message"})."""
        return api_error(response, what, said=_SAID, hints=_HINTS)


def _auth(api: str, settings: Mapping[str, str], client: DistributionClient) -> Auth:
    """The token as it is; else a login with the options' (or the Docker config's) username
    and password; else anonymous, which lists public repositories only."""
    if settings[TOKEN_ENV]:
        source = f"${TOKEN_ENV}"
        token = settings[TOKEN_ENV]
        return StaticToken(token, service="Docker Hub", source=source, hint=NO_CREDENTIALS_HINT)
    login = user_and_password(
        settings[USERNAME_ENV],
        settings[PASSWORD_ENV],
        f"${USERNAME_ENV} and ${PASSWORD_ENV}",
        client,
        hint=f"set both, or set ${TOKEN_ENV} instead",
    )
    if login is None:
        return Anonymous(service="the Docker Hub API", hint=NO_CREDENTIALS_HINT)
    username, password, source = login
    body = json.dumps({"username": username, "password": password}).encode()
    return LoginExchange(
        lambda: Request(
            "POST",
            f"{api}/v2/users/login",
            {"Content-Type": "application/json", "Accept": "application/json"},
            body,
            service="the Docker Hub login",
        ),
        lambda response: _jwt(response, username, source),
        service="Docker Hub",
        source=source,
        hint=NO_CREDENTIALS_HINT,
    )


def _jwt(response: Response, username: str, source: str) -> str:
    """The JWT from the answer to `POST /v2/users/login`, or the error for a refused login."""
    if response.status_code == 401:
        second_factor = "login_2fa_token" in json_body(response)
        raise Unauthorized(
            f"Docker Hub refused the login of {username!r} from {source}",
            status=401,
            method="POST",
            url=response.url,
            hint="the account uses two-factor authentication: log in with a personal "
            "access token with the Read, Write, Delete scope as the password"
            if second_factor
            else "check the username and the password or token",
        )
    if response.status_code != 200:
        raise api_error(response, "Docker Hub login", said=_SAID, hints=_HINTS)
    token = _json(response).get("token")
    if not isinstance(token, str) or not token:
        raise ProtocolError("the Docker Hub login answered without a token", url=response.url)
    return token


def _tag_info(item: Mapping[str, object]) -> TagInfo:
    digest = item.get("digest")
    pushed = parse_created(item.get("tag_last_pushed")) or parse_created(item.get("last_updated"))
    if not (isinstance(digest, str) and digest):
        digest = None  # the engine then resolves the tag through the registry
    return TagInfo(str(item["name"]), digest, pushed)


def _json(response: Response) -> dict:
    hint = f"check ${API_ENV}, which must name the Hub API (default {HUB_API})"
    return json_object(response, api="Docker Hub API", hint=hint)
