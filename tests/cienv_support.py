"""Shared pieces of the ci-env tests: a clean simulated CI environment, running portside as a
subprocess, and reading exported values back through a real shell."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests.bed import CANARY_PASSWORD

ROOT = Path(__file__).resolve().parent.parent
PORTSIDE = str(ROOT / ".venv" / "bin" / "portside")
CANARY = CANARY_PASSWORD

# Variables a CI platform (or an earlier ci-env) may have set in the environment running the
# tests; every ci-env test starts without them.
_CI_PREFIXES = ("CI_", "GITLAB_", "GITHUB_", "RUNNER_", "PORTSIDE_")
_CI_NAMES = ("CI", "DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR")

GITLAB_JOB = {
    "GITLAB_CI": "true",
    "CI_JOB_ID": "4242",
    "CI_REGISTRY": "registry.example:5000",
    "CI_REGISTRY_IMAGE": "registry.example:5000/group/app",
    "CI_REGISTRY_USER": "gitlab-ci-user",
    "CI_REGISTRY_PASSWORD": CANARY,
    "CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567",
    "CI_COMMIT_REF_NAME": "main",
    "CI_JOB_URL": "https://gitlab.example/group/app/-/jobs/4242",
    "CI_PIPELINE_URL": "https://gitlab.example/group/app/-/pipelines/77",
}

GITHUB_JOB = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_RUN_ID": "9001",
    "GITHUB_RUN_ATTEMPT": "1",
    "GITHUB_JOB": "build",
    "RUNNER_NAME": "runner-1",
    "GITHUB_ACTOR": "octocat",
    "GITHUB_TOKEN": CANARY,
    "GITHUB_REPOSITORY": "Octo-Org/Hello-World",
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_SHA": "fedcba9876543210fedcba9876543210fedcba98",
    "GITHUB_REF_NAME": "main",
    "GITHUB_REF_TYPE": "branch",
}


def is_ci_variable(name: str) -> bool:
    return name.startswith(_CI_PREFIXES) or name in _CI_NAMES


def clean_environ(**extra: str) -> dict[str, str]:
    """os.environ without CI variables, plus `extra` (for subprocesses)."""
    env = {k: v for k, v in os.environ.items() if not is_ci_variable(k)}
    env.update(extra)
    return env


@pytest.fixture(name="ci")
def ci_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CiSetup:
    """A clean environment with a source Docker config dir and a temp dir for job dirs."""
    for name in list(os.environ):
        if is_ci_variable(name):
            monkeypatch.delenv(name)
    setup = CiSetup(tmp_path, monkeypatch)
    monkeypatch.setenv("DOCKER_CONFIG", str(setup.source))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return setup


class CiSetup:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.monkeypatch = monkeypatch
        self.source = root / "source-docker"
        self.source.mkdir()
        self.tmp = root / "jobs"
        self.tmp.mkdir()

    def set(self, variables: Mapping[str, str]) -> None:
        for name, value in variables.items():
            self.monkeypatch.setenv(name, value)

    def job_dirs(self) -> list[Path]:
        return sorted(p for p in self.tmp.iterdir() if p.name.startswith("portside-ci-env-"))

    def write_source(self, doc: dict) -> bytes:
        data = json.dumps(doc, indent=2).encode()
        (self.source / "config.json").write_bytes(data)
        return data


def run_portside(
    *args: str, env: Mapping[str, str | bytes] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """`portside ARGS` as a user runs it (the console script), output as bytes."""
    environ = None
    if env is not None:
        environ = {os.fsencode(k): os.fsencode(v) for k, v in env.items()}
    return subprocess.run(
        [PORTSIDE, *args], env=environ, capture_output=True, timeout=60, cwd=cwd, check=False
    )


_DUMP = (
    "import json, os, sys\n"
    "print(json.dumps({n: (os.environb[os.fsencode(n)].hex() if os.fsencode(n) in os.environb"
    " else None) for n in sys.argv[1:]}))\n"
)


def read_back(
    script: bytes,
    shell: Sequence[str],
    names: Sequence[str],
    workdir: Path,
    *,
    env: Mapping[str, str] | None = None,
    dialect: str = "sh",
) -> dict[str, bytes | None]:
    """Source `script` in `shell`, then report the named variables' bytes as the shell left
    them in its environment (read by a child process, so it is what later tools see)."""
    dumper = workdir / "dump_env.py"
    dumper.write_text(_DUMP)
    argv = [sys.executable, str(dumper), *names]
    if dialect == "fish":
        tail = "exec " + " ".join(_fish_word(a) for a in argv)
    else:
        tail = "exec " + " ".join(shlex.quote(a) for a in argv)
    path = workdir / f"script.{dialect}"
    path.write_bytes(script + b"\n" + tail.encode() + b"\n")
    result = subprocess.run(
        [*shell, str(path)],
        env=dict(env) if env is not None else clean_environ(),
        capture_output=True,
        timeout=60,
        check=False,
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    values = json.loads(result.stdout)
    return {n: (bytes.fromhex(v) if v is not None else None) for n, v in values.items()}


def _fish_word(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def exported_values(script: bytes) -> dict[str, str]:
    """The `export NAME='value'` lines of a sh script, parsed with shlex (POSIX rules)."""
    values: dict[str, str] = {}
    for word in shlex.split(script.decode("utf-8", "surrogateescape"), comments=True):
        if word == "export":
            continue
        name, _, value = word.partition("=")
        values[name] = value
    return values
