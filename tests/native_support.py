"""For tests of native drivers: a local JSON API for fakes of registries' own APIs, and
images pushed to the test-bed registry with push times told to the fake."""

from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import Message
from http.server import BaseHTTPRequestHandler
from typing import Protocol

import pytest
import requests

from tests.bed import Image, oci_image, push_image_raw
from tests.bed.quietserver import QuietHTTPServer
from tests.bed.registry import RunningRegistry
from tests.cli import run_cli

# (method, path with query, request headers, body) -> (status, JSON document or None), or
# (status, document, response headers)
Answer = Callable[[str, str, Message, bytes], tuple]


@contextmanager
def serve_json_api(answer: Answer, tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve `answer` on 127.0.0.1 (over TLS with the server context `tls`); yields the
    base URL. A 429 carries Retry-After: 0."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, doc, *more = answer(self.command, self.path, self.headers, body)
            data = json.dumps(doc).encode() if doc is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            for name, value in (more[0] if more else {}).items():
                self.send_header(name, value)
            if status == 429 and not more:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.daemon = True
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class FakeApi(Protocol):
    """A fake of a registry's own API that records tags: see tests/test_dockerhub.py."""

    calls: list

    def push(self, path: str, tag: str, digest: str, age: dt.timedelta) -> None: ...

    def tags_of(self, path: str) -> dict[str, str]: ...


def through_proxy(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Send every HTTP and HTTPS request through the proxy at `url`."""
    for name in ("http_proxy", "https_proxy"):
        monkeypatch.setenv(name, url)
        monkeypatch.setenv(name.upper(), url)
    for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def push(registry: RunningRegistry, fake: FakeApi, path: str, image: Image, **ages) -> str:
    """Push `image` under each tag to the registry, and tell the fake when each was pushed."""
    for tag, age in ages.items():
        push_image_raw(registry.url, path, image, tag)
        fake.push(path, tag, image.digest, age)
    return image.digest


def manifest_exists(registry: RunningRegistry, path: str, digest: str) -> bool:
    accept = "application/vnd.oci.image.manifest.v1+json"
    answer = requests.head(
        f"{registry.url}/v2/{path}/manifests/{digest}", headers={"Accept": accept}, timeout=10
    )
    return answer.status_code == 200


def check_cleanup_by_push_time(
    capsys: pytest.CaptureFixture[str],
    registry: RunningRegistry,
    fake: FakeApi,
    path: str,
    implementation: str,
    now: dt.datetime,
) -> None:
    """`cleanup --keep-newer-than 7d`, dry run then real: the images were built long ago,
    the API's push times decide what is new, and only the old tag goes."""
    old = push(registry, fake, path, oci_image(f"{path}-old"), **{"ci-1": dt.timedelta(days=20)})
    new = push(registry, fake, path, oci_image(f"{path}-new"), **{"ci-2": dt.timedelta(days=2)})
    push(registry, fake, path, oci_image(f"{path}-rel"), latest=dt.timedelta(days=30))
    target = f"{registry.host}/{path}"
    args = ("--repo-container-registry", implementation, "--keep-newer-than", "7d", "--json")

    dry = run_cli(capsys, "cleanup", target, *args, "--dry-run")
    assert dry.code == 0, dry.err
    report = json.loads(dry.out)
    assert [e["tag"] for e in report["deleted"]] == ["ci-1"]
    # ci-1 is alone on its digest, but this driver deletes by tag: the dry run says so too.
    assert report["deleted"][0]["means"] == "untag"
    kept = {e["tag"]: e for e in report["kept"]}
    assert set(kept) == {"ci-2", "latest"}
    assert kept["ci-2"]["time"] == (now - dt.timedelta(days=2)).isoformat().replace("+00:00", "Z")
    assert not [c for c in fake.calls if c.method == "DELETE"]
    assert set(fake.tags_of(path)) == {"ci-1", "ci-2", "latest"}

    real = run_cli(capsys, "cleanup", target, *args)
    assert real.code == 0, real.err
    assert json.loads(real.out)["summary"]["deleted"] == 1
    assert json.loads(real.out)["deleted"][0]["means"] == "untag"
    assert set(fake.tags_of(path)) == {"ci-2", "latest"}
    assert manifest_exists(registry, path, old) and manifest_exists(registry, path, new)
