"""Errors to exit codes and stderr lines: the one place that decides them.

0  done
1  the operation failed, or failed in part
2  bad input: usage, a malformed reference, policy or config, a missing CI variable
3  credentials are missing or refused, or a permission is lacking
"""

from __future__ import annotations

from drivers.errors import (
    CredentialError,
    Forbidden,
    InvalidInput,
    NotARegistry,
    PortsideError,
    TLSError,
    Unauthorized,
)

# Checked in order; the first matching class decides.
_EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (InvalidInput, 2),
    (NotARegistry, 2),  # a wrong host is bad input, not a failed operation
    (TLSError, 2),  # fixed by configuration: a CA bundle or --insecure-registry
    (CredentialError, 3),
    (Unauthorized, 3),
    (Forbidden, 3),
    (PortsideError, 1),
)


def exit_code_for(exc: BaseException) -> int:
    for cls, code in _EXIT_CODES:
        if isinstance(exc, cls):
            return code
    return 1


def format_error(exc: BaseException) -> str:
    """One or two lines: what is wrong, and how to fix it."""
    if isinstance(exc, PortsideError):
        text = f"portside: error: {exc.message}\n"
        if exc.hint:
            text += f"  hint: {exc.hint}\n"
        return text
    # A bug, not a user error: say so, without dumping internals that might hold secrets.
    return (
        f"portside: internal error: {type(exc).__name__}\n"
        "  hint: run again with --debug for a traceback, and report it\n"
    )
