"""TLS settings for a registry host: which CAs to trust, which client certificate to show.

Trusted CAs:

* the system store (OpenSSL's `SSL_CERT_FILE` / `SSL_CERT_DIR` apply), or the bundle named by
  `REQUESTS_CA_BUNDLE` or `CURL_CA_BUNDLE` (the variables users of requests and curl already
  set). Where the system store is empty (a slim container without ca-certificates), certifi's
  bundle is used if it is installed;
* plus, for one registry, the `certs.d` directory that docker, podman and skopeo read:
  `<dir>/<host[:port]>/` with `*.crt` files (extra CAs, added to the above) and `*.cert` /
  `*.key` pairs (a client certificate, for registries that require mutual TLS). The
  directories searched are `/etc/docker/certs.d`, `/etc/containers/certs.d` and
  `~/.config/containers/certs.d`, or those listed in `PORTSIDE_CERTS_D` (os.pathsep-separated).

Contexts are built once per setting and shared: loading the CA store takes tens of
milliseconds.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from drivers.errors import InvalidInput

CERTS_D_ENV = "PORTSIDE_CERTS_D"
_DEFAULT_CERTS_D = (
    "/etc/docker/certs.d",
    "/etc/containers/certs.d",
    "~/.config/containers/certs.d",
)

_contexts: dict[tuple[bool, str, str], Any] = {}
_lock = threading.Lock()


def tls_context(verify: bool, host_port: str = "") -> Any:
    """The SSLContext for `host_port` (as the registry is named: `host` or `host:port`):
    verifying, or not (for --insecure-registry hosts; a client certificate still applies)."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or ""
    certs = certs_dir(host_port) if host_port else None
    # The directory's mtime is in the key so that adding or removing a file is noticed.
    stamp = f"{certs}@{_mtime(certs)}" if certs is not None else ""
    key = (verify, bundle if verify else "", stamp)
    with _lock:
        if key not in _contexts:
            context = _verifying(bundle) if verify else _unverified()
            if certs is not None:
                _load_certs_dir(context, certs, extra_cas=verify)
            _contexts[key] = context
        return _contexts[key]


def certs_dir(host_port: str) -> Path | None:
    """The first `<certs.d>/<host_port>` directory that exists, if any."""
    listed = os.environ.get(CERTS_D_ENV)
    roots = listed.split(os.pathsep) if listed is not None else _DEFAULT_CERTS_D
    for root in roots:
        if not root:
            continue
        candidate = Path(root).expanduser() / host_port
        if candidate.is_dir():
            return candidate
    return None


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def _unverified() -> Any:
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _verifying(bundle: str) -> Any:
    import ssl

    if bundle:
        try:
            if os.path.isdir(bundle):
                return ssl.create_default_context(capath=bundle)
            return ssl.create_default_context(cafile=bundle)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidInput(
                f"cannot load the CA bundle {bundle}: {getattr(exc, 'strerror', None) or exc}",
                hint="point REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE) at a PEM file of certificates",
            ) from None
    context = ssl.create_default_context()
    if not context.cert_store_stats()["x509_ca"] and not os.environ.get("SSL_CERT_DIR"):
        try:
            import certifi

            context.load_verify_locations(cafile=certifi.where())
        except ImportError:
            pass
    return context


def _load_certs_dir(context: Any, directory: Path, *, extra_cas: bool) -> None:
    """Add `*.crt` CAs and the `*.cert`/`*.key` client pair, as docker reads them."""
    import ssl

    files = sorted(p for p in directory.iterdir() if p.is_file())
    try:
        for path in files:
            if path.suffix == ".crt" and extra_cas:
                context.load_verify_locations(cafile=str(path))
            elif path.suffix == ".cert":
                key = path.with_suffix(".key")
                if not key.is_file():
                    raise InvalidInput(
                        f"{path} has no matching {key.name}",
                        hint="a client certificate needs its key beside it, as NAME.cert and "
                        "NAME.key",
                    )
                context.load_cert_chain(str(path), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise InvalidInput(
            f"cannot use the certificates in {directory}: {getattr(exc, 'strerror', None) or exc}",
            hint="CAs go in *.crt files, a client certificate in NAME.cert with its NAME.key (PEM)",
        ) from None
