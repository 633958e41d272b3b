"""What the drivers of a registry's own tag API share (dockerhub, quay).

Such a driver lists and deletes tags through the registry's own API, and leaves the rest to
the Registry v2 API through the `default` driver it wraps, `self.registry`.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping

from drivers.default import DefaultDriver
from drivers.distribution import DistributionClient
from drivers.errors import InvalidInput, NotFound, ProtocolError, RegistryError, error_for_status
from drivers.httpclient import Response
from drivers.manifest import Descriptor, Manifest
from drivers.reference import Reference, Repository

_DETAIL_LIMIT = 200  # characters of an API's own error text kept in a message


class ThroughRegistryV2:
    """Resolving tags and reading manifests, blobs and referrers through `self.registry`;
    and `check_deletion` as a harmless probe: deleting a tag that does not exist."""

    registry: DefaultDriver
    _deletion_checked: set[str]

    def resolve(self, reference: Reference) -> Descriptor:
        return self.registry.resolve(reference)

    def get_manifest(self, repository: Repository, reference: str) -> Manifest:
        return self.registry.get_manifest(repository, reference)

    def read_blob(self, repository: Repository, digest: str) -> bytes:
        return self.registry.read_blob(repository, digest)

    def list_referrers(self, repository: Repository, digest: str) -> list[Descriptor] | None:
        return self.registry.list_referrers(repository, digest)

    def check_deletion(self, repository: Repository) -> None:
        """Delete a tag that does not exist: 404 when deleting can work, 401/403 for
        credentials that may not delete, before the cleanup has touched anything."""
        if repository.path in self._deletion_checked:
            return
        probe = f"portside-deletion-probe-{os.urandom(8).hex()}"
        with contextlib.suppress(NotFound):
            self._delete(repository, probe, repository.familiar, "; nothing was deleted")
        self._deletion_checked.add(repository.path)

    def _delete(self, repository: Repository, tag: str, what: str, after: str = "") -> None:
        raise NotImplementedError  # each driver's own API call


def option_settings(
    options: object, environ: Mapping[str, str] | None, twins: Mapping[str, str]
) -> dict[str, str]:
    """A native driver's credential settings, by env twin name: the CLI's `--repo-…` option
    (`RegistryOptions.native_credentials`, which the CLI fills from the option or its twin)
    first, else the env twin itself, for library callers. `twins`: option name -> twin."""
    env = os.environ if environ is None else environ
    given: Mapping[str, str] = getattr(options, "native_credentials", None) or {}
    return {twin: given.get(name) or env.get(twin, "") for name, twin in twins.items()}


def user_and_password(
    username: str, password: str, source: str, client: DistributionClient, *, hint: str
) -> tuple[str, str, str] | None:
    """(username, password, where they came from): the options (or their twins), which go
    together; else the Docker config's credential for the registry; else None."""
    if username or password:
        if not (username and password):
            raise InvalidInput(f"{source} go together; one of them is empty", hint=hint)
        return username, password, source
    credential = client.transport.credential
    if credential.username and credential.password:
        return credential.username, credential.password, credential.source
    return None


def json_body(response: Response) -> dict:
    """The answer's JSON object; {} for anything else (an error page, say)."""
    try:
        doc = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def json_object(response: Response, *, api: str, hint: str) -> dict:
    """The answer's JSON object, which a successful call must have."""
    try:
        doc = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        raise ProtocolError(
            f"the {api} answered with something other than a JSON object",
            url=response.url,
            hint=hint,
        )
    return doc


def api_error(
    response: Response,
    what: str,
    *,
    said: tuple[str, ...],
    hints: Mapping[type[RegistryError], str],
) -> RegistryError:
    """The error for an API's answer. The API's own words (the first of the `said` fields)
    are kept, shortened, since they often say what to do; `hints` by error class."""
    doc = json_body(response)
    error = error_for_status(response.status_code, response.method, response.url, b"", what=what)
    words = next((doc[key] for key in said if isinstance(doc.get(key), str) and doc[key]), "")
    if words.strip():
        error.message += f": {words.strip()[:_DETAIL_LIMIT]}"
    for kind, hint in hints.items():
        if isinstance(error, kind):
            error.hint = hint
            break
    return error
