"""Which CI platform this job runs on, and what its variables say about registries.

`detect_platform` reads the marker variables; `gitlab.gitlab_job` and `github.github_job` turn
a job's variables into a `CiJob`: the registry logins it carries and the values ci-env exports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from drivers.errors import InvalidInput

GITLAB = "gitlab"
GITHUB = "github"
PLATFORMS = (GITLAB, GITHUB)
_TITLES = {GITLAB: "GitLab CI", GITHUB: "GitHub Actions"}
# What ci-env exports about the platform's registry: its host, and which implementation it is.
# They name one host; every other host is detected as usual (`registry_hints`).
CI_REGISTRY = "PORTSIDE_CI_REGISTRY"
CI_REGISTRY_IMPLEMENTATION = "PORTSIDE_CI_REGISTRY_IMPLEMENTATION"


def ci_registry_values(job: CiJob) -> list[tuple[str, str]]:
    """The exports that name the job's platform registry (none when the job has none)."""
    return (
        [(CI_REGISTRY, job.registry), (CI_REGISTRY_IMPLEMENTATION, job.platform)]
        if job.registry
        else []
    )


def registry_hints(environ: Mapping[str, str]) -> dict[str, str]:
    """Registry hosts the CI platform names, with their implementation.

    - In a GitLab job, `$CI_REGISTRY` is a GitLab registry whatever its host name is.
    - After ci-env, `$PORTSIDE_CI_REGISTRY` is a `$PORTSIDE_CI_REGISTRY_IMPLEMENTATION` registry
      (this also reaches commands that run without the platform's variables, such as a later
      GitHub step reading `$GITHUB_ENV`). An unknown implementation is bad input.
    """
    hints: dict[str, str] = {}
    if environ.get("GITLAB_CI") == "true" and environ.get("CI_REGISTRY"):
        hints[environ["CI_REGISTRY"]] = GITLAB
    host, name = environ.get(CI_REGISTRY), environ.get(CI_REGISTRY_IMPLEMENTATION)
    if host and name:
        from drivers.registries.table import SPECS

        if name not in SPECS:
            raise InvalidInput(
                f"{CI_REGISTRY_IMPLEMENTATION}={name!r} is not a registry implementation",
                hint="use one of: " + ", ".join(SPECS) + f" (or unset {CI_REGISTRY})",
            )
        hints[host] = name
    return hints


def detect_platform(environ: Mapping[str, str]) -> str:
    """`gitlab` when `GITLAB_CI=true`, `github` when `GITHUB_ACTIONS=true`; else bad input."""
    found = [
        name
        for name, marker in ((GITLAB, "GITLAB_CI"), (GITHUB, "GITHUB_ACTIONS"))
        if environ.get(marker) == "true"
    ]
    if len(found) == 1:
        return found[0]
    if not found:
        raise InvalidInput(
            "not in a CI job: neither GITLAB_CI=true nor GITHUB_ACTIONS=true is set",
            hint="run it in a GitLab CI or GitHub Actions job, or name the platform: "
            "portside ci-env gitlab|github",
        )
    raise InvalidInput(
        "both GITLAB_CI=true and GITHUB_ACTIONS=true are set",
        hint="name the platform: portside ci-env gitlab|github",
    )


def platform_title(platform: str) -> str:
    return _TITLES.get(platform, platform)


@dataclass(frozen=True)
class RegistryLogin:
    """Credentials the job hands us for one registry. `origin` names the variables (for messages;
    never the values)."""

    registry: str
    username: str
    password: str = field(repr=False)
    origin: str = ""


@dataclass(frozen=True)
class CiJob:
    """What ci-env needs from one CI job.

    `job_key` names the job uniquely among jobs running at once on one machine (it goes into the
    isolated directory's name). `values` are the exports derived from the job's variables, in
    order, only those whose source is set. `registry` is the platform's own registry host.
    """

    platform: str
    job_key: str
    registry: str
    logins: tuple[RegistryLogin, ...] = ()
    values: tuple[tuple[str, str], ...] = ()

    def secrets(self) -> tuple[str, ...]:
        return tuple(login.password for login in self.logins if login.password)


class Variables:
    """A job's environment, read with "empty counts as unset" (as GitLab and GitHub both define
    variables that exist but are empty), collecting every missing name for one error."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.missing: list[str] = []

    def get(self, name: str) -> str | None:
        value = self.environ.get(name)
        return value if value else None

    def need(self, name: str, described: str | None = None) -> str:
        value = self.get(name)
        if value is None:
            self.missing.append(described or name)
            return ""
        return value

    def check(self, platform: str, *, login: bool) -> None:
        """Raise one InvalidInput naming every missing variable (exit 2)."""
        if not self.missing:
            return
        names = ", ".join(self.missing)
        hint = f"run it in a {platform_title(platform)} job, or set them"
        if login:
            hint += "; --no-login skips the registry login and the variables it needs"
        raise InvalidInput(
            f"missing CI variable{'s' if len(self.missing) > 1 else ''} for "
            f"{platform_title(platform)}: {names}",
            hint=hint,
        )


_SAFE_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def safe_name_part(*parts: str | None, limit: int = 80) -> str:
    """Job identifiers joined for use in a directory name: only `[A-Za-z0-9_.-]`, bounded."""
    cleaned = ("".join(c if c in _SAFE_NAME_CHARS else "_" for c in p) for p in parts if p)
    return "-".join(cleaned)[:limit] or "job"


def exported(pairs: Iterable[tuple[str, str | None]]) -> tuple[tuple[str, str], ...]:
    """The (name, value) pairs whose value is set, in order."""
    return tuple((name, value) for name, value in pairs if value)
