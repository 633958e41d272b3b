"""`portside ci-env gitlab` start-up: median wall and CPU time of 20 runs in a simulated GitLab
job, beside `python3 -c pass` in the same run.

Target (issue 10): a median of at most 250 ms on the 2-core reference machine, with typer as
the only parser. CPU time (user + system of the child) is printed beside wall time because
it barely moves when other work loads the machine. ci-env does no network I/O, so no registry
is started. For scale: `python3 -c 'import typer'` (what the parser alone costs) and skopeo's
nearest local operation (`skopeo login --get-login`, which reads an auth file).
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 20
TARGET_MS = 250.0
ROOT = Path(__file__).resolve().parent.parent
PORTSIDE = ROOT / ".venv" / "bin" / "portside"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _medians_ms(command: list[str], env: dict[str, str], runs: int = RUNS) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of the child, in ms. CPU time barely
    moves when other work shares the machine; wall time does."""
    subprocess.run(command, env=env, capture_output=True, check=True)  # warm the caches
    wall, cpu = [], []
    for _ in range(runs):
        cpu_before, start = _cpu_seconds(), time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((_cpu_seconds() - cpu_before) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def _job_env(work: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CI_", "GITLAB_", "GITHUB_", "PORTSIDE_")) and k != "DOCKER_CONFIG"
    }
    source = work / "docker"
    source.mkdir()
    (source / "config.json").write_text('{"auths": {"other.example": {"auth": "dTpw"}}}')
    env.update(
        GITLAB_CI="true",
        CI_JOB_ID="1",
        CI_REGISTRY="registry.example:5000",
        CI_REGISTRY_IMAGE="registry.example:5000/group/app",
        CI_REGISTRY_USER="bench",
        CI_REGISTRY_PASSWORD="bench-password",
        CI_COMMIT_SHA="0" * 40,
        CI_COMMIT_REF_NAME="main",
        DOCKER_CONFIG=str(source),
        PORTSIDE_TMP_DIR=str(work / "jobs"),
    )
    (work / "jobs").mkdir()
    return env


def run() -> list[str]:
    work = Path(tempfile.mkdtemp(prefix="portside-bench-cienv-"))
    try:
        env = _job_env(work)
        rows = [
            ("portside ci-env gitlab", [str(PORTSIDE), "ci-env", "gitlab"], env),
            (f"python3 -c pass ({sys.executable})", [sys.executable, "-c", "pass"], env),
            ("  python3 -c 'import typer'", [sys.executable, "-c", "import typer"], env),
        ]
        shim = shutil.which("python3", path=env.get("PATH"))
        if shim and os.path.realpath(shim) != os.path.realpath(sys.executable):
            rows.append((f"python3 -c pass ({shim})", [shim, "-c", "pass"], env))
        if shutil.which("skopeo"):
            auth = work / "auth.json"
            auth.write_text('{"auths": {"registry.example:5000": {"auth": "dTpw"}}}')
            rows.append(
                (
                    "skopeo login --get-login (reads an auth file)",
                    [
                        "skopeo",
                        "login",
                        "--get-login",
                        "--authfile",
                        str(auth),
                        "registry.example:5000",
                    ],
                    env,
                )
            )
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        lines = [
            f"median of {RUNS} runs, {os.cpu_count()} CPUs, load average {load}",
            f"  {'':<58} {'wall':>7}    {'cpu':>7}",
        ]
        results = {}
        for label, command, row_env in rows:
            results[label], cpu = _medians_ms(command, row_env)
            lines.append(f"  {label:<58} {results[label]:7.1f} ms {cpu:7.1f} ms")
        cienv = results["portside ci-env gitlab"]
        verdict = "meets" if cienv <= TARGET_MS else "MISSES"
        lines.append(f"  target <= {TARGET_MS:.0f} ms (wall): {verdict} ({cienv:.1f} ms)")
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        lines.append(f"  load average after: {load}")
        return lines
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    print("\n".join(run()))
