"""A stateful fake of GitHub's Packages API in front of a real docker-registry.

`FakeGhcr` serves both halves of ghcr.io on one port:

* `/v2/…` is proxied to the real registry, except DELETE, which is refused (405
  UNSUPPORTED) as ghcr.io refuses it: a test that passes shows the Packages API deleted.
  Every manifest pushed through the proxy becomes a package version (its `name` is the
  digest) and its tag moves onto that version, as on ghcr.io.
* The REST API in the documented shapes: `GET /users/{owner}` (`type` User or
  Organization), `GET /{users|orgs}/{owner}/packages/container/{pkg}/versions` paged with
  `per_page`/`page` and a `Link` header, `DELETE …/versions/{id}` (204), which deletes the
  manifest in the registry; errors as `{"message", "documentation_url"}`; the token's scopes
  in `X-OAuth-Scopes`; a secondary rate limit as 403 with `Retry-After`; the primary one
  counted down in `X-RateLimit-Remaining` (with `X-RateLimit-Reset`), 403 once spent.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

import requests

from tests.bed.quietserver import QuietHTTPServer

DOCS = "https://docs.github.com/rest/packages/packages"
FULL_SCOPES = "read:packages, write:packages, delete:packages"


@dataclass
class Version:
    id: int
    digest: str
    tags: list[str]
    updated: dt.datetime


@dataclass
class FakeGhcr:
    registry_url: str
    tokens: dict[str, str]  # token -> its X-OAuth-Scopes
    owners: dict[str, str] = field(default_factory=dict)  # owner -> User | Organization
    page_size: int = 3  # GitHub's pages hold up to 100; small ones make a few versions page
    packages: dict[str, dict[str, Version]] = field(default_factory=dict)  # path -> digest
    refused: dict[str, str] = field(default_factory=dict)  # digest -> GitHub's message
    throttle_deletes: int = 0  # answer this many next DELETEs with the secondary limit
    # The primary rate limit (X-RateLimit-Remaining / -Reset): each API request takes one;
    # past zero, 403 "API rate limit exceeded" until the reset (which never comes here).
    rate_remaining: int = 5000
    rate_reset: int = field(default_factory=lambda: int(time.time()) + 3600)
    calls: list[tuple[str, str]] = field(default_factory=list)
    # Called with the listing's number (1, 2, …) before each versions listing is answered:
    # a test changes the package between a run's listings (planning, then the re-read).
    on_list: list[Callable[[int], None]] = field(default_factory=list)
    listings: int = 0
    # Called with (method, path) before any request is answered: a test changes the
    # package while the run reads manifests (planning), after its one listing.
    on_request: list[Callable[[str, str], None]] = field(default_factory=list)
    mutating: int = 0  # mutating requests (DELETE, manifest PUT) being answered now
    most_mutating: int = 0  # the most at once
    url: str = ""
    # The registry's (user, password) when it asks for them (the demo's token-auth one):
    # the fake's own DELETEs then log in through its token realm, as GitHub's backend may.
    registry_auth: tuple[str, str] | None = None
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1000))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- what tests look at ----------------------------------------------------------------

    def tags_of(self, path: str) -> dict[str, str]:
        return {t: v.digest for v in self.packages.get(path, {}).values() for t in v.tags}

    def digests(self, path: str) -> set[str]:
        return set(self.packages.get(path, {}))

    def age(self, path: str, digest: str, age: dt.timedelta) -> None:
        self.packages[path][digest].updated = dt.datetime.now(dt.timezone.utc) - age

    def api_calls(self, method: str) -> list[str]:
        return [p for m, p in self.calls if m == method and not p.startswith("/v2/")]

    def version(self, digest: str, tags: list[str], updated: dt.datetime) -> Version:
        """A new version with the next id: ids grow with each version, as GitHub's do, and
        the listing is newest (highest id) first."""
        with self._lock:
            return Version(next(self._ids), digest, tags, updated)

    # -- the registry half -----------------------------------------------------------------

    def proxy(self, method: str, target: str, headers, body: bytes):
        if method == "DELETE":
            doc = {"errors": [{"code": "UNSUPPORTED", "message": "The operation is unsupported."}]}
            return 405, {}, json.dumps(doc).encode()
        keep = {k: v for k, v in headers.items() if k.lower() not in ("content-length",)}
        answer = requests.request(
            method, self.registry_url + target, headers=keep, data=body, timeout=30,
            allow_redirects=False,
        )  # fmt: skip
        parts = target.split("/manifests/")
        if method == "PUT" and len(parts) == 2 and answer.status_code == 201:
            self._pushed(parts[0].removeprefix("/v2/"), unquote(parts[1]), answer)
        out = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
        out.pop("Transfer-Encoding", None)
        return answer.status_code, out, answer.content

    def _pushed(self, path: str, reference: str, answer: requests.Response) -> None:
        digest = answer.headers["Docker-Content-Digest"]
        now = dt.datetime.now(dt.timezone.utc)
        with self._lock:
            versions = self.packages.setdefault(path, {})
            if reference.startswith("sha256:"):
                versions.setdefault(digest, Version(next(self._ids), digest, [], now))
                return
            for version in versions.values():
                if reference in version.tags:
                    version.tags.remove(reference)
            version = versions.setdefault(digest, Version(next(self._ids), digest, [], now))
            version.tags.append(reference)
            version.updated = now

    # -- the REST API ----------------------------------------------------------------------

    def api(self, method: str, target: str, headers) -> tuple[int, object, dict]:
        parts = urlsplit(target)
        token = (headers.get("Authorization") or "").removeprefix("Bearer ")
        if token not in self.tokens:
            return (*_error(401, "Bad credentials"), {})
        with self._lock:  # the primary limit: every authenticated request counts
            self.rate_remaining = max(self.rate_remaining - 1, -1)
            left = self.rate_remaining
        extra = {
            "X-OAuth-Scopes": self.tokens[token],
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": str(max(left, 0)),
            "X-RateLimit-Reset": str(self.rate_reset),
        }
        if left < 0:
            return (*_error(403, "API rate limit exceeded for user ID 1."), extra)
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if method == "GET" and len(segments) == 2 and segments[0] == "users":
            kind = self.owners.get(segments[1])
            if kind is None:
                return (*_error(404, "Not Found"), extra)
            return 200, {"login": segments[1], "id": 1, "type": kind}, extra
        if method == "GET" and len(segments) == 3 and segments[2] == "packages":
            return self._packages(target, parts.query, segments[0], segments[1], extra)
        if len(segments) < 6 or segments[2:4] != ["packages", "container"]:
            return (*_error(404, "Not Found"), extra)
        kind, owner, package = segments[0], segments[1], segments[4]
        expected = "orgs" if self.owners.get(owner) == "Organization" else "users"
        versions = self.packages.get(f"{owner}/{package}")
        if kind != expected or versions is None or segments[5] != "versions":
            return (*_error(404, "Package not found."), extra)
        if method == "GET" and len(segments) == 6:
            if "page=" not in parts.query.replace("per_page=", ""):  # a listing's first page
                self.listings += 1
                for hook in self.on_list:
                    hook(self.listings)
                versions = self.packages[f"{owner}/{package}"]
            return self._page(target, parse_qs(parts.query), versions, extra)
        if method == "DELETE" and len(segments) == 7:
            return self._delete(f"{owner}/{package}", int(segments[6]), versions, extra)
        return (*_error(404, "Not Found"), extra)

    def _page(self, target: str, query, versions: dict[str, Version], extra: dict):
        with self._lock:  # DELETEs remove versions concurrently
            ordered = sorted(versions.values(), key=lambda v: v.id, reverse=True)  # newest 1st
        return self._paged(target, query, [_version_doc(v, self.url) for v in ordered], extra)

    def _paged(self, target: str, query, docs: list, extra: dict):
        """One page of `docs`, with a `Link` header to the next (GitHub's `page`/`per_page`)."""
        size = min(int(query.get("per_page", ["30"])[0]), self.page_size)
        page = int(query.get("page", ["1"])[0])
        base, _, rest = target.partition("?")
        keep = "&".join(p for p in rest.split("&") if p.split("=")[0] not in ("page", "per_page"))
        more = f"&{keep}" if keep else ""
        if page * size < len(docs):
            extra = {**extra, "Link": f'<{self.url}{base}?per_page={size}&page={page + 1}{more}>; '
                     f'rel="next", <{self.url}{base}?page=1{more}>; rel="first"'}  # fmt: skip
        return 200, docs[(page - 1) * size : page * size], extra

    def _packages(self, target: str, query: str, kind: str, owner: str, extra: dict):
        """`GET /{users|orgs}/{owner}/packages?package_type=container`: the owner's packages."""
        expected = "orgs" if self.owners.get(owner) == "Organization" else "users"
        if kind != expected or owner not in self.owners:
            return (*_error(404, "Not Found"), extra)
        if parse_qs(query).get("package_type") != ["container"]:
            return (*_error(422, "package_type is required"), extra)
        names = sorted(p.split("/", 1)[1] for p in self.packages if p.startswith(owner + "/"))
        docs = [
            {"id": i + 1, "name": name, "package_type": "container", "visibility": "private",
             "owner": {"login": owner, "type": self.owners[owner]}, "version_count": 1}
            for i, name in enumerate(names)
        ]  # fmt: skip
        return self._paged(target, parse_qs(query), docs, extra)

    def _delete(self, path: str, id_: int, versions: dict[str, Version], extra: dict):
        if "delete:packages" not in extra["X-OAuth-Scopes"]:
            return (*_error(403, "You need at least admin permission to delete."), extra)
        if self.throttle_deletes:
            self.throttle_deletes -= 1
            limited = {**extra, "Retry-After": "1"}
            return (*_error(403, "You have exceeded a secondary rate limit."), limited)
        # One DELETE at a time, as GitHub answers a second DELETE of a version with 404
        # (and distribution 2.8 fails concurrent manifest deletes).
        with self._lock:
            version = next((v for v in versions.values() if v.id == id_), None)
            if version is None:
                return (*_error(404, "Package version not found."), extra)
            if version.digest in self.refused:
                return (*_error(400, self.refused[version.digest]), extra)
            url = f"{self.registry_url}/v2/{path}/manifests/{version.digest}"
            gone = self._registry_delete(url, path)
            assert gone.status_code == 202, gone.text
            del versions[version.digest]
        return 204, None, extra

    def _registry_delete(self, url: str, path: str) -> requests.Response:
        """DELETE in the registry, with a token from its realm when it challenges (Bearer)."""
        answer = requests.delete(url, timeout=10)
        challenge = answer.headers.get("WWW-Authenticate", "")
        if answer.status_code != 401 or not self.registry_auth or "realm=" not in challenge:
            return answer
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        token = requests.get(
            params["realm"], auth=self.registry_auth, timeout=10,
            params={"service": params.get("service", ""), "scope": f"repository:{path}:delete"},
        ).json()  # fmt: skip
        bearer = token.get("token") or token.get("access_token")
        return requests.delete(url, headers={"Authorization": f"Bearer {bearer}"}, timeout=10)


def _error(status: int, message: str) -> tuple[int, dict]:
    return status, {"message": message, "documentation_url": DOCS}


def _version_doc(version: Version, base: str) -> dict:
    stamp = version.updated.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": version.id,
        "name": version.digest,
        "url": f"{base}/versions/{version.id}",
        "package_html_url": "https://github.com/",
        "created_at": stamp,
        "updated_at": stamp,
        "html_url": "https://github.com/",
        "metadata": {"package_type": "container", "container": {"tags": list(version.tags)}},
    }


@contextmanager
def serve(fake: FakeGhcr) -> Iterator[FakeGhcr]:
    """Serve `fake` on 127.0.0.1; sets `fake.url`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._body = self.rfile.read(length) if length else b""
            fake.calls.append((self.command, self.path))
            for hook in list(fake.on_request):
                hook(self.command, self.path)
            with fake._lock:
                mutation = self.command in ("DELETE", "PUT") and "/blobs/" not in self.path
                fake.mutating += mutation
                fake.most_mutating = max(fake.most_mutating, fake.mutating)
            try:
                self._answer()
            finally:
                with fake._lock:
                    fake.mutating -= mutation

        def _answer(self) -> None:
            body = self._body
            if self.path.startswith("/v2"):
                status, headers, data = fake.proxy(self.command, self.path, self.headers, body)
            else:
                status, doc, headers = fake.api(self.command, self.path, self.headers)
                data = json.dumps(doc).encode() if doc is not None else b""
                headers = {**headers, "Content-Type": "application/json"}
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.daemon = True
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
