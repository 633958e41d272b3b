"""The `github` driver and GitHub's limits, against the fake Packages API in front of a real
docker-registry (tests/github_support.py): one listing per run, manifests read once and
only where the listing cannot tell, mutations one at a time and paced, and a plan that
needs more requests than the primary rate limit has left."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from itertools import pairwise

from tests.bed import oci_image
from tests.bed.images import _index_of
from tests.github_support import FakeGhcr
from tests.test_github_packages import cleanup, ghcr, package, push  # noqa: F401 (fixture)


def versions_listings(fake: FakeGhcr) -> list[str]:
    return [p for p in fake.api_calls("GET") if p.split("?")[0].endswith("/versions")]


def shared_multi_arch(fake: FakeGhcr, path: str) -> dict[str, object]:
    """A kept index and an old one sharing a child, an image with a candidate and a kept
    tag on it (an untag), three untagged leftovers."""
    amd, arm, riscv = (
        oci_image(f"{path}-{p}", platform=f"linux/{p}") for p in ("amd64", "arm64", "riscv64")
    )
    kept, old = _index_of((amd, arm)), _index_of((arm, riscv))
    push(fake, path, kept, "release")
    push(fake, path, old, "ci-1")
    shared = push(fake, path, oci_image(f"{path}-shared"), "ci-2")
    push(fake, path, oci_image(f"{path}-shared"), "v2")
    loose = [push(fake, path, oci_image(f"{path}-loose-{n}")) for n in range(3)]
    return {"kept": kept, "old": old, "children": (amd, arm, riscv), "shared": shared,
            "loose": loose}  # fmt: skip


def test_a_run_lists_the_package_once_and_reads_each_manifest_once(capsys, ghcr):  # noqa: F811
    path = package(ghcr)
    seeded = shared_multi_arch(ghcr, path)
    ghcr.calls.clear()

    result = cleanup(capsys, ghcr, path, "--delete-untagged")

    assert result.code == 0, result.text
    kept, (amd, arm, riscv) = seeded["kept"], seeded["children"]
    assert ghcr.digests(path) == {kept.digest, amd.digest, arm.digest, seeded["shared"]}
    assert ghcr.tags_of(path) == {"release": kept.digest, "v2": seeded["shared"]}
    # 9 versions before the run, 3 a page: one listing is 3 pages (per_page=100 asked, the
    # fake's pages hold 3), and one first page finds the untag's tiny manifest.
    listings = versions_listings(ghcr)
    assert len(listings) == 3 + 1, listings
    assert listings[-1].endswith("/versions?per_page=1")
    reads = Counter(p for m, p in ghcr.calls if m == "GET" and "/manifests/sha256:" in p)
    assert reads and max(reads.values()) == 1, reads  # once per digest
    for child in (amd, arm, riscv):  # an image an index lists is never read for itself
        assert not [p for p in reads if p.endswith(child.digest)], child
    assert not [p for m, p in ghcr.calls if "/tags/list" in p and m != "GET"]


def test_mutations_go_one_at_a_time_and_pause_between(capsys, monkeypatch, ghcr):  # noqa: F811
    monkeypatch.setenv("PORTSIDE_REPO_GITHUB_PAUSE", "0.3")
    path = package(ghcr)
    for n in range(3):
        push(ghcr, path, oci_image(f"{path}-{n}"), f"ci-{n}")
    push(ghcr, path, oci_image(f"{path}-0"), "main")  # ci-0 is untagged: a push, a DELETE
    times: list[float] = []

    def stamp(method: str, target: str) -> None:
        if method == "DELETE" or (method == "PUT" and "/manifests/" in target):
            times.append(time.monotonic())

    ghcr.on_request.append(stamp)
    ghcr.most_mutating = 0

    result = cleanup(capsys, ghcr, path, "--jobs", "8")

    assert result.code == 0, result.text
    assert len(times) == 4  # two versions deleted, an untag push and its DELETE
    assert ghcr.most_mutating == 1
    gaps = [b - a for a, b in pairwise(times)]
    assert min(gaps) >= 0.28, gaps


def test_a_bad_pause_is_exit_2(capsys, monkeypatch, ghcr):  # noqa: F811
    monkeypatch.setenv("PORTSIDE_REPO_GITHUB_PAUSE", "soon")
    path = package(ghcr)
    push(ghcr, path, oci_image(f"{path}-a"), "ci-1")

    result = cleanup(capsys, ghcr, path, "--dry-run")

    assert result.code == 2, result.text
    assert "--repo-github-pause" in result.err


def test_a_plan_beyond_the_rate_limit_says_so_first_and_leaves_no_index_broken(
    capsys,
    ghcr,  # noqa: F811
):
    path = package(ghcr)
    indexes = [oci_index_of(path, n) for n in range(3)]
    for n, index in enumerate(indexes):
        push(ghcr, path, index, f"ci-{n}")
    reset = int(time.time()) + 1800
    ghcr.rate_reset = reset
    when = dt.datetime.fromtimestamp(reset, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")

    ghcr.rate_remaining = 8  # 1 owner look-up and 3 pages of listing leave 4, for 9 DELETEs
    dry = cleanup(capsys, ghcr, path, "--dry-run")
    assert dry.code == 0, dry.text
    notes = json.loads(dry.out)["notes"]
    assert any("needs 9 API requests" in n and "4 left" in n and when in n for n in notes), notes
    assert not ghcr.api_calls("DELETE")

    ghcr.rate_remaining = 8
    result = cleanup(capsys, ghcr, path)

    assert result.code == 1, result.text
    warning = result.err.split("\n")[0]
    assert "warning" in warning and "needs 9 API requests" in warning and when in warning
    deletes = ghcr.api_calls("DELETE")
    assert len(deletes) == 5  # 4 within the budget, the 5th refused; then nothing is sent
    left = ghcr.digests(path)
    for index in indexes:  # every index still there has every child: none is broken
        if index.digest in left:
            assert {c.digest for c in index.children} <= left
    report = json.loads(result.out)
    assert report["failed"] and all("rate limit" in f["reason"] for f in report["failed"])


def oci_index_of(path: str, n: int):
    images = [oci_image(f"{path}-{n}-{p}", platform=f"linux/{p}") for p in ("amd64", "arm64")]
    return _index_of(tuple(images))
