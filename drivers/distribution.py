"""The OCI distribution API (Docker Registry HTTP API v2) over a Transport.

Every method names the repository by its path within the registry ("library/alpine")
and asks the transport for the smallest scope it needs. Registry quirks that only some
implementations have belong in their driver, not here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlencode, urljoin, urlsplit

from drivers.auth.challenge import CATALOG_SCOPE, repository_scope
from drivers.digest import CANONICAL, algorithm_of, digest_of, new_hash
from drivers.errors import DigestMismatch, ProtocolError
from drivers.http.client import Response
from drivers.http.transport import Transport, check_status, is_html, not_a_registry
from drivers.manifest import MANIFEST_ACCEPT, Descriptor, Manifest, media_type_of, sha256_digest

PAGE_SIZE = 1000  # ECR's cap for `n`; other registries accept it too
CHUNK_SIZE = 1 << 20
_DIGEST_HEADER = "Docker-Content-Digest"
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


@dataclass(frozen=True)
class Ping:
    """What `GET /v2/` said, before any authentication."""

    status: int
    headers: dict[str, str]


class DistributionClient:
    """Registry v2 operations on one registry."""

    def __init__(self, transport: Transport, *, ping: Ping | None = None) -> None:
        self.transport = transport
        self._ping = ping  # the answer to `GET /v2/` when detection has read it already

    @property
    def registry(self) -> str:
        return self.transport.registry

    def _request(self, method: str, path: str, scopes: tuple[str, ...], **kw) -> Response:
        return self.transport.request(method, path, scopes=scopes, **kw)

    def _check(self, response: Response, *expected: int, what: str) -> Response:
        return check_status(response, *expected, transport=self.transport, what=what)

    # -- registry ------------------------------------------------------------------------

    def ping(self) -> Ping:
        """`GET /v2/` without credentials; fails unless the host speaks the registry API.
        Asked once: the answer is kept."""
        if self._ping is not None:
            return self._ping
        response = self.transport.request("GET", "/v2/", authenticate=False)
        headers = dict(response.headers)
        if is_html(response):
            raise not_a_registry(response)
        if response.status_code not in (200, 401):
            self._check(response, 200, 401, what=f"{self.registry} /v2/")
        response.close()
        self._ping = Ping(response.status_code, headers)
        return self._ping

    def check_login(self) -> None:
        """Authenticate against `/v2/`, raising Unauthorized when the credentials are refused."""
        self.ping()
        response = self._request("GET", "/v2/", ())
        self._check(response, 200, what=f"login to {self.registry}")

    def catalog(self, page_size: int = PAGE_SIZE) -> Iterator[str]:
        """Every repository path `_catalog` lists (needs `registry:catalog:*`)."""
        for doc in self._pages("/v2/_catalog", (CATALOG_SCOPE,), page_size, "catalog"):
            yield from doc.get("repositories") or []

    # -- tags and manifests --------------------------------------------------------------

    def list_tags(self, path: str, page_size: int = PAGE_SIZE) -> list[str]:
        """All tags of a repository, following `Link` pagination; in the registry's order."""
        tags: list[str] = []
        scope = (repository_scope(path, "pull"),)
        what = f"tags of {self.registry}/{path}"
        for doc in self._pages(f"/v2/{path}/tags/list", scope, page_size, what):
            tags.extend(t for t in doc.get("tags") or [] if isinstance(t, str))
        return tags

    def _pages(self, first: str, scopes: tuple[str, ...], page_size: int, what: str):
        url: str | None = f"{first}?{urlencode({'n': min(page_size, PAGE_SIZE)})}"
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            response = self._check(self._request("GET", url, scopes), 200, what=what)
            if is_html(response):
                raise not_a_registry(response)
            try:
                doc = response.json()
            except ValueError:
                raise ProtocolError(
                    f"{self.registry} answered the {what} request with something other than JSON",
                    url=response.url,
                ) from None
            if not isinstance(doc, dict):
                raise ProtocolError(f"{self.registry}: unexpected {what} answer", url=response.url)
            yield doc
            url = _next_link(response)
            if url and "://" in url and urlsplit(url).netloc != urlsplit(response.url).netloc:
                raise ProtocolError(f"{self.registry}: pagination link to another host")

    def _manifest_request(self, method: str, path: str, reference: str) -> tuple[Response, str]:
        what = f"manifest {self.registry}/{path}{_sep(reference)}{reference}"
        response = self._request(
            method,
            f"/v2/{path}/manifests/{reference}",
            (repository_scope(path, "pull"),),
            headers={"Accept": MANIFEST_ACCEPT},
        )
        return self._check(response, 200, what=what), what

    def get_manifest(self, path: str, reference: str) -> Manifest:
        """GET a manifest by tag or digest.

        By digest, the body is verified with that digest's algorithm (any that drivers/digest.py
        accepts; another is refused before the request) and the manifest keeps that digest,
        so it matches the descriptor that named it. By tag, its digest is the sha256 of the body.
        """
        is_digest = ":" in reference  # a tag never has one
        algorithm = algorithm_of(reference) if is_digest else "sha256"  # checked before asking
        response, what = self._manifest_request("GET", path, reference)
        body = response.content
        computed = digest_of(body, algorithm)
        if is_digest and computed != reference:
            raise DigestMismatch(
                f"{what}: the registry sent content with digest {computed}",
                method="GET",
                url=response.url,
            )
        media_type = media_type_of(body, response.headers.get("Content-Type"))
        return Manifest(media_type=media_type, digest=computed, body=body)

    def head_manifest(self, path: str, reference: str) -> Descriptor:
        """HEAD a manifest: media type, digest and size without the body.

        Falls back to GET when the registry sends no digest header.
        """
        response, _ = self._manifest_request("HEAD", path, reference)
        digest = response.headers.get(_DIGEST_HEADER)
        media_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
        if not digest or not media_type:
            return self.get_manifest(path, reference).descriptor()
        size = int(response.headers.get("Content-Length") or 0)
        return Descriptor(media_type=media_type, digest=digest, size=size)

    def put_manifest(self, path: str, reference: str, body: bytes, media_type: str) -> str:
        """PUT a manifest under a tag or digest; returns its digest."""
        response = self._check(
            self._request(
                "PUT",
                f"/v2/{path}/manifests/{reference}",
                (repository_scope(path, "pull", "push"),),
                headers={"Content-Type": media_type},
                data=body,
            ),
            200,
            201,
            what=f"push manifest {self.registry}/{path}{_sep(reference)}{reference}",
        )
        return response.headers.get(_DIGEST_HEADER) or sha256_digest(body)

    def delete_manifest(self, path: str, digest: str) -> None:
        """DELETE a manifest by digest. On most registries this removes every tag on it."""
        self._delete_manifest(path, digest, f"delete {self.registry}/{path}@{digest}")

    def delete_tag(self, path: str, tag: str) -> None:
        """OCI DELETE by tag (distribution-spec 1.1), which removes only this tag.

        Registries that do not accept it refuse in their own ways (405, UNSUPPORTED, or
        distribution 2.8's 400 DIGEST_INVALID); the `default` driver reads the refusal.
        """
        self._delete_manifest(path, tag, f"delete tag {self.registry}/{path}:{tag}")

    def _delete_manifest(self, path: str, reference: str, what: str) -> None:
        scopes = (repository_scope(path, "delete"),)
        response = self._request("DELETE", f"/v2/{path}/manifests/{reference}", scopes)
        self._check(response, 200, 202, what=what)

    # -- blobs ---------------------------------------------------------------------------

    def blob_exists(self, path: str, digest: str) -> bool:
        response = self._request(
            "HEAD", f"/v2/{path}/blobs/{digest}", (repository_scope(path, "pull"),)
        )
        if response.status_code == 404:
            return False
        self._check(response, 200, what=f"blob {self.registry}/{path}@{digest}")
        return True

    @contextmanager
    def open_blob(self, path: str, digest: str, offset: int = 0) -> Iterator[BlobStream]:
        """Stream a blob; the stream verifies the digest when it is read to the end.

        `offset` asks for a Range, to resume a cut download. A resumed body is only part of
        the blob, so the caller verifies it (as drivers/transfer/fetch.py does) instead of
        reading it through `BlobStream.chunks`.
        """
        algorithm_of(digest)  # one portside cannot verify is refused before it is fetched
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = self._check(
            self._request(
                "GET",
                f"/v2/{path}/blobs/{digest}",
                (repository_scope(path, "pull"),),
                headers=headers,
            ),
            200,
            206,
            what=f"blob {self.registry}/{path}@{digest}",
        )
        try:
            yield BlobStream(response, digest)
        finally:
            response.close()

    def read_blob(self, path: str, digest: str) -> bytes:
        with self.open_blob(path, digest) as stream:
            return b"".join(stream.chunks())

    def upload_blob(
        self,
        path: str,
        data: bytes | BinaryIO,
        digest: str,
        *,
        size: int | None = None,
        chunk_size: int | None = None,
        mount_from: str | None = None,
    ) -> None:
        """Upload a blob: mount from another repository, monolithic, or in chunks.

        `mount_from` names a repository on the same registry that has the blob; when the
        registry does not mount, it answers with an upload session and we upload instead.
        """
        scopes = [repository_scope(path, "pull", "push")]
        params = {}
        if not digest.startswith(f"{CANONICAL}:"):
            # distribution 2.8 answers a mount by a sha512 digest with 201 but links the blob
            # where it cannot serve it (GET answers 500): such a blob is uploaded instead.
            mount_from = None
        if mount_from:
            params = {"mount": digest, "from": mount_from}
            scopes.append(repository_scope(mount_from, "pull"))
        what = f"upload blob {digest} to {self.registry}/{path}"
        response = self._check(
            self._request("POST", f"/v2/{path}/blobs/uploads/", tuple(scopes), params=params),
            201,
            202,
            what=what,
        )
        if response.status_code == 201:
            return  # mounted
        location = self._location(response, what)
        if chunk_size and isinstance(data, bytes) and len(data) > chunk_size:
            for start in range(0, len(data), chunk_size):
                chunk = data[start : start + chunk_size]
                response = self._check(
                    self._request(
                        "PATCH",
                        location,
                        (scopes[0],),
                        headers={
                            "Content-Type": "application/octet-stream",
                            "Content-Range": f"{start}-{start + len(chunk) - 1}",
                            "Content-Length": str(len(chunk)),
                        },
                        data=chunk,
                    ),
                    202,
                    what=what,
                )
                location = self._location(response, what)
            body: bytes | BinaryIO = b""
        else:
            body = data
        headers = {"Content-Type": "application/octet-stream"}
        if size is not None and not isinstance(body, bytes):
            headers["Content-Length"] = str(size)
        self._check(
            self._request(
                "PUT", _add_query(location, digest=digest), (scopes[0],), headers=headers, data=body
            ),
            201,
            what=what,
        )

    def _location(self, response: Response, what: str) -> str:
        location = response.headers.get("Location")
        if not location:
            raise ProtocolError(f"{what}: the registry sent no upload Location", url=response.url)
        return urljoin(response.url, location)


class BlobStream:
    """The body of a blob response, verified against its digest as it is read."""

    def __init__(self, response: Response, digest: str) -> None:
        self.response = response
        self.digest = digest
        self._hash = new_hash(digest)

    def chunks(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        for chunk in self.response.iter_content(chunk_size):
            self._hash.update(chunk)
            yield chunk
        computed = f"{self.digest.partition(':')[0]}:{self._hash.hexdigest()}"
        if computed != self.digest:
            raise DigestMismatch(
                f"blob {self.digest}: the registry sent content with digest {computed}",
                method="GET",
                url=self.response.url,
                hint="the registry's storage may be corrupt; nothing was written under this digest",
            )


def _next_link(response: Response) -> str | None:
    match = _LINK_NEXT.search(response.headers.get("Link", ""))
    return match.group(1) if match else None


def _add_query(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


def _sep(reference: str) -> str:
    return "@" if ":" in reference else ":"
