"""GitHub Actions: the job's registry login and the values ci-env exports, from the default
variables (https://docs.github.com/en/actions/learn-github-actions/variables)."""

from __future__ import annotations

from collections.abc import Mapping

from integrations.platform import GITHUB, CiJob, RegistryLogin, Variables, exported, safe_name_part

GHCR = "ghcr.io"


def github_job(
    environ: Mapping[str, str], *, login: bool = True, token: str | None = None
) -> CiJob:
    """The GitHub Actions job described by `environ`.

    The login is `ghcr.io` with `GITHUB_ACTOR` and a token: `token` (the `--repo-github-token`
    option or its `PORTSIDE_REPO_GITHUB_TOKEN` twin), else `GITHUB_TOKEN`. Actions does not put
    `GITHUB_TOKEN` in the environment by itself; the workflow passes it
    (`env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}`).

    Raises InvalidInput naming every missing variable.
    """
    env = Variables(environ)
    run_id = env.need("GITHUB_RUN_ID")
    logins: tuple[RegistryLogin, ...] = ()
    if login:
        actor = env.need("GITHUB_ACTOR")
        secret = token or env.need(
            "GITHUB_TOKEN", "GITHUB_TOKEN (or --repo-github-token / PORTSIDE_REPO_GITHUB_TOKEN)"
        )
        origin = "--repo-github-token" if token else "GITHUB_ACTOR/GITHUB_TOKEN"
        logins = (RegistryLogin(GHCR, actor, secret, origin),)
    env.check(GITHUB, login=login)

    repository = env.get("GITHUB_REPOSITORY")
    ref_type, ref_name = env.get("GITHUB_REF_TYPE"), env.get("GITHUB_REF_NAME")
    # In pull_request runs GITHUB_REF_NAME is "<number>/merge"; the branch is GITHUB_HEAD_REF.
    branch = env.get("GITHUB_HEAD_REF") or (ref_name if ref_type == "branch" else None)
    run_url = None
    if repository and run_id:
        server = (env.get("GITHUB_SERVER_URL") or "https://github.com").rstrip("/")
        run_url = f"{server}/{repository}/actions/runs/{run_id}"
    values = exported(
        [
            # ghcr.io names must be lower case; GITHUB_REPOSITORY keeps the owner's casing.
            ("PORTSIDE_REPO", f"{GHCR}/{repository.lower()}" if repository else None),
            ("PORTSIDE_GIT_COMMIT", env.get("GITHUB_SHA")),
            ("PORTSIDE_GIT_BRANCH", branch),
            ("PORTSIDE_GIT_TAG", ref_name if ref_type == "tag" else None),
            ("PORTSIDE_CI_PIPELINE_URL", run_url),
        ]
    )
    # Matrix legs share GITHUB_RUN_ID and GITHUB_JOB; a runner runs one job at a time, so its
    # name tells concurrent legs apart.
    key = safe_name_part(
        run_id, env.get("GITHUB_RUN_ATTEMPT"), env.get("GITHUB_JOB"), env.get("RUNNER_NAME")
    )
    return CiJob(platform=GITHUB, job_key=key, registry=GHCR, logins=logins, values=values)
