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
from collections.abc import Collection, Sequence

from drivers.errors import CredentialError, NotFound, PortsideError, RegistryError
from drivers.reference import Repository
from drivers.registries.contract import RequestBudget, TagDeletion
from drivers.registries.github import SCOPES_HINT
from drivers.registries.github_api import PAGE_SIZE, REFUSED_HINT, Version, spent
from drivers.registries.github_graph import going_with, used_children
from drivers.registries.github_listing import GithubListing


class GithubDriver(GithubListing):
    """The `github` implementation's driver: GithubListing reads, this deletes."""

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
            if self._spent:  # its tiny version could not be deleted: leave the tag be
                errors[tag] = spent(self._budget, self.api)
                continue
            try:
                with self._pacer:
                    pushed[tag] = self.registry.push_dummy(repository, tag)
            except PortsideError as error:
                errors[tag] = error
        try:
            found = self._newest(repository, set(pushed.values())) if pushed else {}
        except PortsideError as error:  # the tags are on tiny manifests, not deleted
            found = {}
            errors.update(dict.fromkeys(pushed, error))
            pushed = {}
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
