"""The threading HTTP server every test-side server uses."""

from __future__ import annotations

import ssl
import sys
from http.server import ThreadingHTTPServer


class QuietHTTPServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that stays quiet about clients hanging up.

    Clients that close a kept-alive connection, stop reading mid-body (portside stopping the
    other downloads after a failure), or speak TLS to a plain port (portside's scheme probe)
    are normal in tests; socketserver would print their tracebacks into the stderr that a
    test is capturing from the CLI. Anything else is still printed.
    """

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError | TimeoutError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]
