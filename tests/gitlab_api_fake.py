"""A stateful fake of GitLab's REST API v4 (the container registry endpoints), in front of a
real docker-registry that holds the images.

Tags are the registry's: the fake reads them from the registry's storage as distribution
does (each tag is `_manifests/tags/<tag>/current/link`, naming its digest), so a tag pushed
during a run is listed, and no registry credentials are needed. Its single-tag DELETE
removes only that tag in the registry, as GitLab's registry does, by removing the tag's
directory; the registry itself refuses DELETE to clients (the `registry_nodelete` fixture).
The bulk endpoint answers 202 and records the call, so a test can prove it was never used.

Shapes as documented (doc/api/container_registry.md, doc/api/rest): offset pages with
`X-Total`, `X-Total-Pages`, `X-Page`, `X-Per-Page`, `X-Next-Page` and `Link`; keyset pages
(`pagination=keyset`, `last=`) with only `Link`, or 405 when `keyset` is off (a registry
without the metadata database); errors as Grape's `{"message": "404 Project Not Found"}` or
`{"error": …}`; 429 with `Retry-After` and `RateLimit-Reset`. Tokens: `PRIVATE-TOKEN` with
a role (`developer` may delete, `reporter` may only read), `JOB-TOKEN` for one project.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from tests.bed.registry import RunningRegistry


@dataclass
class Call:
    method: str
    path: str  # as sent, still URL-encoded
    query: dict[str, list[str]]
    private_token: str | None
    job_token: str | None


def message(status: int, text: str) -> tuple[int, dict]:
    return status, {"message": f"{status} {text}"}


@dataclass
class FakeGitLab:
    registry: RunningRegistry
    base: str = ""  # the fake's URL, set by the fixture
    page_size: int = 2  # GitLab's largest is 100; small, so that a few tags take pages
    keyset: bool = True
    tokens: dict[str, str] = field(default_factory=dict)  # PRIVATE-TOKEN -> role
    job_tokens: dict[str, int] = field(default_factory=dict)  # JOB-TOKEN -> project id
    projects: dict[str, int] = field(default_factory=dict)  # path -> id
    groups: dict[str, int] = field(default_factory=dict)
    repositories: dict[int, tuple[str, int]] = field(default_factory=dict)  # id -> (path, pid)
    protected: set[tuple[str, str]] = field(default_factory=set)  # (repository path, tag)
    throttle: int = 0  # answer this many next requests with 429
    # The headers of a 429 (GitLab sends both; python-gitlab reads Retry-After first);
    # None: Retry-After 0 and RateLimit-Reset now.
    throttle_headers: dict[str, str] | None = None
    graphql: bool = False  # whether POST /api/graphql answers (else 404)
    pushed: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)  # publishedAt
    calls: list[Call] = field(default_factory=list)
    on_delete: Callable[[], None] | None = None  # run once, at the first tag DELETE

    def add_project(self, path: str, *repositories: str) -> int:
        pid = 100 + len(self.projects)
        self.projects[path] = pid
        parts = path.split("/")
        for end in range(1, len(parts)):
            self.groups.setdefault("/".join(parts[:end]), 10 + len(self.groups))
        for name in repositories:
            full = f"{path}/{name}" if name else path
            self.repositories[1000 + len(self.repositories)] = (full, pid)
        return pid

    def tags_of(self, path: str) -> list[str]:
        """The registry's tags, read as distribution reads them: from its storage."""
        tags = self._storage(path) / "_manifests" / "tags"
        return sorted(p.name for p in tags.iterdir()) if tags.is_dir() else []

    def has_tag(self, path: str, tag: str) -> bool:
        """One tag's look-up, as the registry's (not a listing per request: 10,000 detail
        requests would read a 10,000-entry directory each)."""
        if not re.fullmatch(r"[\w][\w.-]{0,127}", tag):  # the tag grammar: no `..`, no `/`
            return False
        return (self._storage(path) / "_manifests" / "tags" / tag).is_dir()

    def _storage(self, path: str) -> Path:
        root = Path(self.registry.workdir) / "storage" / "docker/registry/v2/repositories"
        return root / path

    # -- the API --------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers, body: bytes) -> tuple:
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        private, job = headers.get("PRIVATE-TOKEN"), headers.get("JOB-TOKEN")
        self.calls.append(Call(method, parts.path, query, private, job))
        if self.throttle:
            self.throttle -= 1
            reset = str(int(time.time()))
            headers = self.throttle_headers
            if headers is None:
                headers = {"Retry-After": "0", "RateLimit-Reset": reset}
            return 429, {"message": "Retry later"}, headers
        if parts.path == "/api/graphql" and method == "POST":
            return self._graphql(json.loads(body), private)
        if private is not None and private not in self.tokens:
            return message(401, "Unauthorized")
        if job is not None and job not in self.job_tokens:
            return message(401, "Unauthorized")
        if private is None and job is None:
            return message(401, "Unauthorized")  # every project here is private
        segments = [unquote(s) for s in parts.path.removeprefix("/api/v4/").split("/")]
        return self._route(method, segments, query, private, job)

    def _route(self, method, segments, query, private, job) -> tuple:
        kind, key, *rest = segments + [""] * (2 - len(segments))
        table = {"projects": self.projects, "groups": self.groups}.get(kind)
        if table is None:
            return 404, {"error": "404 Not Found"}
        ident = int(key) if key.isdigit() else table.get(key)
        if ident is None or (kind == "projects" and ident not in self.projects.values()):
            return message(404, f"{kind[:-1].title()} Not Found")
        if job is not None and (kind != "projects" or self.job_tokens[job] != ident):
            return message(403, "Forbidden")  # a job token reaches its own project only
        if not rest:
            path = next(p for p, i in table.items() if i == ident)
            return 200, {"id": ident, "path_with_namespace": path}
        if rest[:2] != ["registry", "repositories"]:
            return 404, {"error": "404 Not Found"}
        repos = [
            {"id": rid, "path": path, "project_id": pid, "location": f"{self.registry.host}/{path}"}
            for rid, (path, pid) in sorted(self.repositories.items())
            if (pid == ident if kind == "projects" else self._in_group(pid, ident))
        ]
        if len(rest) == 2 and method == "GET":
            return self._offset_page(repos, query, "/".join(["", "api", "v4", *segments]))
        found = next((r for r in repos if str(r["id"]) == rest[2]), None)
        if kind != "projects" or found is None or len(rest) < 4 or rest[3] != "tags":
            return message(404, "Repository Not Found")
        path = found["path"]
        if len(rest) == 4 and method == "DELETE":
            return 202, {"message": "bulk delete scheduled"}  # never to be called
        if len(rest) == 4 and method == "GET":
            tags = [{"name": t, "path": f"{path}:{t}"} for t in self.tags_of(path)]
            where = "/".join(["", "api", "v4", *segments])
            if query.get("pagination") == ["keyset"]:
                return self._keyset_page(tags, query, where)
            return self._offset_page(tags, query, where)
        if len(rest) == 5 and method == "GET":
            if not self.has_tag(path, rest[4]):
                return message(404, "Tag Not Found")
            return 200, self._details(path, rest[4])
        if len(rest) == 5 and method == "DELETE":
            tag = rest[4]
            if private is not None and self.tokens[private] != "developer":
                return message(403, "Forbidden")
            hook, self.on_delete = self.on_delete, None
            if hook is not None:
                hook()  # something happens in the registry while the run deletes
            if not self.has_tag(path, tag):
                return message(404, "Tag Not Found")
            if (path, tag) in self.protected:
                return message(403, "Forbidden")
            self._untag(path, tag)
            return 200, None
        return message(405, "Method Not Allowed")

    def _graphql(self, doc: dict, private: str | None) -> tuple:
        """`containerRepository(id:) { tags(first:, after:) }`; a job token (a header
        GraphQL ignores) sees no private repository: `null`, as GitLab answers."""
        if not self.graphql:
            return 404, {"error": "404 Not Found"}
        variables = doc.get("variables") or {}
        rid = int(str(variables.get("id", "")).rsplit("/", 1)[-1] or 0)
        if private not in self.tokens or rid not in self.repositories:
            return 200, {"data": {"containerRepository": None}}
        path = self.repositories[rid][0]
        names = self.tags_of(path)
        after = variables.get("after")
        start = names.index(after) + 1 if after in names else 0
        chunk = names[start : start + self.page_size]
        nodes = [
            {
                "name": name,
                "digest": self._digest(path, name),
                "createdAt": "2020-01-01T00:00:00+00:00",  # the image's: never the judge
                "publishedAt": self.pushed[(path, name)].isoformat()
                if (path, name) in self.pushed
                else None,
            }
            for name in chunk
        ]
        info = {
            "endCursor": chunk[-1] if chunk else None,
            "hasNextPage": start + len(chunk) < len(names),
        }
        return 200, {"data": {"containerRepository": {"tags": {"nodes": nodes, "pageInfo": info}}}}

    def _details(self, path: str, tag: str) -> dict:
        """`Entities::ContainerRegistry::TagDetails`. `created_at` is the image config's
        `created`, as GitLab reads it without the metadata database (null for an index,
        which has no config); `revision` is the config's digest."""
        digest = self._digest(path, tag)
        manifest = json.loads(self._blob(digest))
        config = (manifest.get("config") or {}).get("digest")
        created = json.loads(self._blob(config)).get("created") if config else None
        return {
            "name": tag,
            "path": f"{path}:{tag}",
            "location": f"{self.registry.host}/{path}:{tag}",
            "revision": config.partition(":")[2] if config else None,
            "short_revision": config.partition(":")[2][:9] if config else None,
            "digest": digest,
            "created_at": created,
            "total_size": sum(layer.get("size", 0) for layer in manifest.get("layers") or []),
        }

    def _blob(self, digest: str) -> bytes:
        algorithm, _, hexdigest = digest.partition(":")
        root = Path(self.registry.workdir) / "storage" / "docker/registry/v2/blobs"
        return (root / algorithm / hexdigest[:2] / hexdigest / "data").read_bytes()

    def _digest(self, path: str, tag: str) -> str:
        link = self._storage(path) / "_manifests" / "tags" / tag / "current" / "link"
        return link.read_text().strip()

    def _in_group(self, pid: int, gid: int) -> bool:
        group = next(p for p, i in self.groups.items() if i == gid)
        project = next(p for p, i in self.projects.items() if i == pid)
        return project.startswith(group + "/")

    def _untag(self, path: str, tag: str) -> None:
        shutil.rmtree(self._storage(path) / "_manifests" / "tags" / tag)

    def _offset_page(self, items: list, query, where: str) -> tuple:
        size = min(int(query.get("per_page", ["20"])[0]), self.page_size)
        page = int(query.get("page", ["1"])[0])
        pages = max(1, -(-len(items) // size))
        headers = {"X-Total": str(len(items)), "X-Total-Pages": str(pages), "X-Page": str(page)}
        headers |= {"X-Per-Page": str(size), "X-Next-Page": str(page + 1) if page < pages else ""}
        links = [f'<{self._url(where, query, page=1)}>; rel="first"']
        if page < pages:
            links.insert(0, f'<{self._url(where, query, page=page + 1)}>; rel="next"')
        headers["Link"] = ", ".join(links)
        return 200, items[(page - 1) * size : page * size], headers

    def _keyset_page(self, items: list, query, where: str) -> tuple:
        if not self.keyset:
            return message(405, "Method Not Allowed")
        size = min(int(query.get("per_page", ["20"])[0]), self.page_size)
        last = query.get("last", [""])[0]
        rest = [i for i in items if i["name"] > last]
        chunk, headers = rest[:size], {}
        if len(rest) > size:
            headers["Link"] = f'<{self._url(where, query, last=chunk[-1]["name"])}>; rel="next"'
        return 200, chunk, headers

    def _url(self, where: str, query, **changes: object) -> str:
        merged = {k: v[0] for k, v in query.items()} | {k: str(v) for k, v in changes.items()}
        return f"{self.base}{quote(where)}?{urlencode(merged)}"


def deletes(fake: FakeGitLab) -> list[str]:
    """The paths of every DELETE the fake received, decoded."""
    return [unquote(c.path) for c in fake.calls if c.method == "DELETE"]


BULK = re.compile(r"/registry/repositories/\d+/tags$")
DETAIL = re.compile(r"/registry/repositories/\d+/tags/[^/]+$")  # one tag's details


def main(argv: list[str] | None = None) -> int:
    """`python -m tests.gitlab_api_fake`: serve the fake for `make demo` until SIGTERM, in
    front of the registry whose storage is under `--workdir`; prints `url=…` when ready."""
    import argparse
    import signal
    import sys
    import threading
    from types import SimpleNamespace

    from tests.native_support import serve_json_api

    parser = argparse.ArgumentParser(prog="python -m tests.gitlab_api_fake")
    parser.add_argument("--workdir", required=True, help="the registry's work directory")
    parser.add_argument("--registry", required=True, help="the registry's host:port")
    parser.add_argument("--project", required=True, help="a project whose repository is its own")
    parser.add_argument("--job-token", required=True)
    parser.add_argument("--protect", action="append", default=[], help="a protected tag")
    args = parser.parse_args(argv)
    registry = SimpleNamespace(workdir=args.workdir, host=args.registry)
    fake = FakeGitLab(registry, page_size=100)  # type: ignore[arg-type]
    pid = fake.add_project(args.project, "")
    fake.job_tokens[args.job_token] = pid
    fake.protected |= {(args.project, tag) for tag in args.protect}
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with serve_json_api(fake.answer) as url:
        fake.base = url
        print(f"url={url}\nproject_id={pid}", flush=True)
        while not stop.wait(0.5):
            pass
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
