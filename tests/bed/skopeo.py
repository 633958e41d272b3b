"""skopeo, the independent client the tests cross-check portside against."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

# The test registries speak plain HTTP; skopeo wants to be told, per side for two-sided commands.
_TLS_FLAGS = {
    "inspect": ("--tls-verify=false",),
    "delete": ("--tls-verify=false",),
    "list-tags": ("--tls-verify=false",),
    "login": ("--tls-verify=false",),
    "copy": ("--src-tls-verify=false", "--dest-tls-verify=false"),
    "sync": ("--src-tls-verify=false", "--dest-tls-verify=false"),
}
_SECRET_OPTIONS = ("--creds", "--src-creds", "--dest-creds", "--password", "-p")


class SkopeoError(RuntimeError):
    pass


def skopeo_available() -> bool:
    return shutil.which("skopeo") is not None


def _redacted(args: list[str]) -> list[str]:
    shown: list[str] = []
    hide_next = False
    for arg in args:
        name, equals, _ = arg.partition("=")
        if hide_next:
            shown.append("***")
        elif equals and name in _SECRET_OPTIONS:
            shown.append(f"{name}=***")
        else:
            shown.append(arg)
        hide_next = arg in _SECRET_OPTIONS
    return shown


def skopeo(
    *args: str, tls_verify: bool = False, text: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess:
    """Run `skopeo SUBCOMMAND ...`, adding the plain-HTTP flags for the subcommand.

    Raises SkopeoError with stderr (and the command, credentials redacted) on a non-zero exit.
    """
    command = ["skopeo", *args]
    if args and not tls_verify and not any("tls-verify" in a for a in args):
        command[2:2] = _TLS_FLAGS.get(args[0], ())
    result = subprocess.run(command, capture_output=True, text=text, timeout=timeout, check=False)
    if result.returncode != 0:
        stderr = result.stderr if text else result.stderr.decode(errors="replace")
        raise SkopeoError(
            f"{' '.join(_redacted(command))} exited with {result.returncode}:\n{stderr.strip()}"
        )
    return result


def _docker_ref(ref: str) -> str:
    return ref if "://" in ref or ref.startswith(("oci:", "dir:")) else f"docker://{ref}"


def skopeo_inspect_raw(ref: str, creds: tuple[str, str] | None = None) -> bytes:
    """The manifest bytes exactly as the registry serves them."""
    args = ["inspect", "--raw"]
    if creds is not None:
        args.append(f"--creds={creds[0]}:{creds[1]}")
    return skopeo(*args, _docker_ref(ref), text=False).stdout


def skopeo_inspect_digest(ref: str, creds: tuple[str, str] | None = None) -> str:
    """sha256 of the raw manifest. `inspect` without `--raw` would pick one platform of an index."""
    return "sha256:" + hashlib.sha256(skopeo_inspect_raw(ref, creds)).hexdigest()
