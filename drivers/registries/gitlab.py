"""The `gitlab` implementation: GitLab's container registry. No native driver yet: `default`
reads and untags. `--repo-gitlab-token` and `--repo-gitlab-url` are declared now (the docs and
the GitLab template advertise them), parsed and handed to the driver; the native driver
(GitLab REST API through python-gitlab) will use them, with `CI_JOB_TOKEN` and
`CI_API_V4_URL` in a job."""

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
    "DELETE /v2/{repo}/tags/reference/{tag}, then OCI DELETE by tag",
    host_pattern(r"^registry\.gitlab\."),
    extra="gitlab",
    sdk=("gitlab",),
    credentials=(TOKEN, URL),
)
