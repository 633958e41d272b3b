"""Faults a real registry cannot be made to show on demand, from a scripted registry: one
deletion refused while the others go through (the run goes on, the report lists the error,
exit 1), and a registry that retries (503 with Retry-After) on the way."""

from __future__ import annotations

import json

from tests.bed.images import OCI_MANIFEST, oci_image
from tests.cli import run_cli
from tests.scripted import Answer, ScriptedServer


class DynamicServer(ScriptedServer):
    """A scripted server whose `always` answers may be functions of the request."""

    def _next(self, seen):  # type: ignore[override]
        answer = super()._next(seen)
        return answer(seen) if callable(answer) else answer


class FakeRepository:
    """Just enough of the registry API for a cleanup of `app`, with chosen failures."""

    def __init__(self, server: ScriptedServer, images: dict[str, bytes]) -> None:
        self.manifests = {_digest(body): body for body in images.values()}
        self.tags = {tag: _digest(body) for tag, body in images.items()}
        self.refuse: set[str] = set()
        self.busy_once: set[str] = set()
        server.always("/v2/app/tags/list", self.tags_list)  # type: ignore[arg-type]
        server.always("/v2/app/manifests/", self.manifest)  # type: ignore[arg-type]
        server.always("/v2/", Answer(200, b"{}"))

    def tags_list(self, seen) -> Answer:
        return Answer(200, json.dumps({"name": "app", "tags": sorted(self.tags)}).encode())

    def manifest(self, seen) -> Answer:
        ref = seen.path.split("?")[0].rsplit("/", 1)[1]
        digest = ref if ref.startswith("sha256:") else self.tags.get(ref)
        if seen.method == "DELETE":
            if digest in self.busy_once:
                self.busy_once.discard(digest)
                return Answer(503, b"{}", {"Retry-After": "0", "Content-Type": "application/json"})
            if digest in self.refuse:
                return Answer(403, b'{"errors":[{"code":"DENIED","message":"locked"}]}')
            if digest not in self.manifests:
                return Answer(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"x"}]}')
            del self.manifests[digest]
            self.tags = {t: d for t, d in self.tags.items() if d != digest}
            return Answer(202, b"")
        if digest not in self.manifests:
            return Answer(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"x"}]}')
        headers = {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": digest}
        return Answer(200, self.manifests[digest], headers)


def _digest(body: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(body).hexdigest()


def _server_seen(server, method: str) -> list[str]:
    return [s.path for s in server.seen if s.method == method]


def test_one_refused_deletion_does_not_stop_the_others(capsys, docker_config):
    images = {f"pr-{i}": oci_image(f"faults-{i}").manifest_bytes for i in range(4)}
    images["v1"] = oci_image("faults-keep").manifest_bytes
    with DynamicServer() as server:
        repo = FakeRepository(server, images)
        refused = repo.tags["pr-2"]
        repo.refuse.add(refused)
        repo.busy_once.add(repo.tags["pr-0"])  # answered 503 once: retried, not failed
        result = run_cli(capsys, "cleanup", f"{server.host}/app", "--keep-tag", "v1", "--json")
        report = json.loads(result.out)

    assert result.code == 1
    assert "1 deletion(s) failed" in result.err
    assert [e["tag"] for e in report["failed"]] == ["pr-2"]
    assert "permission denied" in report["failed"][0]["reason"]
    assert sorted(e["tag"] for e in report["deleted"]) == ["pr-0", "pr-1", "pr-3"]
    assert set(repo.tags) == {"pr-2", "v1"}
    assert _server_seen(server, "DELETE").count(f"/v2/app/manifests/{repo.tags['pr-2']}") == 1
