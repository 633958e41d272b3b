"""The `gitlab` driver: GitLab's REST API v4 for tags, Registry v2 for manifests.

GitLab's container registry takes no DELETE from a job's registry credentials; its REST API
lists and deletes tags (gitlab_api.py says where the API is and with which token):

* the project: `$CI_PROJECT_ID` when the repository is the job's (`$CI_REGISTRY_IMAGE` or
  below it), else the longest prefix of the image path that is a project
  (`GET /projects/:url-encoded-path`, longest first);
* the repository: the entry of `GET /projects/:id/registry/repositories` whose `path` is the
  image path (paged);
* tags, first through GraphQL (`containerRepository(id:) { tags(first: 100, after:) }`, one
  paged query with each tag's `digest` and `publishedAt`, the push time), by which a tag is
  then judged; when GraphQL does not answer (a job token, an older GitLab, no metadata
  database: `publishedAt` null) the REST listing: `GET …/repositories/:rid/tags`,
  keyset-paged where the server supports it (the `Link` header names the next page), else
  offset-paged (`X-Next-Page`, or `Link`). The list has
  names only; the engine reads each tag's manifest through Registry v2 (which it needs
  anyway) and the image's `created`. The per-tag detail endpoint gives nothing more
  (`digest`, and `created_at`, the image's time, not the push time: gitlab#351538) at one
  API call per tag against GitLab's rate limits, so it is not used;
* deleting: `DELETE …/repositories/:rid/tags/:tag` (200), which removes only that tag on
  GitLab's registry: other tags on the digest stay. Never the bulk endpoint (asynchronous,
  once an hour, by its own rules). A 403 once the probe proved the token may delete tags is
  a protection rule on that tag: it is skipped, with the reason. Untagged manifests, index
  children and blobs are left to GitLab's garbage collector.

Why not python-gitlab: it sends through its own `requests` session, which would bypass the
Transport (proxies, certs.d, `--insecure-registry`, retries, the canary-safe errors), and
`requests` is no runtime dependency of portside. The few calls are plain REST.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from typing import ClassVar
from urllib.parse import quote, urlencode, urlsplit

from drivers.auth.strategies import Auth
from drivers.distribution import DistributionClient
from drivers.errors import Forbidden, InvalidInput, NotFound, Protected, ProtocolError
from drivers.http.client import Response
from drivers.reference import Repository
from drivers.registries.contract import TagInfo
from drivers.registries.gitlab_api import NO_TOKEN_HINT, ROLE_HINT, Job, api_base, auth_for
from drivers.registries.gitlab_graphql import graphql_tags
from drivers.registries.native import ApiHints, ThroughRegistryV2
from drivers.registries.options import NativeCredentials

PAGE_SIZE = 100  # GitLab's largest page
_MAX_PAGES = 100_000  # a guard against an API whose next page never ends
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')

HINTS = ApiHints(
    not_found="check the image path: GitLab names a project, then the repository below it",
    unauthorized=NO_TOKEN_HINT,
    forbidden=ROLE_HINT,
    rate_limited="GitLab limits API calls: wait, then run again",
    said=("message", "error", "error_description"),  # Grape's {"message"}, OAuth's {"error"}
)


class GitLabDriver(ThroughRegistryV2):
    """Tags through the GitLab API; manifests, blobs and referrers through Registry v2."""

    name: ClassVar[str] = "gitlab"
    hints: ClassVar[ApiHints] = HINTS

    def __init__(self, client: DistributionClient, *args: object) -> None:
        self.job = Job.from_env(os.environ)
        # Reading needs no API (Registry v2 lists tags); deleting and listing repositories do,
        # and stop on this error, naming the option, when the API's URL is not known.
        self._no_api: InvalidInput | None = None
        super().__init__(client, *args)  # type: ignore[arg-type]
        self._ids: dict[str, tuple[str, str]] = {}  # image path -> (project id, repository id)
        self._lock = threading.Lock()
        self._push_times: dict[str, bool] = {}  # image path -> listed with push times

    def _api_base(self, client: DistributionClient, credentials: NativeCredentials) -> str:
        try:
            return api_base(client.transport.host, credentials, self.job)
        except InvalidInput as error:
            self._no_api = error
            return ""

    def _auth(self, credentials: NativeCredentials, api: str) -> Auth:
        return auth_for(credentials, self.job)

    # -- finding the project and the repository -----------------------------------------

    def _ids_of(self, repository: Repository) -> tuple[str, str]:
        if self._no_api is not None:
            raise self._no_api
        path = repository.path
        with self._lock:
            if path not in self._ids:
                if self.job.owns(repository.registry, path):
                    project = self.job.project_id
                else:
                    project = self._project_of(path)
                self._ids[path] = (project, self._repository_id(project, path))
            return self._ids[path]

    def _project_of(self, path: str) -> str:
        """The id of the longest prefix of `path` that is a project."""
        parts = path.split("/")
        for end in range(len(parts), 0, -1):
            found = self._lookup("projects", "/".join(parts[:end]))
            if found is not None:
                return found
        raise NotFound(
            f"{path}: no GitLab project at {self.api} has a path this image path starts with",
            hint="check the path (GROUP/PROJECT[/NAME]) and that the token can see the project",
        )

    def _lookup(self, kind: str, path: str) -> str | None:
        """The id of the project or group at `path`; None when there is none (404)."""
        url = f"{self.api}/{kind}/{quote(path, safe='')}"
        response = self._call("GET", url, f"GitLab {kind[:-1]} {path}", 200, 404)
        if response.status_code == 404:
            response.close()
            return None
        doc = response.json()
        if not isinstance(doc, dict) or not isinstance(doc.get("id"), int | str):
            raise ProtocolError(f"GitLab {kind[:-1]} {path}: the answer has no id", url=url)
        return str(doc["id"])

    def _repository_id(self, project: str, path: str) -> str:
        for item in self._repositories(f"projects/{project}", path):
            if item.get("path") == path:
                return str(item["id"])
        raise NotFound(
            f"{path}: project {project} has no container repository with this path",
            hint="check the image path; a repository exists once an image was pushed to it",
        )

    def _repositories(self, owner: str, what: str) -> Iterator[dict]:
        url = f"{self.api}/{owner}/registry/repositories?per_page={PAGE_SIZE}"
        for item in self._pages(url, f"container repositories of {what} (GitLab API)"):
            if isinstance(item, dict) and "id" in item and isinstance(item.get("path"), str):
                yield item

    def list_repositories(self, prefix: str = "") -> Iterator[str]:
        """Every registry repository of the project or group at `prefix` (a project first:
        the job's own, or one at that path; else a group)."""
        prefix = prefix.strip("/")
        if self._no_api is not None:
            raise self._no_api
        if not prefix:
            raise InvalidInput(
                "GitLab lists container repositories by project or group, not by registry",
                hint="name a project or group: HOST/GROUP[/PROJECT] --all-repositories",
            )
        owner = None
        if self.job.owns(self.registry.client.transport.host, prefix):
            owner = f"projects/{self.job.project_id}"
        for kind in ("projects", "groups"):
            found = owner or self._lookup(kind, prefix)
            if found is None:
                continue
            owner = found if found.startswith("projects/") else f"{kind}/{found}"
            for item in list(self._repositories(owner, prefix)):
                project = str(item.get("project_id") or owner.rpartition("/")[2])
                with self._lock:
                    self._ids.setdefault(item["path"], (project, str(item["id"])))
                yield item["path"]
            return
        raise NotFound(
            f"{prefix}: no GitLab project or group at {self.api} has this path",
            hint="check the path, and that the token can see the project or group",
        )

    # -- listing -------------------------------------------------------------------------

    def list_tags(self, repository: Repository) -> list[TagInfo]:
        if self._no_api is not None:  # `portside tags`, a dry run: the registry's own list
            return self.registry.list_tags(repository)
        listed = graphql_tags(self.transport, self.api, self._ids_of(repository)[1])
        self._push_times[repository.path] = listed is not None
        if listed is not None:
            return listed
        what = f"tags of {repository} (GitLab API)"
        url = self._tags_url(repository)
        keyset = f"{url}?" + urlencode(
            {"pagination": "keyset", "per_page": PAGE_SIZE, "sort": "asc"}
        )
        first = self._call("GET", keyset, what, 200, 400, 405)
        if first.status_code != 200:  # no metadata database: offset pagination only
            first.close()
            first = self._call("GET", f"{url}?per_page={PAGE_SIZE}&page=1", what, 200)
        names = dict.fromkeys(
            item["name"]
            for item in self._pages(first, what)
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        )
        return [TagInfo(name) for name in names]

    def _pages(self, start: str | Response, what: str) -> Iterator[object]:
        """The items of every page from `start` (a URL, or the first page's answer)."""
        response = start if isinstance(start, Response) else self._call("GET", start, what, 200)
        for _ in range(_MAX_PAGES):
            items = response.json() if response.content else []
            if not isinstance(items, list):
                raise ProtocolError(f"{what}: the answer is not a JSON array", url=response.url)
            yield from items
            following = self._next_page(response)
            if following is None or not items:
                return
            response = self._call("GET", following, what, 200)
        raise ProtocolError(f"{what}: more than {_MAX_PAGES} pages, stopped", url=self.api)

    def _next_page(self, response: Response) -> str | None:
        """`Link: <…>; rel="next"` (keyset and offset), else `X-Next-Page` (offset)."""
        link = _NEXT.search(response.headers.get("Link") or "")
        if link:
            url = link.group(1)
            if urlsplit(url).netloc != urlsplit(self.api).netloc:  # the token stays home
                raise ProtocolError("the GitLab API's next page is on another host", url=url)
            return url
        number = (response.headers.get("X-Next-Page") or "").strip()
        if not number.isdigit():
            return None
        base = re.sub(r"([?&])page=\d+", "", response.url).rstrip("?&")
        return f"{base}{'&' if '?' in base else '?'}page={number}"

    def cleanup_notes(self, repository: Repository) -> list[str]:
        if self._push_times.get(repository.path):
            judged = "tag times are push times (GitLab's publishedAt, through GraphQL)"
        else:
            judged = (
                "tag times are the images' created times (GitLab's REST API has no push "
                "time; GraphQL gives it with an access token on a registry with the metadata "
                "database)"
            )
        gc = (
            "only tags were deleted: untagged manifests, index children and layers are left "
            "to GitLab's garbage collector (GitLab.com: 24 h after nothing references them)"
        )
        return [judged, gc]

    # -- deleting ------------------------------------------------------------------------

    def check_deletion(self, repository: Repository) -> None:
        self._ids_of(repository)  # a missing project or repository is no probe's success
        super().check_deletion(repository)

    def delete_tag(self, repository: Repository, tag: str) -> None:
        self.check_deletion(repository)  # the token may delete tags here, so a 403 is the tag's
        what = f"deleting {repository}:{tag}"
        try:
            self._delete(repository, tag, what)
        except Forbidden as error:
            raise Protected(
                f"{what}: GitLab protects this tag (HTTP 403 for this tag, while the token may "
                "delete others: a protected or immutable container tag rule); not deleted",
                status=error.status,
                method=error.method,
                url=error.url,
                hint="change the project's container tag protection rules to delete it",
            ) from None

    def _delete(self, repository: Repository, tag: str, what: str, after: str = "") -> None:
        url = f"{self._tags_url(repository)}/{quote(tag, safe='')}"
        self._delete_call(url, what, 200, after, hint=ROLE_HINT)

    def _tags_url(self, repository: Repository) -> str:
        project, rid = self._ids_of(repository)
        return f"{self.api}/projects/{project}/registry/repositories/{rid}/tags"
