"""A SOCKS5 server for tests (RFC 1928, with RFC 1929 username/password), loopback only.

Like tests/forwardproxy.py it sends every `CONNECT` to one local upstream, whatever address
the client asked for, and records what was asked: a host name (the client left resolution to
the proxy: `socks5h://`) or an IP address (the client resolved it: `socks5://`). Only
`CONNECT` is served; every read is bounded by a length from the protocol and a timeout.
"""

from __future__ import annotations

import ipaddress
import socket
import socketserver
import struct
import threading
from dataclasses import dataclass

from tests.forwardproxy import pump

_NO_AUTH, _USER_PASS, _NO_METHOD = 0x00, 0x02, 0xFF
_CONNECT = 0x01
_IPV4, _DOMAIN, _IPV6 = 0x01, 0x03, 0x04


@dataclass
class SocksSeen:
    kind: str  # "domain", "ipv4" or "ipv6"
    host: str
    port: int
    username: str | None


class SocksProxy:
    def __init__(self, upstream: str, *, require: tuple[str, str] | None = None) -> None:
        """`require`: the (username, password) to insist on; anonymous otherwise."""
        host, _, port = upstream.rpartition(":")
        self.upstream = (host, int(port))
        self.seen: list[SocksSeen] = []
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                sock.settimeout(10)
                version, count = _exactly(sock, 2)
                methods = _exactly(sock, count)
                wanted = _USER_PASS if require else _NO_AUTH
                if version != 5 or wanted not in methods:
                    sock.sendall(bytes([5, _NO_METHOD]))
                    return
                sock.sendall(bytes([5, wanted]))
                username = None
                if require:
                    _, length = _exactly(sock, 2)
                    username = _exactly(sock, length).decode()
                    password = _exactly(sock, _exactly(sock, 1)[0]).decode()
                    if (username, password) != require:
                        sock.sendall(bytes([1, 1]))  # refused
                        return
                    sock.sendall(bytes([1, 0]))
                _, command, _, kind = _exactly(sock, 4)
                if kind == _DOMAIN:
                    name, label = _exactly(sock, _exactly(sock, 1)[0]).decode(), "domain"
                elif kind == _IPV4:
                    name, label = str(ipaddress.IPv4Address(_exactly(sock, 4))), "ipv4"
                else:
                    name, label = str(ipaddress.IPv6Address(_exactly(sock, 16))), "ipv6"
                (port,) = struct.unpack("!H", _exactly(sock, 2))
                proxy.seen.append(SocksSeen(label, name, port, username))
                if command != _CONNECT:
                    sock.sendall(bytes([5, 0x07, 0, _IPV4, 0, 0, 0, 0, 0, 0]))
                    return
                with socket.create_connection(proxy.upstream, timeout=10) as upstream:
                    sock.sendall(bytes([5, 0, 0, _IPV4, 0, 0, 0, 0, 0, 0]))
                    pump(sock, upstream)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients hang up mid-handshake or mid-tunnel; that is normal here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> SocksProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the client hung up mid-handshake")
        data += chunk
    return data
