"""The error tree. Every failure portside reports is one of these.

    PortsideError                    base; `hint` says how to fix it
    ├── InvalidInput                 bad input: reference, config, option, CI variable
    │   ├── InvalidReference
    │   └── ConfigError              a Docker config or credential helper that cannot be used
    ├── CredentialError              credentials missing, refused, or a helper failed to give them
    └── RegistryError                the registry answered with an error, or could not be reached
        ├── NotFound                 404, or MANIFEST_UNKNOWN / BLOB_UNKNOWN / NAME_UNKNOWN
        ├── Unauthorized             401: credentials missing or refused
        ├── Forbidden                403: the scope or permission is insufficient
        ├── Unsupported              405, or the UNSUPPORTED code
        ├── RateLimited              429, or TOOMANYREQUESTS
        ├── ProtocolError            the answer breaks the registry API (bad JSON, no Location)
        │   └── NotARegistry         `/v2/` answered with an HTML page, not the registry API
        ├── TLSError                 the TLS handshake or certificate check failed
        ├── Unreachable              connection refused, DNS failure, timeout
        └── DigestMismatch           content does not match the digest it was asked for

Only the CLI maps these to exit codes (ci_env/cli.py). Messages never carry secrets:
URLs are redacted before they are stored here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

# Query parameters that can carry credentials (signed object-storage URLs, token endpoints).
_SECRET_QUERY_KEYS = re.compile(
    r"(?i)^(x-amz-signature|x-amz-credential|x-amz-security-token|signature|sig|token|"
    r"access_token|refresh_token|password|secret|key|code|se|sp|sv|x-goog-signature)$"
)


def redact_url(url: str) -> str:
    """Drop userinfo and secret-looking query values from a URL, for messages and logs."""
    # Imported here: `portside ci-env` loads this module and its start-up time is budgeted.
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.hostname or ""
    if parts.hostname and ":" in parts.hostname:
        netloc = f"[{parts.hostname}]"
    if parts.port:
        netloc += f":{parts.port}"
    query = urlencode(
        [
            (k, "REDACTED" if _SECRET_QUERY_KEYS.match(k) else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        safe=":/,*",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def quote_input(text: str) -> str:
    """Quote user input for a one-line message: escape what is not printable, cut what is long."""
    shown = text if len(text) <= 80 else f"{text[:60]}...({len(text)} characters)"
    if not shown.isprintable():
        shown = shown.encode("unicode_escape").decode("ascii")
    return '"' + shown.replace('"', '\\"') + '"'


class PortsideError(Exception):
    """Base of every error portside reports. `hint` is the one-line fix, when there is one."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InvalidInput(PortsideError):
    """The user gave something portside cannot use."""


class InvalidReference(InvalidInput):
    """A malformed image or repository reference."""


class ConfigError(InvalidInput):
    """A Docker config file, or a credential helper it names, cannot be used."""


class CredentialError(PortsideError):
    """Credentials are missing, refused, or a credential helper failed to produce them."""


# The one table of temporary answers: the transport retries these statuses, and an error
# with one of them (or one of these codes) says `is_temporary`.
TEMPORARY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
TEMPORARY_CODES = frozenset({"TOOMANYREQUESTS", "UNAVAILABLE"})


@dataclass(frozen=True)
class OCIError:
    """One entry of the OCI distribution `errors[]` array."""

    code: str
    message: str = ""
    detail: Any = None


class RegistryError(PortsideError):
    """The registry answered with an error, or could not be reached.

    Carries the HTTP status, the method and the redacted URL, and the parsed OCI
    `errors[]`. `is_temporary` says whether retrying later may help.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        method: str = "",
        url: str = "",
        errors: list[OCIError] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.method = method
        self.url = redact_url(url) if url else ""
        self.errors = list(errors or [])

    @property
    def is_temporary(self) -> bool:
        if self.status in TEMPORARY_STATUSES:
            return True
        return any(e.code in TEMPORARY_CODES for e in self.errors)

    @property
    def codes(self) -> set[str]:
        return {e.code for e in self.errors}

    def recast(self, cls: type[RegistryError], message: str, hint: str | None) -> RegistryError:
        """The same answer (status, method, URL, `errors[]`) told as `cls`, with the message
        and hint of the one who knows what it means (a driver)."""
        return cls(
            message,
            status=self.status,
            method=self.method,
            url=self.url,
            errors=self.errors,
            hint=hint,
        )


class NotFound(RegistryError):
    pass


class Unauthorized(RegistryError):
    pass


class Forbidden(RegistryError):
    pass


class Protected(Forbidden):
    """The registry protects this one tag from deletion (GitLab's protected or immutable
    container tags) although the credentials may delete others: a cleanup skips it."""


class Unsupported(RegistryError):
    pass


class RateLimited(RegistryError):
    @property
    def is_temporary(self) -> bool:
        return True


class ProtocolError(RegistryError):
    pass


class TLSError(RegistryError):
    pass


class Unreachable(RegistryError):
    @property
    def is_temporary(self) -> bool:
        return True


class DigestMismatch(RegistryError):
    pass


_NOT_FOUND_CODES = frozenset({"MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "NAME_UNKNOWN", "NOT_FOUND"})


def parse_oci_errors(body: bytes) -> list[OCIError]:
    """Parse `{"errors": [{"code", "message", "detail"}]}`; anything else gives []."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("errors"), list):
        return []
    out = []
    for item in doc["errors"]:
        if isinstance(item, dict) and isinstance(item.get("code"), str):
            out.append(
                OCIError(
                    code=item["code"],
                    message=str(item.get("message") or ""),
                    detail=item.get("detail"),
                )
            )
    return out


def error_for_status(
    status: int, method: str, url: str, body: bytes, *, what: str = ""
) -> RegistryError:
    """Build the RegistryError subclass that fits an HTTP error answer."""
    errors = parse_oci_errors(body)
    codes = {e.code for e in errors}
    safe_url = redact_url(url)
    summary = "; ".join(f"{e.code}: {e.message}" if e.message else e.code for e in errors)
    subject = what or f"{method} {safe_url}"
    if status == 401 or "UNAUTHORIZED" in codes:
        cls: type[RegistryError] = Unauthorized
        text = f"{subject}: authentication required or refused (HTTP {status})"
    elif status == 403 or "DENIED" in codes:
        cls, text = Forbidden, f"{subject}: permission denied (HTTP {status})"
    elif status == 404 or codes & _NOT_FOUND_CODES:
        cls, text = NotFound, f"{subject}: not found (HTTP {status})"
    elif status == 405 or "UNSUPPORTED" in codes:
        cls, text = Unsupported, f"{subject}: not supported by this registry (HTTP {status})"
    elif status == 429 or "TOOMANYREQUESTS" in codes:
        cls, text = RateLimited, f"{subject}: rate limited (HTTP {status})"
    else:
        cls, text = RegistryError, f"{subject}: registry answered HTTP {status}"
    if summary:
        text += f" [{summary}]"
    return cls(text, status=status, method=method, url=url, errors=errors)


class NotARegistry(ProtocolError):
    """The host answered `/v2/` with something that is not the registry API."""
