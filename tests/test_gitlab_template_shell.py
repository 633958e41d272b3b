"""The GitLab template's shell steps on images gitlab-ci-local's shell executor cannot be:
no Python, Python without venv, no git, not root. The package managers are faked (recording
what they are asked for); the steps run in dash and busybox sh with errexit, as the runner
runs them. And the template's own switches are no option's env twin."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli import command_tree
from tests.gitlab_support import script, template


def test_template_switches_are_no_options_env_twin():
    """Defect 5: PORTSIDE_CLEANUP=true, the old trigger, was `ci-env --cleanup`'s env twin."""

    twins = {
        v
        for command in command_tree().values()
        for p in command.params
        for v in ([p.envvar] if isinstance(p.envvar, str) else p.envvar or [])
    }
    assert "PORTSIDE_DEST" in twins  # the walk finds the twins
    jobs = template()
    own = set(jobs["variables"]) | {"RUN_PORTSIDE_CLEANUP"}
    assert "RUN_PORTSIDE_CLEANUP" in jobs["portside-cleanup"]["rules"][0]["if"]
    assert not own & twins


def _sh(shell: list[str], text: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`text` run as GitLab's runner runs a job's script: errexit on."""
    return subprocess.run(
        [*shell, "-e", "-c", text], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def _fake(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


@pytest.mark.parametrize("shell", ["dash", "busybox"])
@pytest.mark.parametrize(
    ("image", "uid", "expected"),
    [
        # Alpine: no Python at all; apk adds python3 (with venv) and git for a git+ spec.
        ("apk", "0", "apk add --no-cache --quiet python3 git"),
        # Debian/Ubuntu without python3-venv: apt-get installs it, and git with its CA bundle.
        ("apt-get", "0", "apt-get install -y -qq --no-install-recommends python3 python3-venv"),
        ("apt-get", "1000", "lacks Python 3 with venv and git and cannot install it (needs root"),
        ("none", "0", "lacks Python 3 with venv and git and cannot install it (needs root"),
    ],
)
def test_install_step_on_images_without_python(tmp_path, shell, image, uid, expected):
    """Defect 8, the OS side, with the package managers faked: what the install step asks
    the image's package manager for, and the message when it cannot have Python."""
    program = shutil.which(shell)
    if program is None:
        pytest.fail(f"{shell} is not installed (`make system-deps` installs it)")
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    _fake(bin_dir, "id", f"echo {uid}")
    (bin_dir / "mkdir").symlink_to(shutil.which("mkdir"))
    if image == "apk":
        _fake(bin_dir, "apk", f'echo "apk $*" >> {calls}')
    else:  # a python3 without venv, as Debian's without python3-venv
        _fake(bin_dir, "python3", "exit 1")
    if image == "apt-get":
        _fake(bin_dir, "apt-get", f'echo "apt-get $*" >> {calls}')
    env = {
        "PATH": str(bin_dir),
        "TMPDIR": str(tmp_path),
        "CI_JOB_ID": "7",
        "PORTSIDE_PIP_SPEC": "git+https://gitlab.example.test/tools/portside.git@v0.1.0",
    }
    shell = [program, "sh"] if shell == "busybox" else [program]
    done = _sh(shell, script(".portside-install", "before_script"), env)
    assert done.returncode != 0, "the fakes install nothing, so the step cannot succeed"
    said = (calls.read_text() if calls.exists() else "") + done.stderr
    assert expected in said
    if image == "apt-get" and uid == "0":
        assert said.startswith("apt-get update -qq\n")
        assert "git ca-certificates" in said
    if uid != "0" or image == "none":
        assert done.returncode == 2 and not calls.exists()
        assert len(done.stderr.strip().splitlines()) == 1


def test_cleanup_job_gets_git_on_an_image_without_it(tmp_path):
    """Defect 9: python:3.12-slim has no git, which the git keep rule runs. The cleanup job
    installs it (apt-get faked here) before anything else, or stops saying why."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    (tmp_path / "env.sh").write_text("")
    _fake(bin_dir, "id", "echo 0")
    _fake(bin_dir, "portside", f"echo {tmp_path / 'env.sh'}")  # `ci-env --as-file`: its file
    _fake(bin_dir, "apt-get", f'echo "apt-get $*" >> {calls}')
    before = script(".portside-cleanup", "before_script")
    env = {"PATH": str(bin_dir), "TMPDIR": str(tmp_path), "CI_JOB_ID": "8"}
    done = _sh([str(shutil.which("dash"))], before, env)
    assert done.returncode == 0, done.stderr
    assert (
        calls.read_text().splitlines()[-1].endswith("--no-install-recommends git ca-certificates")
    )
    (bin_dir / "apt-get").unlink()
    done = _sh([str(shutil.which("dash"))], before, {**env, "CI_JOB_ID": "9"})
    assert done.returncode == 2
    assert "the cleanup job needs git (for the git keep rule)" in done.stderr


@pytest.mark.parametrize(
    ("spec", "extras", "installed"),
    [
        ("portside==0.1.0", "gitlab", "portside[gitlab]==0.1.0"),
        ("git+https://gitlab.example.test/t/portside.git@v1", "gitlab",
         "portside[gitlab] @ git+https://gitlab.example.test/t/portside.git@v1"),
        ("/wheels/portside-0.1.0-py3-none-any.whl", "gitlab",
         "/wheels/portside-0.1.0-py3-none-any.whl[gitlab]"),
        ("portside[gitlab,socks]>=0.1", "gitlab", "portside[gitlab,socks]>=0.1"),
        ("portside==0.1.0", "", "portside==0.1.0"),
    ],
)  # fmt: skip
def test_install_step_adds_the_jobs_extras_to_the_spec(tmp_path, spec, extras, installed):
    """The cleanup job's gitlab driver needs python-gitlab: PORTSIDE_PIP_EXTRAS (the cleanup
    job sets gitlab) goes on the spec in the form pip reads for each kind of spec."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    for tool in ("mkdir", "chmod"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    _fake(bin_dir, "git", "exit 0")  # a git+ spec needs git on the image
    venv = (
        'mkdir -p "$3/bin"\n'
        f'printf \'#!/bin/sh\\nprintf "%%s|" "$@" >> {calls}\\n\' > "$3/bin/python"\n'
        "printf '#!/bin/sh\\necho portside 0.1.0\\n' > \"$3/bin/portside\"\n"
        'chmod +x "$3/bin/python" "$3/bin/portside"'
    )
    _fake(bin_dir, "python3", f'if [ "$2" = venv ]; then {venv}; fi')
    env = {
        "PATH": str(bin_dir),
        "TMPDIR": str(tmp_path),
        "CI_JOB_ID": "5",
        "PORTSIDE_PIP_SPEC": spec,
        "PORTSIDE_PIP_EXTRAS": extras,
    }
    done = _sh([str(shutil.which("dash"))], script(".portside-install", "before_script"), env)
    assert done.returncode == 0, done.stderr
    assert calls.read_text().split("|")[-2] == installed
    assert template()[".portside-cleanup"]["variables"]["PORTSIDE_PIP_EXTRAS"] == "gitlab"
