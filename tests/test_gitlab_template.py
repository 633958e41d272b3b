""".gitlab-ci-template.yml, run the way GitLab runs it: gitlab-ci-local (--force-shell-executor)
runs the template's jobs, included into a throwaway project, against a real registry, and
skopeo reads the registry (and the job's exported config) to check what they did."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.bed import CANARY_PASSWORD, CANARY_USER, oci_image, push_image_raw
from tests.bed.registry import RunningRegistry
from tests.bed.skopeo import skopeo, skopeo_available
from tests.gitlab_api_fake import FakeGitLab, deletes
from tests.gitlab_support import TEMPLATE
from tests.native_support import serve_json_api
from tests.test_cleanup_gitrefs import commit, git

ROOT = Path(__file__).resolve().parent.parent
TOOLS_BIN = ROOT / ".tools" / "node_modules" / ".bin"  # Node 22 and gitlab-ci-local (make tools)
PORTSIDE = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "portside"
# Variables GitLab sets and gitlab-ci-local sets to its own placeholders: ours win, quietly.
OVERRIDDEN = (
    "CI_REGISTRY,CI_REGISTRY_IMAGE,CI_REGISTRY_USER,CI_REGISTRY_PASSWORD,CI_PIPELINE_SOURCE,"
    "CI_API_V4_URL,CI_PROJECT_ID,CI_JOB_TOKEN"
)
JOB_TOKEN = f"canary-gitlab-job-{uuid.uuid4().hex}"


def _missing_tools() -> list[str]:
    missing = [
        str(p) for p in (TOOLS_BIN / "gitlab-ci-local", TOOLS_BIN / "node") if not p.exists()
    ]
    missing += [tool for tool in ("git", "rsync") if shutil.which(tool) is None]
    return missing + ([] if skopeo_available() else ["skopeo"])


@pytest.fixture(scope="module", autouse=True)
def tools() -> None:
    """Under CI=true a missing tool fails the suite; elsewhere these tests skip, saying why."""
    missing = _missing_tools()
    if not missing:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"not installed: {', '.join(missing)}; run `make test`", pytrace=False)
    pytest.skip(f"not installed: {', '.join(missing)} (`make tools system-deps` installs them)")


@dataclass
class Project:
    """A git project whose .gitlab-ci.yml includes the template, cloned as GitLab's runner
    clones it (one branch), and the gitlab-ci-local runs in it."""

    path: Path
    origin: Path
    out: Path
    env: dict[str, str]
    variables: dict[str, str] = field(default_factory=dict)

    def run(self, *jobs: str, **variables: str) -> subprocess.CompletedProcess[str]:
        merged = {**self.variables, **variables}
        command = [str(TOOLS_BIN / "gitlab-ci-local"), "--force-shell-executor", "--no-color"]
        command += ["--concurrency", "4", *jobs]
        for name, value in merged.items():
            command += ["--variable", f"{name}={value}"]
        env = {**self.env, "GCL_IGNORE_PREDEFINED_VARS": OVERRIDDEN}
        return subprocess.run(
            command, cwd=self.path, env=env, capture_output=True, text=True, timeout=180
        )

    def listed(self, **variables: str) -> set[str]:
        result = self.run("--list-json", **variables)
        assert result.returncode == 0, result.stdout + result.stderr
        listing = result.stdout[result.stdout.index("[\n") :]
        return {job["name"] for job in json.loads(listing) if job["when"] != "never"}

    def artifacts(self, job: str) -> Path:
        return self.path / ".gitlab-ci-local" / "artifacts" / job


JOBS = """
include:
  - local: portside-template.yml

stages: [build, test]

read-registry:
  extends: .portside-ci-env
  stage: build
  script:
    - skopeo list-tags --tls-verify=false "docker://$PORTSIDE_REPO" > "$OUT/tags.json"
    - echo "$DOCKER_CONFIG" > "$OUT/read-registry.dir"
    - command -v portside > "$OUT/read-registry.portside"

pull:
  extends: .portside-pull
  variables:
    PORTSIDE_DEST: base-images

cleanup-dry-run:
  extends: .portside-cleanup
  variables:
    PORTSIDE_DRY_RUN: "true"
"""

POLICY = """keep:
  - git: {repo: ., commits_per_branch: 2}
"""


def _parallel_jobs(users: dict[str, str]) -> str:
    """Four jobs in one stage, each with its own registry user; each waits for the other three
    to have written their configs before it looks at its own."""
    jobs = []
    for name, password in users.items():
        jobs.append(f"""
parallel-{name}:
  extends: .portside-ci-env
  stage: test
  variables:
    CI_REGISTRY_USER: {name}
    CI_REGISTRY_PASSWORD: {password}
  script:
    - touch "$OUT/{name}.ready"
    - for i in $(seq 100); do [ "$(ls "$OUT" | grep -c '[.]ready$')" = 4 ] && break; sleep 0.1; done
    - skopeo list-tags --tls-verify=false "docker://$PORTSIDE_REPO" > /dev/null
    - cp "$DOCKER_CONFIG/config.json" "$OUT/{name}.json"
    - echo "$DOCKER_CONFIG" > "$OUT/{name}.dir"
""")
    return "".join(jobs)


@pytest.fixture(scope="session")
def portside_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout as a wheel, built once: what a user's PORTSIDE_PIP_SPEC points at."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return next(out.glob("portside-*.whl"))


def make_project(tmp_path: Path, registry: RunningRegistry, repo: str, extra: str = "") -> Project:
    origin = tmp_path / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main")
    shutil.copy(TEMPLATE, origin / "portside-template.yml")
    (origin / ".gitlab-ci.yml").write_text(JOBS + extra)
    (origin / ".portside-cleanup.yml").write_text(POLICY)
    (origin / "Dockerfile").write_text(f"FROM {registry.host}/{repo}:base\n")
    git(origin, "add", "-A")
    commit(origin, "the project")
    git(origin, "checkout", "-q", "-b", "feature/Login_Page")
    commit(origin, "a feature")
    git(origin, "checkout", "-q", "main")
    git(origin, "tag", "v1.0.0")
    path = tmp_path / "project"
    subprocess.run(
        ["git", "clone", "-q", "--single-branch", "-b", "main", f"file://{origin}", str(path)],
        check=True,
    )
    on_path = tmp_path / "bin"  # portside and nothing else of the venv (not its python3)
    on_path.mkdir()
    (on_path / "portside").symlink_to(PORTSIDE)
    (tmp_path / "tmp").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    env = {
        "PATH": os.pathsep.join(
            [str(TOOLS_BIN), str(on_path), "/usr/local/bin", "/usr/bin", "/bin"]
        ),
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path / "tmp"),
        "LANG": "C.UTF-8",
        **{k: v for k, v in os.environ.items() if k.startswith(("PIP_", "PORTSIDE_CACHE"))},
    }
    variables = {
        "OUT": str(out),
        "GITLAB_CI": "true",
        "CI_REGISTRY": registry.host,
        "CI_REGISTRY_IMAGE": f"{registry.host}/{repo}",
        "CI_REGISTRY_USER": CANARY_USER,
        "CI_REGISTRY_PASSWORD": CANARY_PASSWORD,
        "CI_DEPENDENCY_PROXY_PASSWORD": CANARY_PASSWORD + "-proxy",
        "PORTSIDE_POLICY": ".portside-cleanup.yml",
    }
    return Project(path, origin, out, env, variables)


@contextmanager
def gitlab_api(project: Project, registry: RunningRegistry, repo: str) -> Iterator[FakeGitLab]:
    """The GitLab API of the job's project, a fake in front of `registry`: the cleanup job
    finds it through $CI_API_V4_URL and deletes with $CI_JOB_TOKEN, as in GitLab."""
    fake = FakeGitLab(registry)
    pid = fake.add_project(repo, "")
    fake.job_tokens[JOB_TOKEN] = pid
    with serve_json_api(fake.answer) as url:
        fake.base = url
        project.variables |= {
            "CI_API_V4_URL": f"{url}/api/v4", "CI_PROJECT_ID": str(pid), "CI_JOB_TOKEN": JOB_TOKEN,
        }  # fmt: skip
        yield fake


def seed(registry: RunningRegistry, repo: str, *tags: str) -> None:
    for index, tag in enumerate(tags):
        image = oci_image(f"{repo}-{index}")
        push_image_raw(
            registry.url, repo, image, tag, (CANARY_USER, CANARY_PASSWORD), registry.token_server
        )


def registry_tags(registry: RunningRegistry, repo: str) -> set[str]:
    listed = skopeo(
        "list-tags", f"--creds={CANARY_USER}:{CANARY_PASSWORD}", f"docker://{registry.host}/{repo}"
    )
    return set(json.loads(listed.stdout)["Tags"])


def passed(result: subprocess.CompletedProcess[str], job: str) -> bool:
    return f"PASS  {job}" in result.stdout


def test_ci_env_job_installs_portside_and_reads_the_registry(
    registry_token, unique_repo, tmp_path, portside_wheel
):
    """Defects 7 and 8: no default package name, and the install goes into a venv of its own
    (the machine's python3 is Debian 12's, which refuses `pip install` as externally managed)."""
    seed(registry_token, unique_repo, "v1", "v2")
    project = make_project(tmp_path, registry_token, unique_repo)
    project.env["PATH"] = project.env["PATH"].replace(str(tmp_path / "bin") + os.pathsep, "")
    result = project.run("read-registry", PORTSIDE_PIP_SPEC=str(portside_wheel))
    log = result.stdout + result.stderr
    assert passed(result, "read-registry"), log
    assert "installed portside" in log
    assert set(json.loads((project.out / "tags.json").read_text())["Tags"]) == {"v1", "v2"}
    installed = Path((project.out / "read-registry.portside").read_text().strip())
    assert installed.is_relative_to(tmp_path / "tmp"), "portside came from the job's venv"
    assert not installed.exists(), "after_script removes the venv"
    assert not Path((project.out / "read-registry.dir").read_text().strip()).exists()
    assert CANARY_PASSWORD not in log
    assert list((tmp_path / "tmp").iterdir()) == []


def test_install_without_a_spec_says_what_to_set(registry_token, unique_repo, tmp_path):
    project = make_project(tmp_path, registry_token, unique_repo)
    project.env["PATH"] = project.env["PATH"].replace(str(tmp_path / "bin") + os.pathsep, "")
    result = project.run("read-registry")
    assert not passed(result, "read-registry")
    assert "set PORTSIDE_PIP_SPEC to where portside installs from" in result.stdout
    assert "pip install" not in result.stdout


def test_pull_artifacts_follow_portside_dest(registry_token, unique_repo, tmp_path):
    """Defect 10: the artifact is $PORTSIDE_DEST, not a fixed oci-images/."""
    seed(registry_token, unique_repo, "base")
    project = make_project(tmp_path, registry_token, unique_repo)
    result = project.run("pull")
    assert passed(result, "pull"), result.stdout + result.stderr
    layout = project.artifacts("pull") / "base-images"
    assert (layout / "index.json").is_file()
    assert not (project.path / "oci-images").exists()
    pulled = json.loads(skopeo("inspect", f"oci:{layout}").stdout)["Digest"]
    served = skopeo(
        "inspect",
        f"--creds={CANARY_USER}:{CANARY_PASSWORD}",
        f"docker://{registry_token.host}/{unique_repo}:base",
    )
    assert pulled == json.loads(served.stdout)["Digest"]


LIVE = {"main", "feature-login-page", "v1.0.0", "1.0.0"}
STALE = {"gone-branch", "deadbeef1"}


def test_cleanup_dry_run_then_the_scheduled_job_by_its_trigger(
    registry_token, unique_repo, tmp_path, portside_wheel
):
    """Defect 5: the schedule's trigger is no option's env twin, so ci-env runs as in any job.
    Defect 6: GitLab's clone has one branch; the job fetches the rest before the git rule.
    The scheduled job installs portside from PORTSIDE_PIP_SPEC with the job's extra, gitlab:
    the gitlab driver's python-gitlab comes with it."""
    project = make_project(tmp_path, registry_token, unique_repo)
    seed(registry_token, unique_repo, *sorted(LIVE | STALE))
    with gitlab_api(project, registry_token, unique_repo) as gitlab:
        _dry_run_then_the_schedule(project, registry_token, unique_repo, gitlab, portside_wheel)


def _dry_run_then_the_schedule(project, registry_token, unique_repo, gitlab, wheel) -> None:
    dry = project.run("cleanup-dry-run")
    assert passed(dry, "cleanup-dry-run"), dry.stdout + dry.stderr
    report = json.loads(
        (project.artifacts("cleanup-dry-run") / "portside-cleanup.json").read_text()
    )
    assert report["dry_run"] is True
    assert {e["tag"] for e in report["deleted"]} == STALE
    assert registry_tags(registry_token, unique_repo) == LIVE | STALE

    schedule = {"CI_PIPELINE_SOURCE": "schedule", "RUN_PORTSIDE_CLEANUP": "true"}
    assert "portside-cleanup" not in project.listed()
    assert "portside-cleanup" not in project.listed(CI_PIPELINE_SOURCE="schedule")
    assert "portside-cleanup" in project.listed(**schedule)
    on_path = str(project.path.parent / "bin") + os.pathsep
    project.env["PATH"] = project.env["PATH"].replace(on_path, "")  # the job installs it
    real = project.run("portside-cleanup", **schedule, PORTSIDE_PIP_SPEC=str(wheel))
    assert passed(real, "portside-cleanup"), real.stdout + real.stderr
    assert "installed portside" in real.stdout and "with [gitlab]" in real.stdout
    assert registry_tags(registry_token, unique_repo) == LIVE
    # Through GitLab's API, with the job's token, one tag at a time.
    tag_deletes = [p for p in deletes(gitlab) if "portside-deletion-probe" not in p]
    assert sorted(p.rsplit("/", 1)[1] for p in tag_deletes) == sorted(STALE)
    assert all(c.job_token == JOB_TOKEN for c in gitlab.calls)
    output = dry.stdout + dry.stderr + real.stdout + real.stderr
    assert CANARY_PASSWORD not in output and JOB_TOKEN not in output


def test_a_failed_fetch_fails_the_cleanup_job_and_deletes_nothing(
    registry_token, unique_repo, tmp_path
):
    """Defect 6: `git fetch … || true` let a one-branch clone's plan delete a live branch."""
    project = make_project(tmp_path, registry_token, unique_repo)
    seed(registry_token, unique_repo, *sorted(LIVE | STALE))
    git(project.path, "remote", "set-url", "origin", str(tmp_path / "unreachable.git"))
    result = project.run(
        "portside-cleanup", CI_PIPELINE_SOURCE="schedule", RUN_PORTSIDE_CLEANUP="true"
    )
    assert not passed(result, "portside-cleanup")
    assert "unreachable.git' does not appear to be a git repository" in result.stderr
    assert not (project.path / "portside-cleanup.json").exists(), "the job went on past the fetch"
    assert registry_tags(registry_token, unique_repo) == LIVE | STALE


def test_four_parallel_jobs_each_see_only_their_own_config(fresh_registry, unique_repo, tmp_path):
    users = {f"user{i}": f"{CANARY_PASSWORD}-{i}" for i in range(4)}
    registry = fresh_registry(auth="htpasswd", users=users)
    for name, password in users.items():
        push_image_raw(registry.url, unique_repo, oci_image(name), name, (name, password))
    project = make_project(tmp_path, registry, unique_repo, _parallel_jobs(users))
    for name in ("CI_REGISTRY_USER", "CI_REGISTRY_PASSWORD"):
        del project.variables[name]  # each job's own, from its `variables:`
    result = project.run(*(f"parallel-{name}" for name in users))
    for name in users:
        assert passed(result, f"parallel-{name}"), result.stdout + result.stderr
    directories = {(project.out / f"{name}.dir").read_text().strip() for name in users}
    assert len(directories) == 4
    for name, password in users.items():
        config = (project.out / f"{name}.json").read_text()
        entry = json.loads(config)["auths"][registry.host]
        assert base64.b64decode(entry["auth"]).decode() == f"{name}:{password}"
        for other, secret in users.items():
            if other != name:
                assert other not in config and secret not in config
    assert not any(Path(d).exists() for d in directories)
