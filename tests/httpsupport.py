"""Shared by the HTTP-layer tests (test_httpclient.py, test_proxies.py)."""

from __future__ import annotations

from drivers.http.retry import RetryPolicy
from drivers.http.transport import Transport

CANARY = "canary-Pr0xyS3cret-77"  # a proxy password that must never show


def status_of(transport: Transport, path: str = "/v2/") -> int:
    """GET `path` and read the body to the end, so its connection goes back to the pool."""
    response = transport.request("GET", path)
    response.content  # noqa: B018
    return response.status_code


def no_retry() -> RetryPolicy:
    """One try only: what a test sees is what one request did."""
    return RetryPolicy(attempts=1)
