"""The reading half of the `github` driver: requests to the REST Packages API (the token,
GitHub's rate limits: waiting them out, the primary budget, the pause between mutations),
the run's one listing of the package versions (`list_tags`, `reread_tags`, `list_untagged`,
`list_repositories`) and the manifests behind them (github_graph.py). See github_driver.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterator
from dataclasses import replace
from typing import Any, ClassVar
from urllib.parse import quote

from drivers.auth.strategies import Anonymous, Auth, StaticToken
from drivers.errors import InvalidInput, NotFound, ProtocolError
from drivers.http.client import Response
from drivers.manifest import Descriptor, Manifest
from drivers.reference import Reference, Repository
from drivers.registries.contract import TagInfo, UntaggedInfo
from drivers.registries.github import PAUSE, TOKEN
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
from drivers.registries.github_graph import Manifests, subject_index
from drivers.registries.native import ThroughRegistryV2, json_body, listed_tag
from drivers.registries.options import NativeCredentials


class GithubListing(ThroughRegistryV2):
    """The reading half of the `github` driver (github_driver.py has the deletion rules):
    the Packages API's calls and limits, the one listing, the manifests."""

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
