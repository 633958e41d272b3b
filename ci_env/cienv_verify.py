"""`portside ci-env --verify`: check the job's credentials against its registries.

Kept apart from ci_env.cienv because it is the only part of ci-env that does network I/O, and
the only one that needs the transport (requests); ci-env without --verify never imports it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from drivers.auth.credentials import Credential, StaticCredentials
from drivers.auth.dockerconfig import normalize_key
from drivers.errors import InvalidReference, NotFound, Unauthorized
from drivers.reference import parse_repository
from drivers.registries import RegistryOptions, client_for
from integrations.platform import CiJob, RegistryLogin


def verify_logins(job: CiJob, repository: str | None, insecure: Iterable[str] = ()) -> None:
    """Raise Unauthorized (exit 3) or Forbidden when a registry refuses the job's credentials.

    For the registry that holds `repository`, the check is a pull-scoped token for it (listing
    its tags; a repository that does not exist yet still proves the token was granted). For
    other registries (the dependency proxy) it is an authenticated `GET /v2/`.
    """
    # As for the other commands, one value may list several hosts, comma or space separated.
    hosts = frozenset(h for value in insecure for h in value.replace(",", " ").split())
    for login in job.logins:
        _verify(login, _path_on(repository, login.registry), hosts)


def _path_on(repository: str | None, registry: str) -> str | None:
    if not repository or normalize_key(repository) != normalize_key(registry):
        return None
    try:
        return parse_repository(repository).path
    except InvalidReference:
        return None


def _verify(login: RegistryLogin, path: str | None, insecure: frozenset[str]) -> None:
    credential = Credential(login.username, login.password, source=login.origin)
    options = RegistryOptions(
        insecure_registries=insecure, credentials=StaticCredentials(credential)
    )
    client = client_for(login.registry, options)
    try:
        if path:
            # A repository not pushed yet answers NAME_UNKNOWN: the pull-scoped token was granted
            # all the same.
            with contextlib.suppress(NotFound):
                client.list_tags(path)
        else:
            client.check_login()
    except Unauthorized as exc:
        raise Unauthorized(
            f"{login.registry} refused the job's credentials ({login.origin})",
            status=exc.status,
            hint="check the CI variables that hold them; --verify is optional",
        ) from None
