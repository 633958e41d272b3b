"""The `dockerhub` driver: Docker Hub's own API for tags, Registry v2 for manifests.

Docker Hub's registry (registry-1.docker.io) does not delete tags through the Registry v2
API, so listing and deleting tags go through the Hub API at https://hub.docker.com:

* `GET /v2/repositories/{namespace}/{repo}/tags?page_size=100`, following the absolute
  `next` URL: every tag with its digest and push time (`tag_last_pushed`), which spares
  the cleanup engine a HEAD per tag and an image-config read per image.
* `DELETE /v2/repositories/{namespace}/{repo}/tags/{tag}/` (204): only that tag goes;
  the image stays for any other tag on it.

Hub API calls carry `Authorization: Bearer <JWT>`. The JWT is, in this order:
`--repo-docker-hub-token` (or its env twin) as it is (the `StaticToken` auth strategy); or a
`POST /v2/users/login` with `--repo-docker-hub-username` and `--repo-docker-hub-password`
(or their twins), or with the username and password (or token) stored for Docker Hub in the
Docker config (the `LoginExchange` strategy, which logs in again once when the JWT expires).
The spec's options are in dockerhub.py; `resolve_native_credentials` decides where each
comes from. The Hub API has its own transport (`--insecure-registry hub.docker.com`
applies to it); `PORTSIDE_DOCKER_HUB_API` points the driver at another Hub API (the tests'
fake).

The registry itself is served by registry-1.docker.io, not docker.io: that rewrite is the
`dockerhub` spec's `v2_hosts` (dockerhub.py), applied to every Docker Hub
reference whatever driver serves it (pull, copy and inspect use no driver).

Resolving tags and reading manifests and blobs stay on the Registry v2 API, through the
`default` driver this one wraps. It does not offer `delete_manifest`: the Hub registry does
not delete by digest, so the cleanup engine deletes every tag through the Hub API.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import quote, urljoin, urlsplit

from drivers.auth.strategies import Anonymous, Auth, LoginExchange, Request, StaticToken
from drivers.errors import (
    Forbidden,
    InvalidInput,
    ProtocolError,
    Unauthorized,
)
from drivers.http.client import Response
from drivers.reference import Repository
from drivers.registries.contract import TagInfo, parse_created
from drivers.registries.dockerhub import PASSWORD, TOKEN, USERNAME
from drivers.registries.native import (
    ApiHints,
    ThroughRegistryV2,
    api_error,
    json_body,
    json_object,
    listed_tag,
)
from drivers.registries.options import NativeCredentials

HUB_API = "https://hub.docker.com"
API_ENV = "PORTSIDE_DOCKER_HUB_API"
TOKEN_ENV, USERNAME_ENV, PASSWORD_ENV = TOKEN.envvar, USERNAME.envvar, PASSWORD.envvar
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

HINTS = ApiHints(
    not_found="check the namespace, repository and tag on hub.docker.com",
    unauthorized=NO_CREDENTIALS_HINT,
    forbidden=NO_CREDENTIALS_HINT,
    rate_limited="Docker Hub limits API calls per account: wait, then run again",
    said=("detail", "message", "text"),  # {"detail"} or {"message"}
)


class DockerHubDriver(ThroughRegistryV2):
    name: ClassVar[str] = "dockerhub"
    api_path, api_env, hints = HUB_API, API_ENV, HINTS

    def _auth(self, credentials: NativeCredentials, api: str) -> Auth:
        """The token as it is; else a login with the options' (or the Docker config's) username
        and password; else anonymous, which lists public repositories only."""
        if credentials[TOKEN]:
            source = credentials.source(TOKEN)
            return StaticToken(
                credentials[TOKEN], service="Docker Hub", source=source, hint=NO_CREDENTIALS_HINT
            )
        if not credentials[USERNAME]:  # the pair goes together: both, or neither
            return Anonymous(service="the Docker Hub API", hint=NO_CREDENTIALS_HINT)
        username, password = credentials[USERNAME], credentials[PASSWORD]
        source = credentials.source(USERNAME, PASSWORD)
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

    # -- the Hub API ---------------------------------------------------------------------

    def list_tags(self, repository: Repository) -> list[TagInfo]:
        url: str | None = f"{self._tags_url(repository)}?page_size={PAGE_SIZE}"
        what = f"tags of {repository.familiar} (Docker Hub API)"
        tags: list[TagInfo] = []
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            doc = json_object(self._call("GET", url, what, 200), "Docker Hub API", API_ENV)
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
        url = f"{self._tags_url(repository)}/{quote(tag, safe='')}/"
        # Docker Hub answers 401 to a JWT that may list but not delete: a personal access
        # token without the Delete scope.
        refusals = (Unauthorized, Forbidden)
        self._delete_call(url, what, 204, after, hint=PAT_HINT, refusals=refusals)

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
        raise api_error(response, "Docker Hub login", HINTS)
    token = json_object(response, "Docker Hub API", API_ENV).get("token")
    if not isinstance(token, str) or not token:
        raise ProtocolError("the Docker Hub login answered without a token", url=response.url)
    return token


def _tag_info(item: Mapping[str, object]) -> TagInfo:
    pushed = parse_created(item.get("tag_last_pushed")) or parse_created(item.get("last_updated"))
    return listed_tag(str(item["name"]), item.get("digest"), pushed)
