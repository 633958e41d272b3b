"""`portside ci-env --cleanup`: removes the job's directory and portside's stale ones, and
nothing else."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from tests.cienv_support import (
    GITHUB_JOB,
    GITLAB_JOB,
    CiSetup,
    ci_fixture,  # noqa: F401  (fixture)
    exported_values,
)
from tests.cli import run_cli

DAY = 24 * 3600


def make_job_dir(capsys, ci: CiSetup, job_id: str) -> Path:
    ci.set({**GITLAB_JOB, "CI_JOB_ID": job_id})
    result = run_cli(capsys, "ci-env", "--tmp-dir", str(ci.tmp))
    assert result.code == 0, result.err
    return Path(exported_values(result.out.encode())["PORTSIDE_DOCKER_CONFIG"])


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path / ".portside-ci-env", (then, then))
    os.utime(path, (then, then))


def test_removes_the_named_directory_and_stale_ones_only(capsys, ci, tmp_path):
    stale = make_job_dir(capsys, ci, "1")
    age(stale, DAY + 60)
    fresh_other_job = make_job_dir(capsys, ci, "2")
    mine = make_job_dir(capsys, ci, "3")
    # Old, named like ours, but without a marker: not ours.
    impostor = ci.tmp / "portside-ci-env-gitlab-9-abcdef"
    impostor.mkdir()
    (impostor / "data").write_text("keep me")
    os.utime(impostor, (time.time() - 10 * DAY,) * 2)
    unrelated = ci.tmp / "something-else"
    unrelated.mkdir()

    ci.set({"PORTSIDE_DOCKER_CONFIG": str(mine)})
    result = run_cli(capsys, "ci-env", "--cleanup")
    assert result.code == 0, result.err
    assert not mine.exists()
    assert not stale.exists()
    assert fresh_other_job.exists()
    assert (impostor / "data").read_text() == "keep me"
    assert unrelated.exists()
    assert f"removed {mine}" in result.out and f"removed {stale}" in result.out


def test_refuses_a_directory_portside_did_not_create(capsys, ci, tmp_path):
    stale = make_job_dir(capsys, ci, "1")
    age(stale, DAY + 60)
    foreign = tmp_path / "my-docker-config"
    foreign.mkdir()
    (foreign / "config.json").write_text("{}")
    result = run_cli(capsys, "ci-env", "--cleanup", "--docker-config", str(foreign))
    assert result.code == 2
    assert "was not created by portside ci-env; refusing" in result.err
    assert (foreign / "config.json").read_text() == "{}"
    assert stale.exists()  # deletes nothing at all


def test_a_forged_marker_in_a_foreign_directory_is_not_enough(capsys, ci, tmp_path):
    job_dir = make_job_dir(capsys, ci, "5")
    foreign = tmp_path / "user-config"
    foreign.mkdir()
    (foreign / ".portside-ci-env").write_bytes((job_dir / ".portside-ci-env").read_bytes())
    result = run_cli(capsys, "ci-env", "--cleanup", "--docker-config", str(foreign))
    assert result.code == 2
    assert foreign.exists()


def test_finds_the_job_directory_by_job_id_without_the_exports(capsys, ci):
    """GitLab runs after_script in a new shell: PORTSIDE_DOCKER_CONFIG is gone, CI_JOB_ID is
    not."""
    mine = make_job_dir(capsys, ci, "77")
    other = make_job_dir(capsys, ci, "777")
    ci.set({**GITLAB_JOB, "CI_JOB_ID": "77"})
    result = run_cli(capsys, "ci-env", "--cleanup", "--tmp-dir", str(ci.tmp))
    assert result.code == 0, result.err
    assert not mine.exists()
    assert other.exists()


def test_outside_ci_it_cannot_tell_the_job_and_deletes_nothing(capsys, ci):
    stale = make_job_dir(capsys, ci, "1")
    age(stale, DAY + 60)
    for name in GITLAB_JOB:
        ci.monkeypatch.delenv(name)
    result = run_cli(capsys, "ci-env", "--cleanup", "--tmp-dir", str(ci.tmp))
    assert result.code == 2
    assert "cannot tell which job to clean up" in result.err and "CI_JOB_ID" in result.err
    assert stale.exists()  # fails closed: nothing at all is deleted


def test_a_directory_already_gone_is_fine(capsys, ci):
    mine = make_job_dir(capsys, ci, "8")
    ci.set({"PORTSIDE_DOCKER_CONFIG": str(mine)})
    assert run_cli(capsys, "ci-env", "--cleanup").code == 0
    assert run_cli(capsys, "ci-env", "--cleanup").code == 0


# -- defect: --cleanup relied on platform detection (GITLAB_CI unset: exit 0, directory left)


def test_finds_the_job_without_a_platform_marker(capsys, ci):
    mine = make_job_dir(capsys, ci, "91")
    ci.monkeypatch.delenv("GITLAB_CI")
    result = run_cli(capsys, "ci-env", "--cleanup", "--tmp-dir", str(ci.tmp))
    assert result.code == 0, result.err
    assert not mine.exists()
    assert f"removed {mine}" in result.out


def test_finds_a_github_job_without_a_platform_marker(capsys, ci):
    ci.set(GITHUB_JOB)
    assert run_cli(capsys, "ci-env", "--tmp-dir", str(ci.tmp)).code == 0
    [mine] = ci.job_dirs()
    for name in GITHUB_JOB:
        if name not in ("GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_JOB", "RUNNER_NAME"):
            ci.monkeypatch.delenv(name)
    result = run_cli(capsys, "ci-env", "--cleanup", "--tmp-dir", str(ci.tmp))
    assert result.code == 0, result.err
    assert not mine.exists()


def test_with_only_the_exported_directory(capsys, ci):
    mine = make_job_dir(capsys, ci, "92")
    for name in GITLAB_JOB:
        ci.monkeypatch.delenv(name)
    ci.set({"PORTSIDE_DOCKER_CONFIG": str(mine)})
    result = run_cli(capsys, "ci-env", "--cleanup")
    assert result.code == 0, result.err
    assert not mine.exists()


def test_the_script_directory_of_as_file_goes_too(capsys, ci, tmp_path):
    """A --tmp-dir with a space puts the --as-file script into a second directory in the system
    temp dir (its path must survive `. $(…)`); the exported directory alone finds both."""
    spaced = tmp_path / "job dirs"
    spaced.mkdir()
    ci.set({**GITLAB_JOB, "CI_JOB_ID": f"cleanup-{uuid.uuid4().hex[:12]}"})
    result = run_cli(capsys, "ci-env", "--as-file", "--tmp-dir", str(spaced))
    assert result.code == 0, result.err
    script = Path(result.out.strip())
    assert script.is_file() and script.parent.parent != spaced
    mine = Path(exported_values(script.read_bytes())["PORTSIDE_DOCKER_CONFIG"])
    for name in GITLAB_JOB:
        ci.monkeypatch.delenv(name)
    ci.set({"PORTSIDE_DOCKER_CONFIG": str(mine)})
    result = run_cli(capsys, "ci-env", "--cleanup")
    assert result.code == 0, result.err
    assert not mine.exists() and not script.parent.exists()


def test_nothing_to_remove_says_so_and_succeeds(capsys, ci):
    """Idempotent: an after_script runs even when ci-env did not, or ran its cleanup before."""
    ci.set({"CI_JOB_ID": "93"})
    result = run_cli(capsys, "ci-env", "--cleanup", "--tmp-dir", str(ci.tmp))
    assert result.code == 0
    assert result.out == ""
    assert f"nothing to remove: no job directory for gitlab job 93 in {ci.tmp}" in result.err
