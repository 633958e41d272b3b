"""Before and after: this checkout against another one, interleaved, in one run.

    .venv/bin/python -m bench.compare /tmp/portside-before [--runs 3]

On a shared machine absolute times drift with the load, so a change is measured against the
code it replaces in the same minutes: each round runs every side once, in turn. The other
checkout (for example `git worktree add /tmp/portside-before main`) runs on this venv's
interpreter and packages, with `PYTHONPATH` pointing at it; so does this one. Cases:

1. `portside ci-env gitlab` in a simulated GitLab job (bench_cienv's), 20 rounds;
2. `portside pull` of the 4 × 20 MiB image (bench_transfer's), with skopeo in each round;
3. the cleanup dry run over 10,000 tags on 1,000 digests (bench_cleanup's).

Not part of `make bench` (its name does not start with `bench_`).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import bench_cienv, bench_cleanup, bench_transfer

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def _portside(checkout: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    return [sys.executable, "-m", "ci_env", *args], env


def _time(command: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr.decode()}")
    return time.perf_counter() - start


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rounds(
    sides: dict[str, Callable[[], float]], rounds: int
) -> dict[str, tuple[list[float], list[float]]]:
    """Each round runs every side once; the order turns by one each round. Returns each
    side's wall seconds and CPU seconds (user + system, which the load moves less)."""
    names = list(sides)
    got: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in names}
    for index in range(rounds):
        for name in names[index % len(names) :] + names[: index % len(names)]:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            got[name][0].append(sides[name]())
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            got[name][1].append(used)
    return got


def _report(
    title: str, got: dict[str, tuple[list[float], list[float]]], unit: str = "s"
) -> list[str]:
    scale = 1000 if unit == "ms" else 1
    digits = 3 if unit == "s" else 1
    lines = [title]
    for name, (wall, cpu) in got.items():
        runs = ", ".join(f"{v * scale:.{digits}f}" for v in wall)
        lines.append(
            f"  {name:<8} median {statistics.median(wall) * scale:8.{digits}f} {unit}, "
            f"CPU {statistics.median(cpu) * scale:8.{digits}f} {unit}  (runs: {runs})"
        )
    return lines


def compare(before: Path, after: Path, rounds: int, work: Path) -> list[str]:
    from drivers.distribution import DistributionClient
    from drivers.http.transport import Transport
    from tests.bed.registry import start_registry

    sides = {"before": before, "after": after}
    lines = [
        f"{os.cpu_count()} CPUs, {os.uname().machine}, load before {os.getloadavg()[0]:.2f}",
    ]

    env = bench_cienv._job_env(work)
    cienv: dict[str, Callable[[], float]] = {}
    for name, checkout in sides.items():
        command, _ = _portside(checkout, "ci-env", "gitlab")
        side_env = {**env, "PYTHONPATH": str(checkout)}
        _time(command, side_env, work)  # warm the caches and the bytecode
        cienv[name] = lambda c=command, e=side_env: _time(c, e, work)
    lines += _report("ci-env gitlab, 20 rounds", _rounds(cienv, 20), "ms")

    with start_registry(work / "registry") as registry:
        host = registry.host
        bench_transfer._push_random_image(
            DistributionClient(Transport(host)), "bench/four", [20 * MIB] * 4
        )

        def pull(command: list[str], env: dict[str, str], dest: Path) -> float:
            shutil.rmtree(dest, ignore_errors=True)
            shutil.rmtree(work / "cache", ignore_errors=True)  # a first pull, every time
            return _time(command, env, work)

        pulls: dict[str, Callable[[], float]] = {}
        dest = work / "skopeo-layout"
        skopeo_command = bench_transfer._skopeo_pull(host, "bench/four", dest)
        pulls["skopeo"] = lambda: pull(skopeo_command, dict(os.environ), dest)
        for name, checkout in sides.items():
            out = work / f"{name}-layout"
            command, side_env = _portside(
                checkout, "pull", "-q", f"{host}/bench/four:latest", "--dest", str(out)
            )
            side_env["PORTSIDE_CACHE_DIR"] = str(work / "cache")
            pulls[name] = lambda c=command, e=side_env, o=out: pull(c, e, o)
        pulls["before"]()  # warm up
        got = _rounds(pulls, max(rounds, 5))
        lines += _report(f"pull 4 x 20 MiB, {max(rounds, 5)} rounds", got)
        skopeo = statistics.median(got["skopeo"][0])
        for name in sides:
            ratio = statistics.median(got[name][0]) / skopeo
            lines.append(f"  {name} / skopeo = {ratio:.2f}")

        started = time.perf_counter()
        bench_cleanup.Seeder(registry.url).seed("bench/plan", 1000, 10)
        lines.append(f"seeded 10,000 tags in {time.perf_counter() - started:.0f} s")
        env = bench_cleanup._env(work)
        args = [f"{host}/bench/plan", "--keep-tag", r"^t\d*0$", "--keep-last", "50"]
        args += ["--keep-newer-than", "2d", "--dry-run", "--quiet"]
        plans: dict[str, Callable[[], float]] = {}
        served: dict[str, list[float]] = {name: [] for name in sides}

        def plan(name: str, command: list[str], env: dict[str, str]) -> float:
            before = _process_cpu(registry.process.pid)
            wall = _time(command, env, work)
            served[name].append(_process_cpu(registry.process.pid) - before)
            return wall

        for name, checkout in sides.items():
            command, _ = _portside(checkout, "cleanup", *args)
            side_env = {**env, "PYTHONPATH": str(checkout)}
            plans[name] = lambda n=name, c=command, e=side_env: plan(n, c, e)
        load = os.getloadavg()[0]
        got = _rounds(plans, rounds)
        lines += _report(f"cleanup dry run, 10,000 tags, {rounds} rounds (load {load:.1f})", got)
        cpus = os.cpu_count() or 1
        for name in sides:
            client, server = statistics.median(got[name][1]), statistics.median(served[name])
            lines.append(
                f"  {name}: registry CPU {server:.3f} s; client + registry over {cpus} CPUs "
                f"= {(client + server) / cpus:.2f} s, the wall time's floor on an idle machine"
            )
    lines.append(f"load after {os.getloadavg()[0]:.2f}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="the other checkout")
    parser.add_argument("--after", type=Path, default=ROOT, help="default: this checkout")
    parser.add_argument("--runs", type=int, default=3, help="rounds of the pull and dry run")
    options = parser.parse_args()
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    work = Path(tempfile.mkdtemp(prefix="portside-compare-", dir=base))
    try:
        for line in compare(options.before.resolve(), options.after.resolve(), options.runs, work):
            print(line, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
