"""The `github` driver: GitHub Packages (ghcr.io) through the REST Packages API.

On ghcr.io a package version is a manifest (its `name` is the digest) and carries the tags
on it (`metadata.container.tags`); deleting a version deletes every tag on it, and there is
no tag-only delete. The registry API of ghcr.io deletes nothing. So:

* `list_tags` lists the versions (`GET /{users|orgs}/{owner}/packages/container/{pkg}/
  versions?per_page=100`, following `Link: rel="next"`): every tag with its digest and
  `updated_at` as its push time, with no manifest request per tag.
* `delete_manifest` deletes the version (`DELETE …/versions/{id}`), then the versions
  GitHub does not protect and nothing left uses: an index's children (unless a remaining
  manifest lists them too, or a tag is on them), and the untagged manifests whose
  `subject` is a deleted child.
* `delete_tag` (a tag whose version also carries a kept tag) pushes a unique tiny manifest
  to the tag through the Registry v2 API, which moves only that tag, then deletes the new
  version.
* `list_repositories` lists the owner's container packages (`--all-repositories` on
  `ghcr.io/OWNER`).
* `list_untagged` gives the untagged versions of the same listing (`delete.untagged`).
* `list_referrers` answers from the untagged versions whose manifest's `subject` is the
  digest (ghcr.io has no referrers API), so the engine plans signatures and attestations
  pushed as OCI referrers like any other.

`ghcr.io/OWNER/a/b` is the package `a/b` (percent-encoded in URLs) of OWNER, a user or an
organisation: one `GET /users/{owner}` answers which (`type`). The API base is
`$GITHUB_API_URL` (GitHub Actions sets it, GitHub Enterprise Server included), else
https://api.github.com. The token is the spec's (github.py). Every listing is complete
before anything is deleted: paging a list while deleting from it skips versions.

PyGithub is not used: its `Requester` would send its own HTTP, bypassing the Transport
that carries the token (auth strategy), `--insecure-registry`, proxies and retries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import quote

from drivers.auth.strategies import Anonymous, Auth, StaticToken
from drivers.errors import CredentialError, InvalidInput, NotFound, ProtocolError, RegistryError
from drivers.http.client import Response
from drivers.manifest import Descriptor, Manifest
from drivers.reference import Repository
from drivers.registries.contract import TagInfo, UntaggedInfo
from drivers.registries.github import SCOPES_HINT, TOKEN
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
    Version,
    json_list,
    next_link,
    rate_limit_wait,
    version_of,
)
from drivers.registries.native import ThroughRegistryV2, json_body, listed_tag
from drivers.registries.options import NativeCredentials


class GithubDriver(ThroughRegistryV2):
    name: ClassVar[str] = "github"
    api_path, api_env, hints = API_BASE, API_ENV, HINTS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # ThroughRegistryV2's (client, options, credentials)
        self._owner_kinds: dict[str, str] = {}
        self._versions: dict[str, dict[str, Version]] = {}  # path -> digest -> version
        self._manifests: dict[str, Manifest] = {}  # a digest's manifest never changes
        self._shapes: dict[str, tuple[tuple[str, ...], str | None]] = {}
        self._deleted: set[str] = set()  # versions this driver deleted
        self._subjects: dict[str, dict[str, list[str]]] = {}  # path -> subject -> untagged
        self._scopes: str | None = None  # X-OAuth-Scopes, when GitHub sent it
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
        limit) or with `X-RateLimit-Remaining: 0` (the primary one, until its reset)."""
        for _ in range(RATE_TRIES):
            response = self.transport.request(method, url, headers=HEADERS)
            wait = rate_limit_wait(response)
            if wait is None or wait > MAX_WAIT:
                break
            response.close()
            time.sleep(wait)
        if response.headers.get("X-OAuth-Scopes") is not None:
            self._scopes = response.headers["X-OAuth-Scopes"]
        return response

    # -- listing ---------------------------------------------------------------------------

    def list_tags(self, repository: Repository) -> list[TagInfo]:
        versions = self._list_versions(repository)
        return [
            listed_tag(tag, version.digest, version.updated)
            for version in versions.values()
            for tag in version.tags
        ]

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

    def _pages(self, repository: Repository) -> Iterator[list[Version]]:
        """The versions, a page at a time (newest first), following `Link: rel="next"`."""
        what = f"versions of {repository} (GitHub Packages API)"
        url: str | None = f"{self._package_url(repository)}/versions?per_page={PAGE_SIZE}"
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

    def list_referrers(self, repository: Repository, digest: str) -> list[Descriptor] | None:
        """The untagged versions whose manifest's `subject` is `digest`: from an index of
        the listing's untagged versions by subject, built once per listing."""
        known = self._known(repository)
        with self._lock:
            index = self._subjects.get(repository.path)
        if index is None:
            index = {}
            for version in known.values():
                if not version.tags:
                    subject = self._shape(repository, version.digest)[1]
                    if subject is not None:
                        index.setdefault(subject, []).append(version.digest)
            with self._lock:
                self._subjects[repository.path] = index
        found = [d for d in index.get(digest, ()) if d in known]
        return [self._manifest(repository, d).descriptor() for d in found]

    def get_manifest(self, repository: Repository, reference: str) -> Manifest:
        # A digest's manifest never changes: the engine's reads and the cascade's share one.
        if reference.startswith("sha256:"):
            return self._manifest(repository, reference)
        return super().get_manifest(repository, reference)

    def _shape(self, repository: Repository, digest: str) -> tuple[tuple[str, ...], str | None]:
        """(children, subject) of a manifest, parsed once."""
        if digest not in self._shapes:
            manifest = self._manifest(repository, digest)
            subject = manifest.subject
            children = tuple(c.digest for c in manifest.children)
            self._shapes[digest] = (children, subject.digest if subject else None)
        return self._shapes[digest]

    def _known(self, repository: Repository) -> dict[str, Version]:
        with self._lock:
            known = self._versions.get(repository.path)
        return dict(known) if known is not None else self._list_versions(repository)

    def _manifest(self, repository: Repository, digest: str) -> Manifest:
        if digest not in self._manifests:
            self._manifests[digest] = self.registry.get_manifest(repository, digest)
        return self._manifests[digest]

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

    def delete_manifest(self, repository: Repository, digest: str) -> None:
        version = self._find(repository, digest)
        manifest = self._manifest(repository, digest)  # read before it is gone
        self._delete_version(repository, version)
        with self._lock:  # one cascade at a time, each seeing the others' deletions
            self._cascade(repository, manifest, referrers_too=False)

    def delete_tag(self, repository: Repository, tag: str) -> None:
        """Move `tag` onto a unique tiny manifest, then delete that manifest's version."""
        dummy = self.registry.push_dummy(repository, tag)
        version = self._find(repository, dummy)
        self._delete_version(repository, version)

    def _find(self, repository: Repository, digest: str) -> Version:
        version = self._known(repository).get(digest)
        if version is None and digest in self._deleted:  # a cascade took it: no re-listing
            raise NotFound(f"{repository}@{digest}: deleted with the manifest that used it")
        if version is None:  # pushed since the last listing (an untag's tiny manifest)
            # GitHub lists newest first: the first page has it, not a whole new listing.
            version = next(
                (v for page in self._pages(repository) for v in page if v.digest == digest),
                None,
            )
        if version is None:
            raise NotFound(f"{repository}@{digest}: no such package version")
        return version

    def _delete_version(self, repository: Repository, version: Version) -> None:
        url = f"{self._package_url(repository)}/versions/{version.id}"
        what = f"deleting {repository}@{version.digest[:19]} (version {version.id})"
        try:
            self._delete_call(url, what, 204, "", hint=REFUSED_HINT)
        except RegistryError as error:
            if error.status == 400 and not error.hint:
                error.hint = REFUSED_HINT
            raise
        with self._lock:
            self._versions.get(repository.path, {}).pop(version.digest, None)
            self._deleted.add(version.digest)

    def _cascade(self, repository: Repository, manifest: Manifest, *, referrers_too: bool) -> None:
        """Delete the untagged versions `manifest` took with it and nothing left uses."""
        remaining = self._versions.get(repository.path, {})
        if not manifest.children and not referrers_too:
            return
        used = {
            child
            for version in list(remaining.values())
            for child in self._shape(repository, version.digest)[0]
        }
        candidates = [child.digest for child in manifest.children]
        if referrers_too:
            candidates += [
                v.digest
                for v in list(remaining.values())
                if not v.tags and self._shape(repository, v.digest)[1] == manifest.digest
            ]
        for digest in candidates:
            version = remaining.get(digest)
            if version is None or version.tags or digest in used:
                continue  # gone already, tagged, or a child of something that stays
            child = self._manifest(repository, digest)
            self._delete_version(repository, version)
            self._cascade(repository, child, referrers_too=True)
