"""`portside cleanup` planning on the `gitlab` driver, against the tests' fake GitLab API
(tests/gitlab_api_fake.py) in front of a local docker-registry from the test bed.

A repository of 10,000 tags on 1,000 digests, a policy that ranks by time; a dry run, as the
real `portside` command in a subprocess. Target: at most ⌈tags/100⌉ list requests (GraphQL
queries or REST pages) plus one detail request per tag that needs one. With GraphQL every tag
comes with its digest and push time: no detail request. Without it the REST pages give names,
and the engine reads digests and the images' times through Registry v2, which it reads
anyway; the per-tag details (`describe_tags`, GET …/tags/:name, concurrent) are measured on
their own, for every tag: one request each. The request counts come from the fake (the
driver speaks to it through python-gitlab); the wall time is the median of the runs.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.bench_cleanup import PORTSIDE, Seeder, _env

TAGS, IMAGES = 10_000, 1_000
RUNS = int(os.environ.get("PORTSIDE_BENCH_RUNS", "5"))
TOKEN = "bench-gitlab-token"
DETAIL = re.compile(r"/registry/repositories/\d+/tags/[^/]+$")


def _plan(fake, registry, work: Path, graphql: bool) -> list[str]:
    fake.graphql = graphql
    args = [
        "cleanup", f"{registry.host}/bench/plan", "--repo-container-registry", "gitlab",
        "--repo-gitlab-url", fake.base, "--repo-gitlab-token", TOKEN,
        "--keep-last", "50", "--keep-newer-than", "2d", "--dry-run", "--quiet",
    ]  # fmt: skip
    times, counts = [], []
    for _ in range(RUNS):
        fake.calls.clear()
        start = time.perf_counter()
        subprocess.run([PORTSIDE, *args], env=_env(work), stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
        lists = [c for c in fake.calls if c.path == "/api/graphql" or c.path.endswith("/tags")]
        details = [c for c in fake.calls if c.method == "GET" and DETAIL.search(c.path)]
        counts.append((len(lists), len(details), len(fake.calls)))
    lists, details, total = max(counts)
    bound = math.ceil(TAGS / 100) + (1 if not graphql else 0)  # REST: the keyset try first
    met = lists <= bound and details == 0
    name = "GraphQL" if graphql else "REST (no GraphQL)"
    return [
        f"  {name:18} median {statistics.median(times):6.2f} s  "
        f"(runs: {', '.join(f'{t:.2f}' for t in times)})",
        f"  {'':18} {lists} list requests (bound {bound}), {details} detail requests, "
        f"{total} API calls in all; target: {'met' if met else 'NOT met'}",
    ]


def _details(fake, registry, tags: list[str]) -> list[str]:
    """`describe_tags` for every tag, in this process: the REST detail requests' cost."""
    from drivers.reference import parse_repository
    from drivers.registries import RegistryOptions
    from drivers.registries.connect import driver_for

    options = RegistryOptions(
        implementation="gitlab",
        credential_options={"--repo-gitlab-url": fake.base, "--repo-gitlab-token": TOKEN},
    )
    repository = parse_repository(f"{registry.host}/bench/plan")
    driver = driver_for(registry.host, options)
    driver.list_tags(repository)  # finds the repository; lists the names (REST pages)
    fake.calls.clear()
    start = time.perf_counter()
    described = driver.describe_tags(repository, tags)
    took = time.perf_counter() - start
    details = [c for c in fake.calls if c.method == "GET" and DETAIL.search(c.path)]
    timed = sum(1 for t in described if t.created is not None and t.digest)
    met = len(details) == len(tags) and timed == len(tags)
    return [
        f"  {'REST tag details':18} {took:6.2f} s for {len(details)} detail requests "
        f"({len(tags)} tags, {timed} with digest and created_at, 8 at a time); "
        f"target (one per tag asked for): {'met' if met else 'NOT met'}"
    ]


def run() -> list[str]:
    from tests.bed.registry import start_registry
    from tests.gitlab_api_fake import FakeGitLab
    from tests.native_support import serve_json_api

    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="portside-bench-gitlab-", dir=shm) as tmp:
        work = Path(tmp)
        with start_registry(work / "registry", delete_enabled=False) as registry:
            started = time.perf_counter()
            tags = Seeder(registry.url).seed("bench/plan", IMAGES, TAGS // IMAGES)
            seeded = time.perf_counter() - started
            fake = FakeGitLab(registry, page_size=100, tokens={TOKEN: "developer"})
            fake.add_project("bench/plan", "")
            now = dt.datetime.now(dt.timezone.utc)
            for n, tag in enumerate(tags):
                fake.pushed[("bench/plan", tag)] = now - dt.timedelta(minutes=n)
            with serve_json_api(fake.answer) as url:
                fake.base = url
                lines = [
                    f"dry-run plan on the gitlab driver, {len(tags)} tags on {IMAGES} digests "
                    f"(seeded in {seeded:.0f} s; 1-min load {os.getloadavg()[0]:.1f}):"
                ]
                lines += _plan(fake, registry, work, graphql=True)
                lines += _plan(fake, registry, work, graphql=False)
                lines += _details(fake, registry, tags)
                lines.append(f"  (1-min load after: {os.getloadavg()[0]:.1f})")
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
