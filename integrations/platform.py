"""Which CI platform this job runs on, and what its variables say about registries."""

from __future__ import annotations

from collections.abc import Mapping


def registry_hints(environ: Mapping[str, str]) -> dict[str, str]:
    """Registry hosts the CI platform names, with their implementation.

    In a GitLab job, `$CI_REGISTRY` is a GitLab registry whatever its host name is.
    """
    hints: dict[str, str] = {}
    if environ.get("GITLAB_CI") == "true" and environ.get("CI_REGISTRY"):
        hints[environ["CI_REGISTRY"]] = "gitlab"
    return hints
