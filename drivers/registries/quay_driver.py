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
access token or a robot token. The token is the spec's `--repo-quay-token` (quay.py), else
`PORTSIDE_REPO_QUAY_TOKEN`, else the password stored for the Quay host in the Docker config
when its username is `$oauthtoken`, Quay's convention for `docker login` with a token
(`resolve_native_credentials` decides). The API is on the registry's host, with
its scheme and TLS settings (`--insecure-registry` included); `PORTSIDE_QUAY_API` replaces
the API base URL (the tests' fake).

Resolving tags and reading manifests and blobs stay on the Registry v2 API, through the
`default` driver this one wraps.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import ClassVar
from urllib.parse import quote, urlencode

from drivers.auth.strategies import Anonymous, Auth, StaticToken
from drivers.errors import (
    InvalidInput,
    ProtocolError,
)
from drivers.reference import Repository
from drivers.registries.contract import TagInfo
from drivers.registries.native import (
    ApiHints,
    ThroughRegistryV2,
    json_object,
    listed_tag,
)
from drivers.registries.options import NativeCredentials
from drivers.registries.quay import TOKEN, TOKEN_USERNAME

API_PATH = "/api/v1"
API_ENV = "PORTSIDE_QUAY_API"
TOKEN_ENV = TOKEN.envvar
PAGE_SIZE = 100  # the API's largest page
_MAX_PAGES = 10_000  # a guard against an API that always says has_additional

NO_TOKEN_HINT = (
    f"pass {TOKEN.flag} (${TOKEN_ENV}) with an OAuth access token or a robot token, "
    f"or `docker login -u '{TOKEN_USERNAME}'` with the token as the password"
)
PERMISSION_HINT = (
    "the token needs write (repo:write) or admin rights on the repository: grant them to "
    "the robot account or OAuth application in Quay, or use another token"
)

HINTS = ApiHints(
    not_found="check the namespace and repository; a private one needs a token",
    unauthorized=NO_TOKEN_HINT,
    forbidden=PERMISSION_HINT,
    rate_limited="Quay limits API calls: wait, then run again",
    said=("error_message", "detail", "message"),  # Quay's ApiError
)


class QuayDriver(ThroughRegistryV2):
    name: ClassVar[str] = "quay"
    api_path, api_env, hints = API_PATH, API_ENV, HINTS

    def _auth(self, credentials: NativeCredentials, api: str) -> Auth:
        """The token (the option, its env twin or the Docker config's `$oauthtoken` entry for
        the host); else anonymous, which lists public repositories only."""
        if not credentials[TOKEN]:
            return Anonymous(service="the Quay API", hint=NO_TOKEN_HINT)
        hint = f"the token is invalid or expired: {NO_TOKEN_HINT}"
        return StaticToken(
            credentials[TOKEN], service="Quay", source=credentials.source(TOKEN), hint=hint
        )

    # -- the Quay API --------------------------------------------------------------------

    def list_tags(self, repository: Repository) -> list[TagInfo]:
        what = f"tags of {repository} (Quay API)"
        tags: list[TagInfo] = []
        for page in range(1, _MAX_PAGES + 1):
            query = urlencode({"limit": PAGE_SIZE, "page": page, "onlyActiveTags": "true"})
            # Public repositories list without a token; private ones need it.
            response = self._call("GET", f"{self._tags_url(repository)}/?{query}", what, 200)
            doc = json_object(response, "Quay API", API_ENV)
            for item in doc.get("tags") or []:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    tags.append(_tag_info(item))
            if doc.get("has_additional") is not True:
                return tags
        raise ProtocolError(f"{what}: more than {_MAX_PAGES} pages, stopped", url=self.api)

    def delete_tag(self, repository: Repository, tag: str) -> None:
        self._delete(repository, tag, f"deleting {repository}:{tag}")

    def _delete(self, repository: Repository, tag: str, what: str, after: str = "") -> None:
        url = f"{self._tags_url(repository)}/{quote(tag, safe='')}"
        self._delete_call(url, what, 204, after, hint=PERMISSION_HINT)

    def _tags_url(self, repository: Repository) -> str:
        if "/" not in repository.path:
            raise InvalidInput(
                f"{repository}: a Quay repository is NAMESPACE/NAME",
                hint=f"name the repository as {repository.registry}/NAMESPACE/NAME",
            )
        return f"{self.api}/repository/{quote(repository.path, safe='/')}/tag"


def _tag_info(item: Mapping[str, object]) -> TagInfo:
    started = item.get("start_ts")  # epoch seconds
    pushed = None
    if isinstance(started, int | float) and not isinstance(started, bool):
        pushed = datetime.fromtimestamp(started, tz=timezone.utc)
    return listed_tag(str(item["name"]), item.get("manifest_digest"), pushed)
