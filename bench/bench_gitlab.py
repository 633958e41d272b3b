"""`portside cleanup` planning on the `gitlab` driver, against the tests' fake GitLab API
(tests/gitlab_api_fake.py) in front of a local docker-registry from the test bed.

A repository of 10,000 tags on 1,000 digests, a policy that ranks every tag by time; a dry
run, as the real `portside` command in a subprocess. Target: at most ⌈tags/100⌉ list requests
(GraphQL queries or REST pages) plus one detail request per tag that needs one. With GraphQL
every tag comes with its digest and push time: no detail request. Without it the REST pages
give names, and the engine asks the details (GET …/tags/:name: digest and created_at, 8 at a
time) of each tag the policy judges by time, here every tag, so it reads none of them by tag
through Registry v2 and no image config. The API's request counts come from the fake (the
driver speaks to it through python-gitlab); the wall time is the median of the runs; one more
run, not timed, goes through a proxy in front of the registry to count what the registry
serves (manifests by tag and by digest, config blobs).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.bench_cleanup import PORTSIDE, Seeder, _env

TAGS, IMAGES = 10_000, 1_000
RUNS = int(os.environ.get("PORTSIDE_BENCH_RUNS", "5"))
TOKEN = "bench-gitlab-token"
REPOSITORY = "bench/plan"


def _args(fake, host: str) -> list[str]:
    return [
        "cleanup", f"{host}/{REPOSITORY}", "--repo-container-registry", "gitlab",
        "--repo-gitlab-url", fake.base, "--repo-gitlab-token", TOKEN,
        "--keep-last", "50", "--keep-newer-than", "2d", "--dry-run", "--quiet",
    ]  # fmt: skip


def _plan(fake, registry, work: Path, graphql: bool) -> list[str]:
    from tests.gitlab_api_fake import DETAIL

    fake.graphql = graphql
    times, counts = [], []
    for _ in range(RUNS):
        fake.calls.clear()
        start = time.perf_counter()
        subprocess.run(
            [PORTSIDE, *_args(fake, registry.host)],
            env=_env(work), stdout=subprocess.DEVNULL, check=True,
        )  # fmt: skip
        times.append(time.perf_counter() - start)
        lists = [c for c in fake.calls if c.path == "/api/graphql" or c.path.endswith("/tags")]
        details = [c for c in fake.calls if c.method == "GET" and DETAIL.search(c.path)]
        counts.append((len(lists), len(details), len(fake.calls)))
    lists, details, total = max(counts)
    bound = math.ceil(TAGS / 100) + (1 if not graphql else 0)  # REST: the keyset try first
    needed = 0 if graphql else TAGS  # the policy ranks every tag: REST describes each once
    met = lists <= bound and details == needed
    name = "GraphQL" if graphql else "REST (no GraphQL)"
    return [
        f"  {name:18} median {statistics.median(times):6.2f} s  "
        f"(runs: {', '.join(f'{t:.2f}' for t in times)})",
        f"  {'':18} {lists} list requests (bound {bound}), {details} detail requests "
        f"(target {needed}), {total} API calls in all; target: {'met' if met else 'NOT met'}",
        f"  {'':18} registry: {_registry_reads(fake, registry, work)}",
    ]


def _registry_reads(fake, registry, work: Path) -> str:
    """One more run (not timed) through a proxy in front of the registry: what it served."""
    from tests.faultproxy import FaultProxy

    prefix = f"/v2/{REPOSITORY}/manifests/"
    with FaultProxy(registry.host) as proxy:
        subprocess.run(
            [PORTSIDE, *_args(fake, proxy.host)],
            env=_env(work), stdout=subprocess.DEVNULL, check=True,
        )  # fmt: skip
        seen = list(proxy.seen)
    manifests = [s.path.split("?")[0].removeprefix(prefix) for s in seen if prefix in s.path]
    by_digest = sum(1 for m in manifests if m.startswith("sha256:"))
    blobs = sum(1 for s in seen if s.method == "GET" and "/blobs/" in s.path)
    return (
        f"{len(manifests) - by_digest} manifest reads by tag, {by_digest} by digest, "
        f"{blobs} config blobs, {len(seen)} requests in all"
    )


def run() -> list[str]:
    from tests.bed.registry import start_registry
    from tests.gitlab_api_fake import FakeGitLab
    from tests.native_support import serve_json_api

    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="portside-bench-gitlab-", dir=shm) as tmp:
        work = Path(tmp)
        with start_registry(work / "registry", delete_enabled=False) as registry:
            started = time.perf_counter()
            tags = Seeder(registry.url).seed(REPOSITORY, IMAGES, TAGS // IMAGES)
            seeded = time.perf_counter() - started
            fake = FakeGitLab(registry, page_size=100, tokens={TOKEN: "developer"})
            fake.add_project(REPOSITORY, "")
            now = dt.datetime.now(dt.timezone.utc)
            for n, tag in enumerate(tags):
                fake.pushed[(REPOSITORY, tag)] = now - dt.timedelta(minutes=n)
            with serve_json_api(fake.answer) as url:
                fake.base = url
                lines = [
                    f"dry-run plan on the gitlab driver, {len(tags)} tags on {IMAGES} digests "
                    f"(seeded in {seeded:.0f} s; 1-min load {os.getloadavg()[0]:.1f}):"
                ]
                lines += _plan(fake, registry, work, graphql=True)
                lines += _plan(fake, registry, work, graphql=False)
                lines.append(f"  (1-min load after: {os.getloadavg()[0]:.1f})")
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
