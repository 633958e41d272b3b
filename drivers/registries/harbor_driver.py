"""The `harbor` driver: Harbor's API v2.0 for tags, Registry v2 for manifests.

Deleting a manifest through the Registry v2 API deletes the whole artifact in Harbor, with
every tag on it. Harbor's own API removes one tag and leaves the artifact:

* `GET /api/v2.0/projects/{project}/repositories/{repo}/artifacts?with_tag=true&page=N`:
  every artifact with its digest and its tags, each tag with its `push_time`, which spares
  the cleanup engine a HEAD per tag and an image-config read per image.
* `DELETE …/artifacts/{digest}/tags/{tag}` (200): only that tag goes.

A repository `project/a/b` is project `project`, repository `a/b`; Harbor wants the
repository name URL-encoded twice (`a%252Fb`), since its router decodes the path once.

API calls carry HTTP Basic credentials of a user or robot account (the `BasicAuth` auth
strategy): the spec's `--repo-harbor-username`/`--repo-harbor-password` (harbor.py), else
their env twins, else the username and password stored for the Harbor host in the Docker
config (`resolve_native_credentials` decides). The API is `/api/v2.0` on the registry's
host, with its scheme and TLS settings; `PORTSIDE_HARBOR_API` names another (the tests' fake).
"""

from __future__ import annotations

import contextlib
from typing import ClassVar
from urllib.parse import quote

from drivers.auth.strategies import Anonymous, Auth, BasicAuth
from drivers.distribution import DistributionClient
from drivers.errors import (
    InvalidInput,
    ProtocolError,
)
from drivers.http.client import Response
from drivers.reference import Reference, Repository
from drivers.registries.contract import TagInfo, parse_created
from drivers.registries.harbor import PASSWORD, USERNAME
from drivers.registries.native import ApiHints, ThroughRegistryV2, listed_tag
from drivers.registries.options import NativeCredentials

API_PATH = "/api/v2.0"
API_ENV = "PORTSIDE_HARBOR_API"
PAGE_SIZE = 100  # Harbor's largest page
# A digest no artifact has: deleting a tag from it answers 404 only when the credentials may
# delete tags at all (Harbor checks the permission first).
_PROBE_DIGEST = "sha256:" + "0" * 64

ROLE_HINT = (
    "deleting tags needs the project role Maintainer or Project Admin (Developer may not), "
    "or a robot account with the Delete Tag permission on the project"
)
NO_CREDENTIALS_HINT = (
    f"pass {USERNAME.flag} and {PASSWORD.flag} (${USERNAME.envvar}, "
    f"${PASSWORD.envvar}), or `portside login` to the Harbor host with a user or robot account"
)

# Harbor's error body is {"errors": [{"code", "message"}]}, the Registry v2 shape, so its own
# words come with the parsed `errors[]`.
HINTS = ApiHints(
    not_found="check the project, repository and tag in Harbor",
    unauthorized=NO_CREDENTIALS_HINT,
    forbidden=ROLE_HINT,
)


class HarborDriver(ThroughRegistryV2):
    """Tags through the Harbor API; manifests, blobs and referrers through Registry v2."""

    name: ClassVar[str] = "harbor"
    api_path, api_env, hints = API_PATH, API_ENV, HINTS

    def __init__(self, client: DistributionClient, *args: object) -> None:
        super().__init__(client, *args)  # type: ignore[arg-type]
        self._digests: dict[tuple[str, str], str] = {}  # (repository, tag) -> digest, listed

    def _auth(self, credentials: NativeCredentials, api: str) -> Auth:
        """The login (options, env twins or the Docker config's entry for the host); else
        anonymous, which lists public projects only."""
        if not credentials[USERNAME]:  # the pair goes together: both, or neither
            return Anonymous(service="the Harbor API", hint=NO_CREDENTIALS_HINT)
        hint = "check the username and password; a robot account's name includes its robot$ prefix"
        source = credentials.source(USERNAME, PASSWORD)
        return BasicAuth(
            credentials[USERNAME],
            credentials[PASSWORD],
            service="Harbor",
            source=source,
            hint=hint,
        )

    # -- the Harbor API ------------------------------------------------------------------

    def list_tags(self, repository: Repository) -> list[TagInfo]:
        base = f"{self._artifacts_url(repository)}?with_tag=true&page_size={PAGE_SIZE}"
        what = f"tags of {repository} (Harbor API)"
        tags: list[TagInfo] = []
        seen = 0
        page = 1
        while True:
            # Public projects list without credentials; private ones need them.
            response = self._call("GET", f"{base}&page={page}", what, 200)
            artifacts = _json_list(response)
            seen += len(artifacts)
            for artifact in artifacts:
                tags.extend(self._tags_of(repository, artifact))
            if not artifacts or not _more_pages(response, seen, len(artifacts)):
                return tags
            page += 1

    def delete_tag(self, repository: Repository, tag: str) -> None:
        digest = self._digests.get((repository.path, tag))
        if digest is None:
            digest = self.registry.resolve(Reference(repository, tag=tag)).digest
        self._delete_from(repository, digest, tag, f"deleting {repository}:{tag}")

    def _delete_probe(self, repository: Repository, tag: str, after: str) -> None:
        # From an artifact that does not exist: Harbor checks the permission first.
        self._delete_from(repository, _PROBE_DIGEST, tag, str(repository), after)

    def _delete_from(
        self, repository: Repository, digest: str, tag: str, what: str, after: str = ""
    ) -> None:
        reference = quote(digest, safe=":")  # sha256:…, as Harbor's own links write it
        url = f"{self._artifacts_url(repository)}/{reference}/tags/{quote(tag, safe='')}"
        self._delete_call(url, what, 200, after, hint=ROLE_HINT)

    def _tags_of(self, repository: Repository, artifact: object) -> list[TagInfo]:
        if not isinstance(artifact, dict):
            return []
        digest = artifact.get("digest")
        digest = digest if isinstance(digest, str) and digest else None
        found = []
        for item in artifact.get("tags") or []:  # null for an untagged artifact
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                if digest is not None:
                    self._digests[(repository.path, item["name"])] = digest
                pushed = parse_created(item.get("push_time")) or parse_created(
                    artifact.get("push_time")
                )
                found.append(listed_tag(item["name"], digest, pushed))
        return found

    def _artifacts_url(self, repository: Repository) -> str:
        project, _, name = repository.path.partition("/")
        if not name:
            raise InvalidInput(
                f"{repository}: a Harbor repository is PROJECT/NAME",
                hint="name the repository as HOST/PROJECT/NAME",
            )
        # Twice: Harbor decodes the path once before routing, so `a/b` travels as a%252Fb.
        encoded = quote(quote(name, safe=""), safe="")
        return f"{self.api}/projects/{quote(project, safe='')}/repositories/{encoded}/artifacts"


def _more_pages(response: Response, seen: int, got: int) -> bool:
    """Harbor says `X-Total-Count` and a `Link: <…>; rel="next"`; without them a full page
    means there may be more."""
    if 'rel="next"' in (response.headers.get("Link") or ""):
        return True
    total = response.headers.get("X-Total-Count")
    if total is not None and total.strip().isdigit():
        return seen < int(total)
    return got >= PAGE_SIZE


def _json_list(response: Response) -> list:
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        artifacts = response.json()
        if isinstance(artifacts, list):
            return artifacts
    raise ProtocolError(
        "the Harbor API answered with something other than a JSON array of artifacts",
        url=response.url,
        hint=f"check ${API_ENV}, which must name the Harbor API (…/api/v2.0), if set",
    )
