"""`portside pull` and `portside copy` side by side with skopeo (issue 4 "Speed and memory").

A local docker-registry from the test bed serves the images over loopback. Each case is the
median wall time of RUNS runs, the two tools interleaved so that background load hits both:

1. pull an image of 4 random 20 MiB layers into a fresh OCI layout;
2. pull an image of one 512 MiB layer, with portside's peak RSS (from wait4);
3. pull each image again into the same layout, against portside's first pull of it;
4. copy the 4-layer image to another repository of the same registry.

Registry storage and destinations live on tmpfs (/dev/shm) when there is one, so the figures
measure the tools rather than the disk. Set PORTSIDE_BENCH_RUNS to change the run count.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PORTSIDE = str(Path(sys.executable).parent / "portside")
RUNS = int(os.environ.get("PORTSIDE_BENCH_RUNS", "5"))
MIB = 1024 * 1024
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _timed(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run; a failure stops the benchmark.

    RSS comes from GNU time when it is there: a child's own ru_maxrss would also count the
    pages of this (large) process it was forked from.
    """
    gnu_time = shutil.which("time") or "/usr/bin/time"
    with tempfile.NamedTemporaryFile("r") as report:
        wrapped = [gnu_time, "-f", "%M", "-o", report.name, *command]
        use_time = Path(gnu_time).exists()
        start = time.perf_counter()
        done = subprocess.run(
            wrapped if use_time else command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        elapsed = time.perf_counter() - start
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr.decode()}")
        rss = int(report.read().strip().splitlines()[-1]) if use_time else 0
    return elapsed, rss


def _push_random_image(client, path: str, layer_sizes: list[int]) -> None:
    """An OCI image of random layers (the content is opaque to both tools)."""
    layers = []
    for size in layer_sizes:
        data = os.urandom(size)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        client.upload_blob(path, data, digest)
        layers.append(
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": digest,
                "size": size,
            }
        )
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
        }
    ).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    client.upload_blob(path, config, config_digest)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": len(config),
        },
        "layers": layers,
    }
    client.put_manifest(path, "latest", json.dumps(manifest).encode(), OCI_MANIFEST)


def _median(runs: list[float]) -> float:
    return statistics.median(runs)


def _alternate(commands: dict[str, Callable[[int], list[str]]], prepare: Callable[[], None]):
    """Run each command RUNS times, interleaved; returns name -> (seconds list, rss list)."""
    results: dict[str, tuple[list[float], list[int]]] = {k: ([], []) for k in commands}
    for index in range(RUNS):
        for name, command in commands.items():
            prepare()
            seconds, rss = _timed(command(index))
            results[name][0].append(seconds)
            results[name][1].append(rss)
    return results


def _verdict(value: float, target: float) -> str:
    return "met" if value <= target else "NOT met"


def run() -> list[str]:
    from drivers.distribution import DistributionClient
    from drivers.http.transport import Transport
    from tests.bed.registry import start_registry

    if shutil.which("skopeo") is None:
        return ["skopeo is not installed; `make system-deps` installs it"]
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    work = Path(tempfile.mkdtemp(prefix="portside-bench-", dir=base))
    lines = [f"{RUNS} runs each, median; registry and destinations under {work.parent}"]
    # portside's verified-blob record goes with the rest of the run, not into ~/.cache.
    os.environ["PORTSIDE_CACHE_DIR"] = str(work / "cache")
    try:
        with start_registry(work / "registry") as registry:
            host = registry.host
            client = DistributionClient(Transport(host))
            _push_random_image(client, "bench/four", [20 * MIB] * 4)
            _push_random_image(client, "bench/big", [512 * MIB])
            lines += _pulls(host, work)
            lines += _copies(host)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return lines


def _skopeo_pull(host: str, repo: str, dest: Path) -> list[str]:
    return [
        "skopeo",
        "copy",
        "-q",
        "--src-tls-verify=false",
        f"docker://{host}/{repo}:latest",
        f"oci:{dest}:latest",
    ]


def _portside_pull(host: str, repo: str, dest: Path) -> list[str]:
    return [PORTSIDE, "pull", "-q", f"{host}/{repo}:latest", "--dest", str(dest)]


def _library_pull(host: str, repo: str, dest: Path) -> list[str]:
    """`drivers.transfer.pull.pull` from a bare interpreter: what the CLI adds on top
    (typer, and the pydantic it loads to coerce option values) is the difference."""
    code = (
        "from drivers.registries import RegistryOptions\n"
        "from drivers.transfer.pull import pull\n"
        f"pull([{f'{host}/{repo}:latest'!r}], {str(dest)!r}, options=RegistryOptions())\n"
    )
    return [sys.executable, "-c", code]


def _pulls(host: str, work: Path) -> list[str]:
    lines = []
    skopeo_dest, portside_dest = work / "skopeo-layout", work / "portside-layout"

    def fresh() -> None:
        shutil.rmtree(skopeo_dest, ignore_errors=True)
        shutil.rmtree(portside_dest, ignore_errors=True)

    for repo, label, target in (
        ("bench/four", "4 x 20 MiB", 0.95),
        ("bench/big", "1 x 512 MiB", 0.45),
    ):
        commands = {
            "portside": lambda _i, r=repo: _portside_pull(host, r, portside_dest),
            "skopeo": lambda _i, r=repo: _skopeo_pull(host, r, skopeo_dest),
        }
        if repo == "bench/four":
            commands["library"] = lambda _i, r=repo: _library_pull(host, r, portside_dest)
        got = _alternate(commands, fresh)
        ours, theirs = _median(got["portside"][0]), _median(got["skopeo"][0])
        ratio = ours / theirs
        lines.append(
            f"pull {label:<12} portside {ours:6.3f} s  skopeo {theirs:6.3f} s  "
            f"ratio {ratio:4.2f} (target <= {target}: {_verdict(ratio, target)})"
        )
        if "library" in got:
            library = _median(got["library"][0])
            lines.append(
                f"  the same pull as a library call, without the CLI framework: {library:.3f} s "
                f"(ratio {library / theirs:4.2f})"
            )
        if repo == "bench/big":
            rss, skopeo_rss = (max(got[k][1]) / 1024 for k in ("portside", "skopeo"))
            lines.append(
                f"  peak RSS     portside {rss:6.1f} MiB  skopeo {skopeo_rss:6.1f} MiB"
                f"  (target <= 80 MiB: {_verdict(rss, 80)})"
            )
        lines.append(_again(host, repo, label, ours, portside_dest, skopeo_dest, fresh))
    return lines


def _again(host, repo, label, first, portside_dest, skopeo_dest, fresh) -> str:
    """Pull the same image into the same layout again (blobs present and verified before)."""
    fresh()
    _timed(_portside_pull(host, repo, portside_dest))
    _timed(_skopeo_pull(host, repo, skopeo_dest))
    again = _alternate(
        {
            "portside": lambda _i: _portside_pull(host, repo, portside_dest),
            "skopeo": lambda _i: _skopeo_pull(host, repo, skopeo_dest),
        },
        lambda: None,
    )
    repeat = _median(again["portside"][0])
    return (
        f"pull again   {label:<12} portside {repeat:6.3f} s  (first pull {first:.3f} s, "
        f"ratio {repeat / first:4.2f}, target <= 0.1: {_verdict(repeat / first, 0.1)}; "
        f"skopeo again {_median(again['skopeo'][0]):.3f} s)"
    )


def _copies(host: str) -> list[str]:
    got = _alternate(
        {
            "portside": lambda i: [
                PORTSIDE,
                "copy",
                "-q",
                f"{host}/bench/four:latest",
                f"{host}/bench/copy-portside-{i}:latest",
            ],
            "skopeo": lambda i: [
                "skopeo",
                "copy",
                "-q",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                f"docker://{host}/bench/four:latest",
                f"docker://{host}/bench/copy-skopeo-{i}:latest",
            ],
            "library": lambda i: [
                sys.executable,
                "-c",
                "from drivers.registries import RegistryOptions\n"
                "from drivers.transfer.copy import copy\n"
                f"copy({f'{host}/bench/four:latest'!r}, "
                f"{f'{host}/bench/copy-library-{i}:latest'!r}, options=RegistryOptions())\n",
            ],
        },
        lambda: None,
    )
    ours, theirs = _median(got["portside"][0]), _median(got["skopeo"][0])
    library = _median(got["library"][0])
    startup = _median([_timed([PORTSIDE, "--version"])[0] for _ in range(RUNS)])
    imports = _median(
        [_timed([sys.executable, "-c", "import drivers.transfer.pull"])[0] for _ in range(RUNS)]
    )
    # The floor for any Python client: the interpreter plus the standard library's HTTP.
    floor = _median([_timed([sys.executable, "-c", "import http.client"])[0] for _ in range(RUNS)])
    return [
        f"copy 4 x 20 MiB, same registry  portside {ours:6.3f} s  skopeo {theirs:6.3f} s  "
        f"ratio {ours / theirs:4.2f} (target <= 0.5: {_verdict(ours / theirs, 0.5)})",
        f"  the same copy as a library call, without the CLI framework: {library:.3f} s "
        f"(ratio {library / theirs:4.2f})",
        f"start-up for scale: `portside --version` {startup:.3f} s; "
        f"python importing the pull code {imports:.3f} s; "
        f"python importing only http.client {floor:.3f} s ({floor / theirs:.2f} x skopeo's copy)",
    ]


if __name__ == "__main__":
    print("\n".join(run()))
