"""`portside cleanup` on GitHub Packages, against the fake Packages API (tests/github_support)
in front of a local docker-registry: one package of 10,000 versions.

1,000 tagged indexes (4 children each: 4,000 untagged children) and 5,000 untagged leftovers.
500 indexes are tagged `ci-N` (candidates) and 500 `main-N` (kept); 50 of the `ci-N` tags
share their index with a kept tag, so they are untagged by a tiny-manifest push. The policy:
`--delete-tag 'ci-.*' --delete-untagged`.

Counted at the fake: version-list requests, DELETEs, untag pushes, manifest GETs; and wall
time of the dry run and the real run (the real `portside` command as a subprocess). The
target: ⌈versions/100⌉ list requests per listing, one request per deletion and untag push,
and no manifest request per tag.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.bench_cleanup import OCI_MANIFEST, PORTSIDE, _digest

INDEXES = int(os.environ.get("BENCH_GHCR_INDEXES", "1000"))
CHILDREN = 4
LEFTOVERS = int(os.environ.get("BENCH_GHCR_LEFTOVERS", "5000"))
SHARED = INDEXES // 20  # ci tags that share their index with a kept tag
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
TOKEN = "bench-ghcr-token"


class _Seeder:
    """Puts manifests straight into the registry, then registers them as package versions:
    seeding 10,000 through the fake's proxy would time the fake, not portside."""

    def __init__(self, url: str, path: str) -> None:
        self.url, self.path = url, path
        self.session = requests.Session()
        self.session.trust_env = False
        config = b'{"architecture":"amd64","os":"linux"}'
        self.config = {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": _digest(config), "size": len(config)}  # fmt: skip
        start = self.session.post(f"{url}/v2/{path}/blobs/uploads/")
        location = start.headers["Location"]
        location = location if "://" in location else url + location
        sep = "&" if "?" in location else "?"
        put = self.session.put(f"{location}{sep}digest={self.config['digest']}", data=config)
        assert put.status_code == 201, put.text

    def put(self, body: bytes, media_type: str, *tags: str) -> dict:
        digest = _digest(body)
        for reference in (digest, *tags):
            answer = self.session.put(
                f"{self.url}/v2/{self.path}/manifests/{reference}",
                data=body,
                headers={"Content-Type": media_type},
            )
            assert answer.status_code == 201, answer.text
        return {"mediaType": media_type, "digest": digest, "size": len(body)}

    def image(self, n: int) -> dict:
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": self.config,
               "layers": [], "annotations": {"n": str(n)}}  # fmt: skip
        return self.put(json.dumps(doc).encode(), OCI_MANIFEST)

    def index(self, n: int, children: list[dict], tags: list[str]) -> dict:
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children,
               "annotations": {"n": f"index-{n}"}}  # fmt: skip
        return self.put(json.dumps(doc).encode(), OCI_INDEX, *tags)


def _seed(fake, url: str, path: str) -> None:
    from tests.github_support import Version

    seeder = _Seeder(url, path)
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=60)
    versions: dict[str, Version] = {}

    def tags_of(i: int) -> list[str]:
        tags = [f"ci-{i}"] if i % 2 == 0 else [f"main-{i}"]
        if i % 2 == 0 and i // 2 < SHARED:
            tags.append(f"release-{i}")  # a kept tag on a candidate's index: an untag
        return tags

    def one_index(i: int) -> tuple[list[dict], dict]:
        children = [seeder.image(i * CHILDREN + c) for c in range(CHILDREN)]
        return children, seeder.index(i, children, tags_of(i))

    with ThreadPoolExecutor(16) as pool:
        built = list(pool.map(one_index, range(INDEXES)))
        leftovers = list(pool.map(lambda n: seeder.image(10**7 + n), range(LEFTOVERS)))
    ids = iter(range(1, 10**7))
    for i, (children, index) in enumerate(built):
        for child in children:
            versions[child["digest"]] = Version(next(ids), child["digest"], [], old)
        versions[index["digest"]] = Version(next(ids), index["digest"], tags_of(i), old)
    for leftover in leftovers:
        versions[leftover["digest"]] = Version(next(ids), leftover["digest"], [], old)
    fake.packages[path] = versions


def _counts(fake) -> dict[str, int]:
    calls = list(fake.calls)
    return {
        "version-list requests": sum(
            1 for m, p in calls if m == "GET" and "/versions" in p and not p.startswith("/v2/")
        ),
        "DELETE requests": sum(1 for m, p in calls if m == "DELETE" and "/versions/" in p),
        "untag pushes": sum(
            1 for m, p in calls if m == "PUT" and "/manifests/" in p and "sha256:" not in p
        ),
        "manifest GETs": sum(1 for m, p in calls if m in ("GET", "HEAD") and "/manifests/" in p),
        "other API requests": sum(
            1 for m, p in calls if not p.startswith("/v2/") and "/versions" not in p
        ),
    }


def _portside(fake, path: str, *extra: str) -> tuple[float, int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTSIDE_")}
    env.update(GITHUB_TOKEN=TOKEN, GITHUB_API_URL=fake.url, NO_COLOR="1")
    host = fake.url.removeprefix("http://")
    args = [PORTSIDE, "cleanup", f"{host}/{path}", "--repo-container-registry", "github",
            "--delete-tag", "ci-.*", "--delete-untagged", "--quiet", *extra]  # fmt: skip
    args += ["--json"] if os.environ.get("BENCH_GHCR_SHOW") else []
    fake.calls.clear()
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=3600)
    took = time.perf_counter() - start
    if os.environ.get("BENCH_GHCR_SHOW"):
        print(done.stdout, done.stderr)
    return took, done.returncode, (done.stdout + done.stderr).strip().splitlines()[-1]


def run() -> list[str]:
    from tests.bed.registry import start_registry
    from tests.github_support import FULL_SCOPES, FakeGhcr, serve

    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    lines = []
    with tempfile.TemporaryDirectory(prefix="portside-bench-ghcr-", dir=shm) as tmp:  # noqa: SIM117
        with start_registry(Path(tmp) / "registry") as registry:
            fake = FakeGhcr(registry.url, {TOKEN: FULL_SCOPES}, {"bench": "Organization"})
            fake.page_size = 100
            path = "bench/app"
            started = time.perf_counter()
            _seed(fake, registry.url, path)
            total = len(fake.packages[path])
            lines.append(f"  seeded {total} versions in {time.perf_counter() - started:.1f} s")
            with serve(fake):
                floor = math.ceil(total / 100)
                for label, extra in (("dry run", ("--dry-run",)), ("real run", ())):
                    took, code, last = _portside(fake, path, *extra)
                    counts = _counts(fake)
                    lines.append(f"  {label:<9} {took:7.2f} s  exit {code}  ({last})")
                    for name, count in counts.items():
                        lines.append(f"      {name:<22} {count}")
                    lines.append(f"      (one listing is {floor} list requests)")
                left = len(fake.packages[path])
                lines.append(f"  versions left: {left} of {total}")
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
