"""What the `github` driver knows of the GitHub REST Packages API itself: its base, headers,
page size and rate limits, the hints its errors get, and how its answers read (a package
version, a list, a `Link` header). The driver (github_driver.py) holds the deletion rules."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime

from drivers.errors import ProtocolError
from drivers.http.client import Response
from drivers.registries.contract import parse_created
from drivers.registries.github import SCOPES_HINT, TOKEN
from drivers.registries.native import ApiHints

API_ENV = "GITHUB_API_URL"
API_BASE = "https://api.github.com"
PAGE_SIZE = 100  # the API's largest page
MAX_PAGES = 10_000
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
RATE_TRIES = 5  # answers of a rate limit waited out before giving up
MAX_WAIT = 120.0  # seconds; a longer wait (a primary limit's reset) stops the run instead

NO_TOKEN_HINT = f"pass {TOKEN.flag} (${TOKEN.envvar}) or set $GITHUB_TOKEN; {SCOPES_HINT}"
REFUSED_HINT = (
    "GitHub keeps public versions with more than 5,000 downloads, and a token may delete "
    "only in packages it administers: delete it in the package's settings, or give the "
    "workflow's repository Admin access to the package (Package settings > Manage Actions access)"
)
HINTS = ApiHints(
    not_found="check the owner and package name; the token needs read:packages to see it",
    unauthorized=NO_TOKEN_HINT,
    forbidden=REFUSED_HINT,
    rate_limited="GitHub limits API calls: wait for the limit's reset, then run again",
    said=("message",),  # GitHub's {"message", "documentation_url"}
)


@dataclass(frozen=True)
class Version:
    id: int
    digest: str
    tags: tuple[str, ...]
    updated: datetime | None


def rate_limit_wait(response: Response) -> float | None:
    """Seconds to wait when the answer is a rate limit; None otherwise."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = headers.get("Retry-After")
    if retry_after is not None and retry_after.strip().isdigit():
        return float(retry_after)
    if headers.get("X-RateLimit-Remaining") == "0" and headers.get("X-RateLimit-Reset"):
        try:
            return max(0.0, float(headers["X-RateLimit-Reset"]) - time.time())
        except ValueError:
            return None
    return None


def json_list(response: Response) -> list:
    try:
        doc = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, list):
        raise ProtocolError(
            "the GitHub Packages API answered with something other than a list",
            url=response.url,
            hint=f"check ${API_ENV}, if set: it must name the GitHub REST API",
        )
    return doc


def version_of(item: object) -> Version | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), int):
        return None
    name = item.get("name")
    if not isinstance(name, str) or not name.startswith("sha256:"):
        return None
    container = (item.get("metadata") or {}).get("container") or {}
    tags = tuple(t for t in container.get("tags") or [] if isinstance(t, str))
    return Version(item["id"], name, tags, parse_created(item.get("updated_at")))


def next_link(link: str) -> str | None:
    """The `rel="next"` URL of a `Link` header (RFC 8288), as GitHub pages its lists."""
    for part in link.split(","):
        url, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", ""):
            return url.strip().strip("<>")
    return None
