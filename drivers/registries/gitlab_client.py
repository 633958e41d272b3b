"""python-gitlab for the `gitlab` driver: the client, its waits on 429, and its errors told
in portside's terms. Only the driver's modules (this one, gitlab_driver.py and
gitlab_graphql.py) import python-gitlab, the `[gitlab]` extra; connect.py stops with the pip
line when it is missing, before any of them is imported.

* The client: `gitlab.Gitlab(url, private_token= | job_token=, session=…)` with a requests
  session that sends through portside's transport (drivers/http/requests_session.py), so
  proxies, certs.d, `--insecure-registry` and redirects behave as for the registry.
  `retry_transient_errors=True` retries 5xx; 429 is retried by python-gitlab's default
  `obey_rate_limit=True` (an argument of each request, not of the constructor), at most 10
  times. `keep_base_url=True`: a next-page link that names another base URL is rewritten to
  the one the user gave, so the token never follows it elsewhere.
* Waits: python-gitlab waits `Retry-After` seconds (read with `int()`: an HTTP date would
  stop it with a ValueError), else until `RateLimit-Reset` (a Unix time), with no cap.
  `bounded_waits`, a response hook, rewrites both into what it reads, within the cap the
  transport keeps (`RetryPolicy.max_delay`).
* Errors: `answers(what, token)` turns python-gitlab's exceptions into portside's with
  GitLab's own words (its `{"message": …}`), the token scrubbed from them.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator

import gitlab
import requests
from gitlab import exceptions as sdk

from drivers.errors import (
    CredentialError,
    Forbidden,
    NotFound,
    ProtocolError,
    RateLimited,
    RegistryError,
    Unauthorized,
    Unsupported,
)
from drivers.http.requests_session import TransportFailure, requests_session
from drivers.http.retry import RetryPolicy, parse_retry_after
from drivers.http.transport import Transport, user_agent
from drivers.registries.gitlab_api import NO_TOKEN_HINT, ROLE_HINT, ApiToken

PAGE_SIZE = 100  # GitLab's largest page
MAX_WAIT = RetryPolicy().max_delay
_WORDS = 200  # characters of GitLab's own message kept

NOT_FOUND_HINT = "check the image path: GitLab names a project, then the repository below it"
RATE_HINT = "GitLab limits API calls: wait, then run again"
READ_HINT = (
    "reading a project's container registry needs the Reporter role or higher (a token with "
    "the read_api or api scope); " + ROLE_HINT
)


def connect_gitlab(transport: Transport, api: str, token: ApiToken | None) -> gitlab.Gitlab:
    """A python-gitlab client for the API at `api` (…/api/v4), through `transport`."""
    session = requests_session(transport)
    session.hooks["response"].append(bounded_waits)
    credentials = {token.kind: token.value} if token else {}
    return gitlab.Gitlab(
        api.removesuffix("/api/v4"),
        session=session,
        retry_transient_errors=True,
        keep_base_url=True,
        per_page=PAGE_SIZE,
        user_agent=user_agent(),
        **credentials,
    )


def bounded_waits(response: requests.Response, *args: object, **kwargs: object) -> None:
    """`Retry-After` as whole seconds and `RateLimit-Reset` as a Unix time, both at most
    MAX_WAIT from now; a value neither can be read as is dropped (python-gitlab then backs
    off by itself)."""
    if response.status_code != 429 and response.status_code < 500:
        return
    headers = response.headers
    if "Retry-After" in headers:
        wait = parse_retry_after(headers["Retry-After"])
        if wait is None:
            del headers["Retry-After"]
        else:
            headers["Retry-After"] = str(math.ceil(min(wait, MAX_WAIT)))
    if "RateLimit-Reset" in headers:
        reset = headers["RateLimit-Reset"].strip()
        if reset.isdigit():
            headers["RateLimit-Reset"] = str(min(int(reset), math.ceil(time.time() + MAX_WAIT)))
        else:
            del headers["RateLimit-Reset"]


@contextlib.contextmanager
def answers(what: str, token: ApiToken | None) -> Iterator[None]:
    """python-gitlab's exceptions inside as portside's: 401 the token (exit 3), 403 the role
    (exit 3), 404 not found, 429 rate limited after python-gitlab's waits, the rest as the
    status says; a network failure is the transport's own error."""
    try:
        yield
    except TransportFailure as failure:
        raise failure.error from None
    except sdk.GitlabAuthenticationError as error:
        raise refused(what, token, _words(error, token)) from None
    except sdk.GitlabParsingError:
        raise ProtocolError(
            f"{what}: the GitLab API answered with something other than its JSON",
            hint="check --repo-gitlab-url ($PORTSIDE_REPO_GITLAB_URL): it must name GitLab",
        ) from None
    except sdk.GitlabError as error:
        raise api_error(what, error.response_code, _words(error, token)) from None


def refused(what: str, token: ApiToken | None, words: str = "") -> RegistryError | CredentialError:
    said = f": {words}" if words else ""
    if token is None:
        return CredentialError(
            f"{what}: the GitLab API requires a token and none was given{said}",
            hint=NO_TOKEN_HINT,
        )
    return Unauthorized(
        f"{what}: the GitLab API refused the token from {token.source} (HTTP 401){said}",
        status=401,
        hint=token.hint,
    )


def api_error(what: str, status: int | None, words: str) -> RegistryError:
    said = f": {words}" if words else ""
    table: dict[int, tuple[type[RegistryError], str, str]] = {
        403: (Forbidden, "permission denied", READ_HINT),
        404: (NotFound, "not found", NOT_FOUND_HINT),
        405: (Unsupported, "not supported by this GitLab", ""),
        429: (RateLimited, "rate limited, and still after GitLab's waits", RATE_HINT),
    }
    cls, text, hint = table.get(status or 0, (RegistryError, "the GitLab API failed", ""))
    return cls(f"{what}: {text} (HTTP {status}){said}", status=status, hint=hint or None)


def _words(error: sdk.GitlabError, token: ApiToken | None) -> str:
    """GitLab's own message (`{"message": "404 Project Not Found"}`), one line, shortened;
    never the token, should a server echo it."""
    said = error.error_message
    if isinstance(said, bytes):
        said = said.decode("utf-8", "replace")
    text = " ".join(str(said or "").split())[:_WORDS]
    if token is not None and token.value:
        text = text.replace(token.value, "***")
    return "" if text.startswith("<") else text  # an HTML error page says nothing useful
