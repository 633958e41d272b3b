#!/usr/bin/env bash
# `make demo` part for the `gitlab` driver, sourced by tests/bed/demo.sh. It receives host,
# user, password, DOCKER_CONFIG (logged in), PORTSIDE, PY, work and the registry's workdir.
set -euo pipefail

step "GitLab: a fake GitLab API (tests/gitlab_api_fake.py) in front of this registry"
job_token="demo-job-token-$RANDOM$RANDOM"
$PY -m tests.gitlab_api_fake --workdir "$workdir" --registry "$host" --project demo/gitlab \
  --job-token "$job_token" --protect ci-3 >"$work/gitlab.env" 2>"$work/gitlab.log" &
gitlab_pid=$!
for _ in $(seq 100); do grep -q '^project_id=' "$work/gitlab.env" 2>/dev/null && break; sleep 0.1; done
grep -q '^project_id=' "$work/gitlab.env" || { cat "$work/gitlab.log"; exit 1; }
# shellcheck disable=SC1091
. "$work/gitlab.env"
echo "GitLab API: $url (project demo/gitlab is $project_id; tag ci-3 is protected)"

step "Seed $host/demo/gitlab: ci-1 shares v1.0.0's digest, ci-2, and the protected ci-3"
$PY - "$host/demo/gitlab" <<'SEED'
import sys

from drivers.reference import parse_repository
from drivers.registries import RegistryOptions, client_for
from tests.bed.images import oci_image, push_image

repository = parse_repository(sys.argv[1])
client = client_for(repository.registry, RegistryOptions())
release = oci_image("demo-gitlab-release")
for tag, image in {"v1.0.0": release, "ci-1": release, "ci-2": oci_image("demo-gitlab-2"),
                   "ci-3": oci_image("demo-gitlab-3")}.items():
    push_image(client, repository.path, image, tag)
    print(f"pushed {repository}:{tag}")
SEED

# The template's scheduled job, as GitLab runs it: the job's variables, its job token.
in_gitlab_job() {
  printf '$ %s\n' "$*"
  env GITLAB_CI=true CI_REGISTRY="$host" CI_REGISTRY_IMAGE="$host/demo/gitlab" \
    CI_API_V4_URL="$url/api/v4" CI_PROJECT_ID="$project_id" CI_JOB_TOKEN="$job_token" "$@"
}

step "In a GitLab job, \$CI_REGISTRY is a GitLab registry: dry run of the ci-* tags"
in_gitlab_job $PORTSIDE cleanup "$host/demo/gitlab" --delete-tag 'ci-.*' --dry-run

step "The real cleanup: one tag at a time through GitLab's API with \$CI_JOB_TOKEN; ci-3 is skipped"
in_gitlab_job $PORTSIDE cleanup "$host/demo/gitlab" --delete-tag 'ci-.*'

step "What is left: v1.0.0 (its image stayed, though ci-1 shared it) and the protected ci-3"
show $PORTSIDE tags "$host/demo/gitlab"
kill "$gitlab_pid" 2>/dev/null && wait "$gitlab_pid" 2>/dev/null || true
