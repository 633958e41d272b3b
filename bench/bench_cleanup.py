"""`portside cleanup` speed, against a local docker-registry from the test bed.

1. Dry-run plan over 10,000 tags on 1,000 distinct digests, with a policy that ranks by
   time (so every digest's config `created` is read too). Target: at most 20 s. skopeo has no
   planner; what it would take to read the same tag → digest map (`skopeo inspect --raw`
   per tag) is measured on a sample and scaled, for scale only.
2. Deleting 500 tags with distinct digests, `portside cleanup` against a sequential
   `skopeo delete` loop over the same number of tags, each on equal fresh data in the same
   registry, in the same run. Target: at least 4x faster. Beside them, the floor: a bare
   8-thread client that only sends the 500 DELETEs (digests known beforehand).

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
    load = os.getloadavg()[0]
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
        f"dry-run plan, {len(tags)} tags on 1000 digests (seeded in {seeded:.0f} s; "
        f"1-min load before {load:.1f}):",
        f"  portside cleanup --dry-run   median {median:6.2f} s  "
        f"(runs: {', '.join(f'{t:.2f}' for t in times)})  target <= 20 s: "
        f"{'met' if median <= 20 else 'NOT met'}",
        f"  skopeo inspect --raw per tag {per_tag * 1000:6.1f} ms -> {per_tag * len(tags):.0f} s "
        f"for {len(tags)} tags (scaled from {len(sample)}; reads digests only, no plan)",
    ]


def _bare_delete(url: str, repo: str, jobs: int = 8) -> float:
    """The floor: an 8-thread client that only sends DELETE by digest (digests known)."""
    session = requests.Session()
    session.trust_env = False
    tags = session.get(f"{url}/v2/{repo}/tags/list").json()["tags"]
    digests = [
        session.head(f"{url}/v2/{repo}/manifests/{t}", headers={"Accept": OCI_MANIFEST}).headers[
            "Docker-Content-Digest"
        ]
        for t in tags
    ]
    start = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        codes = set(
            pool.map(
                lambda d: session.delete(f"{url}/v2/{repo}/manifests/{d}").status_code, digests
            )
        )
    assert codes == {202}, codes
    return time.perf_counter() - start


def bench_delete(registry, work: Path) -> list[str]:
    seeder = Seeder(registry.url)
    env = _env(work)
    times: dict[str, list[float]] = {"portside": [], "skopeo": [], "bare": []}
    loads = []
    for run in range(RUNS):
        repos = {name: f"bench/del-{name}-{run}" for name in times}
        tags = {name: seeder.seed(repo, 500, 1) for name, repo in repos.items()}
        loads.append(os.getloadavg()[0])
        order = list(times)[run % 3 :] + list(times)[: run % 3]  # rotate who goes first
        for name in order:
            if name == "portside":
                target = f"{registry.host}/{repos[name]}"
                took = _portside(target, "--delete-tag", "t.*", "--quiet", env=env)
            elif name == "skopeo":
                took = _skopeo_delete_loop(registry.host, repos[name], tags[name])
            else:
                took = _bare_delete(registry.url, repos[name])
            times[name].append(took)
        left = requests.get(f"{registry.url}/v2/{repos['portside']}/tags/list").json()
        assert not left.get("tags"), f"portside left {len(left['tags'])} tags"
    median = {name: statistics.median(values) for name, values in times.items()}
    ratio = median["skopeo"] / median["portside"]

    def runs(name: str) -> str:
        return ", ".join(f"{t:.2f}" for t in times[name])

    return [
        "delete 500 tags with distinct digests (fresh equal data each run; "
        f"1-min load {', '.join(f'{x:.1f}' for x in loads)}):",
        f"  portside cleanup             median {median['portside']:6.2f} s  ({runs('portside')})",
        f"  skopeo delete loop           median {median['skopeo']:6.2f} s  ({runs('skopeo')})",
        f"  bare 8-thread DELETE client  median {median['bare']:6.2f} s  ({runs('bare')}); "
        f"skopeo/bare {median['skopeo'] / median['bare']:.1f}x",
        f"  speed-up {ratio:.1f}x  target >= 4x: {'met' if ratio >= 4 else 'NOT met'}",
    ]


def run() -> list[str]:
    from tests.bed.registry import start_registry

    # Registry storage on tmpfs where there is one, as in bench_transfer: the figures should
    # measure the clients, not the disk.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="portside-bench-cleanup-", dir=shm) as tmp:
        work = Path(tmp)
        with start_registry(work / "registry") as registry:
            lines = bench_dry_run(registry, work)
            lines += bench_delete(registry, work)
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
