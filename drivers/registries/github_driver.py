"""The `github` driver: GitHub Packages (ghcr.io) through the REST Packages API.

On ghcr.io a package version is a manifest (its `name` is the digest) and carries the tags
on it (`metadata.container.tags`); deleting a version deletes every tag on it, and there is
no tag-only delete. The registry API of ghcr.io deletes nothing. So:

* `list_tags` lists the versions (`GET /{users|orgs}/{owner}/packages/container/{pkg}/
  versions?per_page=100`, following `Link: rel="next"`): every tag with its digest and
  `updated_at` as its push time, with no manifest request per tag. It is the run's one
  listing (`ListsOncePerRun`): `list_untagged`, `list_referrers`, the re-read before
  deleting (`reread_tags`) and every DELETE work from it, and nothing pages while deleting.
* `delete_manifest` deletes the version (`DELETE …/versions/{id}`), then the versions
  GitHub does not protect and nothing left uses: an index's children (unless a remaining
  manifest lists them too, or a tag is on them), and the untagged manifests whose
  `subject` is a deleted child.
* `delete_tag` / `delete_tags` (a tag whose version also carries a kept tag) push a unique
  tiny manifest to each tag through the Registry v2 API, which moves only that tag, find
  the new versions on the listing's first page (newest first; GitHub has no lookup by
  digest), then delete them.
* Mutations (DELETE, the untag push) go one at a time, `--repo-github-pause` seconds apart
  (default 1), as GitHub's REST best practices ask for its secondary rate limit.
* `request_budget` tells the engine how many requests its plan needs and how many the
  primary rate limit has left; once GitHub says the limit is spent for longer than the
  retry logic waits, nothing more is sent (continuing risks the token being blocked).
* `list_repositories` lists the owner's container packages (`--all-repositories` on
  `ghcr.io/OWNER`).
* `list_referrers` answers from the untagged versions whose manifest's `subject` is the
  digest (ghcr.io has no referrers API), so the engine plans signatures and attestations
  pushed as OCI referrers like any other.

Manifests are read through the Registry v2 API once per digest, and only where the listing
cannot tell (github_graph.py).

`ghcr.io/OWNER/a/b` is the package `a/b` (percent-encoded in URLs) of OWNER, a user or an
organisation: one `GET /users/{owner}` answers which (`type`). The API base is
`$GITHUB_API_URL` (GitHub Actions sets it, GitHub Enterprise Server included), else
https://api.github.com. The token is the spec's (github.py).

PyGithub is not used: its `Requester` would send its own HTTP, bypassing the Transport
that carries the token (auth strategy), `--insecure-registry`, proxies and retries.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace
from typing import Any, ClassVar
from urllib.parse import quote

from drivers.auth.strategies import Anonymous, Auth, StaticToken
from drivers.errors import (
    CredentialError,
    InvalidInput,
    NotFound,
    PortsideError,
    ProtocolError,
    RegistryError,
)
from drivers.http.client import Response
from drivers.manifest import Descriptor, Manifest
from drivers.reference import Reference, Repository
from drivers.registries.contract import RequestBudget, TagDeletion, TagInfo, UntaggedInfo
from drivers.registries.github import PAUSE, SCOPES_HINT, TOKEN
from drivers.registries.github_api import (
    API_BASE,
    API_ENV,
    HEADERS,
    HINTS,
    MAX_PAGES,
    MAX_WAIT,
    NO_TOKEN_HINT,
    PAGE_SIZE,
    RATE_TRIES,
    REFUSED_HINT,
    Budget,
    Pacer,
    Version,
    json_list,
    next_link,
    pause_of,
    rate_limit_wait,
    spent,
    version_of,
)
from drivers.registries.github_graph import Manifests, going_with, subject_index, used_children
from drivers.registries.native import ThroughRegistryV2, json_body, listed_tag
from drivers.registries.options import NativeCredentials


class GithubDriver(ThroughRegistryV2):
    name: ClassVar[str] = "github"
    api_path, api_env, hints = API_BASE, API_ENV, HINTS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # ThroughRegistryV2's (client, options, credentials)
        self._pacer = Pacer(pause_of(self.credentials[PAUSE] or None))
        self._owner_kinds: dict[str, str] = {}
        self._versions: dict[str, dict[str, Version]] = {}  # path -> digest -> version
        self._manifests = Manifests(self.registry.get_manifest)  # read once per digest
        self._deleted: set[str] = set()  # versions this driver deleted
        self._subjects: dict[str, dict[str, list[str]]] = {}  # path -> subject -> untagged
        self._scopes: str | None = None  # X-OAuth-Scopes, when GitHub sent it
        self._budget: Budget | None = None  # the primary limit, as the latest answer said
        self._spent = False  # GitHub asked for a longer wait than MAX_WAIT: send no more
        self._lock = threading.RLock()  # a cascade deletes under it

    def _auth(self, credentials: NativeCredentials, api: str) -> Auth:
        if not credentials[TOKEN]:
            return Anonymous(service="the GitHub API", hint=NO_TOKEN_HINT)
        hint = f"the token is invalid or expired: {NO_TOKEN_HINT}"
        return StaticToken(
            credentials[TOKEN], service="GitHub", source=credentials.source(TOKEN), hint=hint
        )

    def _request(self, method: str, url: str) -> Response:
        """Wait out GitHub's rate limits: a 403 or 429 with `Retry-After` (the secondary
        limit) or with `X-RateLimit-Remaining: 0` (the primary one, until its reset). A wait
        longer than MAX_WAIT stops every later request of the run, unsent."""
        if self._spent:
            raise spent(self._budget, url)
        for _ in range(RATE_TRIES):
            response = self.transport.request(method, url, headers=HEADERS)
            self._budget = Budget.of(response) or self._budget
            if response.headers.get("X-OAuth-Scopes") is not None:
                self._scopes = response.headers["X-OAuth-Scopes"]
            wait = rate_limit_wait(response)
            if wait is None:
                break
            response.close()
            if wait > MAX_WAIT:
                self._spent = True
                raise spent(self._budget, url)
            time.sleep(wait)
        return response

    # -- listing ---------------------------------------------------------------------------

    def list_tags(self, repository: Repository) -> list[TagInfo]:
        return self._tags(self._list_versions(repository).values())

    @staticmethod
    def _tags(versions: Collection[Version]) -> list[TagInfo]:
        return [listed_tag(t, v.digest, v.updated) for v in versions for t in v.tags]

    def reread_tags(self, repository: Repository) -> list[TagInfo]:
        """The listing's tags as the registry has them now, with no second listing: the
        registry's tag names (Registry v2 `tags/list`), a HEAD for each name the listing
        did not have. A tag pushed onto a listed version puts it among the tagged ones."""
        known = self._known(repository)
        try:
            names = {t.tag for t in self.registry.list_tags(repository)}
        except NotFound:  # distribution 2.8 answers a repository without tags so
            names = set()
        listed = {tag for version in known.values() for tag in version.tags}
        new: dict[str, str] = {}
        for tag in sorted(names - listed):
            try:
                new[tag] = self.registry.resolve(Reference(repository, tag=tag)).digest
            except NotFound:
                continue  # gone again
        with self._lock:
            versions = self._versions.setdefault(repository.path, {})
            for digest, version in list(versions.items()):
                tags = [t for t in version.tags if t in names]
                tags += [t for t, d in new.items() if d == digest]
                versions[digest] = replace(version, tags=tuple(tags))
            now = list(versions.values())
        known_digests = {v.digest for v in now}
        pushed = [TagInfo(t, d) for t, d in new.items() if d not in known_digests]
        return self._tags(now) + pushed

    def list_repositories(self, prefix: str = "") -> Iterator[str]:
        """Every container package of the owner `prefix` names (`OWNER/`): `GET /{users|orgs}/
        {owner}/packages?package_type=container`, paged, as `OWNER/PACKAGE`."""
        owner = prefix.split("/", 1)[0]
        if not owner:
            raise InvalidInput(
                "GitHub Packages has no catalog of every package: name the owner",
                hint="pass ghcr.io/OWNER with --all-repositories",
            )
        kind = self._owner_kind(owner)
        url: str | None = (
            f"{self.api}/{kind}/{quote(owner, safe='')}/packages"
            f"?package_type=container&per_page={PAGE_SIZE}"
        )
        names: list[str] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return iter(sorted(n for n in names if n.startswith(prefix)))
            response = self._call("GET", url, f"the container packages of {owner}", 200)
            names += [
                f"{owner}/{item['name']}"
                for item in json_list(response)
                if isinstance(item, dict) and isinstance(item.get("name"), str)
            ]
            url = next_link(response.headers.get("Link", ""))
        raise ProtocolError(f"packages of {owner}: more than {MAX_PAGES} pages", url=self.api)

    def list_untagged(self, repository: Repository) -> list[UntaggedInfo]:
        """The untagged versions of the latest listing (`list_tags` lists): one listing."""
        versions = self._known(repository).values()
        return [UntaggedInfo(v.digest, v.updated) for v in versions if not v.tags]

    def _list_versions(self, repository: Repository) -> dict[str, Version]:
        versions: dict[str, Version] = {}
        for page in self._pages(repository):
            versions.update((version.digest, version) for version in page)
        with self._lock:
            self._versions[repository.path] = versions
            self._subjects.pop(repository.path, None)
        return dict(versions)

    def _pages(self, repository: Repository, size: int = PAGE_SIZE) -> Iterator[list[Version]]:
        """The versions, a page at a time (newest first), following `Link: rel="next"`."""
        what = f"versions of {repository} (GitHub Packages API)"
        url: str | None = f"{self._package_url(repository)}/versions?per_page={size}"
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self._call("GET", url, what, 200)
            yield [v for item in json_list(response) if (v := version_of(item)) is not None]
            url = next_link(response.headers.get("Link", ""))
        raise ProtocolError(f"{what}: more than {MAX_PAGES} pages, stopped", url=self.api)

    def _package_url(self, repository: Repository) -> str:
        owner, _, package = repository.path.partition("/")
        if not package:
            raise InvalidInput(
                f"{repository}: a GitHub package is OWNER/PACKAGE",
                hint=f"name the package as {repository.registry}/OWNER/PACKAGE",
            )
        kind, owner, package = (
            self._owner_kind(owner),
            quote(owner, safe=""),
            quote(package, safe=""),
        )
        return f"{self.api}/{kind}/{owner}/packages/container/{package}"

    def _owner_kind(self, owner: str) -> str:
        """`orgs` or `users`: the one request `GET /users/{owner}` answers for both."""
        if owner not in self._owner_kinds:
            url = f"{self.api}/users/{quote(owner, safe='')}"
            doc = json_body(self._call("GET", url, f"the GitHub owner {owner}", 200))
            self._owner_kinds[owner] = "orgs" if doc.get("type") == "Organization" else "users"
        return self._owner_kinds[owner]

    def _known(self, repository: Repository) -> dict[str, Version]:
        with self._lock:
            known = self._versions.get(repository.path)
        return dict(known) if known is not None else self._list_versions(repository)

    # -- manifests -------------------------------------------------------------------------

    def list_referrers(self, repository: Repository, digest: str) -> list[Descriptor] | None:
        """The untagged versions whose manifest's `subject` is `digest`."""
        known = self._known(repository)
        found = [d for d in self._subject_index(repository).get(digest, ()) if d in known]
        return [self._manifests.get(repository, d).descriptor() for d in found]

    def _subject_index(self, repository: Repository) -> dict[str, list[str]]:
        """Built once per listing (reading the untagged versions no read index lists)."""
        with self._lock:
            index = self._subjects.get(repository.path)
        if index is None:
            index = subject_index(repository, self._known(repository), self._manifests)
            with self._lock:
                self._subjects[repository.path] = index
        return index

    def get_manifest(self, repository: Repository, reference: str) -> Manifest:
        # A digest's manifest never changes: the engine's reads and the cascade's share one.
        if reference.startswith("sha256:"):
            return self._manifests.get(repository, reference)
        return super().get_manifest(repository, reference)

    # -- deleting --------------------------------------------------------------------------

    def check_deletion(self, repository: Repository) -> None:
        """A token GitHub says lacks `delete:packages` (classic tokens list their scopes in
        `X-OAuth-Scopes`) stops the run before anything is deleted."""
        if repository.path in self._deletion_checked:
            return
        auth = self.transport.auth
        if auth.is_anonymous:
            raise CredentialError(f"{repository}: deleting needs a GitHub token", hint=auth.hint)
        self._known(repository)
        scopes = {s.strip() for s in (self._scopes or "").split(",")}
        if self._scopes is not None and "delete:packages" not in scopes:
            raise CredentialError(
                f"{repository}: the token from {auth.source} lacks the delete:packages scope "
                f"(it has: {self._scopes or 'none'}); nothing was deleted",
                hint=SCOPES_HINT,
            )
        self._deletion_checked.add(repository.path)

    def request_budget(
        self, repository: Repository, digests: Collection[str], untags: int
    ) -> RequestBudget | None:
        """What deleting `digests` (and what goes with them) and `untags` tags costs: a
        DELETE per version, and per untag a push, a DELETE and a share of one first-page
        listing; against the primary limit's remaining requests."""
        if self._budget is None:
            return None
        going = going_with(repository, self._known(repository), self._manifests, digests)
        planned = len(going) + 2 * untags + math.ceil(untags / PAGE_SIZE)
        return RequestBudget(
            planned, len(going) + untags, untags, self._budget.remaining, self._budget.reset
        )

    def delete_manifest(self, repository: Repository, digest: str) -> None:
        version = self._find(repository, digest)
        children = self._manifests.shape(repository, digest)[0]  # read before it is gone
        self._delete_version(repository, version)
        with self._lock:  # one cascade at a time, each seeing the others' deletions
            self._cascade(repository, digest, children, referrers_too=False)

    def delete_tag(self, repository: Repository, tag: str) -> None:
        """Move `tag` onto a unique tiny manifest, then delete that manifest's version."""
        error = self._untag(repository, [tag])[tag]
        if error is not None:
            raise error

    def delete_tags(self, repository: Repository, tags: Sequence[str]) -> list[TagDeletion]:
        """`delete_tag` for many: every push first, then one look at the newest versions
        for all their tiny manifests, then the DELETEs."""
        errors = self._untag(repository, tags)
        return [TagDeletion(t, str(errors[t]) if errors[t] else None) for t in tags]

    def _untag(
        self, repository: Repository, tags: Sequence[str]
    ) -> dict[str, PortsideError | None]:
        errors: dict[str, PortsideError | None] = dict.fromkeys(tags)
        pushed: dict[str, str] = {}
        for tag in tags:
            try:
                with self._pacer:
                    pushed[tag] = self.registry.push_dummy(repository, tag)
            except PortsideError as error:
                errors[tag] = error
        found = self._newest(repository, set(pushed.values())) if pushed else {}
        for tag, digest in pushed.items():
            if digest not in found:
                errors[tag] = NotFound(f"{repository}@{digest}: its tiny manifest's version")
                continue
            try:
                self._delete_version(repository, found[digest])
            except PortsideError as error:
                errors[tag] = error
        return errors

    def _newest(self, repository: Repository, digests: set[str]) -> dict[str, Version]:
        """The versions of manifests just pushed: GitHub lists newest first, so the first
        page (of up to 100) has them; no lookup by digest exists."""
        found: dict[str, Version] = {}
        for page in self._pages(repository, min(PAGE_SIZE, max(len(digests), 1))):
            found.update((v.digest, v) for v in page if v.digest in digests)
            if len(found) == len(digests):
                break
        with self._lock:
            self._versions.setdefault(repository.path, {}).update(found)
        return found

    def _find(self, repository: Repository, digest: str) -> Version:
        version = self._known(repository).get(digest)
        if version is None and digest in self._deleted:  # a cascade took it: no re-listing
            raise NotFound(f"{repository}@{digest}: deleted with the manifest that used it")
        if version is None:  # not listed: pushed since, or gone; never page while deleting
            raise NotFound(f"{repository}@{digest}: no such package version in the listing")
        return version

    def _delete_version(self, repository: Repository, version: Version) -> None:
        url = f"{self._package_url(repository)}/versions/{version.id}"
        what = f"deleting {repository}@{version.digest[:19]} (version {version.id})"
        try:
            with self._pacer:
                self._delete_call(url, what, 204, "", hint=REFUSED_HINT)
        except RegistryError as error:
            if error.status == 400 and not error.hint:
                error.hint = REFUSED_HINT
            raise
        with self._lock:
            self._versions.get(repository.path, {}).pop(version.digest, None)
            self._deleted.add(version.digest)

    def _cascade(
        self, repository: Repository, digest: str, children: tuple[str, ...], *, referrers_too: bool
    ) -> None:
        """Delete the untagged versions the manifest `digest` took with it and nothing left
        uses: its children, and (below it) the untagged manifests referring to it."""
        remaining = self._versions.get(repository.path, {})
        if not children and not referrers_too:
            return
        used = used_children(repository, remaining, self._manifests)
        candidates = list(children)
        if referrers_too:
            candidates += self._subject_index(repository).get(digest, [])
        for below in candidates:
            version = remaining.get(below)
            if version is None or version.tags or below in used:
                continue  # gone already, tagged, or a child of something that stays
            grandchildren = self._manifests.shape(repository, below)[0]
            self._delete_version(repository, version)
            self._cascade(repository, below, grandchildren, referrers_too=True)
