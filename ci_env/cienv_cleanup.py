"""`portside ci-env --cleanup`: remove this job's directories (ci_env.jobdir does the removing,
and refuses anything portside did not make)."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from ci_env import jobdir
from ci_env.cienv import job_for, write_stdout
from ci_env.cienv_options import CiEnvArgs
from drivers.errors import InvalidInput, PortsideError
from integrations.platform import PLATFORMS


def cleanup(args: CiEnvArgs, env: Mapping[str, str]) -> None:
    """Remove this job's directories. The job is known by the directory its ci-env exported
    (PORTSIDE_DOCKER_CONFIG, or --docker-config), and by its id variables, read for every
    platform whose id is set: no platform marker is needed, since an after-job step may run
    without GITLAB_CI or GITHUB_ACTIONS."""
    named = args.docker_config
    jobs = current_jobs(env, args.platform)
    if not named and not jobs:
        raise InvalidInput(
            "cannot tell which job to clean up: neither PORTSIDE_DOCKER_CONFIG nor a job id "
            "(CI_JOB_ID, GITHUB_RUN_ID) is set",
            hint="run it in the job that ran ci-env, or pass --docker-config JOB_DIRECTORY",
        )
    bases = [jobdir.tmp_base(args.tmp_dir, env, platform) for platform, _ in jobs]
    report = jobdir.cleanup(named, bases, jobs)
    for path in report.removed:
        write_stdout(f"portside: removed {path}\n")
    for path, reason in report.failed:
        sys.stderr.write(f"portside: could not remove {path}: {reason}\n")
    if report.failed:
        raise PortsideError(
            f"{len(report.failed)} job director{'y' if len(report.failed) == 1 else 'ies'} "
            "could not be removed",
            hint="check their permissions",
        )
    if not report.removed:
        # Not an error: cleanup is idempotent (an after_script runs even when ci-env did not).
        looked = named or ", ".join(f"{p} job {key}" for p, key in jobs)
        where = ", ".join(str(b) for b in report.searched)
        sys.stderr.write(f"portside: nothing to remove: no job directory for {looked} in {where}\n")


def current_jobs(env: Mapping[str, str], platform: str | None) -> list[tuple[str, str]]:
    """(platform, job key) of each platform whose job id variables are set (only `platform`'s,
    when it is named), to find the job's directories."""
    found: list[tuple[str, str]] = []
    for name in [platform] if platform else PLATFORMS:
        try:
            job = job_for(name, env, CiEnvArgs(platform=name, login=False))
        except PortsideError:
            continue
        found.append((job.platform, job.job_key))
    return found
