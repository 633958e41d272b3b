"""The `quay` driver: Quay's API v1 for tags, Registry v2 for manifests.

Quay (quay.io and self-hosted Quay) lists and deletes tags through its own API at
`https://{host}/api/v1`, on the registry's host:

* `GET /api/v1/repository/{namespace}/{repo}/tag/?limit=100&page=N&onlyActiveTags=true`,
  while `has_additional` is true: every tag with its digest (`manifest_digest`) and push
  time (`start_ts`, epoch seconds), which spares the cleanup engine a HEAD per tag and an
  image-config read per image.
* `DELETE /api/v1/repository/{namespace}/{repo}/tag/{tag}` (204): only that tag goes; the
  image stays for any other tag on it.

API calls carry `Authorization: Bearer <token>` (the `StaticToken` auth strategy), an OAuth
access token or a robot token. The token is, in this order: `--repo-quay-token`
(RegistryOptions.native_credentials `quay_token`); `PORTSIDE_REPO_QUAY_TOKEN`; or the
password stored for the Quay host in the Docker config when its username is `$oauthtoken`,
Quay's convention for `docker login` with a token. The API is on the registry's host, with
its scheme and TLS settings (`--insecure-registry` included); `PORTSIDE_QUAY_API` replaces
the API base URL (the tests' fake).

Resolving tags and reading manifests and blobs stay on the Registry v2 API, through the
`default` driver this one wraps.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import ClassVar
from urllib.parse import quote, urlencode

from drivers.auth import Anonymous, Auth, StaticToken
from drivers.contract import TagInfo
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
    json_object,
    option_settings,
)
from drivers.reference import Repository

API_PATH = "/api/v1"
API_ENV = "PORTSIDE_QUAY_API"
TOKEN_ENV = "PORTSIDE_REPO_QUAY_TOKEN"
TOKEN_USERNAME = "$oauthtoken"  # `docker login -u '$oauthtoken' -p TOKEN quay.io`
PAGE_SIZE = 100  # the API's largest page
_MAX_PAGES = 10_000  # a guard against an API that always says has_additional

NO_TOKEN_HINT = (
    f"pass --repo-quay-token (${TOKEN_ENV}) with an OAuth access token or a robot token, "
    f"or `docker login -u '{TOKEN_USERNAME}'` with the token as the password"
)
PERMISSION_HINT = (
    "the token needs write (repo:write) or admin rights on the repository: grant them to "
    "the robot account or OAuth application in Quay, or use another token"
)


class QuayDriver(ThroughRegistryV2):
    name: ClassVar[str] = "quay"

    def __init__(
        self,
        client: DistributionClient,
        options: object = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        settings = option_settings(options, env, {"quay_token": TOKEN_ENV})
        self.registry = DefaultDriver(client, name=self.name)
        auth = _token_auth(settings[TOKEN_ENV], client)
        self.api, self.transport = api_transport(
            client, options, env.get(API_ENV) or API_PATH, auth
        )
        self._deletion_checked: set[str] = set()

    # -- the Quay API --------------------------------------------------------------------

    def list_tags(self, repository: Repository) -> list[TagInfo]:
        what = f"tags of {repository} (Quay API)"
        tags: list[TagInfo] = []
        for page in range(1, _MAX_PAGES + 1):
            query = urlencode({"limit": PAGE_SIZE, "page": page, "onlyActiveTags": "true"})
            # Public repositories list without a token; private ones need it.
            doc = _json(self._call("GET", f"{self._tags_url(repository)}/?{query}", what, 200))
            for item in doc.get("tags") or []:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    tags.append(_tag_info(item))
            if doc.get("has_additional") is not True:
                return tags
        raise ProtocolError(f"{what}: more than {_MAX_PAGES} pages, stopped", url=self.api)

    def delete_tag(self, repository: Repository, tag: str) -> None:
        self._delete(repository, tag, f"deleting {repository}:{tag}")

    def _delete(self, repository: Repository, tag: str, what: str, after: str = "") -> None:
        self._needs_credentials(what)
        url = f"{self._tags_url(repository)}/{quote(tag, safe='')}"
        try:
            self._call("DELETE", url, what, 204)
        except Unauthorized as error:  # the token itself was refused
            error.message += after
            raise
        except Forbidden as error:
            raise Forbidden(
                f"{what}: Quay refused to delete with the token from "
                f"{self.transport.auth.source} (HTTP 403){after}",
                status=error.status,
                method=error.method,
                url=error.url,
                hint=PERMISSION_HINT,
            ) from None

    def _tags_url(self, repository: Repository) -> str:
        if "/" not in repository.path:
            raise InvalidInput(
                f"{repository}: a Quay repository is NAMESPACE/NAME",
                hint=f"name the repository as {repository.registry}/NAMESPACE/NAME",
            )
        return f"{self.api}/repository/{quote(repository.path, safe='/')}/tag"

    def _api_error(self, response: Response, what: str) -> RegistryError:
        """The error for a Quay API answer, with Quay's ApiError words."""
        return api_error(
            response,
            what,
            said=("error_message", "detail", "message"),
            hints={
                NotFound: "check the namespace and repository; a private one needs a token",
                Unauthorized: NO_TOKEN_HINT,
                Forbidden: PERMISSION_HINT,
                RateLimited: "Quay limits API calls: wait, then run again",
            },
        )


def _token_auth(token: str, client: DistributionClient) -> Auth:
    """The token as an auth strategy: the option or its env twin, else the Docker config's
    `$oauthtoken` entry for the host; else anonymous."""
    source = f"--repo-quay-token (${TOKEN_ENV})"
    if not token:
        credential = client.transport.credential
        if credential.username != TOKEN_USERNAME or not credential.password:
            return Anonymous(service="the Quay API", hint=NO_TOKEN_HINT)
        token, source = credential.password, credential.source
    hint = f"the token is invalid or expired: {NO_TOKEN_HINT}"
    return StaticToken(token, service="Quay", source=source, hint=hint)


def _tag_info(item: Mapping[str, object]) -> TagInfo:
    digest = item.get("manifest_digest")
    started = item.get("start_ts")
    pushed = None
    if isinstance(started, int | float) and not isinstance(started, bool):
        pushed = datetime.fromtimestamp(started, tz=timezone.utc)
    if not (isinstance(digest, str) and digest):
        digest = None  # the engine then resolves the tag through the registry
    return TagInfo(str(item["name"]), digest, pushed)


def _json(response: Response) -> dict:
    hint = f"check ${API_ENV}, which must name the Quay API (https://HOST/api/v1)"
    return json_object(response, api="Quay API", hint=hint)
