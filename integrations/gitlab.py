"""GitLab CI: the job's registry logins and the values ci-env exports, from its predefined
variables (https://docs.gitlab.com/ee/ci/variables/predefined_variables.html)."""

from __future__ import annotations

from collections.abc import Mapping

from integrations.platform import GITLAB, CiJob, RegistryLogin, Variables, exported, safe_name_part

# The user GitLab documents for logging in with the job token.
JOB_TOKEN_USER = "gitlab-ci-token"


def gitlab_job(environ: Mapping[str, str], *, login: bool = True) -> CiJob:
    """The GitLab job described by `environ`.

    Logins (when `login`):
    - `CI_REGISTRY` with `CI_REGISTRY_USER`/`CI_REGISTRY_PASSWORD`, else `gitlab-ci-token` with
      `CI_JOB_TOKEN` (GitLab sets the first pair only when the registry is enabled);
    - the dependency proxy, `CI_DEPENDENCY_PROXY_SERVER` with its user and password, when set.

    Raises InvalidInput naming every missing variable.
    """
    env = Variables(environ)
    job_id = env.need("CI_JOB_ID")
    registry = env.get("CI_REGISTRY") or ""
    logins: list[RegistryLogin] = []
    if login:
        registry = env.need("CI_REGISTRY")
        logins.append(_registry_login(env, registry))
        proxy = env.get("CI_DEPENDENCY_PROXY_SERVER")
        if proxy:
            logins.append(
                RegistryLogin(
                    proxy,
                    env.need("CI_DEPENDENCY_PROXY_USER"),
                    env.need("CI_DEPENDENCY_PROXY_PASSWORD"),
                    "CI_DEPENDENCY_PROXY_USER/CI_DEPENDENCY_PROXY_PASSWORD",
                )
            )
    env.check(GITLAB, login=login)
    values = exported(
        [
            ("PORTSIDE_REPO", env.get("CI_REGISTRY_IMAGE")),
            ("PORTSIDE_ENV", env.get("CI_ENVIRONMENT_SLUG")),
            ("PORTSIDE_GIT_COMMIT", env.get("CI_COMMIT_SHA")),
            ("PORTSIDE_GIT_BRANCH", _branch(env)),
            ("PORTSIDE_GIT_TAG", env.get("CI_COMMIT_TAG")),
            ("PORTSIDE_CI_JOB_URL", env.get("CI_JOB_URL")),
            ("PORTSIDE_CI_PIPELINE_URL", env.get("CI_PIPELINE_URL")),
        ]
    )
    return CiJob(
        platform=GITLAB,
        job_key=safe_name_part(job_id),
        registry=registry,
        logins=tuple(logins),
        values=values,
    )


def _branch(env: Variables) -> str | None:
    """CI_COMMIT_REF_NAME, unless it names the tag of a tag pipeline (then the branch is unknown,
    and PORTSIDE_GIT_TAG carries the name)."""
    if env.get("CI_COMMIT_TAG"):
        return None
    return env.get("CI_COMMIT_REF_NAME")


def _registry_login(env: Variables, registry: str) -> RegistryLogin:
    user, password = env.get("CI_REGISTRY_USER"), env.get("CI_REGISTRY_PASSWORD")
    if user and password:
        return RegistryLogin(registry, user, password, "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD")
    token = env.need("CI_JOB_TOKEN", "CI_REGISTRY_PASSWORD (or CI_JOB_TOKEN)")
    return RegistryLogin(registry, JOB_TOKEN_USER, token, "CI_JOB_TOKEN")
