"""A forward HTTP proxy for tests: `CONNECT` tunnels and absolute-form requests.

Every host name a client asks for is sent to one local upstream, so a test can name a registry
`registry.example.test:5000` (not loopback, so the proxy is used) and still reach a local
server. It records each request line and its `Proxy-Authorization`. Given a server TLS
context it is an HTTPS proxy: clients speak TLS to the proxy itself (`https://` proxy URLs).
"""

from __future__ import annotations

import select
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class ProxySeen:
    method: str
    target: str
    proxy_authorization: str | None


class ForwardProxy:
    def __init__(
        self, upstream: str, *, require: str | None = None, tls: ssl.SSLContext | None = None
    ) -> None:
        """`require`: the Proxy-Authorization value to insist on (407 otherwise); `tls`: the
        server context that makes this an HTTPS proxy."""
        host, _, port = upstream.rpartition(":")
        self.upstream = (host, int(port))
        self.seen: list[ProxySeen] = []
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            rbufsize = 0  # unbuffered: nothing past the request head is read ahead

            def setup(self) -> None:
                if tls is not None:  # on the handler's thread; a failed handshake ends it
                    self.request.settimeout(10)
                    self.request = tls.wrap_socket(self.request, server_side=True)
                super().setup()

            def handle(self) -> None:
                line = self.rfile.readline().decode("latin-1").strip()
                if not line:
                    return
                method, target, _ = line.split(" ", 2)
                headers = []
                authorization = None
                while (header := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    if name.lower() == "proxy-authorization":
                        authorization = value.strip()
                    elif name.lower() != "connection":
                        headers.append(header)
                proxy.seen.append(ProxySeen(method, target, authorization))
                if require is not None and authorization != require:
                    self.wfile.write(
                        b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                        b'Proxy-Authenticate: Basic realm="test"\r\nContent-Length: 0\r\n\r\n'
                    )
                    return
                upstream = socket.create_connection(proxy.upstream, timeout=10)
                with upstream:
                    if method == "CONNECT":
                        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    else:
                        parts = urlsplit(target)
                        origin = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                        head = f"{method} {origin} HTTP/1.1\r\n".encode()
                        upstream.sendall(head + b"".join(headers) + b"Connection: close\r\n\r\n")
                    pump(self.connection, upstream)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients and upstreams hang up mid-tunnel; that is normal here

        self.server = Server(("127.0.0.1", 0), Handler)
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> ForwardProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pump(client: socket.socket, upstream: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sockets = [client, upstream]
    while True:
        # TLS may hold decrypted bytes that select() cannot see.
        pending = [s for s in sockets if isinstance(s, ssl.SSLSocket) and s.pending()]
        readable = pending or select.select(sockets, [], [], 10)[0]
        if not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            (upstream if sock is client else client).sendall(data)
