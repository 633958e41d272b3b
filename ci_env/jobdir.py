"""The job directory: a fresh 0700 directory per CI job that holds its own Docker config.

A marker file inside proves that portside made it; `cleanup` removes nothing without one. The
name and the marker carry the job, so the after-job step can find it again even when the
variables exported by the job's script are gone (GitLab runs `after_script` in a new shell).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from drivers.errors import InvalidInput, PortsideError

PREFIX = "portside-ci-env-"
MARKER = ".portside-ci-env"
_MAKER = "portside ci-env"
STALE_AFTER = 24 * 3600.0
# Bulky or unrelated to registry credentials (docker CLI plugins, buildx builder state, docker
# contexts); see docs/ci-env.md for what this means for the docker CLI.
SKIPPED = frozenset({"cli-plugins", "buildx", "contexts"})
CONFIG_FILE = "config.json"
# Where `--as-file` puts its script when the job directory's own path would not survive
# `. $(…)` unquoted (see ci_env.cienv._destination); `cleanup` looks there too.
SCRIPT_BASES = (Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm"))


def tmp_base(explicit: str | None, environ: Mapping[str, str], platform: str | None) -> Path:
    """Where job directories go: `--tmp-dir`, else `$RUNNER_TEMP` on GitHub (the runner empties
    it after every job), else the system temp dir."""
    if explicit:
        return Path(explicit).expanduser()
    on_github = platform == "github" or environ.get("GITHUB_ACTIONS") == "true"
    if on_github and environ.get("RUNNER_TEMP"):
        return Path(environ["RUNNER_TEMP"])
    return Path(tempfile.gettempdir())


def job_prefix(platform: str, job_key: str) -> str:
    return f"{PREFIX}{platform}-{job_key}-"


def create(base: Path, platform: str, job_key: str, *, source: Path | None = None) -> Path:
    """A new 0700 directory under `base`, with the marker (which records the Docker config
    `source` it is a copy of). PortsideError (exit 1) if it cannot be made."""
    hint = "pass a writable directory with --tmp-dir (or PORTSIDE_TMP_DIR)"
    try:
        path = Path(tempfile.mkdtemp(prefix=job_prefix(platform, job_key), dir=base))
    except OSError as exc:
        raise PortsideError(
            f"cannot create the job's Docker config directory in {base}: {exc.strerror or exc}",
            hint=hint,
        ) from None
    try:
        os.chmod(path, 0o700)
        doc = {"created_by": _MAKER, "platform": platform, "job": job_key, "created": time.time()}
        if source is not None:
            doc["source"] = str(source)
        fd = os.open(path / MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(doc, handle)
    except OSError as exc:
        remove(path)
        raise PortsideError(f"cannot write in {path}: {exc.strerror or exc}", hint=hint) from None
    return path


def copy_tree(source: Path, target: Path) -> None:
    """Copy the source Docker config directory into the job directory, except `config.json`
    (written separately, through drivers.auth.dockerconfig), the SKIPPED subdirectories, and
    anything that is not a plain file or directory (sockets, pipes, symlinked directories).

    File symlinks are copied as files, so nothing in the copy points back at the user's config.
    """
    if not source.is_dir():
        return
    try:
        _copy_entries(source, target, top=True)
    except OSError as exc:
        where = exc.filename or source
        raise PortsideError(
            f"cannot copy the Docker config {source}: {where}: {exc.strerror or exc}",
            hint="make the files readable, or point --docker-config at another directory",
        ) from None


def _copy_entries(source: Path, target: Path, *, top: bool) -> None:
    with os.scandir(source) as entries:
        for entry in entries:
            name = entry.name
            if top and (name in SKIPPED or name == CONFIG_FILE or name.startswith(".config.json")):
                continue
            if name == MARKER:
                continue
            if entry.is_dir(follow_symlinks=False):
                os.mkdir(target / name, 0o700)
                _copy_entries(Path(entry.path), target / name, top=False)
            elif entry.is_file(follow_symlinks=True):
                shutil.copyfile(entry.path, target / name)
                mode = os.stat(entry.path).st_mode & 0o777
                os.chmod(target / name, mode & 0o700 or 0o600)


def marker(path: Path) -> dict[str, Any] | None:
    """The marker of a directory portside made (and this user owns), else None."""
    try:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            return None
        if not path.name.startswith(PREFIX):
            return None
        mst = os.lstat(path / MARKER)
        if not stat.S_ISREG(mst.st_mode) or mst.st_size > 4096:
            return None
        doc = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("created_by") != _MAKER:
        return None
    doc["_mtime"] = mst.st_mtime
    return doc


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


class CleanupReport(NamedTuple):
    removed: tuple[Path, ...] = ()
    failed: tuple[tuple[Path, str], ...] = ()
    searched: tuple[Path, ...] = ()


def cleanup(
    named: str | None,
    bases: Sequence[Path],
    jobs: Iterable[tuple[str, str]] = (),
    *,
    now: float | None = None,
) -> CleanupReport:
    """Remove the job directory `named`, the directories of these `jobs` ((platform, job key)
    pairs, and the job `named` belongs to) in `bases`, the directory `named` is in and
    SCRIPT_BASES, and portside's own directories in the same places older than STALE_AFTER.

    A `named` directory without portside's marker is refused (InvalidInput, exit 2) before
    anything is deleted.
    """
    doomed: list[Path] = []
    mine = set(jobs)
    places = list(bases)
    if named:
        path = Path(named).expanduser()
        if os.path.lexists(path):
            found = marker(path)
            if found is None:
                raise InvalidInput(
                    f"{path} was not created by portside ci-env; refusing to remove it",
                    hint="--cleanup only removes job directories that portside made "
                    "(check PORTSIDE_DOCKER_CONFIG / --docker-config)",
                )
            doomed.append(path)
            mine.add((found.get("platform"), found.get("job")))
        places.insert(0, path.parent)
    cutoff = (time.time() if now is None else now) - STALE_AFTER
    searched = list(dict.fromkeys(p for p in [*places, *SCRIPT_BASES] if p.is_dir()))
    for base in searched:
        for path in _candidates(base):
            found = marker(path)
            if found is None or path in doomed:
                continue
            if (found.get("platform"), found.get("job")) in mine or found["_mtime"] < cutoff:
                doomed.append(path)
    removed: list[Path] = []
    failed: list[tuple[Path, str]] = []
    for path in doomed:
        try:
            shutil.rmtree(path)
            removed.append(path)
        except OSError as exc:
            failed.append((path, exc.strerror or str(exc)))
    return CleanupReport(tuple(removed), tuple(failed), tuple(searched))


def _candidates(base: Path) -> list[Path]:
    try:
        return sorted(p for p in base.iterdir() if p.name.startswith(PREFIX))
    except OSError:
        return []
