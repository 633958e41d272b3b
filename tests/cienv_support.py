"""Shared pieces of the ci-env tests: a clean simulated CI environment, running portside as a
subprocess, and reading exported values back through a real shell."""

from __future__ import annotations

import json
import os
import subprocess
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
_CI_NAMES = ("CI", "DOCKER_CONFIG", "DOCKER_AUTH_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR")

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


# The shells ci-env's sh output is evaluated in, as their command lines; zsh runs as zsh (not in
# sh emulation), so `eval $(…)` splits on IFS there too.
SH_SHELLS = {"bash": ["bash"], "dash": ["dash"], "ash": ["busybox", "ash"], "zsh": ["zsh"]}
# The documented ways to evaluate `portside ci-env ARGS` in them, as users write them.
SH_FORMS = {
    "eval-unquoted": "eval $(portside ci-env {args})",
    "eval-quoted": 'eval "$(portside ci-env {args})"',
    "dot-quoted": '. "$(portside ci-env {args} --as-file)"',
    "dot-unquoted": ". $(portside ci-env {args} --as-file)",
}
FISH_FORMS = {
    "pipe-source": "portside ci-env {args} --shell fish | source",
    "eval": "eval (portside ci-env {args} --shell fish)",
    "source-file": "source (portside ci-env {args} --shell fish --as-file)",
}
BIN = str(ROOT / ".venv" / "bin")


class ShellRun:
    """What one shell program did: exit code, stderr, and the named variables' bytes as the
    shell left them in its environment (None: unset), when it got as far as `env -0`."""

    def __init__(self, result: subprocess.CompletedProcess[bytes], names: Sequence[str]) -> None:
        self.code = result.returncode
        self.stderr = result.stderr.decode("utf-8", "replace")
        self.stdout, marker, dump = result.stdout.partition(_DUMP_MARKER)
        self.values: dict[str, bytes | None] | None = None
        if marker:
            found = dict(item.partition(b"=")[::2] for item in dump.split(b"\0") if item)
            self.values = {n: found.get(os.fsencode(n)) for n in names}


# Printed before the environment dump, to tell it from what the program printed.
_DUMP_MARKER = b"--portside-test-env-dump--\n"


def run_shell(
    shell: Sequence[str],
    program: str | bytes,
    names: Sequence[str],
    workdir: Path,
    *,
    env: Mapping[str, str] | None = None,
    fish: bool = False,
) -> ShellRun:
    """Run `program` (then a dump of the environment) as a script file in `shell`, in
    `workdir`, with `portside` on PATH; report the named variables."""
    tail = f"printf '%s\\n' {_DUMP_MARKER.decode().strip()}; exec env -0"
    body = program.encode() if isinstance(program, str) else program
    path = workdir / ("program.fish" if fish else "program.sh")
    path.write_bytes(body + b"\n" + tail.encode() + b"\n")
    environ = dict(env) if env is not None else clean_environ()
    environ["PATH"] = BIN + os.pathsep + environ.get("PATH", os.defpath)
    result = subprocess.run(
        [*shell, str(path)], env=environ, capture_output=True, timeout=60, check=False, cwd=workdir
    )
    return ShellRun(result, names)


def read_back(
    script: bytes,
    shell: Sequence[str],
    names: Sequence[str],
    workdir: Path,
    *,
    env: Mapping[str, str] | None = None,
    dialect: str = "sh",
    form: str = "source",
) -> dict[str, bytes | None]:
    """Evaluate `script` (ci-env's output) in `shell` the way `form` says, then report the named
    variables' bytes as the shell left them in its environment (read by a child process, so it
    is what later tools see). Forms: `source` (`. FILE`), `eval-unquoted` (`eval $(cat FILE)`),
    `eval-quoted` (`eval "$(cat FILE)"`); fish: `source`, `eval` (`eval (cat FILE)`)."""
    (workdir / "ci-env.out").write_bytes(script)
    programs = {
        "source": "source ci-env.out" if dialect == "fish" else ". ./ci-env.out",
        "eval-unquoted": "eval $(cat ci-env.out)",
        "eval-quoted": 'eval "$(cat ci-env.out)"',
        "eval": "eval (cat ci-env.out)",
    }
    done = run_shell(shell, programs[form], names, workdir, env=env, fish=dialect == "fish")
    assert done.code == 0 and done.values is not None, done.stderr
    return done.values


# What a shell started by `env -i` sets by itself.
_SHELL_OWN = frozenset({"PWD", "OLDPWD", "SHLVL", "_"})


def exported_values(script: bytes) -> dict[str, str]:
    """The variables a sh script exports, as dash leaves them after `eval "$(…)"`."""
    result = subprocess.run(
        ["env", "-i", "/bin/dash", "-c", 'eval "$1" && exec env -0', "sh", script],
        capture_output=True,
        timeout=60,
        check=True,
    )
    values: dict[str, str] = {}
    for item in result.stdout.split(b"\0"):
        name, eq, value = item.partition(b"=")
        if eq and name.decode() not in _SHELL_OWN:
            values[name.decode()] = value.decode("utf-8", "surrogateescape")
    return values
