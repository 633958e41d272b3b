"""One HTTP answer from drivers.http.client, over a urllib3 response: the body read in chunks,
whole, or as JSON, and the connection handed back to its pool when the body is done."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError

_DRAIN_LIMIT = 64 << 10  # a small unread body is drained so its connection can be reused


class Response:
    """One answer. Read the body with `read`, `iter_content`, `content` or `json`; the
    connection goes back to the pool when the body is done, or is closed by `close`."""

    def __init__(self, raw: urllib3.BaseHTTPResponse, method: str, url: str) -> None:
        self.raw = raw
        self.method = method
        self.url = url
        self.status_code = raw.status
        self.headers = raw.headers  # case-insensitive `get`
        self._content: bytes | None = None
        self._open = True
        # Decode only what says it is encoded: a blob read raw skips urllib3's buffer copy.
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        self._decode = encoding != "identity"
        if method == "HEAD" or raw.length_remaining == 0 or self.status_code in (204, 304):
            self._finish()

    def _finish(self) -> None:
        """The body is done (or empty): hand the connection back to its pool."""
        if self._open:
            self._open = False
            if not self.raw.isclosed():
                self.raw.drain_conn()
            self.raw.release_conn()  # a no-op where urllib3 did it at the end of the body

    def read(self, amount: int | None) -> bytes:
        """Up to `amount` bytes of the body (decoded), or all of it; b"" at the end."""
        if not self._open:
            return b""
        try:
            chunk = self.raw.read(amount, decode_content=self._decode)
        except HTTPError as exc:  # urllib3 has closed the connection
            self._open = False
            raise standard_error(exc) from None
        if not chunk or amount is None:
            self._finish()
        return chunk

    def iter_content(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        while chunk := self.read(chunk_size):
            yield chunk

    @property
    def content(self) -> bytes:
        if self._content is None:
            self._content = self.read(None)  # one read: a small body costs one pass
        return self._content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        import json

        return json.loads(self.content)

    def close(self) -> None:
        """Done with the response: keep the connection when the rest of the body is small."""
        if not self._open:
            return
        left = self.raw.length_remaining
        if left is not None and left <= _DRAIN_LIMIT and not self.raw.chunked:
            self._finish()  # drained; a failure while draining closes the connection instead
            return
        self._open = False
        self.raw.close()
        self.raw.release_conn()


def standard_error(exc: BaseException) -> BaseException:
    """The standard-library exception inside a urllib3 one (an `OSError` when none is)."""
    while isinstance(exc, HTTPError) and not isinstance(exc, OSError | http.client.HTTPException):
        inner = next((a for a in exc.args if isinstance(a, BaseException)), exc.__cause__)
        if inner is None:
            return OSError(str(exc))
        exc = inner
    return exc
