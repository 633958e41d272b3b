"""`portside cleanup` speed, against a local docker-registry from the test bed.

1. Dry-run plan over 10,000 tags on 1,000 distinct digests, with a policy that ranks by
   time (so every digest's config `created` is read too). Target: at most 20 s. skopeo has no
   planner; what it would take to read the same tag → digest map (`skopeo inspect --raw`
   per tag) is measured on a sample and scaled, for scale only.
2. Deleting 500 tags with distinct digests, `portside cleanup` against a sequential
   `skopeo delete` loop over the same number of tags, each on equal fresh data in the same
   registry, in the same run. Target: at least 4x faster.

Both run the real `portside` command as a subprocess, as a CI job would; medians of 5 runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PORTSIDE = str(ROOT / ".venv" / "bin" / "portside")
RUNS = 5
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Seeder:
    """Pushes many small, distinct images quickly: one shared layer, one config per image."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.trust_env = False
        self.layer = b"portside bench layer"

    def _blob(self, repo: str, data: bytes) -> None:
        digest = _digest(data)
        if self.session.head(f"{self.url}/v2/{repo}/blobs/{digest}").status_code == 200:
            return
        started = self.session.post(f"{self.url}/v2/{repo}/blobs/uploads/")
        location = started.headers["Location"]
        location = location if "://" in location else self.url + location
        sep = "&" if "?" in location else "?"
        done = self.session.put(f"{location}{sep}digest={digest}", data=data)
        assert done.status_code == 201, done.text

    def image(self, repo: str, n: int, created: dt.datetime) -> bytes:
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "rootfs": {"type": "layers", "diff_ids": [_digest(self.layer)]},
                "config": {"Labels": {"n": str(n), "repo": repo}},
            }
        ).encode()
        self._blob(repo, config)
        return json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": _digest(config), "size": len(config)},
                "layers": [
                    {"mediaType": OCI_LAYER, "digest": _digest(self.layer), "size": len(self.layer)}
                ],
            }
        ).encode()

    def seed(self, repo: str, images: int, tags_per_image: int, jobs: int = 16) -> list[str]:
        """Push `images` distinct images, each under `tags_per_image` tags; return the tags."""
        self._blob(repo, self.layer)
        now = dt.datetime.now(dt.timezone.utc)

        def one(n: int) -> list[str]:
            body = self.image(repo, n, now - dt.timedelta(hours=n))
            names = [f"t{n}" if k == 0 else f"t{n}-{k}" for k in range(tags_per_image)]
            for name in names:
                put = self.session.put(
                    f"{self.url}/v2/{repo}/manifests/{name}",
                    data=body,
                    headers={"Content-Type": OCI_MANIFEST},
                )
                assert put.status_code == 201, put.text
            return names

        with ThreadPoolExecutor(jobs) as pool:
            return [t for names in pool.map(one, range(images)) for t in names]


def _portside(*args: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([PORTSIDE, "cleanup", *args], env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def _skopeo_delete_loop(host: str, repo: str, tags: list[str]) -> float:
    start = time.perf_counter()
    for tag in tags:
        subprocess.run(
            ["skopeo", "delete", "--tls-verify=false", f"docker://{host}/{repo}:{tag}"],
            check=True,
            capture_output=True,
        )
    return time.perf_counter() - start


def _env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTSIDE_")}
    (work / "docker").mkdir(exist_ok=True)
    env["DOCKER_CONFIG"] = str(work / "docker")
    return env


def bench_dry_run(registry, work: Path) -> list[str]:
    seeder = Seeder(registry.url)
    started = time.perf_counter()
    tags = seeder.seed("bench/plan", 1000, 10)
    seeded = time.perf_counter() - started
    env = _env(work)
    args = [
        f"{registry.host}/bench/plan",
        "--keep-tag",
        r"^t\d*0$",
        "--keep-last",
        "50",
        "--keep-newer-than",
        "2d",
        "--dry-run",
        "--quiet",
    ]
    times = [_portside(*args, env=env) for _ in range(RUNS)]
    sample = tags[:: len(tags) // 100][:100]
    start = time.perf_counter()
    for tag in sample:
        subprocess.run(
            [
                "skopeo",
                "inspect",
                "--raw",
                "--tls-verify=false",
                f"docker://{registry.host}/bench/plan:{tag}",
            ],
            check=True,
            capture_output=True,
        )
    per_tag = (time.perf_counter() - start) / len(sample)
    median = statistics.median(times)
    return [
        f"dry-run plan, {len(tags)} tags on 1000 digests (seeded in {seeded:.0f} s):",
        f"  portside cleanup --dry-run   median {median:6.2f} s  "
        f"(runs: {', '.join(f'{t:.2f}' for t in times)})  target <= 20 s: "
        f"{'met' if median <= 20 else 'NOT met'}",
        f"  skopeo inspect --raw per tag {per_tag * 1000:6.1f} ms -> {per_tag * len(tags):.0f} s "
        f"for {len(tags)} tags (scaled from {len(sample)}; reads digests only, no plan)",
    ]


def bench_delete(registry, work: Path) -> list[str]:
    seeder = Seeder(registry.url)
    env = _env(work)
    ours, theirs = [], []
    for run in range(RUNS):
        mine, other = f"bench/del-p{run}", f"bench/del-s{run}"
        seeder.seed(mine, 500, 1)
        tags = seeder.seed(other, 500, 1)
        if run % 2 == 0:  # alternate who goes first
            ours.append(
                _portside(f"{registry.host}/{mine}", "--delete-tag", "t.*", "--quiet", env=env)
            )
            theirs.append(_skopeo_delete_loop(registry.host, other, tags))
        else:
            theirs.append(_skopeo_delete_loop(registry.host, other, tags))
            ours.append(
                _portside(f"{registry.host}/{mine}", "--delete-tag", "t.*", "--quiet", env=env)
            )
        left = requests.get(f"{registry.url}/v2/{mine}/tags/list").json().get("tags") or []
        assert not left, f"portside left {len(left)} tags"
    mine_s, theirs_s = statistics.median(ours), statistics.median(theirs)
    ratio = theirs_s / mine_s
    return [
        "delete 500 tags with distinct digests (fresh equal data each run):",
        f"  portside cleanup             median {mine_s:6.2f} s  "
        f"(runs: {', '.join(f'{t:.2f}' for t in ours)})",
        f"  skopeo delete loop           median {theirs_s:6.2f} s  "
        f"(runs: {', '.join(f'{t:.2f}' for t in theirs)})",
        f"  speed-up {ratio:.1f}x  target >= 4x: {'met' if ratio >= 4 else 'NOT met'}",
    ]


def run() -> list[str]:
    from tests.bed.registry import start_registry

    with tempfile.TemporaryDirectory(prefix="portside-bench-cleanup-") as tmp:
        work = Path(tmp)
        with start_registry(work / "registry") as registry:
            lines = bench_dry_run(registry, work)
            lines += bench_delete(registry, work)
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
