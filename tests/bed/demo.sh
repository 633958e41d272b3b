#!/usr/bin/env bash
# `make demo`: portside end to end against a local token-auth registry that this script
# starts itself on 127.0.0.1. Each later capability adds a step here.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
PORTSIDE=.venv/bin/portside
work=$(mktemp -d "${TMPDIR:-/tmp}/portside-demo.XXXXXX")
bed_pid=""
cleanup() {
  [ -n "$bed_pid" ] && kill "$bed_pid" 2>/dev/null && wait "$bed_pid" 2>/dev/null || true
  [ -n "${gitlab_pid:-}" ] && kill "$gitlab_pid" 2>/dev/null && wait "$gitlab_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "Start docker-registry with token auth (and its token server) on 127.0.0.1"
$PY -m tests.bed serve --auth token --workdir "$work/bed" >"$work/bed.env" 2>"$work/bed.log" &
bed_pid=$!
for _ in $(seq 100); do grep -q '^ready=1' "$work/bed.env" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready=1' "$work/bed.env" || { cat "$work/bed.log"; exit 1; }
# shellcheck disable=SC1091
. "$work/bed.env"
echo "registry: $host (token realm $realm)"

export DOCKER_CONFIG="$work/docker"   # a private Docker config for this demo
step "Log in: the password is checked against the registry, then stored like docker login"
printf '%s' "$password" | show $PORTSIDE login "$host" -u "$user" --password-stdin

step "Seed three images: Docker schema2, OCI, and a two-platform OCI index"
$PY -m tests.bed seed "$host/demo/app"

step "Which implementation is this registry?"
show $PORTSIDE registries --detect "$host"

step "Tags, sorted"
show $PORTSIDE tags "$host/demo/app"

step "Inspect the multi-arch index and one image"
show $PORTSIDE inspect "$host/demo/app:latest"
show $PORTSIDE inspect --json "$host/demo/app:1.0.0"

step "Cross-check the digest with skopeo"
printf '$ skopeo inspect --raw docker://%s | sha256sum\n' "$host/demo/app:latest"
skopeo inspect --tls-verify=false --creds "$user:$password" --raw "docker://$host/demo/app:latest" \
  | sha256sum | sed 's/^/sha256:/; s/ .*//'

step "Supported registry implementations"
show $PORTSIDE registries

# Later capabilities each add a script; they see host, user, password, DOCKER_CONFIG,
# PORTSIDE, PY and work.
export host user password PORTSIDE PY work
for part in cienv transfer cleanup gitlab ghcr; do
  script="tests/bed/demo_$part.sh"
  if [ -f "$script" ]; then
    # shellcheck disable=SC1090
    . "$script"
  fi
done
echo
echo "demo finished"
