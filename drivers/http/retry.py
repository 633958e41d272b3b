"""When to try a request again, and how long to wait first (DESIGN.md "Transport rules").

Which answers are worth retrying is the temporary-status table in drivers/errors.py, the
same one that sets `RegistryError.is_temporary`. The transport runs the loop.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

from drivers.errors import TEMPORARY_STATUSES


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5  # total tries, the first included
    backoff: float = 0.5  # seconds; doubled each retry, with jitter
    max_delay: float = 30.0  # cap for backoff and for Retry-After
    # The answers worth another try; none for a transport under an SDK that retries them
    # itself (drivers/http/requests_session.py). Connection failures are always retried.
    statuses: frozenset[int] = TEMPORARY_STATUSES

    def delay(self, attempt: int, retry_after: str | None) -> float:
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            return min(hinted, self.max_delay)
        base = self.backoff * (2**attempt)
        return min(base * (0.5 + random.random()), self.max_delay)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from now: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
