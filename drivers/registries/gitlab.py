"""The `gitlab` implementation: GitLab's container registry, whose REST API v4 lists and
deletes tags (gitlab_driver.py; where the API is and which token: gitlab_api.py). In a job,
`$CI_API_V4_URL` and `$CI_JOB_TOKEN` serve when the options are not given. The driver speaks
the API through python-gitlab (the `[gitlab]` extra), over portside's own transport."""

from __future__ import annotations

from drivers.registries.spec import CredentialOption, RegistrySpec, host_pattern

TOKEN = CredentialOption(
    "--repo-gitlab-token",
    "GitLab token with the api scope, used by the native gitlab driver (in a job: CI_JOB_TOKEN).",
    secret=True,
)
URL = CredentialOption(
    "--repo-gitlab-url",
    "GitLab API base URL for the native gitlab driver (in a job: $CI_API_V4_URL).",
)

SPEC = RegistrySpec(
    "gitlab",
    "GitLab Container Registry",
    "registry.gitlab.com, registry.gitlab.*, or $CI_REGISTRY in a GitLab job",
    "GitLab API DELETE /projects/:id/registry/repositories/:rid/tags/:tag",
    host_pattern(r"^registry\.gitlab\."),
    driver="drivers.registries.gitlab_driver:GitLabDriver",
    credentials=(TOKEN, URL),
    extra="gitlab",
    sdk=("gitlab",),
)
