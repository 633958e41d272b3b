"""What the `github` driver knows of the GitHub REST Packages API itself: its base, headers,
page size and rate limits (the primary budget an answer reports, the pause between
mutations), the hints its errors get, and how its answers read (a package version, a list, a
`Link` header). The driver (github_driver.py) holds the deletion rules."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from drivers.errors import InvalidInput, ProtocolError, RateLimited
from drivers.http.client import Response
from drivers.registries.contract import parse_created
from drivers.registries.github import PAUSE, SCOPES_HINT, TOKEN
from drivers.registries.native import ApiHints

API_ENV = "GITHUB_API_URL"
API_BASE = "https://api.github.com"
PAGE_SIZE = 100  # the API's largest page
MAX_PAGES = 10_000
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
RATE_TRIES = 5  # answers of a rate limit waited out before giving up
MAX_WAIT = 120.0  # seconds; a longer wait (a primary limit's reset) stops the run instead
DEFAULT_PAUSE = 1.0  # seconds between mutating requests, as GitHub's best practices advise

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


@dataclass(frozen=True)
class Budget:
    """The primary rate limit as the latest answer told it (`X-RateLimit-Remaining`,
    `X-RateLimit-Reset`)."""

    remaining: int
    reset: datetime | None

    @classmethod
    def of(cls, response: Response) -> Budget | None:
        remaining = response.headers.get("X-RateLimit-Remaining")
        if remaining is None or not remaining.strip().isdigit():
            return None
        reset = response.headers.get("X-RateLimit-Reset", "")
        when = None
        if reset.strip().isdigit():
            when = datetime.fromtimestamp(int(reset), tz=timezone.utc)
        return cls(int(remaining), when)

    @property
    def reset_text(self) -> str:
        return self.reset.strftime("%Y-%m-%d %H:%M:%S UTC") if self.reset else "an unknown time"


def spent(budget: Budget | None, url: str) -> RateLimited:
    """The error of a request not sent: the primary budget is spent until its reset."""
    until = budget.reset_text if budget else "its reset"
    return RateLimited(
        f"GitHub's API rate limit is spent until {until}; nothing more is sent in this run",
        url=url,
        hint="run again after the reset: the next run plans afresh and finishes the rest",
    )


def pause_of(text: str | None) -> float:
    """Seconds between mutations from `--repo-github-pause` (default `DEFAULT_PAUSE`)."""
    if text is None or not text.strip():
        return DEFAULT_PAUSE
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 60:
        raise InvalidInput(
            f"{PAUSE.flag} must be seconds from 0 to 60, not {text!r}",
            hint=f"pass {PAUSE.flag} 1 (GitHub's advice) or unset ${PAUSE.envvar}",
        )
    return value


class Pacer:
    """Mutating requests one at a time, `pause` seconds apart (GitHub's REST best practices:
    no concurrent requests, at least a second between mutations, for the secondary limit of
    900 points a minute per endpoint, 5 points a DELETE)."""

    def __init__(self, pause: float) -> None:
        self.pause = pause
        self._lock = threading.Lock()
        self._last = float("-inf")

    def __enter__(self) -> None:
        self._lock.acquire()
        wait = self._last + self.pause - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def __exit__(self, *_: object) -> None:
        self._last = time.monotonic()
        self._lock.release()
