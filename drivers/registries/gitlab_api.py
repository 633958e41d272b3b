"""Where the GitLab API of a registry is, and with which token: for the `gitlab` driver.

* The API base: `--repo-gitlab-url` / `$PORTSIDE_REPO_GITLAB_URL` when given (explicit wins,
  as everywhere in portside); else `$CI_API_V4_URL` when the registry is the job's
  `$CI_REGISTRY`; else `https://gitlab.com/api/v4` for registry.gitlab.com. A self-managed
  registry with none of them is bad input (exit 2) naming the option: its API host cannot be
  guessed from the registry's (`registry.example.com`, `gitlab.example.com:5050`, …).
* The token: `--repo-gitlab-token` / `$PORTSIDE_REPO_GITLAB_TOKEN` as `PRIVATE-TOKEN` (a
  personal, project or group access token with `api`); else `$CI_JOB_TOKEN` as `JOB-TOKEN`,
  which GitLab accepts on the registry API for the pipeline's own project; else none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from drivers.errors import InvalidInput
from drivers.reference import normalize_registry
from drivers.registries.gitlab import TOKEN, URL
from drivers.registries.options import NativeCredentials

GITLAB_COM_REGISTRY = "registry.gitlab.com"
GITLAB_COM_API = "https://gitlab.com/api/v4"

ROLE_HINT = (
    "deleting a tag needs the Developer role or higher on the project (a token with the "
    f"api scope, {TOKEN.flag}); a job token works only in the project's own pipelines"
)
NO_TOKEN_HINT = (
    f"pass {TOKEN.flag} (${TOKEN.envvar}) with a personal, project or group access token "
    "with the api scope; in a GitLab job, $CI_JOB_TOKEN serves the project's own registry"
)


@dataclass(frozen=True)
class Job:
    """What a GitLab job says about itself (all empty outside a job)."""

    registry: str = ""  # $CI_REGISTRY, normalized
    api: str = ""  # $CI_API_V4_URL
    project_id: str = ""  # $CI_PROJECT_ID
    image: str = ""  # $CI_REGISTRY_IMAGE's path: the project's own repository
    token: str = ""  # $CI_JOB_TOKEN

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Job:
        if environ.get("GITLAB_CI") != "true" or not environ.get("CI_REGISTRY"):
            return cls(token=environ.get("CI_JOB_TOKEN", ""))
        image = environ.get("CI_REGISTRY_IMAGE", "")
        return cls(
            registry=normalize_registry(environ["CI_REGISTRY"]),
            api=environ.get("CI_API_V4_URL", ""),
            project_id=environ.get("CI_PROJECT_ID", ""),
            image=image.partition("/")[2] if "/" in image else "",
            token=environ.get("CI_JOB_TOKEN", ""),
        )

    def owns(self, registry: str, path: str) -> bool:
        """Whether `registry/path` is in the job's own project (`$CI_REGISTRY_IMAGE`…)."""
        if not (self.project_id and self.image) or normalize_registry(registry) != self.registry:
            return False
        return path == self.image or path.startswith(self.image + "/")


def api_base(registry: str, credentials: NativeCredentials, job: Job) -> str:
    """The API's base URL, ending in /api/v4."""
    given = credentials[URL]
    if given:
        return _v4(given)
    host = normalize_registry(registry)
    if job.api and host == job.registry:
        return _v4(job.api)
    if host == GITLAB_COM_REGISTRY:
        return GITLAB_COM_API
    raise InvalidInput(
        f"{registry} is a self-managed GitLab registry, and its API URL is not known",
        hint=f"pass {URL.flag} (${URL.envvar}) with the GitLab URL, e.g. https://gitlab.example.com",
    )


def _v4(url: str) -> str:
    url = url.strip().rstrip("/")
    if "://" not in url or not urlsplit(url).netloc:
        raise InvalidInput(
            f"{URL.flag}: {url!r} is not a URL", hint="give it as https://gitlab.example.com"
        )
    return url if url.endswith("/api/v4") else f"{url}/api/v4"


@dataclass(frozen=True)
class ApiToken:
    """The token the driver hands python-gitlab: `private_token` (PRIVATE-TOKEN) or
    `job_token` (JOB-TOKEN), where it came from, and what to do when GitLab refuses it."""

    kind: str  # "private_token" or "job_token": python-gitlab's argument
    value: str = field(repr=False)
    source: str  # --repo-gitlab-token, $PORTSIDE_REPO_GITLAB_TOKEN, $CI_JOB_TOKEN
    hint: str

    @property
    def is_job_token(self) -> bool:
        return self.kind == "job_token"


def token_for(credentials: NativeCredentials, job: Job) -> ApiToken | None:
    """PRIVATE-TOKEN for a given token, else JOB-TOKEN for the job's, else none."""
    if credentials[TOKEN]:
        refused = "the token is invalid, expired or revoked, or lacks the api scope: "
        source = credentials.source(TOKEN)
        return ApiToken("private_token", credentials[TOKEN], source, refused + NO_TOKEN_HINT)
    if job.token:
        hint = "a job token reaches only its own project's registry: " + NO_TOKEN_HINT
        return ApiToken("job_token", job.token, "$CI_JOB_TOKEN", hint)
    return None
