"""GitHub Actions extras: `$GITHUB_ENV`, `$GITHUB_OUTPUT`, masks and the step summary.

The files are parsed back exactly as the runner does (actions/runner, `SetEnvFileCommand`:
`NAME=VALUE` lines, or `NAME<<DELIMITER`, value lines, then a line equal to the delimiter).
"""

from __future__ import annotations

import base64
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.github_files import append_env, append_step_summary, heredoc
from tests.cienv_support import (
    CANARY,
    GITHUB_JOB,
    CiSetup,
    ci_fixture,  # noqa: F401  (fixture)
    exported_values,
)
from tests.cli import run_cli


def parse_runner_file(text: str) -> dict[str, str]:
    """The runner's reading of an env/output file (Linux: lines end at LF)."""
    values: dict[str, str] = {}
    index = 0

    def read_line() -> tuple[str | None, int]:
        nonlocal index
        if index >= len(text):
            return None, 0
        end = text.find("\n", index)
        if end < 0:
            line, index = text[index:], len(text)
            return line, 0
        line, index = text[index:end], end + 1
        return line, 1

    line, _ = read_line()
    while line is not None:
        if line:
            equals, heredoc_at = line.find("="), line.find("<<")
            if equals >= 0 and (heredoc_at < 0 or equals < heredoc_at):
                name, value = line.split("=", 1)
                values[name] = value
            elif heredoc_at >= 0 and (equals < 0 or heredoc_at < equals):
                name, delimiter = line.split("<<", 1)
                assert name and delimiter
                start = end = index
                inner, newline = read_line()
                while inner != delimiter:
                    assert inner is not None, f"delimiter {delimiter} not found"
                    end = index - newline
                    inner, newline = read_line()
                values[name] = text[start:end] if end > start else ""
            else:
                raise AssertionError(f"invalid line {line!r}")
        line, _ = read_line()
    return values


def github_run(capsys, ci: CiSetup, extra: dict[str, str] | None = None):
    env_file, output_file = ci.root / "github_env", ci.root / "github_output"
    env_file.write_text("EARLIER=kept\n")
    ci.set(
        {
            **GITHUB_JOB,
            "GITHUB_ENV": str(env_file),
            "GITHUB_OUTPUT": str(output_file),
            **(extra or {}),
        }
    )
    result = run_cli(capsys, "ci-env", "--tmp-dir", str(ci.tmp))
    assert result.code == 0, result.err
    return result, env_file, output_file


def test_github_env_holds_the_exports(capsys, ci):
    branch = "feat/" + string.punctuation + "\nsecond line\n"
    result, env_file, output_file = github_run(
        capsys,
        ci,
        {"GITHUB_HEAD_REF": branch, "PORTSIDE_REPO": "mine.example/app"},
    )
    printed = exported_values(result.out.encode())
    written = parse_runner_file(env_file.read_bytes().decode())
    assert written.pop("EARLIER") == "kept"
    assert written == printed
    assert written["PORTSIDE_GIT_BRANCH"] == branch
    assert "PORTSIDE_REPO" not in written  # the user's value is kept
    assert Path(written["DOCKER_CONFIG"]).parent == ci.tmp
    assert parse_runner_file(output_file.read_bytes().decode()) == {
        "docker-config": written["DOCKER_CONFIG"]
    }
    assert CANARY not in env_file.read_text() + output_file.read_text() + result.out


def test_secrets_are_masked_before_they_reach_a_file(capsys, ci):
    result, _, _ = github_run(capsys, ci)
    auth = base64.b64encode(f"octocat:{CANARY}".encode()).decode()
    masks = [line for line in result.err.splitlines() if line.startswith("::add-mask::")]
    assert masks == [f"::add-mask::{CANARY}", f"::add-mask::{auth}"]
    # The secret appears nowhere but in the mask commands (which the runner consumes).
    assert CANARY not in result.out
    assert CANARY not in result.err.replace(f"::add-mask::{CANARY}\n", "")


def test_no_masks_outside_github_actions(capsys, ci):
    ci.set({**GITHUB_JOB, "GITHUB_ACTIONS": ""})
    result = run_cli(capsys, "ci-env", "github", "--tmp-dir", str(ci.tmp))
    assert result.code == 0, result.err
    assert CANARY not in result.text


def test_unwritable_github_env_fails_clearly(capsys, ci):
    ci.set({**GITHUB_JOB, "GITHUB_ENV": str(ci.root / "no-such-dir" / "env")})
    result = run_cli(capsys, "ci-env", "--tmp-dir", str(ci.tmp))
    assert result.code == 1
    assert "GITHUB_ENV" in result.err
    assert ci.job_dirs() == []


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.lists(
        st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
        min_size=1,
        max_size=5,
    )
)
def test_heredoc_round_trip_property(tmp_path, values):
    path = tmp_path / "env"
    path.write_text("")
    pairs = [(f"V{i}", v) for i, v in enumerate(values)]
    append_env(str(path), pairs)
    assert parse_runner_file(path.read_bytes().decode("utf-8")) == dict(pairs)


def test_a_value_cannot_end_its_own_block():
    block = heredoc("X", "a\nghadelimiter_guess\nY=injected")
    assert parse_runner_file(block) == {"X": "a\nghadelimiter_guess\nY=injected"}


@pytest.mark.parametrize("name", ["", "A=B", "A<<B", "A\nB"])
def test_bad_names_are_refused(name):
    with pytest.raises(Exception, match="cannot be a GitHub Actions"):
        heredoc(name, "v")


def test_step_summary(tmp_path):
    assert append_step_summary("# nothing", {}) is False
    summary = tmp_path / "summary.md"
    assert append_step_summary("## one", {"GITHUB_STEP_SUMMARY": str(summary)})
    assert append_step_summary("two\n", {"GITHUB_STEP_SUMMARY": str(summary)})
    assert summary.read_text() == "## one\ntwo\n"
