"""Parallel jobs on one runner: each gets its own directory holding only its own credential,
and the shared source config is never touched (the `docker login` race ci-env exists for)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from drivers.auth import dockerconfig
from tests.cienv_support import CANARY, GITLAB_JOB, PORTSIDE, clean_environ, exported_values

JOBS = 16


def test_sixteen_jobs_at_once(tmp_path):
    source = tmp_path / "shared-docker"
    source.mkdir()
    shared = {
        "auths": {"other.example": {"auth": "dXNlcjpwdw=="}, "registry.example:5000": {}},
        "credsStore": "desktop",
        "credHelpers": {"registry.example:5000": "desktop"},
    }
    (source / "config.json").write_text(json.dumps(shared, indent=2))
    (source / "cert.pem").write_text("cert")
    before = {p.name: p.read_bytes() for p in source.iterdir()}
    before_stat = (source / "config.json").stat()
    jobs = tmp_path / "jobs"
    jobs.mkdir()

    processes = []
    for n in range(JOBS):
        env = clean_environ(
            **{**GITLAB_JOB, "CI_JOB_ID": str(1000 + n), "CI_REGISTRY_PASSWORD": f"{CANARY}-{n}"},
            DOCKER_CONFIG=str(source),
        )
        processes.append(
            subprocess.Popen(
                [PORTSIDE, "ci-env", "gitlab", "--tmp-dir", str(jobs)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
        outputs.append(out)

    directories = [Path(exported_values(out)["DOCKER_CONFIG"]) for out in outputs]
    assert len(set(directories)) == JOBS
    assert sorted(directories) == sorted(p for p in jobs.iterdir())
    for n, directory in enumerate(directories):
        assert f"-{1000 + n}-" in directory.name
        config = dockerconfig.load(directory)
        entry = config.auths["registry.example:5000"]
        assert (entry.username, entry.password) == ("gitlab-ci-user", f"{CANARY}-{n}")
        others = [key for key, e in config.auths.items() if not e.is_empty]
        assert others == ["other.example", "registry.example:5000"]
        assert config.creds_store is None
        assert "registry.example:5000" not in config.cred_helpers
        assert CANARY not in outputs[n].decode()

    assert {p.name: p.read_bytes() for p in source.iterdir()} == before
    after_stat = (source / "config.json").stat()
    assert (after_stat.st_mtime_ns, after_stat.st_ino) == (
        before_stat.st_mtime_ns,
        before_stat.st_ino,
    )
