"""`portside cleanup` on GitHub Packages, against the fake Packages API (tests/github_support)
in front of a local docker-registry: one package of 10,000 versions.

1,000 tagged indexes (4 children each: 4,000 untagged children) and 5,000 untagged leftovers.
500 indexes are tagged `ci-N` (candidates) and 500 `main-N` (kept); 50 of the `ci-N` tags
share their index with a kept tag, so they are untagged by a tiny-manifest push. The policy:
`--delete-tag 'ci-.*' --delete-untagged`.

Counted at the fake: the Packages API's version-list requests and DELETEs, and apart from
them the registry's requests (untag pushes, manifest reads by digest, by tag, tag lists);
and wall time of the dry run and the real run (the real `portside` command as a subprocess).
The target: ⌈versions/100⌉ list requests, one request per deletion and untag push, and no
manifest request per tag. `BENCH_GHCR_PAUSE` sets --repo-github-pause (default 0 here).
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
# Seconds between mutations (--repo-github-pause): 0 measures portside against the fake;
# GitHub's advice (the driver's default) is 1, which bounds a real run at one mutation a second.
PAUSE = os.environ.get("BENCH_GHCR_PAUSE", "0")
# The primary limit the fake counts down: 15,000 an hour is GitHub Enterprise Cloud's; a
# classic token has 5,000, GITHUB_TOKEN 1,000 (a run past it warns first, see docs).
RATE = int(os.environ.get("BENCH_GHCR_RATE", "15000"))


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
    seeder = _Seeder(url, path)
    old = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=60)
    versions = {}

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
    for i, (children, index) in enumerate(built):
        for child in children:
            versions[child["digest"]] = fake.version(child["digest"], [], old)
        versions[index["digest"]] = fake.version(index["digest"], tags_of(i), old)
    for leftover in leftovers:
        versions[leftover["digest"]] = fake.version(leftover["digest"], [], old)
    fake.packages[path] = versions


def _counts(fake) -> dict[str, int]:
    calls = list(fake.calls)
    api = [(m, p) for m, p in calls if not p.startswith("/v2/")]
    v2 = [(m, p) for m, p in calls if p.startswith("/v2/")]
    reads = [p for m, p in v2 if m == "GET" and "/manifests/sha256:" in p]
    return {
        "API: version-list requests": sum(
            1 for m, p in api if m == "GET" and p.split("?")[0].endswith("/versions")
        ),
        "API: DELETE requests": sum(1 for m, p in api if m == "DELETE"),
        "API: other requests": sum(
            1 for m, p in api if m != "DELETE" and not p.split("?")[0].endswith("/versions")
        ),
        "registry: untag pushes": sum(
            1 for m, p in v2 if m == "PUT" and "/manifests/" in p and "sha256:" not in p
        ),
        "registry: manifest GETs by digest": len(reads),
        "registry: ... of them repeated": len(reads) - len(set(reads)),
        "registry: manifest GET/HEAD by tag": sum(
            1 for m, p in v2 if m in ("GET", "HEAD") and "/manifests/" in p and "sha256:" not in p
        ),
        "registry: tag-list requests": sum(1 for m, p in v2 if "/tags/list" in p),
    }


def _portside(fake, path: str, *extra: str) -> tuple[float, int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTSIDE_")}
    env.update(GITHUB_TOKEN=TOKEN, GITHUB_API_URL=fake.url, NO_COLOR="1")
    env["PORTSIDE_REPO_GITHUB_PAUSE"] = PAUSE
    host = fake.url.removeprefix("http://")
    args = [PORTSIDE, "cleanup", f"{host}/{path}", "--repo-container-registry", "github",
            "--delete-tag", "ci-.*", "--delete-untagged", "--quiet", *extra]  # fmt: skip
    args += ["--json"] if os.environ.get("BENCH_GHCR_SHOW") else []
    fake.calls.clear()
    fake.rate_remaining = RATE
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
            fake.rate_remaining = RATE
            path = "bench/app"
            started = time.perf_counter()
            _seed(fake, registry.url, path)
            total = len(fake.packages[path])
            lines.append(f"  seeded {total} versions in {time.perf_counter() - started:.1f} s")
            with serve(fake):
                floor = math.ceil(total / 100)
                lines.append(f"  pause between mutations: {PAUSE} s; rate limit {RATE}/h")
                for label, extra in (("dry run", ("--dry-run",)), ("real run", ())):
                    took, code, last = _portside(fake, path, *extra)
                    counts = _counts(fake)
                    lines.append(f"  {label:<9} {took:7.2f} s  exit {code}  ({last})")
                    for name, count in counts.items():
                        lines.append(f"      {name:<36} {count}")
                    made = counts["registry: untag pushes"]  # each a new (tiny) version
                    budget = math.ceil((total + made) / 100)
                    lists = counts["API: version-list requests"]
                    lines.append(
                        f"      list budget ⌈({total} + {made} tiny)/100⌉ = {budget}: "
                        f"{'met' if lists <= budget else 'MISSED'} (one listing is {floor})"
                    )
                left = len(fake.packages[path])
                lines.append(f"  versions left: {left} of {total}")
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
