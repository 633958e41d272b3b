"""A small GitHub Actions runner for action.yml, doing what the real one does with a composite
action's steps (docs.github.com, "Metadata syntax" and "Workflow commands"):

- inputs from `with:`, else their defaults, as strings;
- `${{ }}` expressions evaluated in `env:`, `with:` and `name:` (the subset action.yml uses:
  `inputs.x`, `github.x`, `runner.x`, `env.X`, `steps.ID.outputs.X`); anything else is an
  error here, so a new expression cannot slip past the tests unevaluated;
- each `run:` written to a file and run as `bash --noprofile --norc -eo pipefail FILE`, in the
  workspace, with the job's `env:`, what earlier steps wrote to `$GITHUB_ENV` (both the
  `NAME=value` and the `NAME<<DELIM` forms) and `$GITHUB_PATH`, then the step's own `env:`;
- `$GITHUB_OUTPUT` read after each step into `steps.ID.outputs`; the first failing step ends
  the action, as a composite action's does.

A `uses:` step (actions/cache) cannot run here: it is skipped and noted in `Run.notes`. A test
may also stand in for the install step with an installed portside (`installed_python`),
noted the same way, so that only the tests of the install step pay for installing.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_HEREDOC = re.compile(r"^([^=<]+)<<(.+)$")
# The machine's network settings reach the steps, as a self-hosted runner's would: the
# install step downloads from PyPI (a TLS-inspecting proxy needs its CA bundle).
_NETWORK = re.compile(
    r"^(SSL_CERT_(FILE|DIR)|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|PIP_[A-Z_]+|UV_[A-Z_]+|(HTTPS?|NO|ALL)_PROXY)$",
    re.I,
)


@dataclass
class Run:
    """What one `uses:` of the action did."""

    returncode: int
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)
    steps: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def read_commands_file(text: str) -> dict[str, str]:
    """`$GITHUB_ENV` / `$GITHUB_OUTPUT`: `NAME=value` lines and `NAME<<DELIM` blocks."""
    values: dict[str, str] = {}
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        heredoc = _HEREDOC.match(line)
        if heredoc:
            name, delimiter = heredoc.groups()
            body = []
            while index < len(lines) and lines[index] != delimiter:
                body.append(lines[index])
                index += 1
            if index == len(lines):
                raise ValueError(f"{name}<<{delimiter}: the delimiter never comes")
            index += 1
            values[name] = "\n".join(body)
        elif "=" in line:
            name, _, value = line.partition("=")
            values[name] = value
        elif line.strip():
            raise ValueError(f"unreadable line in a commands file: {line!r}")
    return values


class ActionRunner:
    """One job on a simulated runner: `use()` runs the action as a `uses: ./` step would."""

    def __init__(
        self,
        home: Path,
        *,
        job_env: dict[str, str] | None = None,
        base_env: dict[str, str] | None = None,
        installed_python: str | None = None,
        action: Path = ROOT / "action.yml",
        token: str = "ghs_default_token",
    ) -> None:
        self.action = yaml.safe_load(action.read_text())
        self.action_path = action.parent
        self.home = home
        self.temp = home / "runner-temp"
        self.workspace = home / "workspace"
        for directory in (self.temp, self.workspace):
            directory.mkdir(parents=True, exist_ok=True)
        self.job_env = dict(job_env or {})
        self.exported: dict[str, str] = {}  # what steps wrote to $GITHUB_ENV
        self.paths: list[str] = []  # what steps wrote to $GITHUB_PATH, newest first
        self.installed_python = installed_python
        self.token = token
        self.runner = {
            "PATH": os.environ["PATH"],
            "HOME": str(home),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_REPOSITORY": "Me/App",
            "GITHUB_ACTOR": "me",
            "GITHUB_RUN_ID": "77",
            "GITHUB_JOB": "build",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_API_URL": "https://api.github.com",
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
            "RUNNER_NAME": "emulated",
            "RUNNER_TEMP": str(self.temp),
            **{k: v for k, v in os.environ.items() if _NETWORK.match(k)},
            **(base_env or {}),
        }
        self._count = 0

    # --- expressions ---------------------------------------------------------------------------

    def _evaluate(self, expression: str, context: dict[str, Any]) -> str:
        parts = expression.split(".")
        if parts[0] in ("inputs", "github", "runner", "env") and len(parts) == 2:
            value = context[parts[0]].get(parts[1])
            if value is None and parts[0] in ("inputs", "github", "runner"):
                raise KeyError(f"${{{{ {expression} }}}}: not known to the emulator")
            return "" if value is None else str(value)
        if parts[0] == "steps" and len(parts) == 4 and parts[2] == "outputs":
            return context["steps"].get(parts[1], {}).get(parts[3], "")
        raise KeyError(f"${{{{ {expression} }}}}: an expression the emulator does not evaluate")

    def _substitute(self, text: Any, context: dict[str, Any]) -> str:
        text = "" if text is None else str(text)
        return _EXPRESSION.sub(lambda m: self._evaluate(m.group(1), context), text)

    # --- running -------------------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        env = {**self.runner, **self.job_env, **self.exported}
        if self.paths:
            env["PATH"] = os.pathsep.join([*self.paths, env["PATH"]])
        return env

    def use(self, stop_after: str = "", **with_: str) -> Run:
        """Run the action with these inputs (`keep_tags=` for `keep-tags:`); `stop_after`: the
        id of the last step to run (the benchmark times the install alone)."""
        given = {name.replace("_", "-"): value for name, value in with_.items()}
        declared = self.action.get("inputs", {})
        unknown = set(given) - set(declared)
        if unknown:
            raise KeyError(f"inputs the action does not declare: {sorted(unknown)}")
        github = {
            "token": self.token,
            "action_path": str(self.action_path),
            "workspace": str(self.workspace),
            "repository": self.runner["GITHUB_REPOSITORY"],
        }
        runner = {"temp": str(self.temp), "os": self.runner["RUNNER_OS"], "arch": "X64"}
        context: dict[str, Any] = {"github": github, "runner": runner, "steps": {}}
        context["env"] = self._environment()
        context["inputs"] = {}
        for name, spec in declared.items():
            default = self._substitute(spec.get("default", ""), context)
            context["inputs"][name] = given.get(name, default)
        result = Run(0, steps=context["steps"])
        for step in self.action["runs"]["steps"]:
            if not self._step(step, context, result) or step.get("id") == stop_after:
                break
        for name, spec in self.action.get("outputs", {}).items():
            result.outputs[name] = self._substitute(spec.get("value", ""), context)
        return result

    def _step(self, step: dict[str, Any], context: dict[str, Any], result: Run) -> bool:
        name = self._substitute(step.get("name", ""), context)
        step_id = step.get("id", f"__step{len(context['steps'])}")
        if "uses" in step:
            with_ = {k: self._substitute(v, context) for k, v in (step.get("with") or {}).items()}
            result.notes.append(f"skipped `uses: {step['uses']}` ({name}) with {with_}")
            context["steps"][step_id] = {}
            return True
        if step.get("id") == "install" and self.installed_python:
            result.notes.append(f"stood in for {name!r} with {self.installed_python}")
            context["steps"][step_id] = {"python": self.installed_python}
            return True
        assert step.get("shell") == "bash", f"step {name!r}: only bash steps are emulated"
        self._count += 1
        files = {
            kind: self.temp / f"_runner_file_commands/{kind.lower()}_{self._count}"
            for kind in ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH", "GITHUB_STEP_SUMMARY")
        }
        for path in files.values():
            path.parent.mkdir(exist_ok=True)
            path.touch()
        script = self.temp / f"_runner_scripts/{self._count}.sh"
        script.parent.mkdir(exist_ok=True)
        script.write_text(self._substitute(step["run"], context))
        env = self._environment()
        env.update({k: str(v) for k, v in files.items()})
        env["GITHUB_ACTION_PATH"] = str(self.action_path)
        env.update({k: self._substitute(v, context) for k, v in (step.get("env") or {}).items()})
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            env=env,
            cwd=self.workspace,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        result.stdout += done.stdout
        result.stderr += done.stderr
        context["steps"][step_id] = read_commands_file(files["GITHUB_OUTPUT"].read_text())
        self.exported.update(read_commands_file(files["GITHUB_ENV"].read_text()))
        new_paths = [p for p in files["GITHUB_PATH"].read_text().splitlines() if p.strip()]
        self.paths = [*reversed(new_paths), *self.paths]
        context["env"] = self._environment()
        result.returncode = done.returncode
        return done.returncode == 0
