#!/usr/bin/env bash
# `make demo`, ci-env part: a simulated GitLab CI job gets its own Docker config from
# `eval $(portside ci-env gitlab)` (the usage line, unquoted), lists tags through it with portside and with skopeo (which
# sees nothing but REGISTRY_AUTH_FILE), then cleans up as after_script would.
#
# tests/bed/demo.sh sources this with host, user, password, PORTSIDE, PY and work set (and the
# registry seeded with demo/app). The job runs in a subshell so that its exports do not leak
# into the later demo parts.

if ! command -v step >/dev/null 2>&1; then
  step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fi

step "ci-env: a simulated GitLab CI job gets its own Docker config"
(
  set -euo pipefail
  # What a GitLab runner puts in a job's environment. The bed's token server accepts
  # $user/$password, so they play CI_REGISTRY_USER/CI_REGISTRY_PASSWORD.
  export GITLAB_CI=true CI_JOB_ID=31337 CI_REGISTRY="$host" CI_REGISTRY_IMAGE="$host/demo/app"
  export CI_REGISTRY_USER="$user" CI_REGISTRY_PASSWORD="$password"
  export CI_COMMIT_SHA=4f2a9c0d1e2b3a4f5e6d7c8b9a0f1e2d3c4b5a69 CI_COMMIT_REF_NAME="feature/it's-\$(new)"
  export CI_JOB_URL="https://gitlab.example/demo/app/-/jobs/31337"
  export CI_PIPELINE_URL="https://gitlab.example/demo/app/-/pipelines/4242"
  # The runner's own Docker config: empty, shared by every job on the machine.
  export DOCKER_CONFIG="$work/runner-docker" PORTSIDE_TMP_DIR="$work/jobs"
  mkdir -p "$DOCKER_CONFIG" "$PORTSIDE_TMP_DIR"
  PATH="$(cd "$(dirname "$PORTSIDE")" && pwd):$PATH"

  printf '$ eval $(portside ci-env gitlab)\n'
  exports=$(portside ci-env gitlab)
  printf '%s\n' "$exports" | sed 's/^/    /'
  # shellcheck disable=SC2086  # unquoted on purpose: the usage line splits the output too
  eval $exports
  printf '# read back: PORTSIDE_GIT_BRANCH=%s\n' "$PORTSIDE_GIT_BRANCH"

  printf '$ ls -la "$DOCKER_CONFIG"\n'
  ls -la "$DOCKER_CONFIG" | sed 's/^/    /'
  printf '# config.json auths: %s (the runner config is untouched: %s)\n' \
    "$($PY -c 'import json,sys; print(", ".join(json.load(open(sys.argv[1]))["auths"]))' \
       "$REGISTRY_AUTH_FILE")" \
    "$(cat "$work/runner-docker/config.json" 2>/dev/null || echo 'no config.json')"

  printf '$ portside tags "$PORTSIDE_REPO"\n'
  portside tags "$PORTSIDE_REPO"

  printf '$ env -i PATH="$PATH" HOME="$work/empty-home" REGISTRY_AUTH_FILE="$REGISTRY_AUTH_FILE" '
  printf 'skopeo list-tags docker://$PORTSIDE_REPO\n'
  env -i PATH="$PATH" HOME="$work/empty-home" REGISTRY_AUTH_FILE="$REGISTRY_AUTH_FILE" \
    skopeo list-tags --tls-verify=false "docker://$PORTSIDE_REPO"

  printf '$ portside ci-env --cleanup   # after_script\n'
  portside ci-env --cleanup
  if [ -e "$PORTSIDE_DOCKER_CONFIG" ]; then
    echo "job directory still there: $PORTSIDE_DOCKER_CONFIG" >&2
    exit 1
  fi
  echo "job directory removed"
)
