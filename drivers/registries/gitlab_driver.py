"""The `gitlab` driver: GitLab's REST API v4 through python-gitlab for tags, Registry v2 for
manifests.

GitLab's container registry takes no DELETE from a job's registry credentials; its REST API
lists and deletes tags (gitlab_api.py says where the API is and with which token;
gitlab_client.py builds the python-gitlab client and tells its errors):

* the project: `$CI_PROJECT_ID` when the repository is the job's (`$CI_REGISTRY_IMAGE` or
  below it), else the longest prefix of the image path that is a project
  (`gl.projects.get(path)`, longest first);
* the repository: the entry of `project.repositories.list()` whose `path` is the image path;
* tags, first through GraphQL (gitlab_graphql.py: one paged query with each tag's `digest`
  and `publishedAt`, the push time, by which a tag is then judged); when GraphQL does not
  answer (a job token, an older GitLab, no metadata database: `publishedAt` null), REST:
  `repository.tags.list(pagination="keyset")` where the server supports it, else offset
  pages; python-gitlab follows the `Link` header. The list has names only. The engine asks
  `describe_tags` (`DescribesTags`) for the tags whose time the policy needs: the per-tag
  details (`GET …/tags/:name`: `digest` and `created_at`, the image's time as GitLab reads
  it from its config), fetched concurrently; it reads the other tags' manifests through
  Registry v2 (which it needs anyway), and the image configs only of the tags GitLab gives
  no `created_at` (an index);
* deleting: `repository.tags.delete(name)`, the single-tag endpoint, which removes only that
  tag on GitLab's registry: other tags on the digest stay. Never the bulk endpoint
  (asynchronous, once an hour, by its own rules). A 403 once the probe proved the token may
  delete tags is a protection rule on that tag: it is skipped, with the reason. Untagged
  manifests, index children and blobs are left to GitLab's garbage collector.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from gitlab import exceptions as sdk

from drivers.auth.strategies import Anonymous, Auth
from drivers.distribution import DistributionClient
from drivers.errors import CredentialError, Forbidden, InvalidInput, NotFound, Protected
from drivers.reference import Repository
from drivers.registries.contract import TagInfo, parse_created
from drivers.registries.gitlab_api import NO_TOKEN_HINT, ROLE_HINT, Job, api_base, token_for
from drivers.registries.gitlab_client import answers, connect_gitlab
from drivers.registries.gitlab_graphql import graphql_tags
from drivers.registries.native import ApiHints, ThroughRegistryV2, listed_tag
from drivers.registries.options import NativeCredentials

HINTS = ApiHints(
    not_found="check the image path: GitLab names a project, then the repository below it",
    unauthorized=NO_TOKEN_HINT,
    forbidden=ROLE_HINT,
)
DETAIL_JOBS = 8  # concurrent tag-detail requests
_NAMED = 10  # tags named in the report's note on times


def _tags(count: int) -> str:
    return f"{count} tag" + ("" if count == 1 else "s")


def _details_note(described: dict[str, bool]) -> str:
    """Which time judged each tag judged by time, after REST's tag details (`described`:
    tag -> whether GitLab gave its created_at)."""
    untimed = sorted(tag for tag, timed in described.items() if not timed)
    timed = _tags(len(described) - len(untimed))
    note = (
        "tag times are GitLab's created_at (REST tag details: the image's time, not the push "
        f"time, which GraphQL gives with an access token) for {timed}"
    )
    if untimed:
        names = ", ".join(untimed[:_NAMED]) + (", …" if len(untimed) > _NAMED else "")
        note += (
            "; the images' created (their configs, through Registry v2; an index's is its "
            f"newest image's) for {_tags(len(untimed))} GitLab gave none for: {names}"
        )
    return note


class GitLabDriver(ThroughRegistryV2):
    """Tags through the GitLab API; manifests, blobs and referrers through Registry v2."""

    name: ClassVar[str] = "gitlab"
    hints: ClassVar[ApiHints] = HINTS

    def __init__(self, client: DistributionClient, *args: object) -> None:
        self.job = Job.from_env(os.environ)
        # Reading needs no API (Registry v2 lists tags); deleting and listing repositories do,
        # and stop on this error, naming the option, when the API's URL is not known.
        self._no_api: InvalidInput | None = None
        self.token = None
        super().__init__(client, *args)  # type: ignore[arg-type]
        self._gl: Any = None
        self._repos: dict[str, Any] = {}  # image path -> python-gitlab's registry repository
        self._lock = threading.Lock()
        self._judged: dict[str, str] = {}  # image path -> which time tags are judged by
        # image path -> tag -> whether its details gave a created_at (else the engine reads
        # its images' configs), as `describe_tags` last answered for it
        self._described: dict[str, dict[str, bool]] = {}

    def _api_base(self, client: DistributionClient, credentials: NativeCredentials) -> str:
        try:
            return api_base(client.transport.host, credentials, self.job)
        except InvalidInput as error:
            self._no_api = error
            return ""

    def _auth(self, credentials: NativeCredentials, api: str) -> Auth:
        # python-gitlab sets PRIVATE-TOKEN or JOB-TOKEN itself; the transport adds nothing.
        self.token = token_for(credentials, self.job)
        return Anonymous(service="the GitLab API")

    @property
    def gl(self) -> Any:
        """The python-gitlab client, made on first use (a dry run may need none)."""
        if self._no_api is not None:
            raise self._no_api
        with self._lock:
            if self._gl is None:
                self._gl = connect_gitlab(self.transport, self.api, self.token)
            return self._gl

    def _answers(self, what: str) -> Any:
        return answers(what, self.token)

    # -- finding the project and the repository -----------------------------------------

    def _repository(self, repository: Repository) -> Any:
        """python-gitlab's registry repository for `repository` (its `.tags` manager)."""
        path = repository.path
        gl = self.gl
        with self._lock:
            found = self._repos.get(path)
        if found is not None:
            return found
        if self.job.owns(repository.registry, path):
            project = self.job.project_id
        else:
            project = self._project_of(path)
        what = f"container repositories of project {project} (GitLab API)"
        with self._answers(what):
            listed = gl.projects.get(project, lazy=True).repositories.list(iterator=True)
            found = next((r for r in listed if getattr(r, "path", None) == path), None)
        if found is None:
            raise NotFound(
                f"{path}: project {project} has no container repository with this path",
                hint="check the image path; a repository exists once an image was pushed to it",
            )
        with self._lock:
            return self._repos.setdefault(path, found)

    def _project_of(self, path: str) -> str:
        """The id of the longest prefix of `path` that is a project."""
        parts = path.split("/")
        for end in range(len(parts), 0, -1):
            prefix = "/".join(parts[:end])
            try:
                with self._answers(f"GitLab project {prefix}"):
                    return str(self.gl.projects.get(prefix).id)
            except NotFound:
                continue
        raise NotFound(
            f"{path}: no GitLab project at {self.api} has a path this image path starts with",
            hint="check the path (GROUP/PROJECT[/NAME]) and that the token can see the project",
        )

    def list_repositories(self, prefix: str = "") -> Iterator[str]:
        """Every registry repository of the project or group at `prefix` (a project first:
        the job's own, or one at that path; else a group)."""
        prefix = prefix.strip("/")
        gl = self.gl
        if not prefix:
            raise InvalidInput(
                "GitLab lists container repositories by project or group, not by registry",
                hint="name a project or group: HOST/GROUP[/PROJECT] --all-repositories",
            )
        if self.job.owns(self.registry.client.transport.host, prefix):
            owner = gl.projects.get(self.job.project_id, lazy=True).repositories
        else:
            owner = self._owner(prefix)
        with self._answers(f"container repositories of {prefix} (GitLab API)"):
            listed = [r for r in owner.list(iterator=True) if isinstance(r.path, str)]
        for item in listed:
            with self._lock:
                self._repos.setdefault(item.path, item)
            yield item.path

    def _owner(self, prefix: str) -> Any:
        """The repositories manager of the project at `prefix`, else of the group."""
        kinds = (("projects", "repositories"), ("groups", "registry_repositories"))
        for manager, attribute in kinds:
            try:
                with self._answers(f"GitLab {manager[:-1]} {prefix}"):
                    found = getattr(self.gl, manager).get(prefix)
            except NotFound:
                continue
            return getattr(found, attribute)
        raise NotFound(
            f"{prefix}: no GitLab project or group at {self.api} has this path",
            hint="check the path, and that the token can see the project or group",
        )

    # -- listing -------------------------------------------------------------------------

    def list_tags(self, repository: Repository) -> list[TagInfo]:
        if self._no_api is not None:  # `portside tags`, a dry run: the registry's own list
            return self.registry.list_tags(repository)
        found = self._repository(repository)
        listed = None
        if self.token is not None and not self.token.is_job_token:
            listed = graphql_tags(self.gl, self.api, str(found.id))
        self._judged[repository.path] = "publishedAt" if listed is not None else "created"
        if listed is not None:
            return listed
        what = f"tags of {repository} (GitLab API)"
        with self._answers(what):
            try:
                pages = found.tags.list(iterator=True, pagination="keyset", sort="asc")
            except sdk.GitlabListError as error:
                if error.response_code not in (400, 405):  # 405: no keyset without the DB
                    raise
                pages = found.tags.list(iterator=True)
            names = dict.fromkeys(t.name for t in pages if isinstance(t.name, str))
        return [TagInfo(name) for name in names]

    def describe_tags(self, repository: Repository, tags: Sequence[str]) -> list[TagInfo]:
        """Each tag's `digest` and `created_at` from `GET …/tags/:name`, DETAIL_JOBS at a
        time; a tag deleted since the listing is left out. One API call per tag: for the
        tags whose time a policy needs, not for every tag. Without the API (a dry run with
        no API URL) nothing is known here: the engine reads the registry."""
        if self._no_api is not None:
            return [TagInfo(tag) for tag in tags]
        found = self._repository(repository)

        def one(name: str) -> TagInfo | None:
            try:
                with self._answers(f"tag {repository}:{name} (GitLab API)"):
                    detail = found.tags.get(name).attributes
            except NotFound:
                return None
            return listed_tag(name, detail.get("digest"), parse_created(detail.get("created_at")))

        with ThreadPoolExecutor(max_workers=DETAIL_JOBS) as pool:
            described = [info for info in pool.map(one, tags) if info is not None]
        with self._lock:
            known = self._described.setdefault(repository.path, {})
            known.update((t.tag, t.created is not None) for t in described)
        return described

    def cleanup_notes(self, repository: Repository) -> list[str]:
        if self._judged.get(repository.path) == "publishedAt":
            note = "tag times are push times (GitLab's publishedAt, through GraphQL)"
        elif self._described.get(repository.path):
            note = _details_note(self._described[repository.path])
        else:
            note = (
                "tag times are the images' created times (GitLab's REST API has no push time, "
                "and its created_at is this same time; GraphQL gives the push time with an "
                "access token on a registry with the metadata database)"
            )
        gc = (
            "only tags were deleted: untagged manifests, index children and layers are left "
            "to GitLab's garbage collector (GitLab.com: 24 h after nothing references them)"
        )
        return [note, gc]

    # -- deleting ------------------------------------------------------------------------

    def check_deletion(self, repository: Repository) -> None:
        self._repository(repository)  # a missing project or repository is no probe's success
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
                hint="change the project's container tag protection rules to delete it",
            ) from None

    def _delete(self, repository: Repository, tag: str, what: str, after: str = "") -> None:
        found = self._repository(repository)
        if self.token is None:
            raise CredentialError(
                f"{what}: deleting tags through the GitLab API needs a token, and none was "
                f"found{after}",
                hint=NO_TOKEN_HINT,
            )
        try:
            with self._answers(what):
                found.tags.delete(tag)
        except Forbidden as error:
            raise Forbidden(
                f"{what}: the GitLab API refused to delete with the token from "
                f"{self.token.source} (HTTP 403){after}",
                status=error.status,
                hint=ROLE_HINT,
            ) from None
