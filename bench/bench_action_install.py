"""The GitHub Action's install steps (action.yml `prepare` and `install`), from scratch:
a fresh runner home (no pip or uv cache: the first job), then with the caches that
actions/cache restores (every later job). For `ci-env` (the core) and for `cleanup` of an ECR
repository (the core and the aws extra). Run through tests/action_runner.py, as the runner
runs the steps; downloads come from PyPI.

Target (issue 9): ci-env's install at most 10 s and its venv at most 40 MB. The old install
step (`python3 -m venv` + `pip install` of portside with every SDK) is timed once for scale.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from tests.action_runner import ROOT, ActionRunner

WARM_RUNS = int(os.environ.get("PORTSIDE_BENCH_RUNS", "3"))
TARGET_S, TARGET_MB = 10.0, 40.0
CASES = {
    "ci-env": {"command": "ci-env"},
    "cleanup (ECR: core + aws)": {
        "command": "cleanup",
        "repository": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app",
    },
}


def _mb(path: Path) -> float:
    done = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[0]) / 1024


def _install(runner: ActionRunner, inputs: dict[str, str]) -> tuple[float, Path]:
    start = time.perf_counter()
    run = runner.use(stop_after="install", **inputs)
    elapsed = time.perf_counter() - start
    if run.returncode != 0:
        raise RuntimeError(f"the install step failed:\n{run.stdout}{run.stderr}")
    return elapsed, Path(run.steps["install"]["python"]).parent.parent


def _old_install(work: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["python3", "-m", "venv", str(work / "old")], check=True)
    subprocess.run(
        [str(work / "old/bin/pip"), "install", "-q", f"{ROOT}[all]"],
        check=True,
        capture_output=True,
        env={**os.environ, "PIP_CACHE_DIR": str(work / "old-pip-cache")},
    )
    return time.perf_counter() - start


def run() -> list[str]:
    lines = [
        f"{os.cpu_count()} CPUs, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
    ]
    ci_env_cold = ci_env_mb = None
    for label, inputs in CASES.items():
        home = Path(tempfile.mkdtemp(prefix="portside-bench-action-"))
        try:
            runner = ActionRunner(home)
            cold, venv = _install(runner, inputs)
            warm = statistics.median(_install(runner, inputs)[0] for _ in range(WARM_RUNS))
            size, uv_size = _mb(venv), _mb(venv.parent / "uv")
            cache = _mb(home / ".cache" / "portside-action")
            lines.append(
                f"  {label:<28} from scratch {cold:5.1f} s   cached (median of {WARM_RUNS}) "
                f"{warm:5.1f} s   venv {size:5.1f} MB (+ uv {uv_size:.1f} MB)   "
                f"cache {cache:.1f} MB"
            )
            if label == "ci-env":
                ci_env_cold, ci_env_mb = cold, size
        finally:
            shutil.rmtree(home, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix="portside-bench-old-"))
    try:
        old = _old_install(work)
        lines.append(
            f"  old install step (pip, every SDK) {old:5.1f} s   venv {_mb(work / 'old'):5.1f} MB"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    met = ci_env_cold <= TARGET_S and ci_env_mb <= TARGET_MB
    lines.append(
        f"  target ci-env <= {TARGET_S:.0f} s and <= {TARGET_MB:.0f} MB: "
        f"{'meets' if met else 'MISSES'} ({ci_env_cold:.1f} s, {ci_env_mb:.1f} MB)"
    )
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
